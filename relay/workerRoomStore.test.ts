/**
 * STORE-5: supervision of the store's worker thread, with real SQLite and a real thread that is
 * killed for real — `terminate()` through the test-only `workerForTests`, or an uncaught error
 * caused by posting the thread a message it cannot handle. The contract suite with a worker
 * killed and restarted as its "reopen" is in relay/roomStore.test.ts.
 *
 * STORE-6: the watchdog, with a thread that really stops answering: another connection holds the
 * database's write lock, so the thread's append waits inside SQLite's busy handler (native code,
 * up to better-sqlite3's 5 s busy timeout) until the test lets go of the lock.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import { mergeAndParse } from './mergeInChunks.js';
import { createLogger } from './log.js';
import { RelayMetrics } from './metrics.js';
import { ROOM_STORE_FILE_NAME, SqliteRoomStore } from './sqliteRoomStore.js';
import {
  StoreWorkerErrorCode,
  WorkerRoomStore,
  type MergeWorker,
  type StoreWorkerSupervision,
} from './workerRoomStore.js';

/** The value of the sample `series` in a text exposition, or undefined. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

const entry = (room: string, seq: number): { room: string; seq: number; update: Uint8Array } => ({
  room,
  seq,
  update: Uint8Array.of(seq, 0x5a, seq),
});

/** Two V1 updates of different clients (one inserts "a", the other "b" into text "a"). */
const A = new Uint8Array([1, 1, 1, 0, 4, 1, 1, 97, 1, 97, 0]);
const B = new Uint8Array([1, 1, 2, 0, 4, 1, 1, 97, 1, 98, 0]);

/**
 * Moves a WAL database (its -wal and -shm first, the main file last: a start that found the main
 * file without its WAL would miss what only the WAL holds).
 */
const moveDatabase = (from: string, to: string): void => {
  expect(existsSync(from + '-wal')).toBe(true);
  for (const suffix of ['-wal', '-shm', '']) if (existsSync(from + suffix)) renameSync(from + suffix, to + suffix);
};

/** Each call's outcome: the value, or the error's code (or message when it has none). */
const outcomes = (calls: readonly Promise<unknown>[]): Promise<Array<{ ok: unknown } | { error: unknown }>> =>
  Promise.all(
    calls.map((c) =>
      c.then(
        (ok) => ({ ok }),
        (e: Error & { code?: string }) => ({ error: e.code ?? e.message }),
      ),
    ),
  );

describe('WorkerRoomStore supervision (STORE-5)', () => {
  let dir: string;
  let file: string;
  let lines: Array<Record<string, unknown>>;
  let metrics: RelayMetrics;
  let supervision: StoreWorkerSupervision;
  let store: WorkerRoomStore | MergeWorker | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'converge-worker-'));
    file = join(dir, ROOM_STORE_FILE_NAME);
    lines = [];
    metrics = new RelayMetrics({ defaultMetrics: false });
    supervision = {
      log: createLogger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
      metrics,
      backoffMs: { initial: 10, max: 80 },
    };
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const events = (): unknown[] => lines.map((l) => l.event);
  const restartsTotal = async (outcome: 'ok' | 'failed'): Promise<number> =>
    sample(await metrics.render(), `converge_store_worker_restarts_total{outcome="${outcome}"}`) ?? 0;

  it('STORE-5: terminate() settles every call in flight, later calls fail fast, and a fresh worker serves what was committed', async () => {
    const s = await WorkerRoomStore.open(file, {}, supervision);
    store = s;
    await s.append([1, 2, 3].map((seq) => entry('r', seq)));

    const worker = s.workerForTests!;
    const inFlight = [s.append([entry('r', 4)]), s.load('r'), s.hasRoom('r'), s.mergeAndParse([A, B])];
    const killed = worker.terminate();
    // Each call either was answered before the thread stopped, or rejects as died: none hangs.
    const settled = await outcomes(inFlight);
    expect(await killed).toBe(1);
    for (const o of settled) {
      if ('error' in o) expect(o.error).toBe(StoreWorkerErrorCode.Died);
    }
    if ('ok' in settled[3]!) expect(settled[3].ok).toEqual(mergeAndParse([A, B]));

    // No thread runs until the backoff passed: calls fail at once, naming the cause.
    expect(s.health()).toMatchObject({ status: 'restarting', restarts: 0, error: 'exited with code 1' });
    expect(s.workerForTests).toBeNull();
    await expect(s.load('r')).rejects.toMatchObject({
      code: StoreWorkerErrorCode.Unavailable,
      message: expect.stringMatching(/restarting: exited with code 1/) as unknown,
    });
    expect(sample(await metrics.render(), 'converge_store_worker_up')).toBe(0);

    await waitFor(() => s.health().status === 'up', 'the store worker is up again');
    expect(s.health()).toEqual({ status: 'up', restarts: 1 });
    expect(s.workerForTests).not.toBe(worker);
    // Committed before the death: still there. The append in flight: there if it was answered.
    const seqs = (await s.load('r')).log.map((e) => e.seq);
    expect(seqs.slice(0, 3)).toEqual([1, 2, 3]);
    if ('ok' in settled[0]!) expect(seqs).toEqual([1, 2, 3, 4]);
    await s.append([entry('r', 5)]);
    expect((await s.load('r')).log.map((e) => e.seq).slice(-1)).toEqual([5]);
    expect(await s.durabilitySettings()).toEqual({ journalMode: 'wal', synchronous: 'FULL' });
    expect(await s.mergeAndParse([A, B])).toEqual(mergeAndParse([A, B]));

    expect(events()).toEqual(['store-worker-died', 'store-worker-restarted']);
    expect(lines[0]).toMatchObject({ level: 'error', role: 'store', error: 'Error: exited with code 1' });
    expect(lines[1]).toMatchObject({ level: 'warn', role: 'store', restarts: 1 });
    expect(await restartsTotal('ok')).toBe(1);
    expect(await restartsTotal('failed')).toBe(0);
    expect(sample(await metrics.render(), 'converge_store_worker_up')).toBe(1);
  });

  it('STORE-5: an uncaught error in the worker rejects the calls queued behind it; the store restarts', async () => {
    const s = await WorkerRoomStore.open(file, {}, supervision);
    store = s;
    await s.append([entry('r', 1)]);
    // A message the thread cannot handle throws in it, uncaught: the thread dies before it reads
    // the calls posted after it.
    s.workerForTests!.postMessage(null);
    const behind = [s.append([entry('r', 2)]), s.load('r'), s.roomCount()];
    expect(await outcomes(behind)).toEqual([
      { error: StoreWorkerErrorCode.Died },
      { error: StoreWorkerErrorCode.Died },
      { error: StoreWorkerErrorCode.Died },
    ]);
    expect(s.health()).toMatchObject({ status: 'restarting', error: expect.stringMatching(/null/) as unknown });

    await waitFor(() => s.health().status === 'up', 'the store worker is up again');
    expect((await s.load('r')).log.map((e) => e.seq)).toEqual([1]); // the died append stored nothing
    await s.append([entry('r', 2)]);
    expect((await s.load('r')).log.map((e) => e.seq)).toEqual([1, 2]);
    expect(lines[0]).toMatchObject({ event: 'store-worker-died', inFlight: 3 });
  });

  it('STORE-5: a database file that is gone or unreadable keeps the store down with the reason, retrying, until it is back', async () => {
    const s = await WorkerRoomStore.open(file, {}, supervision);
    store = s;
    await s.append([1, 2].map((seq) => entry('r', seq)));
    // Moved while open, so the dying connection neither checkpoints nor deletes its WAL: what was
    // committed is only in the WAL, and coming back relies on WAL recovery.
    const saved = join(dir, 'saved');
    moveDatabase(file, saved);
    await s.workerForTests!.terminate();

    await waitFor(() => s.health().status === 'down', 'down: the file is gone');
    expect(s.health().error).toMatch(/is gone or empty: not starting an empty store/);
    await expect(s.hasRoom('r')).rejects.toMatchObject({
      code: StoreWorkerErrorCode.Unavailable,
      message: expect.stringMatching(/down: .*is gone/) as unknown,
    });
    // It keeps trying (with the capped backoff).
    await waitFor(async () => (await restartsTotal('failed')) >= 3, 'three failed starts');

    // Put in place at once (a rename), so no start can see a half-written file.
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, 'this is not an SQLite database, and it is long enough to have a header');
    renameSync(garbage, file);
    await waitFor(() => /not a database/.test(s.health().error ?? ''), 'down: the file is corrupt');
    expect(s.health().status).toBe('down');

    unlinkSync(file);
    moveDatabase(saved, file);
    await waitFor(() => s.health().status === 'up', 'up once the file is back');
    expect((await s.load('r')).log.map((e) => e.seq)).toEqual([1, 2]);
    expect(s.health()).toEqual({ status: 'up', restarts: 1 });
    expect(events().filter((e) => e === 'store-worker-start-failed').length).toBeGreaterThanOrEqual(3);
    expect(events().at(-1)).toBe('store-worker-restarted');
    expect(await restartsTotal('ok')).toBe(1);
  });

  it('STORE-5: close() while waiting to restart settles at once; later calls reject as closed', async () => {
    const s = await WorkerRoomStore.open(file, {}, { ...supervision, backoffMs: { initial: 60_000, max: 60_000 } });
    store = s;
    await s.append([entry('r', 1)]);
    await s.workerForTests!.terminate();
    expect(s.health().status).toBe('restarting');
    await s.close();
    expect(s.health()).toEqual({ status: 'closed', restarts: 0 });
    await expect(s.load('r')).rejects.toThrow(/the store is closed/);
    // Nothing holds the file: another store opens it and sees what was committed.
    const again = SqliteRoomStore.open(file);
    expect((await again.load('r')).log.map((e) => e.seq)).toEqual([1]);
    await again.close();
  });

  it('STORE-5: close() while starts keep failing settles and leaves no thread starting', async () => {
    const s = await WorkerRoomStore.open(file, {}, { ...supervision, backoffMs: { initial: 1, max: 1 } });
    store = s;
    await s.append([entry('r', 1)]);
    const saved = join(dir, 'saved');
    moveDatabase(file, saved);
    await s.workerForTests!.terminate();
    // With a 1 ms backoff a start is almost always in progress when close() comes.
    await waitFor(async () => (await restartsTotal('failed')) >= 2, 'failed starts');
    moveDatabase(saved, file);
    await s.close();
    const failed = await restartsTotal('failed');
    const ok = await restartsTotal('ok');
    expect(s.health().status).toBe('closed');
    expect(s.workerForTests).toBeNull();
    await expect(s.append([entry('r', 2)])).rejects.toThrow(/the store is closed/);
    // No start happens after close(): the counts stay, and the file is free and intact.
    const again = SqliteRoomStore.open(file);
    expect((await again.load('r')).log.map((e) => e.seq)).toEqual([1]);
    await again.close();
    expect([await restartsTotal('failed'), await restartsTotal('ok')]).toEqual([failed, ok]);
  });

  it('STORE-5: a thread that dies during close() still lets close() resolve', async () => {
    const s = await WorkerRoomStore.open(file, {}, supervision);
    store = s;
    await s.append([entry('r', 1)]);
    const worker = s.workerForTests!;
    worker.postMessage(null); // dies before it reads the close request
    await s.close();
    expect(s.health().status).toBe('closed');
    await expect(worker.terminate()).resolves.toBeUndefined(); // already ended
    expect(events()).toEqual([]); // a death while closing is not restarted
  });

  /** Holds the write lock of the database from another connection until the returned function is called. */
  const holdWriteLock = (): (() => void) => {
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    return () => {
      other.exec('ROLLBACK');
      other.close();
    };
  };

  it('STORE-6: a call unanswered past the limit makes the store hung: calls fail fast, the thread is ended and restarted', async () => {
    const s = await WorkerRoomStore.open(file, {}, { ...supervision, callTimeoutMs: 200 });
    store = s;
    await s.append([entry('r', 1)]);
    const release = holdWriteLock();
    const stuck = s.append([entry('r', 2)]);
    const behind = s.hasRoom('r');

    await waitFor(() => s.health().status === 'hung', 'the store is hung');
    expect(s.health().error).toMatch(/^hung: no reply to append for \d+ ms$/);
    await expect(s.load('r')).rejects.toMatchObject({
      code: StoreWorkerErrorCode.Unavailable,
      message: expect.stringMatching(/hung: no reply to append/) as unknown,
    });
    const text = await metrics.render();
    expect(sample(text, 'converge_store_worker_hangs_total')).toBe(1);
    expect(sample(text, 'converge_store_worker_up')).toBe(0);
    expect(lines[0]).toMatchObject({ event: 'store-worker-hung', level: 'error', op: 'append', inFlight: 2 });

    // The thread ends once SQLite returns to JavaScript; both calls it held die with it.
    release();
    expect(await outcomes([stuck, behind])).toEqual([
      { error: StoreWorkerErrorCode.Died },
      { error: StoreWorkerErrorCode.Died },
    ]);
    await waitFor(() => s.health().status === 'up', 'the store worker is up again');
    expect(s.health()).toEqual({ status: 'up', restarts: 1 });
    expect(events()).toEqual(['store-worker-hung', 'store-worker-died', 'store-worker-restarted']);
    expect(lines[1]).toMatchObject({ error: expect.stringMatching(/hung: no reply to append/) as unknown });
    // The stuck append's outcome is unknown (the lock went just before the thread ended): the
    // store holds seq 1, perhaps 2, and takes new appends.
    expect([[1], [1, 2]]).toContainEqual((await s.load('r')).log.map((e) => e.seq));
    await s.append([entry('r', 3)]);
    expect((await s.load('r')).log.map((e) => e.seq).at(-1)).toBe(3);
  });

  it('STORE-6: close() on a thread that stopped answering resolves once the watchdog ended it', async () => {
    const s = await WorkerRoomStore.open(file, {}, { ...supervision, callTimeoutMs: 200 });
    store = s;
    const release = holdWriteLock();
    const stuck = s.append([entry('r', 1)]);
    const closed = s.close();
    await waitFor(() => events().includes('store-worker-hung'), 'the watchdog fired during close');
    expect(s.health().status).toBe('closed');
    release();
    await closed;
    await expect(stuck).rejects.toMatchObject({ code: StoreWorkerErrorCode.Died });
    expect(events()).toEqual(['store-worker-hung']); // closed: not restarted
  });

  it('STORE-5: a merge-only worker (scale-out) is restarted too', async () => {
    const m = await WorkerRoomStore.openMergeOnly(supervision);
    store = m;
    const merging = m.mergeAndParse([A, B]);
    m.workerForTests!.postMessage(null);
    await expect(merging).resolves.toEqual(mergeAndParse([A, B])); // read before the bad message
    await waitFor(() => m.health().status !== 'up', 'the merge worker died');
    await expect(m.mergeAndParse([A])).rejects.toMatchObject({ code: StoreWorkerErrorCode.Unavailable });
    await waitFor(() => m.health().status === 'up', 'the merge worker is up again');
    expect(await m.mergeAndParse([A, B])).toEqual(mergeAndParse([A, B]));
    expect(lines[0]).toMatchObject({ event: 'store-worker-died', role: 'merge' });
    expect(await restartsTotal('ok')).toBe(1);
  });
});
