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
 *   provider's SyncStep1). Frames the network delivers closer together than they were sent:
 *   UP-6, below;
 * - UP-3: the user's own edits (`Uploader.live`, any size) go before every queued piece, as soon as
 *   the model holds their cost: they may spend the reserve but for a probe's room (UP-6), never
 *   more, so a burst of them waits for the refill instead of overdrawing the relay's allowance
 *   (which would close the socket);
 * - UP-4: a resync's upload (LAB-8: everything the relay has not acked, `Uploader.resync`)
 *   replaces the part of the previous one still queued, which it holds but for what the relay
 *   acked since: a periodic resync behind a slow backlog does not pile up copies of it. The rest
 *   of the queue stays (docs/decisions.md says why);
 * - the model starts full when the socket opens: the relay's buckets started full when it admitted
 *   the socket, earlier, so they hold at least as much;
 * - a piece is sent only on the socket it was queued for, while that is the provider's open
 *   socket. When it changes (a reconnect, a failover, NET-3) the rest is dropped, not moved: the
 *   relay keeps what it accepted, and its SyncStep1 on the next socket asks for what it lacks,
 *   which this device answers again (paced, on that socket's model);
 * - UP-6: the relay charges a frame when it arrives, and frames can arrive bunched however far
 *   apart they were sent (its event loop stalled, a stalled link releasing them at once). So the
 *   model charges a frame only once the relay is known to have received it, as if it arrived
 *   then, and until then holds its cost (bytes and one message) against the model as in flight:
 *   a frame goes only when the model holds its cost beside everything in flight. Whatever
 *   arrives at once is then at most what the relay is sure to hold: for every frame j before
 *   frame k, the relay took frame j no later than this device learnt it did, and frame k no
 *   earlier than it was sent, so it refilled at least for the time between (at its full rate,
 *   the model at 80 %), and never since for frames in flight (the bunch).
 *   The proof of receipt is the relay's answer to a SyncStep1: the relay handles one socket's
 *   frames in order and answers every SyncStep1 with frames ending in exactly one SyncStep2
 *   (SYNC-1, SYNC-2; it sends no other SyncStep2: updates go out as Update frames, FWD-1), so the
 *   n-th SyncStep2 on a socket answers its n-th SyncStep1 and everything sent before that. Acks
 *   and echoes prove less: an ack names clocks the relay holds, maybe from another socket, after
 *   a group commit, never for deletions or what it acked before (ACK-5); an echo comes only for
 *   what is new (DEDUPE-1), cut or re-encoded (DEDUPE-2). So every SyncStep1 sent on the socket
 *   is counted (`SyncAnswers`: the provider's, when it opens; the session's re-checks and the
 *   lab's resync go through `Uploader.syncStep1`), and when the next frame cannot go until
 *   something in flight is known received, the pacer sends one (a probe: the doc's state vector,
 *   so the answer is little more than ACK-2 and the deletions). Frames leave room in the model
 *   for that probe. No answer for `ANSWER_WAIT_MS` (a frame lost in the lab, LAB-2): another
 *   probe if the model holds it, else the pacer closes the socket, and the provider reconnects
 *   (a fresh allowance; the relay's SyncStep1 asks for the rest). A relay that answers nothing is
 *   closed by the provider's own 30-s silence check.
 *
 * Without published limits (an older relay, offline, the fetch failed) everything is sent at once,
 * as before UP-2. Browser code, but no DOM API: the clock and the timers are injected (tests use a
 * fake clock).
 */
import {
  CLIENT_CHARGE_BYTES,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type PublishedLimits,
} from '../../shared/protocol.js';
import { PIECE_BURST_SHARE, pieceLimits, uploadPieces, type MapEntryLookup } from './uploadPieces.js';

/** The share of the relay's rates the model refills at. */
export const PACE_RATE_SHARE = 0.8;
/** The share of each burst the model keeps in reserve (see the header). */
export const RESERVE_SHARE = 0.25;
/** An upload the model expects to take longer than this shows its progress (`UploadProgress`). */
export const PROGRESS_AFTER_MS = 3000;
/**
 * UP-6: frames waiting on the relay's answer with none for this long ask again (see the header).
 * An answer takes a round trip and the relay's work on what came before: milliseconds, but seconds
 * on a loaded machine (a stalled event loop at either end); giving up closes the socket, which
 * costs a reconnect and the upload again, while only a frame the lab dropped needs it at all.
 */
export const ANSWER_WAIT_MS = 10_000;

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

/**
 * What a frame must leave in the model beside its cost and what is in flight: `reserve` (queued
 * pieces: the burst's reserve, and at least a probe), `probe` (the user's edits, UP-3: room for
 * the SyncStep1 that may have to follow them, UP-6) or `nothing` (that SyncStep1 itself).
 */
export type Keep = 'reserve' | 'probe' | 'nothing';

/**
 * One token bucket of the relay, refilled at a share of its rate. UP-6: charged when the relay is
 * known to have received a frame; until then the frame's cost is in flight.
 */
class Bucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;
  private inFlight = 0;
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

  sent(n: number): void {
    this.inFlight += n;
  }

  /** `n` of what is in flight reached the relay: charged now. May go below zero (a frame over the burst). */
  received(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
    this.inFlight -= n;
  }

  /**
   * Milliseconds until the bucket holds `n` and `reserve` beside what is in flight (0 = now);
   * Infinity when the refill alone never gets there (the bucket is full before): only the relay's
   * answer, charging what is in flight, can. A frame larger than the burst waits for a full one.
   */
  waitMs(n: number, now: number, reserve: number): number {
    this.refill(now);
    const need = Math.min(this.burst, n + reserve) + this.inFlight;
    if (need <= this.tokens) return 0;
    return need > this.burst ? Infinity : Math.ceil((need - this.tokens) / this.perMs);
  }

  /** Milliseconds until `n` more could have been spent, one after the other (an estimate). */
  drainMs(n: number, now: number): number {
    this.refill(now);
    const need = n + this.inFlight + this.burst * RESERVE_SHARE;
    return need <= this.tokens ? 0 : Math.ceil((need - this.tokens) / this.perMs);
  }

  reserve(keep: Keep, probe: number): number {
    if (keep === 'nothing') return 0;
    return keep === 'probe' ? probe : Math.max(this.burst * RESERVE_SHARE, probe);
  }
}

/** UP-2, UP-6: the model of the relay's allowance for one connection. */
export class RelayAllowance {
  private readonly bytes: Bucket;
  private readonly messages: Bucket;
  constructor(limits: PublishedLimits, now: number) {
    this.bytes = new Bucket(limits.maxBytesPerSecond, limits.byteBurst, now);
    this.messages = new Bucket(limits.maxMessagesPerSecond, limits.messageBurst, now);
  }

  /** A frame was sent: `cost` bytes (frameCost) and one message, in flight. */
  sent(cost: number): void {
    this.bytes.sent(cost);
    this.messages.sent(1);
  }

  /** UP-6: `messages` frames in flight, of `cost` bytes in all, reached the relay. */
  received(cost: number, messages: number, now: number): void {
    this.bytes.received(cost, now);
    this.messages.received(messages, now);
  }

  /**
   * Milliseconds until a frame of `cost` bytes may be sent (0 = now), leaving `keep` (a probe
   * costs `probeBytes` and one message); Infinity until the relay answers (UP-6).
   */
  waitMs(cost: number, now: number, keep: Keep, probeBytes: number): number {
    return Math.max(
      this.bytes.waitMs(cost, now, this.bytes.reserve(keep, probeBytes)),
      this.messages.waitMs(1, now, this.messages.reserve(keep, 1)),
    );
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
  /** UP-6: the pacer gave up waiting for the relay's answer (the provider then reconnects). */
  close(): void;
}

/**
 * UP-6: the SyncStep1s this device sent on one socket and the relay's answers (SyncStep2s) that
 * came, both counted from the socket's opening: the n-th answer is the n-th SyncStep1's.
 */
export interface SyncAnswers {
  asked: number;
  answered: number;
}

interface Queued {
  readonly frame: Uint8Array;
  readonly cost: number;
  /** A piece of a resync's upload (UP-4): dropped while queued when the next resync comes. */
  readonly resync: boolean;
  /** UP-6: a SyncStep1 (`Uploader.syncStep1`): counted, its answer proves what went before. */
  readonly asks: boolean;
}

/** UP-6: frames sent on the socket before one SyncStep1 (`asked`: its number) and after the one before. */
interface InFlight {
  readonly asked: number;
  cost: number;
  messages: number;
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
  /** UP-6: frames sent since the last SyncStep1, then those before each SyncStep1 not answered yet. */
  private unasked: InFlight = { asked: 0, cost: 0, messages: 0 };
  private readonly awaiting: InFlight[] = [];
  /** UP-6: when a SyncStep1 was last sent or answered (`ANSWER_WAIT_MS` counts from there). */
  private lastHeard: number;
  /** UP-6: the next frame waits for the relay's answer (the model is full beside what is in flight). */
  private held = false;
  /** The probe for this pump (the doc's state vector only grows: a frame built earlier in it is as good). */
  private probe: Uint8Array | null = null;

  constructor(
    private readonly socket: PacerSocket,
    private readonly limits: PublishedLimits,
    /** False once the socket is no longer the provider's open one (checked before every send). */
    private readonly isCurrent: () => boolean,
    private readonly clock: PacerClock,
    /** Called when progress changes (a piece sent, the upload done or dropped), and when a queue that waited empties. */
    private readonly changed: () => void,
    /** UP-6: the doc's state vector, for the SyncStep1 the pacer sends when it needs an answer. */
    private readonly stateVector: () => Uint8Array,
    /** UP-6: the socket's SyncStep1s and answers so far (the provider's own SyncStep1 included). */
    private readonly answers: SyncAnswers = { asked: 0, answered: 0 },
  ) {
    this.allowance = new RelayAllowance(limits, clock.now());
    this.lastHeard = clock.now();
  }

  /** UP-3: the user's own edit, whatever its size: before every queued piece, once the model holds its cost. */
  sendLive(frames: PacerFrames): void {
    if (this.stopped) return;
    for (const { frame, clients } of frames) {
      this.live.push({ frame, cost: frameCost(frame, clients), resync: false, asks: false });
      this.queued += frame.length;
    }
    this.pump();
  }

  /**
   * UP-6: a SyncStep1 of the session's (STATE-2's re-check, LAB-8's resync), with the user's edits.
   * One still queued is replaced (the newer state vector asks for no more): a stall does not pile
   * up one per re-check.
   */
  ask(frame: Uint8Array): void {
    if (this.stopped) return;
    const queued = this.live.findIndex((q) => q.asks);
    if (queued >= 0) this.queued -= this.live[queued]!.frame.length;
    const entry = { frame, cost: frame.length, resync: false, asks: true };
    if (queued >= 0) this.live[queued] = entry;
    else this.live.push(entry);
    this.queued += frame.length;
    this.pump();
  }

  /**
   * UP-6: a SyncStep2 came on the socket: the relay answered the oldest SyncStep1 it had not, so
   * it received everything sent before that one. What it received is charged now.
   */
  answered(): void {
    this.answers.answered++;
    if (this.stopped) return;
    const now = this.clock.now();
    this.lastHeard = now;
    while (this.awaiting.length > 0 && this.awaiting[0]!.asked <= this.answers.answered) {
      const done = this.awaiting.shift()!;
      this.allowance.received(done.cost, done.messages, now);
    }
    if (this.pending() > 0) this.pump();
  }

  /** UP-6: whether the next frame waits for the relay's answer to what is in flight. */
  heldForRelay(): boolean {
    return this.held;
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
      this.bulk.push({ frame, cost, resync, asks: false });
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
    this.held = false;
    this.probe = null;
    for (;;) {
      const live = this.live.length > 0;
      const next = live ? this.live[0] : this.bulk[this.head];
      if (!next) break;
      if (!this.isCurrent()) {
        this.stop();
        return;
      }
      const now = this.clock.now();
      // UP-3: the user's edits may spend the reserve; queued pieces keep it for them. UP-6: both
      // leave room for a probe; a SyncStep1 is one.
      const keep: Keep = next.asks ? 'nothing' : live ? 'probe' : 'reserve';
      const wait = this.allowance.waitMs(next.cost, now, keep, keep === 'nothing' ? 0 : this.probeFrame().length);
      if (wait === Infinity) {
        this.holdForAnswer(now);
        return;
      }
      if (wait > 0) {
        this.waited = true;
        this.wake(wait);
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
      this.transmit(next.frame, next.cost, next.asks, now);
      if (!live && this.long) this.changed();
    }
    const notify = this.long || this.waited;
    this.reset();
    if (notify) this.changed();
  }

  /** Sends a frame, in flight until the answer to the next SyncStep1 on the socket (UP-6). */
  private transmit(frame: Uint8Array, cost: number, asks: boolean, now: number): void {
    this.allowance.sent(cost);
    this.unasked.cost += cost;
    this.unasked.messages++;
    if (asks) {
      this.answers.asked++;
      this.awaiting.push({ ...this.unasked, asked: this.answers.asked });
      this.unasked = { asked: 0, cost: 0, messages: 0 };
      this.lastHeard = now;
    }
    this.socket.send(frame);
  }

  /**
   * UP-6: the next frame can go only once the relay answers. Frames sent since the last SyncStep1
   * get one after them (a probe); with none to send, or no answer for `ANSWER_WAIT_MS` (a frame
   * lost in the lab), one more if the model holds it: else only an earlier probe's answer frees
   * the model, and with none awaited or none for that long the socket is closed (the header).
   */
  private holdForAnswer(now: number): void {
    this.held = true;
    this.waited = true;
    const quiet = now - this.lastHeard;
    if (this.unasked.messages > 0 || quiet >= ANSWER_WAIT_MS) {
      const probe = this.probeFrame();
      const wait = this.allowance.waitMs(probe.length, now, 'nothing', 0);
      if (wait === 0) {
        this.transmit(probe, probe.length, true, now);
        this.wake(ANSWER_WAIT_MS);
        return;
      }
      if (wait !== Infinity) {
        this.wake(wait);
        return;
      }
      if (this.awaiting.length === 0 || quiet >= ANSWER_WAIT_MS) {
        this.socket.close();
        this.stop();
        return;
      }
    }
    this.wake(this.lastHeard + ANSWER_WAIT_MS - now);
  }

  private probeFrame(): Uint8Array {
    this.probe ??= encodeSyncStep1(this.stateVector());
    return this.probe;
  }

  private wake(ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.pump();
    }, ms);
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
    this.held = false;
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** UP-1, UP-2 and UP-6: how updates, and the session's SyncStep1s, go to the relay. */
export interface Uploader {
  /** UP-3: the user's own edit (a local transaction) over `ws` as Update frames, before any queued upload. */
  live(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** `update` (an imported file, rows another tab stored) over `ws` as Update frames, after what is queued. */
  update(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** UP-4: everything the relay has not acked (LAB-8's resync), replacing the last resync's queued remainder. */
  resync(ws: PacerSocket, update: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** The answer to the relay's SyncStep1 over `ws`: Update frames, the last piece as the SyncStep2. */
  step2(ws: PacerSocket, reply: Uint8Array, isMapEntry?: MapEntryLookup): void;
  /** UP-6: a SyncStep1 of `stateVector` over `ws` (STATE-2's re-check, LAB-8's resync), counted. */
  syncStep1(ws: PacerSocket, stateVector: Uint8Array): void;
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
  syncStep1: (ws, stateVector) => ws.send(encodeSyncStep1(stateVector)),
};

type UploadKind = 'live' | 'bulk' | 'resync' | 'step2';

export interface UploadsOptions {
  /** The relay's published limits; null while unknown (then nothing is paced). */
  readonly limits: () => PublishedLimits | null;
  /** Whether `ws` is still the provider's open socket. */
  readonly isCurrent: (ws: PacerSocket) => boolean;
  /** Progress changed (see `progress()`). */
  readonly changed: () => void;
  /** UP-6: the doc's state vector (`Y.encodeStateVector`), for the pacer's SyncStep1s. */
  readonly stateVector: () => Uint8Array;
  readonly clock?: PacerClock;
}

/**
 * A session's uploads (UP-2): one pacer, for the socket last uploaded on. A new socket stops the
 * old one's pacer, dropping what it had queued (see the header). UP-6: the socket's SyncStep1s
 * and their answers are counted from `opened` on, also while nothing is paced.
 */
export class Uploads implements Uploader {
  private current: { readonly ws: PacerSocket; readonly answers: SyncAnswers; pacer: UploadPacer | null } | null = null;
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

  syncStep1(ws: PacerSocket, stateVector: Uint8Array): void {
    const frame = encodeSyncStep1(stateVector);
    const limits = this.opts.limits();
    if (limits) return this.pacerFor(ws, limits).ask(frame);
    this.entryFor(ws).answers.asked++;
    ws.send(frame);
  }

  /**
   * UP-6: the provider opened `ws` and sends its SyncStep1 next (y-websocket does, right after
   * its 'connected' status): a fresh count, that SyncStep1 owed an answer.
   */
  opened(ws: PacerSocket): void {
    this.stop();
    this.current = { ws, answers: { asked: 1, answered: 0 }, pacer: null };
  }

  /** UP-6: a SyncStep2 came on `ws` (refused or not: the relay answered all the same). */
  answered(ws: PacerSocket): void {
    const c = this.current;
    if (c?.ws !== ws) return;
    if (c.pacer) c.pacer.answered();
    else c.answers.answered++;
  }

  /** UP-6: whether the next frame waits for the relay's answer to what is in flight. */
  heldForRelay(): boolean {
    return this.current?.pacer?.heldForRelay() ?? false;
  }

  /** Bytes queued and not yet handed to the socket (0 when nothing waits, or nothing is paced). */
  queuedBytes(): number {
    return this.current?.pacer?.queuedBytes() ?? 0;
  }

  /** The upload under way, when it is expected to take more than `PROGRESS_AFTER_MS`. */
  progress(): UploadProgress | null {
    return this.current?.pacer?.progress() ?? null;
  }

  /** The socket closed or the session ends: drop what is queued. */
  stop(): void {
    this.current?.pacer?.stop();
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

  /** The count for `ws`; a socket `opened` was not told of starts one from zero. */
  private entryFor(ws: PacerSocket): NonNullable<Uploads['current']> {
    if (this.current?.ws === ws) return this.current;
    this.stop();
    this.current = { ws, answers: { asked: 0, answered: 0 }, pacer: null };
    return this.current;
  }

  private pacerFor(ws: PacerSocket, limits: PublishedLimits): UploadPacer {
    const entry = this.entryFor(ws);
    entry.pacer ??= new UploadPacer(
      ws,
      limits,
      () => this.opts.isCurrent(ws),
      this.clock,
      this.opts.changed,
      this.opts.stateVector,
      entry.answers,
    );
    return entry.pacer;
  }
}
