/**
 * REDIS-10: REDIS-2 re-checked while the relay runs, against a real redis-server whose settings
 * are changed with CONFIG SET. The end-to-end version (a relay process and stock clients) is in
 * relay/integration/scaleOut.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import { DurabilityWatch } from './durabilityWatch.js';
import { createLogger } from './log.js';
import { RedisBackplane } from './redisBackplane.js';
import { RedisDurabilityError, connectRedis, type RedisClient } from './redisConnection.js';
import { RedisRoomStore } from './redisRoomStore.js';
import { startRedis, type RedisServer } from './testing/redisServer.js';

describe('DurabilityWatch (REDIS-10)', () => {
  let server: RedisServer | undefined;
  let client: RedisClient | undefined;
  let admin: RedisClient | undefined;
  let backplane: RedisBackplane | undefined;
  let lines: Array<Record<string, unknown>>;

  const logger = () => {
    lines = [];
    return createLogger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  };

  afterEach(async () => {
    await backplane?.close();
    backplane = undefined;
    client?.disconnect();
    admin?.disconnect();
    client = admin = undefined;
    await server?.cleanup();
    server = undefined;
  });

  const durable = (watch: DurabilityWatch): boolean => {
    try {
      watch.assertDurable();
      return true;
    } catch {
      return false;
    }
  };

  it('REDIS-10: appendfsync weakened at runtime stops every publish and append (nothing stored) until it is restored', async () => {
    server = await startRedis();
    client = await connectRedis(server.url, 'converge-test');
    admin = await connectRedis(server.url, 'converge-test-admin');
    const watch = new DurabilityWatch(client, 50, logger());
    const store = new RedisRoomStore(client, { durability: watch });
    backplane = await RedisBackplane.connect({ url: server.url, durability: watch });
    expect(await backplane.publish([{ room: 'r', update: Uint8Array.of(1) }])).toEqual([1]);

    await admin.config('SET', 'appendfsync', 'everysec');
    await waitFor(() => !durable(watch), 'the watch noticed');
    await expect(backplane.publish([{ room: 'r', update: Uint8Array.of(2) }])).rejects.toThrow(RedisDurabilityError);
    await expect(store.append([{ room: 'r', seq: 2, update: Uint8Array.of(2) }])).rejects.toThrow(
      /appendfsync everysec.*needs appendonly yes and appendfsync always/,
    );
    expect((await store.load('r')).log.map((e) => e.seq)).toEqual([1]);
    expect(lines.filter((l) => l.event === 'redis-not-durable')).toHaveLength(1);

    await admin.config('SET', 'appendfsync', 'always');
    await waitFor(() => durable(watch), 'durable again');
    expect(await backplane.publish([{ room: 'r', update: Uint8Array.of(2) }])).toEqual([2]);
    expect(lines.map((l) => l.event)).toEqual(['redis-not-durable', 'redis-durable-again']);
  });

  it('REDIS-10: a node that is not connected is not judged (its commits fail by themselves)', async () => {
    server = await startRedis();
    client = await connectRedis(server.url, 'converge-test');
    const watch = new DurabilityWatch(client, 60_000, logger());
    await server.kill();
    await waitFor(() => client!.status !== 'ready', 'the client lost its connection');
    await watch.check();
    expect(durable(watch)).toBe(true);
    expect(lines).toEqual([]);
    watch.close();
  });
});
