/**
 * An in-memory `RoomUpdateStore` with the same rules as the IndexedDB one (LOCAL-1..9 in
 * ./roomUpdateStore.ts). The app uses it when IndexedDB is unusable (nothing survives the tab:
 * the UI must say so); tests use it as the second implementation of the contract suite.
 *
 * Every method takes effect synchronously when called and settles its promise afterwards, so
 * calls are applied in call order (LOCAL-3); an invalid call or an armed failure rejects and
 * changes nothing. Bytes are copied in and out (LOCAL-9). Keys come from one counter per "disk"
 * that never goes back (LOCAL-5).
 *
 * Test hooks model what IndexedDB does to a store from outside: `failNextWrite` (a quota or disk
 * error), `failNextLoad` (a read of a database being deleted), `simulateConnectionLoss` (another tab or the browser closed the connection),
 * `simulateEviction` (updates vanish behind the store's back) and `reopen` (a page reload over
 * the same data).
 */
import {
  applyMetaPatch,
  assertCompaction,
  assertCounters,
  assertRoom,
  assertUpdate,
  copyBytes,
  ErrorListeners,
  StorageError,
  StorageErrorKind,
  toStorageError,
  type AppendedMissing,
  type RoomCounters,
  type RoomInfo,
  type RoomMeta,
  type MetaPatchOrUpdate,
  type RoomMetaPatch,
  type MetaDurability,
  type RoomUpdateStore,
  type StorageErrorListener,
  type StorageUsage,
  type StoredUpdates,
} from './roomUpdateStore.js';
import { HeldRanges, type HeldRecord } from './heldRanges.js';

interface MemoryRow {
  readonly room: string;
  readonly update: Uint8Array;
}

interface MemoryRecord {
  readonly meta: RoomMeta;
  readonly updates: number;
  readonly bytes: number;
}

/** What survives `reopen()`. Map iteration follows insertion, i.e. key order for `rows`. */
interface MemoryDisk {
  nextKey: number;
  readonly rows: Map<number, MemoryRow>;
  readonly records: Map<string, MemoryRecord>;
  /** LOCAL-12. */
  readonly held: Map<string, HeldRecord>;
}

export class MemoryRoomUpdateStore implements RoomUpdateStore {
  private disk: MemoryDisk = { nextKey: 1, rows: new Map(), records: new Map(), held: new Map() };
  private closed = false;
  private readonly listeners = new ErrorListeners();
  /** Armed failures, consumed one per write call (FIFO). */
  private readonly writeFailures: unknown[] = [];
  /** Armed failures, consumed one per `load` (FIFO). */
  private readonly loadFailures: unknown[] = [];
  /** While writes are held (`holdWrites`) or still draining after: the last write's settling, so writes stay in order. */
  private heldTail: Promise<unknown> | null = null;

  /**
   * Test hook: the next write (append, appendMissing, held — it saves what it folded in —,
   * compact, setMeta, setMetaIf, deleteRoom; after any earlier armed ones) rejects with `toStorageError(error)` and stores nothing. A
   * `DOMException('…', 'QuotaExceededError')` becomes kind `quota`.
   */
  failNextWrite(error: unknown): void {
    this.writeFailures.push(error);
  }

  /**
   * Test hook: writes wait (in order) until the returned function is called, as a slow strict
   * IndexedDB transaction does; reads do not. A write issued while earlier ones still wait queues
   * behind them.
   */
  holdWrites(): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.queueHeld((this.heldTail ?? Promise.resolve()).then(() => gate));
    return release;
  }

  /** `p` is the last held write (or gate) now; once it settles with nothing behind it, writes run at once again. */
  private queueHeld(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.heldTail = settled;
    void settled.then(() => {
      if (this.heldTail === settled) this.heldTail = null;
    });
  }

  /**
   * Test hook: the next `load` rejects with `toStorageError(error)`, as IndexedDB's does when the
   * database it reopens is being deleted (the origin's data cleared under an open page).
   */
  failNextLoad(error: unknown): void {
    this.loadFailures.push(error);
  }

  /** Test hook (LOCAL-8): reports a lost connection; like the IndexedDB store, the next call works. */
  simulateConnectionLoss(): void {
    if (this.closed) return;
    this.listeners.emit(
      new StorageError(StorageErrorKind.closed, 'The local database was closed; it will be reopened.'),
    );
  }

  /** Test hook (LOCAL-6): deletes the room's updates (all, or only `keys`) without touching its record. */
  simulateEviction(room: string, keys?: readonly number[]): void {
    for (const [key, row] of [...this.disk.rows]) {
      if (row.room === room && (keys === undefined || keys.includes(key))) this.disk.rows.delete(key);
    }
  }

  /** Test hook: a plain picture of everything stored, to check that an operation wrote nothing. */
  dump(): { rows: [number, string, number[]][]; records: [string, MemoryRecord][] } {
    return {
      rows: [...this.disk.rows].map(([key, row]) => [key, row.room, Array.from(row.update)]),
      records: [...this.disk.records].map(([room, record]) => [room, { ...record, meta: { ...record.meta } }]),
    };
  }

  /** A page reload: closes this store and returns a new one over the same data. */
  reopen(): MemoryRoomUpdateStore {
    this.closed = true;
    const next = new MemoryRoomUpdateStore();
    next.disk = this.disk;
    return next;
  }

  load(room: string): Promise<StoredUpdates> {
    if (this.loadFailures.length > 0) return Promise.reject(toStorageError(this.loadFailures.shift()));
    return this.op(() => {
      assertRoom(room);
      const updates: Uint8Array[] = [];
      const keys: number[] = [];
      for (const [key, row] of this.disk.rows) {
        if (row.room !== room) continue;
        keys.push(key);
        updates.push(copyBytes(row.update));
      }
      const bytes = updates.reduce((sum, update) => sum + update.byteLength, 0);
      const record = this.disk.records.get(room);
      const recorded = record === undefined ? undefined : { updates: record.updates, bytes: record.bytes };
      return { updates, keys, bytes, recorded };
    });
  }

  append(room: string, update: Uint8Array): Promise<void> {
    return this.write(
      () => {
        assertRoom(room);
        assertUpdate(update);
      },
      () => {
        const copy = copyBytes(update);
        this.disk.rows.set(this.disk.nextKey++, { room, update: copy });
        const record = this.record(room);
        this.disk.records.set(room, { ...record, updates: record.updates + 1, bytes: record.bytes + copy.byteLength });
      },
    );
  }

  compact(room: string, merged: Uint8Array, replaces: readonly number[]): Promise<boolean> {
    return this.write(
      () => {
        assertRoom(room);
        assertCompaction(merged, replaces);
      },
      () => {
        for (const key of replaces) {
          const row = this.disk.rows.get(key);
          // Another tab compacted first: its merge already holds these rows. Change nothing.
          if (row === undefined) return false;
          if (row.room !== room) throw new RangeError(`update key ${key} belongs to another room`);
        }
        const copy = copyBytes(merged);
        for (const key of replaces) this.disk.rows.delete(key);
        this.disk.rows.set(this.disk.nextKey++, { room, update: copy });
        // LOCAL-6: compaction recounts what is really stored, so a loss it repaired is not reported again.
        let updates = 0;
        let bytes = 0;
        for (const row of this.disk.rows.values()) {
          if (row.room !== room) continue;
          updates++;
          bytes += row.update.byteLength;
        }
        this.disk.records.set(room, { ...this.record(room), updates, bytes });
        return true;
      },
    );
  }

  held(room: string): Promise<HeldRanges | undefined> {
    return this.write(
      () => assertRoom(room),
      () => {
        const held = this.foldIn(room);
        if (held.folded > 0) this.disk.held.set(room, held.toRecord(room));
        let stored = 0;
        for (const row of this.disk.rows.values()) if (row.room === room) stored++;
        // LOCAL-6: rows vanished behind the store's back; the ranges could claim them.
        return stored === (this.disk.records.get(room)?.updates ?? 0) ? held : undefined;
      },
    );
  }

  appendMissing(room: string, updates: readonly Uint8Array[]): Promise<AppendedMissing> {
    return this.write(
      () => {
        assertRoom(room);
        for (const update of updates) assertUpdate(update);
      },
      () => {
        const held = this.foldIn(room);
        const before = this.record(room);
        const { missing, deletesOlder } = held.selectMissing(updates);
        const appended = missing.map(copyBytes);
        let bytes = 0;
        for (const copy of appended) {
          held.upTo = this.disk.nextKey++;
          this.disk.rows.set(held.upTo, { room, update: copy });
          bytes += copy.byteLength;
        }
        if (appended.length > 0) {
          this.disk.records.set(room, {
            ...before,
            updates: before.updates + appended.length,
            bytes: before.bytes + bytes,
          });
        }
        this.disk.held.set(room, held.toRecord(room));
        return {
          appended: appended.map(copyBytes),
          before: { updates: before.updates, bytes: before.bytes },
          deletesOlder,
        };
      },
    );
  }

  listRooms(): Promise<RoomInfo[]> {
    return this.op(() =>
      [...this.disk.records.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([room, record]) => ({ room, meta: { ...record.meta }, updates: record.updates, bytes: record.bytes })),
    );
  }

  getMeta(room: string): Promise<RoomMeta | undefined> {
    return this.op(() => {
      assertRoom(room);
      const record = this.disk.records.get(room);
      return record === undefined ? undefined : { ...record.meta };
    });
  }

  /** `durability` is moot in memory: every write survives exactly as long as this object. */
  setMeta(room: string, patch: MetaPatchOrUpdate, _durability?: MetaDurability): Promise<void> {
    return this.write(
      () => {
        assertRoom(room);
        if (typeof patch !== 'function') applyMetaPatch({}, patch);
      },
      () => {
        const record = this.record(room);
        const made = typeof patch === 'function' ? patch({ ...record.meta }) : patch;
        this.disk.records.set(room, { ...record, meta: applyMetaPatch(record.meta, made) });
      },
    );
  }

  setMetaIf(room: string, patch: RoomMetaPatch, at: RoomCounters): Promise<boolean> {
    return this.write(
      () => {
        assertRoom(room);
        assertCounters(at);
        applyMetaPatch({}, patch);
      },
      () => {
        const record = this.disk.records.get(room);
        if (record === undefined || record.updates !== at.updates || record.bytes !== at.bytes) return false;
        this.disk.records.set(room, { ...record, meta: applyMetaPatch(record.meta, patch) });
        return true;
      },
    );
  }

  deleteRoom(room: string): Promise<void> {
    return this.write(
      () => assertRoom(room),
      () => {
        this.simulateEviction(room);
        this.disk.records.delete(room);
        this.disk.held.delete(room);
      },
    );
  }

  estimate(): Promise<StorageUsage | undefined> {
    let usage = 0;
    for (const row of this.disk.rows.values()) usage += row.update.byteLength;
    return Promise.resolve({ usage });
  }

  persist(): Promise<boolean> {
    // Memory is never durable.
    return Promise.resolve(false);
  }

  onError(listener: StorageErrorListener): () => void {
    return this.listeners.add(listener);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** LOCAL-12: the room's held ranges with every row appended since the last fold added. */
  private foldIn(room: string): HeldRanges {
    const held = new HeldRanges(this.disk.held.get(room));
    for (const [key, row] of this.disk.rows) if (row.room === room && key > held.upTo) held.foldRow(key, row.update);
    return held;
  }

  private record(room: string): MemoryRecord {
    return this.disk.records.get(room) ?? { meta: {}, updates: 0, bytes: 0 };
  }

  /**
   * Runs `fn` now (a Promise executor runs synchronously); a throw becomes a rejection. Argument
   * errors (TypeError, RangeError) pass through as programming errors; anything else is a
   * StorageError, reported to listeners (LOCAL-2).
   */
  private op<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      if (this.closed) throw new StorageError(StorageErrorKind.closed, 'The local database was closed by the app.');
      resolve(fn());
    }).catch((error: unknown) => {
      if (error instanceof TypeError || error instanceof RangeError || this.closed) throw error;
      const storageError = toStorageError(error);
      this.listeners.emit(storageError);
      throw storageError;
    });
  }

  /**
   * A write: argument errors first (they leave an armed failure armed, as in the IndexedDB store
   * where they reject before any transaction), then an armed failure, then the change. `apply`
   * checks everything that can refuse before it mutates, so a refusal changes nothing.
   */
  private write<T>(validate: () => void, apply: () => T): Promise<T> {
    const run = (): Promise<T> =>
      this.op(() => {
        validate();
        if (this.writeFailures.length > 0) throw toStorageError(this.writeFailures.shift());
        return apply();
      });
    const tail = this.heldTail;
    if (tail === null) return run();
    const p = tail.then(run);
    this.queueHeld(p);
    return p;
  }
}
