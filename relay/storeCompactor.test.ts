/**
 * REDIS-3: compaction of a room on the shared Redis store, by several relays at once, with a real
 * redis-server and real Yjs updates (the merged content is checked through a Y.Doc).
 */
import * as Y from 'yjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Prng, seedFromEnv } from '../shared/testing/prng.js';
import { connectRedis, type RedisClient } from './redisConnection.js';
import { roomKeys } from './redisKeys.js';
import { RedisRoomStore } from './redisRoomStore.js';
import { mergeInChunks } from './mergeInChunks.js';
import type { StoredRoom } from './roomStore.js';
import { compactStoredRoom, planStoredCompaction, type StoreCompactionPolicy } from './storeCompactor.js';
import { startRedis, type RedisServer } from './testing/redisServer.js';

const policy: StoreCompactionPolicy = { minLogEntries: 4, targetBytes: 64 * 1024, leaseMs: 30_000 };

/** Appends `n` real Yjs updates (one array push each) from a writer doc; returns the texts. */
const writeUpdates = async (store: RedisRoomStore, room: string, doc: Y.Doc, firstSeq: number, n: number) => {
  const updates: Uint8Array[] = [];
  const onUpdate = (u: Uint8Array): void => void updates.push(u);
  doc.on('update', onUpdate);
  for (let i = 0; i < n; i++) doc.getArray<string>('messages').push([`m${firstSeq + i}`]);
  doc.off('update', onUpdate);
  await store.append(updates.map((update, i) => ({ room, seq: firstSeq + i, update })));
};

/** The room's content as a reader would see it: every stored chunk applied to a fresh doc. */
const contentOf = (stored: StoredRoom): string[] => {
  const doc = new Y.Doc();
  for (const s of stored.segments) Y.applyUpdate(doc, s.update);
  for (const e of stored.log) Y.applyUpdate(doc, e.update);
  return doc.getArray<string>('messages').toArray();
};

describe('compactStoredRoom on Redis', () => {
  let server: RedisServer;
  let clients: RedisClient[] = [];
  let a: RedisRoomStore;
  let b: RedisRoomStore;

  const client = async (): Promise<RedisClient> => {
    const c = await connectRedis(server.url, 'converge-compactor-test');
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    server ??= await startRedis();
    const admin = await client();
    await admin.flushall();
    // Two relays: two stores, each with its own connection.
    a = new RedisRoomStore(await client());
    b = new RedisRoomStore(await client());
  });

  afterEach(() => {
    for (const c of clients) c.disconnect();
    clients = [];
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  it('REDIS-3: folds the oldest log entries into one segment with the same content', async () => {
    const doc = new Y.Doc();
    await writeUpdates(a, 'r', doc, 1, 10);
    const before = contentOf(await a.load('r'));
    expect(await compactStoredRoom(a, 'r', policy, mergeInChunks)).toEqual({
      kind: 'compacted',
      seqLo: 1,
      seqHi: 10,
      inputs: 10,
    });
    const after = await b.load('r');
    expect(after.segments.map((s) => [s.seqLo, s.seqHi])).toEqual([[1, 10]]);
    expect(after.log).toEqual([]);
    expect(contentOf(after)).toEqual(before);
    // Nothing left to do, and the lease was released.
    expect(await compactStoredRoom(b, 'r', policy, mergeInChunks)).toEqual({ kind: 'nothing' });
  });

  it('REDIS-3: one compactor per room — a second one finds the lease taken', async () => {
    const doc = new Y.Doc();
    await writeUpdates(a, 'r', doc, 1, 8);
    const token = await a.acquireCompaction('r', 30_000);
    expect(token).not.toBeNull();
    expect(await compactStoredRoom(b, 'r', policy, mergeInChunks)).toEqual({ kind: 'busy' });
    await a.releaseCompaction('r', token!);
    expect((await compactStoredRoom(b, 'r', policy, mergeInChunks)).kind).toBe('compacted');
  });

  it('REDIS-3: a compactor whose lease expired changes nothing (fencing token)', async () => {
    const doc = new Y.Doc();
    await writeUpdates(a, 'r', doc, 1, 8);
    const stale = (await a.acquireCompaction('r', 30_000))!;
    const plan = planStoredCompaction(await a.load('r'), policy)!;
    // The lease runs out while `a` is paused (the expiry itself, done by hand), and `b` takes over.
    await clients[0]!.del(roomKeys('converge', 'r').lease);
    const fresh = (await b.acquireCompaction('r', 30_000))!;
    expect(Number(fresh)).toBeGreaterThan(Number(stale));
    const segment = { seqLo: plan.seqLo, seqHi: plan.seqHi, update: mergeInChunks(plan.updates) };
    await expect(a.writeSegmentFenced('r', stale, segment, plan.inputs)).rejects.toThrow(/lease lost/);
    await expect(a.deleteCoveredFenced('r', stale, plan.seqLo, plan.seqHi)).rejects.toThrow(/lease lost/);
    await a.releaseCompaction('r', stale); // does not release b's lease
    expect(await a.acquireCompaction('r', 30_000)).toBeNull();
    const stored = await b.load('r');
    expect(stored.segments).toEqual([]);
    expect(stored.log).toHaveLength(8);
    // The holder of the current token proceeds.
    await b.writeSegmentFenced('r', fresh, segment, plan.inputs);
    await b.deleteCoveredFenced('r', fresh, plan.seqLo, plan.seqHi);
    expect((await b.load('r')).segments.map((s) => [s.seqLo, s.seqHi])).toEqual([[1, 8]]);
  });

  it('REDIS-3: a fenced segment write is refused when the range changed since it was read', async () => {
    const doc = new Y.Doc();
    await writeUpdates(a, 'r', doc, 1, 6);
    await a.append([{ room: 'r', seq: 9, update: Y.encodeStateAsUpdate(new Y.Doc()) }]);
    const token = (await a.acquireCompaction('r', 30_000))!;
    const segment = { seqLo: 1, seqHi: 9, update: Uint8Array.of(0, 0) };
    // The compactor read 6 entries in [1, 9]; a 7th (seq 7) arrived meanwhile.
    await a.append([{ room: 'r', seq: 7, update: Y.encodeStateAsUpdate(new Y.Doc()) }]);
    await expect(a.writeSegmentFenced('r', token, segment, { logEntries: 7, segments: 0 })).rejects.toThrow(
      /range changed/,
    );
    expect((await a.load('r')).segments).toEqual([]);
  });

  it('REDIS-3: a crash between the segment commit and the delete leaves the room whole', async () => {
    const doc = new Y.Doc();
    await writeUpdates(a, 'r', doc, 1, 8);
    const before = contentOf(await a.load('r'));
    const token = (await a.acquireCompaction('r', 30_000))!;
    const plan = planStoredCompaction(await a.load('r'), policy)!;
    await a.writeSegmentFenced('r', token, { seqLo: 1, seqHi: 8, update: mergeInChunks(plan.updates) }, plan.inputs);
    // Relay `a` dies here (its lease would expire); Redis itself is killed and restarted too.
    for (const c of clients) c.disconnect();
    clients = [];
    await server.kill();
    await server.restart();
    b = new RedisRoomStore(await client());
    const after = await b.load('r');
    expect(after.segments.map((s) => [s.seqLo, s.seqHi])).toEqual([[1, 8]]);
    expect(after.log).toEqual([]);
    expect(contentOf(after)).toEqual(before);
  });

  const seed = seedFromEnv();
  it(`REDIS-3: two relays compacting one room concurrently while it grows lose nothing (seed ${seed})`, async () => {
    const prng = new Prng(seed);
    const doc = new Y.Doc();
    let seq = 1;
    const outcomes: string[] = [];
    for (let round = 0; round < 30; round++) {
      const n = prng.int(1, 6);
      await writeUpdates(prng.bool() ? a : b, 'r', doc, seq, n);
      seq += n;
      // Both relays try at once; the store decides who compacts.
      const runs = await Promise.all([
        compactStoredRoom(a, 'r', { ...policy, minLogEntries: prng.int(2, 8) }, mergeInChunks),
        compactStoredRoom(b, 'r', { ...policy, minLogEntries: prng.int(2, 8) }, mergeInChunks),
      ]);
      outcomes.push(...runs.map((r) => r.kind));
      expect(runs.filter((r) => r.kind === 'compacted').length, `seed ${seed} round ${round}`).toBeLessThanOrEqual(1);
      expect(contentOf(await a.load('r')), `seed ${seed} round ${round}`).toEqual(
        doc.getArray<string>('messages').toArray(),
      );
    }
    expect(outcomes, `seed ${seed}`).toContain('compacted');
    expect(outcomes, `seed ${seed}`).toContain('busy');
    const final = await b.load('r');
    expect(final.segments.length, `seed ${seed}`).toBeGreaterThan(0);
    expect(contentOf(final)).toHaveLength(seq - 1);
  });
});

describe('planStoredCompaction', () => {
  /** Plans and applies (by hand: content does not matter to the plan) until there is no plan; returns each plan's seqs. */
  const compactAll = (sizes: readonly number[]): { plans: [number, number][]; left: StoredRoom } => {
    let room: StoredRoom = {
      segments: [],
      log: sizes.map((n, i) => ({ seq: i + 1, update: new Uint8Array(n) })),
    };
    const plans: [number, number][] = [];
    for (let plan = planStoredCompaction(room, policy); plan; plan = planStoredCompaction(room, policy)) {
      const { seqLo, seqHi } = plan;
      plans.push([seqLo, seqHi]);
      const bytes = plan.updates.reduce((n, u) => n + u.length, 0);
      room = {
        segments: [...room.segments.filter((g) => g.seqHi < seqLo), { seqLo, seqHi, update: new Uint8Array(bytes) }],
        log: room.log.filter((e) => e.seq > seqHi),
      };
    }
    return { plans, left: room };
  };

  it('STORE-11: an entry too big to join the run before it does not stop compaction: the run is folded, then the entry alone', () => {
    const big = policy.targetBytes * 2;
    // Three small entries, one big, then enough small ones to pass minLogEntries again and again.
    const { plans, left } = compactAll([100, 100, 100, big, ...Array<number>(20).fill(100)]);
    expect(plans.slice(0, 2)).toEqual([
      [1, 3],
      [4, 4],
    ]);
    // Whatever is left in the log is below the thresholds: nothing waits behind the big entry.
    expect(left.log.length).toBeLessThan(policy.minLogEntries);
    expect(left.segments.some((g) => g.seqLo === 4 && g.seqHi === 4)).toBe(true);
  });

  it('STORE-2: a short log of small entries is left alone', () => {
    expect(compactAll([100, 100, 100]).plans).toEqual([]);
  });
});
