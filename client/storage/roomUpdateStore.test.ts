/// <reference lib="dom" />
// fake-indexeddb's globals: idb's `wrap` recognises requests and transactions by the global
// IDB* classes. Each test still gets its own `IDBFactory`, so databases never leak between tests.
import { waitFor } from '../../shared/testing/waitFor.js';
import 'fake-indexeddb/auto';
import { forceCloseDatabase, IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { IdbRoomUpdateStore, SCHEMA_VERSION } from './idbRoomUpdateStore.js';
import { MemoryRoomUpdateStore } from './memoryRoomUpdateStore.js';
import { openRoomUpdateStore } from './openRoomUpdateStore.js';
import { roomUpdateStoreContract } from './roomUpdateStore.contract.js';
import {
  COMPACT_AFTER_UPDATES,
  shouldCompact,
  StorageError,
  StorageErrorKind,
  toStorageError,
  type RoomUpdateStore,
} from './roomUpdateStore.js';

const DB = 'converge-test';

/** fake-indexeddb internals the tests drive to fail a transaction the way a browser does. */
interface FakeTransaction {
  _state: string;
  _requests: unknown[];
  _start(): void;
  _abort(name: string): void;
}

/** An IDBFactory that remembers every connection it opened (the store keeps its own private). */
function recordingFactory(): { factory: IDBFactory; inner: IDBFactory; connections: IDBDatabase[] } {
  const inner = new IDBFactory();
  const connections: IDBDatabase[] = [];
  const factory = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'open') {
        return (name: string, version?: number) => {
          const request = target.open(name, version);
          request.addEventListener('success', () => connections.push(request.result));
          return request;
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { factory, inner, connections };
}

/** Opens a raw side connection (another tab), runs `fn`, closes it. */
async function withRaw<T>(factory: IDBFactory, fn: (db: IDBDatabase) => Promise<T>): Promise<T> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(DB, SCHEMA_VERSION);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('open failed'));
  });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('request failed'));
  });
}

function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });
}

async function dumpRaw(factory: IDBFactory): Promise<unknown> {
  return withRaw(factory, async (db) => {
    const tx = db.transaction(['updates', 'rooms'], 'readonly');
    const updates = tx.objectStore('updates');
    const [keys, rows, records] = await Promise.all([
      requestResult(updates.getAllKeys()),
      requestResult(updates.getAll() as IDBRequest<{ room: string; update: Uint8Array }[]>),
      requestResult(tx.objectStore('rooms').getAll()),
    ]);
    return { rows: rows.map((row, i) => [keys[i], row.room, Array.from(row.update)]), records };
  });
}

/** Arms the next readwrite transaction of `db` to abort when it would commit, with `name`. */
function failNextCommit(db: IDBDatabase, name: string): void {
  const original = db.transaction.bind(db);
  db.transaction = function (...args: Parameters<IDBDatabase['transaction']>) {
    const tx = original(...args);
    if (args[1] === 'readwrite') {
      delete (db as Partial<IDBDatabase>).transaction;
      const fake = tx as unknown as FakeTransaction;
      const start = fake._start.bind(fake);
      // Every request succeeds; then, instead of `complete`, the commit fails: what Chrome does
      // when the disk quota is exceeded.
      fake._start = () => {
        if (fake._requests.length === 0 && fake._state !== 'finished') fake._abort(name);
        else start();
      };
    }
    return tx;
  } as IDBDatabase['transaction'];
}

function latest(connections: readonly IDBDatabase[]): IDBDatabase {
  const db = connections.at(-1);
  if (db === undefined) throw new Error('no connection yet');
  return db;
}

/**
 * One turn of the event loop (not a sleep): fake-indexeddb dispatches a forced close's events on
 * the next turn, and the harness has no other signal to wait for.
 */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

roomUpdateStoreContract('MemoryRoomUpdateStore', () => {
  let current = new MemoryRoomUpdateStore();
  return Promise.resolve({
    store: current,
    reopen: () => Promise.resolve((current = current.reopen())),
    failNextWrite: (error) => current.failNextWrite(error),
    loseConnection: () => Promise.resolve(current.simulateConnectionLoss()),
    evict: (room, keys) => Promise.resolve(current.simulateEviction(room, keys)),
    dump: () => Promise.resolve(current.dump()),
    cleanup: () => current.close(),
  });
});

roomUpdateStoreContract('IdbRoomUpdateStore (fake-indexeddb)', async () => {
  // The harness's own side connections go through `inner`, so `connections` are the store's.
  const { factory, inner, connections } = recordingFactory();
  let current = await IdbRoomUpdateStore.open({ indexedDB: factory, name: DB, storage: {} });
  return {
    store: current,
    reopen: async () => {
      await current.close();
      return (current = await IdbRoomUpdateStore.open({ indexedDB: factory, name: DB, storage: {} }));
    },
    failNextWrite: (error) => failNextCommit(latest(connections), error.name),
    loseConnection: async () => {
      forceCloseDatabase(latest(connections) as never);
      await nextTurn();
    },
    evict: (room, keys) =>
      withRaw(inner, async (db) => {
        const tx = db.transaction('updates', 'readwrite');
        const store = tx.objectStore('updates');
        const roomKeys = (await requestResult(store.index('room').getAllKeys(room))) as number[];
        for (const key of roomKeys) if (keys === undefined || keys.includes(key)) store.delete(key);
        await transactionDone(tx);
      }),
    dump: () => dumpRaw(inner),
    cleanup: () => current.close(),
  };
});

describe('IdbRoomUpdateStore', () => {
  let store: IdbRoomUpdateStore | undefined;

  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    await store?.close();
    store = undefined;
  });

  async function open(factory: IDBFactory, extra: Partial<ConstructorParameters<typeof IdbRoomUpdateStore>[0]> = {}) {
    store = await IdbRoomUpdateStore.open({ indexedDB: factory, name: DB, ...extra });
    return store;
  }

  function collect(s: RoomUpdateStore): StorageError[] {
    const reported: StorageError[] = [];
    s.onError((error) => reported.push(error));
    return reported;
  }

  it('LOCAL-1: writes run in strict transactions and resolve only after complete', async () => {
    const s = await open(new IDBFactory());
    const seen: IDBTransaction[] = [];
    const completed = new Set<IDBTransaction>();
    const original = Object.getOwnPropertyDescriptor(IDBDatabase.prototype, 'transaction')!.value as (
      this: IDBDatabase,
      ...args: Parameters<IDBDatabase['transaction']>
    ) => IDBTransaction;
    vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (
      this: IDBDatabase,
      ...args: Parameters<IDBDatabase['transaction']>
    ) {
      const tx = original.apply(this, args);
      seen.push(tx);
      tx.addEventListener('complete', () => completed.add(tx));
      return tx;
    });

    const writes: [string, () => Promise<unknown>][] = [
      ['append', () => s.append('r', Uint8Array.of(1))],
      ['setMeta', () => s.setMeta('r', { title: 't' })],
      ['compact', async () => s.compact('r', Uint8Array.of(2), (await s.load('r')).keys)],
      ['deleteRoom', () => s.deleteRoom('r')],
    ];
    for (const [name, write] of writes) {
      seen.length = 0;
      await write();
      const tx = seen.find((t) => t.mode === 'readwrite');
      expect(tx?.durability, name).toBe('strict');
      expect(completed.has(tx!), name).toBe(true);
    }
  });

  it('LOCAL-2: a request-time abort reports the transaction error (quota), not the requests AbortError', async () => {
    const { factory, connections } = recordingFactory();
    const s = await open(factory);
    const reported = collect(s);
    const db = latest(connections);
    const original = db.transaction.bind(db);
    db.transaction = function (...args: Parameters<IDBDatabase['transaction']>) {
      delete (db as Partial<IDBDatabase>).transaction;
      const tx = original(...args);
      // Aborts while the first request is pending: that request fails with AbortError.
      queueMicrotask(() => (tx as unknown as FakeTransaction)._abort('QuotaExceededError'));
      return tx;
    } as IDBDatabase['transaction'];
    const error = (await s.append('r', Uint8Array.of(1)).catch((e: unknown) => e)) as StorageError;
    expect(error).toBeInstanceOf(StorageError);
    expect(error.kind).toBe(StorageErrorKind.quota);
    expect(reported).toEqual([error]);
    expect((await s.load('r')).updates).toEqual([]);
  });

  it('LOCAL-8: another tab deleting the database is not blocked; the store reports closed and recreates it', async () => {
    const factory = new IDBFactory();
    const s = await open(factory);
    const reported = collect(s);
    await s.append('r', Uint8Array.of(1));
    await requestResult(factory.deleteDatabase(DB));
    expect(reported.map((e) => e.kind)).toEqual([StorageErrorKind.closed]);
    expect(reported[0]!.message).toMatch(/deleted/);
    // LOCAL-8's caller duty: the room is gone, the caller must notice and re-seed it.
    expect((await s.load('r')).updates).toEqual([]);
    await s.append('r', Uint8Array.of(2));
    expect((await s.load('r')).updates).toEqual([Uint8Array.of(2)]);
  });

  it('LOCAL-12: a version 1 database (no held store) upgrades with its rows kept; held ranges are computed on first use', async () => {
    const factory = new IDBFactory();
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 1);
    const update = Y.encodeStateAsUpdate(doc);
    // The version 1 schema, as the previous release created it, with one room.
    const request = factory.open(DB, 1);
    request.onupgradeneeded = () => {
      const updates = request.result.createObjectStore('updates', { autoIncrement: true });
      updates.createIndex('room', 'room');
      request.result.createObjectStore('rooms', { keyPath: 'room' });
    };
    const v1 = await requestResult(request);
    const tx = v1.transaction(['updates', 'rooms'], 'readwrite');
    tx.objectStore('updates').add({ room: 'r', update });
    tx.objectStore('rooms').put({ room: 'r', meta: { title: 'T' }, updates: 1, bytes: update.length });
    await transactionDone(tx);
    v1.close();

    const s = await open(factory);
    expect((await s.load('r')).updates).toEqual([update]);
    expect(await s.getMeta('r')).toEqual({ title: 'T' });
    expect((await s.held('r'))?.stateVector()).toEqual(Y.decodeStateVector(Y.encodeStateVector(doc)));
    expect((await s.appendMissing('r', [update])).appended).toEqual([]);
  });

  it('LOCAL-8: another tab upgrading the database is not blocked; this tab is told to reload and never hangs', async () => {
    const factory = new IDBFactory();
    const s = await open(factory);
    const reported = collect(s);
    await s.append('r', Uint8Array.of(1));
    const newer = await requestResult(factory.open(DB, SCHEMA_VERSION + 1));
    newer.close();
    expect(reported.map((e) => e.kind)).toEqual([StorageErrorKind.closed]);
    expect(reported[0]!.message).toMatch(/reload/);
    const error = (await s.load('r').catch((e: unknown) => e)) as StorageError;
    expect(error.kind).toBe(StorageErrorKind.closed);
    expect(error.message).toMatch(/reload/);
  });

  it('LOCAL-8: an append in flight when another tab deletes the database completes, and the delete is not blocked', async () => {
    const factory = new IDBFactory();
    const s = await open(factory);
    const reported = collect(s);
    await Promise.all([s.append('r', Uint8Array.of(1)), requestResult(factory.deleteDatabase(DB))]);
    expect(reported.map((e) => e.kind)).toEqual([StorageErrorKind.closed]);
  });

  it('LOCAL-8: a connection closed without any event is replaced transparently', async () => {
    const { factory, connections } = recordingFactory();
    const s = await open(factory);
    const reported = collect(s);
    await s.append('r', Uint8Array.of(1));
    latest(connections).close();
    await s.append('r', Uint8Array.of(2));
    expect((await s.load('r')).updates).toEqual([Uint8Array.of(1), Uint8Array.of(2)]);
    expect(reported.map((e) => e.kind)).toEqual([StorageErrorKind.closed]);
    expect(connections).toHaveLength(2);
  });

  it('LOCAL-5: keys from before another tab recreated the database can never delete new rows', async () => {
    const factory = new IDBFactory();
    const s = await open(factory);
    for (let i = 0; i < 3; i++) await s.append('r', Uint8Array.of(i + 1));
    const stale = await s.load('r');
    await requestResult(factory.deleteDatabase(DB));
    for (let i = 0; i < 3; i++) await s.append('r', Uint8Array.of(i + 10));
    const fresh = await s.load('r');
    for (const key of fresh.keys) expect(stale.keys).not.toContain(key);
    expect(await s.compact('r', Uint8Array.of(99), stale.keys)).toBe(false);
    expect((await s.load('r')).updates).toEqual(fresh.updates);
  });

  it('LOCAL-2: an open that never answers times out as unavailable, and a late connection is closed', async () => {
    // A request that never fires an event, like Safari's first open in some versions.
    const hanging = { open: () => ({}) } as unknown as IDBFactory;
    const error = (await IdbRoomUpdateStore.open({ indexedDB: hanging, name: DB, openTimeoutMs: 30 }).catch(
      (e: unknown) => e,
    )) as StorageError;
    expect(error.kind).toBe(StorageErrorKind.unavailable);
  });

  it('LOCAL-2: a late success after the timeout closes the connection it got', async () => {
    const real = new IDBFactory();
    let request: IDBOpenDBRequest | undefined;
    const delayed = {
      open(name: string, version?: number) {
        const inner = real.open(name, version);
        // Hold back the success until the test releases it.
        const handlers: { onsuccess?: () => void } = {};
        const proxy = {
          get result() {
            return inner.result;
          },
          get error() {
            return inner.error;
          },
          set onsuccess(fn: () => void) {
            handlers.onsuccess = fn;
          },
          set onerror(_fn: unknown) {},
          set onblocked(_fn: unknown) {},
          set onupgradeneeded(fn: (event: IDBVersionChangeEvent) => void) {
            inner.onupgradeneeded = fn;
          },
        };
        inner.onsuccess = () => setTimeout(() => handlers.onsuccess?.(), 50);
        request = inner;
        return proxy;
      },
    } as unknown as IDBFactory;
    const error = (await IdbRoomUpdateStore.open({ indexedDB: delayed, name: DB, openTimeoutMs: 10 }).catch(
      (e: unknown) => e,
    )) as StorageError;
    expect(error.kind).toBe(StorageErrorKind.unavailable);
    // The late connection is closed once it opens: it no longer blocks another tab's delete.
    const closed = (): boolean => {
      try {
        request!.result.transaction('updates');
        return false;
      } catch {
        return true;
      }
    };
    await waitFor(() => request?.readyState === 'done' && closed(), 'the late connection closed');
    expect(() => request!.result.transaction('updates')).toThrow();
    await requestResult(real.deleteDatabase(DB));
  });

  it('LOCAL-2: an open that throws (private mode) is unavailable', async () => {
    const throwing = {
      open() {
        throw new DOMException(
          'A mutation operation was attempted on a database that did not allow mutations.',
          'InvalidStateError',
        );
      },
    } as unknown as IDBFactory;
    const error = (await IdbRoomUpdateStore.open({ indexedDB: throwing }).catch((e: unknown) => e)) as StorageError;
    expect(error).toBeInstanceOf(StorageError);
    expect(error.kind).toBe(StorageErrorKind.unavailable);
  });

  it('estimate and persist use the injected storage manager and never reject', async () => {
    const factory = new IDBFactory();
    const s = await open(factory, {
      storage: { estimate: () => Promise.resolve({ usage: 10, quota: 100 }), persist: () => Promise.resolve(true) },
    });
    expect(await s.estimate()).toEqual({ usage: 10, quota: 100 });
    expect(await s.persist()).toBe(true);
    const failing = new IdbRoomUpdateStore({
      indexedDB: factory,
      name: DB,
      storage: { estimate: () => Promise.reject(new Error('no')), persist: () => Promise.reject(new Error('no')) },
    });
    expect(await failing.estimate()).toBeUndefined();
    expect(await failing.persist()).toBe(false);
    const missing = new IdbRoomUpdateStore({ indexedDB: factory, name: DB, storage: {} });
    expect(await missing.estimate()).toBeUndefined();
    expect(await missing.persist()).toBe(false);
    await failing.close();
    await missing.close();
  });

  it('the database name is configurable (default "converge")', async () => {
    const factory = new IDBFactory();
    const a = new IdbRoomUpdateStore({ indexedDB: factory });
    const b = new IdbRoomUpdateStore({ indexedDB: factory, name: 'other' });
    await a.append('r', Uint8Array.of(1));
    expect((await b.load('r')).updates).toEqual([]);
    expect((await factory.databases()).map((d) => d.name).sort()).toEqual(['converge', 'other']);
    await a.close();
    await b.close();
  });
});

describe('openRoomUpdateStore', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('LOCAL-10: uses IndexedDB when it opens', async () => {
    const opened = await openRoomUpdateStore({ indexedDB: new IDBFactory(), name: DB });
    expect(opened.persistent).toBe(true);
    expect(opened.reason).toBeUndefined();
    expect(opened.store).toBeInstanceOf(IdbRoomUpdateStore);
    await opened.store.close();
  });

  it('LOCAL-10: falls back to memory, with a reason for the UI, when IndexedDB is missing or refuses', async () => {
    vi.stubGlobal('indexedDB', undefined);
    const missing = await openRoomUpdateStore();
    expect(missing.persistent).toBe(false);
    expect(missing.store).toBeInstanceOf(MemoryRoomUpdateStore);
    expect(missing.reason).toMatch(/memory only.*not available/s);
    await missing.store.append('r', Uint8Array.of(1));
    expect((await missing.store.load('r')).updates).toEqual([Uint8Array.of(1)]);

    const refusing = {
      open() {
        throw new DOMException('denied', 'SecurityError');
      },
    } as unknown as IDBFactory;
    const refused = await openRoomUpdateStore({ indexedDB: refusing });
    expect(refused.persistent).toBe(false);
    expect(refused.reason).toMatch(/memory only/);
  });
});

describe('MemoryRoomUpdateStore', () => {
  it('failNextWrite arms one failure per call, consumed in order; invalid calls do not consume one', async () => {
    const store = new MemoryRoomUpdateStore();
    store.failNextWrite(new DOMException('full', 'QuotaExceededError'));
    store.failNextWrite(new Error('disk'));
    await expect(store.append('r', new Uint8Array(0))).rejects.toBeInstanceOf(RangeError);
    await expect(store.append('r', Uint8Array.of(1))).rejects.toMatchObject({ kind: 'quota' });
    await expect(store.append('r', Uint8Array.of(1))).rejects.toMatchObject({ kind: 'unknown' });
    await store.append('r', Uint8Array.of(1));
    expect((await store.load('r')).updates).toHaveLength(1);
  });

  it('holdWrites holds writes, in the order issued, until released; reads go on; later writes queue behind', async () => {
    const store = new MemoryRoomUpdateStore();
    await store.append('r', Uint8Array.of(1));
    const release = store.holdWrites();
    const done: number[] = [];
    const first = store.append('r', Uint8Array.of(2)).then(() => done.push(2));
    const second = store.setMeta('r', { title: 'held' }).then(() => done.push(3));
    expect((await store.load('r')).updates).toHaveLength(1); // a read is answered while writes wait
    expect(done).toEqual([]);
    release();
    const third = store.append('r', Uint8Array.of(4)).then(() => done.push(4)); // issued after the release
    await Promise.all([first, second, third]);
    expect(done).toEqual([2, 3, 4]);
    expect((await store.load('r')).updates.map((u) => u[0])).toEqual([1, 2, 4]);
    await store.append('r', Uint8Array.of(5)); // no longer held
  });

  it('a throwing onError listener does not stop the others or the store', async () => {
    const store = new MemoryRoomUpdateStore();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', onUncaught);
    try {
      const reported: string[] = [];
      store.onError(() => {
        throw new Error('listener bug');
      });
      store.onError((error) => reported.push(error.kind));
      store.simulateConnectionLoss();
      expect(reported).toEqual(['closed']);
      await waitFor(() => uncaught.length === 1, 'the listener error surfaced as uncaught');
      expect(uncaught).toHaveLength(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('helpers', () => {
  it('shouldCompact: more than COMPACT_AFTER_UPDATES updates', () => {
    expect(shouldCompact({ updates: COMPACT_AFTER_UPDATES })).toBe(false);
    expect(shouldCompact({ updates: COMPACT_AFTER_UPDATES + 1 })).toBe(true);
    expect(shouldCompact({ updates: new Array<Uint8Array>(COMPACT_AFTER_UPDATES + 1) })).toBe(true);
  });

  it('toStorageError maps IndexedDB errors by name', () => {
    const kinds = Object.fromEntries(
      ['QuotaExceededError', 'AbortError', 'InvalidStateError', 'VersionError', 'SecurityError', 'UnknownError'].map(
        (name) => [name, toStorageError(new DOMException('x', name)).kind],
      ),
    );
    expect(kinds).toEqual({
      QuotaExceededError: 'quota',
      AbortError: 'closed',
      InvalidStateError: 'closed',
      VersionError: 'closed',
      SecurityError: 'unavailable',
      UnknownError: 'unknown',
    });
    const error = new StorageError('quota', 'full');
    expect(toStorageError(error)).toBe(error);
    expect(toStorageError('weird').kind).toBe('unknown');
  });
});
