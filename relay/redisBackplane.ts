/**
 * The backplane on Redis (scale-out mode). The contract is in relay/backplane.ts; this is how
 * Redis provides it (the design follows y-redis: a stream per room for fan-out, a shared store
 * behind it; unlike y-redis the relay acks only what Redis fsync'd and presence has an owner).
 *
 * - `publish` is one Lua script over every room of the batch: per update, `INCR next` gives the
 *   seq, `HSET log` stores it (the same keys as RedisRoomStore, so `load` sees it) and `XADD fan
 *   0-<seq>` fans it out (stream trimmed to exactly `fanoutWindow` entries: approximate trimming
 *   only drops whole 100-entry nodes, which would make the window unpredictable; exact trimming
 *   removes about one entry per add). The reply arrives once
 *   Redis fsync'd the AOF (REDIS-2). One round trip and one fsync per group commit.
 * - Subscriptions: a catch-up script reads the log after `after` (segments included), then a
 *   dedicated connection runs `XREAD BLOCK` over all subscribed rooms' streams from their last
 *   seq. Seqs are dense, so a jump means the window was trimmed past a slow reader: that room is
 *   caught up from the log again (REDIS-4, nothing is skipped). A new subscription wakes the
 *   blocked reader with CLIENT UNBLOCK.
 * - Presence (REDIS-6): the room's `aw` hash holds each live entry with its owner relay; changes
 *   go out on a pub/sub channel per room (presence is volatile: after a reconnect the hash is
 *   read again). Every relay keeps a heartbeat key with a TTL of three heartbeats; a relay whose
 *   key expired is dead, and whichever survivor's reap script removes its entries publishes their
 *   removal — once, since a second reaper finds nothing left.
 * - Status (REDIS-5): 'down' when the command connection closes; commands then fail at once (no
 *   offline queue, see relay/redisConnection.ts). On 'ready' again, subscriptions resume from
 *   their last seq and presence is re-read. Dead relays are reaped only after this relay has been
 *   up for a whole TTL, so relays that were cut off with it can heartbeat first.
 *
 * One subscription per room per backplane (the relay has one slot per room).
 */
import type { Redis } from 'ioredis';
import type { AwarenessEntry } from '../shared/awarenessUpdate.js';
import {
  newRelayId,
  type Backplane,
  type BackplaneEntry,
  type BackplaneStatus,
  type PublishEntry,
  type RoomSubscriber,
  type RoomSubscription,
} from './backplane.js';
import { createRedisClient } from './redisConnection.js';
import {
  DEFAULT_REDIS_PREFIX,
  awarenessChannel,
  relayAliveKey,
  roomKeys,
  roomsKey,
  type RoomKeys,
} from './redisKeys.js';
import type { RedisObserver } from './redisRoomStore.js';
import { silentLogger, type Logger } from './log.js';
import { RedisScript, type RedisArg } from './redisScript.js';

/**
 * KEYS: rooms, then per room log, next, fan. ARGV: relayId, window, then per room name, count and
 * count pairs of (update, receivedAt or '').
 */
const PUBLISH = new RedisScript(`
local out = {}
local a, k = 3, 2
while a <= #ARGV do
  local name, n = ARGV[a], tonumber(ARGV[a + 1])
  local log, nextKey, fan = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  a, k = a + 2, k + 3
  for _ = 1, n do
    local seq = redis.call('INCR', nextKey)
    local field = string.format('%d', seq)
    redis.call('HSET', log, field, ARGV[a])
    redis.call('XADD', fan, 'MAXLEN', '=', ARGV[2], '0-' .. field, 'o', ARGV[1], 'u', ARGV[a], 't', ARGV[a + 1])
    out[#out + 1] = seq
    a = a + 2
  end
  redis.call('SADD', KEYS[1], name)
end
return out
`);

/**
 * KEYS: log, seg, next. ARGV: after. Read-only. Returns { next, {lo, hi, bytes, ...} of segments
 * ending after `after`, {seq, bytes, ...} of log entries after it }.
 */
const CATCH_UP = new RedisScript(`
local after = tonumber(ARGV[1])
local segs = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
  local lo, hi = string.match(f, '^(%d+):(%d+)$')
  if tonumber(hi) > after then
    segs[#segs + 1] = tonumber(lo)
    segs[#segs + 1] = tonumber(hi)
    segs[#segs + 1] = redis.call('HGET', KEYS[2], f)
  end
end
local log = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(f) > after then
    log[#log + 1] = tonumber(f)
    log[#log + 1] = redis.call('HGET', KEYS[1], f)
  end
end
return { tonumber(redis.call('GET', KEYS[3]) or '0'), segs, log }
`);

/**
 * KEYS: aw. ARGV: relayId, channel, payload, then (clientID, clock, state) triples. A set wins
 * over an older clock; a removal deletes only a state it is not older than. Then publishes.
 */
const AWARENESS = new RedisScript(`
for i = 4, #ARGV, 3 do
  local id, clock, state = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local cur = redis.call('HGET', KEYS[1], id)
  local curClock = -1
  if cur then curClock = tonumber(string.match(cur, '^[^\\n]*\\n(%d+)\\n')) end
  if state == 'null' then
    if cur and curClock <= clock then redis.call('HDEL', KEYS[1], id) end
  elseif curClock <= clock then
    redis.call('HSET', KEYS[1], id, ARGV[1] .. '\\n' .. ARGV[i + 1] .. '\\n' .. state)
  end
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`);

/** KEYS: aw. ARGV: relayId. Removes that relay's entries; returns {clientID, clock, ...} removed. */
const REAP = new RedisScript(`
local out = {}
local prefix = ARGV[1] .. '\\n'
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local v = all[i + 1]
  if string.sub(v, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[1], all[i])
    out[#out + 1] = all[i]
    out[#out + 1] = string.match(v, '^[^\\n]*\\n(%d+)\\n')
  end
end
return out
`);

export interface RedisBackplaneOptions {
  readonly url: string;
  readonly prefix?: string;
  readonly relayId?: string;
  /** Heartbeat period; a relay silent for three periods is dead. */
  readonly heartbeatMs?: number;
  /** Approximate number of recent entries kept per room stream for fan-out. */
  readonly fanoutWindow?: number;
  readonly observe?: RedisObserver;
  readonly log?: Logger;
}

interface RoomState {
  readonly room: string;
  readonly keys: RoomKeys;
  readonly channel: string;
  readonly subscriber: RoomSubscriber;
  lastSeq: number;
  /** True once caught up from the log; only then is the room in the XREAD. */
  live: boolean;
  closed: boolean;
}

interface PresenceRecord {
  readonly relay: string;
  readonly entry: AwarenessEntry;
}

export class RedisBackplane implements Backplane {
  readonly relayId: string;
  private readonly prefix: string;
  private readonly heartbeatMs: number;
  private readonly fanoutWindow: number;
  private readonly log: Logger;
  private readonly rooms = new Map<string, RoomState>();
  private readonly byFanKey = new Map<string, RoomState>();
  private readonly byChannel = new Map<string, RoomState>();
  private readonly listeners = new Set<(status: BackplaneStatus) => void>();
  private current: BackplaneStatus = 'up';
  private upSince = Date.now();
  private closed = false;
  private readerId: string | null = null;
  private wake: (() => void) | null = null;
  /** Counts XREAD calls that returned: lets `unblockReader` tell whether its wake-up landed. */
  private reads = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private loop: Promise<void> = Promise.resolve();
  /** Resolves when the backplane stops (close or crash): ends every wait of the read loop. */
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  private constructor(
    private readonly cmd: Redis,
    private readonly reader: Redis,
    private readonly sub: Redis,
    private readonly options: RedisBackplaneOptions,
  ) {
    this.relayId = options.relayId ?? newRelayId();
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.fanoutWindow = options.fanoutWindow ?? 10_000;
    this.log = options.log ?? silentLogger;
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  /** Connects its three connections (commands, blocking reads, pub/sub) and starts heartbeating. */
  static async connect(options: RedisBackplaneOptions): Promise<RedisBackplane> {
    const name = `converge-relay`;
    const cmd = createRedisClient(options.url, name);
    const reader = createRedisClient(options.url, `${name}-reader`);
    // Our own resubscription (see start): ioredis's would leave a failed SUBSCRIBE unhandled.
    const sub = createRedisClient(options.url, `${name}-sub`, { autoResubscribe: false });
    const backplane = new RedisBackplane(cmd, reader, sub, options);
    try {
      await Promise.all([cmd.connect(), reader.connect(), sub.connect()]);
      await backplane.start();
    } catch (err) {
      // Do not leave clients reconnecting in the background.
      backplane.stop();
      for (const c of [cmd, reader, sub]) c.disconnect();
      throw err;
    }
    return backplane;
  }

  status(): BackplaneStatus {
    return this.current;
  }

  onStatus(listener: (status: BackplaneStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(entries: readonly PublishEntry[]): Promise<number[]> {
    if (this.closed) throw new Error('backplane closed');
    if (entries.length === 0) return [];
    const byRoom = new Map<string, number[]>();
    entries.forEach((e, i) => {
      const list = byRoom.get(e.room);
      if (list) list.push(i);
      else byRoom.set(e.room, [i]);
    });
    const keys = [roomsKey(this.prefix)];
    const args: RedisArg[] = [this.relayId, this.fanoutWindow];
    for (const [room, indexes] of byRoom) {
      const k = roomKeys(this.prefix, room);
      keys.push(k.log, k.next, k.fan);
      args.push(room, indexes.length);
      for (const i of indexes) args.push(bytesArg(entries[i]!.update), String(entries[i]!.receivedAt ?? ''));
    }
    const reply = (await this.timed('publish', () => PUBLISH.run(this.cmd, keys, args))) as number[];
    // The script returns seqs grouped by room; put them back in the caller's order.
    const seqs = new Array<number>(entries.length);
    let r = 0;
    for (const indexes of byRoom.values()) for (const i of indexes) seqs[i] = reply[r++]!;
    return seqs;
  }

  subscribe(room: string, after: number, subscriber: RoomSubscriber): RoomSubscription {
    if (this.closed) throw new Error('backplane closed');
    if (this.rooms.has(room)) throw new Error(`already subscribed to room ${JSON.stringify(room)}`);
    const keys = roomKeys(this.prefix, room);
    const state: RoomState = {
      room,
      keys,
      channel: awarenessChannel(this.prefix, room),
      subscriber,
      lastSeq: after,
      live: false,
      closed: false,
    };
    this.rooms.set(room, state);
    this.byFanKey.set(keys.fan, state);
    this.byChannel.set(state.channel, state);
    void this.join(state);
    return {
      close: () => {
        if (state.closed) return;
        state.closed = true;
        this.rooms.delete(room);
        this.byFanKey.delete(keys.fan);
        this.byChannel.delete(state.channel);
        this.sub.unsubscribe(state.channel).catch(() => undefined);
      },
    };
  }

  async publishAwareness(room: string, entries: readonly AwarenessEntry[]): Promise<void> {
    if (this.closed) throw new Error('backplane closed');
    if (entries.length === 0) return;
    const payload = JSON.stringify({ o: this.relayId, e: entries.map((e) => [e.clientID, e.clock, e.state]) });
    const args: RedisArg[] = [this.relayId, awarenessChannel(this.prefix, room), payload];
    for (const e of entries) args.push(String(e.clientID), String(e.clock), e.state);
    await this.timed('publishAwareness', () => AWARENESS.run(this.cmd, [roomKeys(this.prefix, room).aw], args));
  }

  /** Leaves cleanly: publishes the removal of this relay's presence, stops, disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const state of this.rooms.values()) await this.reap(state, this.relayId).catch(() => undefined);
    await this.cmd.del(relayAliveKey(this.prefix, this.relayId)).catch(() => undefined);
    this.stop();
    // The reader may be blocked in XREAD for up to 5 s and has nothing to flush: a QUIT would
    // queue behind it and delay a graceful shutdown by that long.
    this.reader.disconnect();
    await Promise.all([this.cmd, this.sub].map((c) => c.quit().catch(() => c.disconnect())));
    await this.loop;
  }

  /** What a SIGKILL leaves behind (for tests): no goodbye, the heartbeat simply stops. */
  async crash(): Promise<void> {
    this.stop();
    for (const c of [this.cmd, this.reader, this.sub]) c.disconnect();
    await this.loop;
  }

  // --- internals ------------------------------------------------------------------------------

  private async start(): Promise<void> {
    this.readerId = String(await this.reader.call('CLIENT', 'ID'));
    this.sub.on('message', (channel: string, message: string) => this.onAwarenessMessage(channel, message));
    this.cmd.on('close', () => this.setStatus('down'));
    this.cmd.on('ready', () => this.setStatus('up'));
    // The pub/sub connection may come back after the command one: subscribe and re-read presence then too.
    this.sub.on('ready', () => {
      for (const state of this.rooms.values()) void this.join(state);
    });
    this.reader.on('ready', () => {
      this.reader
        .call('CLIENT', 'ID')
        .then((id) => (this.readerId = String(id)))
        .catch(() => undefined);
    });
    await this.beat();
    this.heartbeat = setInterval(() => void this.tick(), this.heartbeatMs);
    this.heartbeat.unref();
    this.loop = this.readLoop();
  }

  private stop(): void {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.wake?.();
    this.resolveStopped();
  }

  private setStatus(status: BackplaneStatus): void {
    if (this.closed || status === this.current) return;
    this.current = status;
    if (status === 'up') {
      this.upSince = Date.now();
      void this.beat().catch(() => undefined);
      // Presence changes published while we were away were lost (pub/sub): read it again.
      for (const state of this.rooms.values()) void this.join(state);
    }
    for (const l of this.listeners) l(status);
  }

  private beat(): Promise<unknown> {
    return this.cmd.set(relayAliveKey(this.prefix, this.relayId), '1', 'PX', this.heartbeatMs * 3);
  }

  /** Heartbeat, then reap the presence of dead relays in the rooms this relay serves. */
  private async tick(): Promise<void> {
    try {
      await this.beat();
      if (Date.now() - this.upSince < this.heartbeatMs * 3) return;
      for (const state of this.rooms.values()) await this.reapDead(state);
    } catch (err) {
      // Redis is away: the status listeners already know; the next tick tries again.
      this.log.debug('backplane-heartbeat-failed', { error: String(err) });
    }
  }

  /** Catch-up (if not live yet) and presence snapshot; on failure, retried when Redis is back. */
  private async join(state: RoomState): Promise<void> {
    try {
      await this.sub.subscribe(state.channel);
      await this.reapDead(state);
      const all = await this.timed('awarenessSnapshot', () => this.cmd.hgetall(state.keys.aw));
      const byRelay = new Map<string, AwarenessEntry[]>();
      for (const [id, value] of Object.entries(all)) {
        const record = parsePresence(id, value);
        if (!record || record.relay === this.relayId) continue;
        const list = byRelay.get(record.relay) ?? [];
        list.push(record.entry);
        byRelay.set(record.relay, list);
      }
      for (const [origin, list] of byRelay) this.deliverAwareness(state, origin, list);
      if (!state.live) {
        await this.catchUp(state);
        state.live = true;
        await this.unblockReader();
      }
    } catch (err) {
      // Redis went away meanwhile: the next 'ready' of either connection runs join again.
      this.log.warn('backplane-join-failed', { room: state.room, error: String(err) });
    }
  }

  /** Delivers the log after `state.lastSeq` (segments included), in seq order. */
  private async catchUp(state: RoomState): Promise<void> {
    const k = state.keys;
    const [, segs, log] = (await this.timed('catchUp', () =>
      CATCH_UP.run(this.cmd, [k.log, k.seg, k.next], [state.lastSeq]),
    )) as [number, (number | Buffer)[], (number | Buffer)[]];
    const entries: BackplaneEntry[] = [];
    for (let i = 0; i < segs.length; i += 3) {
      const seqLo = segs[i] as number;
      const seq = segs[i + 1] as number;
      entries.push({ room: state.room, seq, seqLo, origin: '', update: new Uint8Array(segs[i + 2] as Buffer) });
    }
    for (let i = 0; i < log.length; i += 2) {
      const seq = log[i] as number;
      entries.push({ room: state.room, seq, seqLo: seq, origin: '', update: new Uint8Array(log[i + 1] as Buffer) });
    }
    entries.sort((a, b) => a.seq - b.seq || a.seqLo - b.seqLo);
    for (const e of entries) this.deliver(state, e);
  }

  /** A subscriber that throws (a relay bug) loses that entry, never the read loop. */
  private deliver(state: RoomState, entry: BackplaneEntry): void {
    if (state.closed || entry.seq <= state.lastSeq) return;
    state.lastSeq = entry.seq;
    try {
      state.subscriber.update(entry);
    } catch (err) {
      this.log.error('backplane-subscriber-failed', { room: state.room, seq: entry.seq, error: String(err) });
    }
  }

  private deliverAwareness(state: RoomState, origin: string, entries: AwarenessEntry[]): void {
    if (state.closed) return;
    try {
      state.subscriber.awareness(origin, entries);
    } catch (err) {
      this.log.error('backplane-subscriber-failed', { room: state.room, error: String(err) });
    }
  }

  /**
   * Makes the read loop start a new XREAD that includes a room that just went live. The UNBLOCK
   * can overtake the XREAD it is meant for (two connections): until some XREAD returns, retry.
   */
  private async unblockReader(): Promise<void> {
    if (this.wake) {
      this.wake();
      return;
    }
    const reads = this.reads;
    while (!this.closed && this.reads === reads) {
      if (this.readerId !== null && (await this.cmd.call('CLIENT', 'UNBLOCK', this.readerId)) === 1) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** XREAD BLOCK over every live room's stream, from its last seq; stops when closed. */
  private async readLoop(): Promise<void> {
    while (!this.closed) {
      const live = [...this.rooms.values()].filter((s) => s.live);
      if (live.length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      let reply: unknown;
      try {
        reply = await this.reader.callBuffer('XREAD', [
          'COUNT',
          512,
          'BLOCK',
          5000,
          'STREAMS',
          ...live.map((s) => s.keys.fan),
          ...live.map((s) => `0-${s.lastSeq}`),
        ]);
      } catch {
        this.reads++;
        if (this.closed) return;
        await this.readerBack();
        continue;
      }
      this.reads++;
      if (reply === null) continue; // timeout or CLIENT UNBLOCK: the set of rooms may have changed
      for (const [key, items] of reply as [Buffer, [Buffer, Buffer[]][]][]) {
        const state = this.byFanKey.get(key.toString());
        if (!state) continue;
        for (const [id, fields] of items) {
          const seq = Number(id.toString().slice(2));
          if (seq <= state.lastSeq) continue;
          if (seq > state.lastSeq + 1) {
            // The window was trimmed past us (or entries came from a plain append): read the log.
            try {
              await this.catchUp(state);
            } catch {
              break; // Redis away: the next XREAD fails and waits for it
            }
            if (seq <= state.lastSeq) continue;
          }
          const f = fieldMap(fields);
          const receivedAt = f.get('t')?.toString();
          this.deliver(state, {
            room: state.room,
            seq,
            seqLo: seq,
            origin: f.get('o')?.toString() ?? '',
            update: new Uint8Array(f.get('u') ?? Buffer.alloc(0)),
            ...(receivedAt ? { receivedAt: Number(receivedAt) } : {}),
          });
        }
      }
    }
  }

  /**
   * Resolves when the reader connection is ready again, or the backplane stopped (a stopped
   * client may never emit another event).
   */
  private readerBack(): Promise<void> {
    const ready =
      this.reader.status === 'ready'
        ? new Promise<void>((resolve) => setTimeout(resolve, 100)) // connected but failing: back off
        : new Promise<void>((resolve) => this.reader.once('ready', () => resolve()));
    return Promise.race([ready, this.stopped]);
  }

  private onAwarenessMessage(channel: string, message: string): void {
    const state = this.byChannel.get(channel);
    if (!state || state.closed) return;
    let parsed: { o: string; e: [number, number, string][] };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch (err) {
      this.log.error('backplane-bad-awareness-message', { room: state.room, error: String(err) });
      return;
    }
    if (parsed.o === this.relayId) return;
    this.deliverAwareness(
      state,
      parsed.o,
      parsed.e.map(([clientID, clock, s]) => ({ clientID, clock, state: s })),
    );
  }

  private async reapDead(state: RoomState): Promise<void> {
    const owners = new Set<string>();
    for (const value of await this.cmd.hvals(state.keys.aw)) {
      const relay = value.slice(0, value.indexOf('\n'));
      if (relay !== this.relayId) owners.add(relay);
    }
    for (const relay of owners) {
      if ((await this.cmd.exists(relayAliveKey(this.prefix, relay))) === 0) await this.reap(state, relay);
    }
  }

  /** Removes `relay`'s presence in the room; whoever removed something publishes the removal. */
  private async reap(state: RoomState, relay: string): Promise<void> {
    const removed = (await this.timed('reap', () => REAP.run(this.cmd, [state.keys.aw], [relay]))) as Buffer[];
    if (removed.length === 0) return;
    const entries: [number, number, string][] = [];
    for (let i = 0; i < removed.length; i += 2) {
      entries.push([Number(removed[i]!.toString()), Number(removed[i + 1]!.toString()) + 1, 'null']);
    }
    await this.cmd.publish(state.channel, JSON.stringify({ o: relay, e: entries }));
  }

  private async timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const result = await run();
      this.options.observe?.(op, (performance.now() - start) / 1000, true);
      return result;
    } catch (err) {
      this.options.observe?.(op, (performance.now() - start) / 1000, false);
      throw err;
    }
  }
}

const bytesArg = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const fieldMap = (fields: Buffer[]): Map<string, Buffer> => {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i]!.toString(), fields[i + 1]!);
  return m;
};

/** `aw` hash values are "relayId\nclock\nstate". */
const parsePresence = (id: string, value: string): PresenceRecord | null => {
  const first = value.indexOf('\n');
  const second = value.indexOf('\n', first + 1);
  if (first < 0 || second < 0) return null;
  return {
    relay: value.slice(0, first),
    entry: { clientID: Number(id), clock: Number(value.slice(first + 1, second)), state: value.slice(second + 1) },
  };
};
