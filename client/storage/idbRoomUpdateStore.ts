/// <reference lib="dom" />
/**
 * `RoomUpdateStore` on IndexedDB (rules LOCAL-1..9 in ./roomUpdateStore.ts).
 *
 * Schema (version 2):
 *   updates  autoIncrement key -> { room, update }, index `room` on `room`. An index orders equal
 *            room names by primary key, so a room's rows come back in append order (LOCAL-3).
 *   rooms    keyPath `room` -> { room, meta, updates, bytes }: the lobby's meta plus counters
 *            kept in the same transaction as the rows they count (LOCAL-6).
 *   held     keyPath `room` -> HeldRecord (./heldRanges.ts, LOCAL-12; added in version 2): the
 *            clock ranges the room's rows hold, up to a row key. Version 1 databases get the
 *            store on upgrade, empty: each room's ranges are computed once, on first use.
 *
 * Every operation is one transaction over both stores; writes are opened with
 * `{durability: 'strict'}` (Chrome defaults to relaxed since 121) and an operation resolves only
 * after the transaction's `complete` (LOCAL-1). The outcome is taken from the transaction
 * (`tx.done`), never from request callbacks alone (LOCAL-2): on a quota error a browser aborts
 * the transaction, and the requests only see a generic AbortError (or nothing).
 *
 * The connection is opened lazily and shared; every operation chains on the same connection
 * promise, so operations create their transactions in call order (LOCAL-3). On `versionchange`
 * the connection is closed at once (LOCAL-8), which is what lets another tab delete or upgrade
 * the database; the next operation reopens.
 *
 * `idb`'s `openDB` always uses the global `indexedDB`, so the connection is opened here on the
 * injected factory and wrapped with `idb`'s `wrap` (its typed API and `tx.done`).
 */
import { wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
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

export const DEFAULT_DB_NAME = 'converge';
export const SCHEMA_VERSION = 2;
/**
 * How long opening may take before the store gives up (LOCAL-2). Opening waits for other tabs
 * to close old connections when it upgrades, and Safari has shipped versions whose first open
 * never answered; without a limit the app would never start.
 */
export const DEFAULT_OPEN_TIMEOUT_MS = 5_000;

/**
 * Keys are never reused (LOCAL-5), not even after the database is deleted and recreated by
 * another tab: a new database starts its key generator at a random offset below this bound, so a
 * compaction still holding keys from the old database cannot delete rows of the new one. 2^40
 * leaves 2^53 - 2^40 appends of headroom.
 */
const KEY_START_RANGE = 2 ** 40;

const STORES = ['updates', 'rooms', 'held'] as const;
type Stores = typeof STORES;

interface UpdateRow {
  readonly room: string;
  readonly update: Uint8Array;
}

interface RoomRecord {
  readonly room: string;
  readonly meta: RoomMeta;
  readonly updates: number;
  readonly bytes: number;
}

interface ConvergeSchema extends DBSchema {
  updates: { key: number; value: UpdateRow; indexes: { room: string } };
  rooms: { key: string; value: RoomRecord };
  held: { key: string; value: HeldRecord };
}

type Tx<Mode extends IDBTransactionMode> = IDBPTransaction<ConvergeSchema, Stores, Mode>;

/** The parts of `navigator.storage` the store uses; injectable for tests. */
export interface StorageManagerLike {
  estimate?(): Promise<StorageUsage>;
  persist?(): Promise<boolean>;
}

export interface IdbRoomUpdateStoreOptions {
  /** Database name; default `converge`. */
  readonly name?: string;
  /** Default: the global `indexedDB` (undefined where there is none: the store is unavailable). */
  readonly indexedDB?: IDBFactory;
  readonly openTimeoutMs?: number;
  /** Default: `navigator.storage` where it exists. */
  readonly storage?: StorageManagerLike;
}

interface Connection {
  readonly raw: IDBDatabase;
  readonly db: IDBPDatabase<ConvergeSchema>;
}

type LossCause = 'deleted' | 'upgraded' | 'terminated' | 'lost';

const lossMessages: Record<LossCause, string> = {
  deleted: 'Another tab deleted the local database; it will be recreated.',
  upgraded: 'Another tab upgraded the local database: reload this page.',
  terminated: 'The browser closed the local database; it will be reopened.',
  lost: 'The connection to the local database was lost; it will be reopened.',
};

export class IdbRoomUpdateStore implements RoomUpdateStore {
  private readonly name: string;
  private readonly factory: IDBFactory | undefined;
  private readonly openTimeoutMs: number;
  private readonly storage: StorageManagerLike | undefined;
  private readonly listeners = new ErrorListeners();
  /** The connection every operation chains on; undefined until needed and after a loss. */
  private ready: Promise<Connection> | undefined;
  /** The open connection `ready` resolved to, if it is still in use. */
  private current: Connection | undefined;
  private closedByApp = false;

  constructor(options: IdbRoomUpdateStoreOptions = {}) {
    this.name = options.name ?? DEFAULT_DB_NAME;
    this.factory = options.indexedDB ?? (typeof indexedDB === 'undefined' ? undefined : indexedDB);
    this.openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.storage = options.storage ?? (typeof navigator === 'undefined' ? undefined : navigator.storage);
  }

  /** Opens the database now (not lazily), so a caller learns at once whether IndexedDB works. */
  static async open(options: IdbRoomUpdateStoreOptions = {}): Promise<IdbRoomUpdateStore> {
    const store = new IdbRoomUpdateStore(options);
    try {
      await store.connection();
    } catch (error) {
      await store.close();
      throw toStorageError(error);
    }
    return store;
  }

  async load(room: string): Promise<StoredUpdates> {
    assertRoom(room);
    return this.transact('readonly', async (tx) => {
      const index = tx.objectStore('updates').index('room');
      const [rows, keys, record] = await Promise.all([
        index.getAll(room),
        index.getAllKeys(room),
        tx.objectStore('rooms').get(room),
      ]);
      // Structured clone already gave us fresh arrays (LOCAL-9).
      const updates = rows.map((row) => row.update);
      const bytes = updates.reduce((sum, update) => sum + update.byteLength, 0);
      const recorded = record === undefined ? undefined : { updates: record.updates, bytes: record.bytes };
      return { updates, keys, bytes, recorded };
    });
  }

  async append(room: string, update: Uint8Array): Promise<void> {
    assertRoom(room);
    assertUpdate(update);
    return this.transact('readwrite', async (tx) => {
      const copy = copyBytes(update);
      await tx.objectStore('updates').add({ room, update: copy });
      const rooms = tx.objectStore('rooms');
      const record = (await rooms.get(room)) ?? emptyRecord(room);
      await rooms.put({ ...record, updates: record.updates + 1, bytes: record.bytes + copy.byteLength });
    });
  }

  async compact(room: string, merged: Uint8Array, replaces: readonly number[]): Promise<boolean> {
    assertRoom(room);
    assertCompaction(merged, replaces);
    return this.transact('readwrite', async (tx) => {
      const updates = tx.objectStore('updates');
      const rows = await Promise.all(replaces.map((key) => updates.get(key)));
      for (const [i, row] of rows.entries()) {
        // Another tab compacted first: its merge already holds these rows. Write nothing.
        if (row === undefined) return false;
        if (row.room !== room) throw new RangeError(`update key ${replaces[i]} belongs to another room`);
      }
      const copy = copyBytes(merged);
      await Promise.all([updates.add({ room, update: copy }), ...replaces.map((key) => updates.delete(key))]);
      // LOCAL-6: compaction recounts what is really stored (in this transaction), so a loss it
      // repaired is not reported again. Compaction is rare and the room has few rows by then.
      const remaining = await updates.index('room').getAll(room);
      const rooms = tx.objectStore('rooms');
      const record = (await rooms.get(room)) ?? emptyRecord(room);
      await rooms.put({
        ...record,
        updates: remaining.length,
        bytes: remaining.reduce((n, row) => n + row.update.byteLength, 0),
      });
      return true;
    });
  }

  async held(room: string): Promise<HeldRanges | undefined> {
    assertRoom(room);
    return this.transact('readwrite', async (tx) => {
      const held = await foldIn(tx, room);
      const [stored, record] = await Promise.all([
        tx.objectStore('updates').index('room').count(room),
        tx.objectStore('rooms').get(room),
        held.folded > 0 ? tx.objectStore('held').put(held.toRecord(room)) : undefined,
      ]);
      // LOCAL-6: rows vanished behind the store's back; the ranges could claim them.
      return stored === (record?.updates ?? 0) ? held : undefined;
    });
  }

  async appendMissing(room: string, updates: readonly Uint8Array[]): Promise<AppendedMissing> {
    assertRoom(room);
    for (const update of updates) assertUpdate(update);
    return this.transact('readwrite', async (tx) => {
      const held = await foldIn(tx, room);
      const rooms = tx.objectStore('rooms');
      const record = (await rooms.get(room)) ?? emptyRecord(room);
      const { missing, deletesOlder } = held.selectMissing(updates);
      const appended = missing.map(copyBytes);
      const rows = tx.objectStore('updates');
      let bytes = 0;
      for (const copy of appended) {
        // The transaction holds every store: no other row can get a key between the fold and this.
        held.upTo = await rows.add({ room, update: copy });
        bytes += copy.byteLength;
      }
      if (appended.length > 0) {
        await rooms.put({ ...record, updates: record.updates + appended.length, bytes: record.bytes + bytes });
      }
      await tx.objectStore('held').put(held.toRecord(room));
      return {
        appended: appended.map(copyBytes),
        before: { updates: record.updates, bytes: record.bytes },
        deletesOlder,
      };
    });
  }

  listRooms(): Promise<RoomInfo[]> {
    return this.transact('readonly', async (tx) => {
      const records = await tx.objectStore('rooms').getAll();
      return records.map(({ room, meta, updates, bytes }) => ({ room, meta, updates, bytes }));
    });
  }

  async getMeta(room: string): Promise<RoomMeta | undefined> {
    assertRoom(room);
    return this.transact('readonly', async (tx) => (await tx.objectStore('rooms').get(room))?.meta);
  }

  async setMeta(room: string, patch: MetaPatchOrUpdate, durability: MetaDurability = 'strict'): Promise<void> {
    assertRoom(room);
    // Validates a whole patch before any transaction starts (a function's, inside: an invalid one
    // throws there and aborts the transaction, which stores nothing).
    if (typeof patch !== 'function') applyMetaPatch({}, patch);
    return this.transact(
      'readwrite',
      async (tx) => {
        const rooms = tx.objectStore('rooms');
        const record = (await rooms.get(room)) ?? emptyRecord(room);
        const made = typeof patch === 'function' ? patch({ ...record.meta }) : patch;
        await rooms.put({ ...record, meta: applyMetaPatch(record.meta, made) });
      },
      durability,
    );
  }

  async setMetaIf(room: string, patch: RoomMetaPatch, at: RoomCounters): Promise<boolean> {
    assertRoom(room);
    assertCounters(at);
    applyMetaPatch({}, patch);
    return this.transact('readwrite', async (tx) => {
      const rooms = tx.objectStore('rooms');
      const record = await rooms.get(room);
      if (record === undefined || record.updates !== at.updates || record.bytes !== at.bytes) return false;
      await rooms.put({ ...record, meta: applyMetaPatch(record.meta, patch) });
      return true;
    });
  }

  async deleteRoom(room: string): Promise<void> {
    assertRoom(room);
    return this.transact('readwrite', async (tx) => {
      const updates = tx.objectStore('updates');
      const keys = await updates.index('room').getAllKeys(room);
      await Promise.all([
        ...keys.map((key) => updates.delete(key)),
        tx.objectStore('rooms').delete(room),
        tx.objectStore('held').delete(room),
      ]);
    });
  }

  async estimate(): Promise<StorageUsage | undefined> {
    try {
      if (this.storage?.estimate === undefined) return undefined;
      const { usage, quota } = await this.storage.estimate();
      return { usage, quota };
    } catch {
      return undefined;
    }
  }

  async persist(): Promise<boolean> {
    try {
      return this.storage?.persist === undefined ? false : await this.storage.persist();
    } catch {
      return false;
    }
  }

  onError(listener: StorageErrorListener): () => void {
    return this.listeners.add(listener);
  }

  close(): Promise<void> {
    this.closedByApp = true;
    // close() lets running transactions finish; a connection still opening is closed on arrival.
    this.current?.raw.close();
    this.current = undefined;
    this.ready = undefined;
    return Promise.resolve();
  }

  // ---- Connection handling (LOCAL-2, LOCAL-8). ----

  private connection(): Promise<Connection> {
    if (this.closedByApp) return Promise.reject(closedByAppError());
    if (this.ready === undefined) {
      const ready: Promise<Connection> = this.openConnection().catch((error: unknown) => {
        // Not cached: the next call tries again (the other tab may be gone by then).
        if (this.ready === ready) this.ready = undefined;
        throw error;
      });
      this.ready = ready;
    }
    return this.ready;
  }

  private openConnection(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const factory = this.factory;
      if (factory === undefined) {
        reject(new StorageError(StorageErrorKind.unavailable, 'IndexedDB is not available in this browser.'));
        return;
      }
      let settled = false;
      let blocked = false;
      let request: IDBOpenDBRequest;
      try {
        request = factory.open(this.name, SCHEMA_VERSION);
      } catch (error) {
        // Some private modes throw here instead of failing the request.
        reject(openError(error));
        return;
      }
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        const message = blocked
          ? 'Another open tab of Converge holds an older local database: close or reload that tab.'
          : `The local database did not open within ${this.openTimeoutMs} ms.`;
        reject(new StorageError(StorageErrorKind.unavailable, message));
      }, this.openTimeoutMs);

      request.onblocked = () => {
        blocked = true;
      };
      request.onupgradeneeded = (event) => {
        upgrade(request.result, event.oldVersion);
      };
      request.onerror = (event) => {
        clearTimeout(timer);
        // Handled here; do not let it surface as an uncaught error on the page.
        event.preventDefault();
        if (settled) return;
        settled = true;
        reject(openError(request.error));
      };
      request.onsuccess = () => {
        clearTimeout(timer);
        const raw = request.result;
        if (settled || this.closedByApp) {
          // Too late (timed out) or no longer wanted: never keep a connection nobody uses, it
          // would block other tabs' upgrades.
          raw.close();
          if (!settled) reject(closedByAppError());
          settled = true;
          return;
        }
        settled = true;
        const connection: Connection = { raw, db: wrap(raw) as unknown as IDBPDatabase<ConvergeSchema> };
        raw.onversionchange = (event) => this.lose(connection, event.newVersion === null ? 'deleted' : 'upgraded');
        raw.onclose = () => this.lose(connection, 'terminated');
        this.current = connection;
        resolve(connection);
      };
    });
  }

  /**
   * LOCAL-8: the connection is gone or must go. Closing first matters: another tab's delete or
   * upgrade waits until every connection is closed. Reported once per connection.
   */
  private lose(connection: Connection, cause: LossCause): void {
    connection.raw.close();
    if (this.current !== connection) return;
    this.current = undefined;
    this.ready = undefined;
    if (!this.closedByApp) this.listeners.emit(new StorageError(StorageErrorKind.closed, lossMessages[cause]));
  }

  /**
   * Runs `body` in one transaction over both stores and settles with the transaction's outcome.
   * Callers validate their arguments first (in an async method: a bad argument rejects, it never
   * throws synchronously). Every operation reaches its first `await` (on the shared connection
   * promise) synchronously, which is what keeps transactions in call order (LOCAL-3).
   */
  private async transact<Mode extends 'readonly' | 'readwrite', T>(
    mode: Mode,
    body: (tx: Tx<Mode>) => Promise<T>,
    durability: MetaDurability = 'strict',
  ): Promise<T> {
    let tx: Tx<Mode>;
    try {
      tx = await this.begin(mode, durability);
    } catch (error) {
      throw this.fail(error);
    }
    const done = tx.done;
    const outcome = body(tx).catch((error: unknown) => {
      // Our refusal or a failed request: make sure nothing of this transaction commits.
      try {
        tx.abort();
      } catch {
        // Already aborted or finished.
      }
      throw error;
    });
    try {
      const [value] = await Promise.all([outcome, done]);
      return value;
    } catch (first) {
      const txError = await done.then(
        () => undefined,
        (error: unknown) => error,
      );
      // Our own refusal (a TypeError/RangeError from validation) is the caller's bug: rethrown
      // as is, after the abort has finished, so nothing of it can commit later.
      if (first instanceof TypeError || first instanceof RangeError) throw first;
      // A request's AbortError only echoes the transaction's failure: report the transaction's
      // own error (QuotaExceededError, say) when it has one.
      throw this.fail(isNamed(txError) && txError.name !== 'AbortError' ? txError : first);
    }
  }

  /** A transaction on the current connection; reopens once if the connection turned out closed. */
  private async begin<Mode extends 'readonly' | 'readwrite'>(
    mode: Mode,
    durability: MetaDurability,
  ): Promise<Tx<Mode>> {
    const options: IDBTransactionOptions = mode === 'readwrite' ? { durability } : {};
    const connection = await this.connection();
    try {
      return connection.db.transaction(STORES, mode, options);
    } catch (error) {
      // The connection was closed under us without an event reaching us yet (Safari loses
      // connections this way). Nothing was requested, so one retry on a new connection is safe.
      if (!isNamed(error) || error.name !== 'InvalidStateError' || this.closedByApp) throw error;
      this.lose(connection, 'lost');
      const again = await this.connection();
      return again.db.transaction(STORES, mode, options);
    }
  }

  /** Every failure of an operation: typed, reported to listeners (LOCAL-2). */
  private fail(error: unknown): StorageError {
    const storageError = toStorageError(error);
    if (storageError.kind === StorageErrorKind.unknown && this.current !== undefined) {
      // Unknown failures include a connection the browser broke without telling us (Safari's
      // "Connection to Indexed Database server lost"): start afresh on the next call.
      const broken = this.current;
      this.current = undefined;
      this.ready = undefined;
      broken.raw.close();
    }
    if (!this.closedByApp) this.listeners.emit(storageError);
    return storageError;
  }
}

/** LOCAL-12: the room's held ranges with the rows appended since the last fold added (not saved). */
async function foldIn(tx: Tx<'readwrite'>, room: string): Promise<HeldRanges> {
  const held = new HeldRanges(await tx.objectStore('held').get(room));
  let cursor = await tx.objectStore('updates').index('room').openCursor(room);
  // Index entries of one room are ordered by primary key: jump past the rows already folded.
  if (cursor && cursor.primaryKey <= held.upTo) cursor = await cursor.continuePrimaryKey(room, held.upTo + 1);
  while (cursor) {
    held.foldRow(cursor.primaryKey, cursor.value.update);
    cursor = await cursor.continue();
  }
  return held;
}

function emptyRecord(room: string): RoomRecord {
  return { room, meta: {}, updates: 0, bytes: 0 };
}

/**
 * Runs inside the open request's versionchange transaction, with the raw API: its requests need
 * no promise handling, and any failure aborts the upgrade, which fails the open.
 */
function upgrade(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    const updates = db.createObjectStore('updates', { autoIncrement: true });
    updates.createIndex('room', 'room');
    db.createObjectStore('rooms', { keyPath: 'room' });
    // An explicit numeric key moves the key generator past it (KEY_START_RANGE).
    const start = 1 + Math.floor(Math.random() * KEY_START_RANGE);
    updates.add({ room: '', update: new Uint8Array(1) } satisfies UpdateRow, start);
    updates.delete(start);
  }
  if (oldVersion < 2) db.createObjectStore('held', { keyPath: 'room' });
}

function isNamed(error: unknown): error is { name: string } {
  return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string';
}

/** Errors while opening: only a newer schema (reload) and quota keep their kind. */
function openError(error: unknown): StorageError {
  const storageError = toStorageError(error);
  if (storageError.kind === StorageErrorKind.quota) return storageError;
  if (isNamed(error) && error.name === 'VersionError') return storageError;
  return new StorageError(StorageErrorKind.unavailable, storageError.message, { cause: error });
}

function closedByAppError(): StorageError {
  return new StorageError(StorageErrorKind.closed, 'The local database was closed by the app.');
}
