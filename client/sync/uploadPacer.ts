/**
 * UP-2: a big upload goes no faster than the relay accepts from one connection.
 *
 * The relay charges every connection's frames against a byte allowance and a message allowance
 * (token buckets: `MAX_BYTES_PER_SEC` / `BYTE_BURST`, `MAX_MSGS_PER_SEC` / `MSG_BURST`; an update
 * also `CLIENT_CHARGE_BYTES` per Yjs client it names, RATE-1) and closes it with `rate-limited`
 * when a frame would overdraw one. UP-1's pieces all sent at once (the answer to the relay's
 * SyncStep1 after days offline, a 64 MiB room file, the lab's resync) overdrew a 16 MiB burst:
 * the upload still finished, over several connections, each closed for rate, with a notice
 * saying so. The relay publishes its allowance in `/config.json` (`PublishedLimits`); with it,
 * `RelayAllowance` models the relay's buckets for one socket, and `UploadPacer` sends a piece only
 * once the model holds its cost plus a reserve:
 *
 * - the model refills at `PACE_RATE_SHARE` of the relay's rates, and keeps `RESERVE_SHARE` of each
 *   burst (pieces cost at most the rest, `pieceLimits`). The reserve pays for what is sent
 *   meanwhile ahead of the queue (the user's own edits, UP-3), or outside it (presence, the
 *   provider's SyncStep1), and for frames the network delivers closer together than they were
 *   sent (a stalled link releasing several at once);
 * - UP-3: the user's own edits (`Uploader.live`, any size) go before every queued piece, as soon as
 *   the model holds their cost: they may spend the reserve, never more, so a burst of them waits
 *   for the refill instead of overdrawing the relay's allowance (which would close the socket);
 * - UP-4: a resync's upload (LAB-8: everything the relay has not acked, `Uploader.resync`)
 *   replaces the part of the previous one still queued, which it holds but for what the relay
 *   acked since: a periodic resync behind a slow backlog does not pile up copies of it. The rest
 *   of the queue stays (docs/decisions.md says why);
 * - the model starts full when the socket opens: the relay's buckets started full when it admitted
 *   the socket, earlier, so they hold at least as much;
 * - a piece is sent only on the socket it was queued for, while that is the provider's open
 *   socket. When it changes (a reconnect, a failover, NET-3) the rest is dropped, not moved: the
 *   relay keeps what it accepted, and its SyncStep1 on the next socket asks for what it lacks,
 *   which this device answers again (paced, on that socket's model).
 *
 * Without published limits (an older relay, offline, the fetch failed) everything is sent at once,
 * as before UP-2. Browser code, but no DOM API: the clock and the timers are injected (tests use a
 * fake clock).
 */
import { CLIENT_CHARGE_BYTES, encodeSyncStep2, encodeSyncUpdate, type PublishedLimits } from '../../shared/protocol.js';
import { PIECE_BURST_SHARE, pieceLimits, uploadPieces, type MapEntryLookup } from './uploadPieces.js';

/** The share of the relay's rates the model refills at. */
export const PACE_RATE_SHARE = 0.8;
/** The share of each burst the model keeps in reserve (see the header). */
export const RESERVE_SHARE = 0.25;
/** An upload the model expects to take longer than this shows its progress (`UploadProgress`). */
export const PROGRESS_AFTER_MS = 3000;

export interface PacerClock {
  /** Milliseconds, monotonic (never the lab's skewed clock). */
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export const realClock: PacerClock = {
  now: () => performance.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

/**
 * STATE-2: the longest a paced upload (of this session or another tab) waits between two pieces:
 * a piece's largest cost refilled at the model's byte rate. 0 when nothing is paced.
 */
export const longestPieceGapMs = (limits: PublishedLimits | null): number =>
  limits === null
    ? 0
    : Math.ceil((limits.byteBurst * PIECE_BURST_SHARE * 1000) / (limits.maxBytesPerSecond * PACE_RATE_SHARE));

/** What one frame costs the relay's byte allowance (RATE-1). */
export const frameCost = (frame: Uint8Array, clients: number): number => frame.length + clients * CLIENT_CHARGE_BYTES;

/** One token bucket of the relay, refilled at a share of its rate. */
class Bucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;
  constructor(
    rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.perMs = (rate * PACE_RATE_SHARE) / 1000;
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.perMs);
    this.last = Math.max(this.last, now);
  }

  /** Spends `n`; may go below zero (a frame sent without waiting): later ones then wait longer. */
  spend(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  /** Milliseconds until the bucket holds `n`, and its reserve when `keepReserve` (0 = now). */
  waitMs(n: number, now: number, keepReserve: boolean): number {
    this.refill(now);
    const need = Math.min(this.burst, n + (keepReserve ? this.burst * RESERVE_SHARE : 0));
    return need <= this.tokens ? 0 : Math.ceil((need - this.tokens) / this.perMs);
  }

  /** Milliseconds until `n` more could have been spent, one after the other (an estimate). */
  drainMs(n: number, now: number): number {
    this.refill(now);
    const need = n + this.burst * RESERVE_SHARE;
    return need <= this.tokens ? 0 : Math.ceil((need - this.tokens) / this.perMs);
  }
}

/** UP-2: the model of the relay's allowance for one connection. */
export class RelayAllowance {
  private readonly bytes: Bucket;
  private readonly messages: Bucket;
  constructor(limits: PublishedLimits, now: number) {
    this.bytes = new Bucket(limits.maxBytesPerSecond, limits.byteBurst, now);
    this.messages = new Bucket(limits.maxMessagesPerSecond, limits.messageBurst, now);
  }

  /** A frame was sent: `cost` bytes (frameCost) and one message. */
  charge(cost: number, now: number): void {
    this.bytes.spend(cost, now);
    this.messages.spend(1, now);
  }

  /**
   * Milliseconds until a frame of `cost` bytes may be sent (0 = now): keeping the reserve (a queued
   * piece), or spending it (the user's own edit, UP-3).
   */
  waitMs(cost: number, now: number, keepReserve = true): number {
    return Math.max(this.bytes.waitMs(cost, now, keepReserve), this.messages.waitMs(1, now, keepReserve));
  }

  /** Milliseconds until `frames` frames of `cost` bytes in all could be sent: an estimate for progress. */
  drainMs(cost: number, frames: number, now: number): number {
    return Math.max(this.bytes.drainMs(cost, now), this.messages.drainMs(frames, now));
  }
}

/** What the user is told of an upload expected to take more than `PROGRESS_AFTER_MS`. */
export interface UploadProgress {
  /** Bytes of this upload handed to the socket so far. */
  readonly sentBytes: number;
  /** Bytes of this upload in all (what was queued since the queue was last empty). */
  readonly totalBytes: number;
  /** The model's estimate of the time left. */
  readonly remainingMs: number;
  /** The relay's byte rate for one connection. */
  readonly bytesPerSecond: number;
}

/** The socket the pacer sends on. */
export interface PacerSocket {
  send(frame: Uint8Array): void;
}

interface Queued {
  readonly frame: Uint8Array;
  readonly cost: number;
  /** A piece of a resync's upload (UP-4): dropped while queued when the next resync comes. */
  readonly resync: boolean;
}

export type PacerFrames = ReadonlyArray<{ readonly frame: Uint8Array; readonly clients: number }>;

/**
 * UP-2: the frames queued for one socket, sent as the model of the relay's allowance permits: the
 * user's own edits first (UP-3), then the bulk (uploads, answers to the relay's SyncStep1), each
 * in order.
 */
export class UploadPacer {
  private readonly allowance: RelayAllowance;
  /** The user's own edits (UP-3): sent before anything in `bulk`. */
  private live: Queued[] = [];
  private bulk: Queued[] = [];
  /** The next piece of `bulk` to send. */
  private head = 0;
  private bulkCost = 0;
  /** Bytes queued in both lanes. */
  private queued = 0;
  private timer: unknown = null;
  private sentBytes = 0;
  private totalBytes = 0;
  /** This upload was expected to take long: its progress is shown until it ends. */
  private long = false;
  /** A frame waited, so the queue could be seen non-empty: `changed` is called once it is empty. */
  private waited = false;
  private stopped = false;

  constructor(
    private readonly socket: PacerSocket,
    private readonly limits: PublishedLimits,
    /** False once the socket is no longer the provider's open one (checked before every send). */
    private readonly isCurrent: () => boolean,
    private readonly clock: PacerClock,
    /** Called when progress changes (a piece sent, the upload done or dropped), and when a queue that waited empties. */
    private readonly changed: () => void,
  ) {
    this.allowance = new RelayAllowance(limits, clock.now());
  }

  /** UP-3: the user's own edit, whatever its size: before every queued piece, once the model holds its cost. */
  sendLive(frames: PacerFrames): void {
    if (this.stopped) return;
    for (const { frame, clients } of frames) {
      this.live.push({ frame, cost: frameCost(frame, clients), resync: false });
      this.queued += frame.length;
    }
    this.pump();
  }

  /**
   * Frames sent in order after what is queued, as the allowance permits (at once while it does).
   * `resync` (UP-4): they are a resync's upload, which replaces the previous one's queued remainder.
   */
  enqueue(frames: PacerFrames, resync = false): void {
    if (this.stopped) return;
    if (resync) this.dropQueuedResync();
    for (const { frame, clients } of frames) {
      const cost = frameCost(frame, clients);
      this.bulk.push({ frame, cost, resync });
      this.bulkCost += cost;
      this.queued += frame.length;
      this.totalBytes += frame.length;
    }
    this.pump();
    if (!this.long && this.bulkPending() > 0 && this.estimateMs() > PROGRESS_AFTER_MS) {
      this.long = true;
      this.changed();
    }
  }

  /** Drops what is queued (the socket changed or the session ends); nothing more is sent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimer();
    const notify = this.long || this.waited;
    this.reset();
    if (notify) this.changed();
  }

  /** The upload under way, when it was expected to take more than `PROGRESS_AFTER_MS`; else null. */
  progress(): UploadProgress | null {
    if (!this.long || this.bulkPending() === 0) return null;
    return {
      sentBytes: this.sentBytes,
      totalBytes: this.totalBytes,
      remainingMs: this.estimateMs(),
      bytesPerSecond: this.limits.maxBytesPerSecond,
    };
  }

  /** Frames still queued. */
  pending(): number {
    return this.live.length + this.bulkPending();
  }

  /** Bytes still queued. */
  queuedBytes(): number {
    return this.queued;
  }

  private bulkPending(): number {
    return this.bulk.length - this.head;
  }

  private estimateMs(): number {
    return this.allowance.drainMs(this.bulkCost, this.bulkPending(), this.clock.now());
  }

  /**
   * UP-4: a resync's upload is everything the relay has not acked (`Y.encodeStateAsUpdate` against
   * the acked clocks, with the whole delete set), so the next one holds all that the queued pieces
   * of this one would still send, but what the relay acked meanwhile.
   */
  private dropQueuedResync(): void {
    const kept: Queued[] = [];
    for (const q of this.bulk.slice(this.head)) {
      if (!q.resync) {
        kept.push(q);
        continue;
      }
      this.bulkCost -= q.cost;
      this.queued -= q.frame.length;
      this.totalBytes -= q.frame.length;
    }
    this.bulk = kept;
    this.head = 0;
  }

  private pump(): void {
    this.clearTimer();
    for (;;) {
      const live = this.live.length > 0;
      const next = live ? this.live[0] : this.bulk[this.head];
      if (!next) break;
      if (!this.isCurrent()) {
        this.stop();
        return;
      }
      const now = this.clock.now();
      // UP-3: the user's edits may spend the reserve; queued pieces keep it for them.
      const wait = this.allowance.waitMs(next.cost, now, !live);
      if (wait > 0) {
        this.waited = true;
        this.timer = this.clock.setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      if (live) {
        this.live.shift();
      } else {
        this.head++;
        this.bulkCost -= next.cost;
        this.sentBytes += next.frame.length;
      }
      this.queued -= next.frame.length;
      this.allowance.charge(next.cost, now);
      this.socket.send(next.frame);
      if (!live && this.long) this.changed();
    }
    const notify = this.long || this.waited;
    this.reset();
    if (notify) this.changed();
  }

  private reset(): void {
    this.live = [];
    this.bulk = [];
    this.head = 0;
    this.bulkCost = 0;
    this.queued = 0;
    this.sentBytes = 0;
    this.totalBytes = 0;
    this.long = false;
    this.waited = false;
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** UP-1 and UP-2: how updates go to the relay. */
export interface Uploader {
  /** UP-3: the user's own edit (a local transaction) over `ws` as Update frames, before any queued upload. */
  live(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** `update` (an imported file, rows another tab stored) over `ws` as Update frames, after what is queued. */
  update(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** UP-4: everything the relay has not acked (LAB-8's resync), replacing the last resync's queued remainder. */
  resync(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** The answer to the relay's SyncStep1 over `ws`: Update frames, the last piece as the SyncStep2. */
  step2(ws: PacerSocket, reply: Uint8Array, isMapEntry?: MapEntryLookup): void;
}

/** The frames of an upload: its pieces as Update frames, the last one as a SyncStep2 if asked. */
const uploadFrames = (
  update: Uint8Array,
  isMapEntry: MapEntryLookup | undefined,
  limits: PublishedLimits | null,
  step2: boolean,
): Array<{ frame: Uint8Array; clients: number }> => {
  const pieces = uploadPieces(update, isMapEntry, pieceLimits(limits));
  return pieces.map((p, i) => ({
    frame: step2 && i === pieces.length - 1 ? encodeSyncStep2(p.update) : encodeSyncUpdate(p.update),
    clients: p.clients,
  }));
};

const sendUnpaced = (ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void => {
  for (const f of uploadFrames(update, isMapEntry, null, false)) ws.send(f.frame);
};

/** UP-1 only: every piece at once (no relay limits known; other tabs' and tests' sockets). */
export const unpacedUploader: Uploader = {
  live: sendUnpaced,
  update: sendUnpaced,
  resync: sendUnpaced,
  step2: (ws, reply, isMapEntry) => {
    for (const f of uploadFrames(reply, isMapEntry, null, true)) ws.send(f.frame);
  },
};

type UploadKind = 'live' | 'bulk' | 'resync' | 'step2';

export interface UploadsOptions {
  /** The relay's published limits; null while unknown (then nothing is paced). */
  readonly limits: () => PublishedLimits | null;
  /** Whether `ws` is still the provider's open socket. */
  readonly isCurrent: (ws: PacerSocket) => boolean;
  /** Progress changed (see `progress()`). */
  readonly changed: () => void;
  readonly clock?: PacerClock;
}

/**
 * A session's uploads (UP-2): one pacer, for the socket last uploaded on. A new socket stops the
 * old one's pacer, dropping what it had queued (see the header).
 */
export class Uploads implements Uploader {
  private current: { readonly ws: PacerSocket; readonly pacer: UploadPacer } | null = null;
  private readonly clock: PacerClock;

  constructor(private readonly opts: UploadsOptions) {
    this.clock = opts.clock ?? realClock;
  }

  live(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void {
    this.send(ws, update, isMapEntry, 'live');
  }

  update(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void {
    this.send(ws, update, isMapEntry, 'bulk');
  }

  resync(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void {
    this.send(ws, update, isMapEntry, 'resync');
  }

  step2(ws: PacerSocket, reply: Uint8Array, isMapEntry?: MapEntryLookup): void {
    this.send(ws, reply, isMapEntry, 'step2');
  }

  /** Bytes queued and not yet handed to the socket (0 when nothing waits, or nothing is paced). */
  queuedBytes(): number {
    return this.current?.pacer.queuedBytes() ?? 0;
  }

  /** The upload under way, when it is expected to take more than `PROGRESS_AFTER_MS`. */
  progress(): UploadProgress | null {
    return this.current?.pacer.progress() ?? null;
  }

  /** The socket closed or the session ends: drop what is queued. */
  stop(): void {
    this.current?.pacer.stop();
    this.current = null;
  }

  private send(ws: PacerSocket, update: Uint8Array, isMapEntry: MapEntryLookup | undefined, kind: UploadKind): void {
    const limits = this.opts.limits();
    if (!limits) {
      if (kind === 'step2') unpacedUploader.step2(ws, update, isMapEntry);
      else sendUnpaced(ws, update, isMapEntry);
      return;
    }
    const frames = uploadFrames(update, isMapEntry, limits, kind === 'step2');
    const pacer = this.pacerFor(ws, limits);
    if (kind === 'live') pacer.sendLive(frames);
    else pacer.enqueue(frames, kind === 'resync');
  }

  private pacerFor(ws: PacerSocket, limits: PublishedLimits): UploadPacer {
    if (this.current?.ws === ws) return this.current.pacer;
    this.current?.pacer.stop();
    const pacer = new UploadPacer(ws, limits, () => this.opts.isCurrent(ws), this.clock, this.opts.changed);
    this.current = { ws, pacer };
    return pacer;
  }
}
