/**
 * The argument guards every `RoomStore` applies before touching storage (relay/roomStore.ts):
 * a call with a bad room, seq, range or update throws here and stores nothing. One copy, so the
 * memory, SQLite and Redis stores refuse exactly the same inputs with the same messages (the
 * contract suite, relay/roomStore.contract.ts, checks them on all of them).
 */
import type { AppendEntry, StoredSegment } from './roomStore.js';

export function assertRoom(room: string): void {
  if (typeof room !== 'string') throw new TypeError('room must be a string');
}

/** Seqs are non-negative safe integers. */
export function assertSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`invalid seq ${seq}`);
}

export function assertRange(seqLo: number, seqHi: number): void {
  assertSeq(seqLo);
  assertSeq(seqHi);
  if (seqLo > seqHi) throw new RangeError(`invalid range [${seqLo}, ${seqHi}]`);
}

export function assertEntry(entry: AppendEntry): void {
  assertRoom(entry.room);
  assertSeq(entry.seq);
  assertUpdate(entry.update);
}

export function assertSegment(segment: StoredSegment): void {
  assertRange(segment.seqLo, segment.seqHi);
  assertUpdate(segment.update);
}

function assertUpdate(update: Uint8Array): void {
  if (!(update instanceof Uint8Array)) throw new TypeError('update must be a Uint8Array');
}
