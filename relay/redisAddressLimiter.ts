/**
 * REDIS-11: the per-address limits (CLOSE-7) counted in Redis, so they hold across every relay
 * sharing it (relay/addressLimiter.ts has the contract). Without it each relay counted alone, and
 * behind a load balancer over n relays one address got n times its allowance.
 *
 * One hash per address (redisKeys.ts `addressKey`, hash-tagged: one slot per address, REDIS-1):
 * - `t`, `at`: the attempt budget as a token bucket (tokens, and when they were counted, in
 *   Redis's own clock: relays' clocks may differ, one node's does not);
 * - `c:<relay>:<conn>`: one field per connection a relay holds from the address;
 * - `d:<relay>`: that relay's deadline for its fields here, 3 × REDIS_HEARTBEAT_MS ahead,
 *   renewed by its heartbeat. A field whose relay's deadline passed belongs to a dead (or cut
 *   off) relay: the next script on the key drops it. So a relay killed with SIGKILL gives its
 *   slots back within three heartbeats, as its presence goes (REDIS-6), without any other relay
 *   having to find out which addresses it held.
 * - The key expires when nothing in it matters any more: no live deadline and a bucket that
 *   would be full again (after one attempt at the default 1,200 a minute, 50 ms). Redis holds an
 *   address no longer than its connections and its recent attempts, like PerIpLimits.
 *
 * Round trips: an upgrade is one script (ADMIT: take an attempt token, drop dead relays' fields,
 * count the live ones, take a slot), and a close one more (HELD). Every heartbeat, one HELD per
 * address this relay holds connections from (several addresses per script on a single server;
 * one per address on a Cluster, where each lives in its own slot).
 *
 * HELD states this relay's whole part of an address: "the connections I hold here are exactly
 * these, plus those whose admission is still in flight, if they are there". It is idempotent, so
 * whatever Redis lost or missed (a release that failed, a failover to a replica that had not got
 * a write, fields dropped while this relay could not renew them) is right again after the next
 * heartbeat. Connections whose ADMIT is in flight are kept but not added: an ADMIT sent before a
 * HELD runs before it (one connection, one node per key), and may have refused.
 *
 * Fail-open: when the script fails or takes longer than `timeoutMs` (Redis unreachable, a shard
 * down, a stalled server), the upgrade is admitted on the per-process check alone — the bound is
 * then what it was before REDIS-11, per relay — and its connection is counted from the next
 * heartbeat on. Refusing instead would make every upgrade depend on the shard of the client's
 * address, also for rooms on healthy shards, and on a Redis that answers slowly; and while Redis
 * is down the relay refuses upgrades with 503 anyway (REDIS-5).
 */
import { Cluster } from 'ioredis';
import { UpgradeRefusal } from '../shared/protocol.js';
import { UNCOUNTED, type AddressAdmission, type AddressLimiter, type AddressLimits } from './addressLimiter.js';
import { silentLogger, type Logger } from './log.js';
import {
  connectExplained,
  connectionsReady,
  createRedisClient,
  isClusterServer,
  type RedisClient,
  type RedisReadiness,
} from './redisConnection.js';
import { DEFAULT_REDIS_PREFIX, addressKey } from './redisKeys.js';
import { observed, type RedisObserver } from './redisRoomStore.js';
import { RedisScript, type RedisArg } from './redisScript.js';
import { LogThrottle } from './logThrottle.js';

/** Redis's clock in ms (TIME: seconds, microseconds). Scripts replicate their effects, so this is allowed before writes. */
const LUA_NOW = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS: the address's hash. ARGV: relay, conn, maxConnections, maxUpgradesPerMinute, ttl (ms).
 * Returns 0 (admitted; a slot is held unless maxConnections is 0), 1 (no attempt left) or 2
 * (the address holds maxConnections).
 */
const ADMIT = new RedisScript(`${LUA_NOW}
local key, relay, conn = KEYS[1], ARGV[1], ARGV[2]
local maxConns, perMinute, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = nowMs()
local all = redis.call('HGETALL', key)
local deadline, conns = {}, {}
local tokens, at = perMinute, now
for i = 1, #all, 2 do
  local f, v = all[i], all[i + 1]
  if f == 't' then tokens = tonumber(v)
  elseif f == 'at' then at = tonumber(v)
  elseif string.sub(f, 1, 2) == 'd:' then deadline[string.sub(f, 3)] = tonumber(v)
  elseif string.sub(f, 1, 2) == 'c:' then conns[#conns + 1] = f end
end
-- Fields of relays whose deadline passed: a dead relay's connections are free again.
for r, d in pairs(deadline) do
  if d <= now then
    redis.call('HDEL', key, 'd:' .. r)
    deadline[r] = nil
  end
end
local live = 0
for _, f in ipairs(conns) do
  if deadline[string.match(f, '^c:(.*):%d+$')] then live = live + 1 else redis.call('HDEL', key, f) end
end
local verdict, refill = 0, 0
if perMinute > 0 then
  local rate = perMinute / 60000
  tokens = math.min(perMinute, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then verdict = 1 else tokens = tokens - 1 end
  redis.call('HSET', key, 't', string.format('%.6f', tokens), 'at', string.format('%d', now))
  refill = math.ceil((perMinute - tokens) / rate)
end
if verdict == 0 and maxConns > 0 then
  if live >= maxConns then
    verdict = 2
  else
    deadline[relay] = now + ttl
    redis.call('HSET', key, 'c:' .. relay .. ':' .. conn, '1', 'd:' .. relay, string.format('%d', now + ttl))
  end
end
-- Kept while a live deadline or the bucket's refill needs it; then it is a new address again.
local keep = refill
for _, d in pairs(deadline) do keep = math.max(keep, d - now) end
if keep > 0 then redis.call('PEXPIRE', key, keep) else redis.call('DEL', key) end
return verdict
`);

/**
 * KEYS: address hashes. ARGV: relay, ttl (ms), then per key: n, n held conns, m, m conns in
 * flight. Makes this relay's fields in each hash exactly the held ones (and the in-flight ones it
 * already has), renews its deadline there; with nothing held or in flight, removes its deadline.
 */
const HELD = new RedisScript(`${LUA_NOW}
local relay, ttl = ARGV[1], tonumber(ARGV[2])
local now = nowMs()
local prefix = 'c:' .. relay .. ':'
local a = 3
for k = 1, #KEYS do
  local key = KEYS[k]
  local keep = {}
  local n = tonumber(ARGV[a])
  for i = 1, n do keep[prefix .. ARGV[a + i]] = true end
  local first = a + 1
  a = a + n + 1
  local m = tonumber(ARGV[a])
  for i = 1, m do keep[prefix .. ARGV[a + i]] = true end
  a = a + m + 1
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, #prefix) == prefix and not keep[f] then redis.call('HDEL', key, f) end
  end
  if n > 0 then
    for i = first, first + n - 1 do redis.call('HSET', key, prefix .. ARGV[i], '1') end
    redis.call('HSET', key, 'd:' .. relay, string.format('%d', now + ttl))
    if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  elseif m == 0 then
    redis.call('HDEL', key, 'd:' .. relay)
  end
end
return #KEYS
`);

/** Addresses per HELD script on a single server: a heartbeat never holds Redis for long. */
const HELD_BATCH = 200;

export interface RedisAddressLimiterOptions extends AddressLimits {
  readonly url: string;
  /** Cluster client or single-server client; undefined = ask the server (REDIS-1). */
  readonly cluster?: boolean;
  readonly prefix?: string;
  /** This relay's id (the backplane's): whose fields are whose. */
  readonly relayId: string;
  /** Renewal period; a relay's fields outlive its last renewal by three periods. */
  readonly heartbeatMs?: number;
  /** How long an upgrade waits for the script before it is admitted without it (default: heartbeatMs). */
  readonly timeoutMs?: number;
  readonly observe?: RedisObserver;
  readonly log?: Logger;
}

/** A connection's state here: its ADMIT in flight, or held (admitted, or admitted without Redis). */
type Slot = 'pending' | 'held';

export class RedisAddressLimiter implements AddressLimiter, RedisReadiness {
  private readonly prefix: string;
  private readonly heartbeatMs: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly failures = new LogThrottle();
  /** Address → this relay's connections from it (ids unique in this process run). */
  private readonly slots = new Map<string, Map<number, Slot>>();
  private nextConn = 1;
  private closed = false;
  private renewing = false;
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  private constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisAddressLimiterOptions,
  ) {
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.timeoutMs = options.timeoutMs ?? this.heartbeatMs;
    this.log = options.log ?? silentLogger;
  }

  /** Connects its own connection (an upgrade never waits behind a catch-up's reply) and starts renewing. */
  static async connect(options: RedisAddressLimiterOptions): Promise<RedisAddressLimiter> {
    const cluster = options.cluster ?? (await isClusterServer(options.url));
    const redis = createRedisClient(options.url, 'converge-relay-limits', { cluster });
    try {
      await connectExplained(redis, options.url);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    const limiter = new RedisAddressLimiter(redis, options);
    limiter.heartbeat = setInterval(() => void limiter.renew(), limiter.heartbeatMs);
    limiter.heartbeat.unref();
    return limiter;
  }

  async admit(address: string): Promise<AddressAdmission> {
    const { maxConnections, maxUpgradesPerMinute, relayId } = this.options;
    if (this.closed || (maxConnections === 0 && maxUpgradesPerMinute === 0)) return UNCOUNTED;
    const conn = this.nextConn++;
    // With no connection limit there are no slots, only the budget.
    const slots = maxConnections === 0 ? null : this.slotsOf(address);
    slots?.set(conn, 'pending');
    const args: RedisArg[] = [relayId, conn, maxConnections, maxUpgradesPerMinute, this.heartbeatMs * 3];
    let verdict: number | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const run = this.timed('addressAdmit', () => ADMIT.run(this.redis, [this.key(address)], args));
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.timeoutMs)));
      run.catch(() => undefined); // after a timeout nobody awaits it
      verdict = (await Promise.race([run, late])) as number | null;
      if (verdict === null) this.failed(`no reply within ${this.timeoutMs} ms`);
    } catch (err) {
      this.failed(String(err));
    } finally {
      clearTimeout(timer);
    }
    if (verdict === 1 || verdict === 2) {
      this.drop(address, conn);
      return { refusal: verdict === 1 ? UpgradeRefusal.TooManyUpgradesPerIp : UpgradeRefusal.TooManyConnectionsPerIp };
    }
    if (!slots || this.closed) {
      this.drop(address, conn);
      return UNCOUNTED;
    }
    // Admitted, or fail-open: held either way, so the next renewal counts it if Redis did not.
    slots.set(conn, 'held');
    let released = false;
    return {
      refusal: null,
      release: async () => {
        if (released) return;
        released = true;
        this.drop(address, conn);
        if (!this.closed) await this.sendHeld([address]);
      },
    };
  }

  /** HEALTH-1: whether its connection is ready (else upgrades are admitted uncounted, fail-open). */
  redisReady(): boolean {
    return connectionsReady([this.redis]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    // Leaving: this relay's part of every address it held is nothing (HELD with empty lists).
    const addresses = [...this.slots.keys()];
    this.slots.clear();
    // Bounded like an admission: a stalled Redis must not hold up the shutdown (CLOSE-4); the
    // deadlines expire those slots within three heartbeats anyway.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.timeoutMs)));
    const goodbye = async (): Promise<void> => {
      await this.held(addresses).catch(() => undefined);
      await this.redis.quit().catch(() => undefined);
    };
    await Promise.race([goodbye(), late]);
    clearTimeout(timer);
    this.redis.disconnect();
  }

  /** What a SIGKILL leaves behind (for tests): no goodbye, the renewals simply stop. */
  crash(): Promise<void> {
    this.closed = true;
    this.stop();
    this.redis.disconnect();
    return Promise.resolve();
  }

  // --- internals ------------------------------------------------------------------------------

  private key(address: string): string {
    return addressKey(this.prefix, address);
  }

  private slotsOf(address: string): Map<number, Slot> {
    let slots = this.slots.get(address);
    if (!slots) this.slots.set(address, (slots = new Map<number, Slot>()));
    return slots;
  }

  private drop(address: string, conn: number): void {
    const slots = this.slots.get(address);
    if (!slots?.delete(conn)) return;
    if (slots.size === 0) this.slots.delete(address);
  }

  /** An upgrade admitted without the shared count (fail-open). Clients can cause it at will: throttled. */
  private failed(error: string): void {
    const line = this.failures.allow('address-limit-unchecked');
    if (line) this.log.warn('address-limit-unchecked', { error, ...(line.suppressed ? line : {}) });
  }

  private stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Every heartbeat: this relay's part of every address it holds connections from. */
  private async renew(): Promise<void> {
    if (this.renewing || this.closed) return;
    this.renewing = true;
    try {
      const addresses = [...this.slots].filter(([, s]) => [...s.values()].includes('held')).map(([a]) => a);
      await this.held(addresses);
    } catch (err) {
      // Retried at the next heartbeat; after three, other relays stop counting these (fail-open).
      this.log.debug('address-limit-renew-failed', { error: String(err) });
    } finally {
      this.renewing = false;
    }
  }

  /** One release: that address's part, as it stands now. Never rejects (renewals repair a failure). */
  private async sendHeld(addresses: readonly string[]): Promise<void> {
    await this.held(addresses).catch((err: unknown) =>
      this.log.debug('address-limit-release-failed', { error: String(err) }),
    );
  }

  /** HELD for `addresses`: batched on a single server, one script per address (its slot) on a Cluster. */
  private async held(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    const perScript = this.redis instanceof Cluster ? 1 : HELD_BATCH;
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < addresses.length; i += perScript) {
      const batch = addresses.slice(i, i + perScript);
      const args: RedisArg[] = [this.options.relayId, this.heartbeatMs * 3];
      for (const address of batch) {
        const slots = [...(this.slots.get(address) ?? [])];
        const held = slots.filter(([, s]) => s === 'held').map(([c]) => c);
        const pending = slots.filter(([, s]) => s === 'pending').map(([c]) => c);
        args.push(held.length, ...held, pending.length, ...pending);
      }
      const keys = batch.map((a) => this.key(a));
      runs.push(this.timed('addressHeld', () => HELD.run(this.redis, keys, args)));
    }
    await Promise.all(runs);
  }

  private timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    return observed(this.options.observe, op, run);
  }
}
