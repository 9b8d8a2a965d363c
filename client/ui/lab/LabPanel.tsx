/**
 * The Lab panel of a room (opened with the room's "Lab" button): this client's faults, resync
 * and anti-entropy, its state (state vector, the relay's acked clocks, pending, content hash,
 * traffic), the three orders side by side, a space-time diagram and the ShiViz export. It reads
 * and drives only `session.lab` (client/sync/labHooks.ts).
 */
import { useEffect, useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { compareOrders, type OrderAnomaly, type OrderName, type OrderedEntry } from '../../../shared/lab/orders.js';
import { formatSkew, NO_FAULTS } from '../../../shared/lab/faults.js';
import { toShiViz } from '../../../shared/lab/shiviz.js';
import type { SpaceTimeRecorder } from '../../lab/spaceTime.js';
import { dateStamp, download } from '../download.js';
import { formatSyncTime, plural } from '../format.js';
import { labPath } from '../router.js';
import { describePending } from '../describePending.js';
import type { RoomSession, RoomView } from '../services.js';
import { SpaceTimeDiagram } from './SpaceTimeDiagram.js';
import { FAULT_FIELDS, readFaultForm, toFaultForm, type FaultField, type FaultForm } from './faultForm.js';
import { formatBytes, hlcAheadNote } from './labFormat.js';
import { useLabFaults, useLabTick } from './useLab.js';

/** Rows in the orders table and the traffic list. */
const ORDER_ROWS = 20;
const TRAFFIC_ROWS = 12;
const ANTI_ENTROPY_CHOICES = [null, 1000, 2000, 5000, 10_000, 30_000] as const;

export const LabPanel = ({
  room,
  session,
  view,
  spaceTime,
  focusOnOpen,
  onClose,
}: {
  room: string;
  session: RoomSession;
  view: RoomView;
  spaceTime: SpaceTimeRecorder;
  /** Opened by the user (not restored on load): move the focus into the panel. */
  focusOnOpen: boolean;
  /** Also on Escape inside the panel. */
  onClose: () => void;
}): ReactNode => {
  useLabTick(session);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focusOnOpen) heading.current?.focus();
  }, [focusOnOpen]);
  return (
    <aside
      id="lab-panel"
      className="lab-panel"
      aria-labelledby="lab-heading"
      onKeyDown={(e) => {
        if (e.key === 'Escape' && !e.defaultPrevented) onClose();
      }}
    >
      <div className="lab-panel-head">
        <h2 id="lab-heading" ref={heading} tabIndex={-1}>
          Lab
        </h2>
        {/* A new tab: leaving the room would take this participant out of the class view. */}
        <a href={labPath(room)} target="_blank" rel="noopener" className="hint">
          Class view<span className="visually-hidden"> (opens in a new tab)</span>
        </a>
        <button type="button" className="button quiet small" onClick={onClose}>
          Close<span className="visually-hidden"> the Lab panel</span>
        </button>
      </div>
      <FaultControls session={session} />
      <Repair session={session} />
      <StatePanel session={session} view={view} />
      <Orders session={session} view={view} />
      <SpaceTime session={session} view={view} room={room} recorder={spaceTime} />
    </aside>
  );
};

// ---------------------------------------------------------------- faults

const FaultControls = ({ session }: { session: RoomSession }): ReactNode => {
  const lab = session.lab;
  // At once, not at the panel's refresh rate: the partition switch must show its new state.
  const config = useLabFaults(session);
  const [form, setForm] = useState<FaultForm>(() => toFaultForm(config));
  const [error, setError] = useState<{ field: FaultField; message: string } | null>(null);
  const inputs = useRef(new Map<FaultField, HTMLInputElement>());
  const id = useId();
  // The config changed elsewhere (another control, "Clear faults" in the banner): show it.
  const shown = useRef(config);
  useEffect(() => {
    if (shown.current === config) return;
    shown.current = config;
    setForm(toFaultForm(config));
    setError(null);
  }, [config]);

  const apply = (e: FormEvent): void => {
    e.preventDefault();
    const read = readFaultForm(form, config.partitioned);
    if (!read.ok) {
      // LAB-UI-9: the field as labelled, in its unit; marked invalid and focused.
      setError({ field: read.field, message: read.message });
      inputs.current.get(read.field)?.focus();
      return;
    }
    setError(null);
    lab.setFaults(read.config);
  };

  const hlcAhead = hlcAheadNote(lab.hlcAhead());
  return (
    <section className="lab-section" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Faults on this device</h3>
      <label className="lab-switch">
        <input
          type="checkbox"
          checked={config.partitioned}
          onChange={(e) => lab.setFaults({ ...config, partitioned: e.target.checked })}
        />
        Partition: no traffic to or from the relay, nor with other tabs
      </label>
      <form className="fault-form" onSubmit={apply} noValidate>
        <p className="hint fault-links" id={`${id}-links`}>
          Up: from this device to the relay. Down: from the relay to this device.
        </p>
        <div className="fault-grid">
          {FAULT_FIELDS.map((f) => {
            const invalid = error?.field === f.key;
            const describedBy = [f.link ? `${id}-links` : '', invalid ? `${id}-error` : ''].filter(Boolean).join(' ');
            return (
              <label key={f.key} className="fault-field">
                <span>
                  {f.label} <span className="hint">({f.unit})</span>
                </span>
                <input
                  ref={(el) => {
                    if (el) inputs.current.set(f.key, el);
                    else inputs.current.delete(f.key);
                  }}
                  type="number"
                  inputMode="decimal"
                  value={form[f.key]}
                  min={f.min}
                  max={f.max}
                  step="any"
                  aria-invalid={invalid || undefined}
                  aria-describedby={describedBy || undefined}
                  onChange={(e) => setForm((cur) => ({ ...cur, [f.key]: e.target.value }))}
                />
              </label>
            );
          })}
        </div>
        <div className="lab-row">
          <button type="submit" className="button primary small">
            Apply faults
          </button>
          <button
            type="button"
            className="button small"
            onClick={() => {
              setError(null);
              // The fields show what is in effect, also when nothing was in effect to clear.
              setForm(toFaultForm(NO_FAULTS));
              lab.setFaults(NO_FAULTS);
            }}
          >
            Clear all faults
          </button>
        </div>
        {error && (
          <p className="error" role="alert" id={`${id}-error`}>
            Not applied. {error.message}.
          </p>
        )}
        <p className="hint">
          Clock skew moves this device’s wall clock, and so its HLC and the time its messages claim (
          {config.skewMs === 0 ? 'now none' : `now ${formatSkew(config.skewMs)}`}). Faults last until you clear them or
          reload the page.
        </p>
        {hlcAhead && (
          <p className="hint" role="note" data-testid="lab-hlc-ahead">
            {hlcAhead}
          </p>
        )}
      </form>
    </section>
  );
};

const Repair = ({ session }: { session: RoomSession }): ReactNode => {
  const lab = session.lab;
  const [result, setResult] = useState<string | null>(null);
  const id = useId();
  return (
    <section className="lab-section" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Repair</h3>
      <div className="lab-row">
        <button
          type="button"
          className="button small"
          onClick={() =>
            setResult(
              lab.resyncNow()
                ? `Resync sent at ${formatSyncTime(Date.now())}: SyncStep1, and any update the relay has not acked.`
                : 'Not connected: nothing sent.',
            )
          }
        >
          Resync now
        </button>
        <label className="fault-field inline">
          <span>Anti-entropy</span>
          <select
            value={String(lab.antiEntropyMs ?? '')}
            onChange={(e) => lab.setAntiEntropyMs(e.target.value === '' ? null : Number(e.target.value))}
          >
            {ANTI_ENTROPY_CHOICES.map((ms) => (
              <option key={String(ms)} value={ms === null ? '' : String(ms)}>
                {ms === null ? 'off' : `resync every ${ms / 1000} s`}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint" aria-live="polite">
        {result ??
          'A dropped update is not sent again by itself: a resync (or a reconnect) repairs it. Anti-entropy resyncs periodically.'}
      </p>
    </section>
  );
};

// ---------------------------------------------------------------- state

const hex = (c: number): string => (c >>> 0).toString(16).padStart(8, '0');

/** The own writes not acked, counted as LAB-7 and EXP-5 count them (STATE-1, STATE-5, STATE-6), and what they are. */
const pendingText = (view: RoomView): string => {
  const { count, parts } = describePending(view);
  return `${plural(count, 'own write')} not acked by the relay${count > 0 ? ` (${parts.join(', ')})` : ''}`;
};

const StatePanel = ({ session, view }: { session: RoomSession; view: RoomView }): ReactNode => {
  const lab = session.lab;
  const id = useId();
  // The hash covers the whole room: computed when what it covers changed, not on every refresh.
  const hash = useMemo(() => lab.contentHash(), [lab, view.messages, view.title]);
  const sv = lab.stateVector();
  const acked = lab.relayAcked();
  const clients = [...new Set([...sv.keys(), ...acked.keys()])].sort((a, b) => (sv.get(b) ?? 0) - (sv.get(a) ?? 0));
  // Who wrote with each Yjs client (its messages and their edits): a bare id means nothing to a student.
  const writers = useMemo(() => {
    const names = new Map<number, Set<string>>();
    for (const m of view.messages) {
      for (const yId of [m.yId, m.editYId]) {
        if (!yId) continue;
        let set = names.get(yId.client);
        if (!set) names.set(yId.client, (set = new Set()));
        set.add(m.authorName);
      }
    }
    return names;
  }, [view.messages]);
  const traffic = lab.traffic;
  const stats = lab.stats();
  const [showAwareness, setShowAwareness] = useState(false);
  const totals = new Map<string, Record<'in' | 'out', { n: number; bytes: number }>>();
  for (const f of traffic) {
    let t = totals.get(f.kind);
    if (!t) totals.set(f.kind, (t = { in: { n: 0, bytes: 0 }, out: { n: 0, bytes: 0 } }));
    t[f.dir].n++;
    t[f.dir].bytes += f.bytes;
  }
  const cell = (x: { n: number; bytes: number }): string => (x.n === 0 ? '—' : `${x.n} · ${formatBytes(x.bytes)}`);
  return (
    <section className="lab-section" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>State of this replica</h3>
      <dl className="lab-facts">
        <div>
          <dt>Content hash</dt>
          <dd className="mono" data-testid="lab-hash">
            {hash}
          </dd>
        </div>
        <div>
          <dt>Pending</dt>
          <dd>{pendingText(view)}</dd>
        </div>
      </dl>
      <div className="table-scroll">
        <table className="lab-table compact">
          <caption className="hint">
            State vector (Yjs client, and who wrote with it here → clock) and what the relay acked as durable
          </caption>
          <thead>
            <tr>
              <th scope="col">Client</th>
              <th scope="col">This replica</th>
              <th scope="col">Relay acked</th>
            </tr>
          </thead>
          <tbody>
            {clients.slice(0, 12).map((c) => {
              const held = sv.get(c) ?? 0;
              const durable = acked.get(c);
              // Behind is said in words too (↓n), not by colour alone, as in the class view.
              const behind = durable === undefined ? 0 : held - durable;
              return (
                <tr key={c}>
                  <th scope="row">
                    <span className="mono">{hex(c)}</span>
                    {writers.has(c) && (
                      <span className="hint">
                        {' '}
                        <bdi>{[...writers.get(c)!].join(', ')}</bdi>
                      </span>
                    )}
                  </th>
                  <td>{held}</td>
                  {behind > 0 ? (
                    <td className="lab-behind">
                      {durable} <span aria-hidden="true">↓{behind}</span>
                      <span className="visually-hidden">, {behind} not yet acked</span>
                    </td>
                  ) : (
                    <td>{durable ?? '—'}</td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {clients.length > 12 && <p className="hint">and {clients.length - 12} more clients</p>}
      <h4>Traffic (after the faults)</h4>
      <div className="table-scroll">
        <table className="lab-table compact">
          <caption className="hint">
            Frames and bytes of the last {plural(traffic.length, 'frame')} by kind (update and sync2 carry updates)
          </caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">In</th>
              <th scope="col">Out</th>
            </tr>
          </thead>
          <tbody>
            {[...totals].map(([kind, t]) => (
              <tr key={kind}>
                <th scope="row">{kind}</th>
                <td>{cell(t.in)}</td>
                <td>{cell(t.out)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="hint">
        Faults so far: dropped {stats.droppedIn} in, {stats.droppedOut} out · duplicated {stats.duplicated} · reordered{' '}
        {stats.reordered}
      </p>
      <label className="lab-switch small">
        <input type="checkbox" checked={showAwareness} onChange={(e) => setShowAwareness(e.target.checked)} />
        Show presence (awareness) frames in the list
      </label>
      <ol className="traffic-list" aria-label="Recent frames, newest first">
        {traffic
          .filter((f) => showAwareness || f.kind !== 'awareness')
          .slice(-TRAFFIC_ROWS)
          .reverse()
          .map((f, i) => (
            <li key={`${f.t}-${i}`}>
              <span className="mono">{formatSyncTime(f.t)}</span> {f.dir === 'in' ? '↓ in' : '↑ out'} {f.kind}{' '}
              <span className="hint">{formatBytes(f.bytes)}</span>
            </li>
          ))}
      </ol>
    </section>
  );
};

// ---------------------------------------------------------------- orders

const ANOMALY_TEXT = {
  'reply-before-parent': 'reply before its parent',
  'before-what-sender-saw': 'before a message its sender had already seen',
  'position-differs': 'out of place',
} as const;

const Orders = ({ session, view }: { session: RoomSession; view: RoomView }): ReactNode => {
  const id = useId();
  const recent = view.messages.slice(-ORDER_ROWS);
  const { rows, anomalies } = compareOrders(recent, session.lab.arrival);
  const flags = (order: OrderName): Map<string, OrderAnomaly['kind'][]> => {
    const m = new Map<string, OrderAnomaly['kind'][]>();
    for (const a of anomalies) if (a.order === order) m.set(a.id, [...(m.get(a.id) ?? []), a.kind]);
    return m;
  };
  const byWall = [...rows].sort((a, b) => a.wallOrder - b.wallOrder);
  const byArrival = rows.filter((r) => r.arrivalOrder !== null).sort((a, b) => a.arrivalOrder! - b.arrivalOrder!);
  const count = (o: OrderName): number => new Set(anomalies.filter((a) => a.order === o).map((a) => a.id)).size;
  return (
    <section className="lab-section" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Orders side by side</h3>
      <p className="hint">
        The last {ORDER_ROWS} messages: by HLC (what the app shows), by the sender’s wall clock, and by arrival on this
        device. Highlighted: where the other orders would mislead.
      </p>
      {count('hlc') > 0 && (
        <p className="hint" role="note">
          The shown order breaks causality here: a message is shown before one its sender had already seen. The HLC
          prevents this (HLC-1) unless the two senders’ clocks differ by more than 60 s (HLC-3): the later sender’s
          replica then refuses the earlier message’s timestamp as too far ahead, and stamps its own message earlier.
        </p>
      )}
      <div className="orders">
        <OrderColumn title={`By HLC (shown) (${anomalyCount(count('hlc'))})`} rows={rows} flags={flags('hlc')} />
        <OrderColumn
          title={`By sender wall clock (${anomalyCount(count('wall'))})`}
          rows={byWall}
          flags={flags('wall')}
        />
        <OrderColumn
          title={`By arrival here (${anomalyCount(count('arrival'))})`}
          rows={byArrival}
          flags={flags('arrival')}
        />
      </div>
    </section>
  );
};

const anomalyCount = (n: number): string => `${n} ${n === 1 ? 'anomaly' : 'anomalies'}`;

const OrderColumn = ({
  title,
  rows,
  flags,
}: {
  title: string;
  rows: readonly OrderedEntry[];
  flags: ReadonlyMap<string, readonly OrderAnomaly['kind'][]>;
}): ReactNode => {
  const id = useId();
  return (
    <div className="order-column">
      <h4 id={id}>{title}</h4>
      <ol aria-labelledby={id}>
        {rows.map((r) => {
          const f = flags.get(r.id);
          return (
            <li key={r.id} className={f ? 'anomaly' : undefined}>
              <span className="order-author">
                <bdi>{r.authorName}</bdi>:
              </span>{' '}
              <bdi>{r.text.slice(0, 60) || '(deleted)'}</bdi>
              {f && <span className="tag late"> {f.map((k) => ANOMALY_TEXT[k]).join(', ')}</span>}
            </li>
          );
        })}
      </ol>
    </div>
  );
};

// ---------------------------------------------------------------- space-time

const SpaceTime = ({
  session,
  view,
  room,
  recorder,
}: {
  session: RoomSession;
  view: RoomView;
  room: string;
  recorder: SpaceTimeRecorder;
}): ReactNode => {
  const id = useId();
  const now = Date.now();
  const data = recorder.data(view.messages);
  return (
    <section className="lab-section" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Space-time diagram</h3>
      <SpaceTimeDiagram data={data} now={now} />
      <button
        type="button"
        className="button small"
        onClick={() =>
          download(`${room}-${dateStamp()}-shiviz.log`, toShiViz(session.lab.events()), 'text/plain;charset=utf-8')
        }
      >
        Export event log (ShiViz)
      </button>
      <p className="hint">
        Paste the file into ShiViz (bestchai.bitbucket.io/shiviz, “Try out ShiViz”, input) to draw this device’s log
        with vector timestamps.
      </p>
      {/* LAB-12: this device never saw the others' receives, so their vectors are lower bounds. */}
      <p className="hint">
        Others’ lines hold only their messages that reached this device, each stamped with what it proves its sender had
        seen: the message it answers, one it names as already seen, their earlier messages from the same tab. So an
        order ShiViz draws is real (though a person’s tabs share one line), but two messages drawn as concurrent may not
        have been. A scripted experiment’s shiviz.log has every client’s full vectors.
      </p>
    </section>
  );
};
