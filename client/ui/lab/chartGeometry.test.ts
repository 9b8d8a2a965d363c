import { describe, expect, it } from 'vitest';
import type { SpaceTimeData } from '../../lab/spaceTime.js';
import { Prng, seedFromEnv } from '../../../shared/testing/prng.js';
import {
  chartGeometry,
  fitText,
  placeLabels,
  SPACE_TIME_FONT,
  SPACE_TIME_MIN_WIDTH,
  spaceTimeLayout,
  textWidth,
  timeShares,
} from './chartGeometry.js';

describe('class view chart geometry', () => {
  it('merges equal neighbouring samples into one band and ends at now', () => {
    const g = chartGeometry(
      [
        { t: 0, kind: 'converged', distinct: 1 },
        { t: 50, kind: 'converged', distinct: 1 },
        { t: 100, kind: 'diverged', distinct: 2 },
        { t: 150, kind: 'unknown', distinct: 2 },
      ],
      200,
      200,
      400,
      100,
    );
    expect(g.bands).toEqual([
      { x: 0, w: 200, kind: 'converged' },
      { x: 200, w: 100, kind: 'diverged' },
      { x: 300, w: 100, kind: 'unknown' },
    ]);
    expect(g.yMax).toBe(2);
    expect(g.line.split(' ')[0]).toBe('0.0,50.0');
    expect(g.line.split(' ').at(-1)).toBe('400.0,0.0');
  });

  it('clips samples older than the window to its left edge', () => {
    const g = chartGeometry(
      [
        { t: 0, kind: 'diverged', distinct: 3 },
        { t: 900, kind: 'converged', distinct: 1 },
      ],
      1000,
      200,
      100,
      10,
    );
    expect(g.bands).toEqual([
      { x: 0, w: 50, kind: 'diverged' },
      { x: 50, w: 50, kind: 'converged' },
    ]);
  });

  it('draws nothing without samples', () => {
    expect(chartGeometry([], 10, 10, 10, 10)).toEqual({ bands: [], line: '', yMax: 2 });
    expect(timeShares([])).toEqual({ converged: 0, syncing: 0, diverged: 0, unreachable: 0, unknown: 0 });
  });

  it('LAB-UI-1 unknown, unreachable: a band of its own, its time counted apart from converged and not converged', () => {
    const g = chartGeometry(
      [
        { t: 0, kind: 'converged', distinct: 1 },
        { t: 100, kind: 'unreachable', distinct: 2 },
        { t: 150, kind: 'unreachable', distinct: 2 },
        { t: 300, kind: 'diverged', distinct: 2 },
        { t: 350, kind: 'unknown', distinct: 2 },
      ],
      400,
      400,
      400,
      100,
    );
    expect(g.bands).toEqual([
      { x: 0, w: 100, kind: 'converged' },
      { x: 100, w: 200, kind: 'unreachable' },
      { x: 300, w: 50, kind: 'diverged' },
      { x: 350, w: 50, kind: 'unknown' },
    ]);
    expect(timeShares(g.bands)).toEqual({
      converged: 0.25,
      syncing: 0,
      diverged: 0.125,
      unreachable: 0.5,
      unknown: 0.125,
    });
  });
});

const SEED = seedFromEnv();
const ROUNDS = 300;

/** The boxes, sorted by left edge, are at least `gap` apart. */
const apart = (boxes: ReadonlyArray<{ x: number; w: number }>, gap: number): boolean =>
  [...boxes]
    .sort((a, b) => a.x - b.x)
    .every((b, i, all) => i === 0 || all[i - 1]!.x + all[i - 1]!.w + gap <= b.x + 1e-9);

const randomName = (prng: Prng): string =>
  Array.from({ length: prng.int(1, 45) }, () => prng.pick([...'aeimnorstwWMIl .-ÉŽ', '名', '😀'])).join('');

describe('LAB-UI-5: fitting a name into the space-time diagram', () => {
  it('keeps a name that fits and shortens one that does not with an ellipsis, within the width', () => {
    expect(fitText('Bob', 100, 13)).toBe('Bob');
    const long = 'Maximiliana Montgomery-Featherstonehaugh';
    const short = fitText(long, 100, 13);
    expect(short).toMatch(/^Maximil.*…$/);
    expect(textWidth(short, 13)).toBeLessThanOrEqual(100);
    expect(fitText('名前😀名前😀名前', 42, 13)).toBe('名前…');
    expect(fitText('Bob', 1, 13)).toBe('…');
  });

  it(`never gives more than the width, and keeps the start of the name (seed ${SEED})`, () => {
    const prng = new Prng(SEED);
    for (let round = 0; round < ROUNDS; round++) {
      const name = randomName(prng);
      const width = prng.int(30, 200);
      const shown = fitText(name, width, SPACE_TIME_FONT);
      const ctx = `seed ${SEED}, round ${round}: ${JSON.stringify(name)} in ${width}`;
      if (shown === name) expect(textWidth(name, SPACE_TIME_FONT), ctx).toBeLessThanOrEqual(width);
      else {
        expect(shown.endsWith('…'), ctx).toBe(true);
        expect(name.startsWith(shown.slice(0, -1)), ctx).toBe(true);
        if (shown !== '…') expect(textWidth(shown, SPACE_TIME_FONT), ctx).toBeLessThanOrEqual(width);
      }
    }
  });
});

describe('LAB-UI-5: placing the message numbers apart', () => {
  it('leaves a label that has room where it wants to be, and pushes crowded ones apart in order', () => {
    expect(placeLabels([{ c: 50, w: 10 }], 0, 100, 2)).toEqual([45]);
    expect(
      placeLabels(
        [
          { c: 50, w: 10 },
          { c: 50, w: 10 },
        ],
        0,
        100,
        2,
      ),
    ).toEqual([45, 57]);
    // Near the right edge the pass back pulls them inside.
    expect(
      placeLabels(
        [
          { c: 98, w: 10 },
          { c: 97, w: 10 },
        ],
        0,
        100,
        2,
      ),
    ).toEqual([90, 78]);
  });

  it(`never overlaps labels, keeps their order, and stays inside when they fit (seed ${SEED})`, () => {
    const prng = new Prng(SEED + 1);
    for (let round = 0; round < ROUNDS; round++) {
      const lo = prng.int(0, 100);
      const hi = lo + prng.int(20, 400);
      const labels = Array.from({ length: prng.int(0, 14) }, () => ({
        c: lo - 20 + prng.next() * (hi - lo + 40),
        w: prng.int(4, 30),
      }));
      const gap = prng.int(0, 3);
      const left = placeLabels(labels, lo, hi, gap);
      const boxes = labels.map((l, i) => ({ x: left[i]!, w: l.w, c: l.c }));
      const ctx = `seed ${SEED + 1}, round ${round}: ${JSON.stringify({ lo, hi, gap, labels })}`;
      expect(apart(boxes, gap), ctx).toBe(true);
      const byWant = [...boxes].sort((a, b) => a.c - b.c);
      expect(
        byWant.every((b, i) => i === 0 || byWant[i - 1]!.x <= b.x),
        ctx,
      ).toBe(true);
      expect(
        boxes.every((b) => b.x >= lo - 1e-9),
        ctx,
      ).toBe(true);
      const total = labels.reduce((sum, l) => sum + l.w, 0) + gap * Math.max(labels.length - 1, 0);
      if (total <= hi - lo)
        expect(
          boxes.every((b) => b.x + b.w <= hi + 1e-9),
          ctx,
        ).toBe(true);
    }
  });
});

const randomData = (prng: Prng): SpaceTimeData => {
  const start = 1_000_000;
  const lanes = Array.from({ length: prng.int(1, 12) }, (_, i) => ({
    userId: `u${i}`,
    name: randomName(prng),
    self: i === 0,
  }));
  const now = start + prng.int(0, 120_000);
  const before = prng.bool(0.3);
  const messages = Array.from({ length: prng.int(0, 12) }, (_, i) => {
    const author = prng.pick(lanes).userId;
    const earlier = before && prng.bool(0.5);
    const sentAt = earlier ? start : prng.int(start, now);
    const events = lanes
      .filter((l) => l.userId === author || prng.bool(0.6))
      .map((l) => ({
        messageId: `m${i}`,
        userId: l.userId,
        t: earlier ? start : l.userId === author ? sentAt : prng.int(sentAt, now),
        before: earlier,
      }))
      .sort((a, b) => a.t - b.t);
    return { id: `m${i}`, authorId: author, label: `text ${i}`, wall: sentAt, sentAt: events[0]!.t, events };
  });
  return { lanes, messages, start };
};

describe('LAB-UI-5: the space-time diagram layout', () => {
  it('keeps its text size: laid out for the width it has, at least its minimum', () => {
    const data: SpaceTimeData = { lanes: [{ userId: 'u0', name: 'Me', self: true }], messages: [], start: 0 };
    expect(spaceTimeLayout(data, 0, 358).width).toBe(358);
    expect(spaceTimeLayout(data, 0, 544).width).toBe(544);
    expect(spaceTimeLayout(data, 0, 200).width).toBe(SPACE_TIME_MIN_WIDTH);
    expect(spaceTimeLayout(data, 0, 544).fontSize).toBe(SPACE_TIME_FONT);
  });

  it(`keeps names in their column and the numbers on a lane apart, inside the plot (seed ${SEED})`, () => {
    const prng = new Prng(SEED + 2);
    for (let round = 0; round < ROUNDS; round++) {
      const data = randomData(prng);
      const width = prng.int(200, 900);
      const now = Math.max(data.start, ...data.messages.flatMap((m) => m.events.map((e) => e.t)));
      const g = spaceTimeLayout(data, now, width);
      const ctx = `seed ${SEED + 2}, round ${round}, width ${width}`;
      expect(g.nameRight, ctx).toBeLessThan(g.plotLeft);
      for (const l of g.lanes) expect(6 + textWidth(l.shown, g.fontSize), ctx).toBeLessThanOrEqual(g.nameRight);
      // Lanes far enough apart for a name (and "(you)" under it) and a row of numbers each.
      expect(
        g.lanes.every((l, i) => i === 0 || l.y - g.lanes[i - 1]!.y >= 2.5 * g.fontSize),
        ctx,
      ).toBe(true);
      for (const l of g.lanes) {
        const labels = g.messages.filter((m) => m.y === l.y).map((m) => m.label);
        expect(apart(labels, 0), ctx).toBe(true);
        for (const b of labels) {
          expect(b.x, ctx).toBeGreaterThanOrEqual(g.plotLeft - 1e-9);
          expect(b.x + b.w, ctx).toBeLessThanOrEqual(g.plotRight + 1e-9);
          expect(b.y, ctx).toBeLessThan(l.y);
          expect(b.y - g.fontSize, ctx).toBeGreaterThan(l.y - 40);
        }
      }
      for (const m of g.messages) {
        expect(m.x, ctx).toBeGreaterThanOrEqual(g.plotLeft);
        expect(m.x, ctx).toBeLessThanOrEqual(g.plotRight);
        for (const a of m.arrows) expect(a.x2, ctx).toBeLessThanOrEqual(g.plotRight);
      }
    }
  });
});
