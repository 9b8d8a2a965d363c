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
 *   meanwhile without waiting (small local edits, presence, the provider's SyncStep1: they are
 *   charged to the model when known, never delayed), and for frames the network delivers closer
 *   together than they were sent (a stalled link releasing several at once);
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
import { pieceLimits, uploadPieces, type MapEntryLookup } from './uploadPieces.js';

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

  /** Milliseconds until the bucket holds `n` and its reserve (0 = now). */
  waitMs(n: number, now: number): number {
    this.refill(now);
    const need = Math.min(this.burst, n + this.burst * RESERVE_SHARE);
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

  /** Milliseconds until a frame of `cost` bytes may be sent keeping the reserve (0 = now). */
  waitMs(cost: number, now: number): number {
    return Math.max(this.bytes.waitMs(cost, now), this.messages.waitMs(1, now));
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
}

/** UP-2: the frames queued for one socket, sent as the model of the relay's allowance permits. */
export class UploadPacer {
  private readonly allowance: RelayAllowance;
  private queue: Queued[] = [];
  private head = 0;
  private queuedCost = 0;
  private timer: unknown = null;
  private sentBytes = 0;
  private totalBytes = 0;
  /** This upload was expected to take long: its progress is shown until it ends. */
  private long = false;
  private stopped = false;

  constructor(
    private readonly socket: PacerSocket,
    private readonly limits: PublishedLimits,
    /** False once the socket is no longer the provider's open one (checked before every send). */
    private readonly isCurrent: () => boolean,
    private readonly clock: PacerClock,
    /** Called when progress changes (a piece sent, the upload done or dropped). */
    private readonly changed: () => void,
  ) {
    this.allowance = new RelayAllowance(limits, clock.now());
  }

  /** A frame that must not wait (a small local edit): sent now, charged to the model. */
  sendNow(frame: Uint8Array, clients: number): void {
    if (this.stopped || !this.isCurrent()) return;
    this.allowance.charge(frameCost(frame, clients), this.clock.now());
    this.socket.send(frame);
  }

  /** Frames sent in order as the allowance permits (at once while it does). */
  enqueue(frames: ReadonlyArray<{ readonly frame: Uint8Array; readonly clients: number }>): void {
    if (this.stopped) return;
    for (const { frame, clients } of frames) {
      const cost = frameCost(frame, clients);
      this.queue.push({ frame, cost });
      this.queuedCost += cost;
      this.totalBytes += frame.length;
    }
    this.pump();
    if (!this.long && this.pending() && this.estimateMs() > PROGRESS_AFTER_MS) {
      this.long = true;
      this.changed();
    }
  }

  /** Drops what is queued (the socket changed or the session ends); nothing more is sent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimer();
    const hadProgress = this.long;
    this.reset();
    if (hadProgress) this.changed();
  }

  /** The upload under way, when it was expected to take more than `PROGRESS_AFTER_MS`; else null. */
  progress(): UploadProgress | null {
    if (!this.long || !this.pending()) return null;
    return {
      sentBytes: this.sentBytes,
      totalBytes: this.totalBytes,
      remainingMs: this.estimateMs(),
      bytesPerSecond: this.limits.maxBytesPerSecond,
    };
  }

  /** Frames still queued. */
  pending(): number {
    return this.queue.length - this.head;
  }

  private estimateMs(): number {
    return this.allowance.drainMs(this.queuedCost, this.pending(), this.clock.now());
  }

  private pump(): void {
    this.clearTimer();
    while (this.pending() > 0) {
      if (!this.isCurrent()) {
        this.stop();
        return;
      }
      const next = this.queue[this.head]!;
      const now = this.clock.now();
      const wait = this.allowance.waitMs(next.cost, now);
      if (wait > 0) {
        this.timer = this.clock.setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      this.head++;
      this.queuedCost -= next.cost;
      this.allowance.charge(next.cost, now);
      this.socket.send(next.frame);
      this.sentBytes += next.frame.length;
      if (this.long) this.changed();
    }
    const wasLong = this.long;
    this.reset();
    if (wasLong) this.changed();
  }

  private reset(): void {
    this.queue = [];
    this.head = 0;
    this.queuedCost = 0;
    this.sentBytes = 0;
    this.totalBytes = 0;
    this.long = false;
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** A lone frame at most this costly goes without waiting (a chat message with its edit, a reaction). */
export const IMMEDIATE_BYTES = 16 * 1024;

/** UP-1 and UP-2: how updates go to the relay. */
export interface Uploader {
  /** `update` over `ws` as Update frames. */
  update(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
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

/** UP-1 only: every piece at once (no relay limits known; other tabs' and tests' sockets). */
export const unpacedUploader: Uploader = {
  update: (ws, update, isMapEntry) => {
    for (const f of uploadFrames(update, isMapEntry, null, false)) ws.send(f.frame);
  },
  step2: (ws, reply, isMapEntry) => {
    for (const f of uploadFrames(reply, isMapEntry, null, true)) ws.send(f.frame);
  },
};

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

  update(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void {
    this.send(ws, update, isMapEntry, false);
  }

  step2(ws: PacerSocket, reply: Uint8Array, isMapEntry?: MapEntryLookup): void {
    this.send(ws, reply, isMapEntry, true);
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

  private send(ws: PacerSocket, update: Uint8Array, isMapEntry: MapEntryLookup | undefined, step2: boolean): void {
    const limits = this.opts.limits();
    if (!limits) {
      if (step2) unpacedUploader.step2(ws, update, isMapEntry);
      else unpacedUploader.update(ws, update, isMapEntry);
      return;
    }
    const frames = uploadFrames(update, isMapEntry, limits, step2);
    const pacer = this.pacerFor(ws, limits);
    const only = frames.length === 1 ? frames[0]! : null;
    if (only && frameCost(only.frame, only.clients) <= IMMEDIATE_BYTES) pacer.sendNow(only.frame, only.clients);
    else pacer.enqueue(frames);
  }

  private pacerFor(ws: PacerSocket, limits: PublishedLimits): UploadPacer {
    if (this.current?.ws === ws) return this.current.pacer;
    this.current?.pacer.stop();
    const pacer = new UploadPacer(ws, limits, () => this.opts.isCurrent(ws), this.clock, this.opts.changed);
    this.current = { ws, pacer };
    return pacer;
  }
}
