/**
 * `/lab/<room>`: the teacher's projector view. Every lab participant of the room (from
 * awareness), a big converged / not converged indicator (LAB-UI-1, defined on screen), how long
 * ago the last divergence ended and how long the last heal took to converge (LAB-UI-3), and a
 * live chart. The view itself is not a participant (LAB-UI-4).
 */
import { memo, useEffect, type ReactNode } from 'react';
import { describeFaults, formatSkew } from '../../../shared/lab/faults.js';
import { FORGET_MS, HISTORY_MS, type ClassSnapshot, type Participant } from '../../lab/classTracker.js';
import { linkClick } from '../appContext.js';
import { plural } from '../format.js';
import { roomPath } from '../router.js';
import { chartGeometry } from './chartGeometry.js';
import { formatElapsed } from './labFormat.js';
import { useClassView } from './useClassView.js';

export const ClassView = ({ room }: { room: string }): ReactNode => {
  const snap = useClassView(room);
  useEffect(() => {
    document.title = `Lab: ${room} — Converge`;
  }, [room]);
  return <ClassViewContent room={room} snap={snap} />;
};

/** The view of one snapshot (pure: rendered in tests without a connection). */
export const ClassViewContent = ({ room, snap }: { room: string; snap: ClassSnapshot }): ReactNode => {
  const online = snap.participants.filter((p) => p.offlineSince === null).length;
  return (
    <div className="class-view">
      <header className="class-header">
        <h1>Lab: {room}</h1>
        <p className="hint">
          {plural(online, 'participant')} online
          {snap.participants.length > online && `, ${snap.participants.length - online} offline`} ·{' '}
          <a href={roomPath(room)} onClick={linkClick(roomPath(room))}>
            Open the room {room}
          </a>
        </p>
      </header>
      <main className="class-main">
        <Indicator snap={snap} />
        <ConvergenceChart snap={snap} />
        <Participants snap={snap} />
      </main>
    </div>
  );
};

const VERDICT_TEXT = { converged: 'Converged', diverged: 'Not converged', unknown: 'Unknown' } as const;

const Indicator = ({ snap }: { snap: ClassSnapshot }): ReactNode => {
  const { verdict, now } = snap;
  return (
    <section className={`card class-indicator verdict-${verdict.kind}`} aria-labelledby="verdict-heading">
      <h2 id="verdict-heading" className="visually-hidden">
        Convergence
      </h2>
      <p className="verdict" role="status" aria-live="polite" data-testid="verdict">
        {VERDICT_TEXT[verdict.kind]}
      </p>
      <p className="verdict-since">for {formatElapsed(now - snap.since)}</p>
      {verdict.kind === 'diverged' && (
        <ul className="verdict-reasons">
          {verdict.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      {verdict.kind === 'unknown' && <p className="verdict-reasons">{verdict.reason}</p>}
      <dl className="class-stats">
        <div>
          <dt>Last divergence</dt>
          <dd data-testid="last-divergence">
            {snap.lastDivergence
              ? `ended ${formatElapsed(now - snap.lastDivergence.endedAt)} ago, lasted ${formatElapsed(snap.lastDivergence.lastedMs)}`
              : 'none seen yet'}
          </dd>
        </div>
        <div>
          <dt>Last heal took</dt>
          <dd data-testid="last-heal">
            {snap.lastHealToConvergeMs === null
              ? 'no heal seen yet'
              : `${formatElapsed(snap.lastHealToConvergeMs)} to converge`}
          </dd>
        </div>
      </dl>
      <details className="definition">
        <summary>What “converged” means here</summary>
        <p>
          Everyone online now or seen in the last {FORGET_MS / 1000} s counts. The room is converged when every one of
          them is online, not partitioned, and shows the same content (same content hash and same state-vector total).
          Someone offline or partitioned counts as not converged: their last known state cannot show what they wrote
          since. Participants publish their state about once a second, so the indicator lags by about that much. A heal
          is someone coming back online or lifting their partition; “last heal took” is the time from the last heal to
          the moment everyone matched again.
        </p>
      </details>
    </section>
  );
};

const CHART_W = 600;
const CHART_H = 120;

/** The chart spans what was recorded: at least a minute, at most the history kept. */
const MIN_CHART_MS = 60_000;

const ConvergenceChart = ({ snap }: { snap: ClassSnapshot }): ReactNode => {
  const first = snap.samples[0]?.t ?? snap.now;
  const windowMs = Math.min(HISTORY_MS, Math.max(MIN_CHART_MS, snap.now - first));
  const g = chartGeometry(snap.samples, snap.now, windowMs, CHART_W, CHART_H);
  const divergedShare =
    g.bands.filter((b) => b.kind === 'diverged').reduce((n, b) => n + b.w, 0) /
    Math.max(
      1,
      g.bands.reduce((n, b) => n + b.w, 0),
    );
  return (
    <section className="card class-chart" aria-labelledby="chart-heading">
      <h2 id="chart-heading">Convergence over the last {formatElapsed(windowMs)}</h2>
      <svg
        viewBox={`0 0 ${CHART_W} ${CHART_H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Not converged ${Math.round(divergedShare * 100)} % of the time shown. The line is the number of different contents.`}
      >
        {g.bands.map((b) => (
          <rect key={b.x} className={`band band-${b.kind}`} x={b.x} y={0} width={Math.max(b.w, 0.5)} height={CHART_H} />
        ))}
        <polyline className="distinct-line" points={g.line} fill="none" vectorEffect="non-scaling-stroke" />
      </svg>
      <p className="hint chart-legend">
        <span className="swatch band-converged" aria-hidden="true" /> converged{' '}
        <span className="swatch band-diverged" aria-hidden="true" /> not converged{' '}
        <span className="swatch band-unknown" aria-hidden="true" /> unknown · line: different contents (0–{g.yMax}) ·
        now at the right
      </p>
    </section>
  );
};

const Participants = ({ snap }: { snap: ClassSnapshot }): ReactNode => (
  <section className="card class-participants" aria-labelledby="participants-heading">
    <h2 id="participants-heading">Participants</h2>
    {snap.participants.length === 0 ? (
      <p className="hint">Nobody with the lab is in this room yet. Participants appear here when they open the room.</p>
    ) : (
      <div className="table-scroll">
        <table className="lab-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Faults</th>
              <th scope="col">Clock skew</th>
              <th scope="col">State vector</th>
              <th scope="col">Content hash</th>
              <th scope="col">Pending</th>
            </tr>
          </thead>
          <tbody>
            {snap.participants.map((p) => (
              <ParticipantRow
                key={p.state.clientId}
                p={p}
                offlineFor={p.offlineSince === null ? null : Math.floor((snap.now - p.offlineSince) / 1000)}
              />
            ))}
          </tbody>
        </table>
      </div>
    )}
  </section>
);

/** Re-renders only when its participant changed (the tracker keeps unchanged ones) or, offline, each second. */
const ParticipantRow = memo(function ParticipantRow({
  p,
  offlineFor,
}: {
  p: Participant;
  offlineFor: number | null;
}): ReactNode {
  const s = p.state;
  const faults = describeFaults({ ...s.faults, skewMs: 0 });
  const status =
    offlineFor !== null
      ? `${s.faults.partitioned ? 'partitioned, out of reach' : 'offline'} for ${formatElapsed(offlineFor * 1000)}${p.counted ? '' : ' (no longer counted)'}`
      : s.faults.partitioned
        ? 'partitioned'
        : 'online';
  return (
    <tr className={offlineFor !== null ? 'offline' : s.faults.partitioned ? 'partitioned' : undefined}>
      <th scope="row">{s.name}</th>
      <td>{status}</td>
      <td>{faults.length ? faults.join(', ') : 'none'}</td>
      <td>{s.faults.skewMs === 0 ? '0' : formatSkew(s.faults.skewMs)}</td>
      <td>
        <span className="mono">{s.svSummary || '—'}</span> <span className="hint">(total {s.svTotal})</span>
      </td>
      <td className="mono">{s.hash}</td>
      <td>{s.pending}</td>
    </tr>
  );
});
