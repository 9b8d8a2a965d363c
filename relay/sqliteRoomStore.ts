/**
 * The relay's durable `RoomStore`, on SQLite through better-sqlite3.
 *
 * Durability (STORE-1): WAL journal with `synchronous=FULL`, so every commit fsyncs the WAL before
 * it returns; `append` is one transaction for the whole batch, so a promise that resolves means
 * every entry is on disk, and a rejected one stored nothing (SQLite rolls the transaction back).
 * Group commit belongs to the caller: batch many rooms' entries into one `append`.
 *
 * better-sqlite3 is synchronous: each method does all its work (and its fsync) before it returns
 * its promise, so calls never interleave. Every error, including SQLITE_FULL and SQLITE_IOERR,
 * becomes a rejected promise, never a synchronous throw and never a swallowed one.
 *
 * Bytes: inputs are copied into SQLite when bound. Every returned `update` is a plain `Uint8Array`
 * (not a `Buffer`) viewing memory that belongs to the caller alone.
 *
 * Invariants kept beyond the interface, because breaking them would make `load` drop data
 * (STORE-3 deletes what a segment covers):
 * - `append` rejects a seq that is already stored or that lies inside a stored segment;
 * - `writeSegment` rejects a segment that partially overlaps a stored one (nested is fine: that is
 *   compaction), so the segments `load` returns are disjoint;
 * - `deleteCovered` rejects unless a stored segment covers the whole range.
 * A room therefore never becomes empty once created, which is what lets `rooms` track it.
 */
import Database from 'better-sqlite3';
import { makeDirectory } from './makeDirectory.js';
import { statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AppendEntry, RoomStore, StoredLogEntry, StoredRoom, StoredSegment } from './roomStore.js';
import { assertEntry, assertRange, assertRoom, assertSegment } from './storeArguments.js';

/** Bumped on any incompatible schema change; `open` refuses a file with another version. */
export const ROOM_STORE_SCHEMA_VERSION = 1;

/** The file name `openDataDir` uses inside a data directory. */
export const ROOM_STORE_FILE_NAME = 'rooms.sqlite3';

/** Bytes on disk of the database in `dataDir` and its WAL (0 for a file not there); for `/metrics`. */
export const storeFileBytes = (dataDir: string): number => {
  let bytes = 0;
  for (const suffix of ['', '-wal']) {
    try {
      bytes += statSync(join(dataDir, ROOM_STORE_FILE_NAME + suffix)).size;
    } catch {
      // Not there (yet): nothing on disk.
    }
  }
  return bytes;
};

/** STORE-10: said when a database cannot be opened and the disk under it is full. */
export const FULL_DISK_HINT =
  ' (the disk holding it is full, and SQLite must create its write-ahead log to open it: free some space, then start the relay again)';

/** Whether the file system holding `dir` has less than a page or two free (unknown: false). */
const diskFull = (dir: string): boolean => {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize < 64 * 1024;
  } catch {
    return false;
  }
};

export interface SqliteRoomStoreOptions {
  /**
   * Upper bound on the database file size (SQLite `max_page_count`); a write that would exceed it
   * rejects with SQLITE_FULL and stores nothing. Not persisted: applies to this connection only,
   * and SQLite never lowers it below the file's current size.
   */
  readonly maxBytes?: number;
}

// Blobs (updates up to ~8 MiB) live in rowid tables, last column, so they sit in overflow pages
// and the (room, seq) lookups go through a small separate unique index rather than a WITHOUT ROWID
// b-tree whose leaves would carry the blobs. `rooms` lets roomCount avoid scanning every row.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value ANY) STRICT;
  CREATE TABLE IF NOT EXISTS rooms (room TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    data BLOB NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX IF NOT EXISTS log_room_seq ON log (room, seq);
  CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    seq_lo INTEGER NOT NULL CHECK (seq_lo >= 0),
    seq_hi INTEGER NOT NULL,
    data BLOB NOT NULL,
    CHECK (seq_lo <= seq_hi)
  ) STRICT;
  CREATE UNIQUE INDEX IF NOT EXISTS segments_room_range ON segments (room, seq_lo, seq_hi);
`;

const SYNCHRONOUS_LEVELS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
export type SynchronousLevel = (typeof SYNCHRONOUS_LEVELS)[number];

interface LogRow {
  id: number;
  seq: number;
  data: Buffer;
}

interface SegmentRow {
  id: number;
  seqLo: number;
  seqHi: number;
  data: Buffer;
}

interface Range {
  seqLo: number;
  seqHi: number;
}

export class SqliteRoomStore implements RoomStore {
  private readonly insertLog: Database.Statement<[string, number, Uint8Array]>;
  private readonly insertRoom: Database.Statement<[string]>;
  private readonly findCovering: Database.Statement<[string, number, number], number>;
  private readonly findOverlapping: Database.Statement<[string, number, number], Range>;
  private readonly upsertSegment: Database.Statement<[string, number, number, Uint8Array]>;
  private readonly deleteLogRange: Database.Statement<[string, number, number]>;
  private readonly deleteSegmentsInside: Database.Statement<[{ room: string; lo: number; hi: number }]>;
  private readonly selectSegments: Database.Statement<[string], SegmentRow>;
  private readonly selectLog: Database.Statement<[string], LogRow>;
  private readonly deleteLogById: Database.Statement<[number]>;
  private readonly deleteSegmentById: Database.Statement<[number]>;
  private readonly selectRoom: Database.Statement<[string], number>;
  private readonly countRooms: Database.Statement<[], number>;

  private readonly appendTx: (entries: readonly AppendEntry[]) => void;
  private readonly writeSegmentTx: (room: string, segment: StoredSegment) => void;
  private readonly deleteCoveredTx: (room: string, seqLo: number, seqHi: number) => void;
  private readonly loadTx: (room: string) => StoredRoom;

  private constructor(private readonly db: Database.Database) {
    this.insertLog = db.prepare('INSERT INTO log (room, seq, data) VALUES (?, ?, ?)');
    this.insertRoom = db.prepare('INSERT OR IGNORE INTO rooms (room) VALUES (?)');
    this.findCovering = db
      .prepare<[string, number, number], number>(
        'SELECT 1 FROM segments WHERE room = ? AND seq_lo <= ? AND seq_hi >= ? LIMIT 1',
      )
      .pluck();
    this.findOverlapping = db.prepare(
      'SELECT seq_lo AS seqLo, seq_hi AS seqHi FROM segments WHERE room = ? AND seq_lo <= ? AND seq_hi >= ?',
    );
    this.upsertSegment = db.prepare(
      'INSERT INTO segments (room, seq_lo, seq_hi, data) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (room, seq_lo, seq_hi) DO UPDATE SET data = excluded.data',
    );
    this.deleteLogRange = db.prepare('DELETE FROM log WHERE room = ? AND seq >= ? AND seq <= ?');
    this.deleteSegmentsInside = db.prepare(
      'DELETE FROM segments WHERE room = @room AND seq_lo >= @lo AND seq_hi <= @hi AND NOT (seq_lo = @lo AND seq_hi = @hi)',
    );
    // seq_hi DESC: of two segments starting together, the larger comes first (see load's sweep).
    this.selectSegments = db.prepare(
      'SELECT id, seq_lo AS seqLo, seq_hi AS seqHi, data FROM segments WHERE room = ? ORDER BY seq_lo, seq_hi DESC',
    );
    this.selectLog = db.prepare('SELECT id, seq, data FROM log WHERE room = ? ORDER BY seq');
    this.deleteLogById = db.prepare('DELETE FROM log WHERE id = ?');
    this.deleteSegmentById = db.prepare('DELETE FROM segments WHERE id = ?');
    this.selectRoom = db.prepare<[string], number>('SELECT 1 FROM rooms WHERE room = ?').pluck();
    this.countRooms = db.prepare<[], number>('SELECT COUNT(*) FROM rooms').pluck();

    // Writers use BEGIN IMMEDIATE: the write lock is taken up front, never upgraded mid-transaction.
    const append = db.transaction((entries: readonly AppendEntry[]) => this.appendInTx(entries));
    this.appendTx = (entries) => append.immediate(entries);
    const writeSegment = db.transaction((room: string, segment: StoredSegment) => this.writeSegmentInTx(room, segment));
    this.writeSegmentTx = (room, segment) => writeSegment.immediate(room, segment);
    const deleteCovered = db.transaction((room: string, seqLo: number, seqHi: number) =>
      this.deleteCoveredInTx(room, seqLo, seqHi),
    );
    this.deleteCoveredTx = (room, seqLo, seqHi) => deleteCovered.immediate(room, seqLo, seqHi);
    // Deferred: a load only writes when it has an interrupted compaction to finish.
    const load = db.transaction((room: string) => this.loadInTx(room));
    this.loadTx = (room) => load.deferred(room);
  }

  /**
   * Opens (creating it and its directory if needed) the database at `file`. Throws if the file
   * cannot be opened, cannot use WAL, or has another schema version.
   */
  static open(file: string, options: SqliteRoomStoreOptions = {}): SqliteRoomStore {
    makeDirectory(dirname(file));
    let db: Database.Database | null = null;
    try {
      db = new Database(file);
      configure(db, options);
      migrate(db);
      return new SqliteRoomStore(db);
    } catch (error) {
      db?.close();
      // The operator's first question is which file: say it. SQLite reports a full disk at open
      // as "disk I/O error" when it cannot create its write-ahead log: say what it is.
      const why = error instanceof Error ? error.message : String(error);
      const full = diskFull(dirname(file)) ? FULL_DISK_HINT : '';
      throw new Error(`cannot use the database ${file}: ${why}${full}`, { cause: error });
    }
  }

  /** Opens `${dataDir}/${ROOM_STORE_FILE_NAME}`, creating the directory if needed. */
  static openDataDir(dataDir: string, options: SqliteRoomStoreOptions = {}): SqliteRoomStore {
    return SqliteRoomStore.open(join(dataDir, ROOM_STORE_FILE_NAME), options);
  }

  load(room: string): Promise<StoredRoom> {
    return settle(() => this.loadTx(room));
  }

  append(entries: readonly AppendEntry[]): Promise<void> {
    return settle(() => {
      entries.forEach(assertEntry);
      // An empty batch commits nothing: skip the fsync.
      if (entries.length > 0) this.appendTx(entries);
    });
  }

  writeSegment(room: string, segment: StoredSegment): Promise<void> {
    return settle(() => {
      assertRoom(room);
      assertSegment(segment);
      this.writeSegmentTx(room, segment);
    });
  }

  deleteCovered(room: string, seqLo: number, seqHi: number): Promise<void> {
    return settle(() => {
      assertRoom(room);
      assertRange(seqLo, seqHi);
      this.deleteCoveredTx(room, seqLo, seqHi);
    });
  }

  hasRoom(room: string): Promise<boolean> {
    return settle(() => this.selectRoom.get(room) !== undefined);
  }

  roomCount(): Promise<number> {
    return settle(() => this.countRooms.get() ?? 0);
  }

  /** What this connection actually runs with (for startup logs and tests; throws once closed). */
  durabilitySettings(): { journalMode: string; synchronous: SynchronousLevel } {
    const journalMode = String(this.db.pragma('journal_mode', { simple: true }));
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    const synchronous = SYNCHRONOUS_LEVELS[level];
    if (synchronous === undefined) throw new Error(`unknown synchronous level ${level}`);
    return { journalMode, synchronous };
  }

  /** Idempotent. Later calls on this store reject. */
  close(): Promise<void> {
    return settle(() => {
      if (this.db.open) this.db.close();
    });
  }

  private appendInTx(entries: readonly AppendEntry[]): void {
    const rooms = new Set<string>();
    for (const { room, seq, update } of entries) {
      if (this.findCovering.get(room, seq, seq) !== undefined) {
        throw new Error(`room ${JSON.stringify(room)}: seq ${seq} is inside a stored segment`);
      }
      // A seq stored before (or twice in this batch) fails the unique index: the batch rolls back.
      this.insertLog.run(room, seq, update);
      rooms.add(room);
    }
    for (const room of rooms) this.insertRoom.run(room);
  }

  private writeSegmentInTx(room: string, segment: StoredSegment): void {
    const { seqLo, seqHi } = segment;
    for (const o of this.findOverlapping.all(room, seqHi, seqLo)) {
      const nested = (o.seqLo <= seqLo && seqHi <= o.seqHi) || (seqLo <= o.seqLo && o.seqHi <= seqHi);
      if (!nested) {
        throw new Error(
          `room ${JSON.stringify(room)}: segment [${seqLo}, ${seqHi}] partially overlaps [${o.seqLo}, ${o.seqHi}]`,
        );
      }
    }
    // The same exact range again (a retried compaction) replaces: both merge the same updates.
    this.upsertSegment.run(room, seqLo, seqHi, segment.update);
    this.insertRoom.run(room);
  }

  private deleteCoveredInTx(room: string, seqLo: number, seqHi: number): void {
    if (this.findCovering.get(room, seqLo, seqHi) === undefined) {
      // Without a segment holding [seqLo, seqHi], deleting would lose data.
      throw new Error(`room ${JSON.stringify(room)}: no stored segment covers [${seqLo}, ${seqHi}]`);
    }
    this.deleteLogRange.run(room, seqLo, seqHi);
    this.deleteSegmentsInside.run({ room, lo: seqLo, hi: seqHi });
  }

  private loadInTx(room: string): StoredRoom {
    // STORE-3 in one sweep. Segments come sorted by (seqLo, seqHi DESC), so a segment lies inside
    // an earlier one exactly when its seqHi is <= the largest seqHi seen so far. The kept segments
    // then have strictly increasing seqLo and seqHi, so one forward pointer finds, for each log seq
    // in ascending order, the only kept segment that could cover it.
    const segments: StoredSegment[] = [];
    const coveredSegmentIds: number[] = [];
    let maxHi = -1;
    for (const row of this.selectSegments.all(room)) {
      if (row.seqHi <= maxHi) {
        coveredSegmentIds.push(row.id);
        continue;
      }
      maxHi = row.seqHi;
      segments.push({ seqLo: row.seqLo, seqHi: row.seqHi, update: toUint8Array(row.data) });
    }

    const log: StoredLogEntry[] = [];
    const coveredLogIds: number[] = [];
    let next = 0;
    for (const row of this.selectLog.all(room)) {
      let candidate = segments[next];
      while (candidate !== undefined && candidate.seqHi < row.seq) candidate = segments[++next];
      if (candidate !== undefined && candidate.seqLo <= row.seq) coveredLogIds.push(row.id);
      else log.push({ seq: row.seq, update: toUint8Array(row.data) });
    }

    // Finish the interrupted compaction so the redundant rows are not read (or kept) again.
    for (const id of coveredSegmentIds) this.deleteSegmentById.run(id);
    for (const id of coveredLogIds) this.deleteLogById.run(id);
    return { segments, log };
  }
}

function configure(db: Database.Database, options: SqliteRoomStoreOptions): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new Error(`SqliteRoomStore needs WAL mode, got journal_mode=${String(mode)}`);
  // FULL: in WAL mode, fsync the WAL on every commit (NORMAL would only sync at checkpoints, and a
  // power loss could drop acknowledged commits).
  db.pragma('synchronous = FULL');
  // After a burst of large blobs, truncate the WAL back to a bounded size at checkpoints.
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  if (options.maxBytes !== undefined) {
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
  }
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const row = db.prepare<[], { value: unknown }>("SELECT value FROM meta WHERE key = 'schema_version'").get();
    if (row === undefined) {
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(ROOM_STORE_SCHEMA_VERSION);
    } else if (row.value !== ROOM_STORE_SCHEMA_VERSION) {
      throw new Error(
        `room store schema version ${String(row.value)} is not supported (expected ${ROOM_STORE_SCHEMA_VERSION})`,
      );
    }
  }).immediate();
  // STORE-10: a write at every open. SQLite opens a file it may not write (mode 444, another
  // owner) read-only without a word, and a relay that starts on it would fail only at its first
  // commit, after answering /healthz as healthy. A full disk is not a reason to refuse to start
  // (catch-ups still work, and commits report it, ACK-4): only a read-only database is.
  try {
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened_at', ?)").run(new Date().toISOString());
  } catch (error) {
    if (String((error as { code?: unknown }).code).startsWith('SQLITE_READONLY')) throw error;
  }
}

/** Runs `fn` now (a Promise executor runs synchronously); a throw becomes a rejection, not a synchronous throw. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}

/** better-sqlite3 hands out a fresh Buffer per blob; expose it as a plain Uint8Array, no copy. */
function toUint8Array(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
