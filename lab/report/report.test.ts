/**
 * The report and terminal output: hostile text from a history is never HTML (or terminal control
 * codes), every section is there, charts draw for empty and one-event histories without NaN, and
 * failures are shown.
 */
import { describe, expect, it } from 'vitest';
import type { ClientSample, History, HistoryEvent } from '../history.js';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { fm, history, replica, send } from '../checkers/historyFixtures.js';
import { runCheckers } from '../checkers/runCheckers.js';
import { computeSlis } from '../sli.js';
import { divergenceWindows } from './divergenceWindows.js';
import { escapeHtml } from './escapeHtml.js';
import { formatMs } from './formatMs.js';
import { renderHtmlReport } from './htmlReport.js';
import { runIntervals } from './intervals.js';
import { latencyChart, mergeIntervals } from './latencyChart.js';
import { formatProgress, sampledStates } from './progressLine.js';
import { spaceTimeDiagram } from './spaceTimeDiagram.js';
import { formatSummary } from './terminalSummary.js';

const HOSTILE = `"><script>alert(1)</script><img src=x onerror=alert(2)>'`;

const deliver = (t: number, client: string, msgId: string): HistoryEvent => ({ t, kind: 'deliver', client, msgId });
const sample = (t: number, hashes: Record<string, string | null>): HistoryEvent => ({
  t,
  kind: 'sample',
  clients: Object.entries(hashes).map(([client, h]): ClientSample => ({
    client,
    online: h !== null,
    contentHash: h,
    svTotal: 1,
    pending: 0,
    messages: 1,
  })),
});

/** A run with a partition, a relay crash, a client crash, sends, deliveries and samples. */
const rich = (): History => {
  const base = history(
    ['c0', 'c1', 'c2'],
    [
      { t: 0, kind: 'step', label: `start ${HOSTILE}` },
      send(10, 'c0', 'm1', { text: HOSTILE }),
      deliver(10, 'c0', 'm1'),
      deliver(40, 'c1', 'm1'),
      deliver(55, 'c2', 'm1'),
      sample(100, { c0: 'a', c1: 'a', c2: 'a' }),
      { t: 120, kind: 'partition', clients: ['c2'] },
      { t: 120, kind: 'faults', client: 'c2', config: { ...NO_FAULTS, partitioned: true } },
      send(150, 'c2', 'm2', { replyTo: 'm1', text: 'offline reply' }),
      deliver(150, 'c2', 'm2'),
      sample(200, { c0: 'a', c1: 'a', c2: 'b' }),
      { t: 250, kind: 'relay-crash' },
      { t: 300, kind: 'relay-restart' },
      { t: 320, kind: 'client-crash', client: 'c1' },
      sample(330, { c0: 'a', c1: null, c2: 'b' }),
      { t: 340, kind: 'client-restart', client: 'c1' },
      { t: 400, kind: 'heal', clients: ['c2'] },
      deliver(460, 'c0', 'm2'),
      deliver(470, 'c1', 'm2'),
      sample(500, { c0: 'c', c1: 'c', c2: 'c' }),
    ],
    [replica('c0', [fm('m1', 10), fm('m2', 150, { replyTo: 'm1' })])],
    { deliveryP99Ms: 100 },
  );
  return {
    ...base,
    scenario: { ...base.scenario, name: `scenario ${HOSTILE}` },
    options: { relayUrl: HOSTILE },
    clients: base.clients.map((c) => ({ ...c, name: `${c.id} ${HOSTILE}` })),
  };
};

const render = (h: History): string => renderHtmlReport(h, runCheckers(h), computeSlis(h));

describe('HTML report', () => {
  it('escapes every hostile string from the history', () => {
    expect(escapeHtml(HOSTILE)).toBe(
      '&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#39;',
    );
    const html = render(rich());
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain(HOSTILE);
    // The hostile text is there, as text: scenario name, client names, options, step label, message text.
    expect(html.split(escapeHtml(HOSTILE)).length - 1).toBeGreaterThanOrEqual(7);
  });

  it('forbids scripts and external loads even if escaping were bypassed', () => {
    expect(render(rich())).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it('contains every section', () => {
    const html = render(rich());
    for (const id of [
      'summary',
      'verdicts',
      'replicas',
      'anomalies',
      'causality',
      'slis',
      'latency',
      'divergence',
      'spacetime',
      'timeline',
    ]) {
      expect(html).toContain(`<section id="${id}">`);
    }
    for (const rule of ['CHK-1', 'CHK-2', 'CHK-3', 'CHK-4', 'CHK-5']) expect(html).toContain(`<td>${rule}</td>`);
    expect(html.match(/<svg /g)).toHaveLength(3);
  });

  it('EXP-7: the timeline tells a crash or restart that happened from the step that asked for it', () => {
    const h = rich();
    const events: HistoryEvent[] = [
      { t: 240, kind: 'step', label: 'relay crash (SIGKILL)' },
      ...h.events.filter((e) => e.t <= 250),
      { t: 260, kind: 'step', label: 'relay restart started' },
      ...h.events.filter((e) => e.t > 250),
    ];
    const timeline = render({ ...h, events }).split('<section id="timeline">')[1]!;
    const rows = [...timeline.matchAll(/<td>([^<]*)<\/td><td>([^<]*)<\/td>/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(rows.filter((r) => /relay|c1 |client/.test(r))).toEqual([
      '240 ms relay crash (SIGKILL)',
      '250 ms relay down (killed)',
      '260 ms relay restart started',
      '300 ms relay restart done: relay up',
      '320 ms c1 down (crashed)',
      '340 ms client-restart c1 done',
    ]);
  });

  it('the timeline lists each step once: its partition, heal and faults are the step, not rows of their own', () => {
    const h = history(['c0', 'c1'], [], null);
    const events: HistoryEvent[] = [
      { t: 0, kind: 'partition', clients: ['c1'] },
      { t: 1000, kind: 'step', label: 'faults c0' },
      { t: 1001, kind: 'faults', client: 'c0', config: { ...NO_FAULTS, dropPct: 30 } },
      { t: 1501, kind: 'step', label: 'partition c0,c1' },
      { t: 1506, kind: 'partition', clients: ['c0', 'c1'] },
      send(1600, 'c0', 'm1'),
      { t: 1700, kind: 'heal', clients: ['c0'] },
      { t: 2000, kind: 'step', label: 'heal c0,c1' },
      { t: 2004, kind: 'heal', clients: ['c0', 'c1'] },
      { t: 3000, kind: 'step', label: 'final heal' },
      { t: 3100, kind: 'client-restart', client: 'c1' },
      { t: 3101, kind: 'faults', client: 'c0', config: NO_FAULTS },
      { t: 3101, kind: 'faults', client: 'c1', config: NO_FAULTS },
      { t: 3102, kind: 'heal', clients: ['c0', 'c1'] },
    ];
    const timeline = render({ ...h, events }).split('<section id="timeline">')[1]!;
    const rows = [...timeline.matchAll(/<td>([^<]*)<\/td><td>([^<]*)<\/td>/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(rows).toEqual([
      // Before any step, and after a send: not a step's doing, so a row of its own.
      '0 ms partition c1',
      '1000 ms faults c0 (c0: drops 30 %)',
      '1501 ms partition c0,c1',
      '1700 ms heal c0',
      '2000 ms heal c0,c1',
      '3000 ms final heal',
      '3100 ms client-restart c1 done',
    ]);
  });

  it('shows failures with their evidence, and the SLO verdict', () => {
    const html = render(rich());
    expect(html).toContain('✘ FAIL');
    expect(html).toContain('c1 has no final replica');
    expect(html).toContain('deliveryP99Ms');
    // p99 of 30, 45, 310, 320 ms (m2 waited for the heal).
    expect(html).toContain('<td>deliveryP99Ms</td><td>100</td><td>320</td>');
  });

  it.each([
    ['an empty history', history([], [], null)],
    ['a history without final read', history(['c0'], [], null)],
    ['one event', history(['c0'], [send(0, 'c0', 'm1')], null)],
    ['one delivery at t=0', history(['c0', 'c1'], [send(0, 'c0', 'm1'), deliver(0, 'c1', 'm1')], null)],
    ['one sample', history(['c0'], [sample(0, { c0: 'a' })], [replica('c0', [])])],
  ])('renders %s without NaN, Infinity or undefined', (_name, h) => {
    const html = render(h);
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
    expect(html).toContain('<section id="spacetime">');
  });
});

describe('report charts', () => {
  it('divergence windows: from the first differing sample to the first agreeing one, crashed clients excluded', () => {
    expect(divergenceWindows(rich())).toEqual([{ client: 'c2', from: 200, to: 500, open: false }]);
    const open = history(
      ['c0', 'c1', 'c2'],
      [sample(0, { c0: 'a', c1: 'a', c2: 'b' }), sample(9, { c0: 'a', c1: 'a', c2: 'b' })],
      null,
    );
    expect(divergenceWindows(open)).toEqual([{ client: 'c2', from: 0, to: 9, open: true }]);
  });

  it('divergence windows: with no single most-shown content (each client its own, a 2/2 split) every client is diverged', () => {
    const split = history(
      ['c0', 'c1', 'c2', 'c3'],
      [
        sample(0, { c0: 'a', c1: 'b', c2: 'c', c3: null }),
        sample(5, { c0: 'a', c1: 'a', c2: 'b', c3: 'b' }),
        sample(9, { c0: 'a', c1: 'a', c2: 'a', c3: 'b' }),
      ],
      null,
    );
    expect(divergenceWindows(split)).toEqual([
      { client: 'c0', from: 0, to: 9, open: false },
      { client: 'c1', from: 0, to: 9, open: false },
      { client: 'c2', from: 0, to: 9, open: false },
      { client: 'c3', from: 5, to: 9, open: true },
    ]);
  });

  it('divergence windows: the legend and the text say what diverged means when no content is shown by most clients', () => {
    // After a relay crash each of three clients holds its own content: no majority, all diverged.
    const split = history(
      ['c0', 'c1', 'c2'],
      [sample(0, { c0: 'a', c1: 'b', c2: 'c' }), sample(9, { c0: 'd', c1: 'd', c2: 'd' })],
      null,
    );
    const html = render(split);
    expect(html).not.toContain('majority');
    expect(html).toContain(
      'diverged: unlike the content most clients showed (with none ahead of the others, a tie: every client)',
    );
    expect(html).toContain(
      "3 windows in which a client's content differed from the content most clients showed. Where no content was shown by more clients than every other (after a relay crash each client may hold its own), none is taken as the right one and every client counts as diverged",
    );
  });

  it('intervals: partitions, crashes and relay downtime', () => {
    const iv = runIntervals(rich());
    expect(iv.end).toBe(500);
    expect(iv.partitioned.get('c2')).toEqual([{ from: 120, to: 400 }]);
    expect(iv.crashed.get('c1')).toEqual([{ from: 320, to: 340 }]);
    expect(iv.relayDown).toEqual([{ from: 250, to: 300 }]);
  });

  it('latency chart: partition bands are the union over clients, relay downtime its own band', () => {
    expect(
      mergeIntervals([
        { from: 5, to: 9 },
        { from: 0, to: 2 },
        { from: 1, to: 3 },
        { from: 9, to: 10 },
      ]),
    ).toEqual([
      { from: 0, to: 3 },
      { from: 5, to: 10 },
    ]);
    const h = rich();
    const svg = latencyChart(computeSlis(h).latency, runIntervals(h));
    expect(svg.match(/<rect class="partitioned band"/g)).toHaveLength(1);
    expect(svg.match(/<rect class="relaydown band"/g)).toHaveLength(1);
    expect(svg.match(/<circle class="dot"/g)).toHaveLength(4);
  });

  it('space-time diagram: one arrow per delivery to another client, only for the selected messages', () => {
    const h = rich();
    const iv = runIntervals(h);
    const arrows = (svg: string) => svg.match(/<line class="msg"/g)?.length ?? 0;
    expect(arrows(spaceTimeDiagram(h, iv))).toBe(4);
    expect(arrows(spaceTimeDiagram(h, iv, { msgIds: ['m2'] }))).toBe(2);
    expect(arrows(spaceTimeDiagram(h, iv, { last: 1 }))).toBe(2);
    expect(spaceTimeDiagram(h, iv, { last: 0 })).toContain('No messages to draw.');
  });
});

describe('terminal summary', () => {
  it('shows each failing checker with evidence, the SLO and FAIL; strips control characters', () => {
    const h = rich();
    const out = formatSummary(
      { ...h, scenario: { ...h.scenario, name: 'evil\u001b[2J' } },
      runCheckers(h),
      computeSlis(h),
      {
        files: { json: 'out/result.json', html: 'out/report.html' },
      },
    );
    expect(out).toContain('✘ CHK-1 convergence');
    expect(out).toContain('    c1 has no final replica');
    expect(out).toContain('✔ CHK-5 id uniqueness');
    // The counted checkers are named by rule id too, as the exercises (docs/lab/) refer to them.
    expect(out).toContain(
      '\n  CHK-6 wall-clock anomalies (counted): wall-clock order would have shown 0 replies before their parent and 0 pairs out of HLC order (2 messages)\n',
    );
    expect(out).toContain(
      '\n  CHK-7 shown before seen (counted): shown order put 0 messages before one their sender had already seen\n',
    );
    expect(out).toMatch(/✘ SLO deliveryP99Ms ≤ 100: 320 ✘/);
    expect(out).toContain('FAIL: 1 checker(s) failed; the SLO was not met');
    expect(out).toContain('Report: out/report.html');
    expect(out).not.toContain('\u001b');
    expect(out.split('\n').length).toBeLessThanOrEqual(30);
  });

  it('SLI-1: says how many deliveries never happened, and a latency target that falls on them as never delivered', () => {
    const h = history(
      ['c0', 'c1', 'c2'],
      [send(0, 'c0', 'm1'), deliver(5, 'c1', 'm1')],
      [replica('c0', [fm('m1', 0)]), replica('c1', [fm('m1', 0)]), replica('c2', [])],
      { deliveryP95Ms: 1000 },
    );
    const checks = runCheckers(h);
    const slis = computeSlis(h);
    const out = formatSummary(h, checks, slis);
    expect(out).toContain('Delivery latency p50 5 ms · p95 — · p99 — · max 5 ms (1 samples; 1 never delivered)');
    expect(out).toContain('✘ SLO deliveryP95Ms ≤ 1000: never delivered ✘');
    const html = renderHtmlReport(h, checks, slis);
    expect(html).toContain('<td class="fail">1</td>');
    expect(html).toContain('<td>never delivered</td>');
  });

  it('says PASS for a good run, with colours only when asked', () => {
    const good = history(['c0'], [send(0, 'c0', 'm1')], [replica('c0', [fm('m1', 0)])]);
    const plain = formatSummary(good, runCheckers(good), computeSlis(good));
    expect(plain.split('\n').at(-1)).toBe('PASS: every checker passed');
    expect(plain).not.toContain('\u001b');
    expect(formatSummary(good, runCheckers(good), computeSlis(good), { color: true })).toContain(
      '\u001b[32mPASS: every checker passed\u001b[0m',
    );
  });
});

describe('formatMs', () => {
  it('rounds to whole ms from 10 ms, one decimal below, and never says NaN', () => {
    expect([formatMs(2743.94), formatMs(5.04), formatMs(0), formatMs(null), formatMs(Number.NaN)]).toEqual([
      '2744 ms',
      '5 ms',
      '0 ms',
      '—',
      '—',
    ]);
  });
});

describe('one screen', () => {
  it('stays within 30 lines when every checker fails with lots of evidence', () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      fm(`m${i}`, 40 - i, { replyTo: i > 0 ? `m${i - 1}` : undefined }),
    );
    const events = [
      ...many.map((m) => send(1, 'c0', m.id)),
      ...many.map((m) => send(2, 'c1', m.id)),
      ...many.map((m) => ({ t: 3, kind: 'ack' as const, client: 'c0', msgId: m.id })),
    ];
    const h = history(['c0', 'c1', 'c2'], events, [
      replica('c0', [...many.toReversed(), ...many]),
      replica('c1', [], { hash: 'h9' }),
    ]);
    const checks = runCheckers(h);
    expect(checks.verdicts.filter((v) => v.ok).map((v) => v.rule)).toEqual([]);
    const out = formatSummary(h, checks, computeSlis(h), { files: { json: 'a', html: 'b' } });
    expect(out.split('\n').length).toBeLessThanOrEqual(30);
    expect(out).toContain('FAIL: 5 checker(s) failed');
  });
});

describe('result line', () => {
  it("is the checkers' verdict; a missed SLO is said beside it, and notes come before it", () => {
    const h = history(
      ['c0', 'c1'],
      [send(0, 'c0', 'm1'), deliver(900, 'c1', 'm1')],
      [replica('c0', [fm('m1', 0)]), replica('c1', [fm('m1', 0)])],
      {
        deliveryP99Ms: 100,
      },
    );
    const checks = runCheckers(h);
    const slis = computeSlis(h);
    const lines = formatSummary(h, checks, slis, { notes: ['Quiesced 7 ms after the final heal.'] }).split('\n');
    expect(lines.slice(-3)).toEqual([
      '✘ SLO deliveryP99Ms ≤ 100: 900 ✘',
      '  Quiesced 7 ms after the final heal.',
      'PASS: every checker passed; the SLO was not met',
    ]);
    const html = renderHtmlReport(h, checks, slis, { notes: ['<quiesce> note'] });
    expect(html).toContain('— every checker passed; <span class="fail">the SLO was not met</span>');
    expect(html).toContain('<p>&lt;quiesce&gt; note</p>');
  });
});

describe('progress line', () => {
  const p = {
    elapsedMs: 12_000,
    totalMs: 60_000,
    step: 'partition c0,c1',
    clients: 30,
    online: 28,
    sent: 120,
    delivered: 3400,
    states: { distinct: 1, unreachable: 2 },
  };

  it('shows time, bar, step and counts on one line', () => {
    expect(formatProgress(p)).toBe(
      '[ 12.0/60.0 s ██░░░░░░░░░░  20%] 28/30 online · 120 sent · 3400 delivered · unknown: 2 unreachable · partition c0,c1',
    );
    expect(formatProgress({ ...p, totalMs: 0, step: null, online: 30, states: { distinct: 1, unreachable: 0 } })).toBe(
      '[ 12.0 s] 30/30 online · 120 sent · 3400 delivered · converged',
    );
    expect(formatProgress({ ...p, step: null, states: null })).toBe(
      '[ 12.0/60.0 s ██░░░░░░░░░░  20%] 28/30 online · 120 sent · 3400 delivered',
    );
  });

  // LAB-UI-1's verdict words: agreement among the reachable says nothing of the unreachable ones.
  it('says converged only when every client is reachable and they agree', () => {
    const verdict = (states: { distinct: number; unreachable: number }, online = 3): string =>
      formatProgress({ ...p, clients: 3, online, step: null, states }).split(' delivered · ')[1]!;
    expect(verdict({ distinct: 1, unreachable: 0 })).toBe('converged');
    // The relay is down: nobody is online, so nothing is known.
    expect(verdict({ distinct: 0, unreachable: 3 }, 0)).toBe('unknown: 3 unreachable');
    // One online client agrees with itself only.
    expect(verdict({ distinct: 1, unreachable: 2 }, 1)).toBe('unknown: 2 unreachable');
    // Two reachable ones differ: known now, whatever the unreachable one holds.
    expect(verdict({ distinct: 2, unreachable: 1 }, 2)).toBe('not converged (2 states)');
    expect(verdict({ distinct: 3, unreachable: 0 })).toBe('not converged (3 states)');
  });

  it('counts states among the reachable clients: online and not dropping every frame', () => {
    const at = (online: boolean, contentHash: string | null, svTotal = 1, cutOff = false) => ({
      client: 'c',
      online,
      contentHash,
      svTotal,
      pending: 0,
      messages: 1,
      cutOff,
    });
    expect(sampledStates([at(true, 'a'), at(true, 'a'), at(true, 'a')])).toEqual({ distinct: 1, unreachable: 0 });
    expect(sampledStates([at(false, 'a'), at(false, null, 0), at(false, 'a')])).toEqual({
      distinct: 0,
      unreachable: 3,
    });
    // Online but dropping every frame: as unreachable as an offline one; its state is not counted.
    expect(sampledStates([at(true, 'a'), at(true, 'b', 1, true), at(false, 'c')])).toEqual({
      distinct: 1,
      unreachable: 2,
    });
    // Same content, a different state-vector total: not the same state (as in the class view).
    expect(sampledStates([at(true, 'a', 4), at(true, 'a', 5)])).toEqual({ distinct: 2, unreachable: 0 });
  });

  it('never exceeds the width and has no newline or control character', () => {
    const step = `x\n\u001b[31m${'y'.repeat(200)}`;
    expect([...formatProgress({ ...p, step }, 60)].length).toBeLessThanOrEqual(60);
    const wide = formatProgress({ ...p, step: `x\n\r\u001b[31my` }, 400);
    expect(wide).toContain('· x���[31my');
    expect(wide).not.toContain('\u001b');
  });
});
