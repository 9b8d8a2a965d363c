/**
 * SVG scatter of delivery latency over time: one dot per (message, receiving client) at its
 * delivery time, with the p50 and p99 as dashed lines. Above MAX_POINTS samples every k-th one is
 * drawn (the percentile lines still use all of them) so a big run stays a readable file.
 * Background bands show when some client was partitioned (grey) and when the relay was down
 * (orange): the latency tail lines up with them.
 */
import type { LatencySli } from '../sli.js';
import type { Interval, RunIntervals } from './intervals.js';
import { num, scale, seconds, svgRoot, text, ticks, timeAxis } from './svg.js';

export const MAX_POINTS = 4000;

const W = 900;
const H = 260;
const LEFT = 60;
const RIGHT = 20;
const TOP = 16;
const BOTTOM = 36;

/** The union of intervals, as disjoint intervals in time order. */
export const mergeIntervals = (all: readonly Interval[]): Interval[] => {
  const out: Interval[] = [];
  for (const i of [...all].sort((a, b) => a.from - b.from)) {
    const last = out.at(-1);
    if (last && i.from <= last.to) out[out.length - 1] = { from: last.from, to: Math.max(last.to, i.to) };
    else out.push(i);
  }
  return out;
};

export const latencyChart = (latency: LatencySli, iv: RunIntervals): string => {
  const end = iv.end;
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
  const band = (cls: string, i: Interval, title: string): string =>
    `<rect class="${cls} band" x="${num(x(i.from))}" y="${TOP}" width="${num(Math.max(1, x(i.to) - x(i.from)))}" height="${H - BOTTOM - TOP}"><title>${title}</title></rect>`;
  const bands =
    mergeIntervals([...iv.partitioned.values()].flat())
      .map((i) => band('partitioned', i, 'some client partitioned'))
      .join('') + iv.relayDown.map((i) => band('relaydown', i, 'relay down')).join('');
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
    bands +
      yAxis +
      timeAxis(0, Math.max(end, 1), LEFT, W - RIGHT, H - BOTTOM) +
      dots +
      line('p50', latency.p50) +
      line('p99', latency.p99) +
      note,
  );
};
