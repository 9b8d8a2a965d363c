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
 *
 * Per client address (REDIS-11, relay/redisAddressLimiter.ts): one hash `{a:<address>}` with its
 * own hash tag, so each address's script touches one slot. The address is a canonical one from
 * clientAddress.ts (an IPv4 address or an IPv6 /64), which holds no brace; the `a:` keeps it
 * apart from every room tag.
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

/** REDIS-11: the hash holding one client address's attempt budget and the connections it holds. */
export const addressKey = (prefix: string, address: string): string => `${prefix}:{a:${address}}`;
