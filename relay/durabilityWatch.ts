/**
 * REDIS-10: REDIS-2 kept true while the relay runs, not only at start. Every `intervalMs` the
 * persistence settings are read again on every node the client knows then — so a node that
 * joined since (a resharding target, a new replica) is checked too, and so is a setting an
 * operator weakened with CONFIG SET. While any node that answers has weaker settings than
 * `appendonly yes` + `appendfsync always`, `assertDurable` throws: the commit paths call it
 * before writing, so the relay stores nothing through Redis and acks nothing (ACK-4: clients keep
 * their edits pending and upload them again) until a later check finds every node durable.
 *
 * A node that is not connected is not judged: it serves nothing meanwhile, and commits to it fail
 * by themselves. The window: a setting weakened just after a check is noticed at the next one;
 * what was acked in between was fsync'd only if Redis still did so.
 *
 * Not used with `REDIS_DURABILITY=trust` (CONFIG is disabled there; the operator vouches).
 */
import { Cluster, type Redis } from 'ioredis';
import type { Logger } from './log.js';
import { RedisDurabilityError, checkNode, type RedisClient } from './redisConnection.js';

/** What the commit paths consult (RedisBackplane.publish, RedisRoomStore.append). */
export interface DurabilityGuard {
  /** Throws RedisDurabilityError while the last check found a node that is not durable. */
  assertDurable(): void;
  /** False while the last check found a node that is not durable (HEALTH-1). */
  durable(): boolean;
}

export class DurabilityWatch implements DurabilityGuard {
  private failure: RedisDurabilityError | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private checking = false;

  constructor(
    private readonly client: RedisClient,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
    // The client's owner closes it; the watch ends with it.
    client.once('end', () => this.close());
  }

  assertDurable(): void {
    if (this.failure) throw this.failure;
  }

  durable(): boolean {
    return this.failure === null;
  }

  /** One round over the nodes (the timer runs it; tests may too). Never rejects. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const nodes: Redis[] = this.client instanceof Cluster ? this.client.nodes('all') : [this.client];
      let failure: RedisDurabilityError | null = null;
      for (const node of nodes) {
        if (node.status !== 'ready') continue;
        try {
          await checkNode(node, 'verify');
        } catch (err) {
          // A node that went away during the check is not judged either.
          if (node.status !== 'ready') continue;
          failure = err instanceof RedisDurabilityError ? err : new RedisDurabilityError(String(err));
          break;
        }
      }
      if (failure && !this.failure) this.log.error('redis-not-durable', { error: failure.message });
      if (!failure && this.failure) this.log.warn('redis-durable-again', {});
      this.failure = failure;
    } finally {
      this.checking = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
