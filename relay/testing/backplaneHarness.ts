/**
 * The backplane set-ups the contract suite and the fuzz run against: several relays' backplanes
 * on one in-process hub (over a MemoryRoomStore), on one real redis-server, or on a real Redis
 * Cluster ("outage" kills Redis with SIGKILL, "recover" restarts it on the same AOF).
 */
import type { BackplaneHarness } from '../backplane.contract.js';
import type { Backplane } from '../backplane.js';
import { InProcessBackplaneHub } from '../inProcessBackplane.js';
import { MemoryRoomStore } from '../memoryRoomStore.js';
import { RedisBackplane } from '../redisBackplane.js';
import { connectRedis } from '../redisConnection.js';
import { RedisRoomStore } from '../redisRoomStore.js';
import type { RoomStore } from '../roomStore.js';
import { compactStoredRoom, planStoredCompaction, type StoreCompactionPolicy } from '../storeCompactor.js';
import { flushCluster, type RedisCluster } from './redisCluster.js';
import { startRedis, type RedisServer } from './redisServer.js';

export interface FuzzableHarness extends BackplaneHarness {
  /** A RoomStore over the shared data (the relays' view of it). */
  readonly store: RoomStore;
  /** Compacts the oldest log entries of `room` the way relays would (Redis: fenced, REDIS-3). */
  compactOldest(room: string, merge: (updates: readonly Uint8Array[]) => Uint8Array): Promise<void>;
}

const policy: StoreCompactionPolicy = { minLogEntries: 2, targetBytes: 1 << 20, leaseMs: 30_000 };

export const inProcessHarness = (): FuzzableHarness => {
  const store = new MemoryRoomStore();
  const hub = new InProcessBackplaneHub(store);
  return {
    store,
    relay: () => Promise.resolve(hub.connect()),
    load: (room) => store.load(room),
    compact: async (room, segment) => {
      await store.writeSegment(room, segment);
      await store.deleteCovered(room, segment.seqLo, segment.seqHi);
    },
    compactOldest: async (room, merge) => {
      // One process: nothing runs between the load and the writes but appends above the range.
      const plan = planStoredCompaction(await store.load(room), policy);
      if (!plan) return;
      await store.writeSegment(room, { seqLo: plan.seqLo, seqHi: plan.seqHi, update: merge(plan.updates) });
      await store.deleteCovered(room, plan.seqLo, plan.seqHi);
    },
    kill: (b) => Promise.resolve(hub.kill(b.relayId)),
    outage: () => Promise.resolve(hub.outage()),
    recover: () => Promise.resolve(hub.recover()),
    cleanup: () => store.close(),
  };
};

export interface RedisHarness extends FuzzableHarness {
  readonly store: RedisRoomStore;
}

/** Where the harness's Redis runs: a single server or a cluster, killable and restartable. */
export interface RedisTarget {
  readonly url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface RedisServerHarness extends RedisHarness {
  readonly server: RedisServer;
}

/** One fresh redis-server for this harness. Heartbeats every 100 ms. */
export const redisHarness = async (): Promise<RedisServerHarness> => {
  const server = await startRedis();
  const harness = await redisHarnessOn(server, false, () => server.cleanup());
  return { ...harness, server };
};

/**
 * The harness on a shared Redis Cluster (REDIS-1), emptied first; `cleanup` leaves the cluster
 * running for the next test (its owner stops it).
 */
export const redisClusterHarness = async (cluster: RedisCluster): Promise<RedisHarness> => {
  await flushCluster(cluster);
  return redisHarnessOn(cluster, true, () => Promise.resolve());
};

const redisHarnessOn = async (
  target: RedisTarget,
  cluster: boolean,
  release: () => Promise<void>,
): Promise<RedisHarness> => {
  const relays: RedisBackplane[] = [];
  const client = await connectRedis(target.url, 'converge-test-store', cluster);
  const store = new RedisRoomStore(client, { ownsClient: true });
  return {
    store,
    relay: async (): Promise<Backplane> => {
      const b = await RedisBackplane.connect({ url: target.url, cluster, heartbeatMs: 100 });
      relays.push(b);
      return b;
    },
    load: (room) => store.load(room),
    compact: async (room, segment) => {
      await store.writeSegment(room, segment);
      await store.deleteCovered(room, segment.seqLo, segment.seqHi);
    },
    compactOldest: async (room, merge) => {
      await compactStoredRoom(store, room, policy, merge);
    },
    kill: (b) => (b as RedisBackplane).crash(),
    outage: () => target.kill(),
    recover: async () => {
      await target.restart();
      // The harness's own store connection reconnects with a backoff; the relays' do too, and
      // tests must cope with that (their publishes fail until then).
      if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    },
    cleanup: async () => {
      for (const b of relays) await b.crash();
      await store.close();
      await release();
    },
  };
};
