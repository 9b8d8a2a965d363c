/**
 * `lockDataDir(dir)`: STORE-8, one relay per data directory.
 *
 * Two relays on one SQLite database both accept writes to a room, each numbering them from its own
 * in-memory counter and fanning them out only to its own clients: their clients stop seeing each
 * other, and one relay's commits fail on the other's sequence numbers. The relay therefore holds
 * an exclusive lock on `relay.lock` in the data directory for as long as it runs. The lock is
 * SQLite's own (POSIX advisory locks, taken by `locking_mode = EXCLUSIVE` and an exclusive
 * transaction): the kernel drops it when the process ends however it ends, SIGKILL and power loss
 * included, so a crashed relay never leaves a stale lock behind, unlike a pid file.
 *
 * Invariant: while a `DataDirLock` is open, no other process can open one on the same directory.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { makeDirectory } from './makeDirectory.js';

/** The lock file's name inside the data directory (a tiny SQLite database). */
export const DATA_DIR_LOCK_FILE_NAME = 'relay.lock';

export class DataDirBusyError extends Error {}

export interface DataDirLock {
  /** Releases the lock (also released when the process ends). */
  release(): void;
}

export const lockDataDir = (dataDir: string): DataDirLock => {
  makeDirectory(dataDir);
  // timeout 0: a held lock is an answer, not something to wait for.
  const db = new Database(join(dataDir, DATA_DIR_LOCK_FILE_NAME), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The lock file holds nothing worth a crash-safe journal; an on-disk one would stay beside it
    // as `relay.lock-journal` for as long as the lock is held.
    db.pragma('journal_mode = MEMORY');
    // An exclusive transaction takes the lock, and EXCLUSIVE mode keeps it after the commit. It
    // writes nothing: a relay restarted on a full disk must get this far to say what is wrong.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new DataDirBusyError(
        `DATA_DIR ${dataDir} is in use by another relay (it holds ${DATA_DIR_LOCK_FILE_NAME}): stop that relay, or give this one its own DATA_DIR (STORE-8)`,
      );
    }
    throw err;
  }
  return { release: () => db.close() };
};
