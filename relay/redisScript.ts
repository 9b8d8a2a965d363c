/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server does not know it yet
 * (after a restart or SCRIPT FLUSH). A script runs atomically; its writes reach the AOF as one
 * MULTI/EXEC block, so with `appendfsync always` its reply means all of it is fsync'd.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type RedisArg = string | Buffer | number;

export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown> {
    try {
      return await redis.callBuffer('EVALSHA', [this.sha, keys.length, ...keys, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.callBuffer('EVAL', [this.source, keys.length, ...keys, ...args]);
    }
  }
}
