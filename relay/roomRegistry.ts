/**
 * The global `rooms` set in Redis (redisKeys.ts), which `roomCount` reads. A room joins it after
 * its first successful write: on a cluster the set lives in another slot than the room's keys, so
 * it cannot be updated inside the room's script (REDIS-1). Each instance adds a room once; the
 * SADD is idempotent, so two instances (or a restart) adding the same room is harmless.
 */
import type { RedisClient } from './redisConnection.js';
import { roomsKey } from './redisKeys.js';

/** Runs a Redis call, recording it under `op` (the owner's round-trip metrics). */
export type TimedCall = <T>(op: string, run: () => Promise<T>) => Promise<T>;

export class RoomRegistry {
  private readonly registered = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly timed: TimedCall,
  ) {}

  /** Adds the rooms this instance has not added yet. A failed SADD is retried by the next write. */
  async register(rooms: Iterable<string>): Promise<void> {
    const fresh = [...rooms].filter((r) => !this.registered.has(r));
    if (fresh.length === 0) return;
    await this.timed('registerRooms', () => this.redis.sadd(roomsKey(this.prefix), ...fresh));
    for (const r of fresh) this.registered.add(r);
  }
}
