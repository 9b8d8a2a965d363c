/**
 * Scale-out mode's storage (`REDIS_URL` set): the shared store, the backplane and store-side
 * compaction, all on one Redis server or one Redis Cluster (detected, REDIS-1), and the per-address
 * limits counted across relays (REDIS-11). Refuses to start (throws) unless Redis fsyncs every write before
 * replying (REDIS-2, or `REDIS_DURABILITY=trust`), because acks follow the backplane's publish,
 * and stops committing while a later check finds that no longer true (REDIS-10).
 */
import type { RelayConfig } from './config.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { Backplane } from './backplane.js';
import { RedisBackplane } from './redisBackplane.js';
import { RedisAddressLimiter } from './redisAddressLimiter.js';
import { checkDurability, connectRedis, isClusterServer, type RedisReadiness } from './redisConnection.js';
import { DurabilityWatch } from './durabilityWatch.js';
import { RedisRoomStore } from './redisRoomStore.js';
import { COMPACTION, type StoreCompactionPolicy } from './storeCompactor.js';

export interface ScaleOutStorage {
  readonly store: RedisRoomStore;
  readonly backplane: Backplane;
  readonly storeCompaction: { readonly store: RedisRoomStore; readonly policy: StoreCompactionPolicy };
  /** REDIS-11: MAX_CONNECTIONS_PER_IP and MAX_UPGRADES_PER_IP_PER_MINUTE across relays; null when both are 0. */
  readonly addressLimiter: RedisAddressLimiter | null;
  /** REDIS-10: the running durability check; undefined when REDIS_DURABILITY left it unverified. */
  readonly durability: DurabilityWatch | undefined;
  /** HEALTH-1: every part above that holds a Redis connection of its own, for `/healthz`. */
  readonly connections: readonly RedisReadiness[];
}

/** REDIS-3: STORE-2's policy, run from the store; a lease far longer than one merge of a segment. */
const POLICY: StoreCompactionPolicy = { ...COMPACTION, leaseMs: 30_000 };

export const openScaleOutStorage = async (
  config: RelayConfig,
  log: Logger,
  metrics: RelayMetrics,
): Promise<ScaleOutStorage> => {
  const cluster = await isClusterServer(config.redisUrl);
  const client = await connectRedis(config.redisUrl, 'converge-relay-store', cluster);
  const wait = { replicas: config.redisWaitReplicas, timeoutMs: config.redisWaitTimeoutMs };
  let verified: boolean;
  try {
    const durability = await checkDurability(client, config.redisDurability);
    log.info('redis', { mode: cluster ? 'cluster' : 'single', waitReplicas: wait.replicas, ...durability });
    if (!durability.verified) log.warn('redis-durability-unverified', {});
    verified = durability.verified;
  } catch (err) {
    client.disconnect();
    throw err;
  }
  // REDIS-10: checked again with every heartbeat period, on every node known by then.
  const durability = verified ? new DurabilityWatch(client, config.redisHeartbeatMs, log) : undefined;
  const store = new RedisRoomStore(client, {
    prefix: config.redisPrefix,
    observe: metrics.redis,
    ownsClient: true,
    wait,
    durability,
  });
  const backplane = await RedisBackplane.connect({
    url: config.redisUrl,
    prefix: config.redisPrefix,
    heartbeatMs: config.redisHeartbeatMs,
    cluster,
    wait,
    observe: metrics.redis,
    log,
    durability,
  });
  const { maxConnectionsPerIp, maxUpgradesPerIpPerMinute } = config;
  const addressLimiter =
    maxConnectionsPerIp === 0 && maxUpgradesPerIpPerMinute === 0
      ? null
      : await RedisAddressLimiter.connect({
          url: config.redisUrl,
          cluster,
          prefix: config.redisPrefix,
          relayId: backplane.relayId,
          heartbeatMs: config.redisHeartbeatMs,
          maxConnections: maxConnectionsPerIp,
          maxUpgradesPerMinute: maxUpgradesPerIpPerMinute,
          observe: metrics.redis,
          log,
        });
  metrics.backplane(true);
  // The durability watch uses the store's connection; the cluster probe is closed by now.
  const connections = addressLimiter ? [store, backplane, addressLimiter] : [store, backplane];
  return { store, backplane, storeCompaction: { store, policy: POLICY }, addressLimiter, durability, connections };
};
