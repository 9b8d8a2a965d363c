/// <reference lib="dom" />
/**
 * Where the client keeps its rooms on this device: each room is the list of Yjs updates that
 * were stored for it, plus a small record for the lobby (meta and counters).
 *
 * y-indexeddb, the stock provider, gets this wrong in ways that lose or bloat data (see
 * "IndexedDB facts" in the relay notes): it writes a full-state row on every page load, surfaces
 * no errors, can hang forever in private mode or on quota, keeps writing to a connection another
 * tab closed and never asks for durable commits. The rules below are what every
 * `RoomUpdateStore` promises instead (ids are cited in docs/SPEC.md and in test names):
 *
 * LOCAL-1  Durable append. `append` writes in a transaction opened with `{durability: 'strict'}`
 *          and resolves only after that transaction's `complete` event. Only then may the UI
 *          show the edit as stored on this device. Every other write (compact, setMeta,
 *          deleteRoom) is strict too.
 * LOCAL-2  Failures are typed and every call settles. A failed operation rejects with a
 *          `StorageError` (kind `quota` | `closed` | `unavailable` | `unknown`, message for the
 *          UI) and is also reported to `onError` listeners; a failed write stores nothing (its
 *          transaction aborted). The store waits on the transaction's outcome, not on request
 *          callbacks (which may never fire on quota errors), and opening has a timeout (a
 *          blocked upgrade or Safari's open bug would otherwise hang forever). Invalid arguments
 *          are programming errors: they reject with a TypeError/RangeError and touch nothing.
 * LOCAL-3  `load` returns every stored update of the room in the order it was stored, with
 *          the keys that `compact` needs. Rooms are isolated. Calls made without awaiting are
 *          stored in call order while the connection stays up (Yjs does not need the order;
 *          it makes the store easier to reason about).
 * LOCAL-4  Reading never writes: `load`, `listRooms`, `getMeta` and `estimate` change nothing,
 *          so reloading a page never grows the store. The matching caller duty: append only
 *          updates that did not come from this store (local edits, validated remote updates),
 *          never the doc's full state on open, and compact only through `shouldCompact`.
 * LOCAL-5  Atomic compaction. `compact(room, merged, keys)` adds `merged` and deletes `keys` in
 *          one strict transaction: a reader (another tab, a crash) sees all of it or none. It
 *          applies only if every key is still stored for that room; otherwise (another tab
 *          compacted first) it changes nothing and resolves `false`. `merged` must hold every
 *          replaced update (the caller's `Y.mergeUpdates` of exactly the loaded updates). Keys
 *          are never reused, not even after the database is deleted and recreated.
 * LOCAL-6  Loss detection. Each room's record counts its stored updates and bytes, updated in
 *          the same transaction as the updates themselves, and `load` returns it from the same
 *          snapshot. A record that claims more than `load` finds means data vanished behind the
 *          store's back (`detectLoss`: `evicted` or `partial`). Limit: when the browser evicts
 *          the whole origin, the records go too; this rule cannot see that.
 * LOCAL-7  Meta. `setMeta` merges a patch into the room's meta in one transaction (a key set to
 *          `undefined` is removed), so two tabs updating different fields lose neither; a patch
 *          given as a function of the stored meta is computed in that transaction, so two tabs
 *          merging into the same field lose neither either. Meta never touches updates;
 *          `listRooms` returns every room with an update or meta.
 * LOCAL-8  Connection loss. On `versionchange` (another tab deletes or upgrades the database)
 *          the store closes its connection at once, so it never blocks the other tab; on the
 *          browser's `close` it drops the connection too. Either way it reports a
 *          `StorageError` of kind `closed` to `onError`, and the next call reopens. What it
 *          reopens may not hold what it held (another tab may have reset it): a caller that keeps
 *          a live doc must, on `closed`, `load` the room again and re-append its full state if
 *          the room is gone. A `close()` by the app is final: later calls reject with `closed`.
 * LOCAL-9  Bytes are copied: the store keeps exactly the bytes of the view it was given (never
 *          the rest of its buffer) and returns fresh `Uint8Array`s the caller may mutate.
 *
 * LOCAL-10 (falling back to memory when IndexedDB is unusable) is stated in ./openRoomUpdateStore.ts.
 *
 * LOCAL-12 Held ranges (./heldRanges.ts). `held` answers what the room's stored updates hold
 *          (struct and deletion clock ranges, and from them a state vector that never claims
 *          past a gap) without loading them: it folds in only the rows appended since it last
 *          ran (by any tab) and saves the result, in one strict transaction. It resolves
 *          `undefined` when the room's record counts other than the rows stored (LOCAL-6: rows
 *          vanished, the ranges could over-claim). `appendMissing` appends, in one strict
 *          transaction, only those updates that hold a struct or deletion not yet held, and
 *          records them as held: a refresh that brings nothing new writes no row. Neither changes
 *          what `load`, `listRooms` or `getMeta` return beyond the rows appended (LOCAL-4 holds).
 *
 * LOCAL-13 Conditional meta. `setMetaIf(room, patch, at)` merges `patch` like `setMeta`, in one
 *          strict transaction, only when the room's record exists and its counters (LOCAL-6) are
 *          exactly `at`; otherwise it writes nothing and resolves `false`. A value derived from
 *          the room's rows (LOBBY-2's kept summary) is then never stored beside rows it was not
 *          derived from by a tab that lost a race, and never recreates a room another tab deleted.
 *
 * The store holds opaque bytes: validating remote updates (shared/updateV1.ts) before they are
 * applied or appended is the caller's job.
 */

import type { HeldRanges } from './heldRanges.js';

/** Compact a room once it has more than this many stored updates (see `shouldCompact`). */
export const COMPACT_AFTER_UPDATES = 100;

/**
 * The caller's compaction policy (LOCAL-4, LOCAL-5): after a load, merge when the room has more
 * than `COMPACT_AFTER_UPDATES` updates. A compacted room holds one update, so reloading a page
 * compacts at most once and never grows the store.
 */
export function shouldCompact(stats: { readonly updates: number | readonly unknown[] }): boolean {
  const count = typeof stats.updates === 'number' ? stats.updates : stats.updates.length;
  return count > COMPACT_AFTER_UPDATES;
}

export const StorageErrorKind = {
  /** The browser refused the write for lack of space. Nothing was stored. */
  quota: 'quota',
  /** The connection was closed (another tab, the browser, `close()`); the next call reopens. */
  closed: 'closed',
  /** IndexedDB cannot be used here (private mode, blocked, disabled). */
  unavailable: 'unavailable',
  unknown: 'unknown',
} as const;
export type StorageErrorKind = (typeof StorageErrorKind)[keyof typeof StorageErrorKind];

export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Messages meant for the UI, by kind. */
const defaultMessages: Record<StorageErrorKind, string> = {
  quota: 'This device is out of storage space: recent messages are not saved locally.',
  closed: 'The local database was closed; it will be reopened.',
  unavailable: 'Local storage is unavailable on this device.',
  unknown: 'Local storage failed.',
};

/**
 * Maps what IndexedDB throws (DOMExceptions, by name) to a `StorageError`. A `StorageError`
 * passes through unchanged.
 */
export function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
  const detail = typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : '';
  const kind = kindByName[name] ?? StorageErrorKind.unknown;
  const base =
    name === 'VersionError'
      ? 'A newer version of Converge changed the local database: reload this page.'
      : defaultMessages[kind];
  return new StorageError(kind, detail ? `${base} (${name}: ${detail})` : base, { cause: error });
}

const kindByName: Record<string, StorageErrorKind> = {
  QuotaExceededError: StorageErrorKind.quota,
  // Old Firefox name for the same condition.
  NS_ERROR_DOM_QUOTA_REACHED: StorageErrorKind.quota,
  // A transaction aborted without an error of its own: the connection was force-closed (we
  // never abort without throwing our own error first).
  AbortError: StorageErrorKind.closed,
  // A transaction on a connection that is closing or closed.
  InvalidStateError: StorageErrorKind.closed,
  // Another tab upgraded the database past the version this code knows.
  VersionError: StorageErrorKind.closed,
  SecurityError: StorageErrorKind.unavailable,
  NotFoundError: StorageErrorKind.unavailable,
  TimeoutError: StorageErrorKind.unavailable,
};

/** A room record's counters (LOCAL-6). */
export interface RoomCounters {
  readonly updates: number;
  readonly bytes: number;
}

/** What `load` returns (LOCAL-3, LOCAL-6). */
export interface StoredUpdates {
  /** Every stored update of the room, in the order stored. Fresh copies (LOCAL-9). */
  readonly updates: Uint8Array[];
  /** `keys[i]` identifies `updates[i]`; pass (a subset of) them to `compact`. */
  readonly keys: number[];
  /** Sum of `updates[i].byteLength`. */
  readonly bytes: number;
  /** The room record's counters from the same snapshot; undefined when the room has no record. */
  readonly recorded: { readonly updates: number; readonly bytes: number } | undefined;
}

/** What `appendMissing` did (LOCAL-12). */
export interface AppendedMissing {
  /** The updates appended, in order: a copy of each one that held something new. */
  readonly appended: readonly Uint8Array[];
  /** The room record's counters just before them, from the same transaction. */
  readonly before: { readonly updates: number; readonly bytes: number };
  /**
   * True when an appended update deletes something other than the structs the appended updates
   * bring (something stored before, or unknown here): a reader that keeps a summary of the room
   * cannot derive the change from the appended updates alone.
   */
  readonly deletesOlder: boolean;
}

/** Small per-room data for the lobby, owned by the caller (LOCAL-7). */
export interface RoomMeta {
  readonly title?: string;
  /** Milliseconds since the epoch. */
  readonly lastOpenedAt?: number;
  /** Id of the last message the user has seen: the unread marker. */
  readonly lastReadMessageId?: string;
  /**
   * What the room's doc held when `lastReadMessageId` was read: its state vector, base64 (UNREAD-1,
   * client/sync/readMark.ts). Written with it; absent in marks older than the rule.
   */
  readonly readSv?: string;
  /** Unsent composer text. Callers debounce it: every setMeta is a strict (fsync'd) write. */
  readonly draft?: string;
  /** When `draft` was typed (ms since the epoch; also when it was cleared): DRAFT-1's newer copy wins. */
  readonly draftAt?: number;
  /** Owned by client/sync: a small JSON of acked and seen clocks and late message ids (STATE-1, LATE-1). */
  readonly sync?: string;
  /** Owned by client/ui: the lobby's last summary of the room, JSON, written with `setMetaIf` (LOBBY-2). */
  readonly lobby?: string;
  /** Owned by client/sync: the title this device last set, JSON, until its fate is known (CHAT-9). */
  readonly ownTitle?: string;
}

export type MetaDurability = 'strict' | 'relaxed';

/** A patch for `setMeta`: keys that are present replace, keys set to `undefined` are removed. */
export type RoomMetaPatch = { readonly [K in keyof RoomMeta]?: RoomMeta[K] | undefined };

/** A patch, or how to make one from the meta stored now (LOCAL-7). */
export type MetaPatchOrUpdate = RoomMetaPatch | ((meta: RoomMeta) => RoomMetaPatch);

export interface RoomInfo {
  readonly room: string;
  readonly meta: RoomMeta;
  /** Updates stored now, as counted by the store's own writes (LOCAL-6). */
  readonly updates: number;
  /** Bytes stored now (sum of update lengths). */
  readonly bytes: number;
}

/** `navigator.storage.estimate()`, when the browser has it. */
export interface StorageUsage {
  readonly usage?: number;
  readonly quota?: number;
}

export type StorageErrorListener = (error: StorageError) => void;

export interface RoomUpdateStore {
  /** LOCAL-12: what the room's stored updates hold; `undefined` when rows vanished (LOCAL-6). */
  held(room: string): Promise<HeldRanges | undefined>;
  /**
   * LOCAL-12: appends (durably, LOCAL-1, all in one transaction) those of `updates` that hold
   * something the stored ones do not. Like `append`: only for updates the caller validated.
   */
  appendMissing(room: string, updates: readonly Uint8Array[]): Promise<AppendedMissing>;
  /** Every stored update of the room (LOCAL-3); an unknown room loads empty. Writes nothing. */
  load(room: string): Promise<StoredUpdates>;
  /** Stores one update durably (LOCAL-1). `update` must be non-empty. */
  append(room: string, update: Uint8Array): Promise<void>;
  /**
   * Replaces `replaces` (keys from `load`) by `merged` atomically (LOCAL-5). Resolves `true` when
   * applied, `false` when some key is no longer stored (nothing changed). Rejects with a
   * RangeError for an empty or duplicate key list or a key of another room.
   */
  compact(room: string, merged: Uint8Array, replaces: readonly number[]): Promise<boolean>;
  /** Every room with updates or meta, sorted by room name. */
  listRooms(): Promise<RoomInfo[]>;
  getMeta(room: string): Promise<RoomMeta | undefined>;
  /**
   * Merges `patch` into the room's meta (LOCAL-7); creates the room's record if needed. Strict
   * (fsync'd) unless `durability` is 'relaxed': written when the promise resolves, so it survives
   * a crash of the browser, but not necessarily of the system (power loss); for drafts (DRAFT-1).
   * A function patch is computed from the meta in the same transaction (synchronously, so keep it
   * small): a read-merge-write that no other tab's write can slip into (the sync meta's clocks).
   */
  setMeta(room: string, patch: MetaPatchOrUpdate, durability?: MetaDurability): Promise<void>;
  /**
   * LOCAL-13: merges `patch` only when the room's record exists with exactly the counters `at`;
   * resolves whether it did. Never creates a record.
   */
  setMetaIf(room: string, patch: RoomMetaPatch, at: RoomCounters): Promise<boolean>;
  /** Deletes the room's updates and record in one transaction. An unknown room is fine. */
  deleteRoom(room: string): Promise<void>;
  /** Storage usage, when the browser reports it; never rejects. */
  estimate(): Promise<StorageUsage | undefined>;
  /**
   * Asks the browser to keep this origin's data (`navigator.storage.persist()`): Safari deletes
   * it after 7 days without interaction otherwise. Resolves whether it is granted; never rejects.
   * Call it after a user action (Firefox may prompt), not on page load.
   */
  persist(): Promise<boolean>;
  /** Every `StorageError`, including connection losses nobody was waiting for (LOCAL-8). */
  onError(listener: StorageErrorListener): () => void;
  /** Final: later calls reject with kind `closed`. Idempotent. */
  close(): Promise<void>;
}

export const LossStatus = {
  none: 'none',
  /** The record says updates were stored, and none are left. */
  evicted: 'evicted',
  /** Some updates are left, but fewer (or other bytes) than the record says. */
  partial: 'partial',
} as const;
export type LossStatus = (typeof LossStatus)[keyof typeof LossStatus];

/**
 * LOCAL-6: compares what `load` found with the room record read in the same snapshot. Anything
 * but `none` means the updates vanished without the store deleting them (browser eviction of
 * one store, a manual clear, a bug): the caller should fetch the room from the relay again and
 * tell the user.
 */
export function detectLoss(loaded: StoredUpdates): LossStatus {
  const recorded = loaded.recorded;
  if (recorded === undefined || recorded.updates === 0) return LossStatus.none;
  if (loaded.updates.length === 0) return LossStatus.evicted;
  if (loaded.updates.length !== recorded.updates || loaded.bytes !== recorded.bytes) return LossStatus.partial;
  return LossStatus.none;
}

// ---- Helpers shared by the implementations (not part of the interface). ----

/**
 * A copy of exactly the bytes of the view. Structured clone (what IndexedDB stores) would keep
 * a subarray's whole underlying buffer, and the caller may reuse the buffer afterwards.
 */
export function copyBytes(view: Uint8Array): Uint8Array {
  return new Uint8Array(view);
}

export function assertRoom(room: unknown): asserts room is string {
  if (typeof room !== 'string') throw new TypeError('room must be a string');
}

export function assertUpdate(update: unknown): asserts update is Uint8Array {
  if (!(update instanceof Uint8Array)) throw new TypeError('update must be a Uint8Array');
  // No Yjs update is empty (the empty update is two bytes): a zero-length one is a caller bug.
  if (update.byteLength === 0) throw new RangeError('update must not be empty');
}

export function assertCounters(at: unknown): asserts at is RoomCounters {
  const count = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (
    typeof at !== 'object' ||
    at === null ||
    !count((at as RoomCounters).updates) ||
    !count((at as RoomCounters).bytes)
  ) {
    throw new TypeError('counters must be { updates, bytes } of non-negative integers');
  }
}

export function assertCompaction(merged: unknown, replaces: unknown): asserts replaces is readonly number[] {
  assertUpdate(merged);
  if (!Array.isArray(replaces) || replaces.length === 0) throw new RangeError('compact needs keys to replace');
  const seen = new Set<number>();
  for (const key of replaces as unknown[]) {
    if (typeof key !== 'number' || !Number.isSafeInteger(key) || key < 0) {
      throw new RangeError(`invalid update key ${String(key)}`);
    }
    if (seen.has(key)) throw new RangeError(`duplicate update key ${key}`);
    seen.add(key);
  }
}

const metaTypes: Record<keyof RoomMeta, 'string' | 'number'> = {
  title: 'string',
  lastOpenedAt: 'number',
  lastReadMessageId: 'string',
  readSv: 'string',
  draft: 'string',
  draftAt: 'number',
  sync: 'string',
  lobby: 'string',
  ownTitle: 'string',
};

/** LOCAL-7: the patch applied to `meta`; validates first, so a bad patch changes nothing. */
export function applyMetaPatch(meta: RoomMeta, patch: RoomMetaPatch): RoomMeta {
  if (typeof patch !== 'object' || patch === null) throw new TypeError('meta patch must be an object');
  const next: Record<string, unknown> = { ...meta };
  for (const [key, value] of Object.entries(patch)) {
    const type = (metaTypes as Record<string, string | undefined>)[key];
    if (type === undefined) throw new TypeError(`unknown meta field ${JSON.stringify(key)}`);
    if (value === undefined) {
      delete next[key];
    } else if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) {
      throw new TypeError(`meta field ${key} must be a ${type === 'number' ? 'finite number' : type}`);
    } else {
      next[key] = value;
    }
  }
  return next;
}

/** Calls every listener; a throwing listener neither stops the others nor breaks the store. */
export class ErrorListeners {
  private readonly listeners = new Set<StorageErrorListener>();

  add(listener: StorageErrorListener): () => void {
    // Wrapped so the same function added twice is called twice and removed once per handle.
    const entry: StorageErrorListener = (error) => listener(error);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(error: StorageError): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(error);
      } catch (thrown) {
        // Surface it as an uncaught error without unwinding the store's own code.
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
  }
}
