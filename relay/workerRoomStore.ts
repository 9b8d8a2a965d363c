/**
 * The relay's production `RoomStore`: the SQLite store (relay/sqliteRoomStore.ts) running in a
 * worker thread (relay/roomStoreWorker.ts), plus the compaction merges (`Merger`). The event
 * loop only posts requests and handles replies: appends, their fsync, segment writes and
 * deletes, loads and `Y.mergeUpdates` never block forwarding.
 *
 * Same contract as the SQLite store (the contract suite runs against this class with real
 * SQLite): calls take effect in call order, one at a time; `append` resolves only after its
 * transaction committed with `synchronous=FULL` (STORE-1); a call rejected with an error from
 * the store stored nothing. Errors come back as `Error`s with the original name, message and
 * SQLite `code`.
 *
 * Bytes passed in are copied into the worker when the call is made (callers may reuse them);
 * returned updates are plain `Uint8Array`s owned by the caller.
 *
 * The thread keeps the process alive only while calls are outstanding.
 *
 * Supervision (STORE-5). If the thread dies (an uncaught error, an out-of-memory isolate,
 * `process.exit` inside it, `terminate()`), then:
 * - every call in flight rejects with `STORE_WORKER_DIED`. Its outcome is unknown (an append may
 *   have committed just before the death), which the relay already handles: a failed commit
 *   sends no ack and drops its rooms (ACK-4), and a room reloaded from the store never claims
 *   what was not stored. An ack follows the worker's reply, so nothing acked depends on a call
 *   that rejected;
 * - calls made while no thread runs fail fast with `STORE_UNAVAILABLE` (see `call` for why they
 *   are not queued), naming the cause;
 * - a fresh thread is started on the same file after a capped exponential backoff, and again
 *   after every failed start (the file gone or unreadable), for as long as the store is open.
 *   `health()` says which of these states the store is in (`/healthz` shows it), each death and
 *   each start is logged, and restarts are counted in the metrics.
 *
 * Watchdog (STORE-6). Calls are answered one at a time in call order, so the call at the head of
 * the queue is the one the thread is working on, and it has been since the previous reply came
 * (or since it was posted, if the queue was empty). If that call gets no reply within
 * `callTimeoutMs`, the thread is taken for hung: the store says so (`hung`, with the call and the
 * wait), calls fail fast, and the thread is terminated; from its exit on it is a death like any
 * other (STORE-5). A thread blocked inside native code (a disk that stopped answering) only ends
 * once that code returns to JavaScript; until then the store stays `hung`, which is the truth.
 * The limit is generous (SQLite gives up on a lock after 5 s, compaction merges are chunked), so
 * only a thread that has stopped making progress reaches it.
 */
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { ParsedUpdate } from '../shared/updateV1.js';
import type { Merger } from './mergeInChunks.js';
import type { AppendEntry, RoomStore, StoredRoom, StoredSegment } from './roomStore.js';
import { ROOM_STORE_FILE_NAME, type SqliteRoomStoreOptions, type SynchronousLevel } from './sqliteRoomStore.js';
import { startTsWorker } from './tsWorker.js';
import { silentLogger, type Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';

export type StoreRequest = { readonly id: number } & (
  | { readonly op: 'load'; readonly room: string }
  | { readonly op: 'append'; readonly entries: readonly AppendEntry[] }
  | { readonly op: 'writeSegment'; readonly room: string; readonly segment: StoredSegment }
  | { readonly op: 'deleteCovered'; readonly room: string; readonly seqLo: number; readonly seqHi: number }
  | { readonly op: 'hasRoom'; readonly room: string }
  | { readonly op: 'roomCount' }
  | { readonly op: 'durabilitySettings' }
  | { readonly op: 'mergeAndParse'; readonly updates: readonly Uint8Array[] }
  | { readonly op: 'close' }
);

/** Id 0 is the worker's "opened" (or "failed to open") message. */
export type StoreReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string; code?: string } };

/** What a thread is started with. `file` null: merge-only. `mustExist`: a restart (no new empty file). */
export interface StoreWorkerData {
  readonly file: string | null;
  readonly options: SqliteRoomStoreOptions;
  readonly mustExist: boolean;
}

/**
 * `up`: a thread runs. `hung`: it stopped answering (STORE-6) and is being terminated. `restarting`: it died and a new one is not running yet (no start failed so
 * far). `down`: at least one start failed since the death (`error` says why); retries go on.
 */
export type StoreWorkerStatus = 'up' | 'hung' | 'restarting' | 'down' | 'closed';

export interface StoreWorkerHealth {
  readonly status: StoreWorkerStatus;
  /** Why the store is not up: the death's cause, then the last failed start's error. */
  readonly error?: string;
  /** Successful restarts since the store was opened. */
  readonly restarts: number;
}

export interface StoreWorkerSupervision {
  readonly log?: Logger;
  readonly metrics?: Pick<RelayMetrics, 'storeWorkerRestart' | 'storeWorkerUp' | 'storeWorkerHung'>;
  /**
   * Delay before a start: `min(max, initial × 2^n)` where n counts the earlier deaths and failed
   * starts in a row; a thread that ran for at least `max` before it died starts the count again.
   * Default 100 ms doubling up to 10 s.
   */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** STORE-6: a call unanswered for this long means the thread hangs; 0 = never. Default 30 s. */
  readonly callTimeoutMs?: number;
}

/** Errors of this class's own making; `code` tells them from the store's. */
export const StoreWorkerErrorCode = {
  /** The thread died before replying: the call may or may not have taken effect. */
  Died: 'STORE_WORKER_DIED',
  /** No thread runs (restarting, down, or the store closed): nothing was attempted. */
  Unavailable: 'STORE_UNAVAILABLE',
} as const;

const DEFAULT_BACKOFF_MS = { initial: 100, max: 10_000 };
export const DEFAULT_STORE_CALL_TIMEOUT_MS = 30_000;

type Op = StoreRequest extends infer R ? (R extends { op: infer O } ? O : never) : never;
type Args<O extends Op> = Omit<Extract<StoreRequest, { op: O }>, 'id' | 'op'>;

const toError = (info: { name: string; message: string; code?: string }): Error => {
  const e = new Error(info.message);
  e.name = info.name;
  if (info.code !== undefined) Object.assign(e, { code: info.code });
  return e;
};

const storeWorkerError = (code: string, message: string): Error =>
  Object.assign(new Error(message), { name: 'StoreWorkerError', code });

const isDeath = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === StoreWorkerErrorCode.Died;

/**
 * Starts a thread and resolves once it opened the database, with what `adopt` returns; rejects
 * as the open failed, once that thread has ended (so a retry never runs beside it). `adopt` runs
 * in the "opened" event itself, so it can attach listeners before any later event of the thread.
 * The thread is returned at once so `close()` can stop a start in progress.
 */
const launch = <T>(data: StoreWorkerData, adopt: (worker: Worker) => T): { worker: Worker; ready: Promise<T> } => {
  const worker = startTsWorker(new URL('./roomStoreWorker.ts', import.meta.url), { workerData: data });
  const ready = new Promise<T>((resolve, reject) => {
    let failure: Error | null = null;
    const onError = (e: Error): void => {
      failure ??= e;
    };
    const onExit = (code: number): void => {
      worker.off('error', onError);
      worker.off('message', onMessage);
      reject(failure ?? new Error(`room store worker exited (code ${code}) before opening the database`));
    };
    const onMessage = (r: StoreReply): void => {
      // A failed open ends the thread by itself (roomStoreWorker.ts): reject on its exit.
      if (!r.ok) return void (failure ??= toError(r.error));
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.off('message', onMessage);
      resolve(adopt(worker));
    };
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.on('message', onMessage);
  });
  return { worker, ready };
};

/** The merge-only worker of scale-out mode, as the relay and `/healthz` see it. */
export type MergeWorker = Merger & Pick<WorkerRoomStore, 'close' | 'health' | 'workerForTests'>;

export class WorkerRoomStore implements RoomStore, Merger {
  /** Calls posted and not answered, in call order (Map keeps insertion order; ids only grow). */
  private readonly pending = new Map<
    number,
    { readonly op: Op; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  /** STORE-6: since when the head of `pending` has been the call the thread works on. */
  private headSince = 0;
  private readonly watchdog: ReturnType<typeof setInterval> | null = null;
  /** The thread the watchdog is ending (it may take a while to stop): judged once. */
  private terminating: Worker | null = null;
  private readonly callTimeoutMs: number;
  private nextId = 1;
  /** The running thread; null while restarting, down or closed. */
  private worker: Worker | null = null;
  /** A restart's thread that has not opened the database yet. */
  private starting: Worker | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private status: StoreWorkerStatus = 'up';
  /** While not up: the cause (the death, then the last failed start). */
  private cause: Error | null = null;
  private failuresInARow = 0;
  private upSince = 0;
  private diedAt = 0;
  private restarts = 0;
  private closing: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly backoff: { readonly initial: number; readonly max: number };
  private readonly role: 'store' | 'merge';

  private constructor(
    worker: Worker,
    private readonly data: StoreWorkerData,
    private readonly supervision: StoreWorkerSupervision,
  ) {
    this.log = supervision.log ?? silentLogger;
    this.backoff = supervision.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.role = data.file === null ? 'merge' : 'store';
    this.callTimeoutMs = supervision.callTimeoutMs ?? DEFAULT_STORE_CALL_TIMEOUT_MS;
    if (this.callTimeoutMs > 0) {
      // Checking a few times per limit bounds how late a hang is noticed (≤ 1/4 of the limit, ≤ 1 s).
      const every = Math.max(10, Math.min(1000, this.callTimeoutMs / 4));
      this.watchdog = setInterval(() => this.checkHung(), every);
      this.watchdog.unref();
    }
    this.adopt(worker);
    supervision.metrics?.storeWorkerUp(true);
  }

  /** Starts the worker and opens the database at `file`; rejects as `SqliteRoomStore.open` throws. */
  static open(
    file: string,
    options: SqliteRoomStoreOptions = {},
    supervision: StoreWorkerSupervision = {},
  ): Promise<WorkerRoomStore> {
    return WorkerRoomStore.start({ file, options, mustExist: false }, supervision);
  }

  private static start(data: StoreWorkerData, supervision: StoreWorkerSupervision): Promise<WorkerRoomStore> {
    return launch(data, (worker) => new WorkerRoomStore(worker, data, supervision)).ready;
  }

  /**
   * A worker that only runs compaction merges (STORE-4 in scale-out mode, where the store is
   * Redis and needs no thread): `mergeAndParse` and `close` work, store calls reject. Supervised
   * like the store's (STORE-5).
   */
  static openMergeOnly(supervision: StoreWorkerSupervision = {}): Promise<MergeWorker> {
    return WorkerRoomStore.start({ file: null, options: {}, mustExist: false }, supervision);
  }

  /** Opens `${dataDir}/${ROOM_STORE_FILE_NAME}`, creating the directory if needed. */
  static openDataDir(
    dataDir: string,
    options: SqliteRoomStoreOptions = {},
    supervision: StoreWorkerSupervision = {},
  ): Promise<WorkerRoomStore> {
    return WorkerRoomStore.open(join(dataDir, ROOM_STORE_FILE_NAME), options, supervision);
  }

  load(room: string): Promise<StoredRoom> {
    return this.call('load', { room }) as Promise<StoredRoom>;
  }

  append(entries: readonly AppendEntry[]): Promise<void> {
    return this.call('append', { entries }) as Promise<void>;
  }

  writeSegment(room: string, segment: StoredSegment): Promise<void> {
    return this.call('writeSegment', { room, segment }) as Promise<void>;
  }

  deleteCovered(room: string, seqLo: number, seqHi: number): Promise<void> {
    return this.call('deleteCovered', { room, seqLo, seqHi }) as Promise<void>;
  }

  hasRoom(room: string): Promise<boolean> {
    return this.call('hasRoom', { room }) as Promise<boolean>;
  }

  roomCount(): Promise<number> {
    return this.call('roomCount', {}) as Promise<number>;
  }

  /** What the worker's connection runs with (see SqliteRoomStore.durabilitySettings). */
  durabilitySettings(): Promise<{ journalMode: string; synchronous: SynchronousLevel }> {
    return this.call('durabilitySettings', {}) as Promise<{ journalMode: string; synchronous: SynchronousLevel }>;
  }

  /** Compaction merge in the worker (the inputs are copied there; the result is transferred back). */
  mergeAndParse(updates: readonly Uint8Array[]): Promise<ParsedUpdate> {
    return this.call('mergeAndParse', { updates }) as Promise<ParsedUpdate>;
  }

  /** STORE-5: whether a thread runs, and if not, why. */
  health(): StoreWorkerHealth {
    const error = this.cause ? { error: this.cause.message } : {};
    return { status: this.status, restarts: this.restarts, ...error };
  }

  /**
   * For tests only (STORE-5): the running thread, so a test can kill it for real
   * (`terminate()`); null while restarting, down or closed. Nothing else may use it.
   */
  get workerForTests(): Worker | null {
    return this.worker;
  }

  /**
   * Idempotent: closes the database and waits for the thread to end; stops a restart in
   * progress (a thread still opening is terminated: it has written nothing). Resolves even if
   * the thread dies meanwhile. Later calls reject.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // The watchdog keeps running until the thread has ended: a close that hangs is ended too.
    this.status = 'closed';
    this.cause = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const starting = this.starting;
    this.starting = null;
    if (starting) await starting.terminate();
    const worker = this.worker;
    if (!worker) return this.stopWatchdog();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    try {
      await this.post(worker, 'close', {});
    } catch (e) {
      // Died while closing: it is gone, which is what close wanted. Any other error: end it anyway.
      if (!isDeath(e)) {
        await worker.terminate();
        this.stopWatchdog();
        throw e;
      }
    }
    await exited;
    this.stopWatchdog();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
  }

  /**
   * STORE-6: terminates a thread whose current call has gone unanswered for `callTimeoutMs`.
   * Also while closing, so a shutdown never waits forever on a thread that will not answer.
   */
  private checkHung(): void {
    const worker = this.worker;
    if (!worker || worker === this.terminating || (this.status !== 'up' && this.status !== 'closed')) return;
    const head = this.pending.values().next();
    if (head.done) return;
    const waitedMs = Date.now() - this.headSince;
    if (waitedMs < this.callTimeoutMs) return;
    const { op } = head.value;
    this.log.error('store-worker-hung', { role: this.role, op, waitedMs, inFlight: this.pending.size });
    this.supervision.metrics?.storeWorkerHung();
    if (this.status === 'up') {
      this.status = 'hung';
      this.cause = new Error(`hung: no reply to ${op} for ${waitedMs} ms`);
      this.supervision.metrics?.storeWorkerUp(false);
    }
    // Its exit settles the calls as died and schedules the restart (STORE-5), as for any death.
    this.terminating = worker;
    void worker.terminate();
  }

  /**
   * Fail fast rather than queue while no thread runs: every caller already handles a rejected
   * store call with a retryable outcome (a commit drops its rooms with `storage-unavailable` and
   * acks nothing, a load closes its room's sockets, an upgrade is refused with 503), and clients
   * retry with backoff. A queue would hold updates in memory for an outage of unknown length,
   * delay the clients' retries without telling them, and hide the outage from the relay's own
   * error paths; its calls would also have to be re-ordered around the ones that died.
   */
  private call<O extends Op>(op: O, args: Args<O>): Promise<unknown> {
    if (this.status !== 'up' || !this.worker) return Promise.reject(this.unavailable());
    return this.post(this.worker, op, args);
  }

  private post<O extends Op>(worker: Worker, op: O, args: Args<O>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      // Posting copies the arguments now (structured clone), or throws for bad ones.
      worker.postMessage({ id, op, ...args });
      if (this.pending.size === 0) {
        worker.ref();
        this.headSince = Date.now();
      }
      this.pending.set(id, { op, resolve, reject });
    });
  }

  private unavailable(): Error {
    const why = this.status === 'closed' ? 'the store is closed' : `${this.status}: ${this.cause?.message ?? ''}`;
    return storeWorkerError(StoreWorkerErrorCode.Unavailable, `room store worker unavailable (${why})`);
  }

  /** Makes `worker` the running thread. Runs synchronously in its "opened" event. */
  private adopt(worker: Worker): void {
    let cause: Error | null = null;
    worker.on('message', (r: StoreReply) => {
      if (worker === this.worker) this.settle(worker, r);
    });
    // 'error' (uncaught exception, out of memory) is always followed by 'exit'; act on 'exit'
    // only, once the thread is really gone, so a new one never runs beside it.
    worker.on('error', (e) => (cause ??= e));
    worker.on('exit', (code) => {
      const hung = this.status === 'hung' ? this.cause : null;
      this.exited(worker, cause ?? hung ?? new Error(`exited with code ${code}`));
    });
    worker.unref();
    this.worker = worker;
    this.upSince = Date.now();
  }

  private settle(worker: Worker, r: StoreReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    // The next call (if any) is the one the thread works on from now.
    this.headSince = Date.now();
    if (this.pending.size === 0) worker.unref();
    if (r.ok) p.resolve(r.value);
    else p.reject(toError(r.error));
  }

  private exited(worker: Worker, cause: Error): void {
    if (worker !== this.worker) return;
    this.worker = null;
    const inFlight = this.pending.size;
    const died = storeWorkerError(
      StoreWorkerErrorCode.Died,
      `room store worker died before replying (${cause.message}): the call may or may not have taken effect`,
    );
    for (const p of this.pending.values()) p.reject(died);
    this.pending.clear();
    if (this.status === 'closed') return;
    this.diedAt = Date.now();
    this.failuresInARow = this.diedAt - this.upSince >= this.backoff.max ? 0 : this.failuresInARow + 1;
    this.status = 'restarting';
    this.cause = cause;
    this.supervision.metrics?.storeWorkerUp(false);
    const retryInMs = this.scheduleStart();
    this.log.error('store-worker-died', { role: this.role, error: String(cause), inFlight, retryInMs });
  }

  /** Schedules the next start; returns its delay. */
  private scheduleStart(): number {
    const delay = Math.min(this.backoff.max, this.backoff.initial * 2 ** this.failuresInARow);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.restart();
    }, delay);
    // A store waiting to restart must not keep an otherwise finished process alive.
    this.retryTimer.unref();
    return delay;
  }

  /**
   * Starts a fresh thread on the same file. Safe because the store's durable state is only what
   * SQLite committed: with WAL and `synchronous=FULL` every commit that replied is in the WAL on
   * disk. A thread torn down mid-transaction never wrote its commit frame, so the next connection
   * ignores those frames; if the dead thread's connection was not closed cleanly, the next open
   * runs WAL recovery, which replays every committed frame and drops the rest. The new thread
   * therefore sees exactly what was committed, acked or not (an append whose reply was lost may
   * be there: the relay reloads rooms from the store, so it only finds that as already held).
   * `mustExist`: the file existed, so a missing one is an error, never a fresh empty store.
   */
  private restart(): void {
    const { worker, ready } = launch({ ...this.data, mustExist: true }, (w) => {
      if (this.status === 'closed') {
        // close() is terminating it; an error it might still raise is of no interest, but an
        // 'error' event without a listener would throw in this thread.
        w.on('error', () => undefined);
        return false;
      }
      this.starting = null;
      this.adopt(w);
      this.status = 'up';
      this.cause = null;
      this.restarts++;
      return true;
    });
    this.starting = worker;
    ready.then(
      (adopted) => {
        if (!adopted) return;
        this.supervision.metrics?.storeWorkerRestart('ok');
        this.supervision.metrics?.storeWorkerUp(true);
        this.log.warn('store-worker-restarted', {
          role: this.role,
          restarts: this.restarts,
          downMs: this.upSince - this.diedAt,
        });
      },
      (err: unknown) => {
        if (this.status === 'closed') return;
        this.starting = null;
        this.failuresInARow++;
        this.status = 'down';
        this.cause = err instanceof Error ? err : new Error(String(err));
        this.supervision.metrics?.storeWorkerRestart('failed');
        const retryInMs = this.scheduleStart();
        this.log.error('store-worker-start-failed', { role: this.role, error: String(err), retryInMs });
      },
    );
  }
}
