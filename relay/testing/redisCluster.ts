/**
 * A real Redis Cluster for tests: N cluster-mode `redis-server` masters on free loopback ports
 * (each as relay/testing/redisServer.ts starts them: AOF on, `appendfsync always`), the 16384
 * slots split evenly, joined with CLUSTER MEET. The whole cluster can be killed with SIGKILL and
 * restarted on the same ports and directories: each node reloads its AOF and its cluster state
 * file, and the cluster comes back with the same slot map.
 */
import { Redis } from 'ioredis';
import { waitFor } from '../../shared/testing/waitFor.js';
import { startRedis, type RedisServer } from './redisServer.js';

export interface RedisCluster {
  /** redis://127.0.0.1:PORT of the first node: the seed a relay is given. */
  readonly url: string;
  /** Masters first (by slot range), then their replicas (replica i of master m at masters + m * r + i). */
  readonly nodes: readonly RedisServer[];
  /** SIGKILL every node. */
  kill(): Promise<void>;
  /** Starts every node again and waits until the cluster serves all slots. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

const SLOTS = 16384;

const admin = (node: RedisServer): Redis => {
  const client = new Redis({ port: node.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  return client;
};

/** Every node answers cluster_state:ok and knows all the others. */
const waitForClusterOk = async (nodes: readonly RedisServer[]): Promise<void> => {
  const clients = nodes.map(admin);
  try {
    await waitFor(
      async () => {
        for (const c of clients) {
          const info = await c.cluster('INFO').catch(() => '');
          if (!/cluster_state:ok/.test(info) || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
        }
        return true;
      },
      { timeout: 30_000, interval: 50, message: 'the Redis Cluster serves every slot' },
    );
  } finally {
    for (const c of clients) c.disconnect();
  }
};

export interface ClusterOptions {
  readonly masters?: number;
  /** Replicas per master (CLUSTER REPLICATE), for failover tests. */
  readonly replicas?: number;
  /** More redis-server arguments for every node. */
  readonly extraArgs?: readonly string[];
}

export const startRedisCluster = async (options: ClusterOptions = {}): Promise<RedisCluster> => {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(await startRedis({ clusterNode: true, extraArgs: options.extraArgs ?? [] }));
    }
    const clients = nodes.map(admin);
    try {
      for (const [i, c] of clients.slice(0, masters).entries()) {
        const lo = Math.floor((i * SLOTS) / masters);
        const hi = Math.floor(((i + 1) * SLOTS) / masters) - 1;
        await c.call('CLUSTER', 'ADDSLOTSRANGE', lo, hi);
        // Distinct config epochs, as redis-cli --cluster create sets them.
        await c.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      }
      for (const node of nodes.slice(1)) {
        const bus = await clusterBusPort(node);
        await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', node.port, bus);
      }
      if (replicas > 0) {
        // A replica can follow a master only once it knows it (gossip after MEET).
        await waitForClusterOk(nodes);
        for (let m = 0; m < masters; m++) {
          const id = String(await clients[m]!.call('CLUSTER', 'MYID'));
          for (let r = 0; r < replicas; r++)
            await clients[masters + m * replicas + r]!.call('CLUSTER', 'REPLICATE', id);
        }
        await waitFor(
          async () => {
            for (const c of clients.slice(masters)) {
              if (!/master_link_status:up/.test(await c.info('replication').catch(() => ''))) return false;
            }
            return true;
          },
          { timeout: 30_000, interval: 50, message: 'every replica linked to its master' },
        );
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
    await waitForClusterOk(nodes);
  } catch (err) {
    for (const n of nodes) await n.cleanup();
    throw err;
  }
  return {
    url: nodes[0]!.url,
    nodes,
    kill: async () => {
      for (const n of nodes) await n.kill();
    },
    restart: async () => {
      for (const n of nodes) await n.restart();
      await waitForClusterOk(nodes);
    },
    cleanup: async () => {
      for (const n of nodes) await n.cleanup();
    },
  };
};

const clusterBusPort = async (node: RedisServer): Promise<number> => {
  const c = admin(node);
  try {
    const reply = (await c.call('CONFIG', 'GET', 'cluster-port')) as string[];
    return Number(reply[1]);
  } finally {
    c.disconnect();
  }
};

/** Empties every node (FLUSHALL is per node on a cluster). */
export const flushCluster = async (cluster: RedisCluster): Promise<void> => {
  for (const node of cluster.nodes) {
    const c = admin(node);
    try {
      await c.flushall();
    } finally {
      c.disconnect();
    }
  }
};

/** The master that serves `slot` now (as `CLUSTER SLOTS` on the first node says). */
export const slotOwner = async (cluster: RedisCluster, slot: number): Promise<RedisServer> => {
  const c = admin(cluster.nodes[0]!);
  try {
    const ranges = (await c.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    const range = ranges.find(([lo, hi]) => lo <= slot && slot <= hi);
    const node = cluster.nodes.find((n) => n.port === range?.[2][1]);
    if (!node) throw new Error(`no master serves slot ${slot}`);
    return node;
  } finally {
    c.disconnect();
  }
};

/** The slot of `key` (CLUSTER KEYSLOT). */
export const keySlot = async (cluster: RedisCluster, key: string): Promise<number> => {
  const c = admin(cluster.nodes[0]!);
  try {
    return Number(await c.call('CLUSTER', 'KEYSLOT', key));
  } finally {
    c.disconnect();
  }
};

/**
 * Moves `slot` to the master `to` as `redis-cli --cluster reshard` does, but one key at a time:
 * `to` IMPORTING, the owner MIGRATING, MIGRATE each key, then `CLUSTER SETSLOT … NODE` on every
 * master (the new owner first). While it runs, commands on the slot get ASK redirections (a key
 * already moved, or a new one) or TRYAGAIN (a multi-key command whose keys are on both sides).
 * `between` is awaited after each key, so traffic can run against the half-moved slot.
 */
export const migrateSlot = async (
  cluster: RedisCluster,
  slot: number,
  to: RedisServer,
  between: () => Promise<void> = () => Promise.resolve(),
): Promise<void> => {
  const from = await slotOwner(cluster, slot);
  if (from === to) throw new Error(`slot ${slot} is already on :${to.port}`);
  const [src, dst] = [admin(from), admin(to)];
  try {
    const [fromId, toId] = [String(await src.call('CLUSTER', 'MYID')), String(await dst.call('CLUSTER', 'MYID'))];
    await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    for (;;) {
      const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, 1)) as string[];
      if (keys.length === 0) break;
      await src.call('MIGRATE', '127.0.0.1', to.port, keys[0]!, 0, 5000);
      await between();
    }
    await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    for (const n of cluster.nodes.filter((m) => m !== from && m !== to && m.running())) {
      const c = admin(n);
      // A replica refuses SETSLOT; it learns the new owner from its master by gossip.
      await c.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId).catch(() => undefined);
      c.disconnect();
    }
  } finally {
    src.disconnect();
    dst.disconnect();
  }
};
