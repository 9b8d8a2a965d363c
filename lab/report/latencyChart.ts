/**
 * SVG scatter of delivery latency over time: one dot per (message, receiving client) at its
 * delivery time, with the p50 and p99 as dashed lines. Above MAX_POINTS samples every k-th one is
 * drawn (the percentile lines still use all of them) so a big run stays a readable file.
 */
import type { LatencySli } from '../sli.js';
import { num, scale, seconds, svgRoot, text, ticks, timeAxis } from './svg.js';

export const MAX_POINTS = 4000;

const W = 900;
const H = 260;
const LEFT = 60;
const RIGHT = 20;
const TOP = 16;
const BOTTOM = 36;

export const latencyChart = (latency: LatencySli, end: number): string => {
  const label = 'Delivery latency over time';
  if (latency.samples.length === 0) return svgRoot(W, 60, label, text(LEFT, 34, 'No deliveries were measured.'));
  const maxMs = Math.max(1, latency.max ?? 1);
  const x = scale(0, Math.max(end, 1), LEFT, W - RIGHT);
  const y = scale(0, maxMs, H - BOTTOM, TOP);
  const step = Math.ceil(latency.samples.length / MAX_POINTS);
  const dots = latency.samples
    .filter((_, i) => i % step === 0)
    .map((s) => `<circle class="dot" cx="${num(x(s.t))}" cy="${num(y(s.ms))}" r="2"/>`)
    .join('');
  const yAxis = ticks(0, maxMs, 4)
    .map(
      (v) =>
        `<line class="grid" x1="${LEFT}" y1="${num(y(v))}" x2="${W - RIGHT}" y2="${num(y(v))}"/>${text(LEFT - 6, y(v) + 4, `${num(v)} ms`, 'text-anchor="end"')}`,
    )
    .join('');
  const line = (name: string, v: number | null): string =>
    v === null
      ? ''
      : `<line class="pline" x1="${LEFT}" y1="${num(y(v))}" x2="${W - RIGHT}" y2="${num(y(v))}"/>${text(W - RIGHT - 4, y(v) - 4, `${name} ${num(v)} ms`, 'text-anchor="end" class="plabel"')}`;
  const note =
    step > 1 ? text(LEFT, TOP - 4, `every ${step}th of ${latency.samples.length} samples drawn`, 'class="note"') : '';
  return svgRoot(
    W,
    H,
    `${label}: ${latency.count} samples up to ${seconds(end)}`,
    yAxis +
      timeAxis(0, Math.max(end, 1), LEFT, W - RIGHT, H - BOTTOM) +
      dots +
      line('p50', latency.p50) +
      line('p99', latency.p99) +
      note,
  );
};
