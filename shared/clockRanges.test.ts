import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ClockRanges } from './clockRanges.js';
import { Prng, seedFromEnv } from './testing/prng.js';
import { randomDocs } from './testing/randomEdits.js';
import { parseUpdateV1 } from './updateV1.js';

const SEED = seedFromEnv();

/** Builds ClockRanges from [client, clock, length] triples. */
const build = (adds: Array<[number, number, number]>): ClockRanges => {
  const r = new ClockRanges();
  for (const [client, clock, length] of adds) r.add(client, clock, length);
  return r;
};

describe('ClockRanges tables', () => {
  it.each<[string, Array<[number, number, number]>, Array<[number, number]>]>([
    ['one range', [[1, 0, 5]], [[0, 5]]],
    [
      'appended adjacent ranges merge',
      [
        [1, 0, 5],
        [1, 5, 3],
      ],
      [[0, 8]],
    ],
    [
      'a gap stays a gap',
      [
        [1, 0, 5],
        [1, 6, 3],
      ],
      [
        [0, 5],
        [6, 9],
      ],
    ],
    [
      'filling the gap joins both sides',
      [
        [1, 0, 5],
        [1, 6, 3],
        [1, 5, 1],
      ],
      [[0, 9]],
    ],
    [
      'a range before all others',
      [
        [1, 10, 2],
        [1, 0, 3],
      ],
      [
        [0, 3],
        [10, 12],
      ],
    ],
    [
      'adjacent before the first range',
      [
        [1, 10, 2],
        [1, 7, 3],
      ],
      [[7, 12]],
    ],
    [
      'a range covering several',
      [
        [1, 0, 1],
        [1, 3, 1],
        [1, 6, 1],
        [1, 9, 1],
        [1, 2, 6],
      ],
      [
        [0, 1],
        [2, 8],
        [9, 10],
      ],
    ],
    [
      'overlapping the last range extends it',
      [
        [1, 0, 5],
        [1, 3, 5],
      ],
      [[0, 8]],
    ],
    [
      'contained ranges change nothing',
      [
        [1, 0, 10],
        [1, 2, 3],
        [1, 0, 10],
      ],
      [[0, 10]],
    ],
    ['empty and negative lengths are ignored', [[1, 0, 0]], []],
  ])('add: %s', (_name, adds, expected) => {
    expect(build(adds).ranges(1)).toEqual(expected);
  });

  it('add reports whether something new was added', () => {
    const r = new ClockRanges();
    expect(r.add(1, 0, 5)).toBe(true);
    expect(r.add(1, 0, 5)).toBe(false);
    expect(r.add(1, 2, 2)).toBe(false);
    expect(r.add(1, 4, 2)).toBe(true);
    expect(r.add(1, 10, 1)).toBe(true);
    expect(r.add(1, 8, 1)).toBe(true);
    expect(r.add(1, 8, 1)).toBe(false);
    expect(r.add(1, 3, 0)).toBe(false);
  });

  it.each<[number, number, boolean]>([
    [0, 5, true],
    [4, 1, true],
    [4, 2, false],
    [5, 1, false],
    [6, 3, true],
    [6, 4, false],
    [3, 5, false],
    [100, 1, false],
    [0, 0, true],
    [5, 0, true],
  ])('covers(1, %i, %i) = %s over [0,5) ∪ [6,9)', (clock, length, expected) => {
    const r = build([
      [1, 0, 5],
      [1, 6, 3],
    ]);
    expect(r.covers(1, clock, length)).toBe(expected);
  });

  it('covers: an unknown client covers only the empty range', () => {
    const r = new ClockRanges();
    expect(r.covers(9, 0, 1)).toBe(false);
    expect(r.covers(9, 0, 0)).toBe(true);
  });

  it('contiguous and stateVector claim only what starts at clock 0 (SYNC-3)', () => {
    const r = build([
      [1, 0, 5],
      [1, 6, 3],
      [2, 1, 10],
      [3, 0, 1],
    ]);
    expect(r.contiguous(1)).toBe(5);
    expect(r.contiguous(2)).toBe(0);
    expect(r.contiguous(3)).toBe(1);
    expect(r.contiguous(4)).toBe(0);
    expect(r.stateVector()).toEqual(
      new Map([
        [1, 5],
        [3, 1],
      ]),
    );
    r.add(2, 0, 1);
    expect(r.stateVector().get(2)).toBe(11);
    expect([...r.clients()].sort()).toEqual([1, 2, 3]);
  });

  it('ranges returns a copy', () => {
    const r = build([[1, 0, 5]]);
    r.ranges(1).push([7, 8]);
    expect(r.ranges(1)).toEqual([[0, 5]]);
    expect(r.ranges(42)).toEqual([]);
  });
});

describe('ClockRanges against a naive model', () => {
  it(`behaves like a Set of clocks (seed ${SEED})`, () => {
    const prng = new Prng(SEED);
    for (let round = 0; round < 80; round++) {
      const r = new ClockRanges();
      const model = new Map<number, Set<number>>();
      const has = (client: number, clock: number): boolean => model.get(client)?.has(clock) ?? false;
      const ctx = `seed ${SEED}, round ${round}`;
      for (let op = 0; op < 40; op++) {
        const client = prng.int(1, 3);
        const clock = prng.int(0, 60);
        const length = prng.int(0, 8);
        let fresh = false;
        for (let c = clock; c < clock + length; c++) {
          if (!has(client, c)) fresh = true;
          if (!model.has(client)) model.set(client, new Set());
          model.get(client)!.add(c);
        }
        expect(r.add(client, clock, length), `${ctx}, add(${client}, ${clock}, ${length})`).toBe(fresh);
        // Invariant: sorted, disjoint, non-adjacent, non-empty, and exactly the model's clocks.
        for (const cl of model.keys()) {
          const ranges = r.ranges(cl);
          for (let i = 0; i < ranges.length; i++) {
            expect(ranges[i]![0], ctx).toBeLessThan(ranges[i]![1]);
            if (i > 0) expect(ranges[i - 1]![1], ctx).toBeLessThan(ranges[i]![0]);
          }
          const fromRanges = ranges.flatMap(([a, b]) => Array.from({ length: b - a }, (_, k) => a + k));
          expect(fromRanges, ctx).toEqual([...model.get(cl)!].sort((a, b) => a - b));
          let contiguous = 0;
          while (has(cl, contiguous)) contiguous++;
          expect(r.contiguous(cl), ctx).toBe(contiguous);
        }
        const qClient = prng.int(1, 4);
        const qClock = prng.int(0, 70);
        const qLength = prng.int(0, 10);
        let covered = true;
        for (let c = qClock; c < qClock + qLength; c++) covered &&= has(qClient, c);
        expect(r.covers(qClient, qClock, qLength), `${ctx}, covers(${qClient}, ${qClock}, ${qLength})`).toBe(covered);
        // DEDUPE-2: what overlaps and what is missing, past gaps too.
        let overlaps = false;
        const missing: Array<[number, number]> = [];
        for (let c = qClock; c < qClock + qLength; c++) {
          if (has(qClient, c)) overlaps = true;
          else if (missing.length > 0 && missing[missing.length - 1]![1] === c) missing[missing.length - 1]![1]++;
          else missing.push([c, c + 1]);
        }
        const q = `(${qClient}, ${qClock}, ${qLength})`;
        expect(r.overlaps(qClient, qClock, qLength), `${ctx}, overlaps${q}`).toBe(overlaps);
        expect(r.missing(qClient, qClock, qLength), `${ctx}, missing${q}`).toEqual(missing);
      }
    }
  });
});

describe('ClockRanges.addAll and addRuns', () => {
  it(`hold exactly what adding the same ranges one by one holds (seed ${SEED})`, () => {
    const prng = new Prng(SEED);
    for (let round = 0; round < 200; round++) {
      const ctx = `seed ${SEED}, round ${round}`;
      const batch = new ClockRanges();
      const oneByOne = new ClockRanges();
      for (let step = 0; step < 6; step++) {
        // Runs of up to 3 clients, each client's together and ascending (as an update lists them),
        // sometimes out of order (the one-by-one path), lengths 0..4 (0 adds nothing).
        const runs: Array<{ client: number; clock: number; length: number }> = [];
        for (const client of [1, 2, 3]) {
          let clock = prng.int(0, 40);
          for (let i = prng.int(0, 20); i > 0; i--) {
            runs.push({ client, clock, length: prng.int(0, 4) });
            clock = prng.int(0, 9) === 0 ? prng.int(0, 80) : clock + prng.int(0, 6);
          }
        }
        batch.addRuns(runs);
        for (const r of runs) oneByOne.add(r.client, r.clock, r.length);
        for (const client of [1, 2, 3])
          expect(batch.ranges(client), `${ctx}, client ${client}`).toEqual(oneByOne.ranges(client));
      }
    }
  });

  it(`DEDUPE-3: heldPastPrefix counts the held ranges past the contiguous prefix a run reaches, as a count from scratch does (seed ${SEED})`, () => {
    const prng = new Prng(SEED);
    /** From scratch: every held range but the one at clock 0 sharing a clock with [clock, clock + length). */
    const counted = (r: ClockRanges, client: number, clock: number, length: number): number =>
      r.ranges(client).filter(([s, e]) => s > 0 && s < clock + length && e > clock && length > 0).length;
    for (let round = 0; round < 200; round++) {
      const r = new ClockRanges();
      // Sometimes with a contiguous prefix, sometimes without; ranges of 1–3 clocks with gaps of 1–4.
      for (const client of [1, 2]) {
        let clock = prng.bool(0.5) ? 0 : prng.int(1, 5);
        for (let i = prng.int(0, 30); i > 0; i--) {
          const length = prng.int(1, 3);
          r.add(client, clock, length);
          clock += length + prng.int(1, 4);
        }
      }
      for (let probe = 0; probe < 50; probe++) {
        const client = prng.int(1, 3); // 3 holds nothing
        const clock = prng.int(0, 120);
        const length = prng.int(0, 60);
        expect(r.heldPastPrefix(client, clock, length), `seed ${SEED}, round ${round}, probe ${probe}`).toBe(
          counted(r, client, clock, length),
        );
      }
    }
  });

  it('regression: 100,000 ranges below a held one merge in one pass, with the same result', () => {
    const r = new ClockRanges();
    r.add(7, 1e9, 1);
    const ranges = Array.from({ length: 100_000 }, (_, i) => ({ clock: 2 * i, length: 1 }));
    r.addAll(7, ranges);
    const held = r.ranges(7);
    expect(held).toHaveLength(100_001);
    expect(held[0]).toEqual([0, 1]);
    expect(held[99_999]).toEqual([199_998, 199_999]);
    expect(held[100_000]).toEqual([1e9, 1e9 + 1]);
  });
});

describe('SYNC-3: the state vector never over-claims', () => {
  const rangesOf = (stored: readonly Uint8Array[]): ClockRanges => {
    const r = new ClockRanges();
    for (const u of stored) for (const run of parseUpdateV1(u).runs) r.add(run.client, run.clock, run.length);
    return r;
  };
  const asObject = (m: Map<number, number>): Record<number, number> => Object.fromEntries(m);

  it(`equals yjs's conservative vector of the merged store, and a replica holds all it claims (seed ${SEED})`, () => {
    for (let k = 0; k < 12; k++) {
      const seed = (SEED + k * 31) >>> 0;
      const prng = new Prng(seed);
      const { updates } = randomDocs(prng, { transactions: 25, docs: prng.int(1, 4) });
      // The relay stored some updates and lost (or has not yet received) others.
      const stored = updates.filter(() => prng.bool(prng.pick([0.3, 0.7, 0.95])));
      const sv = rangesOf(stored).stateVector();
      const merged = Y.mergeUpdates(stored.length > 0 ? stored : [new Uint8Array([0, 0])]);
      expect(asObject(sv), `seed ${seed}`).toEqual(
        asObject(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(merged))),
      );

      // A Y.Doc that applied exactly the stored updates holds every claimed clock, integrated
      // or pending (structs whose dependency on another client was dropped wait in pending).
      const doc = new Y.Doc();
      for (const u of stored) Y.applyUpdate(doc, u);
      const pending = doc.store.pendingStructs
        ? Y.convertUpdateFormatV2ToV1(doc.store.pendingStructs.update)
        : new Uint8Array([0, 0]);
      const held = Y.decodeStateVector(
        Y.encodeStateVectorFromUpdate(Y.mergeUpdates([Y.encodeStateAsUpdate(doc), pending])),
      );
      for (const [client, clock] of sv)
        expect(clock, `seed ${seed}, client ${client}`).toBeLessThanOrEqual(held.get(client) ?? 0);
    }
  });

  it(`equals the state vector of a replica that applied a prefix of the update stream (seed ${SEED})`, () => {
    for (let k = 0; k < 8; k++) {
      const seed = (SEED + k * 17 + 5) >>> 0;
      const prng = new Prng(seed);
      const { updates } = randomDocs(prng, { transactions: 25, docs: 3 });
      const stored = updates.slice(0, prng.int(0, updates.length));
      const doc = new Y.Doc();
      for (const u of stored) Y.applyUpdate(doc, u);
      expect(asObject(rangesOf(stored).stateVector()), `seed ${seed}`).toEqual(
        asObject(Y.decodeStateVector(Y.encodeStateVector(doc))),
      );
    }
  });

  it('regression: a gap in one client stops its claim, other clients unaffected', () => {
    const doc = new Y.Doc();
    doc.clientID = 1;
    const events: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => events.push(u));
    doc.getText('t').insert(0, 'ab');
    doc.getText('t').insert(2, 'cd');
    doc.getText('t').insert(4, 'ef');
    const sv = rangesOf([events[0]!, events[2]!]).stateVector();
    expect(sv).toEqual(new Map([[1, 2]]));
  });
});
