/**
 * A strict reader for Yjs V1 updates (the encoding on the y-websocket wire), used to validate
 * every update before it reaches storage, a merge or another replica, and to split large
 * updates into bounded frames — all without a Y.Doc.
 *
 * Why our own reader: a malformed update applied to a Y.Doc can throw inside yjs's transaction
 * cleanup and leave that doc silently frozen for good; truncated updates are half-applied;
 * lib0's decoders replace invalid UTF-8 instead of failing. So the grammar below is checked
 * completely, including that it consumes every byte. Rules (docs/SPEC.md VAL-1..VAL-7):
 *
 *   update      = varUint(nClients) · clientSec* · deleteSet            (VAL-1: nothing after)
 *   clientSec   = varUint(nStructs) · varUint(client) · varUint(clock) · struct*
 *   struct      = info:u8 · (GC: varUint len | Skip: varUint len | Item)
 *   Item        = [origin ID if info&0x80] [rightOrigin ID if info&0x40]
 *                 [if neither: varUint(1)·string(parent key) | varUint(0)·ID(parent)]
 *                 [if neither and info&0x20: string(parentSub)] · content(info & 31)
 *   deleteSet   = varUint(n) · (varUint client · varUint k · k × (varUint clock · varUint len))*
 *
 * VAL-2 every client appears once among the struct sections and once in the delete set.
 * VAL-3 every struct and delete range has length ≥ 1 and ends at or below 2^53.
 * VAL-4 content and type refs are the ones yjs 13 knows (content 1–9, type 0–6).
 * VAL-5 strings are valid UTF-8; JSON and Any values parse and nest at most `maxDepth`.
 * VAL-6 an item's origin, right origin and parent, when they name the item's own client, point
 *       below the item's own clock (a client can only refer to what it already made).
 * VAL-7 delete ranges of a client are sorted and do not overlap.
 *
 * Not checkable without the whole document (and so not checked): references to other clients'
 * items that do not exist. Such structs stay pending in replicas without freezing them; they
 * are also legitimate (an offline tab can reference items another tab has not uploaded yet).
 */
import { ByteReader, ByteReaderError } from './byteReader.js';
import { isBoundedJson } from './jsonDepth.js';
import { decodeUtf8 } from './byteReader.js';
import * as encoding from 'lib0/encoding';

export class UpdateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpdateError';
  }
}

/** Consecutive structs of one client section with no Skip between them. */
export interface StructRun {
  readonly client: number;
  /** Clock of the first struct. */
  readonly clock: number;
  /** Sum of the structs' lengths: the run covers clocks [clock, clock + length). */
  readonly length: number;
  /** Number of struct encodings in the run. */
  readonly structs: number;
  /** Byte offsets of the run's struct encodings within the update. */
  readonly start: number;
  readonly end: number;
}

/** A delete range [clock, clock + length) of one client. */
export interface DeleteRange {
  readonly clock: number;
  readonly length: number;
}

export interface ParsedUpdate {
  readonly bytes: Uint8Array;
  readonly runs: readonly StructRun[];
  /** Client → sorted, non-overlapping delete ranges (clients with no ranges are absent). */
  readonly deletes: ReadonlyMap<number, readonly DeleteRange[]>;
  /** Byte offset where the delete set starts. */
  readonly deleteSetStart: number;
}

export interface ParseOptions {
  /** Deepest JSON / Any nesting accepted (VAL-5). */
  readonly maxDepth?: number;
}

const MAX_CLOCK = Number.MAX_SAFE_INTEGER;

/** Parses and validates a V1 update. Throws UpdateError naming the rule broken. */
export const parseUpdateV1 = (bytes: Uint8Array, options: ParseOptions = {}): ParsedUpdate => {
  const maxDepth = options.maxDepth ?? 32;
  const r = new ByteReader(bytes);
  try {
    const runs: StructRun[] = [];
    const nClients = r.varUint();
    // Each client section needs at least 4 bytes: refuse impossible counts before looping.
    if (nClients * 4 > r.remaining) throw new UpdateError('VAL-1: client count past end');
    const seen = new Set<number>();
    for (let c = 0; c < nClients; c++) {
      const nStructs = r.varUint();
      const client = r.varUint();
      let clock = r.varUint();
      if (seen.has(client)) throw new UpdateError(`VAL-2: client ${client} has two struct sections`);
      seen.add(client);
      if (nStructs * 2 > r.remaining) throw new UpdateError('VAL-1: struct count past end');
      let run: { clock: number; length: number; structs: number; start: number } | null = null;
      for (let s = 0; s < nStructs; s++) {
        const start = r.pos;
        const info = r.u8();
        const { length, skip } = readStructBody(r, info, client, clock, maxDepth);
        if (length < 1) throw new UpdateError(`VAL-3: struct of length ${length}`);
        if (clock + length > MAX_CLOCK) throw new UpdateError('VAL-3: clock out of range');
        if (skip) {
          if (run) runs.push({ client, ...run, end: start });
          run = null;
        } else if (run) {
          run.length += length;
          run.structs++;
        } else run = { clock, length, structs: 1, start };
        clock += length;
      }
      if (run) runs.push({ client, ...run, end: r.pos });
    }
    const deleteSetStart = r.pos;
    const deletes = readDeleteSet(r);
    if (r.remaining !== 0) throw new UpdateError('VAL-1: trailing bytes after delete set');
    return { bytes, runs, deletes, deleteSetStart };
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    if (e instanceof ByteReaderError) throw new UpdateError(`VAL-1: ${e.message}`);
    throw e;
  }
};

/** True when `bytes` is a valid V1 update (see parseUpdateV1). */
export const isValidUpdateV1 = (bytes: Uint8Array, options?: ParseOptions): boolean => {
  try {
    parseUpdateV1(bytes, options);
    return true;
  } catch (e) {
    if (e instanceof UpdateError) return false;
    throw e;
  }
};

const readId = (r: ByteReader, client: number, clock: number, what: string): void => {
  const refClient = r.varUint();
  const refClock = r.varUint();
  if (refClient === client && refClock >= clock) {
    throw new UpdateError(`VAL-6: ${what} ${refClient}:${refClock} is not below the item's own clock ${clock}`);
  }
};

const readJsonString = (r: ByteReader, maxDepth: number, allowUndefined: boolean): void => {
  const text = decodeUtf8(r.varString().bytes);
  if (allowUndefined && text === 'undefined') return;
  if (!isBoundedJson(text, maxDepth)) throw new UpdateError('VAL-5: invalid or too deeply nested JSON');
};

/** Reads one struct after its info byte; returns its clock length and whether it is a Skip. */
const readStructBody = (
  r: ByteReader,
  info: number,
  client: number,
  clock: number,
  maxDepth: number,
): { length: number; skip: boolean } => {
  const ref = info & 0x1f;
  if (ref === 0) return { length: r.varUint(), skip: false }; // GC
  if (ref === 10) return { length: r.varUint(), skip: true }; // Skip
  if (ref > 10) throw new UpdateError(`VAL-4: unknown content ref ${ref}`);
  if (info & 0x80) readId(r, client, clock, 'origin');
  if (info & 0x40) readId(r, client, clock, 'right origin');
  if ((info & 0xc0) === 0) {
    const parentInfo = r.varUint();
    if (parentInfo === 1) r.varString();
    else if (parentInfo === 0) readId(r, client, clock, 'parent');
    else throw new UpdateError(`VAL-1: parent info ${parentInfo}`);
    if (info & 0x20) r.varString();
  }
  switch (ref) {
    case 1: // Deleted
      return { length: r.varUint(), skip: false };
    case 2: {
      // JSON
      const n = r.varUint();
      if (n > r.remaining) throw new UpdateError('VAL-1: JSON count past end');
      for (let i = 0; i < n; i++) readJsonString(r, maxDepth, true);
      return { length: n, skip: false };
    }
    case 3: // Binary
      r.varBytes();
      return { length: 1, skip: false };
    case 4: // String
      return { length: r.varString().utf16Length, skip: false };
    case 5: // Embed
      readJsonString(r, maxDepth, false);
      return { length: 1, skip: false };
    case 6: // Format
      r.varString();
      readJsonString(r, maxDepth, false);
      return { length: 1, skip: false };
    case 7: {
      // Type
      const typeRef = r.varUint();
      if (typeRef > 6) throw new UpdateError(`VAL-4: unknown type ref ${typeRef}`);
      if (typeRef === 3 || typeRef === 5) r.varString(); // XmlElement / XmlHook name
      return { length: 1, skip: false };
    }
    case 8: {
      // Any
      const n = r.varUint();
      if (n > r.remaining) throw new UpdateError('VAL-1: Any count past end');
      for (let i = 0; i < n; i++) readAny(r, maxDepth);
      return { length: n, skip: false };
    }
    case 9: // Doc: guid + options
      r.varString();
      readAny(r, maxDepth);
      return { length: 1, skip: false };
    default:
      throw new UpdateError(`VAL-4: unknown content ref ${ref}`);
  }
};

/** Validates one lib0 `any` value (iteratively bounded by depth). */
const readAny = (r: ByteReader, depthLeft: number): void => {
  if (depthLeft < 0) throw new UpdateError('VAL-5: Any value nested too deeply');
  const t = r.u8();
  switch (t) {
    case 127:
    case 126:
    case 121:
    case 120:
      return;
    case 125:
      r.varInt();
      return;
    case 124:
      r.take(4);
      return;
    case 123:
    case 122:
      r.take(8);
      return;
    case 119:
      r.varString();
      return;
    case 118: {
      const n = r.varUint();
      if (n * 2 > r.remaining) throw new UpdateError('VAL-1: object size past end');
      for (let i = 0; i < n; i++) {
        r.varString();
        readAny(r, depthLeft - 1);
      }
      return;
    }
    case 117: {
      const n = r.varUint();
      if (n > r.remaining) throw new UpdateError('VAL-1: array size past end');
      for (let i = 0; i < n; i++) readAny(r, depthLeft - 1);
      return;
    }
    case 116:
      r.varBytes();
      return;
    default:
      throw new UpdateError(`VAL-4: unknown Any type ${t}`);
  }
};

const readDeleteSet = (r: ByteReader): Map<number, DeleteRange[]> => {
  const deletes = new Map<number, DeleteRange[]>();
  const n = r.varUint();
  if (n * 2 > r.remaining) throw new UpdateError('VAL-1: delete set size past end');
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const client = r.varUint();
    if (seen.has(client)) throw new UpdateError(`VAL-2: client ${client} twice in delete set`);
    seen.add(client);
    const k = r.varUint();
    if (k * 2 > r.remaining) throw new UpdateError('VAL-1: delete count past end');
    const ranges: DeleteRange[] = [];
    let prevEnd = -1;
    for (let j = 0; j < k; j++) {
      const clock = r.varUint();
      const length = r.varUint();
      if (length < 1) throw new UpdateError('VAL-3: delete range of length 0');
      if (clock + length > MAX_CLOCK) throw new UpdateError('VAL-3: delete range out of range');
      if (clock < prevEnd) throw new UpdateError('VAL-7: delete ranges unsorted or overlapping');
      prevEnd = clock + length;
      ranges.push({ clock, length });
    }
    if (ranges.length > 0) deletes.set(client, ranges);
  }
  return deletes;
};

/** The update with no structs and no deletions (what Yjs encodes for "nothing"). */
export const EMPTY_UPDATE: Uint8Array = new Uint8Array([0, 0]);

/** True when the update carries neither structs nor deletions. */
export const isEmptyParsed = (p: ParsedUpdate): boolean => p.runs.length === 0 && p.deletes.size === 0;

/** An update holding only `p`'s delete set (no structs), or null when it deletes nothing. */
export const deleteSetOnly = (p: ParsedUpdate): Uint8Array | null => {
  if (p.deletes.size === 0) return null;
  const ds = p.bytes.subarray(p.deleteSetStart);
  const out = new Uint8Array(ds.length + 1);
  out[0] = 0;
  out.set(ds, 1);
  return out;
};

/**
 * Splits a parsed update into valid V1 updates of at most about `maxBytes` each, which applied
 * in any order give the same document as the original. Struct runs are cut at struct
 * boundaries (V1 structs are position independent: their clock is implied by the section's
 * start clock), deletions go in pieces of their own. A single struct larger than `maxBytes`
 * becomes a piece on its own (it cannot be cut; the frame limit must allow the largest struct).
 */
export const splitUpdateV1 = (p: ParsedUpdate, maxBytes: number): Uint8Array[] => {
  if (p.bytes.length <= maxBytes) return [p.bytes];
  const pieces: Uint8Array[] = [];
  // Struct sections: accumulate (client, clock, structs, bytes) until the budget is reached.
  let sections: Array<{ client: number; clock: number; structs: number; bytes: Uint8Array }> = [];
  let size = 0;
  const flush = (): void => {
    if (sections.length === 0) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, sections.length);
    for (const s of sections) {
      encoding.writeVarUint(e, s.structs);
      encoding.writeVarUint(e, s.client);
      encoding.writeVarUint(e, s.clock);
      encoding.writeUint8Array(e, s.bytes);
    }
    encoding.writeVarUint(e, 0); // empty delete set
    pieces.push(encoding.toUint8Array(e));
    sections = [];
    size = 0;
  };
  const SECTION_OVERHEAD = 32;
  for (const run of p.runs) {
    if (size + run.end - run.start + SECTION_OVERHEAD <= maxBytes) {
      sections.push({ client: run.client, clock: run.clock, structs: run.structs, bytes: p.bytes.subarray(run.start, run.end) });
      size += run.end - run.start + SECTION_OVERHEAD;
      continue;
    }
    // Cut the run at struct boundaries.
    const r = new ByteReader(p.bytes);
    r.pos = run.start;
    let clock = run.clock;
    let partStart = run.start;
    let partClock = run.clock;
    let partStructs = 0;
    while (r.pos < run.end) {
      const structStart = r.pos;
      const { length } = readStructBody(r, r.u8(), run.client, clock, Infinity);
      if (partStructs > 0 && size + r.pos - partStart + SECTION_OVERHEAD > maxBytes) {
        sections.push({ client: run.client, clock: partClock, structs: partStructs, bytes: p.bytes.subarray(partStart, structStart) });
        flush();
        partStart = structStart;
        partClock = clock;
        partStructs = 0;
      }
      partStructs++;
      clock += length;
    }
    sections.push({ client: run.client, clock: partClock, structs: partStructs, bytes: p.bytes.subarray(partStart, run.end) });
    size += run.end - partStart + SECTION_OVERHEAD;
    if (size >= maxBytes) flush();
  }
  flush();
  // Deletions: whole clients per piece, ranges cut when one client alone is too big.
  let ds: Array<[number, DeleteRange[]]> = [];
  let dsSize = 0;
  const flushDs = (): void => {
    if (ds.length === 0) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0); // no structs
    encoding.writeVarUint(e, ds.length);
    for (const [client, ranges] of ds) {
      encoding.writeVarUint(e, client);
      encoding.writeVarUint(e, ranges.length);
      for (const d of ranges) {
        encoding.writeVarUint(e, d.clock);
        encoding.writeVarUint(e, d.length);
      }
    }
    pieces.push(encoding.toUint8Array(e));
    ds = [];
    dsSize = 0;
  };
  const RANGE_BYTES = 16; // two varUints of at most 8 bytes each
  for (const [client, ranges] of p.deletes) {
    for (let i = 0; i < ranges.length; ) {
      const room = Math.max(1, Math.floor((maxBytes - dsSize - 32) / RANGE_BYTES));
      const part = ranges.slice(i, i + room);
      ds.push([client, part]);
      dsSize += 32 + part.length * RANGE_BYTES;
      i += part.length;
      if (dsSize + 32 + RANGE_BYTES > maxBytes) flushDs();
    }
  }
  flushDs();
  return pieces;
};
