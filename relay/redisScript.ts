/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server does not know it yet
 * (after a restart or SCRIPT FLUSH). A script runs atomically; its writes reach the AOF as one
 * MULTI/EXEC block, so with `appendfsync always` its reply means all of it is fsync'd.
 *
 * REDIS-9: with `wait`, the script is pipelined with `WAIT replicas timeout` on the same
 * connection (so, in a cluster, to the node that ran it), and the call succeeds only if that many
 * replicas confirmed the write. Replication is asynchronous: without this, a failover to a replica
 * that had not received an acked write would lose it. A shortfall rejects with ReplicaWaitError —
 * the write may well be on the master, but it is not acked (clients upload it again; Yjs updates
 * are idempotent, DEDUPE-1/2).
 */
import { createHash } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { RedisClient } from './redisConnection.js';

export type RedisArg = string | Buffer | number;

export interface ReplicaWait {
  /** Replicas that must confirm every write (0 = do not wait). */
  readonly replicas: number;
  readonly timeoutMs: number;
}

export class ReplicaWaitError extends Error {}

export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly RedisArg[],
    wait?: ReplicaWait,
  ): Promise<unknown> {
    if (wait && wait.replicas > 0) return this.runAndWait(redis, keys, args, wait);
    try {
      return await redis.callBuffer('EVALSHA', [this.sha, keys.length, ...keys, ...args]);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return redis.callBuffer('EVAL', [this.source, keys.length, ...keys, ...args]);
    }
  }

  private async runAndWait(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly RedisArg[],
    wait: ReplicaWait,
  ): Promise<unknown> {
    /** [script error, script result, WAIT error, replicas confirmed] of one pipelined attempt. */
    const attempt = async (op: 'EVALSHA' | 'EVAL'): Promise<[Error | null, unknown, Error | null, number]> => {
      const pipeline = redis.pipeline();
      pipeline.callBuffer(op, [op === 'EVALSHA' ? this.sha : this.source, keys.length, ...keys, ...args]);
      pipeline.call('WAIT', wait.replicas, wait.timeoutMs);
      const replies = await pipeline.exec();
      const [scriptReply, waitReply] = replies ?? [];
      if (!scriptReply || !waitReply) throw new Error('pipeline returned no replies');
      return [scriptReply[0], scriptReply[1], waitReply[0], Number(waitReply[1])];
    };
    const run = async (): Promise<[Error | null, unknown, Error | null, number]> => {
      const first = await attempt('EVALSHA');
      return first[0] && isNoScript(first[0]) ? attempt('EVAL') : first;
    };
    let [err, result, waitErr, confirmed] = await run();
    if (err && redis instanceof Cluster && /^(MOVED|ASK) /.test(err.message)) {
      // A pipeline is not redirected by ioredis when it holds a write (WAIT counts as one): the
      // script did not run (and WAIT, sent to a node that no longer masters the slot, failed
      // too); learn the new slot map and try once more.
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      [err, result, waitErr, confirmed] = await run();
    }
    if (err) throw err;
    if (waitErr) throw waitErr;
    if (confirmed < wait.replicas) {
      throw new ReplicaWaitError(
        `REDIS-9: ${confirmed} of ${wait.replicas} replicas confirmed the write within ${wait.timeoutMs} ms`,
      );
    }
    return result;
  }
}

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');
