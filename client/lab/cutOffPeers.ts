/**
 * LAB-9 and LAB-UI-8: participants report who went out of reach, so a class view opened (or
 * reloaded) during a partition still lists the partitioned ones.
 *
 * Why: a partitioned participant announces its faults (LAB-7), then its link goes down and the
 * relay removes its awareness state. A class view that was open keeps its last state and says
 * "Unknown: n unreachable" (LAB-UI-1); one opened afterwards never saw it, listed only the others,
 * and said "Converged" while a replica was cut off. The reachable participants did see it go, so
 * each one remembers the participants whose state was removed while they were cut off and
 * publishes them in its own `lab` field:
 *
 *     lab.cutOffPeers = [{ id, user: { id, name }, lab: { faults, svSummary, svTotal, hash, pending, at, tab? }, left }]
 *
 * `id` is the peer's awareness client id, `user` and `lab` its last published presence, `left`
 * when the reporter saw it removed, on the reporter's unskewed clock (the same clock as the
 * reporter's own `lab.at`). A view estimates how long the peer has been away as `at − left` of
 * the report, never comparing a publisher's clock with its own (LAB-UI-2); because a view can
 * first receive a report long after it was published (the relay keeps the last state), a
 * reporter republishes at least every `CUT_OFF_REFRESH_MS` while it reports anyone.
 *
 * Only peers cut off when they left are reported (partitioned, or dropping every frame: `cutOff`),
 * so a room where people just come and go costs nothing extra, and only `REPORTERS_PER_PEER` of
 * the members that saw a peer leave report it (LAB-11), so the cost does not grow with the class.
 * A peer is reported for `CUT_OFF_FORGET_MS` (as long as a view counts one it saw leave), and no
 * longer once it, or a reload of its tab (a reload clears faults; LAB-14: a new session with the
 * same `lab.tab` and user), is back: a view replaces such an offline tab by the new one too. A new
 * tab opened beside it is another tab: the one cut off may still be open, and stays reported.
 */
import { cutOff } from '../../shared/lab/faults.js';
import { CUT_OFF_FORGET_MS, parseLabPresence, type LabPresence } from './labPresence.js';

/** At most this many peers per report, the latest to leave first. */
export const MAX_CUT_OFF_PEERS = 16;
/**
 * The report's budget in bytes of JSON text: the peers' names and summaries are anyone's input, and
 * the reporter's whole state must stay under the relay's `MAX_AWARENESS_STATE_BYTES` (16 KiB by
 * default, AWR-1) or the relay closes the reporter for good. A peer's entry is at most
 * `MAX_ENTRY_BYTES` once its summary is cut to `REPORTED_SV_SUMMARY` characters (a name is at
 * most 64); an entry still larger is left out.
 */
export const MAX_REPORT_BYTES = 6144;
const MAX_ENTRY_BYTES = 1024;
const REPORTED_SV_SUMMARY = 64;
/** Peers remembered at once (a member adding and removing cut-off client ids cannot grow it). */
const MAX_GONE = 4 * MAX_CUT_OFF_PEERS;
/** While reporting anyone, a participant republishes at least this often (the age's error bound). */
export const CUT_OFF_REFRESH_MS = 10_000;
/**
 * Members reporting each peer: of those that saw it leave, the lowest client ids still present
 * and reachable. One per member would cost every member's state the entries (a room of 30 with 5
 * cut off: about 3× LAB-7's presence traffic); two keep a report up while one of them leaves.
 */
export const REPORTERS_PER_PEER = 2;
/** Client ids remembered as once present (a new tab is a client id never seen before). */
const MAX_KNOWN = 1024;
const utf8 = new TextEncoder();

/** One entry of `lab.cutOffPeers`, as published. */
export interface CutOffPeerWire {
  readonly id: number;
  readonly user: { readonly id: string; readonly name: string };
  readonly lab: {
    readonly faults: LabPresence['faults'];
    readonly svSummary: string;
    readonly svTotal: number;
    readonly hash: string;
    readonly pending: number;
    readonly at: number;
    readonly tab?: string;
  };
  readonly left: number;
}

/** A validated report: the peer's last state, and how long it had been away when the report was published. */
export interface CutOffReport {
  readonly state: LabPresence;
  readonly awayMs: number;
}

export interface AwarenessChange {
  readonly added: readonly number[];
  readonly updated: readonly number[];
  readonly removed: readonly number[];
}

/** LAB-9: what one participant saw leave while cut off. Pure: time is passed in. */
export class CutOffPeers {
  /** Lab participants present now, by awareness client id: a removed one's last state. */
  private readonly present = new Map<number, LabPresence>();
  /**
   * Peers that left cut off: their last state, when, and the witnesses (ascending client ids: this
   * participant and the reachable ones present then, who saw it leave too; a member that came
   * later did not, and cannot report it).
   */
  private readonly gone = new Map<
    number,
    { readonly state: LabPresence; readonly left: number; readonly witnesses: readonly number[] }
  >();
  /** Client ids once present, oldest first (bounded): one not here is a new tab. */
  private readonly known = new Set<number>();

  /** @param self this participant's own awareness client id (never reported). */
  constructor(private readonly self: number) {}

  /** Takes the states already there when watching starts. */
  seed(states: ReadonlyMap<number, unknown>): void {
    this.change({ added: [...states.keys()], updated: [], removed: [] }, states, 0);
  }

  /** Takes one awareness change event; `states` is the awareness's map after it, `now` the unskewed clock. */
  change(c: AwarenessChange, states: ReadonlyMap<number, unknown>, now: number): void {
    for (const id of c.removed) {
      const last = this.present.get(id);
      this.present.delete(id);
      if (last && cutOff(last.faults)) {
        const witnesses = [this.self];
        for (const [w, p] of this.present) if (!cutOff(p.faults)) witnesses.push(w);
        this.gone.set(id, { state: last, left: now, witnesses: witnesses.sort((a, b) => a - b) });
        // Insertion order is the order they left: the first is the longest gone.
        if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.keys().next().value!);
      }
    }
    for (const id of [...c.added, ...c.updated]) {
      if (id === this.self) continue;
      const state = parseLabPresence(id, states.get(id));
      if (!state) continue;
      this.present.set(id, state);
      this.gone.delete(id);
      if (this.known.has(id)) continue;
      // LAB-14: a reload of a tab that left cut off replaces it (as the class view does); a new tab
      // opened beside it does not: that one may still be open behind its partition.
      for (const [g, p] of this.gone)
        if (p.state.userId === state.userId && p.state.tab === state.tab) this.gone.delete(g);
      this.known.add(id);
      if (this.known.size > MAX_KNOWN) this.known.delete(this.known.values().next().value!);
    }
  }

  /**
   * What to publish at `now`: the peers this participant is one of the `REPORTERS_PER_PEER`
   * reporters of, the latest to leave first, at most `MAX_CUT_OFF_PEERS` within
   * `MAX_REPORT_BYTES`; those gone `CUT_OFF_FORGET_MS` or more are forgotten.
   */
  list(now: number): CutOffPeerWire[] {
    for (const [id, g] of this.gone) if (now - g.left >= CUT_OFF_FORGET_MS) this.gone.delete(id);
    // A witness reports while present and not cut off itself (its state could not reach a view).
    const reporting = (w: number): boolean => {
      const p = this.present.get(w);
      return w === this.self || (p !== undefined && !cutOff(p.faults));
    };
    const out: CutOffPeerWire[] = [];
    let bytes = 2; // the brackets
    for (const [id, { state: s, left, witnesses }] of [...this.gone].sort(
      (a, b) => b[1].left - a[1].left || a[0] - b[0],
    )) {
      if (out.length === MAX_CUT_OFF_PEERS) break;
      if (!witnesses.filter(reporting).slice(0, REPORTERS_PER_PEER).includes(this.self)) continue;
      const entry: CutOffPeerWire = {
        id,
        user: { id: s.userId, name: s.name },
        lab: {
          faults: s.faults,
          svSummary: s.svSummary.slice(0, REPORTED_SV_SUMMARY),
          svTotal: s.svTotal,
          hash: s.hash,
          pending: s.pending,
          at: s.at,
          ...(s.tab !== null ? { tab: s.tab } : {}),
        },
        left,
      };
      // JSON text as the awareness update carries it (a lone surrogate is 6 bytes there), plus a comma.
      const size = utf8.encode(JSON.stringify(entry)).byteLength + 1;
      if (size > MAX_ENTRY_BYTES || bytes + size > MAX_REPORT_BYTES) continue;
      bytes += size;
      out.push(entry);
    }
    return out;
  }
}

/**
 * LAB-UI-8: the reports in one (untrusted) awareness state whose own `lab` parsed as `reporter`.
 * A malformed entry is skipped, never thrown on; the field itself is optional (older clients).
 */
export const parseCutOffReports = (raw: unknown, reporter: LabPresence): CutOffReport[] => {
  const list = (raw as { lab?: { cutOffPeers?: unknown } } | null)?.lab?.cutOffPeers;
  if (!Array.isArray(list)) return [];
  const reports: CutOffReport[] = [];
  for (const entry of list.slice(0, MAX_CUT_OFF_PEERS)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if (typeof e.left !== 'number' || !Number.isFinite(e.left)) continue;
    const state = parseLabPresence(e.id as number, { user: e.user, lab: e.lab });
    if (!state || state.clientId === reporter.clientId) continue;
    reports.push({ state, awayMs: Math.max(0, reporter.at - e.left) });
  }
  return reports;
};
