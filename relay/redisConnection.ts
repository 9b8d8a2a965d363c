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
 * Durability (REDIS-2): an append is acknowledged only once Redis has fsync'd it. With
 * `appendonly yes` and `appendfsync always`, Redis writes and fsyncs the AOF before it sends the
 * replies of the commands of that event-loop turn, so a reply means "on disk". `checkDurability`
 * reads both settings with CONFIG GET at connect time and refuses anything weaker. Managed Redis
 * services often disable CONFIG: `durability: 'trust'` then skips the check, and the operator
 * vouches for the settings (the relay logs a warning saying so).
 */
import { Redis, type RedisOptions } from 'ioredis';

export type RedisDurabilityMode = 'verify' | 'trust';

export class RedisDurabilityError extends Error {}

export interface RedisDurability {
  readonly appendonly: string;
  readonly appendfsync: string;
  /** False when CONFIG GET was unavailable and the mode was 'trust'. */
  readonly verified: boolean;
}

export const createRedisClient = (url: string, name: string, extra: RedisOptions = {}): Redis => {
  const client = new Redis(url, {
    ...extra,
    lazyConnect: true,
    protocol: 2,
    connectionName: name,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    // Reconnect forever with a capped backoff: Redis coming back is the normal way out of "down".
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), 2000),
  });
  // Connection errors surface as 'close'/'reconnecting' (RedisHealth) and as rejected commands;
  // without a listener ioredis would print each one.
  client.on('error', () => undefined);
  return client;
};

/** Connects (resolves once the first connection is ready). */
export const connectRedis = async (url: string, name: string): Promise<Redis> => {
  const client = createRedisClient(url, name);
  await client.connect();
  return client;
};

const configValue = async (client: Redis, name: string): Promise<string> => {
  const reply = (await client.call('CONFIG', 'GET', name)) as string[];
  const value = reply[1];
  if (value === undefined) throw new RedisDurabilityError(`CONFIG GET ${name} returned nothing`);
  return value;
};

/** REDIS-2: throws RedisDurabilityError unless Redis fsyncs every write before replying. */
export const checkDurability = async (client: Redis, mode: RedisDurabilityMode): Promise<RedisDurability> => {
  let appendonly: string;
  let appendfsync: string;
  try {
    appendonly = await configValue(client, 'appendonly');
    appendfsync = await configValue(client, 'appendfsync');
  } catch (err) {
    if (mode === 'trust') return { appendonly: 'unknown', appendfsync: 'unknown', verified: false };
    throw new RedisDurabilityError(
      `cannot read Redis persistence settings (${String(err)}); acks need appendonly yes and appendfsync always. ` +
        'If CONFIG is disabled and the server is configured that way, set REDIS_DURABILITY=trust',
    );
  }
  if (appendonly !== 'yes' || appendfsync !== 'always') {
    throw new RedisDurabilityError(
      `Redis has appendonly ${appendonly} and appendfsync ${appendfsync}; Converge acks only what is fsync'd, ` +
        'so it needs appendonly yes and appendfsync always',
    );
  }
  return { appendonly, appendfsync, verified: true };
};
