/**
 * Small helpers for the report's inline SVG charts. Invariant: every number written into SVG is
 * finite (`num`), so an empty or one-event history draws an empty chart, never "NaN".
 */
import { escapeHtml } from './escapeHtml.js';

/** A finite number, rounded to 0.1, as SVG text (0 for NaN or ±Infinity). */
export const num = (n: number): string => (Number.isFinite(n) ? String(Math.round(n * 10) / 10) : '0');

/** Linear map of [d0, d1] onto [r0, r1]; a zero-width domain maps to the middle of the range. */
export const scale =
  (d0: number, d1: number, r0: number, r1: number) =>
  (x: number): number =>
    d1 === d0 ? (r0 + r1) / 2 : r0 + ((x - d0) / (d1 - d0)) * (r1 - r0);

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 × 10^k apart). */
export const ticks = (lo: number, hi: number, count = 5): number[] => {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) return [Number.isFinite(lo) ? lo : 0];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
};

/** Seconds label for a ms time axis. */
export const seconds = (ms: number): string => `${num(ms / 1000)} s`;

/** An <svg> root with an accessible name (escaped). */
export const svgRoot = (width: number, height: number, label: string, body: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${num(width)} ${num(height)}" width="100%" role="img" aria-label="${escapeHtml(label)}"><title>${escapeHtml(label)}</title>${body}</svg>`;

/** Text element; content escaped. */
export const text = (x: number, y: number, s: string, attrs = ''): string =>
  `<text x="${num(x)}" y="${num(y)}"${attrs ? ` ${attrs}` : ''}>${escapeHtml(s)}</text>`;

/** A time axis along y = `y` from x0 to x1 for [t0, t1] ms. */
export const timeAxis = (t0: number, t1: number, x0: number, x1: number, y: number): string => {
  const x = scale(t0, t1, x0, x1);
  return (
    `<line class="axis" x1="${num(x0)}" y1="${num(y)}" x2="${num(x1)}" y2="${num(y)}"/>` +
    ticks(t0, t1)
      .map(
        (t) =>
          `<line class="tick" x1="${num(x(t))}" y1="${num(y)}" x2="${num(x(t))}" y2="${num(y + 4)}"/>${text(x(t), y + 16, seconds(t), 'text-anchor="middle"')}`,
      )
      .join('')
  );
};
