/**
 * The relay's production `RoomStore`: the SQLite store (relay/sqliteRoomStore.ts) running in a
 * worker thread (relay/roomStoreWorker.ts), plus the compaction merges (`Merger`). The event
 * loop only posts requests and handles replies: appends, their fsync, segment writes and
 * deletes, loads and `Y.mergeUpdates` never block forwarding.
 *
 * Same contract as the SQLite store (the contract suite runs against this class with real
 * SQLite): calls take effect in call order, one at a time; `append` resolves only after its
 * transaction committed with `synchronous=FULL` (STORE-1); a rejected call stored nothing.
 * Errors come back as `Error`s with the original name, message and SQLite `code`.
 *
 * Bytes passed in are copied into the worker when the call is made (callers may reuse them);
 * returned updates are plain `Uint8Array`s owned by the caller.
 *
 * The thread keeps the process alive only while calls are outstanding. If it dies, every
 * outstanding and later call rejects.
 */
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { ParsedUpdate } from '../shared/updateV1.js';
import type { Merger } from './mergeInChunks.js';
import type { AppendEntry, RoomStore, StoredRoom, StoredSegment } from './roomStore.js';
import { ROOM_STORE_FILE_NAME, type SqliteRoomStoreOptions, type SynchronousLevel } from './sqliteRoomStore.js';
import { startTsWorker } from './tsWorker.js';

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

type Op = StoreRequest extends infer R ? (R extends { op: infer O } ? O : never) : never;
type Args<O extends Op> = Omit<Extract<StoreRequest, { op: O }>, 'id' | 'op'>;

const toError = (info: { name: string; message: string; code?: string }): Error => {
  const e = new Error(info.message);
  e.name = info.name;
  if (info.code !== undefined) Object.assign(e, { code: info.code });
  return e;
};

export class WorkerRoomStore implements RoomStore, Merger {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** Set once the thread ended (closed or crashed): every later call rejects with it. */
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: StoreReply) => this.settle(r));
    worker.on('error', (e) => this.die(e));
    worker.on('exit', (code) => this.die(new Error(`room store worker exited (code ${code})`)));
    worker.unref();
  }

  /** Starts the worker and opens the database at `file`; rejects as `SqliteRoomStore.open` throws. */
  static open(file: string, options: SqliteRoomStoreOptions = {}): Promise<WorkerRoomStore> {
    return WorkerRoomStore.start(file, options);
  }

  private static start(file: string | null, options: SqliteRoomStoreOptions): Promise<WorkerRoomStore> {
    const worker = startTsWorker(new URL('./roomStoreWorker.ts', import.meta.url), { workerData: { file, options } });
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      worker.once('error', onError);
      worker.once('message', (r: StoreReply) => {
        worker.off('error', onError);
        if (r.ok) resolve(new WorkerRoomStore(worker));
        else reject(toError(r.error));
      });
    });
  }

  /**
   * A worker that only runs compaction merges (STORE-4 in scale-out mode, where the store is
   * Redis and needs no thread): `mergeAndParse` and `close` work, store calls reject.
   */
  static openMergeOnly(): Promise<Merger & { close(): Promise<void> }> {
    return WorkerRoomStore.start(null, {});
  }

  /** Opens `${dataDir}/${ROOM_STORE_FILE_NAME}`, creating the directory if needed. */
  static openDataDir(dataDir: string, options: SqliteRoomStoreOptions = {}): Promise<WorkerRoomStore> {
    return WorkerRoomStore.open(join(dataDir, ROOM_STORE_FILE_NAME), options);
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

  /** Idempotent: closes the database and waits for the thread to end. Later calls reject. */
  close(): Promise<void> {
    if (this.dead) return Promise.resolve();
    this.closing ??= (async () => {
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      await this.call('close', {});
      await exited;
    })();
    return this.closing;
  }

  private call<O extends Op>(op: O, args: Args<O>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      const id = this.nextId++;
      // Posting copies the arguments now (structured clone), or throws for bad ones.
      this.worker.postMessage({ id, op, ...args });
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
  }

  private settle(r: StoreReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.worker.unref();
    if (r.ok) p.resolve(r.value);
    else p.reject(toError(r.error));
  }

  private die(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }
}
