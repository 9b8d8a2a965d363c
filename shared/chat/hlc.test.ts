import { describe, expect, it } from 'vitest';
import { HybridClock, MAX_DRIFT_MS, compareHlc, decodeHlc, encodeHlc, type Hlc } from './hlc.js';

const clockAt = (node: string, times: number[]): HybridClock => {
  let i = 0;
  return new HybridClock(node, () => times[Math.min(i++, times.length - 1)]!);
};

describe('HLC', () => {
  // Table: physical clock readings, then the expected sequence of (wall, counter) from tick().
  const tickTable: Array<{ name: string; pts: number[]; want: Array<[number, number]> }> = [
    {
      name: 'advancing clock resets the counter',
      pts: [100, 200, 300],
      want: [
        [100, 0],
        [200, 0],
        [300, 0],
      ],
    },
    {
      name: 'same millisecond bumps the counter',
      pts: [100, 100, 100],
      want: [
        [100, 0],
        [100, 1],
        [100, 2],
      ],
    },
    {
      name: 'HLC-2: a clock going backwards never moves the HLC back',
      pts: [500, 100, 200],
      want: [
        [500, 0],
        [500, 1],
        [500, 2],
      ],
    },
  ];
  for (const row of tickTable) {
    it(`tick: ${row.name}`, () => {
      const c = clockAt('n', row.pts);
      expect(row.want.map(() => c.tick()).map((t) => [t.wall, t.counter])).toEqual(row.want);
    });
  }

  const observeTable: Array<{
    name: string;
    pt: number;
    local: number;
    remote: Hlc;
    merged: boolean;
    next: [number, number];
  }> = [
    {
      name: 'HLC-1: a remote ahead (within drift) pulls the clock forward',
      pt: 1000,
      local: 1000,
      remote: { wall: 5000, counter: 3, node: 'r' },
      merged: true,
      next: [5000, 4],
    },
    {
      name: 'a remote behind changes nothing',
      pt: 1000,
      local: 1000,
      remote: { wall: 10, counter: 9, node: 'r' },
      merged: true,
      next: [1000, 1],
    },
    {
      name: 'same wall: the larger counter wins, next tick is after it',
      pt: 1000,
      local: 1000,
      remote: { wall: 1000, counter: 7, node: 'r' },
      merged: true,
      next: [1000, 8],
    },
    {
      name: 'HLC-3: a remote beyond the drift bound is not merged',
      pt: 1000,
      local: 1000,
      remote: { wall: 1000 + MAX_DRIFT_MS + 1, counter: 0, node: 'r' },
      merged: false,
      next: [1000, 1],
    },
  ];
  for (const row of observeTable) {
    it(`observe: ${row.name}`, () => {
      const c = new HybridClock('n', () => row.pt);
      const first = c.tick();
      expect(first.wall).toBe(row.local);
      const r = c.observe(row.remote);
      expect(r.merged).toBe(row.merged);
      expect(r.aheadMs).toBe(Math.max(0, row.remote.wall - row.pt));
      const t = c.tick();
      expect([t.wall, t.counter]).toEqual(row.next);
    });
  }

  it('HLC-1: a timestamp issued after observing t sorts after t, whatever the local clock says', () => {
    const slow = new HybridClock('slow', () => 1_000); // far behind
    const remote: Hlc = { wall: 50_000, counter: 0, node: 'fast' };
    slow.observe(remote);
    expect(compareHlc(slow.tick(), remote)).toBeGreaterThan(0);
  });

  it('encoding preserves order and round-trips', () => {
    const ts: Hlc[] = [
      { wall: 1, counter: 0, node: 'a' },
      { wall: 1, counter: 0, node: 'b' },
      { wall: 1, counter: 2, node: 'a' },
      { wall: 10, counter: 0, node: 'a' },
      { wall: 1_790_000_000_000, counter: 999_999, node: 'z' },
    ];
    for (const t of ts) expect(decodeHlc(encodeHlc(t))).toEqual(t);
    const sortedByString = [...ts].sort((a, b) => (encodeHlc(a) < encodeHlc(b) ? -1 : 1));
    expect(sortedByString).toEqual([...ts].sort(compareHlc));
  });

  it.each([null, 42, '', 'x.y.z', '000000000000001.000000.', '1.0.a', '000000000000001.000000.a b'])(
    'decodeHlc refuses malformed input %j',
    (s) => expect(decodeHlc(s)).toBeNull(),
  );
});
