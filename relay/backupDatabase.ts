/**
 * `backupDatabase(dataDir, dest)` (`npm run backup`, relay/backup.ts): STORE-9, a consistent copy of an embedded relay's database, taken
 * while the relay runs.
 *
 * Copying `DATA_DIR` with `cp` while the relay writes is not a backup: the database file and its
 * WAL are read at different moments, and a copy that takes longer than a few commits is corrupt
 * (SQLite reports "database disk image is malformed" when a room is loaded from it). SQLite's
 * online backup API restarts whenever the source is written, so under steady traffic it may never
 * finish. `VACUUM INTO` reads one snapshot in one read transaction and writes it as a new, compact
 * database: everything committed (so everything acked, ACK-1) when it starts is in the copy, and
 * the relay's writers are never blocked (WAL readers do not block writers). The copy is then
 * checked (`PRAGMA integrity_check`) and fsync'd with its directory, so a backup reported done
 * survives a crash of the machine that took it.
 *
 * Restore: stop the relay, replace `DATA_DIR/rooms.sqlite3` with the copy (and remove any
 * `rooms.sqlite3-wal` and `-shm` beside it), start the relay.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ROOM_STORE_FILE_NAME } from './sqliteRoomStore.js';

export interface BackupResult {
  readonly file: string;
  readonly rooms: number;
  readonly bytes: number;
}

export class BackupError extends Error {}

const fsyncPath = (path: string): void => {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

/** Writes a checked, fsync'd snapshot of `dataDir`'s database to `dest`, which must not exist. */
export const backupDatabase = (dataDir: string, dest: string): BackupResult => {
  const source = join(dataDir, ROOM_STORE_FILE_NAME);
  if (!existsSync(source)) throw new BackupError(`no database at ${source} (is DATA_DIR right?)`);
  const file = resolve(dest);
  if (existsSync(file)) throw new BackupError(`${file} exists; a backup never overwrites a file`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.prepare('VACUUM INTO ?').run(file);
  } finally {
    db.close();
  }
  const copy = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const check = copy.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the copy at ${file} failed its integrity check: ${String(check)}`);
    const rooms = (copy.prepare('SELECT count(*) AS n FROM rooms').get() as { n: number }).n;
    const pages = copy.pragma('page_count', { simple: true }) as number;
    const pageSize = copy.pragma('page_size', { simple: true }) as number;
    fsyncPath(file);
    fsyncPath(dirname(file));
    return { file, rooms, bytes: pages * pageSize };
  } finally {
    copy.close();
  }
};
