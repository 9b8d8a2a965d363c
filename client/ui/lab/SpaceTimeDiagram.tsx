/**
 * LAB-UI-5: the space-time diagram (SVG built from React elements: message texts are untrusted
 * and only ever rendered as text). Lanes are participants, time runs left to right on this
 * client's clock; a numbered dot is a message sent, an arrow ends where (when) this client
 * learned that a participant holds it. What was already there when recording started sits in a
 * "before" strip on the left, in display order. The numbers are explained in a list below.
 */
import type { ReactNode } from 'react';
import type { SpaceTimeData } from '../../lab/spaceTime.js';
import { formatSyncTime } from '../format.js';
import { formatElapsed } from './labFormat.js';

const W = 640;
const LANE_H = 34;
const LEFT = 96;
const BEFORE_W = 90;
const GAP = 18;
const RIGHT = 16;
const TOP = 18;
const MIN_SPAN_MS = 10_000;

export const SpaceTimeDiagram = ({ data, now }: { data: SpaceTimeData; now: number }): ReactNode => {
  const { lanes, messages } = data;
  const laneY = new Map(lanes.map((l, i) => [l.userId, TOP + i * LANE_H + LANE_H / 2]));
  const earlier = messages.filter((m) => m.events[0]!.before);
  const slot = new Map(earlier.map((m, i) => [m.id, LEFT + ((i + 0.5) / earlier.length) * BEFORE_W]));
  const timeLeft = LEFT + (earlier.length > 0 ? BEFORE_W + GAP : 0);
  const t0 = Math.min(now - MIN_SPAN_MS, ...messages.filter((m) => !slot.has(m.id)).map((m) => m.sentAt));
  const span = Math.max(now - t0, 1);
  const x = (t: number): number => timeLeft + ((t - t0) / span) * (W - timeLeft - RIGHT);
  const height = TOP + lanes.length * LANE_H + 8;
  const nameOf = (userId: string): string => lanes.find((l) => l.userId === userId)?.name ?? 'someone';
  return (
    <figure className="space-time">
      <svg
        viewBox={`0 0 ${W} ${height}`}
        role="img"
        aria-label={`Space-time diagram of ${messages.length} recent messages across ${lanes.length} participants; the list below describes them.`}
      >
        <defs>
          <marker id="st-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L8,4 L0,8 z" className="st-arrowhead" />
          </marker>
        </defs>
        {earlier.length > 0 && (
          <g>
            <rect x={LEFT} y={4} width={BEFORE_W} height={height - 8} className="st-before-zone" />
            <text x={LEFT + 4} y={14} className="st-label">
              before
            </text>
          </g>
        )}
        {lanes.map((l) => (
          <g key={l.userId}>
            <text x={4} y={laneY.get(l.userId)! + 4} className="st-lane-name">
              {l.name.slice(0, 12)}
              {l.self ? ' (you)' : ''}
            </text>
            <line x1={LEFT} x2={W - RIGHT} y1={laneY.get(l.userId)} y2={laneY.get(l.userId)} className="st-lane" />
          </g>
        ))}
        {messages.map((m, i) => {
          const y0 = laneY.get(m.authorId);
          if (y0 === undefined) return null;
          const xs = slot.get(m.id) ?? x(m.sentAt);
          return (
            <g key={m.id} className="st-message">
              <title>{`${i + 1}. ${m.label}`}</title>
              {m.events.map((e) => {
                const y1 = laneY.get(e.userId);
                if (y1 === undefined || e.userId === m.authorId) return null;
                return (
                  <line
                    key={e.userId}
                    x1={xs}
                    y1={y0}
                    x2={e.before ? xs : x(e.t)}
                    y2={y1}
                    className={e.before ? 'st-arrow before' : 'st-arrow'}
                    markerEnd="url(#st-arrow)"
                  />
                );
              })}
              <circle cx={xs} cy={y0} r={4.5} className="st-send" />
              <text x={xs + 5} y={y0 - 7} className="st-label">
                {i + 1}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="hint">
        Time runs left to right on this device’s clock (the last {formatElapsed(span)}). A dot is a message sent (at the
        first moment this device knew anyone had it); an arrow ends when this device learned that the participant holds
        it (its published state vector covered it).
        {earlier.length > 0 && ' “Before”: already there when the room was opened (dashed).'}
      </figcaption>
      <ol className="st-legend">
        {messages.map((m) => (
          <li key={m.id}>
            <strong>{nameOf(m.authorId)}:</strong> {m.label || '(deleted)'}{' '}
            <span className="hint">
              — its sender’s clock said {formatSyncTime(m.wall)};{' '}
              {m.events
                .filter((e) => e.userId !== m.authorId)
                .map((e) =>
                  e.before
                    ? `${nameOf(e.userId)} before`
                    : `${nameOf(e.userId)} +${formatElapsed(e.t - (slot.has(m.id) ? data.start : m.sentAt))}`,
                )
                .join(', ') || 'nobody else has it yet'}
            </span>
          </li>
        ))}
      </ol>
    </figure>
  );
};
