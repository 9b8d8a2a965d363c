/**
 * The class view's chart as geometry (pure, tested): over the last `windowMs`, one band per
 * stretch of equal verdict (converged / diverged / unknown) and a step line of the number of
 * distinct contents among the participants that count. Coordinates are in a `width` × `height`
 * viewBox; time runs left to right, `now` at the right edge.
 */
import type { Sample } from '../../lab/classTracker.js';

export type BandKind = 'converged' | 'diverged' | 'unknown';

export interface ChartGeometry {
  readonly bands: ReadonlyArray<{ readonly x: number; readonly w: number; readonly kind: BandKind }>;
  /** SVG polyline points ("x,y x,y …"); '' when there is nothing to draw. */
  readonly line: string;
  /** The top of the y axis (distinct contents). */
  readonly yMax: number;
}

const kindOf = (s: Sample): BandKind => (s.converged === null ? 'unknown' : s.converged ? 'converged' : 'diverged');

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
    const kind = kindOf(s);
    const last = bands.at(-1);
    if (last && last.kind === kind && Math.abs(last.x + last.w - x0) < 1e-9) last.w = x1 - last.x;
    else bands.push({ x: x0, w: x1 - x0, kind });
    const yy = y(s.distinct).toFixed(1);
    points.push(`${x0.toFixed(1)},${yy}`, `${x1.toFixed(1)},${yy}`);
  });
  return { bands, line: points.join(' '), yMax };
};
