/**
 * The AddressLimiter contract (REDIS-11) against both implementations: relays in one process, and
 * relays on a real redis-server (one per test). Plus what only Redis has: hash-tagged keys that go
 * away, fail-open while Redis is unreachable or stalled, and counts Redis lost coming back. The
 * same contract on a real Redis Cluster is in relay/redisCluster.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UpgradeRefusal } from '../shared/protocol.js';
import { waitFor } from '../shared/testing/waitFor.js';
import { addressLimiterContract } from './addressLimiter.contract.js';
import type { AddressAdmission } from './addressLimiter.js';
import { RedisAddressLimiter, type RedisAddressLimiterOptions } from './redisAddressLimiter.js';
import { connectRedis, type RedisClient } from './redisConnection.js';
import { DEFAULT_REDIS_PREFIX, addressKey } from './redisKeys.js';
import { HEARTBEAT_MS, inProcessLimiterHarness, redisLimiterHarness } from './testing/addressLimiterHarness.js';
import { startRedis, type RedisServer } from './testing/redisServer.js';

addressLimiterContract('InProcessAddressLimits', (limits) => Promise.resolve(inProcessLimiterHarness(limits)));

addressLimiterContract('RedisAddressLimiter', async (limits) => {
  const server = await startRedis();
  return redisLimiterHarness(server.url, false, limits, () => server.cleanup());
});

const TOO_MANY_CONNECTIONS = { refusal: UpgradeRefusal.TooManyConnectionsPerIp };
const ADDRESS = '198.51.100.7';
const KEY = addressKey(DEFAULT_REDIS_PREFIX, ADDRESS);

const isAdmitted = (a: AddressAdmission): boolean => a.refusal === null;

describe('RedisAddressLimiter', () => {
  let server: RedisServer | undefined;
  let admin: RedisClient | undefined;
  const limiters: RedisAddressLimiter[] = [];

  const setUp = async (): Promise<{ server: RedisServer; admin: RedisClient }> => {
    server = await startRedis();
    admin = await connectRedis(server.url, 'converge-test-admin', false);
    return { server, admin };
  };

  const relay = async (options: Partial<RedisAddressLimiterOptions> = {}): Promise<RedisAddressLimiter> => {
    const limiter = await RedisAddressLimiter.connect({
      url: server!.url,
      cluster: false,
      relayId: `relay-${limiters.length}`,
      heartbeatMs: HEARTBEAT_MS,
      maxConnections: 2,
      maxUpgradesPerMinute: 0,
      ...options,
    });
    limiters.push(limiter);
    return limiter;
  };

  afterEach(async () => {
    for (const l of limiters.splice(0)) await l.crash();
    admin?.disconnect();
    await server?.cleanup();
    server = admin = undefined;
  });

  it('REDIS-11: one hash-tagged key per address, gone once it holds no connection and its budget is full again', async () => {
    const { admin } = await setUp();
    const a = await relay({ maxUpgradesPerMinute: 1200 });
    const v4 = await a.admit(ADDRESS);
    const v6 = await a.admit('2001:db8:1:2::/64');
    expect((await admin.keys('*')).sort()).toEqual(['converge:{a:198.51.100.7}', 'converge:{a:2001:db8:1:2::/64}']);
    for (const admission of [v4, v6]) if (admission.refusal === null) await admission.release();
    // 1,200 a minute: one attempt is refilled 50 ms later, and then nothing is left to keep.
    await waitFor(async () => (await admin.keys('*')).length === 0, 'no key left');
  });

  it('REDIS-11: while Redis is unreachable an upgrade is admitted (fail-open), and counted once Redis is back', async () => {
    const { server, admin } = await setUp();
    const a = await relay();
    const b = await relay();
    await server.kill();
    expect(isAdmitted(await a.admit(ADDRESS))).toBe(true);
    await server.restart();
    // Only a's heartbeat writes the key: it says what a holds.
    await waitFor(async () => (await admin.exists(KEY).catch(() => 0)) === 1, "a's heartbeat reached Redis");
    expect(isAdmitted(await b.admit(ADDRESS))).toBe(true);
    expect(await b.admit(ADDRESS)).toEqual(TOO_MANY_CONNECTIONS);
  });

  it('REDIS-11: an upgrade waits for a stalled Redis at most timeoutMs, then is admitted; its slot counts once Redis answers', async () => {
    const { server, admin } = await setUp();
    const a = await relay({ maxConnections: 1, timeoutMs: 200 });
    const b = await relay({ maxConnections: 1 });
    process.kill(server.pid()!, 'SIGSTOP');
    let admission: AddressAdmission;
    try {
      admission = await a.admit(ADDRESS);
    } finally {
      process.kill(server.pid()!, 'SIGCONT');
    }
    expect(isAdmitted(admission)).toBe(true);
    await waitFor(async () => (await admin.exists(KEY)) === 1, "a's slot reached Redis");
    expect(await b.admit(ADDRESS)).toEqual(TOO_MANY_CONNECTIONS);
  });

  it('REDIS-11: closing (the relay shutting down) does not wait on a stalled Redis', async () => {
    const { server } = await setUp();
    const a = await relay({ maxConnections: 1, timeoutMs: 200 });
    expect(isAdmitted(await a.admit(ADDRESS))).toBe(true);
    process.kill(server.pid()!, 'SIGSTOP');
    try {
      await a.close(); // resolves: before the bound it waited for a reply that could not come
    } finally {
      process.kill(server.pid()!, 'SIGCONT');
    }
  });

  it('REDIS-11: counts Redis lost (a failover to a replica that missed them) are back within a heartbeat', async () => {
    const { admin } = await setUp();
    const a = await relay();
    const b = await relay();
    expect(isAdmitted(await a.admit(ADDRESS))).toBe(true);
    expect(isAdmitted(await a.admit(ADDRESS))).toBe(true);
    await admin.flushall();
    await waitFor(async () => (await admin.exists(KEY)) === 1, "a's heartbeat wrote its slots again");
    expect(await b.admit(ADDRESS)).toEqual(TOO_MANY_CONNECTIONS);
  });
});
