/**
 * The lab's charts as geometry (pure, tested), in viewBox coordinates; time runs left to right.
 *
 * The class view's chart: over the last `windowMs`, one band per stretch of equal verdict
 * (converged / syncing / diverged / unreachable / unknown, LAB-UI-1) and a step line of the number of
 * distinct contents among the participants that count, in a `width` × `height` viewBox, `now` at
 * the right edge; and the share of the time shown each verdict held.
 *
 * The space-time diagram's layout (LAB-UI-5): participant names in a column of their own,
 * shortened with an ellipsis to fit it, and the messages' numbers placed apart on their lane.
 */
import type { Sample, VerdictKind } from '../../lab/classTracker.js';
import type { SpaceTimeData } from '../../lab/spaceTime.js';

export type BandKind = VerdictKind;

export interface ChartGeometry {
  readonly bands: ReadonlyArray<{ readonly x: number; readonly w: number; readonly kind: BandKind }>;
  /** SVG polyline points ("x,y x,y …"); '' when there is nothing to draw. */
  readonly line: string;
  /** The top of the y axis (distinct contents). */
  readonly yMax: number;
}

export const chartGeometry = (
  samples: readonly Sample[],
  now: number,
  windowMs: number,
  width: number,
  height: number,
): ChartGeometry => {
  const start = now - windowMs;
  const x = (t: number): number => ((Math.min(Math.max(t, start), now) - start) / windowMs) * width;
  const yMax = Math.max(2, ...samples.map((s) => s.distinct));
  const y = (d: number): number => height - (d / yMax) * height;
  const bands: Array<{ x: number; w: number; kind: BandKind }> = [];
  const points: string[] = [];
  samples.forEach((s, i) => {
    const end = i + 1 < samples.length ? samples[i + 1]!.t : now;
    if (end < start) return;
    const x0 = x(s.t);
    const x1 = x(end);
    const kind = s.kind;
    const last = bands.at(-1);
    if (last && last.kind === kind && Math.abs(last.x + last.w - x0) < 1e-9) last.w = x1 - last.x;
    else bands.push({ x: x0, w: x1 - x0, kind });
    const yy = y(s.distinct).toFixed(1);
    points.push(`${x0.toFixed(1)},${yy}`, `${x1.toFixed(1)},${yy}`);
  });
  return { bands, line: points.join(' '), yMax };
};

/**
 * The share (0–1) of the bands' width each verdict held; all 0 without bands. The four verdicts
 * are counted apart: "unknown, someone unreachable" is neither converged nor not converged.
 */
export const timeShares = (bands: ChartGeometry['bands']): Record<BandKind, number> => {
  const shares: Record<BandKind, number> = { converged: 0, syncing: 0, diverged: 0, unreachable: 0, unknown: 0 };
  const total = bands.reduce((n, b) => n + b.w, 0);
  if (total <= 0) return shares;
  for (const b of bands) shares[b.kind] += b.w / total;
  return shares;
};

// ---------------------------------------------------------------- space-time diagram

/**
 * An estimate of the width of `text` in a sans-serif font of `fontSize`, on the wide side (no
 * measuring: the layout stays pure); the SVG clips the name column anyway.
 */
export const textWidth = (text: string, fontSize: number): number => {
  let em = 0;
  for (const ch of text) {
    if (ch.codePointAt(0)! >= 0x2e80)
      em += 1.05; // CJK, emoji: full width
    else if ('mwMW@…'.includes(ch)) em += 1;
    else if ("iljtfI.,:;!|' ()[]".includes(ch)) em += 0.4;
    else if (ch !== ch.toLowerCase()) em += 0.8;
    else em += 0.65;
  }
  return em * fontSize;
};

const graphemes = (text: string): string[] =>
  Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text), (s) => s.segment);

/** `text` as is when it fits `maxWidth`, else its longest start that fits with "…" after it. */
export const fitText = (text: string, maxWidth: number, fontSize: number): string => {
  if (textWidth(text, fontSize) <= maxWidth) return text;
  const parts = graphemes(text);
  let n = parts.length;
  while (n > 0 && textWidth(parts.slice(0, n).join('').trimEnd() + '…', fontSize) > maxWidth) n--;
  return parts.slice(0, n).join('').trimEnd() + '…';
};

/**
 * Places labels of width `w` in one row between `lo` and `hi`, each as near its wanted centre `c`
 * as the others allow, in the order of their centres and at least `gap` apart: a pass left to
 * right pushes each past the one before, a pass right to left pulls them back inside `hi`. Labels
 * that cannot all fit start at `lo` and go past `hi` (never over each other). Gives the left edges.
 */
export const placeLabels = (
  labels: ReadonlyArray<{ readonly c: number; readonly w: number }>,
  lo: number,
  hi: number,
  gap: number,
): number[] => {
  const order = labels.map((_, i) => i).sort((a, b) => labels[a]!.c - labels[b]!.c || a - b);
  const left: number[] = labels.map(() => 0);
  let next = lo;
  for (const i of order) {
    left[i] = Math.max(labels[i]!.c - labels[i]!.w / 2, next);
    next = left[i] + labels[i]!.w + gap;
  }
  const total = labels.reduce((sum, l) => sum + l.w, 0) + gap * Math.max(labels.length - 1, 0);
  if (total > hi - lo) return left;
  let limit = hi;
  for (const i of order.reverse()) {
    left[i] = Math.min(left[i]!, limit - labels[i]!.w);
    limit = left[i] - gap;
  }
  return left;
};

export const SPACE_TIME_FONT = 13;
/** Narrower than this, the diagram keeps this width and scrolls sideways. */
export const SPACE_TIME_MIN_WIDTH = 340;
const ST_HEAD = 18;
const ST_LANE_H = 40;
/** Lane line below the top of its lane: the band above it holds the lane's message numbers. */
const ST_LANE_Y = 27;
const ST_NAME_PAD = 6;
const ST_GAP = 16;
const ST_RIGHT = 12;
const ST_MIN_SPAN_MS = 10_000;
const ST_LABEL_PAD = 3;
const ST_LABEL_GAP = 1;

export interface LaneLayout {
  readonly userId: string;
  readonly y: number;
  /** The name as drawn (shortened to fit the column). */
  readonly shown: string;
  readonly full: string;
  /** This client's lane (marked "(you)" under the name). */
  readonly self: boolean;
}

export interface MessageLayout {
  readonly id: string;
  /** Its number in the list below the diagram. */
  readonly n: number;
  /** The sending dot. */
  readonly x: number;
  readonly y: number;
  /** The number's box: left edge, width, baseline. */
  readonly label: { readonly x: number; readonly w: number; readonly y: number };
  readonly arrows: ReadonlyArray<{
    readonly userId: string;
    readonly x1: number;
    readonly y1: number;
    readonly x2: number;
    readonly y2: number;
    readonly before: boolean;
  }>;
}

export interface SpaceTimeLayout {
  readonly width: number;
  readonly height: number;
  readonly fontSize: number;
  /** The lanes and the messages are drawn right of this; the names left of it. */
  readonly plotLeft: number;
  readonly plotRight: number;
  /** The names' column ends here. */
  readonly nameRight: number;
  /** The "before" strip, when something was there before recording started. */
  readonly before: { readonly x: number; readonly w: number } | null;
  /** The time shown, from the first message (at least ST_MIN_SPAN_MS) to `now`. */
  readonly spanMs: number;
  readonly lanes: readonly LaneLayout[];
  readonly messages: readonly MessageLayout[];
}

/**
 * The diagram drawn `width` wide (the space it has, in CSS pixels, at least SPACE_TIME_MIN_WIDTH:
 * the text keeps its size), time from the first message (or ST_MIN_SPAN_MS ago) to `now`. A
 * message's number sits above its lane just left of its dot (its arrows leave to the right), or
 * as near as the other numbers on that lane allow.
 */
export const spaceTimeLayout = (data: SpaceTimeData, now: number, wanted: number): SpaceTimeLayout => {
  const fontSize = SPACE_TIME_FONT;
  const width = Math.max(wanted, SPACE_TIME_MIN_WIDTH);
  const plotLeft = Math.round(Math.min(150, Math.max(108, width * 0.28)));
  const plotRight = width - ST_RIGHT;
  const beforeW = Math.min(80, (plotRight - plotLeft) / 4);
  const nameRight = plotLeft - ST_NAME_PAD;
  const nameW = nameRight - ST_NAME_PAD;
  const lanes = data.lanes.map((l, i): LaneLayout => ({
    userId: l.userId,
    y: ST_HEAD + i * ST_LANE_H + ST_LANE_Y,
    shown: fitText(l.name, nameW, fontSize),
    full: l.name,
    self: l.self,
  }));
  const laneY = new Map(lanes.map((l) => [l.userId, l.y]));
  const earlier = data.messages.filter((m) => m.events[0]!.before);
  const slot = new Map(earlier.map((m, i) => [m.id, plotLeft + ((i + 0.5) / earlier.length) * beforeW]));
  const timeLeft = plotLeft + (earlier.length > 0 ? beforeW + ST_GAP : 0);
  const timed = data.messages.filter((m) => !slot.has(m.id)).map((m) => m.sentAt);
  const t0 = Math.min(now - ST_MIN_SPAN_MS, ...timed);
  const spanMs = Math.max(now - t0, 1);
  const x = (t: number): number => timeLeft + ((t - t0) / spanMs) * (plotRight - timeLeft);
  const drawn = data.messages.flatMap((m, i) => {
    const y = laneY.get(m.authorId);
    return y === undefined ? [] : [{ m, n: i + 1, y, x: slot.get(m.id) ?? x(m.sentAt) }];
  });
  const labelOf = new Map<string, { x: number; w: number; y: number }>();
  for (const lane of lanes) {
    const onLane = drawn.filter((d) => d.m.authorId === lane.userId);
    const boxes = onLane.map((d) => {
      const w = textWidth(String(d.n), fontSize) + 2 * ST_LABEL_PAD;
      return { c: d.x - w / 2, w };
    });
    placeLabels(boxes, plotLeft, plotRight, ST_LABEL_GAP).forEach((left, k) =>
      labelOf.set(onLane[k]!.m.id, { x: left, w: boxes[k]!.w, y: lane.y - 9 }),
    );
  }
  return {
    width,
    height: ST_HEAD + lanes.length * ST_LANE_H,
    fontSize,
    plotLeft,
    plotRight,
    nameRight,
    before: earlier.length > 0 ? { x: plotLeft, w: beforeW } : null,
    spanMs,
    lanes,
    messages: drawn.map(({ m, n, x: xs, y }) => ({
      id: m.id,
      n,
      x: xs,
      y,
      label: labelOf.get(m.id)!,
      arrows: m.events.flatMap((e) => {
        const y2 = laneY.get(e.userId);
        if (y2 === undefined || e.userId === m.authorId) return [];
        return [{ userId: e.userId, x1: xs, y1: y, x2: e.before ? xs : x(e.t), y2, before: e.before }];
      }),
    })),
  };
};
