/**
 * The class view's model: every lab participant seen in the room's awareness, the verdict
 * (converged, not converged, unknown because someone is unreachable), and its history. Pure
 * (time is passed in), so it is tested without a browser or a clock.
 *
 * LAB-UI-1 (the verdict). The participants that count are those online now or seen less than
 * `FORGET_MS` ago, `CUT_OFF_FORGET_MS` for one that left cut off (a participant that left longer
 * ago no longer counts; it stays listed as offline). A counted participant is reachable when it is online and not cut off (partitioned, or
 * dropping every frame: `cutOff`; it announced that before its frames stopped, LAB-7); one that is
 * not is shown with the last state it published. The room is
 * - **converged** when at least one participant counts, every counted one is reachable, and all
 *   of them published the same content hash and the same state-vector total;
 * - **not converged** (`diverged`) when two reachable participants published different contents:
 *   that is known now, whatever the unreachable ones hold;
 * - **unknown: n unreachable** (`unreachable`) when some counted participant is unreachable and
 *   the reachable ones agree: nobody can know what an unreachable replica holds now (it may have
 *   written, or received, since its last state), so the view says neither converged nor not.
 *   Each unreachable one is compared with the reachable ones' common state, as last seen: same
 *   content, behind (a lower state-vector total: it lacked an update they have), ahead (higher:
 *   they lacked one of its), or different content.
 * While the class view itself is not connected, or nobody counts, the verdict is **unknown**
 * (`unknown`, with its cause): the view has nothing current to judge. Participants publish about
 * once a second, so a verdict lags reality by about that much.
 *
 * LAB-UI-16, in flight (`syncing`, "Converging…"). Each participant publishes at most once a
 * second (LAB-7), so in a lively room two states compared at one instant differ while an update is
 * on its way: that is not a divergence. A difference among the reachable ones is in flight while it may still
 * resolve within `SETTLE_MS` (the publish interval plus a margin for delivery): no two of them
 * that differ have both held their content for `SETTLE_MS`, and none has been behind (a lower SV
 * total than another reachable one) for `SETTLE_MS` with its content unchanged. Beyond that it is
 * **not converged**. With everyone reachable the verdict is then `syncing`; with someone unreachable
 * it is `unreachable` (what the room holds is unknown either way).
 *
 * LAB-UI-17, the view not connected: the relay's states vanish with its socket, but that says
 * nothing of the participants. Whoever was listed keeps their last state and reach, marked
 * `lastKnown`; nobody is marked offline, nor a report (LAB-UI-8) dropped, until the view is back.
 *
 * LAB-UI-8 (reported). A view opened after someone left cut off never saw them: a participant
 * that the present ones report cut off (LAB-9, ./cutOffPeers.ts) is listed as offline with its
 * reported state and who reported it, its time away estimated from the report, and counts like
 * one the view saw leave, while someone reports it. What the view saw itself outranks a report.
 *
 * LAB-UI-10 (tabs). Each tab of a user is a participant of its own (its own replica, its own awareness
 * client id), so a user with several listed tabs is named with a tab number in the rows and the
 * verdict: "Quad (tab 2)". A client id keeps its number while the view is open; the first tab of a
 * user seen is 1, a new tab takes the next number, and one that replaces offline tabs of its user (a
 * reload) takes the lowest of theirs. A user with one listed tab is named without it. A count of
 * participants that includes several tabs of one user says so: "The 4 reachable participants (3 of
 * them tabs of Quad)".
 *
 * LAB-UI-14 (namesakes). Display names are anyone's choice: two students may both be "Sam". A user
 * whose name another listed user has too (ignoring case and spacing) is named with the end of their
 * stable user id, "Sam #k3f2" (4 characters, more when two ids end alike), everywhere a name is shown.
 *
 * LAB-UI-3 (timings). A time not converged lasts from the first verdict that is not converged or
 * unknown because someone is unreachable, to the next converged one (the view's own `unknown`
 * and `syncing` neither start nor end it; while one runs, `notConvergedSince` says since when).
 * A heal is a participant coming back online (or a new tab of a user whose last one was offline)
 * or it no longer being cut off (a partition lifted, or a drop of every frame lowered, `cutOff`);
 * "the last heal took" is the time from the last heal during a time not converged to the
 * converged verdict that ended it.
 */
import { cutOff } from '../../shared/lab/faults.js';
import { parseCutOffReports, type CutOffReport } from './cutOffPeers.js';
import type { LabPresence } from './labPresence.js';
import { FORGET_MS, forgetAfterMs, parseLabPresence, sameLabPresence } from './labPresence.js';

/** How much history the chart keeps. */
export const HISTORY_MS = 5 * 60_000;
/** At most one chart sample per this interval, unless the verdict changes. */
export const SAMPLE_MS = 1000;
/** Participants kept in the list; beyond it the longest-offline ones are dropped. */
export const MAX_LISTED = 200;
/**
 * How long a difference among reachable participants may be updates in flight: LAB-7's publish
 * interval (1 s) plus a margin for delivery and the view's own batching.
 */
export const SETTLE_MS = 3000;
/** Client ids remembered as replaced by a new tab of their user (bounded; LAB-UI-8). */
const MAX_REPLACED = 1024;
/** Tab numbers remembered (LAB-UI-10); beyond, those of client ids no longer listed are forgotten. */
const MAX_TAB_NUMBERS = 1024;

export interface Participant {
  readonly state: LabPresence;
  /** LAB-UI-10: the name, with the tab number when its user has more than one tab listed. */
  readonly label: string;
  /** LAB-UI-14: its user's name, with a part of their id when another listed user goes by the same name. */
  readonly user: string;
  /** LAB-UI-10: this tab's number among its user's tabs (stable while the view is open). */
  readonly tab: number;
  /** null while its awareness state is present; else when it disappeared (class view's clock). */
  readonly offlineSince: number | null;
  /** Counts for the verdict (LAB-UI-1). */
  readonly counted: boolean;
  /** When (class view's clock) its content (hash, SV total) was first seen as it is now. */
  readonly stateSince: number;
  /**
   * Since when it has been behind another reachable participant (a lower SV total) with its
   * content unchanged; null when it is not behind.
   */
  readonly behindSince: number | null;
  /** The view is not connected: `state` and `offlineSince` are as last known, not current. */
  readonly lastKnown: boolean;
  /**
   * LAB-UI-8: the label of a participant reporting this one cut off, when this view never saw it
   * itself (it left before the view opened); its `offlineSince` is then an estimate.
   */
  readonly reportedBy: string | null;
}

/** What the tracker keeps per client id; labels are given when the list is built (LAB-UI-10). */
interface Tracked {
  readonly state: LabPresence;
  readonly offlineSince: number | null;
  readonly counted: boolean;
  readonly stateSince: number;
  /** LAB-UI-8: the client id of the participant reporting it, null when the view saw it itself. */
  readonly reporter: number | null;
}

export type Verdict =
  | { readonly kind: 'converged' }
  | { readonly kind: 'diverged'; readonly reasons: readonly string[] }
  /** Everyone reachable, their difference still in flight (see SETTLE_MS). */
  | { readonly kind: 'syncing'; readonly reasons: readonly string[] }
  | {
      readonly kind: 'unreachable';
      /** Counted participants that are offline or cut off (at least one). */
      readonly unreachable: number;
      readonly reasons: readonly string[];
    }
  | { readonly kind: 'unknown'; readonly cause: UnknownCause; readonly reason: string };

export type VerdictKind = Verdict['kind'];

/** Why the view has no verdict of its own to give. */
export type UnknownCause = 'not-connected' | 'nobody';

export interface Sample {
  readonly t: number;
  readonly kind: VerdictKind;
  /** Distinct (hash, SV total) among counted participants, unreachable ones' last known included. */
  readonly distinct: number;
}

export interface ClassSnapshot {
  readonly now: number;
  /** Online first, then by name. */
  readonly participants: readonly Participant[];
  readonly verdict: Verdict;
  /** Since when the verdict has had its current kind. */
  readonly since: number;
  /** The current kind is the first this view saw (from 'unknown' at its start): it may have held long before `since`. */
  readonly sinceWatching: boolean;
  /** LAB-UI-3: when the current time not converged or unknown began; null while there is none. */
  readonly notConvergedSince: number | null;
  /** LAB-UI-3: how long the last finished time not converged lasted, and when it ended. */
  readonly lastNotConverged: { readonly endedAt: number; readonly lastedMs: number } | null;
  readonly lastHealToConvergeMs: number | null;
  readonly samples: readonly Sample[];
}

const stateKey = (s: LabPresence): string => `${s.hash}/${s.svTotal}`;

export const NOT_CONNECTED =
  'The class view is not connected to the relay: the states shown are the last ones it received.';
export const NOBODY = 'Nobody with the lab is in this room yet.';
/** Everybody listed left more than FORGET_MS ago. */
export const NOBODY_NOW = `Nobody with the lab has been in this room for ${FORGET_MS / 60_000} minutes.`;

const isReachable = (p: Pick<Tracked, 'offlineSince' | 'state'>): boolean =>
  p.offlineSince === null && !cutOff(p.state.faults);

/** Why `p` (counted, not reachable) is out of reach, in words. */
const outOfReach = (p: Participant): string =>
  // A participant announces its partition before its link goes down (LAB-7), then drops out of
  // awareness like one that went offline: its last state still says partitioned.
  `${p.label} is ${p.state.faults.partitioned ? 'partitioned' : cutOff(p.state.faults) ? 'dropping every frame' : 'offline'}`;

/** Users named in a note on tabs before it sums them up instead (LAB-UI-10). */
const MAX_TAB_NOTE_USERS = 3;

/**
 * LAB-UI-10: what a count of `ps` hides when some are tabs of one user, as a parenthesis to put
 * after it: " (3 of them tabs of Quad)", " (2 of them tabs of Quad, 2 of Bea)", " (all 3 tabs of
 * Quad)", beyond three such users " (8 of them tabs of 4 people)"; '' when each is a different user's.
 */
export const tabsNote = (ps: readonly Participant[]): string => {
  const byUser = new Map<string, { name: string; tabs: number }>();
  for (const p of ps) {
    const u = byUser.get(p.state.userId);
    if (u) u.tabs++;
    else byUser.set(p.state.userId, { name: p.user, tabs: 1 });
  }
  const several = [...byUser.values()].filter((u) => u.tabs > 1);
  if (several.length === 0) return '';
  const tabs = several.reduce((n, u) => n + u.tabs, 0);
  if (several.length === 1 && tabs === ps.length) {
    return ` (${tabs === 2 ? 'both' : `all ${tabs}`} tabs of ${several[0]!.name})`;
  }
  if (several.length > MAX_TAB_NOTE_USERS) {
    return ` (${tabs === ps.length ? '' : `${tabs} of them `}tabs of ${several.length} people)`;
  }
  return ` (${several.map((u, i) => `${u.tabs} of ${i === 0 ? 'them tabs of ' : ''}${u.name}`).join(', ')})`;
};

/** LAB-UI-1: how `last` (an unreachable participant's last state) compares with `ref` (the reachable ones' common state). */
const lastSeen = (last: LabPresence, ref: LabPresence): string =>
  stateKey(last) === stateKey(ref)
    ? 'last seen with the same content'
    : last.svTotal < ref.svTotal
      ? 'last seen behind (missing updates the others have)'
      : last.svTotal > ref.svTotal
        ? 'last seen ahead (with updates the others lack)'
        : 'last seen with different content';

/**
 * The difference among `reachable` (more than one content) may still be updates in flight at
 * `now`: no two differing ones both settled, and none behind for SETTLE_MS (see the header).
 */
const inFlight = (reachable: readonly Participant[], now: number): boolean => {
  const settled = reachable.filter((p) => now - p.stateSince >= SETTLE_MS);
  if (new Set(settled.map((p) => stateKey(p.state))).size > 1) return false;
  return reachable.every((p) => p.behindSince === null || now - p.behindSince < SETTLE_MS);
};

/**
 * LAB-UI-1: the verdict over `participants` (their `counted` flags already set) at `now` (the
 * view's clock; by default every state is settled: no difference is in flight).
 */
export const computeVerdict = (
  participants: readonly Participant[],
  connected: boolean,
  now = Number.POSITIVE_INFINITY,
): Verdict => {
  if (!connected) return { kind: 'unknown', cause: 'not-connected', reason: NOT_CONNECTED };
  const counted = participants.filter((p) => p.counted);
  if (counted.length === 0)
    return { kind: 'unknown', cause: 'nobody', reason: participants.length === 0 ? NOBODY : NOBODY_NOW };
  const reachable = counted.filter(isReachable);
  const away = counted.filter((p) => !isReachable(p));
  const distinct = new Set(reachable.map((p) => stateKey(p.state))).size;
  const syncing = distinct > 1 && inFlight(reachable, now);
  if (syncing && away.length === 0) {
    return {
      kind: 'syncing',
      reasons: [
        `${distinct} different contents among ${counted.length} participants${tabsNote(counted)}, ` +
          `changed in the last ${SETTLE_MS / 1000} s: updates on their way (each publishes its state about once a second)`,
      ],
    };
  }
  if (distinct > 1 && !syncing) {
    const among =
      away.length === 0
        ? `${counted.length} participants${tabsNote(counted)}`
        : `the ${reachable.length} reachable participants${tabsNote(reachable)}`;
    return {
      kind: 'diverged',
      reasons: [
        `${distinct} different contents among ${among}`,
        ...away.map((p) => `${outOfReach(p)} (last known state shown)`),
      ],
    };
  }
  if (away.length === 0) return { kind: 'converged' };
  // In flight, the reachable ones have no common state yet to compare the others with.
  const ref = syncing ? undefined : reachable[0]?.state;
  const reasons = away.map((p) =>
    ref ? `${outOfReach(p)} — ${lastSeen(p.state, ref)}` : `${outOfReach(p)} (last known state shown)`,
  );
  const who =
    away.length === 1 ? `${away[0]!.label} holds` : `the ${away.length} unreachable participants${tabsNote(away)} hold`;
  const agree =
    reachable.length === 0
      ? 'Nobody is reachable.'
      : reachable.length === 1
        ? `Only ${reachable[0]!.label} is reachable.`
        : syncing
          ? `The ${reachable.length} reachable participants${tabsNote(reachable)} are exchanging updates.`
          : `The ${reachable.length} reachable participants${tabsNote(reachable)} show the same content.`;
  reasons.push(`${agree} What ${who} now cannot be known until they are back.`);
  return { kind: 'unreachable', unreachable: away.length, reasons };
};

/** Shortest end of a user id told apart from the others' (ids are distinct, so at most all of it). */
const MIN_ID_SUFFIX = 4;

/** LAB-UI-14: names that read alike (a trailing space or a capital is not a difference on a projector). */
const nameKey = (name: string): string => name.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * LAB-UI-14: each user's name as shown, by user id: their name, followed by the end of their id
 * ("Sam #k3f2") when another of `users` (user id → name) has a name that reads alike.
 */
export const userNames = (users: ReadonlyMap<string, string>): Map<string, string> => {
  const byName = new Map<string, string[]>();
  for (const [id, name] of users) {
    const ids = byName.get(nameKey(name));
    if (ids) ids.push(id);
    else byName.set(nameKey(name), [id]);
  }
  const out = new Map<string, string>();
  for (const ids of byName.values()) {
    if (ids.length === 1) {
      out.set(ids[0]!, users.get(ids[0]!)!);
      continue;
    }
    let n = MIN_ID_SUFFIX;
    while (new Set(ids.map((id) => id.slice(-n))).size < ids.length) n++;
    for (const id of ids) out.set(id, `${users.get(id)!} #${id.slice(-n)}`);
  }
  return out;
};

/** Online first, then by name (one user's tabs together, by number). */
const byOnlineThenName = (a: Participant, b: Participant): number =>
  Number(a.offlineSince !== null) - Number(b.offlineSince !== null) ||
  a.state.name.localeCompare(b.state.name) ||
  (a.state.userId < b.state.userId ? -1 : a.state.userId > b.state.userId ? 1 : 0) ||
  a.tab - b.tab ||
  a.state.clientId - b.state.clientId;

export class ClassTracker {
  private readonly byClient = new Map<number, Tracked>();
  private list: readonly Participant[] = [];
  private verdict: Verdict = { kind: 'unknown', cause: 'nobody', reason: NOBODY };
  private since: number;
  /** Verdict kinds seen after the initial 'unknown'. */
  private kindsSeen = 0;
  /** LAB-UI-3: when the current time not converged began (null while there is none). */
  private notConvergedAt: number | null = null;
  private lastHealAt: number | null = null;
  private lastNotConverged: ClassSnapshot['lastNotConverged'] = null;
  private lastHealToConvergeMs: number | null = null;
  private samples: Sample[] = [];
  private snap: ClassSnapshot | null = null;
  /** Awareness replaces a state object on every update: each one is validated once. */
  private readonly parsed = new WeakMap<object, LabPresence | null>();
  private readonly reports = new WeakMap<object, CutOffReport[]>();
  /** Offline tabs replaced by a new tab of their user: reports of them are stale (LAB-UI-8). */
  private readonly replaced = new Set<number>();
  /** LAB-UI-10: each client id's tab number among its user's tabs (bounded by MAX_TAB_NUMBERS). */
  private readonly tabs = new Map<number, { readonly userId: string; readonly n: number }>();
  /** Reachable participants behind another, with the content they had then (see SETTLE_MS). */
  private readonly behind = new Map<number, { readonly key: string; readonly since: number }>();
  /** The view's own connection, as of the last observation. */
  private connected = true;

  constructor(now: number) {
    this.since = now;
  }

  /**
   * Takes the room's current awareness states (untrusted; malformed ones are ignored) at `now`
   * (the class view's clock). `connected`: the class view's own connection is up. `departed`:
   * the last states of clients removed since the previous call (they become the last known
   * state of those that are now offline).
   */
  observe(
    states: ReadonlyMap<number, unknown>,
    now: number,
    connected: boolean,
    departed: ReadonlyMap<number, unknown> = new Map(),
  ): ClassSnapshot {
    let changed = false;
    const present = new Set<number>();
    /** LAB-UI-8: who the present participants report cut off, by client id, with the reporter's client id. */
    const reported = new Map<number, { report: CutOffReport; by: number }>();
    for (const [clientId, raw] of states) {
      const state = this.parse(clientId, raw);
      if (!state) continue;
      present.add(clientId);
      for (const report of this.reportsIn(raw as object, state)) {
        const other = reported.get(report.state.clientId);
        // The same peer's states compare by its own clock; the latest known state wins.
        if (!other || report.state.at > other.report.state.at) {
          reported.set(report.state.clientId, { report, by: clientId });
        }
      }
      const old = this.byClient.get(clientId);
      if (!old) {
        // A new tab of a user whose previous tab is offline (e.g. a reload): it replaces that one,
        // and goes by its number (the lowest, if it replaces several). LAB-14: one that left cut
        // off is replaced by a reload of its own browser tab only (the same `tab`): a tab opened
        // beside it does not make it go away, it may still be open behind its partition.
        let inherited: number | null = null;
        for (const [c, p] of this.byClient) {
          if (
            p.offlineSince !== null &&
            p.state.userId === state.userId &&
            (!cutOff(p.state.faults) || p.state.tab === state.tab)
          ) {
            this.byClient.delete(c);
            this.replaced.add(c);
            if (this.replaced.size > MAX_REPLACED) this.replaced.delete(this.replaced.values().next().value!);
            const n = this.tabs.get(c)?.n;
            if (n !== undefined && (inherited === null || n < inherited)) inherited = n;
            // Should that client id ever come back, it is a tab of its own: no number shared.
            this.tabs.delete(c);
            this.lastHealAt = now;
          }
        }
        this.numberTab(clientId, state.userId, inherited);
        this.byClient.set(clientId, { state, offlineSince: null, counted: true, stateSince: now, reporter: null });
        changed = true;
        continue;
      }
      const healed = old.offlineSince !== null || (cutOff(old.state.faults) && !cutOff(state.faults));
      if (healed) this.lastHealAt = now;
      if (healed || !old.counted || !sameLabPresence(old.state, state)) {
        this.byClient.set(clientId, {
          state: sameLabPresence(old.state, state) ? old.state : state,
          offlineSince: null,
          counted: true,
          stateSince: stateKey(old.state) === stateKey(state) ? old.stateSince : now,
          reporter: null,
        });
        changed = true;
      }
    }
    for (const [clientId, { report, by }] of reported) {
      // What this view saw itself, or saw replaced by a new tab, outranks any report.
      if (present.has(clientId) || this.replaced.has(clientId)) continue;
      const old = this.byClient.get(clientId);
      if (old && old.reporter === null) continue;
      if (old && old.reporter === by && sameLabPresence(old.state, report.state)) continue;
      if (!old) this.numberTab(clientId, report.state.userId, null);
      this.byClient.set(clientId, {
        state: old && sameLabPresence(old.state, report.state) ? old.state : report.state,
        // Estimated once, when first reported: later reports would only move it by their delays.
        offlineSince: old?.offlineSince ?? now - Math.min(report.awayMs, forgetAfterMs(report.state)),
        counted: true,
        stateSince: old && stateKey(old.state) === stateKey(report.state) ? old.stateSince : now,
        reporter: by,
      });
      changed = true;
    }
    for (const [clientId, p] of this.byClient) {
      if (present.has(clientId)) continue;
      const raw = p.offlineSince === null ? departed.get(clientId) : undefined;
      const last = raw === undefined ? null : this.parse(clientId, raw);
      const state = last && !sameLabPresence(p.state, last) ? last : p.state;
      const stateSince = stateKey(state) === stateKey(p.state) ? p.stateSince : now;
      if (!connected) {
        // The states went with the view's socket, not with the participants: as last known.
        if (state !== p.state) {
          this.byClient.set(clientId, { ...p, state, stateSince });
          changed = true;
        }
        continue;
      }
      if (p.reporter !== null && !reported.has(clientId)) {
        // Nobody here reports it any more: it is back under a new tab, or forgotten (LAB-9).
        this.byClient.delete(clientId);
        changed = true;
        continue;
      }
      const offlineSince = p.offlineSince ?? now;
      const counted = now - offlineSince < forgetAfterMs(p.state);
      if (offlineSince !== p.offlineSince || counted !== p.counted || state !== p.state) {
        this.byClient.set(clientId, { state, offlineSince, counted, stateSince, reporter: p.reporter });
        changed = true;
      }
    }
    if (this.byClient.size > MAX_LISTED) {
      const offline = [...this.byClient].filter(([, p]) => p.offlineSince !== null);
      offline.sort((a, b) => a[1].offlineSince! - b[1].offlineSince!);
      for (const [c] of offline.slice(0, this.byClient.size - MAX_LISTED)) this.byClient.delete(c);
      changed = true;
    }
    if (this.trackBehind(now)) changed = true;
    if (connected !== this.connected) {
      this.connected = connected;
      changed = true;
    }
    if (changed) this.list = this.buildList();
    this.judge(computeVerdict(this.list, connected, now), now);
    return this.snapshot(now);
  }

  /**
   * Notes since when each counted reachable participant has been behind another (a lower SV total)
   * with its content unchanged (see SETTLE_MS); true when that changed.
   */
  private trackBehind(now: number): boolean {
    const reachable = [...this.byClient].filter(([, p]) => p.counted && isReachable(p));
    const top = Math.max(0, ...reachable.map(([, p]) => p.state.svTotal));
    let changed = false;
    for (const [clientId, p] of this.byClient) {
      const old = this.behind.get(clientId);
      const behind = p.counted && isReachable(p) && p.state.svTotal < top;
      if (behind && old?.key !== stateKey(p.state)) {
        this.behind.set(clientId, { key: stateKey(p.state), since: now });
        changed = true;
      } else if (!behind && old) {
        this.behind.delete(clientId);
        changed = true;
      }
    }
    for (const clientId of this.behind.keys()) if (!this.byClient.has(clientId)) this.behind.delete(clientId);
    return changed;
  }

  /**
   * LAB-UI-10: gives `clientId` its tab number, unless it has one: `inherited` (it replaces tabs of
   * its user), else one more than the highest its user's tabs have had.
   */
  private numberTab(clientId: number, userId: string, inherited: number | null): void {
    if (this.tabs.has(clientId)) return;
    let n = inherited;
    if (n === null) {
      n = 1;
      for (const t of this.tabs.values()) if (t.userId === userId && t.n >= n) n = t.n + 1;
    }
    this.tabs.set(clientId, { userId, n });
    if (this.tabs.size > MAX_TAB_NUMBERS) {
      for (const c of this.tabs.keys()) if (!this.byClient.has(c) && c !== clientId) this.tabs.delete(c);
    }
  }

  /**
   * The listed participants, labelled (LAB-UI-10), sorted. A participant whose fields are all as
   * before keeps its object, so its row does not re-render.
   */
  private buildList(): readonly Participant[] {
    const listedTabs = new Map<string, number>();
    // A user's tabs may publish different names (one renamed since): the one listed first names them.
    const users = new Map<string, string>();
    for (const t of this.byClient.values()) {
      listedTabs.set(t.state.userId, (listedTabs.get(t.state.userId) ?? 0) + 1);
      if (!users.has(t.state.userId)) users.set(t.state.userId, t.state.name);
    }
    const shown = userNames(users);
    const tabOf = (clientId: number): number => this.tabs.get(clientId)?.n ?? 1;
    const label = (clientId: number, s: LabPresence): string =>
      (listedTabs.get(s.userId) ?? 0) > 1 ? `${shown.get(s.userId)!} (tab ${tabOf(clientId)})` : shown.get(s.userId)!;
    const before = new Map(this.list.map((p) => [p.state.clientId, p]));
    const list: Participant[] = [];
    for (const [clientId, t] of this.byClient) {
      const p: Participant = {
        state: t.state,
        label: label(clientId, t.state),
        user: shown.get(t.state.userId)!,
        tab: tabOf(clientId),
        offlineSince: t.offlineSince,
        counted: t.counted,
        stateSince: t.stateSince,
        behindSince: this.behind.get(clientId)?.since ?? null,
        lastKnown: !this.connected,
        // A reporter is present (LAB-UI-8), so listed: only offline ones are ever dropped.
        reportedBy: t.reporter === null ? null : label(t.reporter, this.byClient.get(t.reporter)!.state),
      };
      const old = before.get(clientId);
      const same =
        old !== undefined &&
        old.state === p.state &&
        old.label === p.label &&
        old.user === p.user &&
        old.tab === p.tab &&
        old.offlineSince === p.offlineSince &&
        old.counted === p.counted &&
        old.stateSince === p.stateSince &&
        old.behindSince === p.behindSince &&
        old.lastKnown === p.lastKnown &&
        old.reportedBy === p.reportedBy;
      list.push(same ? old : p);
    }
    return Object.freeze(list.sort(byOnlineThenName));
  }

  private parse(clientId: number, raw: unknown): LabPresence | null {
    if (typeof raw !== 'object' || raw === null) return null;
    let p = this.parsed.get(raw);
    if (p === undefined || (p !== null && p.clientId !== clientId)) {
      p = parseLabPresence(clientId, raw);
      this.parsed.set(raw, p);
    }
    return p;
  }

  private reportsIn(raw: object, reporter: LabPresence): CutOffReport[] {
    let r = this.reports.get(raw);
    if (r === undefined) {
      r = parseCutOffReports(raw, reporter);
      this.reports.set(raw, r);
    }
    return r;
  }

  private judge(verdict: Verdict, now: number): void {
    const kindChanged = verdict.kind !== this.verdict.kind;
    if (kindChanged) {
      this.since = now;
      this.kindsSeen++;
    }
    // An unreachable participant starts one too: a partition is the usual start of the exercise,
    // and the heal that ends it is what "last heal took" measures, content differing or not.
    if ((verdict.kind === 'diverged' || verdict.kind === 'unreachable') && this.notConvergedAt === null) {
      this.notConvergedAt = now;
    }
    if (verdict.kind === 'converged' && this.notConvergedAt !== null) {
      this.lastNotConverged = { endedAt: now, lastedMs: now - this.notConvergedAt };
      if (this.lastHealAt !== null && this.lastHealAt >= this.notConvergedAt) {
        this.lastHealToConvergeMs = now - this.lastHealAt;
      }
      this.notConvergedAt = null;
    }
    if (verdict.kind === 'converged') this.lastHealAt = null;
    if (kindChanged || JSON.stringify(verdict) !== JSON.stringify(this.verdict)) this.verdict = verdict;

    const counted = this.list.filter((p) => p.counted);
    const sample: Sample = {
      t: now,
      kind: verdict.kind,
      distinct: new Set(counted.map((p) => stateKey(p.state))).size,
    };
    const last = this.samples.at(-1);
    const differs = !last || last.kind !== sample.kind || last.distinct !== sample.distinct;
    if (differs || now - last.t >= SAMPLE_MS) {
      this.samples.push(sample);
      let drop = 0;
      while (drop < this.samples.length - 1 && this.samples[drop]!.t < now - HISTORY_MS) drop++;
      if (drop > 0) this.samples = this.samples.slice(drop);
    }
    this.snap = null;
  }

  snapshot(now: number): ClassSnapshot {
    if (this.snap && this.snap.now === now) return this.snap;
    this.snap = Object.freeze({
      now,
      participants: this.list,
      verdict: this.verdict,
      since: this.since,
      sinceWatching: this.kindsSeen <= 1,
      notConvergedSince: this.notConvergedAt,
      lastNotConverged: this.lastNotConverged,
      lastHealToConvergeMs: this.lastHealToConvergeMs,
      samples: Object.freeze([...this.samples]),
    });
    return this.snap;
  }
}
