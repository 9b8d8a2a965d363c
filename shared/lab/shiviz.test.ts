import { describe, expect, it } from 'vitest';
import { replicaLog, SHIVIZ_REGEX, toShiViz, VectorClocks, type LabEvent, type LoggedMessage } from './shiviz.js';

describe('LAB-6 ShiViz export', () => {
  it('vector clocks: own entry +1 per event, a receive dominates its send', () => {
    const v = new VectorClocks();
    expect(v.send('A', 'm1')).toEqual({ A: 1 });
    expect(v.local('B')).toEqual({ B: 1 });
    expect(v.receive('B', 'm1')).toEqual({ A: 1, B: 2 });
    expect(v.send('B', 'm2')).toEqual({ A: 1, B: 3 });
    expect(v.receive('A', 'm2')).toEqual({ A: 2, B: 3 });
  });

  it('writes the regex line, an empty delimiter line, then two lines per event that the regex parses', () => {
    const events: LabEvent[] = [
      { t: 1, host: 'Alice #1', kind: 'send', text: 'hi\nthere', vc: { 'Alice #1': 1 } },
      { t: 2, host: 'Bob', kind: 'receive', text: 'hi', vc: { 'Alice #1': 1, Bob: 1 } },
    ];
    const out = toShiViz(events);
    const lines = out.split('\n');
    expect(lines[0]).toBe(SHIVIZ_REGEX);
    expect(lines[1]).toBe('');
    // ShiViz's named groups are JS named groups with the same syntax.
    const re = new RegExp(SHIVIZ_REGEX, 'g');
    const parsed = [...lines.slice(2).join('\n').matchAll(re)].map((m) => [
      m.groups!.event,
      m.groups!.host,
      JSON.parse(m.groups!.clock!) as unknown,
    ]);
    expect(parsed).toEqual([
      ['send hi there', 'Alice_#1', { 'Alice_#1': 1 }],
      ['receive hi', 'Bob', { 'Alice_#1': 1, Bob: 1 }],
    ]);
  });
});

/** What ShiViz requires of a log: each host's own entries 1, 2, … in order, entries naming existing events, clocks that never go back on a host. */
const expectConsistent = (events: readonly LabEvent[]): void => {
  const counts = new Map<string, number>();
  const last = new Map<string, Readonly<Record<string, number>>>();
  for (const e of events) {
    const n = (counts.get(e.host) ?? 0) + 1;
    counts.set(e.host, n);
    expect(e.vc[e.host]).toBe(n);
    for (const [h, k] of Object.entries(last.get(e.host) ?? {})) expect(e.vc[h] ?? 0).toBeGreaterThanOrEqual(k);
    last.set(e.host, e.vc);
  }
  for (const e of events) for (const [h, k] of Object.entries(e.vc)) expect(k).toBeLessThanOrEqual(counts.get(h) ?? 0);
};

const msg = (id: string, host: string, saw: string[] = []): LoggedMessage => ({
  id,
  host,
  text: id,
  sentAt: 0,
  arrivedAt: 0,
  saw,
});

const sendOf = (events: readonly LabEvent[], id: string): LabEvent =>
  events.find((e) => e.kind === 'send' && e.text === id)!;

describe("LAB-12 one replica's log: others' sends stamped with what their messages prove", () => {
  it('a reply that arrived before its parent is stamped after the parent, which is sent first', () => {
    const events = replicaLog('Yul', [msg('answer', 'Zed', ['question']), msg('question', 'Ann')]);
    expectConsistent(events);
    expect(events.map((e) => `${e.kind} ${e.host} ${e.text}`)).toEqual([
      'send Ann question',
      'send Zed answer',
      'receive Yul answer',
      'receive Yul question',
    ]);
    expect(sendOf(events, 'answer').vc).toEqual({ Ann: 1, Zed: 1 });
    // The later receive of the parent adds nothing: Yul already had it through the answer.
    expect(events[3]!.vc).toEqual({ Ann: 1, Zed: 1, Yul: 2 });
  });

  it("an author's earlier message from the same client is sent before a later one that is pulled forward", () => {
    const events = replicaLog('Yul', [msg('z', 'Zed', ['a2']), msg('a1', 'Ann'), msg('a2', 'Ann', ['a1'])]);
    expectConsistent(events);
    expect(sendOf(events, 'a1').vc).toEqual({ Ann: 1 });
    expect(sendOf(events, 'a2').vc).toEqual({ Ann: 2 });
    expect(sendOf(events, 'z').vc).toEqual({ Ann: 2, Zed: 1 });
  });

  it("own messages are sends on this host, and another's reply to one dominates it", () => {
    const events = replicaLog('Yul', [msg('mine', 'Yul'), msg('reply', 'Zed', ['mine']), msg('again', 'Yul')]);
    expectConsistent(events);
    expect(events.map((e) => `${e.kind} ${e.host}`)).toEqual(['send Yul', 'send Zed', 'receive Yul', 'send Yul']);
    expect(sendOf(events, 'reply').vc).toEqual({ Yul: 1, Zed: 1 });
  });

  it('a cycle (forged data) is cut where it closes, and unknown ids are ignored', () => {
    const events = replicaLog('Yul', [msg('x', 'Ann', ['y', 'nowhere']), msg('y', 'Zed', ['x'])]);
    expectConsistent(events);
    expect(events.filter((e) => e.kind === 'send')).toHaveLength(2);
  });

  it('a long chain of replies that arrived newest first is stamped without exhausting the stack', () => {
    const n = 50_000;
    const chain = Array.from({ length: n }, (_, i) =>
      msg(`m${i}`, i % 2 === 0 ? 'Ann' : 'Zed', i > 0 ? [`m${i - 1}`] : []),
    );
    const events = replicaLog('Yul', chain.reverse());
    expect(sendOf(events, `m${n - 1}`).vc).toEqual({ Ann: n / 2, Zed: n / 2 });
  });
});
