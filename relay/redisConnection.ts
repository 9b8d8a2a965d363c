/**
 * Connecting to Redis the way Converge needs it, and checking that Redis is durable enough to ack.
 *
 * Client options, and why:
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when
 *   the connection drops is rejected, never silently re-sent after a reconnect. The caller then
 *   treats it as a failed write (no ack; ACK-4) and clients upload again; a re-sent append could
 *   otherwise land twice or long after the relay gave up on it.
 * - `enableOfflineQueue: false`: while Redis is away every command fails at once instead of
 *   queueing — the relay must stop acking, not pile up promises (REDIS-5).
 * - RESP2: replies have one shape (flat arrays), whatever the server's version.
 *
 * Single server or Cluster (REDIS-1): `connectRedis` asks the server at `REDIS_URL` whether it
 * runs in cluster mode (INFO cluster) and returns an ioredis `Cluster` client if so (the URL is
 * then one seed node; the others are discovered). A cluster client follows MOVED/ASK redirections
 * by itself; those replies mean the command did not run, so retrying them is safe. Unlike the
 * single-server client it also re-sends, after 100 ms, a command whose node connection was not
 * ready or closed — the same path serves both, so it cannot be turned off for the second alone.
 * A re-sent command may have run once already: a publish then stores its updates twice, under
 * two seqs (harmless: Yjs updates are idempotent, DEDUPE-1/2), and a check-first store script
 * fails its check (the call rejects with an unknown outcome, never acked).
 *
 * Durability (REDIS-2): an append is acknowledged only once Redis has fsync'd it. With
 * `appendonly yes` and `appendfsync always`, Redis writes and fsyncs the AOF before it sends the
 * replies of the commands of that event-loop turn, so a reply means "on disk". `checkDurability`
 * reads both settings with CONFIG GET at connect time — on every node of a cluster, replicas
 * included, since a replica may become the master — and refuses anything weaker. Managed Redis
 * services often disable CONFIG: `durability: 'trust'` then skips the check, and the operator
 * vouches for the settings (the relay logs a warning saying so). Replicas are asynchronous: to
 * survive a failover, `REDIS_WAIT_REPLICAS` makes every commit also wait for that many replicas
 * (REDIS-9, relay/redisScript.ts).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisDurabilityMode = 'verify' | 'trust';

export class RedisDurabilityError extends Error {}

export interface RedisDurability {
  readonly appendonly: string;
  readonly appendfsync: string;
  /** False when CONFIG GET was unavailable and the mode was 'trust'. */
  readonly verified: boolean;
}

/** A single-server or a cluster client: both run every command Converge uses. */
export type RedisClient = Redis | Cluster;

/** Reconnect forever with a capped backoff: Redis coming back is the normal way out of "down". */
const backoff = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 10), 2000);

/** Options every connection gets (a cluster client passes them to each node connection). */
const nodeOptions = (name: string, extra: RedisOptions) => ({
  ...extra,
  lazyConnect: true,
  protocol: 2 as const,
  connectionName: name,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
});

export interface RedisClientOptions {
  /** A Cluster client (seeded with `url`) instead of a single-server one. */
  readonly cluster?: boolean;
  readonly extra?: RedisOptions;
}

export const createRedisClient = (url: string, name: string, options: RedisClientOptions = {}): RedisClient => {
  const extra = options.extra ?? {};
  const client = options.cluster
    ? new Cluster([url], {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: backoff,
        // Credentials and TLS in the seed URL apply to every node.
        redisOptions: { ...nodeOptions(name, extra), ...urlAuth(url) },
      })
    : new Redis(url, { ...nodeOptions(name, extra), enableOfflineQueue: false, retryStrategy: backoff });
  // Connection errors surface as 'close'/'reconnecting' (RedisHealth) and as rejected commands;
  // without a listener ioredis would print each one.
  client.on('error', () => undefined);
  return client;
};

/**
 * HEALTH-1: a part of the relay that holds Redis connections of its own (the backplane's command
 * and pub/sub connections, the store's, the per-address limiter's). After an outage each
 * reconnects on its own backoff, so they come back one by one, milliseconds apart: `/healthz`
 * asks every part, and reports Redis up only once all of them are ready.
 */
export interface RedisReadiness {
  /** True while every Redis connection of this part can run a command now. */
  redisReady(): boolean;
}

/**
 * Whether every one of `clients` can run a command now: connected and past ioredis's ready check
 * (which waits out a server still loading its AOF). Any other state refuses commands at once (no
 * offline queue). A Cluster client is 'ready' once it knows the slot map and stays so while a
 * node is unreachable; the backplane's heartbeats notice that (REDIS-5).
 */
export const connectionsReady = (clients: readonly RedisClient[]): boolean =>
  clients.every((client) => client.status === 'ready');

const urlAuth = (url: string): RedisOptions => {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
};

/** Where `url` points, for a message: host and port, never its credentials. */
const redisAddress = (url: string): string => {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '6379'}`;
};

/**
 * Connects `client`. A failed connect rejects with only "Connection is closed."; the cause
 * (ECONNREFUSED, WRONGPASS, NOAUTH, a TLS error) comes as an 'error' event before it. The error
 * thrown names both the address and that cause, so a relay that cannot start says why (Redis
 * replies never echo the password).
 */
export const connectExplained = async (client: RedisClient, url: string): Promise<void> => {
  let cause: unknown = null;
  const onError = (err: unknown): void => {
    cause ??= err;
  };
  client.on('error', onError);
  try {
    await client.connect();
  } catch (err) {
    const why = cause ?? err;
    throw new Error(
      `cannot connect to Redis at ${redisAddress(url)}: ${why instanceof Error ? why.message : String(why)}`,
    );
  } finally {
    client.off('error', onError);
  }
};

/** REDIS-1: whether the server at `url` runs in cluster mode (`cluster_enabled:1` in INFO cluster). */
export const isClusterServer = async (url: string): Promise<boolean> => {
  const probe = createRedisClient(url, 'converge-probe');
  try {
    await connectExplained(probe, url);
    return /^cluster_enabled:1\s*$/m.test(await probe.info('cluster'));
  } finally {
    probe.disconnect();
  }
};

/**
 * Connects (resolves once the first connection is ready). `cluster` undefined = ask the server;
 * a cluster client is ready once it knows which node serves which slot.
 */
export const connectRedis = async (url: string, name: string, cluster?: boolean): Promise<RedisClient> => {
  const client = createRedisClient(url, name, { cluster: cluster ?? (await isClusterServer(url)) });
  await connectExplained(client, url);
  return client;
};

const configValue = async (client: Redis, name: string): Promise<string> => {
  const reply = (await client.call('CONFIG', 'GET', name)) as string[];
  const value = reply[1];
  if (value === undefined) throw new RedisDurabilityError(`CONFIG GET ${name} returned nothing`);
  return value;
};

/**
 * REDIS-2: throws RedisDurabilityError unless Redis fsyncs every write before replying — on every
 * node of a cluster.
 */
export const checkDurability = async (client: RedisClient, mode: RedisDurabilityMode): Promise<RedisDurability> => {
  const nodes = client instanceof Cluster ? client.nodes('all') : [client];
  let result: RedisDurability = { appendonly: 'unknown', appendfsync: 'unknown', verified: false };
  for (const node of nodes) {
    result = await checkNode(node, mode);
    if (!result.verified) return result;
  }
  return result;
};

/** REDIS-2 for one node: its settings, or RedisDurabilityError (see `checkDurability`). */
export const checkNode = async (client: Redis, mode: RedisDurabilityMode): Promise<RedisDurability> => {
  const where = `${client.options.host ?? '?'}:${client.options.port ?? '?'}`;
  let appendonly: string;
  let appendfsync: string;
  try {
    appendonly = await configValue(client, 'appendonly');
    appendfsync = await configValue(client, 'appendfsync');
  } catch (err) {
    if (mode === 'trust') return { appendonly: 'unknown', appendfsync: 'unknown', verified: false };
    throw new RedisDurabilityError(
      `cannot read the persistence settings of Redis at ${where} (${String(err)}); acks need appendonly yes and appendfsync always. ` +
        'If CONFIG is disabled and the server is configured that way, set REDIS_DURABILITY=trust',
    );
  }
  if (appendonly !== 'yes' || appendfsync !== 'always') {
    throw new RedisDurabilityError(
      `Redis at ${where} has appendonly ${appendonly} and appendfsync ${appendfsync}; Converge acks only what is fsync'd, ` +
        'so it needs appendonly yes and appendfsync always',
    );
  }
  return { appendonly, appendfsync, verified: true };
};
