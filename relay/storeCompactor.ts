/**
 * Compaction run against the shared store, for scale-out mode (REDIS-3): several relays serve
 * one room, so no relay's in-memory view is guaranteed to hold every entry of a seq range — the
 * plan is made from what the store holds, under a per-room lease, and every write is fenced.
 *
 * One run: take the lease (a fencing token) → load → plan → merge → fenced `writeSegment`
 * (rejected if the lease moved on, or if the range no longer holds exactly the inputs merged) →
 * fenced `deleteCovered` → release. A crash at any point leaves the room consistent: before the
 * segment commit nothing changed; after it, the segment and its inputs coexist until
 * `deleteCovered` or the next `load` removes the inputs (STORE-2, STORE-3); the lease expires by
 * itself after `leaseMs`.
 */
import type { RoomStore, StoredRoom, StoredSegment } from './roomStore.js';
import type { CompactionInputs } from './redisRoomStore.js';

/** A store that can fence compaction writes (RedisRoomStore). */
export interface FencedCompactionStore extends RoomStore {
  acquireCompaction(room: string, ttlMs: number): Promise<string | null>;
  writeSegmentFenced(room: string, token: string, segment: StoredSegment, inputs: CompactionInputs): Promise<void>;
  deleteCoveredFenced(room: string, token: string, seqLo: number, seqHi: number): Promise<void>;
  releaseCompaction(room: string, token: string): Promise<void>;
}

/**
 * STORE-2: when a room's log is compacted and how big a segment grows, for the embedded relay and
 * in scale-out mode alike (docs/decisions.md, "Segments of at most 128 KiB": larger segments made
 * a client 1 % behind pay a diff over most of one).
 */
export const COMPACTION = { minLogEntries: 256, targetBytes: 128 * 1024 } as const;

export interface StoreCompactionPolicy {
  /** Compact once at least this many log entries are stored (or half of `targetBytes`). */
  readonly minLogEntries: number;
  /** Rough size of the inputs of one segment. */
  readonly targetBytes: number;
  /** Lease time-to-live: longer than one run takes, short enough to recover from a crash. */
  readonly leaseMs: number;
}

export interface StoreCompactionPlan {
  readonly seqLo: number;
  readonly seqHi: number;
  readonly updates: Uint8Array[];
  readonly inputs: CompactionInputs;
}

export type StoreCompactionOutcome =
  | { readonly kind: 'compacted'; readonly seqLo: number; readonly seqHi: number; readonly inputs: number }
  | { readonly kind: 'busy' }
  | { readonly kind: 'nothing' };

/**
 * The oldest run of log entries (and the segment just before it, while that one is small), the
 * same policy as the relay's in-memory compaction (RoomCore.compactionPlan).
 */
export const planStoredCompaction = (
  stored: StoredRoom,
  policy: Pick<StoreCompactionPolicy, 'minLogEntries' | 'targetBytes'>,
): StoreCompactionPlan | null => {
  const chunks = [
    ...stored.segments.map((s) => ({ kind: 'segment' as const, seqLo: s.seqLo, seqHi: s.seqHi, update: s.update })),
    ...stored.log.map((e) => ({ kind: 'log' as const, seqLo: e.seq, seqHi: e.seq, update: e.update })),
  ].sort((a, b) => a.seqLo - b.seqLo);
  const firstLog = chunks.findIndex((c) => c.kind === 'log');
  if (firstLog < 0) return null;
  let end = firstLog;
  let bytes = 0;
  // STORE-11: stopped at an entry too big to join, the run before it can never grow: folded now.
  let blocked = false;
  while (end < chunks.length) {
    const c = chunks[end]!;
    if (c.kind !== 'log') break;
    if (end > firstLog && bytes + c.update.length > policy.targetBytes) {
      blocked = true;
      break;
    }
    bytes += c.update.length;
    end++;
  }
  const count = end - firstLog;
  if (!blocked && count < policy.minLogEntries && bytes < policy.targetBytes / 2) return null;
  if (!blocked && count < 2 && bytes <= policy.targetBytes) return null;
  let start = firstLog;
  const prev = chunks[firstLog - 1];
  if (prev && prev.update.length < policy.targetBytes / 8 && prev.update.length + bytes <= policy.targetBytes) {
    start = firstLog - 1;
  }
  const slice = chunks.slice(start, end);
  return {
    seqLo: slice[0]!.seqLo,
    seqHi: slice[slice.length - 1]!.seqHi,
    updates: slice.map((c) => c.update),
    inputs: { logEntries: count, segments: start < firstLog ? 1 : 0 },
  };
};

/**
 * One compaction run of `room` (see the module comment). `merge` folds updates into one
 * (`mergeInChunks` from mergeInChunks.ts). Rejects when a fenced write is refused; the lease is released
 * (or left to expire) either way.
 */
export const compactStoredRoom = async (
  store: FencedCompactionStore,
  room: string,
  policy: StoreCompactionPolicy,
  merge: (updates: readonly Uint8Array[]) => Uint8Array | Promise<Uint8Array>,
): Promise<StoreCompactionOutcome> => {
  const token = await store.acquireCompaction(room, policy.leaseMs);
  if (token === null) return { kind: 'busy' };
  try {
    const plan = planStoredCompaction(await store.load(room), policy);
    if (!plan) return { kind: 'nothing' };
    const segment = { seqLo: plan.seqLo, seqHi: plan.seqHi, update: await merge(plan.updates) };
    await store.writeSegmentFenced(room, token, segment, plan.inputs);
    await store.deleteCoveredFenced(room, token, plan.seqLo, plan.seqHi);
    return { kind: 'compacted', seqLo: plan.seqLo, seqHi: plan.seqHi, inputs: plan.updates.length };
  } finally {
    await store.releaseCompaction(room, token).catch(() => undefined);
  }
};
