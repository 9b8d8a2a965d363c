import { describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../shared/lab/faults.js';
import { finalMessage, HistoryRecorder, stateVectorRecord } from './history.js';

const start = {
  scenario: { name: 'two clients', file: null, slo: { deliveryP99Ms: 500 } },
  seed: 7,
  options: { clients: 2, relayUrl: null },
  clients: [
    { id: 'c0', authorId: 'a0', name: 'Ada' },
    { id: 'c1', authorId: 'a1', name: 'Bob' },
  ],
};

const recorder = () => {
  let now = 1000;
  const rec = new HistoryRecorder(start, () => now, '2026-01-01T00:00:00.000Z');
  return { rec, advance: (ms: number) => (now += ms), setNow: (t: number) => (now = t) };
};

describe('HistoryRecorder', () => {
  it('stamps t since start, never decreasing even if the clock goes back', () => {
    const { rec, advance, setNow } = recorder();
    advance(10);
    rec.step('burst');
    setNow(1005);
    rec.relayCrash();
    advance(20);
    rec.relayRestart();
    expect(rec.history().events.map((e) => e.t)).toEqual([10, 10, 25]);
  });

  it('EXP-3: keeps only the first deliver of a message to a client', () => {
    const { rec, advance } = recorder();
    rec.deliver('c1', 'm1');
    advance(5);
    rec.deliver('c1', 'm1');
    rec.deliver('c0', 'm1');
    expect(rec.history().events).toEqual([
      { t: 0, kind: 'deliver', client: 'c1', msgId: 'm1' },
      { t: 5, kind: 'deliver', client: 'c0', msgId: 'm1' },
    ]);
  });

  it('throws on an unknown client id (a runner bug)', () => {
    const { rec } = recorder();
    expect(() => rec.ack('c9', 'm1')).toThrow(/unknown client "c9"/);
    expect(() => rec.partition(['c0', 'cX'])).toThrow(/cX/);
  });

  it('round-trips through JSON unchanged', () => {
    const { rec, advance } = recorder();
    rec.send('c0', {
      msgId: 'm1',
      replyTo: null,
      wall: 5,
      hlc: { wall: 5, counter: 0, node: 'n0' },
      text: '<b>hi</b>',
    });
    rec.sendRefused('c1', 'empty');
    rec.faults('c1', { ...NO_FAULTS, partitioned: true });
    rec.partition(['c1']);
    advance(100);
    rec.heal(['c1']);
    rec.clientCrash('c0');
    rec.clientRestart('c0');
    rec.sample([
      { client: 'c0', online: true, contentHash: 'abcd1234', svTotal: 3, pending: 0, messages: 1 },
      { client: 'c1', online: false, contentHash: null, svTotal: 0, pending: 0, messages: 0 },
    ]);
    rec.finish([
      {
        client: 'c0',
        displayed: [
          { id: 'm1', hlc: { wall: 5, counter: 0, node: 'n0' }, wall: 5, authorId: 'a0', replyTo: null, after: null },
        ],
        contentHash: 'abcd1234',
        stateVector: stateVectorRecord(
          new Map([
            [9, 2],
            [3, 1],
          ]),
        ),
      },
    ]);
    const h = rec.history();
    expect(JSON.parse(JSON.stringify(h))).toEqual(h);
    expect(h.final?.replicas[0]?.stateVector).toEqual({ '3': 1, '9': 2 });
    expect(() => rec.finish([])).toThrow(/twice/);
  });

  it('send records exactly the SendEvent fields of a richer object', () => {
    const { rec } = recorder();
    const view = {
      msgId: 'm1',
      replyTo: null,
      wall: 5,
      hlc: { wall: 5, counter: 1, node: 'n0', extra: 1 },
      text: 'hi',
      edited: false,
    };
    rec.send('c0', view);
    expect(rec.history().events).toEqual([
      {
        t: 0,
        kind: 'send',
        client: 'c0',
        msgId: 'm1',
        replyTo: null,
        wall: 5,
        hlc: { wall: 5, counter: 1, node: 'n0' },
        text: 'hi',
      },
    ]);
  });

  it('finalMessage keeps exactly the fields the checkers read', () => {
    const m = finalMessage({
      id: 'm1',
      authorId: 'a0',
      authorName: 'Ada',
      text: 'x',
      hlc: { wall: 1, counter: 2, node: 'n' },
      wall: 1,
      replyTo: null,
      after: 'm0',
      edited: false,
      deleted: false,
      reactions: [],
      yId: null,
      editYId: null,
    });
    expect(m).toEqual({
      id: 'm1',
      hlc: { wall: 1, counter: 2, node: 'n' },
      wall: 1,
      authorId: 'a0',
      replyTo: null,
      after: 'm0',
    });
  });
});
