/**
 * The worker thread behind `WorkerRoomStore` (relay/workerRoomStore.ts): it owns the SQLite
 * store and runs every store call and every compaction merge, so the relay's event loop never
 * waits on a disk write, an fsync or a `Y.mergeUpdates`.
 *
 * Requests are handled one at a time in arrival order (the store is synchronous), so the
 * store's guarantees carry over unchanged: an append's reply is sent after its transaction
 * committed (fsync'd, STORE-1), and the two compaction steps stay ordered (STORE-2).
 * Bytes sent back are transferred, not copied: each belongs to this reply alone.
 *
 * If this thread dies (an uncaught error, an out-of-memory isolate, `process.exit`, a
 * `terminate()`), `WorkerRoomStore` starts a fresh one on the same file (STORE-5); better-sqlite3
 * closes the connection when the thread is torn down, and anything it could not close is undone
 * or replayed by SQLite's WAL recovery when the next thread opens the file.
 */
import { existsSync, statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteRoomStore } from './sqliteRoomStore.js';
import { mergeAndParse } from './mergeInChunks.js';
import type { StoreReply, StoreRequest, StoreWorkerData } from './workerRoomStore.js';

/** `file` null: a merge-only worker (scale-out mode, where the store is Redis): store calls fail. */
const { file, options, mustExist } = workerData as StoreWorkerData;
const port = parentPort!;

const errorInfo = (e: unknown): { name: string; message: string; code?: string } => {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? { name: e.name, message: e.message, code } : { name: e.name, message: e.message };
};

/** A view that owns its whole buffer can be transferred; anything else is copied first. */
const own = (bytes: Uint8Array, transfer: Set<ArrayBuffer>): Uint8Array => {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const out = whole && !transfer.has(bytes.buffer as ArrayBuffer) ? bytes : bytes.slice();
  transfer.add(out.buffer as ArrayBuffer);
  return out;
};

let store: SqliteRoomStore | null = null;
try {
  // A restart (STORE-5) reopens a file that existed: if it is gone (or empty, which SQLite would
  // take for a new database), opening it would make the relay serve rooms without what it acked.
  if (file !== null && mustExist && (!existsSync(file) || statSync(file).size === 0)) {
    throw new Error(`database file ${file} is gone or empty: not starting an empty store in its place`);
  }
  if (file !== null) store = SqliteRoomStore.open(file, options);
  port.postMessage({ id: 0, ok: true, value: null } satisfies StoreReply);
} catch (e) {
  port.postMessage({ id: 0, ok: false, error: errorInfo(e) } satisfies StoreReply);
  process.exit(0);
}

const run = async (req: StoreRequest, transfer: Set<ArrayBuffer>): Promise<unknown> => {
  if (req.op === 'mergeAndParse') {
    const parsed = mergeAndParse(req.updates);
    return { ...parsed, bytes: own(parsed.bytes, transfer) };
  }
  if (!store) {
    if (req.op === 'close') return;
    throw new Error(`this worker only merges: no store for ${req.op}`);
  }
  switch (req.op) {
    case 'load': {
      const room = await store.load(req.room);
      return {
        segments: room.segments.map((s) => ({ seqLo: s.seqLo, seqHi: s.seqHi, update: own(s.update, transfer) })),
        log: room.log.map((l) => ({ seq: l.seq, update: own(l.update, transfer) })),
      };
    }
    case 'append':
      return store.append(req.entries);
    case 'writeSegment':
      return store.writeSegment(req.room, req.segment);
    case 'deleteCovered':
      return store.deleteCovered(req.room, req.seqLo, req.seqHi);
    case 'hasRoom':
      return store.hasRoom(req.room);
    case 'roomCount':
      return store.roomCount();
    case 'durabilitySettings':
      return store.durabilitySettings();
    case 'close':
      return store.close();
  }
};

const reply = (id: number, value: unknown, transfer: Set<ArrayBuffer>): void => {
  try {
    port.postMessage({ id, ok: true, value } satisfies StoreReply, [...transfer]);
  } catch (e) {
    port.postMessage({ id, ok: false, error: errorInfo(e) } satisfies StoreReply);
  }
};

port.on('message', (req: StoreRequest) => {
  const transfer = new Set<ArrayBuffer>();
  void run(req, transfer)
    .then(
      (value) => reply(req.id, value, transfer),
      (e: unknown) => port.postMessage({ id: req.id, ok: false, error: errorInfo(e) } satisfies StoreReply),
    )
    // After close the thread has nothing left to do: closing the port lets it end.
    .finally(() => {
      if (req.op === 'close') port.close();
    });
});
