/**
 * The Redis test harness itself: a real server with the persistence Converge relies on, that keeps
 * acknowledged writes across SIGKILL and restart, and a missing binary that fails loudly.
 */
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_SERVER_MISSING, startRedis, type RedisServer } from './redisServer.js';

describe('startRedis', () => {
  let server: RedisServer | undefined;
  let client: Redis | undefined;

  afterEach(async () => {
    client?.disconnect();
    client = undefined;
    await server?.cleanup();
    server = undefined;
  });

  const connect = async (url: string): Promise<Redis> => {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  it('runs with AOF on, appendfsync always and no RDB saves, on loopback', async () => {
    server = await startRedis();
    expect(server.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    client = await connect(server.url);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
  });

  it('keeps an acknowledged write across kill -9 and restart on the same directory and port', async () => {
    server = await startRedis();
    client = await connect(server.url);
    await client.set('k', 'acked');
    client.disconnect();
    const first = server.pid();
    expect(first).toBeGreaterThan(0);
    await server.kill();
    expect(server.running()).toBe(false);
    expect(server.pid()).toBeUndefined();
    await server.restart();
    expect(server.running()).toBe(true);
    expect(server.pid()).not.toBe(first);
    client = await connect(server.url);
    expect(await client.get('k')).toBe('acked');
  });

  it('starts a server that asks for a password (it answers NOAUTH, so it is up)', async () => {
    server = await startRedis({ extraArgs: ['--requirepass', 'pw'] });
    const { port } = new URL(server.url);
    await expect(connect(server.url)).rejects.toThrow(); // HELLO is refused with NOAUTH
    client = await connect(`redis://:pw@127.0.0.1:${port}`);
    expect(await client.ping()).toBe('PONG');
  });

  it('kills a server it gave up waiting for', async () => {
    // Bound to another loopback address, the server runs but never answers on 127.0.0.1.
    const start = startRedis({ extraArgs: ['--bind', '127.0.0.2'], readyTimeoutMs: 500 });
    const error = await start.then(
      () => new Error('it started'),
      (err: unknown) => err as Error,
    );
    const port = Number(/port (\d+) ready/.exec(error.message)?.[1]);
    expect(port).toBeGreaterThan(0);
    // Nothing listens there any more: a connection is refused.
    const refused = await new Promise<string>((resolve) =>
      createConnection({ host: '127.0.0.2', port })
        .once('connect', () => resolve('connected'))
        .once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message)),
    );
    expect(refused).toBe('ECONNREFUSED');
  });

  it('fails with the package name when redis-server is missing (never skips)', async () => {
    const saved = process.env.REDIS_SERVER;
    process.env.REDIS_SERVER = '/nonexistent/redis-server';
    try {
      await expect(startRedis()).rejects.toThrow(REDIS_SERVER_MISSING);
      expect(REDIS_SERVER_MISSING).toMatch(/apt-get install redis-server/);
    } finally {
      if (saved === undefined) delete process.env.REDIS_SERVER;
      else process.env.REDIS_SERVER = saved;
    }
  });
});
