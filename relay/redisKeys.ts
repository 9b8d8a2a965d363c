/**
 * Where Converge keeps things in Redis. Every key of a room carries the hash tag `{r:<room>}`, so
 * a Redis Cluster puts all of a room's keys in one slot and a Lua script may touch them together
 * (REDIS-1). The room name is percent-encoded inside the tag: a `{` or `}` in a name can then
 * never end the tag early, and the mapping from (room, key kind) to key name is injective. The
 * `r:` keeps the tag non-empty for the empty name (an empty tag would hash the whole key).
 *
 * Per room:
 * - `log`   hash seq → update (the uncompacted log; a hash, not a stream: see docs/decisions.md)
 * - `seg`   hash "seqLo:seqHi" → merged update (compacted segments)
 * - `next`  the highest seq stored so far (the backplane assigns the next one with INCR)
 * - `aw`    hash awareness clientID → JSON {relay, clock, state} (presence held by live relays)
 * - `lease` the compaction lease (its value is the fencing token)
 * - `fence` the fencing-token counter
 * Global: `rooms` (set of room names, for `roomCount`), `relay:<id>` (a relay's heartbeat, with a
 * TTL). Pub/sub channels per room: `fan:<tag>` (live updates) and `aw:<tag>` (presence).
 */
export interface RoomKeys {
  readonly log: string;
  readonly seg: string;
  readonly next: string;
  readonly aw: string;
  readonly lease: string;
  readonly fence: string;
}

export const DEFAULT_REDIS_PREFIX = 'converge';

export const roomTag = (room: string): string => `{r:${encodeURIComponent(room)}}`;

export const roomKeys = (prefix: string, room: string): RoomKeys => {
  const base = `${prefix}:${roomTag(room)}`;
  return {
    log: `${base}:log`,
    seg: `${base}:seg`,
    next: `${base}:next`,
    aw: `${base}:aw`,
    lease: `${base}:lease`,
    fence: `${base}:fence`,
  };
};

export const roomsKey = (prefix: string): string => `${prefix}:rooms`;

export const relayAliveKey = (prefix: string, relayId: string): string => `${prefix}:relay:${relayId}`;

export const awarenessChannel = (prefix: string, room: string): string => `${prefix}:aw:${roomTag(room)}`;

export const fanoutChannel = (prefix: string, room: string): string => `${prefix}:fan:${roomTag(room)}`;
