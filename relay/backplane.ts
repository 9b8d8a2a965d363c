/**
 * The backplane: what lets several relay processes serve one room. It is the room's shared,
 * durable log and its fan-out, plus presence (awareness) across relays. Two implementations pass
 * one contract suite (relay/backplane.contract.ts): `InProcessBackplaneHub` (several relays in one
 * process: tests, the fuzz) and `RedisBackplane` (scale-out mode).
 *
 * Rules (docs/SPEC.md, REDIS-4..7):
 * - `publish` is the commit: it durably appends validated updates to their rooms' logs, gives
 *   each the room's next sequence number, and only then resolves — the relay acks after it
 *   (ACK-1), never before. A room's entries in one call are all stored or none (on a single
 *   Redis, or in process, the whole call is; a Redis Cluster stores room by room, REDIS-1).
 * - Sequence numbers are per room, assigned by the shared log, strictly increasing and without
 *   holes: they are the global order every relay agrees on (local seqs cannot be: two relays
 *   would both pick the next one).
 * - A subscription delivers every entry with seq > `after`, in seq order, each seq once per
 *   subscription, entries of this relay included (`origin` says whose). Entries compacted since
 *   arrive as their segment (`seq` = the segment's last seq, `seqLo` its first): content can
 *   repeat — at-least-once — and the relay's DEDUPE-1/2 absorb it. Nothing is ever skipped: a
 *   subscriber that missed live entries is caught up from the log.
 * - Awareness: entries a relay publishes belong to that relay until removed. Subscribers get the
 *   other relays' live entries when they subscribe, then their changes. When a relay dies (stops
 *   heartbeating) the survivors publish the removal (`null` state, clock + 1) of every entry it
 *   held, on its behalf: no ghosts across relays (AWR-4 extended).
 * - Status: 'down' while the shared store is unreachable; `publish` then rejects, so the relay
 *   acks nothing and closes its sockets with `storage-unavailable` (retryable, 4503). 'up' again
 *   when it is back; subscriptions resume where they were, with no gap.
 */
import type { AwarenessEntry } from '../shared/awarenessUpdate.js';

export interface PublishEntry {
  readonly room: string;
  /** A validated Yjs V1 update (the relay publishes only what RoomCore accepted). */
  readonly update: Uint8Array;
  /** When the update arrived from its client (ms since the epoch): for the delivery-latency metric. */
  readonly receivedAt?: number;
}

export interface BackplaneEntry {
  readonly room: string;
  /** Position in the room's log; for a compacted segment, its last seq. */
  readonly seq: number;
  /** First seq the update covers (= seq except for a compacted segment). */
  readonly seqLo: number;
  /** Relay that published it; '' when it came from the log (catch-up, compacted segment). */
  readonly origin: string;
  readonly update: Uint8Array;
  /** The publisher's `receivedAt`, when it gave one and the entry came live (not from the log). */
  readonly receivedAt?: number;
}

export interface RoomSubscriber {
  /** The next entry of the room (seq order; see the module comment). */
  update(entry: BackplaneEntry): void;
  /** Awareness entries of another relay's clients (or their removal when that relay died). */
  awareness(origin: string, entries: readonly AwarenessEntry[]): void;
}

export interface RoomSubscription {
  /** Stops delivery (idempotent). */
  close(): void;
}

export type BackplaneStatus = 'up' | 'down';

export interface Backplane {
  /** This relay's id: unique per process run, never reused. */
  readonly relayId: string;
  /** Durable append + fan-out; resolves with each entry's seq, in order. */
  publish(entries: readonly PublishEntry[]): Promise<number[]>;
  subscribe(room: string, after: number, subscriber: RoomSubscriber): RoomSubscription;
  /** Announces (or removes, state 'null') awareness entries of this relay's clients. */
  publishAwareness(room: string, entries: readonly AwarenessEntry[]): Promise<void>;
  status(): BackplaneStatus;
  /** Calls `listener` on every change of status; returns the unsubscribe function. */
  onStatus(listener: (status: BackplaneStatus) => void): () => void;
  /** Leaves cleanly: removes this relay's awareness entries (published as removals), stops. */
  close(): Promise<void>;
}

/** A fresh relay id: random, so a restarted relay never inherits a dead one's entries. */
export const newRelayId = (): string => crypto.randomUUID();
