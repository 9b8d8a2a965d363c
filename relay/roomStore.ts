/**
 * Where the relay keeps rooms: opaque, validated Yjs V1 updates, nothing else.
 *
 * A room is an append-only log of updates, each with a per-room sequence number, plus compacted
 * segments. A segment [seqLo, seqHi] is the merge of every update with a sequence number in
 * that range (and so replaces the log rows and smaller segments inside it).
 *
 * Compaction is two durable steps, safe at any crash point (STORE-2 in docs/SPEC.md):
 *   1. `writeSegment` (committed): the room now holds both the segment and what it replaces —
 *      redundant but harmless, Yjs merges are idempotent;
 *   2. `deleteCovered`: drop the log rows and segments strictly inside the new segment.
 * `load` finishes an interrupted step 2 (STORE-3): it never returns a row covered by a segment.
 *
 * Durability (STORE-1): when `append` resolves, its entries are on disk (fsync'd) and survive a
 * process crash or power loss; nothing of a rejected `append` is stored — except when the outcome
 * is unknown: a worker that died mid-call (STORE-5) or a Redis Cluster shard failing mid-call
 * (REDIS-1) rejects although some entries may be stored. Callers never ack a rejected append, so
 * this can only store content its clients still hold and send again.
 */
export interface StoredSegment {
  readonly seqLo: number;
  readonly seqHi: number;
  readonly update: Uint8Array;
}

export interface StoredLogEntry {
  readonly seq: number;
  readonly update: Uint8Array;
}

export interface StoredRoom {
  /** Sorted by seqLo; disjoint. */
  readonly segments: readonly StoredSegment[];
  /** Sorted by seq; none inside a segment's range. */
  readonly log: readonly StoredLogEntry[];
}

export interface AppendEntry {
  readonly room: string;
  readonly seq: number;
  readonly update: Uint8Array;
}

export interface RoomStore {
  /** The room's stored state (empty for an unknown room). Completes interrupted compactions. */
  load(room: string): Promise<StoredRoom>;
  /** Stores all entries (of any rooms) in one durable transaction: all or nothing. */
  append(entries: readonly AppendEntry[]): Promise<void>;
  /** Compaction step 1: durably stores a segment. */
  writeSegment(room: string, segment: StoredSegment): Promise<void>;
  /** Compaction step 2: deletes log rows and segments strictly covered by [seqLo, seqHi]. */
  deleteCovered(room: string, seqLo: number, seqHi: number): Promise<void>;
  /** True when the room has anything stored. */
  hasRoom(room: string): Promise<boolean>;
  /** Number of rooms with anything stored. */
  roomCount(): Promise<number>;
  close(): Promise<void>;
}
