/**
 * An in-memory `RoomStore` for unit tests and the simulated-network fuzz.
 *
 * It models durability, not a cache: what `append`/`writeSegment` stored is exactly what a later
 * `load` (also through `reopen()`, the model of a relay restart) sees, and nothing else. Bytes are
 * copied on the way in and on the way out, so callers may reuse or mutate their buffers, as they
 * may with the SQLite store.
 *
 * It keeps the same guards as the SQLite store, so STORE-3's clean-up can never drop data: no
 * append of a stored seq or of one inside a segment, no partially overlapping segments, no
 * deleteCovered without a segment covering the range.
 *
 * Every method takes effect synchronously when called (like the SQLite store, whose driver is
 * synchronous) and settles its promise afterwards; an invalid call rejects and changes nothing.
 *
 * The covered-row rules are deliberately written the naive way (quadratic scans) rather than
 * sharing the SQLite store's sweep: the shared contract suite then checks two independent
 * implementations against each other.
 */
import type { AppendEntry, RoomStore, StoredLogEntry, StoredRoom, StoredSegment } from './roomStore.js';
import { assertEntry, assertRange, assertSegment } from './storeArguments.js';

interface MemoryRoom {
  /** seq -> update. */
  readonly log: Map<number, Uint8Array>;
  /** `${seqLo}:${seqHi}` -> segment; at most one segment per exact range. */
  readonly segments: Map<string, StoredSegment>;
}

/** The "disk": survives `reopen()`. A room is present only once something is stored in it. */
type MemoryDisk = Map<string, MemoryRoom>;

export class MemoryRoomStore implements RoomStore {
  private disk: MemoryDisk = new Map();
  private closed = false;
  /** Armed failures, consumed one per `append` call (FIFO). */
  private readonly appendFailures: Error[] = [];

  /**
   * Test hook for a disk error: the next `append` call (after any earlier armed ones) rejects with
   * `error` and stores nothing. Each call arms exactly one failure.
   */
  failNextAppend(error: Error): void {
    this.appendFailures.push(error);
  }

  /**
   * Models a relay restart (or crash: this store holds nothing that is not "durable"). Closes this
   * store and returns a new one over the same stored data. Armed failures are not carried over.
   */
  reopen(): MemoryRoomStore {
    this.assertOpen();
    this.closed = true;
    const next = new MemoryRoomStore();
    next.disk = this.disk;
    return next;
  }

  load(room: string): Promise<StoredRoom> {
    return this.op(() => {
      const stored = this.disk.get(room);
      if (stored === undefined) return { segments: [], log: [] };

      // STORE-3: finish an interrupted compaction step 2. A segment strictly inside another one and a
      // log row inside any segment are redundant (the larger segment already merges them).
      const all = [...stored.segments.entries()];
      for (const [key, s] of all) {
        const strictlyInside = all.some(
          ([otherKey, o]) => otherKey !== key && o.seqLo <= s.seqLo && s.seqHi <= o.seqHi,
        );
        if (strictlyInside) stored.segments.delete(key);
      }
      const kept = [...stored.segments.values()];
      for (const seq of [...stored.log.keys()]) {
        if (kept.some((s) => s.seqLo <= seq && seq <= s.seqHi)) stored.log.delete(seq);
      }

      const segments: StoredSegment[] = kept
        .map((s) => ({ seqLo: s.seqLo, seqHi: s.seqHi, update: s.update.slice() }))
        .sort((a, b) => a.seqLo - b.seqLo);
      const log: StoredLogEntry[] = [...stored.log.entries()]
        .map(([seq, update]) => ({ seq, update: update.slice() }))
        .sort((a, b) => a.seq - b.seq);
      return { segments, log };
    });
  }

  append(entries: readonly AppendEntry[]): Promise<void> {
    return this.op(() => {
      const failure = this.appendFailures.shift();
      if (failure !== undefined) throw failure;

      // Validate the whole batch before touching anything: all or nothing (STORE-1).
      const batch = new Map<string, Set<number>>();
      for (const entry of entries) {
        assertEntry(entry);
        const seen = batch.get(entry.room) ?? new Set<number>();
        const stored = this.disk.get(entry.room);
        if (seen.has(entry.seq) || stored?.log.has(entry.seq)) {
          throw new Error(`room ${JSON.stringify(entry.room)}: seq ${entry.seq} is already stored`);
        }
        if (stored !== undefined && coveringSegment(stored, entry.seq, entry.seq) !== undefined) {
          // Load would delete this row as covered (STORE-3): refuse rather than lose it silently.
          throw new Error(`room ${JSON.stringify(entry.room)}: seq ${entry.seq} is inside a stored segment`);
        }
        seen.add(entry.seq);
        batch.set(entry.room, seen);
      }
      for (const entry of entries) this.roomFor(entry.room).log.set(entry.seq, entry.update.slice());
    });
  }

  writeSegment(room: string, segment: StoredSegment): Promise<void> {
    return this.op(() => {
      assertSegment(segment);
      const stored = this.disk.get(room);
      if (stored !== undefined) {
        for (const o of stored.segments.values()) {
          const overlaps = o.seqLo <= segment.seqHi && segment.seqLo <= o.seqHi;
          const nested =
            (o.seqLo <= segment.seqLo && segment.seqHi <= o.seqHi) ||
            (segment.seqLo <= o.seqLo && o.seqHi <= segment.seqHi);
          if (overlaps && !nested) {
            throw new Error(
              `room ${JSON.stringify(room)}: segment [${segment.seqLo}, ${segment.seqHi}] partially overlaps [${o.seqLo}, ${o.seqHi}]`,
            );
          }
        }
      }
      // Same exact range again (a retried compaction): replace; both merge the same updates.
      this.roomFor(room).segments.set(rangeKey(segment.seqLo, segment.seqHi), {
        seqLo: segment.seqLo,
        seqHi: segment.seqHi,
        update: segment.update.slice(),
      });
    });
  }

  deleteCovered(room: string, seqLo: number, seqHi: number): Promise<void> {
    return this.op(() => {
      assertRange(seqLo, seqHi);
      const stored = this.disk.get(room);
      if (stored === undefined || coveringSegment(stored, seqLo, seqHi) === undefined) {
        // Without a segment holding [seqLo, seqHi], deleting would lose data.
        throw new Error(`room ${JSON.stringify(room)}: no stored segment covers [${seqLo}, ${seqHi}]`);
      }
      for (const seq of [...stored.log.keys()]) {
        if (seqLo <= seq && seq <= seqHi) stored.log.delete(seq);
      }
      for (const [key, s] of [...stored.segments.entries()]) {
        const exact = s.seqLo === seqLo && s.seqHi === seqHi;
        if (!exact && seqLo <= s.seqLo && s.seqHi <= seqHi) stored.segments.delete(key);
      }
    });
  }

  hasRoom(room: string): Promise<boolean> {
    // Rooms are created on first store and never emptied (a covering segment always survives).
    return this.op(() => this.disk.has(room));
  }

  roomCount(): Promise<number> {
    return this.op(() => this.disk.size);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private roomFor(room: string): MemoryRoom {
    let stored = this.disk.get(room);
    if (stored === undefined) {
      stored = { log: new Map(), segments: new Map() };
      this.disk.set(room, stored);
    }
    return stored;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryRoomStore is closed');
  }

  /**
   * Runs `fn` now (a Promise executor runs synchronously), against an open store; a throw becomes
   * a rejection, never a synchronous throw.
   */
  private op<T>(fn: () => T): Promise<T> {
    return new Promise((resolve) => {
      this.assertOpen();
      resolve(fn());
    });
  }
}

function rangeKey(seqLo: number, seqHi: number): string {
  return `${seqLo}:${seqHi}`;
}

function coveringSegment(stored: MemoryRoom, seqLo: number, seqHi: number): StoredSegment | undefined {
  for (const s of stored.segments.values()) if (s.seqLo <= seqLo && seqHi <= s.seqHi) return s;
  return undefined;
}
