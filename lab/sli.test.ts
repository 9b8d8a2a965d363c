/** SLI-1..SLI-4 on crafted histories (docs/lab/checkers.md). */
import { describe, expect, it } from 'vitest';
import type { ClientSample, HistoryEvent } from './history.js';
import { NO_FAULTS } from '../shared/lab/faults.js';
import { history, send } from './checkers/historyFixtures.js';
import { computeSlis, deliveryLatency, healConvergence, partitionedSendAvailability, percentile } from './sli.js';

const deliver = (t: number, client: string, msgId: string): HistoryEvent => ({ t, kind: 'deliver', client, msgId });
const heal = (t: number, ...clients: string[]): HistoryEvent => ({ t, kind: 'heal', clients });
const partition = (t: number, ...clients: string[]): HistoryEvent => ({ t, kind: 'partition', clients });
/** A sample; each client given as 'hash' (online) or null (offline, hash 'old'). */
const sample = (t: number, states: Record<string, string | null>): HistoryEvent => ({
  t,
  kind: 'sample',
  clients: Object.entries(states).map(([client, hash]): ClientSample => ({
    client,
    online: hash !== null,
    contentHash: hash ?? 'old',
    svTotal: 0,
    pending: 0,
    messages: 0,
  })),
});
const c3 = ['c0', 'c1', 'c2'];

describe('SLI-1 delivery latency', () => {
  it('SLI-1: nearest-rank percentiles over every (message, other client) pair', () => {
    expect(percentile([], 50)).toBeNull();
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 95), percentile(xs, 99), percentile(xs, 100)]).toEqual([
      50, 95, 99, 100,
    ]);
    expect(percentile([7], 99)).toBe(7);
  });

  it("SLI-1: measures send → deliver on each other client, ignoring the sender's own display", () => {
    const h = history(
      c3,
      [
        send(100, 'c0', 'm1'),
        deliver(100, 'c0', 'm1'),
        deliver(130, 'c1', 'm1'),
        deliver(400, 'c2', 'm1'),
        send(500, 'c1', 'm2'),
        deliver(520, 'c0', 'm2'),
        deliver(600, 'c2', 'm2'),
      ],
      null,
    );
    const l = deliveryLatency(h);
    expect(l.samples.map((s) => [s.to, s.ms])).toEqual([
      ['c1', 30],
      ['c2', 300],
      ['c0', 20],
      ['c2', 100],
    ]);
    expect(l).toMatchObject({ count: 4, undelivered: 0, p50: 30, p95: 300, p99: 300, max: 300 });
  });

  it('SLI-1: a message a client never shows counts as infinitely slow: a percentile that falls on it is not reached, and a latency SLO on it is not met', () => {
    const events = [
      send(0, 'c0', 'm1'),
      deliver(10, 'c1', 'm1'),
      deliver(20, 'c2', 'm1'),
      send(100, 'c1', 'm2'),
      deliver(130, 'c0', 'm2'), // c2 never shows m2 (a dropped frame nothing repaired)
    ];
    const s = computeSlis(history(c3, events, null, { deliveryP50Ms: 100, deliveryP95Ms: 1000 }));
    expect(s.latency).toMatchObject({ count: 3, undelivered: 1, p50: 20, p95: null, p99: null, max: 30 });
    expect(s.slo).toEqual({
      ok: false,
      checks: [
        { name: 'deliveryP50Ms', target: 100, actual: 20, ok: true },
        { name: 'deliveryP95Ms', target: 1000, actual: null, ok: false },
      ],
    });
  });

  it('SLI-1: no deliveries gives null percentiles, not NaN', () => {
    expect(deliveryLatency(history(c3, [send(1, 'c0', 'm1')], null))).toMatchObject({
      count: 0,
      p50: null,
      p99: null,
      max: null,
    });
  });
});

describe('SLI-2 time to converge after each heal', () => {
  it('SLI-2: heal → first sample where the healed clients are online and all online hashes agree', () => {
    const h = history(
      c3,
      [
        partition(0, 'c2'),
        sample(50, { c0: 'a', c1: 'a', c2: null }),
        heal(100, 'c2'),
        sample(150, { c0: 'a', c1: 'a', c2: null }), // c2 still reconnecting: not converged
        sample(200, { c0: 'b', c1: 'b', c2: 'a' }), // online, but differs
        sample(300, { c0: 'b', c1: 'b', c2: 'b' }),
      ],
      null,
    );
    expect(healConvergence(h)).toEqual([{ t: 100, clients: ['c2'], convergedAt: 300, ms: 200 }]);
  });

  it('SLI-2: a heal cut short by a new partition of the same client never converges (null)', () => {
    const h = history(
      c3,
      [
        heal(100, 'c2'),
        sample(150, { c0: 'a', c1: 'a', c2: 'b' }),
        partition(160, 'c2'),
        sample(200, { c0: 'a', c1: 'a', c2: null }),
      ],
      null,
    );
    expect(healConvergence(h)).toEqual([{ t: 100, clients: ['c2'], convergedAt: null, ms: null }]);
  });
});

describe('SLI-2 heals by faults', () => {
  it('SLI-2: lifting a partition by faults (clear-faults, or partitioned: false) is a heal; one step over several clients is one heal', () => {
    const faults = (t: number, client: string, partitioned: boolean): HistoryEvent => ({
      t,
      kind: 'faults',
      client,
      config: { ...NO_FAULTS, partitioned },
    });
    const h = history(
      c3,
      [
        faults(0, 'c0', true),
        partition(0, 'c1'),
        faults(10, 'c2', false), // c2 was not partitioned: not a heal
        faults(100, 'c0', false),
        faults(101, 'c1', false),
        sample(150, { c0: 'a', c1: null, c2: 'a' }),
        sample(250, { c0: 'a', c1: 'a', c2: 'a' }),
        faults(300, 'c2', true),
        faults(400, 'c2', false),
        faults(450, 'c2', true), // cut off again before any agreeing sample: never converged
        sample(500, { c0: 'a', c1: 'a', c2: null }),
      ],
      null,
    );
    expect(healConvergence(h)).toEqual([
      { t: 100, clients: ['c0', 'c1'], convergedAt: 250, ms: 150 },
      { t: 400, clients: ['c2'], convergedAt: null, ms: null },
    ]);
  });

  it("SLI-2: the runner's final heal (faults cleared, then everyone healed) is one heal", () => {
    const h = history(
      c3,
      [
        partition(0, 'c1'),
        { t: 100, kind: 'faults', client: 'c1', config: NO_FAULTS },
        heal(101, 'c0', 'c1', 'c2'),
        sample(200, { c0: 'a', c1: 'a', c2: 'a' }),
      ],
      null,
    );
    expect(healConvergence(h)).toEqual([{ t: 100, clients: ['c1', 'c0', 'c2'], convergedAt: 200, ms: 100 }]);
  });
});

describe('SLI-3 availability of sending during partitions', () => {
  it('SLI-3: counts only sends by clients partitioned at that moment (partition/heal and fault events)', () => {
    const refused = (t: number, client: string): HistoryEvent => ({
      t,
      kind: 'send-refused',
      client,
      reason: 'crashed',
      replyTo: null,
    });
    const h = history(
      c3,
      [
        send(1, 'c0', 'm0'), // not partitioned: not counted
        partition(10, 'c0'),
        send(11, 'c0', 'm1'),
        refused(12, 'c0'),
        send(13, 'c1', 'm2'), // c1 not partitioned
        heal(20, 'c0'),
        send(21, 'c0', 'm3'),
        { t: 30, kind: 'faults', client: 'c1', config: { ...NO_FAULTS, partitioned: true } },
        send(31, 'c1', 'm4'),
        { t: 40, kind: 'faults', client: 'c1', config: NO_FAULTS },
        send(41, 'c1', 'm5'),
      ],
      null,
    );
    expect(partitionedSendAvailability(h)).toEqual({ attempted: 3, succeeded: 2, ratio: 2 / 3 });
  });

  it('SLI-3: no partitioned sends gives a null ratio', () => {
    expect(partitionedSendAvailability(history(c3, [send(1, 'c0', 'm0')], null)).ratio).toBeNull();
  });
});

describe('SLI-4 SLO verdict', () => {
  const events = [send(0, 'c0', 'm1'), deliver(100, 'c1', 'm1'), deliver(600, 'c2', 'm1')];

  it('SLI-4: no SLO declared gives no verdict', () => {
    expect(computeSlis(history(c3, events, null)).slo).toBeNull();
  });

  it('SLI-4: a p99 above the target fails, with the measured value', () => {
    const s = computeSlis(history(c3, events, null, { deliveryP99Ms: 500, deliveryP50Ms: 200 }));
    expect(s.slo).toEqual({
      ok: false,
      checks: [
        { name: 'deliveryP50Ms', target: 200, actual: 100, ok: true },
        { name: 'deliveryP99Ms', target: 500, actual: 600, ok: false },
      ],
    });
  });

  it('SLI-4: targets that hold pass', () => {
    expect(computeSlis(history(c3, events, null, { deliveryP99Ms: 600 })).slo?.ok).toBe(true);
  });

  it('SLI-4: an unmeasured target (no deliveries, a heal that never converged) is not met', () => {
    const s = computeSlis(history(c3, [heal(5, 'c1')], null, { deliveryP95Ms: 1000, convergeMs: 1000 }));
    expect(s.slo?.checks.map((c) => [c.name, c.actual, c.ok])).toEqual([
      ['deliveryP95Ms', null, false],
      ['convergeMs', null, false],
    ]);
  });

  it('SLI-4: availability target compares the ratio', () => {
    const h = history(['c0'], [partition(0, 'c0'), send(1, 'c0', 'm1')], null, { partitionedSendAvailability: 1 });
    expect(computeSlis(h).slo).toEqual({
      ok: true,
      checks: [{ name: 'partitionedSendAvailability', target: 1, actual: 1, ok: true }],
    });
  });
});
