/**
 * The two backplane set-ups the contract suite and the fuzz run against: several relays' backplanes
 * on one in-process hub (over a MemoryRoomStore), or on one real redis-server ("outage" kills it
 * with SIGKILL, "recover" restarts it on the same AOF).
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
  readonly server: RedisServer;
  readonly store: RedisRoomStore;
}

/** `fanoutWindow` small exercises the catch-up from the log. Heartbeats every 100 ms. */
export const redisHarness = async (fanoutWindow?: number): Promise<RedisHarness> => {
  const server = await startRedis();
  const relays: RedisBackplane[] = [];
  const client = await connectRedis(server.url, 'converge-test-store');
  const store = new RedisRoomStore(client, { ownsClient: true });
  return {
    server,
    store,
    relay: async (): Promise<Backplane> => {
      const b = await RedisBackplane.connect({ url: server.url, heartbeatMs: 100, fanoutWindow });
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
    outage: () => server.kill(),
    recover: async () => {
      await server.restart();
      // The harness's own store connection reconnects with a backoff; the relays' do too, and
      // tests must cope with that (their publishes fail until then).
      if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    },
    cleanup: async () => {
      for (const b of relays) await b.crash();
      await store.close();
      await server.cleanup();
    },
  };
};
