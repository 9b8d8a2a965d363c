/**
 * LAB-UI-5: the space-time diagram (SVG built from React elements: names and message texts are
 * untrusted and only ever rendered as text). Lanes are participants, time runs left to right on
 * this client's clock; a numbered dot is a message sent, an arrow ends where (when) this client
 * learned that a participant holds it. What was already there when recording started sits in a
 * "before" strip on the left, in display order. The numbers are explained in a list below, the
 * diagram's text alternative. The layout (chartGeometry.ts) keeps the names in a column of their
 * own (shortened, the full name as a tooltip) and the numbers apart. It is laid out for the width
 * it has (measured), so its text keeps its size on a phone as on a desktop; below
 * SPACE_TIME_MIN_WIDTH it keeps that width and scrolls sideways.
 */
import { useId, useLayoutEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import type { SpaceTimeData } from '../../lab/spaceTime.js';
import { formatSyncTime } from '../format.js';
import { spaceTimeLayout } from './chartGeometry.js';
import { formatElapsed } from './labFormat.js';

/** Before the first measurement (and without layout, as in tests). */
const DEFAULT_WIDTH = 560;

/** The content width of the element `ref` is attached to, in whole CSS pixels. */
const useWidth = (): [RefObject<HTMLDivElement | null>, number] => {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  useLayoutEffect(() => {
    const el = ref.current!;
    const measure = (): void => setWidth(Math.floor(el.clientWidth) || DEFAULT_WIDTH);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
};

export const SpaceTimeDiagram = ({ data, now }: { data: SpaceTimeData; now: number }): ReactNode => {
  const { lanes, messages } = data;
  const [scroller, width] = useWidth();
  const layout = spaceTimeLayout(data, now, width);
  const id = useId();
  const nameOf = (userId: string): string => lanes.find((l) => l.userId === userId)?.name ?? 'someone';
  const startOf = (m: SpaceTimeData['messages'][number]): number => (m.events[0]!.before ? data.start : m.sentAt);
  return (
    <figure className="space-time">
      {/* Focusable, so a keyboard can scroll it when it is wider than the screen. */}
      <div className="st-scroll" ref={scroller} tabIndex={0} role="region" aria-label="Space-time diagram drawing">
        <svg
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          style={{ fontSize: layout.fontSize, minWidth: layout.width }}
          role="img"
          aria-label={`Space-time diagram of ${messages.length} recent messages across ${lanes.length} participants; the list below describes them.`}
        >
          <defs>
            <marker
              id={`${id}-arrow`}
              viewBox="0 0 8 8"
              refX="7"
              refY="4"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L8,4 L0,8 z" className="st-arrowhead" />
            </marker>
            <clipPath id={`${id}-names`}>
              <rect x={0} y={0} width={layout.nameRight} height={layout.height} />
            </clipPath>
          </defs>
          {layout.before && (
            <g>
              <rect
                x={layout.before.x}
                y={2}
                width={layout.before.w}
                height={layout.height - 4}
                className="st-before-zone"
              />
              <text x={layout.before.x + 4} y={14} className="st-label">
                before
              </text>
            </g>
          )}
          <text x={layout.plotRight} y={14} textAnchor="end" className="st-label">
            now
          </text>
          <g clipPath={`url(#${id}-names)`}>
            {layout.lanes.map((l) => (
              <text key={l.userId} x={6} y={l.y + 4} className="st-lane-name">
                <title>{l.self ? `${l.full} (you)` : l.full}</title>
                {l.shown}
                {l.self && (
                  <tspan x={6} dy={13} className="st-you">
                    (you)
                  </tspan>
                )}
              </text>
            ))}
          </g>
          {layout.lanes.map((l) => (
            <line key={l.userId} x1={layout.plotLeft} x2={layout.plotRight} y1={l.y} y2={l.y} className="st-lane" />
          ))}
          {layout.messages.map((m) => {
            const centre = m.label.x + m.label.w / 2;
            return (
              <g key={m.id} className="st-message">
                <title>{`${m.n}. ${data.messages[m.n - 1]!.label || '(deleted)'}`}</title>
                {m.arrows.map((a) => (
                  <line
                    key={a.userId}
                    x1={a.x1}
                    y1={a.y1}
                    x2={a.x2}
                    y2={a.y2}
                    className={a.before ? 'st-arrow before' : 'st-arrow'}
                    markerEnd={`url(#${id}-arrow)`}
                  />
                ))}
                <circle cx={m.x} cy={m.y} r={4.5} className="st-send" />
                {Math.abs(centre - m.x) > 0.5 && (
                  <line x1={centre} y1={m.label.y + 1} x2={m.x} y2={m.y - 4.5} className="st-leader" />
                )}
                <text x={centre} y={m.label.y} textAnchor="middle" className="st-label st-number">
                  {m.n}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption className="hint">
        Time runs left to right on this device’s clock (the last {formatElapsed(layout.spanMs)}). A dot is a message
        sent (at the first moment this device knew anyone had it), its number the one in the list below; an arrow ends
        when this device learned that the participant holds it (its published state vector covered it). Point at a
        message to pick it out.
        {layout.before && ' “Before”: already there when the room was opened (dashed).'}
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
                  e.before ? `${nameOf(e.userId)} before` : `${nameOf(e.userId)} +${formatElapsed(e.t - startOf(m))}`,
                )
                .join(', ') || 'nobody else has it yet'}
            </span>
          </li>
        ))}
      </ol>
    </figure>
  );
};
