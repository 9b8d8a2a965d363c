/**
 * Scale-out on a real Redis Cluster (REDIS-1): three cluster-mode redis-server masters on
 * loopback, formed by relay/testing/redisCluster.ts, shared by this file and emptied before each
 * test. The RoomStore and Backplane contract suites run against it unchanged ("reopen" and
 * "outage" kill every node with SIGKILL and restart them on their AOFs), and so does the
 * AddressLimiter contract (REDIS-11), plus what only a cluster has: group commits spanning
 * shards, and the persistence check on every node.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Recorder, backplaneContract } from './backplane.contract.js';
import { addressLimiterContract } from './addressLimiter.contract.js';
import { redisLimiterHarness } from './testing/addressLimiterHarness.js';
import { RedisDurabilityError, checkDurability, connectRedis, isClusterServer } from './redisConnection.js';
import { RedisRoomStore } from './redisRoomStore.js';
import { roomStoreContract } from './roomStore.contract.js';
import { RedisBackplane } from './redisBackplane.js';
import { silentLogger } from './log.js';
import { redisClusterHarness } from './testing/backplaneHarness.js';
import { flushCluster, keySlot, slotOwner, startRedisCluster, type RedisCluster } from './testing/redisCluster.js';
import { DEFAULT_REDIS_PREFIX, relayAliveKey, roomKeys } from './redisKeys.js';
import { waitFor } from '../shared/testing/waitFor.js';

let started: Promise<RedisCluster> | undefined;
const cluster = (): Promise<RedisCluster> => (started ??= startRedisCluster());
afterAll(async () => {
  await (await started)?.cleanup();
});

roomStoreContract(
  'RedisRoomStore on a Redis Cluster',
  async () => {
    const c = await cluster();
    await flushCluster(c);
    const open = async (): Promise<RedisRoomStore> => {
      const client = await connectRedis(c.url, 'converge-test', true);
      await checkDurability(client, 'verify');
      return new RedisRoomStore(client, { ownsClient: true });
    };
    let current = await open();
    return {
      store: current,
      reopen: async () => {
        await current.close();
        await c.kill();
        await c.restart();
        return (current = await open());
      },
      cleanup: () => current.close(),
    };
  },
  { failNextAppend: false, reopen: true },
);

backplaneContract('RedisBackplane on a Redis Cluster', async () => redisClusterHarness(await cluster()));

addressLimiterContract('RedisAddressLimiter on a Redis Cluster', async (limits) => {
  const c = await cluster();
  await flushCluster(c);
  return redisLimiterHarness(c.url, true, limits, () => Promise.resolve());
});

/** Which master serves `room` (its slot range), by node index. */
const shardOf = async (c: RedisCluster, room: string): Promise<number> =>
  c.nodes.indexOf(await slotOwner(c, await keySlot(c, roomKeys(DEFAULT_REDIS_PREFIX, room).log)));

describe('Redis Cluster', () => {
  it('REDIS-1: the relay detects cluster mode from any node', async () => {
    const c = await cluster();
    for (const node of c.nodes) expect(await isClusterServer(node.url)).toBe(true);
  });

  it('REDIS-1: one group commit over rooms on every shard stores each room; another relay receives them', async () => {
    const c = await cluster();
    const h = await redisClusterHarness(c);
    try {
      const rooms = ['shard-room-0', 'shard-room-1', 'shard-room-2', 'shard-room-3'];
      const shards = new Set(await Promise.all(rooms.map((r) => shardOf(c, r))));
      expect(shards.size).toBe(3);
      const a = await h.relay();
      const b = await h.relay();
      const recs = rooms.map((room) => {
        const rec = new Recorder();
        b.subscribe(room, 0, rec);
        return rec;
      });
      const entries = rooms.flatMap((room, r) => [0, 1, 2].map((i) => ({ room, update: Uint8Array.of(r, i) })));
      const seqs = await a.publish(entries);
      expect(seqs).toEqual(entries.map((_, i) => (i % 3) + 1));
      await waitFor(() => recs.every((rec) => rec.entries.length === 3), 'b received every room');
      for (const [r, room] of rooms.entries()) {
        expect(recs[r]!.entries.map((e) => [...e.update])).toEqual([0, 1, 2].map((i) => [r, i]));
        expect((await h.load(room)).log.map((e) => e.seq)).toEqual([1, 2, 3]);
      }
      expect(await h.store.roomCount()).toBe(4);
    } finally {
      await h.cleanup();
    }
  });

  it('REDIS-2: one node that does not fsync every write is refused, and named', async () => {
    const c = await cluster();
    const weak = c.nodes[2]!;
    const admin = await connectRedis(weak.url, 'converge-test-admin', false);
    const client = await connectRedis(c.url, 'converge-test', true);
    try {
      await admin.config('SET', 'appendfsync', 'everysec');
      const check = checkDurability(client, 'verify');
      await expect(check).rejects.toThrow(RedisDurabilityError);
      await expect(checkDurability(client, 'verify')).rejects.toThrow(`127.0.0.1:${weak.port}`);
    } finally {
      await admin.config('SET', 'appendfsync', 'always');
      admin.disconnect();
      client.disconnect();
    }
  });

  it('REDIS-4: when the pub/sub connection’s node dies, it moves to another node and entries keep arriving', async () => {
    // Its own cluster, where the other shards keep serving while one node is down.
    const c = await startRedisCluster({ extraArgs: ['--cluster-require-full-coverage', 'no'] });
    const events: string[] = [];
    const log = { ...silentLogger, warn: (event: string) => void events.push(event) };
    const a = await RedisBackplane.connect({ url: c.nodes[1]!.url, heartbeatMs: 100 });
    const b = await RedisBackplane.connect({ url: c.nodes[0]!.url, heartbeatMs: 100, log });
    try {
      const room = 'shard-room-2'; // on node 2: unaffected by node 0 going down
      expect(await shardOf(c, room)).toBe(2);
      const rec = new Recorder();
      b.subscribe(room, 0, rec);
      await a.publish([{ room, update: Uint8Array.of(0) }]);
      await waitFor(() => rec.entries.length === 1, 'b is live');
      await c.nodes[0]!.kill(); // b's pub/sub connection was on node 0
      await waitFor(() => events.includes('backplane-subscriber-moved'), 'the subscriber moved');
      for (let i = 1; i <= 20; i++) await a.publish([{ room, update: Uint8Array.of(i) }]);
      await waitFor(() => rec.entries.length === 21, 'every entry reached b');
      expect(rec.seqs()).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    } finally {
      await a.crash();
      await b.crash();
      await c.cleanup();
    }
  });

  it('REDIS-4: with the shard of its heartbeat key down, a relay still checks the positions of rooms on the other shards', async () => {
    const c = await startRedisCluster({ extraArgs: ['--cluster-require-full-coverage', 'no'] });
    // A relay id whose heartbeat key lives on node 0, the node that dies.
    let relayId = '';
    for (let i = 0; relayId === ''; i++) {
      const slot = await keySlot(c, relayAliveKey(DEFAULT_REDIS_PREFIX, `relay-${i}`));
      if ((await slotOwner(c, slot)) === c.nodes[0]) relayId = `relay-${i}`;
    }
    const b = await RedisBackplane.connect({ url: c.nodes[1]!.url, heartbeatMs: 100, relayId });
    const store = new RedisRoomStore(await connectRedis(c.nodes[1]!.url, 'converge-test-store', true), {
      ownsClient: true,
    });
    try {
      const room = 'shard-room-2'; // on node 2
      expect(await shardOf(c, room)).toBe(2);
      const rec = new Recorder();
      b.subscribe(room, 0, rec);
      await store.append([{ room, seq: 1, update: Uint8Array.of(1) }]);
      await waitFor(() => rec.entries.length === 1, 'the first entry reached b');
      await c.nodes[0]!.kill();
      // In the log with no live message: only the heartbeat's position check can bring it.
      await store.append([{ room, seq: 2, update: Uint8Array.of(2) }]);
      await waitFor(() => rec.entries.length === 2, 'the entry reached b');
      expect(rec.seqs()).toEqual([1, 2]);
    } finally {
      await store.close();
      await b.crash();
      await c.cleanup();
    }
  });

  it.each([
    ['with WAIT (REDIS-9)', { replicas: 1, timeoutMs: 20_000 }],
    ['without WAIT', undefined],
  ])(
    'REDIS-4: a master fails over to its replica mid-traffic, %s: commits go on, nothing acked is lost, nothing skipped',
    async (_name, wait) => {
      const c = await startRedisCluster({ replicas: 1 });
      const a = await RedisBackplane.connect({ url: c.url, heartbeatMs: 100, ...(wait ? { wait } : {}) });
      const b = await RedisBackplane.connect({ url: c.url, heartbeatMs: 100 });
      const room = 'shard-room-2'; // on master 2, whose replica is node 5
      const replica = await connectRedis(c.nodes[5]!.url, 'converge-test-admin', false);
      const reader = await connectRedis(c.url, 'converge-test-reader', true);
      try {
        expect(await shardOf(c, room)).toBe(2);
        const rec = new Recorder();
        b.subscribe(room, 0, rec);
        const acked: number[] = [];
        let failedOver = false;
        let afterFailover = 0;
        for (let i = 0; i < 5000 && afterFailover < 20; i++) {
          try {
            await a.publish([{ room, update: Uint8Array.of(i >> 8, i & 0xff) }]);
            acked.push(i);
            if (failedOver) afterFailover++;
          } catch {
            // Failing over: this commit is not acked (clients would send it again).
          }
          if (acked.length === 10 && !failedOver) {
            await replica.call('CLUSTER', 'FAILOVER');
            await waitFor(async () => /role:master/.test(await replica.info('replication')), 'the replica took over');
            failedOver = true;
          }
        }
        expect(afterFailover).toBe(20);
        // Every acked update is in the log the new master holds, and reached the other relay.
        const store = new RedisRoomStore(reader);
        const logged = new Set((await store.load(room)).log.map((e) => (e.update[0]! << 8) | e.update[1]!));
        for (const i of acked) expect(logged.has(i), `update ${i}`).toBe(true);
        await waitFor(() => acked.every((i) => rec.entries.some((e) => ((e.update[0]! << 8) | e.update[1]!) === i)), {
          timeout: 15_000,
          message: 'every acked update delivered',
        });
        let prev = 0;
        for (const e of rec.entries) {
          expect(e.seqLo).toBeLessThanOrEqual(prev + 1);
          expect(e.seq).toBeGreaterThan(prev);
          prev = e.seq;
        }
      } finally {
        replica.disconnect();
        reader.disconnect();
        await a.crash();
        await b.crash();
        await c.cleanup();
      }
    },
  );
});
