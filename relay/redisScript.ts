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
 * are idempotent, DEDUPE-1/2). On a cluster such a pipeline follows MOVED, ASK and TRYAGAIN
 * itself, since ioredis does not redirect a pipeline that writes.
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
    /**
     * [script error, script result, WAIT error, replicas confirmed] of one pipelined attempt on
     * `node` (the cluster client routes it by the keys' slot; a node's own connection sends it
     * there, after ASKING when `asking`).
     */
    const attempt = async (
      node: RedisClient,
      asking: boolean,
      op: 'EVALSHA' | 'EVAL',
    ): Promise<[Error | null, unknown, Error | null, number]> => {
      const pipeline = node.pipeline();
      if (asking) pipeline.call('ASKING');
      pipeline.callBuffer(op, [op === 'EVALSHA' ? this.sha : this.source, keys.length, ...keys, ...args]);
      pipeline.call('WAIT', wait.replicas, wait.timeoutMs);
      const replies = (await pipeline.exec())?.slice(asking ? 1 : 0) ?? [];
      const [scriptReply, waitReply] = replies;
      if (!scriptReply || !waitReply) throw new Error('pipeline returned no replies');
      return [scriptReply[0], scriptReply[1], waitReply[0], Number(waitReply[1])];
    };
    const run = async (node: RedisClient, asking: boolean): Promise<[Error | null, unknown, Error | null, number]> => {
      const first = await attempt(node, asking, 'EVALSHA');
      return first[0] && isNoScript(first[0]) ? attempt(node, asking, 'EVAL') : first;
    };
    // ioredis does not redirect a pipeline that holds a write (WAIT counts as one), so this does
    // what it does for single commands. Each error below means the script did not run (and the
    // WAIT, sent where the slot no longer is, failed too), so trying again is safe.
    let node: RedisClient = redis;
    let asking = false;
    for (let redirections = 0; ; redirections++) {
      const [err, result, waitErr, confirmed] = await run(node, asking);
      const redirect = err && redis instanceof Cluster ? redirection(err) : null;
      if (redirect && redis instanceof Cluster && redirections < MAX_REDIRECTIONS) {
        node = redis;
        asking = false;
        if (redirect.kind === 'MOVED') {
          // The slot map changed (a failover, a finished resharding): learn it, go where it says.
          await refreshSlots(redis);
        } else if (redirect.kind === 'ASK') {
          // The slot is being migrated and this room's keys are already on the importing master.
          const target = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === redirect.at);
          if (target) [node, asking] = [target, true];
          else await refreshSlots(redis);
        } else {
          // TRYAGAIN: the room's keys are split between the two masters of a migration in progress.
          await new Promise<void>((resolve) => setTimeout(resolve, TRYAGAIN_DELAY_MS));
        }
        continue;
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
}

/** Reloads the cluster's slot map (after MOVED, or an ASK to a node the client does not know yet). */
const refreshSlots = (redis: Cluster): Promise<void> =>
  new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));

/** As ioredis's cluster client for single commands (its `maxRedirections`, `retryDelayOnTryAgain`). */
const MAX_REDIRECTIONS = 16;
const TRYAGAIN_DELAY_MS = 100;

type Redirection = { readonly kind: 'MOVED' | 'ASK'; readonly at: string } | { readonly kind: 'TRYAGAIN' };

/** `MOVED <slot> <host:port>`, `ASK <slot> <host:port>` or `TRYAGAIN …`; null for any other error. */
const redirection = (err: Error): Redirection | null => {
  const m = /^(MOVED|ASK) \d+ (\S+)/.exec(err.message);
  if (m) return { kind: m[1] as 'MOVED' | 'ASK', at: m[2]! };
  return err.message.startsWith('TRYAGAIN') ? { kind: 'TRYAGAIN' } : null;
};

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');
