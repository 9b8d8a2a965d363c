/**
 * The relay host: rooms, connections, limits, group commit, compaction and unloading around the
 * pure RoomCore. No sockets and no disk of its own — connections are `ConnectionSink`s and
 * storage is a `RoomStore` — so tests and the fuzz drive it with in-memory ones.
 *
 * Invariants:
 * - SYNC-5 a room answers nothing before its stored state is loaded; frames that arrive while
 *   it loads are queued in order, at most `loadQueueBytes` of them per room (LOAD-2).
 * - ACK-1 an ack is sent only after the store transaction holding the update resolved.
 * - A store failure closes that batch's rooms' connections (retryable) and drops their
 *   in-memory state; clients still hold their updates and upload them again on reconnect,
 *   because a room reloaded from the store never claims what was not stored (SYNC-3).
 * - UNLOAD-1 a room with no connections and nothing pending is dropped from memory after
 *   `idleUnloadMs`: memory is bounded by the active rooms.
 */
import {
  CLIENT_CHARGE_BYTES,
  CloseReason,
  MessageType,
  SyncType,
  UpgradeRefusal,
  type CloseReasonInfo,
} from '../shared/protocol.js';
import { RoomCore, type ConnId, type RoomCoreLimits, type RoomEffect } from './roomCore.js';
import type { AppendEntry, RoomStore } from './roomStore.js';
import { inlineMerger, mergeParsed, type Merger } from './mergeInChunks.js';
import { TokenBucket } from './tokenBucket.js';
import { silentLogger, type Logger } from './log.js';
import type { Backplane, BackplaneEntry, BackplaneStatus, RoomSubscription } from './backplane.js';
import type { AwarenessEntry } from '../shared/awarenessUpdate.js';
import type { RelayMetrics } from './metrics.js';
import { compactStoredRoom, type FencedCompactionStore, type StoreCompactionPolicy } from './storeCompactor.js';
import { LogThrottle } from './logThrottle.js';

/**
 * LOAD-2: the most bytes a loading room holds for its connections before it can validate them:
 * room for two frames of the largest size, so honest clients (a SyncStep1, awareness, a few edits
 * or one big upload) never meet it.
 */
export const loadQueueBytes = (l: Pick<RelayLimits, 'maxFrameBytes'>): number => 2 * l.maxFrameBytes;

export interface RelayLimits extends RoomCoreLimits {
  /** Largest frame accepted. */
  readonly maxFrameBytes: number;
  /** Per-connection message rate (messages per second) and burst. */
  readonly maxMessagesPerSecond: number;
  readonly messageBurst: number;
  /** Per-connection byte rate and burst. */
  readonly maxBytesPerSecond: number;
  readonly byteBurst: number;
  /** Bytes queued for a client beyond its last catch-up before it counts as not reading. */
  readonly maxBufferedBytes: number;
  /** Bytes queued for all clients together, catch-ups included (CLOSE-5). */
  readonly maxTotalBufferedBytes: number;
  /** Rooms the relay will hold (stored or loaded). */
  readonly maxRooms: number;
  readonly maxConnections: number;
}

export interface RelayOptions {
  readonly store: RoomStore;
  readonly limits: RelayLimits;
  /** Milliseconds to collect updates into one commit; 'manual' = only `flush()` commits. */
  readonly commitDelayMs: number | 'manual';
  /** Idle rooms are unloaded after this long (0 = at once). */
  readonly idleUnloadMs: number;
  /** How often `enforceBufferBudget` runs (CLOSE-5); undefined = only when called (tests). */
  readonly bufferBudgetCheckMs?: number;
  readonly compaction: { readonly minLogEntries: number; readonly targetBytes: number };
  /** Where compaction merges run; default inline (tests, fuzz). Production: the store's worker. */
  readonly merger?: Merger;
  readonly now?: () => number;
  readonly log?: Logger;
  /**
   * Scale-out mode (REDIS-4..7): the shared log and fan-out. A commit is a `publish` (acks follow
   * it, ACK-1), each loaded room subscribes from its loaded position, and `store` is only read
   * (loads, admission) and compacted through `storeCompaction`.
   */
  readonly backplane?: Backplane;
  /** Scale-out only: store-side compaction (REDIS-3), tried every `policy.minLogEntries` publishes of a room. */
  readonly storeCompaction?: { readonly store: FencedCompactionStore; readonly policy: StoreCompactionPolicy };
  readonly metrics?: RelayMetrics;
}

/** One client connection as the host sees it. */
export interface ConnectionSink {
  send(frame: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the client. */
  bufferedAmount(): number;
}

/** A batched entry and when it was accepted (ack latency, the backplane's receivedAt); the store gets only the entry. */
interface BatchEntry extends AppendEntry {
  readonly at: number;
}

interface Conn {
  readonly id: ConnId;
  readonly room: string;
  readonly sink: ConnectionSink;
  readonly msgs: TokenBucket;
  readonly bytes: TokenBucket;
  catchUpBytes: number;
  /** SYNC-7: SyncStep1s answered on this connection (the first answer is not charged). */
  step1sAnswered: number;
  /**
   * SYNC-7: what later answers are charged to. The same rate and burst as `bytes`, but apart from
   * it: a client paces its uploads by `bytes` alone (UP-2, the published limits), and its own
   * re-checks during an upload (UP-6, STATE-2) must not overdraw that.
   */
  readonly answerBytes: TokenBucket;
  /** WATCH-1: gets awareness only. */
  readonly awarenessOnly: boolean;
}

interface RoomSlot {
  readonly name: string;
  core: RoomCore | null;
  readonly conns: Set<ConnId>;
  /** Frames received while loading, replayed in order (SYNC-5); at most `loadQueueBytes` (LOAD-2). */
  readonly queue: Array<{ conn: ConnId; frame: Uint8Array; at: number }>;
  queueBytes: number;
  /** True when the room had nothing stored when loaded (counts toward maxRooms until stored). */
  isNew: boolean;
  compacting: Promise<void> | null;
  unloadTimer: ReturnType<typeof setTimeout> | null;
  /** Scale-out: the room's backplane subscription while loaded. */
  sub?: RoomSubscription;
  /** Scale-out: publishes since the last store compaction attempt. */
  publishes?: number;
  /** Scale-out: the in-memory fold of the room's chunks in progress. */
  merging?: Promise<void> | null;
}

/** HEALTH-1: how long a failed store call keeps `/healthz` at 503 when no write succeeds after it. */
export const STORAGE_FAILURE_MS = 60_000;

export interface RelayStats {
  readonly roomsLoaded: number;
  readonly connections: number;
  /**
   * HEALTH-1: 'failing' for `STORAGE_FAILURE_MS` after a store call failed (a load, a commit, an
   * admission's lookup, a compaction), unless a write (a commit, a compaction) succeeded since:
   * a full disk or a damaged database.
   */
  readonly storage: 'ok' | 'failing';
}

export class Relay {
  private readonly rooms = new Map<string, RoomSlot>();
  private readonly conns = new Map<ConnId, Conn>();
  private readonly loads = new Set<Promise<void>>();
  private batch: BatchEntry[] = [];
  private batchBytes = 0;
  /** HEALTH-1: when a store call last failed, if no write succeeded after it. */
  private storeFailedAt: number | null = null;
  private commitTimer: ReturnType<typeof setTimeout> | null = null;
  private budgetTimer: ReturnType<typeof setInterval> | null = null;
  private committing: Promise<void> | null = null;
  /** Group commits whose append failed (ACK-4), for shutdown to report. */
  private failedCommits = 0;
  private nextConnId = 1;
  private storedRooms = -1;
  /** New rooms admitted whose first connection has not opened yet (see `admit`). */
  private readonly admittedNew = new Set<string>();
  private closing = false;
  private readonly now: () => number;
  private readonly log: Logger;
  /** Lines that clients can cause again and again: throttled per event and reason (see `logRepeated`). */
  private readonly repeatedLog: LogThrottle;
  /** Where compaction merges run (the worker store's thread, or inline). */
  private readonly merger: Merger;

  constructor(private readonly opts: RelayOptions) {
    this.now = opts.now ?? Date.now;
    this.repeatedLog = new LogThrottle(10, 10_000, this.now);
    this.log = opts.log ?? silentLogger;
    this.merger = opts.merger ?? inlineMerger;
    opts.backplane?.onStatus((status) => this.onBackplaneStatus(status));
    if (opts.bufferBudgetCheckMs !== undefined) {
      this.budgetTimer = setInterval(() => this.enforceBufferBudget(), opts.bufferBudgetCheckMs);
      this.budgetTimer.unref();
    }
  }

  stats(): RelayStats {
    const failed = this.storeFailedAt;
    const failing = failed !== null && this.now() - failed < STORAGE_FAILURE_MS;
    return { roomsLoaded: this.rooms.size, connections: this.conns.size, storage: failing ? 'failing' : 'ok' };
  }

  /**
   * HEALTH-1: records the outcome of a store call. Only a write's success clears a failure: with
   * a full disk, reads go on succeeding. A failure also fades after STORAGE_FAILURE_MS, so a relay
   * taken out of service for it (a load balancer's health check) gets traffic to try again.
   */
  private storeOutcome<T>(call: Promise<T>, kind: 'read' | 'write'): Promise<T> {
    return call.then(
      (value) => {
        if (kind === 'write') this.storeFailedAt = null;
        return value;
      },
      (err: unknown) => {
        this.storeFailedAt = this.now();
        throw err;
      },
    );
  }

  /**
   * Decides an HTTP upgrade before any websocket exists; null = accept. The limits are checked
   * again after the store calls, with no await between that check and the caller's `open`, so a
   * burst of concurrent upgrades cannot all pass on the same stale count (CLOSE-3). A new room
   * admitted here counts toward maxRooms at once (`admittedNew`), not only once its load says it
   * is new: until `open` (or `cancelAdmission` for an upgrade that never opened).
   */
  async admit(room: string): Promise<(typeof UpgradeRefusal)[keyof typeof UpgradeRefusal] | null> {
    const limits = this.opts.limits;
    if (this.closing) return UpgradeRefusal.ShuttingDown;
    if (this.conns.size >= limits.maxConnections) return UpgradeRefusal.TooManyConnections;
    if (this.opts.backplane?.status() === 'down') return UpgradeRefusal.StorageUnavailable;
    if (this.rooms.has(room) || this.admittedNew.has(room)) return null;
    if (await this.storeOutcome(this.opts.store.hasRoom(room), 'read')) return this.recheck();
    if (this.storedRooms < 0) this.storedRooms = await this.storeOutcome(this.opts.store.roomCount(), 'read');
    const refusal = this.recheck();
    if (refusal || this.rooms.has(room) || this.admittedNew.has(room)) return refusal;
    let fresh = this.admittedNew.size;
    for (const slot of this.rooms.values()) if (slot.isNew) fresh++;
    if (this.storedRooms + fresh >= limits.maxRooms) return UpgradeRefusal.TooManyRooms;
    this.admittedNew.add(room);
    return null;
  }

  /** An admitted upgrade that will not `open` (the client hung up during the handshake). */
  cancelAdmission(room: string): void {
    this.admittedNew.delete(room);
  }

  /** The checks of `admit` that may have changed while it awaited the store. */
  private recheck(): (typeof UpgradeRefusal)[keyof typeof UpgradeRefusal] | null {
    if (this.closing) return UpgradeRefusal.ShuttingDown;
    if (this.conns.size >= this.opts.limits.maxConnections) return UpgradeRefusal.TooManyConnections;
    return null;
  }

  /** Registers a new connection to `room` (already admitted) and returns its id. */
  /** A new connection to `room`; `awarenessOnly` = WATCH-1 (an observer: awareness, no document). */
  open(room: string, sink: ConnectionSink, mode: { readonly awarenessOnly?: boolean } = {}): ConnId {
    const id = this.nextConnId++;
    const t = this.now();
    const l = this.opts.limits;
    this.conns.set(id, {
      id,
      room,
      sink,
      msgs: new TokenBucket(l.maxMessagesPerSecond, l.messageBurst, t),
      bytes: new TokenBucket(l.maxBytesPerSecond, l.byteBurst, t),
      catchUpBytes: 0,
      step1sAnswered: 0,
      answerBytes: new TokenBucket(l.maxBytesPerSecond, l.byteBurst, t),
      awarenessOnly: mode.awarenessOnly === true,
    });
    let slot = this.rooms.get(room);
    // Admitted as new: counts toward maxRooms while it loads (the load then says for sure).
    const isNew = this.admittedNew.delete(room);
    if (!slot) {
      slot = {
        name: room,
        core: null,
        conns: new Set(),
        queue: [],
        queueBytes: 0,
        isNew,
        compacting: null,
        unloadTimer: null,
      };
      this.rooms.set(room, slot);
      this.startLoad(slot);
    }
    if (slot.unloadTimer) {
      clearTimeout(slot.unloadTimer);
      slot.unloadTimer = null;
    }
    slot.conns.add(id);
    if (slot.core) this.apply(slot, slot.core.join(id, mode));
    return id;
  }

  /** A websocket message from a connection. */
  receive(id: ConnId, data: Uint8Array, isBinary: boolean): void {
    const c = this.conns.get(id);
    if (!c) return;
    const l = this.opts.limits;
    if (!isBinary) return this.closeConn(id, CloseReason.TextFrame, 'text frame');
    if (data.length > l.maxFrameBytes) return this.closeConn(id, CloseReason.FrameTooLarge, `${data.length} bytes`);
    const t = this.now();
    if (!c.msgs.take(1, t) || !c.bytes.take(data.length, t)) {
      return this.closeConn(id, CloseReason.RateLimited, 'over the message or byte rate');
    }
    const slot = this.rooms.get(c.room)!;
    if (!slot.core) {
      // LOAD-2: unvalidated bytes held for a loading room are bounded per room, not only by
      // every connection's byte burst (100 sockets × 16 MiB of garbage into one slow load).
      if (slot.queueBytes + data.length > loadQueueBytes(l)) {
        return this.closeConn(
          id,
          CloseReason.RateLimited,
          `${slot.queueBytes} bytes already queued while the room loads`,
        );
      }
      slot.queueBytes += data.length;
      slot.queue.push({ conn: id, frame: data, at: t });
      return;
    }
    this.handle(slot, id, data, t);
  }

  /** Runs one frame through the room core. A relay bug closes that socket (retryable), never the process. */
  private handle(slot: RoomSlot, id: ConnId, frame: Uint8Array, arrivedAt: number): void {
    let effects: RoomEffect[];
    try {
      effects = slot.core!.receive(id, frame);
    } catch (err) {
      this.log.error('internal-error', { room: slot.name, conn: id, error: String(err) });
      return this.closeConn(id, CloseReason.InternalError, 'unexpected error handling a frame');
    }
    // Answers a frame of a few bytes asks for are paid from the asker's byte allowance, else one
    // socket could draw far more than it sends, as often as the message rate allows:
    // - AWR-6: a query-awareness (one byte) is answered with every presence state of the room (up
    //   to 64 × 16 KiB per connection in it). Stock clients never send one.
    // - SYNC-7: a SyncStep1 with an empty state vector (4 bytes) is answered with the whole room.
    //   The first answer on a connection is free: it is the catch-up every client needs, and it
    //   may be larger than the burst. Later ones (re-checks, STATE-2; the pacer's, UP-6; the lab's
    //   resyncs, LAB-8) answer what the client lacks, which is small unless it lost its copy; they
    //   are paid from `answerBytes`, and a connection over it is closed (its reconnect gets the
    //   free one again).
    const asks =
      frame.length === 1 && frame[0] === MessageType.QueryAwareness
        ? 'query-awareness'
        : frame[0] === MessageType.Sync && frame[1] === SyncType.Step1
          ? 'sync-step1'
          : null;
    if (asks) {
      const c = this.conns.get(id)!;
      let bytes = 0;
      for (const e of effects) if (e.type === 'send' && e.conn === id) bytes += e.frame.length;
      const free = asks === 'sync-step1' && c.step1sAnswered++ === 0;
      const bucket = asks === 'sync-step1' ? c.answerBytes : c.bytes;
      if (!free && !bucket.take(bytes, this.now())) {
        return this.closeConn(id, CloseReason.RateLimited, `${asks} answer of ${bytes} bytes over the byte rate`);
      }
    }
    this.apply(slot, effects);
    this.observeLocalDelivery(arrivedAt, effects);
  }

  /** The peer closed (or the socket failed): forget the connection. */
  closed(id: ConnId): void {
    const c = this.conns.get(id);
    if (!c) return;
    this.conns.delete(id);
    const slot = this.rooms.get(c.room);
    if (!slot) return;
    slot.conns.delete(id);
    if (slot.core) this.apply(slot, slot.core.leave(id));
    this.maybeUnload(slot);
  }

  /**
   * CLOSE-5: the relay's memory for outgoing frames is bounded as a whole, not only per client
   * (CLOSE-2 allows each client maxBufferedBytes beyond its catch-up, times maxConnections). When
   * everything queued for all clients exceeds maxTotalBufferedBytes, the clients with the largest
   * queues are closed as slow consumers (retryable: they reconnect and catch up once there is
   * room) until the total is back under it. Runs on a timer (`bufferBudgetCheckMs`): between
   * checks the total can only grow by what the per-connection rate limits let in. Returns how
   * many connections it closed.
   */
  enforceBufferBudget(): number {
    const limit = this.opts.limits.maxTotalBufferedBytes;
    let total = 0;
    const queued: [ConnId, number][] = [];
    for (const [id, c] of this.conns) {
      const bytes = c.sink.bufferedAmount();
      total += bytes;
      if (bytes > 0) queued.push([id, bytes]);
    }
    if (total <= limit) return 0;
    queued.sort((a, b) => b[1] - a[1]);
    let closed = 0;
    for (const [id, bytes] of queued) {
      if (total <= limit) break;
      this.closeConn(id, CloseReason.SlowConsumer, `relay buffer budget: ${bytes} of ${total} bytes queued`);
      total -= bytes;
      closed++;
    }
    return closed;
  }

  /**
   * Logs a line clients can cause again and again: closes (any client can earn one per reconnect)
   * and storage failures (every reconnect of a room's clients retries the load or the commit; a
   * disk full of logs would make it worse). At most 10 lines per event and `key` per 10 s; the
   * next line says how many were left out (`suppressed`). The metrics count them all.
   */
  private logRepeated(level: 'info' | 'error', event: string, key: string, fields: Record<string, unknown>): void {
    const line = this.repeatedLog.allow(`${event}:${key}`);
    if (line) this.log[level](event, line.suppressed ? { ...fields, suppressed: line.suppressed } : fields);
  }

  /**
   * The socket layer closed a connection for a framing error (ws sent the close: an oversize
   * frame, a protocol error): logged as any close, throttled per reason (LOG-1: any client can
   * cause one per upgrade), then forgotten.
   */
  socketFailed(id: ConnId, reason: CloseReasonInfo, detail: string): void {
    const c = this.conns.get(id);
    if (!c) return;
    this.logRepeated('info', 'close', reason.reason, { room: c.room, conn: id, reason: reason.reason, detail });
    this.closed(id);
  }

  /** Closes a connection for a protocol reason. */
  closeConn(id: ConnId, reason: CloseReasonInfo, detail: string): void {
    const c = this.conns.get(id);
    if (!c) return;
    this.logRepeated('info', 'close', reason.reason, { room: c.room, conn: id, reason: reason.reason, detail });
    c.sink.close(reason.code, reason.reason);
    this.closed(id);
  }

  /** Commits everything collected so far in one store transaction, then acks (ACK-1). */
  async flush(): Promise<void> {
    while (this.committing) await this.committing;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const run = this.commit(batch);
    this.committing = run;
    try {
      await run;
    } finally {
      this.committing = null;
    }
  }

  /** Resolves once no load, commit or compaction is in flight (tests and shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      const busy: Promise<unknown>[] = [...this.loads];
      if (this.committing) busy.push(this.committing);
      for (const s of this.rooms.values()) if (s.compacting) busy.push(s.compacting);
      if (busy.length === 0) return;
      await Promise.allSettled(busy);
    }
  }

  /**
   * SIGTERM (CLOSE-4): refuse new connections, commit everything, close sockets with going-away.
   * Rejects, after closing everything, when a group commit failed on the way (a full or
   * failing disk): those clients were closed with storage-unavailable, not going-away, and upload
   * again on reconnect, but the process must not report a clean stop.
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    const failedBefore = this.failedCommits;
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    if (this.budgetTimer) clearInterval(this.budgetTimer);
    // Frames keep arriving until the sockets close: commit until nothing is left, then close
    // the sockets with no await in between, so nothing forwarded stays uncommitted (CLOSE-4).
    while (this.batch.length > 0 || this.committing || this.loads.size > 0) {
      await this.settled();
      await this.flush();
    }
    for (const id of [...this.conns.keys()]) this.closeConn(id, CloseReason.GoingAway, 'shutdown');
    for (const slot of this.rooms.values()) if (slot.unloadTimer) clearTimeout(slot.unloadTimer);
    for (const slot of this.rooms.values()) slot.sub?.close();
    this.rooms.clear();
    await this.opts.backplane?.close();
    await this.opts.store.close();
    const failed = this.failedCommits - failedBefore;
    if (failed > 0) {
      throw new Error(
        `${failed} group commit(s) failed while shutting down; their clients were closed with storage-unavailable`,
      );
    }
  }

  // --- internals ----------------------------------------------------------------------------

  private startLoad(slot: RoomSlot): void {
    const p = this.storeOutcome(this.opts.store.load(slot.name), 'read')
      .then((stored) => {
        if (this.rooms.get(slot.name) !== slot) return;
        slot.isNew = stored.segments.length === 0 && stored.log.length === 0;
        slot.core = new RoomCore(slot.name, stored, this.opts.limits);
        this.subscribe(slot, stored);
        for (const id of slot.conns) {
          this.apply(slot, slot.core.join(id, { awarenessOnly: this.conns.get(id)?.awarenessOnly === true }));
        }
        slot.queueBytes = 0;
        for (const { conn, frame, at } of slot.queue.splice(0)) {
          if (slot.conns.has(conn)) this.handle(slot, conn, frame, at);
        }
        this.maybeUnload(slot);
      })
      .catch((err: unknown) => {
        this.logRepeated('error', 'room-load-failed', '', { room: slot.name, error: String(err) });
        this.dropRoom(slot, CloseReason.StorageUnavailable, 'load failed');
      })
      .finally(() => this.loads.delete(p));
    this.loads.add(p);
  }

  private apply(slot: RoomSlot, effects: RoomEffect[]): void {
    if (this.opts.metrics) this.observeCatchUp(effects);
    for (const e of effects) {
      if (e.type === 'send') this.send(e.conn, e.frame, e.catchUp);
      else if (e.type === 'close') {
        // The core already left the connection; only the socket and bookkeeping remain.
        const c = this.conns.get(e.conn);
        if (!c) continue;
        this.logRepeated('info', 'close', e.reason.reason, {
          room: slot.name,
          conn: e.conn,
          reason: e.reason.reason,
          detail: e.detail,
        });
        c.sink.close(e.reason.code, e.reason.reason);
        this.conns.delete(e.conn);
        slot.conns.delete(e.conn);
        this.maybeUnload(slot);
      } else if (e.type === 'awareness') {
        this.publishAwareness(slot, e.entries);
      } else if (e.type === 'clients') {
        // RATE-1 (the core lists this effect last, after the update's own effects).
        const c = this.conns.get(e.conn);
        if (c && !c.bytes.take(e.count * CLIENT_CHARGE_BYTES, this.now())) {
          this.closeConn(e.conn, CloseReason.RateLimited, `an update of ${e.count} clients over the byte rate`);
        }
      } else {
        this.batch.push({ room: slot.name, seq: e.seq, update: e.update, at: this.now() });
        this.batchBytes += e.update.length;
        this.scheduleCommit();
      }
    }
  }

  /**
   * Slow consumers: a connection may have at most maxBufferedBytes queued beyond its latest
   * catch-up. Catch-up frames themselves are exempt (the client asked for them), but a new
   * catch-up first checks the queue and then replaces the allowance, never adds to it.
   */
  private send(id: ConnId, frame: Uint8Array, catchUp: 'start' | 'more' | undefined): void {
    const c = this.conns.get(id);
    if (!c) return;
    if (catchUp !== 'more' && c.sink.bufferedAmount() > this.opts.limits.maxBufferedBytes + c.catchUpBytes) {
      return this.closeConn(id, CloseReason.SlowConsumer, `${c.sink.bufferedAmount()} bytes queued`);
    }
    if (catchUp === 'start') c.catchUpBytes = 0;
    if (catchUp) c.catchUpBytes += frame.length;
    c.sink.send(frame);
  }

  private scheduleCommit(): void {
    const delay = this.opts.commitDelayMs;
    if (delay === 'manual' || this.commitTimer) return;
    // A big batch goes at once: waiting would only add latency and memory.
    const wait = this.batchBytes > 4 * 1024 * 1024 ? 0 : delay;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      this.flush().catch((err: unknown) => this.log.error('commit-failed', { error: String(err) }));
    }, wait);
  }

  private async commit(batch: BatchEntry[]): Promise<void> {
    const upTo = new Map<string, number>();
    for (const e of batch) upTo.set(e.room, Math.max(upTo.get(e.room) ?? 0, e.seq));
    try {
      await this.storeOutcome(this.appendOrPublish(batch), 'write');
    } catch (err) {
      this.failedCommits++;
      this.logRepeated('error', 'append-failed', '', { rooms: upTo.size, entries: batch.length, error: String(err) });
      for (const room of upTo.keys()) {
        const slot = this.rooms.get(room);
        if (slot) this.dropRoom(slot, CloseReason.StorageUnavailable, 'store append failed');
      }
      return;
    }
    for (const [room, seq] of upTo) {
      const slot = this.rooms.get(room);
      if (!slot?.core) continue;
      if (slot.isNew) {
        slot.isNew = false;
        if (this.storedRooms >= 0) this.storedRooms++;
      }
      this.apply(slot, slot.core.committed(seq));
      this.maybeCompact(slot);
      this.maybeUnload(slot);
    }
  }

  /** STORE-2: merge old log entries into a segment, store it, then delete what it replaces. */
  private maybeCompact(slot: RoomSlot): void {
    if (this.opts.backplane) return this.maybeCompactShared(slot);
    if (slot.compacting || !slot.core || this.closing) return;
    const core = slot.core;
    const plan = core.compactionPlan(this.opts.compaction);
    if (!plan) return;
    let done = false;
    const run = (async () => {
      const merged = await mergeParsed(this.merger, plan.parts);
      await this.storeOutcome(
        this.opts.store.writeSegment(slot.name, { seqLo: plan.seqLo, seqHi: plan.seqHi, update: merged.bytes }),
        'write',
      );
      if (slot.core === core) core.applyCompaction(plan.seqLo, plan.seqHi, merged);
      await this.storeOutcome(this.opts.store.deleteCovered(slot.name, plan.seqLo, plan.seqHi), 'write');
      this.log.debug('compacted', { room: slot.name, inputs: plan.parts.length, bytes: merged.bytes.length });
      done = true;
    })()
      .catch((err: unknown) => this.log.error('compaction-failed', { room: slot.name, error: String(err) }))
      .finally(() => {
        slot.compacting = null;
        // STORE-7: more only after a success. Retried at once, a failing store (a store worker
        // restarting rejects at once) made this a loop of promise callbacks that starved the
        // event loop, so the worker never came back. The room's next commit tries again.
        if (done) this.maybeCompact(slot);
        this.maybeUnload(slot);
      });
    slot.compacting = run;
  }

  private maybeUnload(slot: RoomSlot): void {
    if (slot.conns.size > 0 || !slot.core || slot.core.hasPending || slot.compacting || slot.unloadTimer) return;
    if (this.batch.some((e) => e.room === slot.name)) return;
    const unload = (): void => {
      slot.unloadTimer = null;
      if (slot.conns.size === 0 && !slot.core?.hasPending && !slot.compacting && this.rooms.get(slot.name) === slot) {
        this.rooms.delete(slot.name);
        slot.sub?.close();
      }
    };
    if (this.opts.idleUnloadMs <= 0) unload();
    else slot.unloadTimer = setTimeout(unload, this.opts.idleUnloadMs);
  }

  private dropRoom(slot: RoomSlot, reason: CloseReasonInfo, detail: string): void {
    if (this.rooms.get(slot.name) !== slot) return;
    this.rooms.delete(slot.name);
    slot.sub?.close();
    if (slot.unloadTimer) clearTimeout(slot.unloadTimer);
    this.batch = this.batch.filter((e) => e.room !== slot.name);
    for (const id of [...slot.conns]) {
      const c = this.conns.get(id);
      if (!c) continue;
      this.logRepeated('info', 'close', reason.reason, { room: slot.name, conn: id, reason: reason.reason, detail });
      c.sink.close(reason.code, reason.reason);
      this.conns.delete(id);
    }
    slot.conns.clear();
  }

  // --- scale-out (REDIS-3..7) and metrics ------------------------------------------------------

  /** The durable commit: the store's append, or in scale-out mode the backplane's publish. */
  private async appendOrPublish(batch: BatchEntry[]): Promise<void> {
    const started = this.now();
    const backplane = this.opts.backplane;
    const storeKind = backplane ? 'redis' : 'sqlite';
    try {
      if (backplane) {
        await backplane.publish(batch.map((e) => ({ room: e.room, update: e.update, receivedAt: e.at })));
      } else await this.opts.store.append(batch.map(({ room, seq, update }) => ({ room, seq, update })));
    } catch (err) {
      this.opts.metrics?.commit(storeKind, 'failed', (this.now() - started) / 1000);
      throw err;
    }
    const done = this.now();
    if (backplane) {
      for (const e of batch) {
        const slot = this.rooms.get(e.room);
        if (slot) slot.publishes = (slot.publishes ?? 0) + 1;
      }
    }
    const m = this.opts.metrics;
    if (!m) return;
    m.commit(storeKind, 'ok', (done - started) / 1000);
    for (const e of batch) m.ack((done - e.at) / 1000);
  }

  /**
   * Subscribes a freshly loaded room from the position it was loaded at: the backplane delivers
   * every later entry (catching up from the log first), so nothing committed between the load
   * and the subscription is missed. This relay's own live entries are skipped (the room holds
   * them already); anything else goes through RoomCore.receiveRemote (DEDUPE-1/2).
   */
  private subscribe(
    slot: RoomSlot,
    stored: { segments: readonly { seqHi: number }[]; log: readonly { seq: number }[] },
  ): void {
    const backplane = this.opts.backplane;
    if (!backplane) return;
    let position = 0;
    for (const s of stored.segments) position = Math.max(position, s.seqHi);
    for (const l of stored.log) position = Math.max(position, l.seq);
    const live = (): RoomCore | null => (this.rooms.get(slot.name) === slot ? slot.core : null);
    slot.sub = backplane.subscribe(slot.name, position, {
      update: (entry: BackplaneEntry) => {
        const core = live();
        if (!core || entry.origin === backplane.relayId) return;
        let effects: RoomEffect[];
        try {
          effects = core.receiveRemote(entry.update);
        } catch (err) {
          // The shared log is not trusted more than a socket: a bad entry is logged and skipped.
          this.log.error('remote-update-rejected', { room: slot.name, seq: entry.seq, error: String(err) });
          return;
        }
        this.apply(slot, effects);
        if (entry.receivedAt !== undefined && effects.length > 0) {
          this.opts.metrics?.delivery('backplane', Math.max(0, Date.now() - entry.receivedAt) / 1000);
        }
        this.countPublish(slot);
      },
      awareness: (_origin: string, entries: readonly AwarenessEntry[]) => {
        const core = live();
        if (core) this.apply(slot, core.receiveRemoteAwareness(entries));
      },
    });
  }

  private publishAwareness(slot: RoomSlot, entries: readonly AwarenessEntry[]): void {
    const backplane = this.opts.backplane;
    if (!backplane || backplane.status() === 'down') return;
    backplane
      .publishAwareness(slot.name, entries)
      .catch((err: unknown) => this.log.warn('awareness-publish-failed', { room: slot.name, error: String(err) }));
  }

  /**
   * REDIS-5: while the shared store is unreachable nothing can be committed, so nothing is acked:
   * every room is dropped (its sockets closed with the retryable storage-unavailable reason, its
   * uncommitted batch discarded unacked — the clients still hold those updates) and upgrades are
   * refused with 503 until it is back. Clients then reconnect with backoff and rooms load again.
   */
  private onBackplaneStatus(status: BackplaneStatus): void {
    this.opts.metrics?.backplane(status === 'up');
    this.log.warn('backplane-status', { status });
    if (status !== 'down') return;
    for (const slot of [...this.rooms.values()]) this.dropRoom(slot, CloseReason.StorageUnavailable, 'redis down');
  }

  /**
   * Scale-out compaction. In memory: the room's chunks are folded (their seqs are local, so
   * nothing is written). In the shared store: every `minLogEntries` entries a room commits or
   * receives, one fenced run (REDIS-3); 'busy' means another relay is compacting that room.
   */
  private maybeCompactShared(slot: RoomSlot): void {
    const core = slot.core;
    if (!core || this.closing) return;
    const plan = slot.merging ? null : core.compactionPlan(this.opts.compaction);
    if (plan) {
      let done = false;
      slot.merging = mergeParsed(this.merger, plan.parts)
        .then((merged) => {
          if (slot.core === core) core.applyCompaction(plan.seqLo, plan.seqHi, merged);
          done = true;
        })
        .catch((err: unknown) => this.log.error('compaction-failed', { room: slot.name, error: String(err) }))
        .finally(() => {
          slot.merging = null;
          if (done) this.maybeCompactShared(slot); // STORE-7
        });
    }
    this.countPublish(slot, 0);
  }

  private countPublish(slot: RoomSlot, n = 1): void {
    const shared = this.opts.storeCompaction;
    if (!shared) return;
    slot.publishes = (slot.publishes ?? 0) + n;
    if (slot.publishes < shared.policy.minLogEntries || slot.compacting || this.closing) return;
    slot.publishes = 0;
    const run = compactStoredRoom(
      shared.store,
      slot.name,
      shared.policy,
      async (updates) => (await this.merger.mergeAndParse(updates)).bytes,
    )
      .then((outcome) => {
        if (outcome.kind !== 'nothing') this.opts.metrics?.compaction(outcome.kind);
        if (outcome.kind === 'compacted')
          this.log.debug('store-compacted', { room: slot.name, inputs: outcome.inputs });
      })
      .catch((err: unknown) => {
        this.opts.metrics?.compaction('failed');
        this.log.error('store-compaction-failed', { room: slot.name, error: String(err) });
      })
      .finally(() => {
        slot.compacting = null;
        this.maybeUnload(slot);
      });
    slot.compacting = run;
  }

  private observeCatchUp(effects: readonly RoomEffect[]): void {
    let bytes = 0;
    let frames = 0;
    for (const e of effects) {
      if (e.type !== 'send' || !e.catchUp) continue;
      if (e.catchUp === 'start' && frames > 0) {
        this.opts.metrics!.catchUp(bytes, frames);
        bytes = 0;
        frames = 0;
      }
      bytes += e.frame.length;
      frames++;
    }
    if (frames > 0) this.opts.metrics!.catchUp(bytes, frames);
  }

  /** FWD-1 latency on this relay: from a frame's arrival to the broadcast of the update it carried. */
  private observeLocalDelivery(arrivedAt: number, effects: readonly RoomEffect[]): void {
    if (!this.opts.metrics || !effects.some((e) => e.type === 'persist')) return;
    this.opts.metrics.delivery('local', (this.now() - arrivedAt) / 1000);
  }
}
