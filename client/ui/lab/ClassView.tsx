/**
 * `/lab/<room>`: the teacher's projector view. Every lab participant of the room (from
 * awareness), a big indicator (LAB-UI-1, defined on screen: converged, converging with updates in
 * flight (LAB-UI-16), not converged, or unknown because someone is unreachable, with who and how
 * their last state compared), since when the current time not converged or unknown runs or how long
 * ago the last one ended, and how long the last heal took to converge (LAB-UI-3), a live
 * chart, and the participants' state vectors aligned in columns (LAB-UI-7). The view itself is not
 * a participant (LAB-UI-4). Tabs of one user are told apart (LAB-UI-10), and namesakes (LAB-UI-14); what someone out of reach
 * changed since is not known (LAB-UI-11); a long room or participant name wraps (LAB-UI-13). Cut off
 * itself, the view shows everyone as last known, nobody as offline (LAB-UI-17).
 */
import { memo, useEffect, useId, useMemo, type ReactNode } from 'react';
import { cutOff, describeFaults, formatSkew } from '../../../shared/lab/faults.js';
import {
  HISTORY_MS,
  SETTLE_MS,
  tabsNote,
  type ClassSnapshot,
  type Participant,
  type Verdict,
} from '../../lab/classTracker.js';
import { CUT_OFF_FORGET_MS, FORGET_MS } from '../../lab/labPresence.js';
import { sameSvRow, svMatrix, type SvCell } from '../../lab/svMatrix.js';
import { linkClick } from '../appContext.js';
import { plural } from '../format.js';
import { roomPath } from '../router.js';
import { chartGeometry, timeShares } from './chartGeometry.js';
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
  return (
    <div className="class-view">
      <header className="class-header">
        <h1>Lab: {room}</h1>
        <p className="hint">
          {headcount(snap.participants)} ·{' '}
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

/** What a participant is (as last known, while the view is not connected), in the words its row's status starts with. */
const reach = (p: Participant): 'online' | 'partitioned' | 'dropping every frame' | 'offline' =>
  p.state.faults.partitioned
    ? 'partitioned'
    : cutOff(p.state.faults)
      ? 'dropping every frame'
      : p.offlineSince === null
        ? 'online'
        : 'offline';

/**
 * "3 participants: 1 online, 1 partitioned, 1 offline", in the rows' own words: a partitioned
 * participant is not counted as merely offline, nor one just cut off as online. Several tabs of
 * one user are several participants, and the count says so (LAB-UI-10).
 */
export const headcount = (participants: readonly Participant[]): string => {
  const by = new Map<string, number>();
  for (const p of participants) by.set(reach(p), (by.get(reach(p)) ?? 0) + 1);
  const parts = (['online', 'partitioned', 'dropping every frame', 'offline'] as const)
    .filter((k) => by.has(k))
    .map((k) => `${by.get(k)} ${k}`);
  const count = `${plural(participants.length, 'participant')}${tabsNote(participants)}`;
  // LAB-UI-17: cut off itself, the view does not know where anyone is now.
  if (participants.some((p) => p.lastKnown))
    return `${count}: not known while this view is not connected (last known: ${parts.join(', ')})`;
  return `${count}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
};

/**
 * The indicator's words. The two unknowns say why: someone unreachable (the room may or may not
 * agree) is not the view having nothing to judge (not connected, or nobody counts).
 */
const verdictText = (v: Verdict): string => {
  switch (v.kind) {
    case 'converged':
      return 'Converged';
    case 'syncing':
      return 'Converging…';
    case 'diverged':
      return 'Not converged';
    case 'unreachable':
      return `Unknown: ${v.unreachable} unreachable`;
    case 'unknown':
      return v.cause === 'not-connected' ? 'Unknown: view not connected' : 'Unknown: nobody here';
  }
};

const Indicator = ({ snap }: { snap: ClassSnapshot }): ReactNode => {
  const { verdict, now } = snap;
  return (
    <section className={`card class-indicator verdict-${verdict.kind}`} aria-labelledby="verdict-heading">
      <h2 id="verdict-heading" className="visually-hidden">
        Convergence
      </h2>
      <p className="verdict" role="status" aria-live="polite" data-testid="verdict">
        {verdictText(verdict)}
      </p>
      <p className="verdict-since">
        for {formatElapsed(now - snap.since)}
        {snap.sinceWatching && verdict.kind !== 'unknown' ? ', since this view opened' : ''}
      </p>
      {(verdict.kind === 'diverged' || verdict.kind === 'syncing' || verdict.kind === 'unreachable') && (
        <ul className="verdict-reasons">
          {/* Two tabs of one student can give the same words: the index is the key. */}
          {verdict.reasons.map((r, i) => (
            <li key={i}>{r}</li>
          ))}
        </ul>
      )}
      {verdict.kind === 'unknown' && <p className="verdict-reasons">{verdict.reason}</p>}
      <dl className="class-stats">
        <div>
          {/* LAB-UI-3 times Unknown (someone unreachable) as well as Not converged: the label says both. */}
          <dt>Last time not converged or unknown</dt>
          <dd data-testid="last-not-converged">
            {snap.notConvergedSince !== null
              ? `now, for ${formatElapsed(now - snap.notConvergedSince)}`
              : snap.lastNotConverged
                ? `ended ${formatElapsed(now - snap.lastNotConverged.endedAt)} ago, lasted ${formatElapsed(snap.lastNotConverged.lastedMs)}`
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
          Everyone online now or seen in the last {FORGET_MS / 1000} s counts ({CUT_OFF_FORGET_MS / 60_000} minutes for
          someone who left partitioned or dropping every frame). Someone offline, partitioned or dropping every frame is
          unreachable: they are shown with the last state they published. <strong>Converged</strong>: everyone who
          counts is reachable and shows the same content (same content hash and same state-vector total).{' '}
          <strong>Converging…</strong>: everyone is reachable and their contents differ only by updates still on their
          way (each publishes its state about once a second): no two that differ have kept their content for{' '}
          {SETTLE_MS / 1000} s, and nobody has stayed behind that long. <strong>Not converged</strong>: two reachable
          participants show different content beyond that; that is known now. <strong>Unknown: n unreachable</strong>:
          the reachable participants agree, but nobody can know what an unreachable replica holds until it is back (it
          may have written, or received, something since). Its last state is compared with the others&rsquo;: the same
          content, behind (missing updates they have), ahead (with updates they lack), or different. What someone out of
          reach changed since, their clock skew included, is not known: their row shows what it was when last seen. Each
          tab is a participant of its own (with its own copy of the room): a student with several tabs is listed once
          per tab, numbered (&ldquo;Quad (tab 2)&rdquo;), a number each tab keeps while this view is open. Two students
          with the same name are told apart by the end of their user id (&ldquo;Sam #k3f2&rdquo;). Someone who went out
          of reach before this view opened is listed too when a participant here saw them go; how long ago is then
          approximate. Participants publish their state about once a second, so the indicator lags by about that much. A
          heal is someone coming back online or lifting their partition (or their drop of every frame); &ldquo;last heal
          took&rdquo; is the time from the last heal to the moment everyone matched again. &ldquo;Last time not
          converged or unknown&rdquo; runs from the first Not converged or Unknown (someone unreachable) to the next
          Converged; this view&rsquo;s own Unknown (not connected) neither starts nor ends it, nor does Converging….
          While this view is not connected it does not know where anyone is: the rows show each participant as last
          known.
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
  const share = timeShares(g.bands);
  const pc = (x: number): string => `${Math.round(x * 100)} %`;
  // Every verdict apart, so the label stays true whatever the mix (they add up to 100 % but for rounding).
  const summary =
    g.bands.length === 0
      ? 'Nothing recorded yet.'
      : `Of the time shown: converged ${pc(share.converged)}, converging ${pc(share.syncing)}, ` +
        `not converged ${pc(share.diverged)}, ` +
        `unknown with someone unreachable ${pc(share.unreachable)}, ` +
        `unknown with the view not connected or nobody here ${pc(share.unknown)}.`;
  return (
    <section className="card class-chart" aria-labelledby="chart-heading">
      <h2 id="chart-heading">Convergence over the last {formatElapsed(windowMs)}</h2>
      <svg
        viewBox={`0 0 ${CHART_W} ${CHART_H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${summary} The line is the number of different contents, last known ones included.`}
      >
        {g.bands.map((b) => (
          <rect key={b.x} className={`band band-${b.kind}`} x={b.x} y={0} width={Math.max(b.w, 0.5)} height={CHART_H} />
        ))}
        <polyline className="distinct-line" points={g.line} fill="none" vectorEffect="non-scaling-stroke" />
      </svg>
      <p className="hint chart-legend">
        <span className="swatch band-converged" aria-hidden="true" /> converged{' '}
        <span className="swatch band-syncing" aria-hidden="true" /> converging (updates on their way){' '}
        <span className="swatch band-diverged" aria-hidden="true" /> not converged{' '}
        <span className="swatch band-unreachable" aria-hidden="true" /> unknown: someone unreachable{' '}
        <span className="swatch band-unknown" aria-hidden="true" /> unknown: view not connected or nobody here · line:
        different contents among those counted, last known ones included (0–{g.yMax}) · now at the right
      </p>
    </section>
  );
};

const Participants = ({ snap }: { snap: ClassSnapshot }): ReactNode => {
  // The list keeps its identity while no participant changed: the one-second tick reuses the matrix.
  const sv = useMemo(
    () =>
      svMatrix(
        snap.participants.map((p) => ({
          svSummary: p.state.svSummary,
          counted: p.counted,
          clientId: p.state.clientId,
          name: p.label,
        })),
      ),
    [snap.participants],
  );
  const legendId = useId();
  const captionId = useId();
  return (
    <section className="card class-participants" aria-labelledby="participants-heading">
      <h2 id="participants-heading">Participants</h2>
      {snap.participants.length === 0 ? (
        <p className="hint">
          Nobody with the lab is in this room yet. Participants appear here when they open the room.
        </p>
      ) : (
        <>
          {/* Above the scrolled table, not its caption: a caption is as wide as the table, and a phone cut it. */}
          <p id={captionId} className="hint table-caption">
            Each participant&rsquo;s state, and its state vector: the clock it published for each Yjs client, one column
            per client
          </p>
          {/* Focusable, so a keyboard can scroll it when it is wider than the screen. */}
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Participants table">
            <table className="lab-table" aria-labelledby={captionId} aria-describedby={legendId}>
              <colgroup span={4} />
              <colgroup span={sv.columns.length + 1} className="sv-group" />
              <colgroup span={2} />
              <thead>
                <tr>
                  <th scope="col" rowSpan={2}>
                    Name
                  </th>
                  <th scope="col" rowSpan={2}>
                    Status
                  </th>
                  <th scope="col" rowSpan={2}>
                    Faults
                  </th>
                  <th scope="col" rowSpan={2}>
                    Clock skew
                  </th>
                  <th scope="colgroup" colSpan={sv.columns.length + 1} className="sv-group-head">
                    State vector: clock per Yjs client
                  </th>
                  <th scope="col" rowSpan={2}>
                    Content hash
                  </th>
                  <th scope="col" rowSpan={2}>
                    Pending
                  </th>
                </tr>
                <tr>
                  {sv.columns.map((c) => (
                    <th scope="col" key={c.client} className="sv-clock">
                      <span className="visually-hidden">client </span>
                      {c.client}
                      <span className="sv-owner" title={c.owners.join(', ') || undefined}>
                        <span className="visually-hidden">, </span>
                        {c.owners.length > 0 ? <bdi>{c.owners.join(', ')}</bdi> : 'not here'}
                      </span>
                    </th>
                  ))}
                  {/* Last, beside the content hash: the two values "converged" compares. */}
                  <th scope="col" className="sv-clock">
                    Total
                  </th>
                </tr>
              </thead>
              <tbody>
                {snap.participants.map((p, i) => (
                  <ParticipantRow
                    key={p.state.clientId}
                    p={p}
                    cells={sv.rows[i]!}
                    offlineFor={
                      p.offlineSince === null || p.lastKnown ? null : Math.floor((snap.now - p.offlineSince) / 1000)
                    }
                  />
                ))}
              </tbody>
            </table>
          </div>
          <p className="hint" id={legendId}>
            State vector: one column per Yjs client (the last 4 hex digits of its id), ordered by its largest clock.
            Under the id: the participant writing with it, or &ldquo;not here&rdquo; for a tab that closed or reloaded
            (a reload starts a new client). <span className="lab-behind">↓n</span>: behind by n, below the largest clock
            a counted participant published for that client. A participant publishes only its 6 largest clocks: a client
            left out has at most the smallest of them (<span className="lab-behind">≤k ↓≥n</span> when that is behind),
            else <span className="sv-unknown">·</span> (a dot): unknown, not necessarily 0. Two clients whose ids end
            alike share a column.
            {sv.hidden > 0 && ` ${plural(sv.hidden, 'more client')} with smaller clocks not shown.`} Total: the sum of
            all its clocks.
          </p>
        </>
      )}
    </section>
  );
};

/**
 * Re-renders only when its participant or its state-vector cells changed (the tracker keeps
 * unchanged participants) or, offline, each second.
 */
const ParticipantRow = memo(
  function ParticipantRow({
    p,
    cells,
    offlineFor,
  }: {
    p: Participant;
    cells: readonly SvCell[];
    offlineFor: number | null;
  }): ReactNode {
    const s = p.state;
    const faults = describeFaults({ ...s.faults, skewMs: 0 });
    const state = reach(p);
    const skew = s.faults.skewMs === 0 ? '0' : formatSkew(s.faults.skewMs);
    // LAB-UI-8: a reported time away is an estimate (the report's age), and the view says whose report it is.
    // LAB-UI-17: the view cut off itself knows only where each one was: no time offline is counted.
    const status = p.lastKnown
      ? `not known, view not connected (last known: ${state})`
      : offlineFor !== null
        ? `${state === 'offline' ? state : `${state}, out of reach`} for ${p.reportedBy === null ? '' : 'about '}${formatElapsed(offlineFor * 1000)}${p.counted ? '' : ' (no longer counted)'}${p.reportedBy === null ? '' : ` (left before this view opened; reported by ${p.reportedBy})`}`
        : state;
    return (
      <tr
        className={
          p.lastKnown ? 'last-known' : offlineFor !== null ? 'offline' : cutOff(s.faults) ? 'partitioned' : undefined
        }
      >
        <th scope="row">{p.label}</th>
        <td>{status}</td>
        <td>{faults.length ? faults.join(', ') : 'none'}</td>
        {/* LAB-UI-11: out of reach, its clock may have been moved since: that is not known, only what it was. */}
        <td>{offlineFor === null && !cutOff(s.faults) && !p.lastKnown ? skew : `not known (last seen: ${skew})`}</td>
        {cells.map((cell, i) => (
          <SvClock key={i} cell={cell} />
        ))}
        <td className="sv-clock">{s.svTotal}</td>
        <td className="mono">{s.hash}</td>
        <td>{s.pending}</td>
      </tr>
    );
  },
  (a, b) => a.p === b.p && a.offlineFor === b.offlineFor && sameSvRow(a.cells, b.cells),
);

/** Lagging and unknown are said in words for screen readers; the marks and colour are for the eye. */
const SvClock = ({ cell }: { cell: SvCell }): ReactNode =>
  cell === null ? (
    <td className="sv-clock sv-unknown">
      <span aria-hidden="true">·</span>
      <span className="visually-hidden">unknown</span>
    </td>
  ) : !cell.exact ? (
    <td className="sv-clock lab-behind">
      <span aria-hidden="true">
        ≤{cell.clock} ↓≥{cell.behind}
      </span>
      <span className="visually-hidden">
        at most {cell.clock}, behind by at least {cell.behind}
      </span>
    </td>
  ) : cell.behind > 0 ? (
    <td className="sv-clock lab-behind">
      {cell.clock} <span aria-hidden="true">↓{cell.behind}</span>
      <span className="visually-hidden">, behind by {cell.behind}</span>
    </td>
  ) : (
    <td className="sv-clock">{cell.clock}</td>
  );
