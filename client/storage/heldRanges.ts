/**
 * LOCAL-12: what a room's stored updates hold — the clock ranges of their structs and of their
 * deletions — kept beside the updates so the lobby's background refresh (SYNC-C1) can ask the
 * relay for exactly what is missing without loading the room.
 *
 * The record is an index over the append log: it covers every row of the room with a key up to
 * `upTo` (keys only grow, LOCAL-5), and rows appended since (by any tab) are folded in the next
 * time it is read. Compaction only merges rows (content unchanged) into a row with a new key,
 * which is folded again; `deleteRoom` removes the record with the rows. So the ranges never
 * claim more than the stored rows hold, as long as no row vanishes behind the store's back:
 * a record that counts more rows than are stored (LOCAL-6) makes `held` refuse to answer.
 *
 * A row that does not parse as a V1 update holds nothing here (a session skips it on load too).
 */
import { ClockRanges } from '../../shared/clockRanges.js';
import { parseUpdateV1, type ParsedUpdate } from '../../shared/updateV1.js';

/** The stored form: `[client, [start0, end0, start1, end1, …]]` per client. */
export type StoredRanges = Array<[number, number[]]>;

export interface HeldRecord {
  readonly room: string;
  /** Every row of the room with a key up to this one is folded in (0: none yet). */
  readonly upTo: number;
  readonly structs: StoredRanges;
  readonly deletes: StoredRanges;
}

const toStored = (ranges: ClockRanges): StoredRanges =>
  [...ranges.clients()].map((client) => [client, ranges.ranges(client).flat()]);

const fromStored = (stored: StoredRanges): ClockRanges => {
  const ranges = new ClockRanges();
  for (const [client, flat] of stored) {
    for (let i = 0; i + 1 < flat.length; i += 2) ranges.add(client, flat[i]!, flat[i + 1]! - flat[i]!);
  }
  return ranges;
};

/** Parses an update for its ranges only (the caller or the relay validated it before it was stored). */
export const parseForRanges = (update: Uint8Array): ParsedUpdate | null => {
  try {
    return parseUpdateV1(update, { skipMapEntryRule: true });
  } catch {
    return null;
  }
};

export class HeldRanges {
  readonly structs: ClockRanges;
  readonly deletes: ClockRanges;
  /** Rows folded in since this object was made from its record: when 0, the record is unchanged. */
  folded = 0;

  constructor(
    record?: HeldRecord,
    /** See `HeldRecord.upTo`. */
    public upTo = record?.upTo ?? 0,
  ) {
    this.structs = record ? fromStored(record.structs) : new ClockRanges();
    this.deletes = record ? fromStored(record.deletes) : new ClockRanges();
  }

  /** Adds what a stored row holds; `key` is its key in the store. */
  foldRow(key: number, update: Uint8Array): void {
    const parsed = parseForRanges(update);
    if (parsed) this.add(parsed);
    if (key > this.upTo) this.upTo = key;
    this.folded++;
  }

  add(parsed: ParsedUpdate): void {
    for (const run of parsed.runs) this.structs.add(run.client, run.clock, run.length);
    for (const [client, list] of parsed.deletes) for (const d of list) this.deletes.add(client, d.clock, d.length);
  }

  /** True when every struct and every deletion of `parsed` is held already: storing it would add nothing. */
  holds(parsed: ParsedUpdate): boolean {
    for (const run of parsed.runs) if (!this.structs.covers(run.client, run.clock, run.length)) return false;
    for (const [client, list] of parsed.deletes) {
      for (const d of list) if (!this.deletes.covers(client, d.clock, d.length)) return false;
    }
    return true;
  }

  /** SYNC-3: the conservative state vector, never past a gap in what is stored. */
  stateVector(): Map<number, number> {
    return this.structs.stateVector();
  }

  /**
   * LOCAL-12's selection for `appendMissing`: the updates that hold something not held yet (each
   * is added to the ranges as it is chosen, so a repeat in the same batch is dropped), and
   * whether one of them deletes something that was stored before the batch (or is unknown
   * here): a deletion that is not only of the batch's own new structs.
   */
  selectMissing(updates: readonly Uint8Array[]): { missing: Uint8Array[]; deletesOlder: boolean } {
    const missing: Uint8Array[] = [];
    const newDeletions: Array<[number, number, number]> = [];
    const brought = new ClockRanges();
    for (const update of updates) {
      const parsed = parseForRanges(update);
      if (parsed === null) {
        missing.push(update);
        continue;
      }
      if (this.holds(parsed)) continue;
      for (const [client, list] of parsed.deletes) {
        for (const d of list)
          if (!this.deletes.covers(client, d.clock, d.length)) newDeletions.push([client, d.clock, d.length]);
      }
      for (const run of parsed.runs)
        if (!this.structs.covers(run.client, run.clock, run.length)) brought.add(run.client, run.clock, run.length);
      this.add(parsed);
      missing.push(update);
    }
    const deletesOlder = newDeletions.some(([client, clock, length]) => !brought.covers(client, clock, length));
    return { missing, deletesOlder };
  }

  toRecord(room: string): HeldRecord {
    return { room, upTo: this.upTo, structs: toStored(this.structs), deletes: toStored(this.deletes) };
  }
}
