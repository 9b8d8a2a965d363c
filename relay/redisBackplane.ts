/**
 * The backplane on Redis (scale-out mode). The contract is in relay/backplane.ts; this is how
 * Redis provides it (the design follows y-redis: a shared log per room plus a live fan-out; unlike
 * y-redis the relay acks only what Redis fsync'd, presence has an owner, and it runs on a Redis
 * Cluster as well as on a single server).
 *
 * - `publish` is one Lua script per group commit on a single server, one per room on a Cluster
 *   (REDIS-1): per update, `INCR next` gives the seq, `HSET log` stores it (the same keys as
 *   RedisRoomStore, so `load` sees it) and `PUBLISH` on the room's fan-out channel sends it live
 *   as "origin\nseq\nreceivedAt\nupdate". The reply arrives once Redis fsync'd the AOF (REDIS-2;
 *   the pub/sub messages leave after that fsync too). With `wait` (REDIS-9) the script does not
 *   publish: the reply is followed by WAIT, and only once enough replicas confirmed are the
 *   messages sent (a small script on the room's node, so one room's messages keep their order),
 *   so no relay delivers an update a failover could still take back. One round trip and one
 *   fsync per group commit (per shard on a Cluster).
 * - Subscriptions (REDIS-4): the relay SUBSCRIBEs to the room's channels, then reads the log
 *   after `after` (segments included); each room's RoomFeed (relay/roomFeed.ts) turns live
 *   messages, which pub/sub may lose, and log reads into a gap-free delivery in seq order. The
 *   last message of a burst can be lost with nothing after it to reveal the gap, so every
 *   heartbeat also compares each quiet room's `next` with its last seq, and any reconnect of
 *   the pub/sub connection makes every room read the log again. Nothing is skipped; content can
 *   repeat (at-least-once), which DEDUPE-1/2 absorb.
 * - Presence (REDIS-6): the room's `aw` hash holds each live entry with its owner relay; changes
 *   go out on a pub/sub channel per room (presence is volatile: after a reconnect the hash is
 *   read again). Every relay keeps a heartbeat key with a TTL of three heartbeats; a relay whose
 *   key expired is dead, and whichever survivor's reap script removes its entries publishes their
 *   removal — once, since a second reaper finds nothing left.
 * - Status (REDIS-5): 'down' when the command connection closes or two heartbeats in a row fail
 *   (a Cluster client stays 'ready' while nodes are unreachable); commands then fail at once (no
 *   offline queue, see relay/redisConnection.ts). 'up' again on 'ready' or a successful
 *   heartbeat; presence is re-read and every room reads the log. Dead relays are reaped only
 *   after this relay has been up for a whole TTL, so relays that were cut off with it can
 *   heartbeat first.
 * - The pub/sub connection is a plain connection to one node, also on a Cluster: classic pub/sub
 *   reaches every node, and a plain connection reconnects with a backoff and reports 'ready'
 *   (ioredis's cluster subscriber retries without pause and silently). On a Cluster it moves to
 *   another node when its node stays unreachable for three heartbeats. Sharded pub/sub (SPUBLISH)
 *   would keep each room's messages on its shard instead of the cluster bus; see
 *   docs/decisions.md.
 *
 * One subscription per room per backplane (the relay has one slot per room).
 */
import { Cluster, type Redis } from 'ioredis';
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
import {
  connectExplained,
  connectionsReady,
  createRedisClient,
  isClusterServer,
  type RedisClient,
  type RedisReadiness,
} from './redisConnection.js';
import {
  DEFAULT_REDIS_PREFIX,
  awarenessChannel,
  fanoutChannel,
  relayAliveKey,
  roomKeys,
  type RoomKeys,
} from './redisKeys.js';
import { observed, type RedisObserver } from './redisRoomStore.js';
import { silentLogger, type Logger } from './log.js';
import { RedisScript, type RedisArg, type ReplicaWait } from './redisScript.js';
import { RoomFeed, type LogRead } from './roomFeed.js';
import { RoomRegistry } from './roomRegistry.js';
import type { DurabilityGuard } from './durabilityWatch.js';

/**
 * KEYS: per room log, next. ARGV: relayId, live ('1' = PUBLISH each entry, '0' = the caller sends
 * the messages later), then per room: fan-out channel, count, and count pairs of (update,
 * receivedAt or ''). Returns the seqs, room by room.
 */
const PUBLISH = new RedisScript(`
local out = {}
local a, k = 3, 1
while a <= #ARGV do
  local channel, n = ARGV[a], tonumber(ARGV[a + 1])
  local log, nextKey = KEYS[k], KEYS[k + 1]
  a, k = a + 2, k + 2
  for _ = 1, n do
    local seq = redis.call('INCR', nextKey)
    local field = string.format('%d', seq)
    redis.call('HSET', log, field, ARGV[a])
    if ARGV[2] == '1' then
      redis.call('PUBLISH', channel, ARGV[1] .. '\\n' .. field .. '\\n' .. ARGV[a + 1] .. '\\n' .. ARGV[a])
    end
    out[#out + 1] = seq
    a = a + 2
  end
end
return out
`);

/**
 * KEYS: log (only to run on the room's node). ARGV: channel, then messages. REDIS-9: the fan-out
 * sent after WAIT confirmed the commit.
 */
const FANOUT = new RedisScript(`
for i = 2, #ARGV do redis.call('PUBLISH', ARGV[1], ARGV[i]) end
return #ARGV - 1
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

/**
 * REDIS-5: a heartbeat fails with no reply within its period, but never sooner than this: a short
 * period (100 ms) must not call a busy Redis, or a busy machine, down.
 */
const MIN_BEAT_TIMEOUT_MS = 1000;

export interface RedisBackplaneOptions {
  readonly url: string;
  /** Cluster client or single-server client; undefined = ask the server (REDIS-1). */
  readonly cluster?: boolean;
  readonly prefix?: string;
  readonly relayId?: string;
  /** Heartbeat period; a relay silent for three periods is dead. Also the gap-check period. */
  readonly heartbeatMs?: number;
  /** REDIS-9: replicas that must confirm every publish (none by default). */
  readonly wait?: ReplicaWait;
  readonly observe?: RedisObserver;
  readonly log?: Logger;
  /** REDIS-10: consulted before every publish (a commit); throws while Redis is not durable. */
  readonly durability?: DurabilityGuard;
}

interface RoomState {
  readonly room: string;
  readonly keys: RoomKeys;
  readonly fanChannel: string;
  readonly awChannel: string;
  readonly subscriber: RoomSubscriber;
  readonly feed: RoomFeed;
  /** SUBSCRIBEd (live messages can arrive); until then the feed is not drained. */
  joined: boolean;
  joining: boolean;
  closed: boolean;
}

interface PresenceRecord {
  readonly relay: string;
  readonly entry: AwarenessEntry;
}

export class RedisBackplane implements Backplane, RedisReadiness {
  readonly relayId: string;
  private readonly prefix: string;
  private readonly heartbeatMs: number;
  private readonly log: Logger;
  private readonly cluster: boolean;
  private readonly rooms = new Map<string, RoomState>();
  /** Channel name → the room it belongs to and which kind of message it carries. */
  private readonly byChannel = new Map<string, { state: RoomState; kind: 'fan' | 'aw' }>();
  private readonly listeners = new Set<(status: BackplaneStatus) => void>();
  private readonly registry: RoomRegistry;
  private current: BackplaneStatus = 'up';
  private upSince = Date.now();
  private closed = false;
  private failedBeats = 0;
  /** Heartbeats in a row during which the pub/sub connection was not ready. */
  private subDownBeats = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  private constructor(
    private readonly cmd: RedisClient,
    private sub: Redis,
    private readonly options: RedisBackplaneOptions,
    cluster: boolean,
  ) {
    this.relayId = options.relayId ?? newRelayId();
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.log = options.log ?? silentLogger;
    this.cluster = cluster;
    this.registry = new RoomRegistry(cmd, this.prefix, (op, run) => this.timed(op, run));
  }

  /** Connects its two connections (commands, pub/sub) and starts heartbeating. */
  static async connect(options: RedisBackplaneOptions): Promise<RedisBackplane> {
    const cluster = options.cluster ?? (await isClusterServer(options.url));
    const cmd = createRedisClient(options.url, 'converge-relay', { cluster });
    const sub = createSubscriber(options.url);
    const backplane = new RedisBackplane(cmd, sub, options, cluster);
    try {
      await Promise.all([connectExplained(cmd, options.url), connectExplained(sub, options.url)]);
      await backplane.start();
    } catch (err) {
      // Do not leave clients reconnecting in the background.
      backplane.stop();
      for (const c of [cmd, backplane.sub]) c.disconnect();
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

  /**
   * HEALTH-1: both connections ready. `status()` follows the command connection only: the
   * subscriber reconnects on its own backoff, and until it is back rooms get no live messages.
   */
  redisReady(): boolean {
    return connectionsReady([this.cmd, this.sub]);
  }

  async publish(entries: readonly PublishEntry[]): Promise<number[]> {
    this.options.durability?.assertDurable();
    if (this.closed) throw new Error('backplane closed');
    if (entries.length === 0) return [];
    const byRoom = new Map<string, number[]>();
    entries.forEach((e, i) => {
      const list = byRoom.get(e.room);
      if (list) list.push(i);
      else byRoom.set(e.room, [i]);
    });
    // REDIS-1: one script for every room on a single server; one per room (its slot) on a cluster.
    const groups = this.cluster ? [...byRoom].map((g) => [g]) : [[...byRoom]];
    const wait = this.options.wait && this.options.wait.replicas > 0 ? this.options.wait : undefined;
    const seqs = new Array<number>(entries.length);
    const scripts = groups.map(async (group) => {
      const keys: string[] = [];
      const args: RedisArg[] = [this.relayId, wait ? '0' : '1'];
      for (const [room, indexes] of group) {
        const k = roomKeys(this.prefix, room);
        keys.push(k.log, k.next);
        args.push(fanoutChannel(this.prefix, room), indexes.length);
        for (const i of indexes) args.push(bytesArg(entries[i]!.update), String(entries[i]!.receivedAt ?? ''));
      }
      const reply = (await PUBLISH.run(this.cmd, keys, args, wait)) as number[];
      // The script returns seqs grouped by room; put them back in the caller's order.
      let r = 0;
      for (const [, indexes] of group) for (const i of indexes) seqs[i] = reply[r++]!;
    });
    await this.timed('publish', () => Promise.all(scripts));
    if (wait) this.fanOutConfirmed(byRoom, entries, seqs);
    // The `rooms` set (roomCount) learns a room after its first successful publish from here.
    await this.registry.register(byRoom.keys());
    return seqs;
  }

  subscribe(room: string, after: number, subscriber: RoomSubscriber): RoomSubscription {
    if (this.closed) throw new Error('backplane closed');
    if (this.rooms.has(room)) throw new Error(`already subscribed to room ${JSON.stringify(room)}`);
    const keys = roomKeys(this.prefix, room);
    const state: RoomState = {
      room,
      keys,
      fanChannel: fanoutChannel(this.prefix, room),
      awChannel: awarenessChannel(this.prefix, room),
      subscriber,
      feed: new RoomFeed(after, {
        readLog: (from) => this.readLog(room, keys, from),
        deliver: (entry) => {
          try {
            subscriber.update(entry);
          } catch (err) {
            // A subscriber that throws (a relay bug) loses that entry, never the feed.
            this.log.error('backplane-subscriber-failed', { room, seq: entry.seq, error: String(err) });
          }
        },
        rewound: (detail) => this.log.warn('backplane-log-rewound', { room, ...detail }),
        readFailed: (err) => this.log.debug('backplane-catch-up-failed', { room, error: String(err) }),
      }),
      joined: false,
      joining: false,
      closed: false,
    };
    this.rooms.set(room, state);
    this.byChannel.set(state.fanChannel, { state, kind: 'fan' });
    this.byChannel.set(state.awChannel, { state, kind: 'aw' });
    void this.join(state);
    return {
      close: () => {
        if (state.closed) return;
        state.closed = true;
        state.feed.close();
        this.rooms.delete(room);
        this.byChannel.delete(state.fanChannel);
        this.byChannel.delete(state.awChannel);
        this.sub.unsubscribe(state.fanChannel, state.awChannel).catch(() => undefined);
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
    await Promise.all([this.cmd, this.sub].map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** What a SIGKILL leaves behind (for tests): no goodbye, the heartbeat simply stops. */
  crash(): Promise<void> {
    this.stop();
    for (const c of [this.cmd, this.sub]) c.disconnect();
    return Promise.resolve();
  }

  // --- internals ------------------------------------------------------------------------------

  private async start(): Promise<void> {
    this.attachSub(this.sub);
    this.cmd.on('close', () => this.setStatus('down'));
    this.cmd.on('ready', () => this.setStatus('up'));
    await this.beat();
    this.heartbeat = setInterval(() => void this.tick(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private attachSub(sub: Redis): void {
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (sub === this.sub) this.onMessage(channel.toString(), message);
    });
    // Messages sent while it was away are lost: subscribe again and read every room's log.
    sub.on('ready', () => {
      if (sub !== this.sub) return;
      for (const state of this.rooms.values()) void this.join(state);
    });
  }

  /** On a Cluster, a pub/sub connection whose node stays away moves to another node. */
  private moveSubscriber(): void {
    const nodes = (this.cmd as Cluster).nodes('all');
    const current = `${this.sub.options.host ?? ''}:${this.sub.options.port ?? ''}`;
    const others = nodes.filter((n) => `${n.options.host ?? ''}:${n.options.port ?? ''}` !== current);
    const next = others[Math.floor(Math.random() * others.length)];
    if (!next) return;
    const url = new URL(this.options.url);
    url.hostname = next.options.host ?? url.hostname;
    url.port = String(next.options.port ?? url.port);
    const old = this.sub;
    this.sub = createSubscriber(url.toString());
    old.disconnect();
    this.attachSub(this.sub);
    this.log.warn('backplane-subscriber-moved', { to: `${url.hostname}:${url.port}` });
    for (const state of this.rooms.values()) state.joined = false;
    this.sub.connect().catch(() => undefined); // retried with its backoff; 'ready' rejoins the rooms
  }

  private stop(): void {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private setStatus(status: BackplaneStatus): void {
    if (this.closed || status === this.current) return;
    this.current = status;
    if (status === 'up') {
      this.upSince = Date.now();
      void this.beat().catch(() => undefined);
      // Presence changes published while we were away were lost: read them again, and the logs.
      for (const state of this.rooms.values()) void this.join(state);
    }
    for (const l of this.listeners) l(status);
  }

  /**
   * REDIS-5: a heartbeat that gets no reply within a period (at least MIN_BEAT_TIMEOUT_MS) fails.
   * A Redis that hangs (stopped, or a network that drops its packets) closes nothing: ioredis has
   * no command timeout here (commits must not get one: a commit given up on may still be stored),
   * so without this bound every beat would wait for good and the relay would say "up" while
   * nothing is stored.
   */
  private beat(): Promise<unknown> {
    const write = this.cmd.set(relayAliveKey(this.prefix, this.relayId), '1', 'PX', this.heartbeatMs * 3);
    const bound = Math.max(this.heartbeatMs, MIN_BEAT_TIMEOUT_MS);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      // After the bound, one more turn of the event loop's I/O first: a reply that waited behind
      // a busy loop (the timer and the reply both due) is read before the beat is called failed.
      const fail = (): void => reject(new Error(`no reply from Redis within ${bound} ms`));
      timer = setTimeout(() => setImmediate(fail), bound);
    });
    write.catch(() => undefined); // after a timeout nobody awaits it
    return Promise.race([write, late]).finally(() => clearTimeout(timer));
  }

  /**
   * Heartbeat (and status), the subscriber's health, every room's position, dead relays. The
   * rooms' work does not wait for the heartbeat: on a cluster the heartbeat key lives on one
   * shard, and with that shard down (`cluster-require-full-coverage no`) the rooms on the others
   * must still be rejoined and checked (REDIS-4). Reaping other relays' presence needs our own
   * heartbeat to have worked, so it waits for it.
   */
  private async tick(): Promise<void> {
    if (this.sub.status === 'ready') this.subDownBeats = 0;
    else if (++this.subDownBeats >= 3 && this.cluster) {
      this.subDownBeats = 0;
      this.moveSubscriber();
    }
    const beating = this.beat().then(
      () => {
        this.failedBeats = 0;
        if (this.cmd.status === 'ready') this.setStatus('up');
        return true;
      },
      (err: unknown) => {
        // The status listeners learn it from the connection or from the second failed beat; the
        // beat that takes the backplane down says why at warn (the relay logs only the status).
        const downNow = ++this.failedBeats >= 2 && this.current === 'up';
        if (downNow) this.log.warn('backplane-heartbeat-failed', { error: String(err) });
        else this.log.debug('backplane-heartbeat-failed', { error: String(err) });
        if (this.failedBeats >= 2) this.setStatus('down');
        return false;
      },
    );
    try {
      if (this.sub.status === 'ready')
        for (const state of this.rooms.values()) if (!state.joined) void this.join(state);
      await this.checkPositions();
      if (!(await beating) || Date.now() - this.upSince < this.heartbeatMs * 3) return;
      for (const state of this.rooms.values()) await this.reapDead(state);
    } catch (err) {
      this.log.debug('backplane-tick-failed', { error: String(err) });
    }
  }

  /**
   * REDIS-4: retries feeds whose log read failed, and shows each quiet feed the log's `next`, so
   * an entry whose message was lost with nothing after it arrives within a heartbeat.
   */
  private async checkPositions(): Promise<void> {
    const joined = [...this.rooms.values()].filter((s) => s.joined);
    for (const state of joined) if (state.feed.busy) void state.feed.drain();
    const quiet = joined.filter((s) => !s.feed.busy);
    if (quiet.length === 0) return;
    const then = quiet.map((s) => s.feed.lastSeq);
    const positions = await this.timed('positions', () => Promise.all(quiet.map((s) => this.cmd.get(s.keys.next))));
    quiet.forEach((state, i) => void state.feed.check(Number(positions[i] ?? 0), then[i]!));
  }

  /** Subscribe, presence snapshot, then read the log (REDIS-4); retried by the heartbeat. */
  private async join(state: RoomState): Promise<void> {
    if (state.joining || state.closed) return;
    state.joining = true;
    try {
      await this.sub.subscribe(state.fanChannel, state.awChannel);
      state.joined = true;
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
    } catch (err) {
      // Redis went away meanwhile: the heartbeat or the next 'ready' runs join again.
      this.log.warn('backplane-join-failed', { room: state.room, error: String(err) });
    } finally {
      state.joining = false;
    }
    // Whatever was published while we were not subscribed is in the log.
    if (state.joined) await state.feed.markBehind();
  }

  /** The log after `after` (segments included), in seq order, and the room's `next` then. */
  private async readLog(room: string, k: RoomKeys, after: number): Promise<LogRead> {
    const [next, segs, log] = (await this.timed('catchUp', () =>
      CATCH_UP.run(this.cmd, [k.log, k.seg, k.next], [after]),
    )) as [number, (number | Buffer)[], (number | Buffer)[]];
    const entries: BackplaneEntry[] = [];
    for (let i = 0; i < segs.length; i += 3) {
      const seqLo = segs[i] as number;
      const seq = segs[i + 1] as number;
      entries.push({ room, seq, seqLo, origin: '', update: new Uint8Array(segs[i + 2] as Buffer) });
    }
    for (let i = 0; i < log.length; i += 2) {
      const seq = log[i] as number;
      entries.push({ room, seq, seqLo: seq, origin: '', update: new Uint8Array(log[i + 1] as Buffer) });
    }
    entries.sort((a, b) => a.seq - b.seq || a.seqLo - b.seqLo);
    return { next, entries };
  }

  /**
   * REDIS-9: the live messages of a commit WAIT confirmed, sent by a script on each room's node
   * (in commit order per room). Fire and forget: a lost message is a gap the feeds repair.
   */
  private fanOutConfirmed(
    byRoom: ReadonlyMap<string, number[]>,
    entries: readonly PublishEntry[],
    seqs: readonly number[],
  ): void {
    for (const [room, indexes] of byRoom) {
      const args: RedisArg[] = [fanoutChannel(this.prefix, room)];
      for (const i of indexes) {
        const header = `${this.relayId}\n${seqs[i]!}\n${entries[i]!.receivedAt ?? ''}\n`;
        args.push(Buffer.concat([Buffer.from(header, 'latin1'), bytesArg(entries[i]!.update)]));
      }
      FANOUT.run(this.cmd, [roomKeys(this.prefix, room).log], args).catch((err: unknown) =>
        this.log.debug('backplane-fanout-failed', { room, error: String(err) }),
      );
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

  private onMessage(channel: string, message: Buffer): void {
    const target = this.byChannel.get(channel);
    if (!target || target.state.closed) return;
    if (target.kind === 'aw') return this.onAwarenessMessage(target.state, message.toString());
    const entry = parseFanout(target.state.room, message);
    if (!entry) {
      this.log.error('backplane-bad-fanout-message', { room: target.state.room });
      return;
    }
    void target.state.feed.push(entry);
  }

  private onAwarenessMessage(state: RoomState, message: string): void {
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
    await this.cmd.publish(state.awChannel, JSON.stringify({ o: relay, e: entries }));
  }

  private timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    return observed(this.options.observe, op, run);
  }
}

/**
 * The pub/sub connection: a plain client to one node (see the module comment), resubscribed by
 * the backplane itself (ioredis's own resubscription would leave a failed SUBSCRIBE unhandled).
 */
const createSubscriber = (url: string): Redis =>
  createRedisClient(url, 'converge-relay-sub', { cluster: false, extra: { autoResubscribe: false } }) as Redis;

const bytesArg = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A fan-out message is "origin\nseq\nreceivedAt\nupdate" (the update's bytes as they are). */
const parseFanout = (room: string, message: Buffer): BackplaneEntry | null => {
  const a = message.indexOf(10);
  const b = message.indexOf(10, a + 1);
  const c = message.indexOf(10, b + 1);
  if (a < 0 || b < 0 || c < 0) return null;
  const seq = Number(message.toString('latin1', a + 1, b));
  if (!Number.isSafeInteger(seq) || seq <= 0) return null;
  const receivedAt = message.toString('latin1', b + 1, c);
  return {
    room,
    seq,
    seqLo: seq,
    origin: message.toString('latin1', 0, a),
    // A copy: the message buffer is ioredis's, and subscribers may keep the bytes.
    update: new Uint8Array(message.subarray(c + 1)),
    ...(receivedAt ? { receivedAt: Number(receivedAt) } : {}),
  };
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
