/**
 * SVG timeline, one lane per client: when it was partitioned (grey), crashed (dark), the relay was
 * down (band across all lanes), and when its content hash differed from the one most clients showed
 * (red bars: the divergence windows; on a tie with none ahead, every client's).
 */
import type { History } from '../history.js';
import type { DivergenceWindow } from './divergenceWindows.js';
import type { RunIntervals } from './intervals.js';
import { num, scale, svgRoot, text, timeAxis } from './svg.js';

const W = 900;
const LEFT = 90;
const RIGHT = 20;
const LANE = 22;
const TOP = 8;
const BOTTOM = 36;

export const divergenceChart = (h: History, windows: readonly DivergenceWindow[], iv: RunIntervals): string => {
  const label = 'Divergence windows per client';
  if (h.clients.length === 0) return svgRoot(W, 60, label, text(LEFT, 34, 'No clients.'));
  const height = TOP + LANE * h.clients.length + BOTTOM;
  const end = Math.max(iv.end, 1);
  const x = scale(0, end, LEFT, W - RIGHT);
  const laneY = new Map(h.clients.map((c, i) => [c.id, TOP + i * LANE]));
  const bar = (cls: string, client: string, from: number, to: number, title: string): string => {
    const y = laneY.get(client);
    if (y === undefined) return '';
    const w = Math.max(1, x(to) - x(from));
    return `<rect class="${cls}" x="${num(x(from))}" y="${num(y + 3)}" width="${num(w)}" height="${LANE - 6}"><title>${title}</title></rect>`;
  };
  let body = h.clients
    .map(
      (c, i) =>
        `${text(LEFT - 8, TOP + i * LANE + LANE / 2 + 4, c.id, 'text-anchor="end"')}<line class="lane" x1="${LEFT}" y1="${num(TOP + i * LANE + LANE / 2)}" x2="${W - RIGHT}" y2="${num(TOP + i * LANE + LANE / 2)}"/>`,
    )
    .join('');
  for (const r of iv.relayDown) {
    body += `<rect class="relaydown" x="${num(x(r.from))}" y="${TOP}" width="${num(Math.max(1, x(r.to) - x(r.from)))}" height="${LANE * h.clients.length}"><title>relay down</title></rect>`;
  }
  for (const [c, list] of iv.partitioned)
    for (const p of list) body += bar('partitioned', c, p.from, p.to, 'partitioned');
  for (const [c, list] of iv.crashed) for (const p of list) body += bar('crashed', c, p.from, p.to, 'crashed');
  for (const w of windows)
    body += bar('diverged', w.client, w.from, w.to, w.open ? 'diverged until the end' : 'diverged');
  body += timeAxis(0, end, LEFT, W - RIGHT, TOP + LANE * h.clients.length + 4);
  return svgRoot(W, height, `${label}: ${windows.length} windows`, body);
};
