/**
 * The `RoomStore` on Redis (scale-out mode, `REDIS_URL`). Same rules as the SQLite store
 * (STORE-1..3, pinned by relay/roomStore.contract.ts), with Redis as the disk:
 *
 * - Every operation that writes is one Lua script: it checks everything first and only then
 *   writes, so a rejected call stores nothing (Redis does not roll a script back; checking first
 *   is what makes it all or nothing). A script is atomic for every other client.
 * - Durable (STORE-1, REDIS-2) = Redis replied to the script, and Redis runs with `appendonly
 *   yes` + `appendfsync always` (checked at connect time by `checkDurability`): the AOF holding
 *   the write was fsync'd before the reply was sent.
 * - Keys are per room and hash-tagged (relay/redisKeys.ts): one room's keys share a cluster slot,
 *   and no script touches two rooms' keys or a global key (a cluster refuses a script spanning
 *   slots). On a single server `append` of several rooms is one script over all their keys:
 *   atomic, one fsync. On a Redis Cluster it is one script per room, run concurrently on their
 *   shards, after a read-only pass of the same checks over every room: a batch that breaks a
 *   rule stores nothing. Each room's entries are all stored or none (REDIS-1), but a shard that
 *   fails mid-call (or a concurrent writer between check and write) can leave other rooms'
 *   entries stored by a rejected call. In scale-out mode the relay commits through the
 *   backplane, never acks a rejected commit, and what was stored anyway is content its clients
 *   hold and upload again (idempotent). The global `rooms` set (for
 *   `roomCount`) gets a room by a separate SADD after its first successful write through this
 *   instance: if that SADD fails, the call rejects although the data is stored, and the room is
 *   counted on its next write.
 * - `load` finishes an interrupted compaction inside its script (STORE-3). Deleting covered rows
 *   is safe whoever runs it: a covering segment is only ever removed when a larger one covers it,
 *   so "covered" never becomes false again.
 *
 * Compaction by several relays (REDIS-3): `acquireCompaction` takes a per-room lease (SET NX PX)
 * whose value is a fencing token from INCR; `writeSegmentFenced` and `deleteCoveredFenced` run
 * only while the lease still holds that token, and `writeSegmentFenced` also checks that the
 * range still holds exactly the inputs the compactor merged. A compactor that lost its lease
 * (paused past the TTL) therefore changes nothing, and one compactor per room works at a time.
 * See relay/storeCompactor.ts.
 *
 * Every returned update is a plain `Uint8Array` (the contract compares them with `toEqual`).
 */
import { Cluster } from 'ioredis';
import { connectionsReady, type RedisClient, type RedisReadiness } from './redisConnection.js';
import { RedisScript, type RedisArg, type ReplicaWait } from './redisScript.js';
import { DEFAULT_REDIS_PREFIX, roomKeys, roomsKey } from './redisKeys.js';
import type { AppendEntry, RoomStore, StoredLogEntry, StoredRoom, StoredSegment } from './roomStore.js';
import { assertEntry, assertRange, assertSegment } from './storeArguments.js';
import { RoomRegistry } from './roomRegistry.js';
import type { DurabilityGuard } from './durabilityWatch.js';

/** Called after every Redis round trip (for metrics): operation name, seconds, success. */
export type RedisObserver = (op: string, seconds: number, ok: boolean) => void;

/** Runs one Redis call, reporting its duration and outcome to `observe` (`/metrics`). */
export const observed = async <T>(
  observe: RedisObserver | undefined,
  op: string,
  run: () => Promise<T>,
): Promise<T> => {
  const start = performance.now();
  try {
    const result = await run();
    observe?.(op, (performance.now() - start) / 1000, true);
    return result;
  } catch (err) {
    observe?.(op, (performance.now() - start) / 1000, false);
    throw err;
  }
};

/** Lua helpers shared by the scripts: segments are hash fields "lo:hi". */
const LUA_SEGMENTS = `
local function segments(segKey)
  local out = {}
  for _, f in ipairs(redis.call('HKEYS', segKey)) do
    local lo, hi = string.match(f, '^(%d+):(%d+)$')
    out[#out + 1] = { lo = tonumber(lo), hi = tonumber(hi), field = f }
  end
  return out
end
local function covering(segs, lo, hi)
  for _, s in ipairs(segs) do
    if s.lo <= lo and hi <= s.hi then return s end
  end
  return nil
end
`;

/**
 * KEYS: per room: log, seg, next. ARGV: mode ('write', or 'check': the checks only), then per
 * room: name, count, then count pairs of (seq, update). Every key a script touches is in KEYS
 * (Cluster requires it).
 */
const APPEND = new RedisScript(`${LUA_SEGMENTS}
local rooms = {}
local a, k = 2, 1
while a <= #ARGV do
  local room = { name = ARGV[a], log = KEYS[k], next = KEYS[k + 2], entries = {}, max = -1, maxText = nil }
  local n = tonumber(ARGV[a + 1])
  a, k = a + 2, k + 3
  local segs = segments(KEYS[k - 2])
  local seen = {}
  for _ = 1, n do
    local seq, bytes = ARGV[a], ARGV[a + 1]
    a = a + 2
    local num = tonumber(seq)
    if seen[seq] or redis.call('HEXISTS', room.log, seq) == 1 then
      return redis.error_reply('STORE-1: seq ' .. seq .. ' of room ' .. room.name .. ' is already stored')
    end
    if covering(segs, num, num) then
      return redis.error_reply('STORE-3: seq ' .. seq .. ' of room ' .. room.name .. ' is inside a stored segment')
    end
    seen[seq] = true
    room.entries[#room.entries + 1] = { seq, bytes }
    if num > room.max then room.max, room.maxText = num, seq end
  end
  rooms[#rooms + 1] = room
end
if ARGV[1] == 'check' then return #rooms end
for _, room in ipairs(rooms) do
  for _, e in ipairs(room.entries) do redis.call('HSET', room.log, e[1], e[2]) end
  local cur = tonumber(redis.call('GET', room.next) or '-1')
  if room.max > cur then redis.call('SET', room.next, room.maxText) end
end
return #rooms
`);

/** KEYS: seg, lease, log. ARGV: lo, hi, update, token ('' = unfenced), expectedLog, expectedSegs. */
const WRITE_SEGMENT = new RedisScript(`${LUA_SEGMENTS}
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[4] ~= '' then
  if redis.call('GET', KEYS[2]) ~= ARGV[4] then return redis.error_reply('REDIS-3: compaction lease lost') end
end
local segs = segments(KEYS[1])
for _, s in ipairs(segs) do
  local overlaps = s.lo <= hi and lo <= s.hi
  local nested = (s.lo <= lo and hi <= s.hi) or (lo <= s.lo and s.hi <= hi)
  if overlaps and not nested then
    return redis.error_reply('STORE-2: segment [' .. ARGV[1] .. ', ' .. ARGV[2] .. '] partially overlaps [' .. s.lo .. ', ' .. s.hi .. ']')
  end
end
if ARGV[4] ~= '' then
  local inLog = 0
  for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do
    local seq = tonumber(f)
    if lo <= seq and seq <= hi then inLog = inLog + 1 end
  end
  local inSegs = 0
  for _, s in ipairs(segs) do
    if lo <= s.lo and s.hi <= hi then inSegs = inSegs + 1 end
  end
  if inLog ~= tonumber(ARGV[5]) or inSegs ~= tonumber(ARGV[6]) then
    return redis.error_reply('REDIS-3: the range changed since it was read')
  end
end
redis.call('HSET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], ARGV[3])
return 1
`);

/** KEYS: log, seg, lease. ARGV: lo, hi, token ('' = unfenced). */
const DELETE_COVERED = new RedisScript(`${LUA_SEGMENTS}
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] ~= '' then
  if redis.call('GET', KEYS[3]) ~= ARGV[3] then return redis.error_reply('REDIS-3: compaction lease lost') end
end
local segs = segments(KEYS[2])
if not covering(segs, lo, hi) then
  return redis.error_reply('STORE-2: no stored segment covers [' .. ARGV[1] .. ', ' .. ARGV[2] .. ']')
end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local seq = tonumber(f)
  if lo <= seq and seq <= hi then redis.call('HDEL', KEYS[1], f) end
end
for _, s in ipairs(segs) do
  if lo <= s.lo and s.hi <= hi and not (s.lo == lo and s.hi == hi) then redis.call('HDEL', KEYS[2], s.field) end
end
return 1
`);

/**
 * KEYS: log, seg. STORE-3 in one sweep, then the kept data. Returns { {lo, hi, bytes, ...},
 * {seq, bytes, ...} } sorted by position.
 */
const LOAD = new RedisScript(`${LUA_SEGMENTS}
local segs = segments(KEYS[2])
table.sort(segs, function(x, y) if x.lo ~= y.lo then return x.lo < y.lo end return x.hi > y.hi end)
local kept, maxHi = {}, -1
for _, s in ipairs(segs) do
  if s.hi <= maxHi then redis.call('HDEL', KEYS[2], s.field)
  else maxHi = s.hi; kept[#kept + 1] = s end
end
local rows = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do rows[#rows + 1] = { seq = tonumber(f), field = f } end
table.sort(rows, function(x, y) return x.seq < y.seq end)
local log, nextSeg = {}, 1
for _, row in ipairs(rows) do
  while kept[nextSeg] and kept[nextSeg].hi < row.seq do nextSeg = nextSeg + 1 end
  if kept[nextSeg] and kept[nextSeg].lo <= row.seq then redis.call('HDEL', KEYS[1], row.field)
  else
    log[#log + 1] = row.field
    log[#log + 1] = redis.call('HGET', KEYS[1], row.field)
  end
end
local segOut = {}
for _, s in ipairs(kept) do
  segOut[#segOut + 1] = s.lo
  segOut[#segOut + 1] = s.hi
  segOut[#segOut + 1] = redis.call('HGET', KEYS[2], s.field)
end
return { segOut, log }
`);

/** KEYS: lease, fence. ARGV: ttl ms. Returns the token, or nil when another compactor holds it. */
const ACQUIRE = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
`);

/** KEYS: lease. ARGV: token. Deletes the lease only if it still holds this token. */
const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** What a fenced `writeSegment` expects to find in its range: the inputs the compactor merged. */
export interface CompactionInputs {
  readonly logEntries: number;
  readonly segments: number;
}

export interface RedisRoomStoreOptions {
  readonly prefix?: string;
  readonly observe?: RedisObserver;
  /** Close the Redis client when the store closes (true when the store made it). */
  readonly ownsClient?: boolean;
  /** REDIS-9: replicas that must confirm every append (none by default). */
  readonly wait?: ReplicaWait;
  /** REDIS-10: consulted before every append; throws while Redis is not durable. */
  readonly durability?: DurabilityGuard;
}

export class RedisRoomStore implements RoomStore, RedisReadiness {
  private closed = false;
  private readonly prefix: string;
  private readonly registry: RoomRegistry;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisRoomStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.registry = new RoomRegistry(redis, this.prefix, (op, run) => this.timed(op, run));
  }

  /** HEALTH-1: whether its connection is ready (a room's load at admission needs it). */
  redisReady(): boolean {
    return connectionsReady([this.redis]);
  }

  async load(room: string): Promise<StoredRoom> {
    const k = roomKeys(this.prefix, room);
    const [segReply, logReply] = (await this.timed('load', () => LOAD.run(this.redis, [k.log, k.seg], []))) as [
      (Buffer | number)[],
      Buffer[],
    ];
    const segments: StoredSegment[] = [];
    for (let i = 0; i < segReply.length; i += 3) {
      segments.push({
        seqLo: Number(segReply[i]),
        seqHi: Number(segReply[i + 1]),
        update: toUint8Array(segReply[i + 2] as Buffer),
      });
    }
    const log: StoredLogEntry[] = [];
    for (let i = 0; i < logReply.length; i += 2) {
      log.push({ seq: Number(logReply[i]!.toString()), update: toUint8Array(logReply[i + 1]!) });
    }
    return { segments, log };
  }

  async append(entries: readonly AppendEntry[]): Promise<void> {
    this.assertOpen();
    entries.forEach(assertEntry);
    if (entries.length === 0) return;
    this.options.durability?.assertDurable();
    const byRoom = new Map<string, AppendEntry[]>();
    for (const e of entries) {
      const list = byRoom.get(e.room);
      if (list) list.push(e);
      else byRoom.set(e.room, [e]);
    }
    // REDIS-1: one script for all rooms on a single server. On a cluster one per room (its
    // slot), and first a check of every room, so a batch that breaks a rule stores nothing.
    const cluster = this.redis instanceof Cluster;
    const groups = cluster ? [...byRoom].map((g) => [g]) : [[...byRoom]];
    const run = (mode: 'check' | 'write'): Promise<unknown>[] =>
      groups.map((group) => {
        const keys: string[] = [];
        const args: RedisArg[] = [mode];
        for (const [room, list] of group) {
          const k = roomKeys(this.prefix, room);
          keys.push(k.log, k.seg, k.next);
          args.push(room, list.length);
          for (const e of list) args.push(String(e.seq), bytesArg(e.update));
        }
        return APPEND.run(this.redis, keys, args, mode === 'write' ? this.options.wait : undefined);
      });
    if (cluster) await this.timed('appendCheck', () => Promise.all(run('check')));
    await this.timed('append', () => Promise.all(run('write')));
    await this.registry.register(byRoom.keys());
  }

  writeSegment(room: string, segment: StoredSegment): Promise<void> {
    return this.writeSegmentScript(room, segment, '', { logEntries: 0, segments: 0 });
  }

  deleteCovered(room: string, seqLo: number, seqHi: number): Promise<void> {
    return this.deleteCoveredScript(room, seqLo, seqHi, '');
  }

  async hasRoom(room: string): Promise<boolean> {
    const k = roomKeys(this.prefix, room);
    return (await this.timed('hasRoom', () => this.redis.exists(k.log, k.seg))) > 0;
  }

  async roomCount(): Promise<number> {
    return this.timed('roomCount', () => this.redis.scard(roomsKey(this.prefix)));
  }

  /**
   * REDIS-3: takes the room's compaction lease for `ttlMs`; resolves with the fencing token, or
   * null when another compactor holds the lease.
   */
  async acquireCompaction(room: string, ttlMs: number): Promise<string | null> {
    const k = roomKeys(this.prefix, room);
    const token = await this.timed('acquireCompaction', () => ACQUIRE.run(this.redis, [k.lease, k.fence], [ttlMs]));
    if (token === null) return null;
    if (typeof token !== 'number') throw new Error('unexpected reply to the compaction lease script');
    return String(token);
  }

  /** Compaction step 1, only while `token` holds the lease and the range holds exactly `inputs`. */
  writeSegmentFenced(room: string, token: string, segment: StoredSegment, inputs: CompactionInputs): Promise<void> {
    return this.writeSegmentScript(room, segment, token, inputs);
  }

  /** Compaction step 2, only while `token` holds the lease. */
  deleteCoveredFenced(room: string, token: string, seqLo: number, seqHi: number): Promise<void> {
    return this.deleteCoveredScript(room, seqLo, seqHi, token);
  }

  async releaseCompaction(room: string, token: string): Promise<void> {
    const k = roomKeys(this.prefix, room);
    await this.timed('releaseCompaction', () => RELEASE.run(this.redis, [k.lease], [token]));
  }

  /** Idempotent. Later calls reject. Quits the client only if the store owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.options.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async writeSegmentScript(
    room: string,
    segment: StoredSegment,
    token: string,
    inputs: CompactionInputs,
  ): Promise<void> {
    this.assertOpen();
    assertSegment(segment);
    const k = roomKeys(this.prefix, room);
    await this.timed('writeSegment', () =>
      WRITE_SEGMENT.run(
        this.redis,
        [k.seg, k.lease, k.log],
        [
          String(segment.seqLo),
          String(segment.seqHi),
          bytesArg(segment.update),
          token,
          inputs.logEntries,
          inputs.segments,
        ],
      ),
    );
    await this.registry.register([room]);
  }

  private async deleteCoveredScript(room: string, seqLo: number, seqHi: number, token: string): Promise<void> {
    this.assertOpen();
    assertRange(seqLo, seqHi);
    const k = roomKeys(this.prefix, room);
    await this.timed('deleteCovered', () =>
      DELETE_COVERED.run(this.redis, [k.log, k.seg, k.lease], [String(seqLo), String(seqHi), token]),
    );
  }

  // Async: a closed store rejects (never throws synchronously to a caller that chains on it).
  private async timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return observed(this.options.observe, op, run);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('RedisRoomStore is closed');
  }
}

/** A Buffer over exactly the view's bytes (ioredis sends Buffers as they are). */
const bytesArg = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** ioredis hands out a fresh Buffer per reply value; copy into a plain Uint8Array. */
const toUint8Array = (buffer: Buffer): Uint8Array => new Uint8Array(buffer);
