/**
 * LAB-UI-5: the Lab panel's space-time diagram, as data. One lane per participant (user), one
 * event per (recent message, participant that holds it). Time is THIS client's clock, unskewed:
 * an event is placed when this client learned that the participant holds the message — its own
 * arrival here for this client, the first time another participant's published state vector
 * (`sv`, SEEN-1) covered the message's Yjs id for the others. A message is drawn as sent on its
 * author's lane at the earliest of those times (an upper bound of the real send time; the
 * sender's own wall-clock claim is kept as `wall` and shown beside it, so a skewed clock is
 * visible as a claim, not as a position). What was already known when recording started (the
 * room's opening) is placed at that start and marked `before`.
 */
import { parsePresence } from '../sync/presence.js';

export interface SpaceTimeMessage {
  readonly id: string;
  readonly authorId: string;
  readonly authorName: string;
  readonly text: string;
  readonly wall: number;
  readonly yId: { readonly client: number; readonly clock: number } | null;
}

export interface SpaceTimeParticipant {
  readonly userId: string;
  readonly name: string;
  /** Merged state-vector entries this participant published (all its tabs). */
  readonly sv: ReadonlyMap<number, number>;
}

export interface SpaceTimeEvent {
  readonly messageId: string;
  readonly userId: string;
  /** This client's (unskewed) clock. */
  readonly t: number;
  /** Known before recording started (placed at the start). */
  readonly before: boolean;
}

export interface SpaceTimeData {
  readonly lanes: ReadonlyArray<{ readonly userId: string; readonly name: string; readonly self: boolean }>;
  readonly messages: ReadonlyArray<{
    readonly id: string;
    readonly authorId: string;
    readonly label: string;
    readonly wall: number;
    /** Sent: the earliest event of this message. */
    readonly sentAt: number;
    readonly events: readonly SpaceTimeEvent[];
  }>;
  readonly start: number;
}

/** Messages drawn. */
export const SPACE_TIME_MESSAGES = 12;
/** Lanes drawn (the self lane first, then the most recently active). */
export const SPACE_TIME_LANES = 12;

export class SpaceTimeRecorder {
  private readonly start: number;
  /** messageId → userId → event */
  private readonly seen = new Map<string, Map<string, SpaceTimeEvent>>();
  private readonly names = new Map<string, string>();
  private readonly lastActive = new Map<string, number>();
  private first = true;

  constructor(
    private readonly selfId: string,
    now: number,
  ) {
    this.start = now;
  }

  /**
   * Records what is known at `now`: `messages` in display order (only the last
   * SPACE_TIME_MESSAGES are kept), the other participants and their published state vectors.
   */
  observe(
    now: number,
    selfName: string,
    messages: readonly SpaceTimeMessage[],
    others: readonly SpaceTimeParticipant[],
  ): void {
    const before = this.first;
    this.first = false;
    const recent = messages.slice(-SPACE_TIME_MESSAGES);
    const keep = new Set(recent.map((m) => m.id));
    for (const id of [...this.seen.keys()]) if (!keep.has(id)) this.seen.delete(id);
    this.names.set(this.selfId, selfName);
    for (const p of others) this.names.set(p.userId, p.name);
    const note = (m: SpaceTimeMessage, userId: string): void => {
      let byUser = this.seen.get(m.id);
      if (!byUser) this.seen.set(m.id, (byUser = new Map<string, SpaceTimeEvent>()));
      if (byUser.has(userId)) return;
      byUser.set(userId, { messageId: m.id, userId, t: before ? this.start : now, before });
      this.lastActive.set(userId, now);
    };
    for (const m of recent) {
      this.names.set(m.authorId, m.authorName);
      note(m, this.selfId);
      if (!m.yId) continue;
      for (const p of others) {
        if (p.userId === this.selfId) continue;
        if ((p.sv.get(m.yId.client) ?? 0) > m.yId.clock) note(m, p.userId);
      }
    }
  }

  data(messages: readonly SpaceTimeMessage[]): SpaceTimeData {
    const recent = messages.slice(-SPACE_TIME_MESSAGES).filter((m) => this.seen.has(m.id));
    const users = new Set<string>([this.selfId]);
    for (const m of recent) {
      users.add(m.authorId);
      for (const u of this.seen.get(m.id)!.keys()) users.add(u);
    }
    const others = [...users]
      .filter((u) => u !== this.selfId)
      .sort((a, b) => (this.lastActive.get(b) ?? 0) - (this.lastActive.get(a) ?? 0) || a.localeCompare(b))
      .slice(0, SPACE_TIME_LANES - 1)
      .sort((a, b) => (this.names.get(a) ?? a).localeCompare(this.names.get(b) ?? b) || a.localeCompare(b));
    const lanes = [this.selfId, ...others].map((userId) => ({
      userId,
      name: this.names.get(userId) ?? 'Someone',
      self: userId === this.selfId,
    }));
    return {
      lanes,
      start: this.start,
      messages: recent.map((m) => {
        const events = [...this.seen.get(m.id)!.values()].sort((a, b) => a.t - b.t);
        return {
          id: m.id,
          authorId: m.authorId,
          label: m.text.slice(0, 40),
          wall: m.wall,
          sentAt: events[0]!.t,
          events,
        };
      }),
    };
  }
}

/** Awareness replaces a state object on every update: each one is parsed once. */
const parsed = new WeakMap<object, ReturnType<typeof parsePresence>>();

const cachedPresence = (state: unknown): ReturnType<typeof parsePresence> => {
  if (typeof state !== 'object' || state === null) return null;
  let p = parsed.get(state);
  if (p === undefined) {
    p = parsePresence(state);
    parsed.set(state, p);
  }
  return p;
};

/**
 * The other participants and their published state vectors, from the room's awareness states
 * (untrusted: read through `parsePresence`), merged per user (all tabs: the largest clock).
 */
export const othersFromAwareness = (states: ReadonlyMap<number, unknown>, selfId: string): SpaceTimeParticipant[] => {
  const byUser = new Map<string, { name: string; sv: Map<number, number> }>();
  for (const state of states.values()) {
    const p = cachedPresence(state);
    if (!p || p.userId === selfId) continue;
    let u = byUser.get(p.userId);
    if (!u) byUser.set(p.userId, (u = { name: p.name, sv: new Map() }));
    for (const [c, k] of p.sv) if (k > (u.sv.get(c) ?? 0)) u.sv.set(c, k);
  }
  return [...byUser].map(([userId, u]) => ({ userId, name: u.name, sv: u.sv }));
};
