/**
 * SVG space-time diagram: one horizontal lane per client, time to the right; for each selected
 * message a dot where it was sent and an arrow to each other client at the moment it appeared
 * there. Partitions (grey) and crashes (dark) are shaded on the lanes, relay downtime across them.
 * By default the last DEFAULT_MESSAGES messages sent are drawn; `msgIds` selects others.
 */
import type { DeliverEvent, History, SendEvent } from '../history.js';
import type { RunIntervals } from './intervals.js';
import { escapeHtml } from './escapeHtml.js';
import { num, scale, svgRoot, text, timeAxis } from './svg.js';

export const DEFAULT_MESSAGES = 30;

const W = 900;
const LEFT = 90;
const RIGHT = 20;
const LANE = 28;
const TOP = 10;
const BOTTOM = 36;

export interface SpaceTimeOptions {
  /** Draw the last this-many messages sent (default DEFAULT_MESSAGES). */
  readonly last?: number;
  /** Draw exactly these messages instead. */
  readonly msgIds?: readonly string[];
}

export const spaceTimeDiagram = (h: History, iv: RunIntervals, opts: SpaceTimeOptions = {}): string => {
  const label = 'Space-time diagram';
  const sends = h.events.filter((e): e is SendEvent => e.kind === 'send');
  const wanted = opts.msgIds ? new Set(opts.msgIds) : null;
  const last = Math.max(0, opts.last ?? DEFAULT_MESSAGES);
  const chosen = wanted ? sends.filter((s) => wanted.has(s.msgId)) : last === 0 ? [] : sends.slice(-last);
  if (h.clients.length === 0 || chosen.length === 0)
    return svgRoot(W, 60, label, text(LEFT, 34, 'No messages to draw.'));
  const ids = new Set(chosen.map((s) => s.msgId));
  const delivers = h.events.filter((e): e is DeliverEvent => e.kind === 'deliver' && ids.has(e.msgId));
  const t0 = chosen[0]!.t;
  const t1 = Math.max(t0 + 1, ...delivers.map((d) => d.t), ...chosen.map((s) => s.t));
  const x = scale(t0, t1, LEFT, W - RIGHT);
  const lane = new Map(h.clients.map((c, i) => [c.id, TOP + i * LANE + LANE / 2]));
  const height = TOP + LANE * h.clients.length + BOTTOM;
  const clip = (from: number, to: number): [number, number] | null =>
    to < t0 || from > t1 ? null : [x(Math.max(from, t0)), x(Math.min(to, t1))];

  let body =
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>';
  for (const r of iv.relayDown) {
    const c = clip(r.from, r.to);
    if (c)
      body += `<rect class="relaydown" x="${num(c[0])}" y="${TOP}" width="${num(Math.max(1, c[1] - c[0]))}" height="${LANE * h.clients.length}"><title>relay down</title></rect>`;
  }
  const shade = (cls: string, all: RunIntervals['partitioned']): void => {
    for (const [client, list] of all) {
      const y = lane.get(client);
      if (y === undefined) continue;
      for (const p of list) {
        const c = clip(p.from, p.to);
        if (c)
          body += `<rect class="${cls}" x="${num(c[0])}" y="${num(y - LANE / 2 + 2)}" width="${num(Math.max(1, c[1] - c[0]))}" height="${LANE - 4}"><title>${cls}</title></rect>`;
      }
    }
  };
  shade('partitioned', iv.partitioned);
  shade('crashed', iv.crashed);
  body += h.clients
    .map(
      (c) =>
        `${text(LEFT - 8, lane.get(c.id)! + 4, c.id, 'text-anchor="end"')}<line class="lane" x1="${LEFT}" y1="${num(lane.get(c.id)!)}" x2="${W - RIGHT}" y2="${num(lane.get(c.id)!)}"/>`,
    )
    .join('');
  const sentBy = new Map(chosen.map((s) => [s.msgId, s]));
  for (const d of delivers) {
    const s = sentBy.get(d.msgId)!;
    if (s.client === d.client) continue;
    const y0 = lane.get(s.client);
    const y1 = lane.get(d.client);
    if (y0 === undefined || y1 === undefined) continue;
    body += `<line class="msg" x1="${num(x(s.t))}" y1="${num(y0)}" x2="${num(x(d.t))}" y2="${num(y1)}" marker-end="url(#arrow)"><title>${escapeHtml(`${s.msgId}: ${s.client} → ${d.client} in ${Math.round(d.t - s.t)} ms`)}</title></line>`;
  }
  for (const s of chosen) {
    const y = lane.get(s.client);
    if (y === undefined) continue;
    body += `<circle class="send" cx="${num(x(s.t))}" cy="${num(y)}" r="3.5"><title>${escapeHtml(`${s.msgId} from ${s.client}${s.replyTo ? ` (reply to ${s.replyTo})` : ''}: ${s.text.slice(0, 200)}`)}</title></circle>`;
  }
  body += timeAxis(t0, t1, LEFT, W - RIGHT, TOP + LANE * h.clients.length + 4);
  return svgRoot(W, height, `${label}: ${chosen.length} messages`, body);
};
