/**
 * LAB-UI-5: the space-time diagram (SVG built from React elements: message texts are untrusted
 * and only ever rendered as text). Lanes are participants, time runs left to right on this
 * client's clock; a filled dot is a message sent, an arrow ends where (when) this client learned
 * that a participant holds it.
 */
import type { ReactNode } from 'react';
import type { SpaceTimeData } from '../../lab/spaceTime.js';
import { formatSyncTime } from '../format.js';
import { formatElapsed } from './labFormat.js';

const W = 640;
const LANE_H = 34;
const LEFT = 96;
const RIGHT = 16;
const TOP = 18;
const MIN_SPAN_MS = 10_000;

export const SpaceTimeDiagram = ({ data, now }: { data: SpaceTimeData; now: number }): ReactNode => {
  const { lanes, messages } = data;
  const laneY = new Map(lanes.map((l, i) => [l.userId, TOP + i * LANE_H + LANE_H / 2]));
  const t0 = Math.min(now - MIN_SPAN_MS, ...messages.map((m) => m.sentAt));
  const span = Math.max(now - t0, 1);
  const x = (t: number): number => LEFT + ((t - t0) / span) * (W - LEFT - RIGHT);
  const height = TOP + lanes.length * LANE_H + 8;
  const summary =
    messages.length === 0
      ? 'No recent messages yet.'
      : `${messages.length} recent messages across ${lanes.length} participants.`;
  return (
    <figure className="space-time">
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`Space-time diagram. ${summary}`}>
        <defs>
          <marker id="st-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L8,4 L0,8 z" className="st-arrowhead" />
          </marker>
        </defs>
        {lanes.map((l) => (
          <g key={l.userId}>
            <text x={4} y={laneY.get(l.userId)! + 4} className="st-lane-name">
              {l.name.slice(0, 12)}
              {l.self ? ' (you)' : ''}
            </text>
            <line x1={LEFT} x2={W - RIGHT} y1={laneY.get(l.userId)} y2={laneY.get(l.userId)} className="st-lane" />
          </g>
        ))}
        {messages.map((m) => {
          const y0 = laneY.get(m.authorId);
          if (y0 === undefined) return null;
          const xs = x(m.sentAt);
          return (
            <g key={m.id} className="st-message">
              <title>
                {`${m.label} — the sender’s clock said ${formatSyncTime(m.wall)}; ${m.events
                  .map(
                    (e) =>
                      `${lanes.find((l) => l.userId === e.userId)?.name ?? 'someone'} ${e.before ? 'had it before recording started' : `+${formatElapsed(e.t - m.sentAt)}`}`,
                  )
                  .join(', ')}`}
              </title>
              {m.events.map((e) => {
                const y1 = laneY.get(e.userId);
                if (y1 === undefined || e.userId === m.authorId) return null;
                return (
                  <line
                    key={e.userId}
                    x1={xs}
                    y1={y0}
                    x2={x(e.t)}
                    y2={y1}
                    className={e.before ? 'st-arrow before' : 'st-arrow'}
                    markerEnd="url(#st-arrow)"
                  />
                );
              })}
              <circle cx={xs} cy={y0} r={4.5} className="st-send" />
              <text x={xs + 6} y={y0 - 7} className="st-label">
                {m.label.slice(0, 14)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="hint">
        Time runs left to right on this device’s clock (the last {formatElapsed(span)}). A dot is a message sent; an
        arrow ends when this device learned that the participant holds it (its published state vector covered it).
        Dashed: already there when recording started. Hover a message for the sender’s own clock.
      </figcaption>
    </figure>
  );
};
