/**
 * REDIS-2 (ack only what Redis fsync'd) and REDIS-5 (fail fast while Redis is away), against a
 * real redis-server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  RedisDurabilityError,
  checkDurability,
  connectRedis,
  connectionsReady,
  type RedisClient,
} from './redisConnection.js';
import { waitFor } from '../shared/testing/waitFor.js';
import { RedisRoomStore } from './redisRoomStore.js';
import { startRedis, type RedisServer } from './testing/redisServer.js';

describe('Redis connection', () => {
  let server: RedisServer | undefined;
  let client: RedisClient | undefined;

  afterEach(async () => {
    client?.disconnect();
    client = undefined;
    await server?.cleanup();
    server = undefined;
  });

  it('REDIS-2: accepts appendonly yes + appendfsync always', async () => {
    server = await startRedis();
    client = await connectRedis(server.url, 'converge-test');
    expect(await checkDurability(client, 'verify')).toEqual({
      appendonly: 'yes',
      appendfsync: 'always',
      verified: true,
    });
  });

  it.each([
    ['appendfsync', 'everysec'],
    ['appendfsync', 'no'],
    ['appendonly', 'no'],
  ])('REDIS-2: refuses %s %s (acks would not mean fsync)', async (name, value) => {
    server = await startRedis();
    client = await connectRedis(server.url, 'converge-test');
    await client.config('SET', name, value);
    const check = checkDurability(client, 'verify');
    await expect(check).rejects.toThrow(RedisDurabilityError);
    await expect(checkDurability(client, 'verify')).rejects.toThrow(/appendfsync always/);
    // 'trust' is for a server whose settings cannot be read, not for one that says it is weaker.
    await expect(checkDurability(client, 'trust')).rejects.toThrow(RedisDurabilityError);
  });

  it('REDIS-2: with CONFIG disabled, verify refuses and names REDIS_DURABILITY=trust; trust proceeds unverified', async () => {
    server = await startRedis({ extraArgs: ['--rename-command', 'CONFIG', ''] });
    client = await connectRedis(server.url, 'converge-test');
    await expect(checkDurability(client, 'verify')).rejects.toThrow(/REDIS_DURABILITY=trust/);
    expect(await checkDurability(client, 'trust')).toEqual({
      appendonly: 'unknown',
      appendfsync: 'unknown',
      verified: false,
    });
  });

  it('REDIS-5: a connection that fails says where and why (refused, wrong password, none given), never the password', async () => {
    server = await startRedis({ extraArgs: ['--requirepass', 's3cretPW'] });
    const { port } = new URL(server.url);
    const at = `cannot connect to Redis at 127.0.0.1:${port}: `;
    const failure = async (url: string): Promise<string> => {
      try {
        client = await connectRedis(url, 'converge-test');
      } catch (err) {
        return String(err);
      }
      throw new Error(`connected to ${url}`);
    };
    expect(await failure(`redis://:wrongPW@127.0.0.1:${port}`)).toContain(`${at}WRONGPASS`);
    expect(await failure(`redis://127.0.0.1:${port}`)).toContain(`${at}NOAUTH`);
    await server.stop();
    const refused = await failure(`redis://:s3cretPW@127.0.0.1:${port}`);
    expect(refused).toContain(`${at}connect ECONNREFUSED`);
    expect(refused).not.toContain('s3cretPW');
  });

  it('REDIS-5: while Redis is down every store call rejects at once, and works again when it is back', async () => {
    server = await startRedis();
    client = await connectRedis(server.url, 'converge-test');
    const store = new RedisRoomStore(client);
    await store.append([{ room: 'r', seq: 1, update: Uint8Array.of(1) }]);
    await server.kill();
    await expect(store.append([{ room: 'r', seq: 2, update: Uint8Array.of(2) }])).rejects.toThrow();
    await expect(store.load('r')).rejects.toThrow();
    await server.restart();
    await waitForReady(client);
    await store.append([{ room: 'r', seq: 2, update: Uint8Array.of(2) }]);
    expect((await store.load('r')).log.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('HEALTH-1: connectionsReady holds only while every connection can run a command', async () => {
    server = await startRedis();
    client = await connectRedis(server.url, 'converge-test');
    const other = await connectRedis(server.url, 'converge-test-other');
    try {
      expect(connectionsReady([client, other])).toBe(true);
      // One of them away, the other still ready: not ready.
      other.disconnect();
      await waitFor(() => other.status === 'end', 'the other closed');
      expect(connectionsReady([client])).toBe(true);
      expect(connectionsReady([client, other])).toBe(false);
      await other.connect();
      expect(connectionsReady([client, other])).toBe(true);
      // Both away, then back one by one on their own backoff: ready once the last one is.
      await server.kill();
      await waitFor(() => !connectionsReady([client!]) && !connectionsReady([other]), 'both closed');
      await server.restart();
      await Promise.all([waitForReady(client), waitForReady(other)]);
      expect(connectionsReady([client, other])).toBe(true);
    } finally {
      other.disconnect();
    }
  });
});

const waitForReady = (c: RedisClient): Promise<void> =>
  c.status === 'ready' ? Promise.resolve() : new Promise((resolve) => c.once('ready', () => resolve()));
