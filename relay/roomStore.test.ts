import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Prng, seedFromEnv } from '../shared/testing/prng.js';
import { MemoryRoomStore } from './memoryRoomStore.js';
import { roomStoreContract } from './roomStore.contract.js';
import type { AppendEntry, RoomStore, StoredRoom } from './roomStore.js';
import { ROOM_STORE_FILE_NAME, SqliteRoomStore } from './sqliteRoomStore.js';
import { RedisRoomStore } from './redisRoomStore.js';
import { checkDurability, connectRedis } from './redisConnection.js';
import { startRedis, type RedisServer } from './testing/redisServer.js';
import { WorkerRoomStore } from './workerRoomStore.js';
import { mergeAndParse } from './mergeInChunks.js';
import { waitFor } from '../shared/testing/waitFor.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'converge-roomstore-'));
}

roomStoreContract(
  'MemoryRoomStore',
  () => {
    let current = new MemoryRoomStore();
    return Promise.resolve({
      store: current,
      reopen: () => Promise.resolve((current = current.reopen())),
      failNextAppend: (error: Error) => current.failNextAppend(error),
      cleanup: () => current.close(),
    });
  },
  { failNextAppend: true, reopen: true },
);

roomStoreContract(
  'SqliteRoomStore',
  () => {
    const dir = tempDir();
    let current = SqliteRoomStore.openDataDir(dir);
    return Promise.resolve({
      store: current,
      reopen: async () => {
        await current.close();
        return (current = SqliteRoomStore.openDataDir(dir));
      },
      cleanup: async () => {
        await current.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  },
  { failNextAppend: false, reopen: true },
);

roomStoreContract(
  'WorkerRoomStore',
  async () => {
    const dir = tempDir();
    let current = await WorkerRoomStore.openDataDir(dir);
    return {
      store: current,
      reopen: async () => {
        await current.close();
        return (current = await WorkerRoomStore.openDataDir(dir));
      },
      cleanup: async () => {
        await current.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { failNextAppend: false, reopen: true },
);

// STORE-5: "reopen" kills the worker thread for real and waits for the store to restart it on
// the same file, so every contract test that reopens also checks that a death loses nothing
// committed and that the restarted thread keeps every rule.
roomStoreContract(
  'WorkerRoomStore, STORE-5: reopen = its worker terminated and restarted',
  async () => {
    const dir = tempDir();
    const store = await WorkerRoomStore.openDataDir(dir, {}, { backoffMs: { initial: 1, max: 50 } });
    return {
      store,
      reopen: async () => {
        await store.workerForTests!.terminate();
        await waitFor(() => store.health().status === 'up', 'the store worker restarted');
        return store;
      },
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { failNextAppend: false, reopen: true },
);

describe('WorkerRoomStore', () => {
  let dir: string;
  let store: WorkerRoomStore | undefined;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('STORE-4: calls issued without waiting take effect one at a time, in call order', async () => {
    store = await WorkerRoomStore.openDataDir(dir);
    const u = (n: number): Uint8Array => Uint8Array.of(n);
    const calls = [
      store.append([1, 2, 3].map((seq) => ({ room: 'r', seq, update: u(seq) }))),
      store.writeSegment('r', { seqLo: 1, seqHi: 2, update: u(12) }),
      store.append([{ room: 'r', seq: 2, update: u(2) }]), // inside the segment: rejected
      store.deleteCovered('r', 1, 2),
      store.load('r'),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(await calls[4]).toEqual({
      segments: [{ seqLo: 1, seqHi: 2, update: u(12) }],
      log: [{ seq: 3, update: u(3) }],
    });
  });

  it('runs the SQLite store in WAL with synchronous=FULL', async () => {
    store = await WorkerRoomStore.openDataDir(join(dir, 'data'));
    expect(await store.durabilitySettings()).toEqual({ journalMode: 'wal', synchronous: 'FULL' });
  });

  it('rejects opening a file with another schema version, as SqliteRoomStore throws', async () => {
    const file = join(dir, 'rooms.db');
    await SqliteRoomStore.open(file).close();
    const db = new Database(file);
    db.prepare("UPDATE meta SET value = 99 WHERE key = 'schema_version'").run();
    db.close();
    await expect(WorkerRoomStore.open(file)).rejects.toThrow(/schema version 99/);
  });

  it('STORE-1: an SQLite error keeps its code across the thread and the store keeps working', async () => {
    store = await WorkerRoomStore.open(join(dir, 'rooms.db'), { maxBytes: 256 * 1024 });
    await store.append([{ room: 'r', seq: 1, update: Uint8Array.of(1, 2, 3) }]);
    const tooBig = [{ room: 'other', seq: 1, update: new Uint8Array(1024 * 1024) }];
    await expect(store.append(tooBig)).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    await store.append([{ room: 'r', seq: 2, update: Uint8Array.of(4) }]);
    expect((await store.load('r')).log.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('STORE-4: a merge-only worker (scale-out) merges like inline and refuses store calls', async () => {
    const merger = await WorkerRoomStore.openMergeOnly();
    try {
      const a = new Uint8Array([1, 1, 1, 0, 4, 1, 1, 97, 1, 97, 0]);
      const b = new Uint8Array([1, 1, 2, 0, 4, 1, 1, 97, 1, 98, 0]);
      expect(await merger.mergeAndParse([a, b])).toEqual(mergeAndParse([a, b]));
      await expect((merger as unknown as RoomStore).load('r')).rejects.toThrow(/only merges/);
    } finally {
      await merger.close();
    }
  });

  it('STORE-4: a merge in the worker gives exactly the inline result', async () => {
    store = await WorkerRoomStore.openDataDir(dir);
    const a = new Uint8Array([1, 1, 1, 0, 4, 1, 1, 97, 1, 97, 0]); // client 1 inserts "a" into text "a"
    const b = new Uint8Array([1, 1, 2, 0, 4, 1, 1, 97, 1, 98, 0]); // client 2 inserts "b"
    expect(await store.mergeAndParse([a, b])).toEqual(mergeAndParse([a, b]));
  });
});

/**
 * One real redis-server for the file, emptied before each test. "reopen" is harsher than a relay
 * restart here: it kills Redis with SIGKILL and starts it again on the same AOF, so every contract
 * test that reopens also checks that what Redis acknowledged was on disk (REDIS-2).
 */
let redisServer: Promise<RedisServer> | undefined;
afterAll(async () => {
  await (await redisServer)?.cleanup();
});

roomStoreContract(
  'RedisRoomStore',
  async () => {
    const server = await (redisServer ??= startRedis());
    const open = async (): Promise<RedisRoomStore> => {
      const client = await connectRedis(server.url, 'converge-test');
      await checkDurability(client, 'verify');
      return new RedisRoomStore(client, { ownsClient: true });
    };
    let current = await open();
    const admin = await connectRedis(server.url, 'converge-test-admin');
    await admin.flushall();
    admin.disconnect();
    return {
      store: current,
      reopen: async () => {
        await current.close();
        await server.kill();
        await server.restart();
        return (current = await open());
      },
      cleanup: () => current.close(),
    };
  },
  { failNextAppend: false, reopen: true },
);

describe('MemoryRoomStore', () => {
  it('failNextAppend arms one failure per call, consumed in order', async () => {
    const store = new MemoryRoomStore();
    const first = new Error('first');
    const second = new Error('second');
    store.failNextAppend(first);
    store.failNextAppend(second);
    const entry = { room: 'r', seq: 1, update: Uint8Array.of(1) };
    await expect(store.append([entry])).rejects.toBe(first);
    await expect(store.append([entry])).rejects.toBe(second);
    await store.append([entry]);
    expect((await store.load('r')).log).toHaveLength(1);
  });

  it('reopen closes the old store', async () => {
    const store = new MemoryRoomStore();
    await store.append([{ room: 'r', seq: 1, update: Uint8Array.of(1) }]);
    const reopened = store.reopen();
    await expect(store.load('r')).rejects.toThrow(/closed/);
    expect((await reopened.load('r')).log).toHaveLength(1);
  });
});

describe('SqliteRoomStore', () => {
  let dir: string;
  let store: SqliteRoomStore | undefined;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A second, read-only connection: what is really in the file, not what the store reports. */
  function inspect<T>(file: string, query: (db: Database.Database) => T): T {
    const db = new Database(file, { readonly: true });
    try {
      return query(db);
    } finally {
      db.close();
    }
  }

  it('creates its data directory and runs WAL with synchronous=FULL', () => {
    const dataDir = join(dir, 'nested', 'data');
    store = SqliteRoomStore.openDataDir(dataDir);
    const file = join(dataDir, ROOM_STORE_FILE_NAME);
    expect(existsSync(file)).toBe(true);
    expect(store.durabilitySettings()).toEqual({ journalMode: 'wal', synchronous: 'FULL' });
    // WAL is a property of the file: another connection sees it too.
    expect(inspect(file, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
  });

  it('records the schema version and refuses a file with another one', async () => {
    const file = join(dir, 'rooms.db');
    store = SqliteRoomStore.open(file);
    await store.close();
    expect(inspect(file, (db) => db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get())).toBe(
      1,
    );

    const db = new Database(file);
    db.prepare("UPDATE meta SET value = 99 WHERE key = 'schema_version'").run();
    db.close();
    expect(() => SqliteRoomStore.open(file)).toThrow(/schema version 99/);
  });

  it('STORE-1: SQLITE_FULL rejects the append, stores nothing, and earlier data stays', async () => {
    store = SqliteRoomStore.open(join(dir, 'rooms.db'), { maxBytes: 256 * 1024 });
    await store.append([{ room: 'r', seq: 1, update: Uint8Array.of(1, 2, 3) }]);
    const tooBig: AppendEntry[] = [
      { room: 'r', seq: 2, update: Uint8Array.of(4) },
      { room: 'other', seq: 1, update: new Uint8Array(1024 * 1024) },
    ];
    await expect(store.append(tooBig)).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    expect((await store.load('r')).log.map((e) => e.seq)).toEqual([1]);
    expect(await store.hasRoom('other')).toBe(false);
    expect(await store.roomCount()).toBe(1);
    // The connection is not left inside a broken transaction.
    await store.append([{ room: 'r', seq: 2, update: Uint8Array.of(4) }]);
    expect((await store.load('r')).log.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('STORE-3: the clean-up on load really deletes the covered rows from the file', async () => {
    const file = join(dir, 'rooms.db');
    store = SqliteRoomStore.open(file);
    await store.append([1, 2, 3, 4, 5].map((seq) => ({ room: 'r', seq, update: Uint8Array.of(seq) })));
    await store.writeSegment('r', { seqLo: 1, seqHi: 2, update: Uint8Array.of(12) });
    await store.writeSegment('r', { seqLo: 1, seqHi: 4, update: Uint8Array.of(14) });
    // "Crash" before deleteCovered.
    await store.close();
    store = SqliteRoomStore.open(file);
    await store.load('r');
    const counts = inspect(file, (db) => ({
      log: db.prepare('SELECT seq FROM log ORDER BY seq').pluck().all(),
      segments: db.prepare('SELECT seq_lo, seq_hi FROM segments').raw().all(),
    }));
    expect(counts).toEqual({ log: [5], segments: [[1, 4]] });
  });

  it('a second process opening the same file sees committed appends at once', async () => {
    // No close, no checkpoint: a commit is in the WAL, which is what a crash would leave behind.
    const file = join(dir, 'rooms.db');
    store = SqliteRoomStore.open(file);
    await store.append([{ room: 'r', seq: 1, update: Uint8Array.of(7) }]);
    const other = SqliteRoomStore.open(file);
    try {
      expect((await other.load('r')).log.map((e) => [e.seq, Array.from(e.update)])).toEqual([[1, [7]]]);
    } finally {
      await other.close();
    }
  });
});

/** A store under differential test: `reopen` is its restart (a crash, for Redis). */
interface Reopenable {
  store: RoomStore;
  reopen(): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Differential check: each durable store (SQLite: indexed queries and a sweep; Redis: Lua scripts)
 * and the memory store (naive scans) must agree, outcome by outcome, on a seeded random mix of
 * valid and invalid operations, restarts included. A failure prints the seed; SEED=<n> reruns it.
 */
const agreesWithMemory = (name: string, open: () => Promise<Reopenable>): void => {
  describe(`MemoryRoomStore and ${name} agree`, () => {
    const seed = seedFromEnv();

    it(`random operations (seed ${seed})`, async () => {
      const prng = new Prng(seed);
      let memory: MemoryRoomStore = new MemoryRoomStore();
      const other = await open();
      const rooms = ['a', 'b', 'c'];
      const maxSeq = 40;
      const randomSeq = (): number => prng.int(0, maxSeq);
      const randomRange = (): [number, number] => {
        const lo = randomSeq();
        return [lo, Math.min(maxSeq, lo + prng.int(0, 12))];
      };

      type Outcome = { ok: true; value: unknown } | { ok: false };
      const outcome = async (promise: Promise<unknown>): Promise<Outcome> => {
        try {
          const value = await promise;
          return { ok: true, value: isStoredRoom(value) ? plain(value) : value };
        } catch {
          return { ok: false };
        }
      };
      const both = async (label: string, op: (store: RoomStore) => Promise<unknown>): Promise<Outcome> => {
        const [m, s] = [await outcome(op(memory)), await outcome(op(other.store))];
        expect(s, `seed ${seed}: ${label}`).toEqual(m);
        return m;
      };

      try {
        let succeeded = 0;
        for (let step = 0; step < 600; step++) {
          const room = prng.pick(rooms);
          const choice = prng.next();
          let result: Outcome;
          if (choice < 0.4) {
            const batch: AppendEntry[] = Array.from({ length: prng.int(1, 4) }, () => {
              const seq = randomSeq();
              return { room: prng.pick(rooms), seq, update: Uint8Array.of(seq, prng.int(0, 255)) };
            });
            result = await both(`append ${JSON.stringify(batch.map((e) => [e.room, e.seq]))}`, (s) => s.append(batch));
          } else if (choice < 0.6) {
            const [lo, hi] = randomRange();
            const update = Uint8Array.of(lo, hi, prng.int(0, 255));
            result = await both(`writeSegment ${room} [${lo}, ${hi}]`, (s) =>
              s.writeSegment(room, { seqLo: lo, seqHi: hi, update }),
            );
          } else if (choice < 0.75) {
            const [lo, hi] = randomRange();
            result = await both(`deleteCovered ${room} [${lo}, ${hi}]`, (s) => s.deleteCovered(room, lo, hi));
          } else if (choice < 0.95) {
            result = await both(`load ${room}`, (s) => s.load(room));
          } else {
            memory = memory.reopen();
            await other.reopen();
            result = await both('roomCount after reopen', (s) => s.roomCount());
          }
          if (result.ok) succeeded++;
        }
        for (const room of rooms) {
          await both(`final load ${room}`, (s) => s.load(room));
          await both(`final hasRoom ${room}`, (s) => s.hasRoom(room));
        }
        // Guard against a generator that only exercises rejections.
        expect(succeeded, `seed ${seed}`).toBeGreaterThan(200);
      } finally {
        await memory.close();
        await other.cleanup();
      }
    });
  });
};

agreesWithMemory('SqliteRoomStore', () => {
  const dir = tempDir();
  const handle: Reopenable = {
    store: SqliteRoomStore.openDataDir(dir),
    reopen: async () => {
      await handle.store.close();
      handle.store = SqliteRoomStore.openDataDir(dir);
    },
    cleanup: async () => {
      await handle.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return Promise.resolve(handle);
});

agreesWithMemory('RedisRoomStore', async () => {
  const server = await startRedis();
  const open = async (): Promise<RedisRoomStore> =>
    new RedisRoomStore(await connectRedis(server.url, 'converge-test'), { ownsClient: true });
  const handle: Reopenable = {
    store: await open(),
    reopen: async () => {
      await handle.store.close();
      await server.kill();
      await server.restart();
      handle.store = await open();
    },
    cleanup: async () => {
      await handle.store.close();
      await server.cleanup();
    },
  };
  return handle;
});

function isStoredRoom(value: unknown): value is StoredRoom {
  return typeof value === 'object' && value !== null && 'segments' in value && 'log' in value;
}

function plain(room: StoredRoom): unknown {
  return {
    segments: room.segments.map((s) => [s.seqLo, s.seqHi, Array.from(s.update)]),
    log: room.log.map((e) => [e.seq, Array.from(e.update)]),
  };
}
