/**
 * A strict reader for Yjs V1 updates (the encoding on the y-websocket wire), used to validate
 * every update before it reaches storage, a merge or another replica, and to split large
 * updates into bounded frames — all without a Y.Doc.
 *
 * Why our own reader: a malformed update applied to a Y.Doc can throw inside yjs's transaction
 * cleanup and leave that doc silently frozen for good; truncated updates are half-applied;
 * lib0's decoders replace invalid UTF-8 instead of failing. So the grammar below is checked
 * completely, including that it consumes every byte. Rules (docs/SPEC.md VAL-1..VAL-9):
 *
 *   update      = varUint(nClients) · clientSec* · deleteSet            (VAL-1: nothing after)
 *   (VAL-1 also: every varint takes at most 8 bytes — lib0 reads a longer run of continuation
 *   bytes as NaN — and every count and length fits in the bytes that are left.)
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
 * VAL-8 a sub-document's options are an object of `gc`, `autoLoad`, `shouldLoad` (booleans) and
 *       `meta` only (yjs spreads them into `new Doc(...)`: `null` or `undefined` made it throw,
 *       a `guid` or `gcFilter` there would replace the doc's own).
 * VAL-9 an item that lives under a map key (its parent key is written, or it takes its parent
 *       from an origin — else right origin — that does) holds one value: length 1, unless its
 *       content is Deleted or this update's own delete set deletes it whole (merged deletions
 *       of a doc with gc: false). A live multi-value map entry, once split by a later reference
 *       or deletion, leaves a live item left of the current value; deleting the map then throws
 *       from yjs's garbage collection inside transaction cleanup and freezes the doc. Origins
 *       are followed through this update, and through earlier ones when the caller passes
 *       `isMapEntry` (and remembers each accepted update's `mapEntries`).
 * VAL-10 (optional, `maxStructBytes`) one struct is at most that many bytes encoded.
 * VAL-11 (optional, `maxClients`) at most that many clients among the struct sections, and
 *       among the delete set.
 *
 * Not checkable without the document (and so not checked): references to items that are not in
 * this update — whether they exist and what they are. Missing ones stay pending in replicas
 * without freezing them, and are legitimate (an offline tab can reference items another tab has
 * not uploaded yet). Wrong ones can still break a replica. Known: an item that re-sends clocks a
 * replica already holds, with other origins (yjs integrates the tail next to the held part; if
 * that part was garbage-collected, integration throws). A relay that forwards or stores only
 * clocks it does not hold yet (ClockRanges) closes that one; without `isMapEntry`, a multi-value
 * item whose origin is a map entry of an earlier update is the other.
 */
import { ByteReader, ByteReaderError } from './byteReader.js';
import { isBoundedJson } from './jsonDepth.js';
import { decodeUtf8 } from './byteReader.js';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

/**
 * The relay's configurable limits an update can break while being well formed (REFUSE-4): a
 * refusal for one of them says which (the relay's close reason), not "malformed".
 */
export type UpdateLimit = 'VAL-10' | 'VAL-11';

export class UpdateError extends Error {
  constructor(
    message: string,
    /** Set when the update is well formed so far and only over one of the relay's limits. */
    readonly limit: UpdateLimit | null = null,
  ) {
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

/** The clock range of one struct. */
export interface StructRange {
  readonly client: number;
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
  /**
   * Structs that are valid only together with their own deletion (VAL-9: multi-value map
   * entries of a gc: false doc). Whoever re-packs the structs (splitUpdateV1) must send these
   * ranges' deletions in the same update.
   */
  readonly deletedWithStructs: readonly StructRange[];
  /**
   * Only when `options.isMapEntry` was given: the clock ranges of this update's items that are
   * map entries (adjacent ones merged), for the caller to remember.
   */
  readonly mapEntries?: readonly StructRange[];
}

export interface ParseOptions {
  /** Deepest JSON / Any nesting accepted (VAL-5). */
  readonly maxDepth?: number;
  /**
   * VAL-9 across updates: answers whether the struct at client:clock, held from an earlier
   * update, is a map entry (e.g. `(c, k) => mapEntries.covers(c, k, 1)` over a ClockRanges fed
   * with the `mapEntries` of every accepted update). Without it, an origin that leaves the
   * update counts as "not a map entry". When given, the result carries `mapEntries`.
   */
  readonly isMapEntry?: (client: number, clock: number) => boolean;
  /**
   * Skips VAL-9, for bytes the caller built itself from updates it already accepted (stored
   * segments, merges, diffs) and parses again only for their summaries. Without `isMapEntry` at
   * acceptance (or with updates that arrived before the map entries they refer to), updates
   * accepted one by one can form a merge that VAL-9 refuses; a relay must still be able to load
   * and serve what it stored. `deletedWithStructs` is still filled (splitUpdateV1 needs it).
   */
  readonly skipMapEntryRule?: boolean;
  /**
   * VAL-10: the largest encoding of one struct accepted. A struct cannot be split across frames
   * (splitUpdateV1), so one larger than the largest frame a relay sends could only be forwarded
   * in an oversized frame.
   */
  readonly maxStructBytes?: number;
  /**
   * VAL-11: the most Yjs clients among the struct sections, and among the delete set. Checked
   * when each count is read, before any work: a relay's cost per client (the parse, the clock
   * ranges it keeps) is several microseconds, so an 8 MiB frame of a million one-struct clients
   * would hold the process for seconds.
   */
  readonly maxClients?: number;
}

const MAX_CLOCK = Number.MAX_SAFE_INTEGER;

/**
 * What readStructBody learned about one struct. A single scratch object is reused (no allocation
 * per struct on the relay's hot path); copy what you need before the next call.
 */
interface StructInfo {
  length: number;
  kind: number;
  /** Content ref of an item (info & 31). */
  ref: number;
  /** SLOT_*: whether an item lives under a map key. */
  slot: number;
  /** The reference an item takes its parent from when slot is SLOT_INHERIT (origin, else right origin). */
  refClient: number;
  refClock: number;
}
/**
 * The V1 struct infos (`info & 31`) that are not items: a GC struct (clocks whose content was
 * collected) and a Skip (clocks this update does not carry). Item content refs are 1..9.
 */
export const GC_STRUCT_REF = 0;
export const SKIP_STRUCT_REF = 10;
const KIND_GC = 0;
const KIND_SKIP = 1;
const KIND_ITEM = 2;
/** The item's parent key (map key) is not written: it is in a list, or a root type's list. */
const SLOT_LIST = 0;
/** The item's parent key is written: it is a map entry. */
const SLOT_MAP = 1;
/** The item takes parent and key from its origin (or right origin). */
const SLOT_INHERIT = 2;

/** One client's structs in parse order (for resolving references within the update). */
interface ClientTable {
  readonly clocks: number[];
  readonly lengths: number[];
  /** KIND_* | SLOT_* << 2 */
  readonly flags: number[];
  readonly refClients: number[];
  readonly refClocks: number[];
  /** isMapEntry's memo (MEMO_*), filled on demand. */
  readonly memo: number[];
}

/** Parses and validates a V1 update. Throws UpdateError naming the rule broken. */
export const parseUpdateV1 = (bytes: Uint8Array, options: ParseOptions = {}): ParsedUpdate => {
  const maxDepth = options.maxDepth ?? 32;
  const maxStructBytes = options.maxStructBytes ?? Number.POSITIVE_INFINITY;
  const maxClients = options.maxClients ?? Number.POSITIVE_INFINITY;
  const r = new ByteReader(bytes);
  try {
    const runs: StructRun[] = [];
    const nClients = r.varUint();
    if (nClients > maxClients)
      throw new UpdateError(`VAL-11: ${nClients} clients in the structs (at most ${maxClients})`, 'VAL-11');
    // Each client section needs at least 3 bytes (and the delete set 1): refuse impossible
    // counts before looping.
    if (nClients * 3 + 1 > r.remaining) throw new UpdateError('VAL-1: client count past end');
    const tables = new Map<number, ClientTable>();
    /** Multi-value items whose map slot is still to be decided: [client, index in its table]. */
    const candidates: number[] = [];
    const info: StructInfo = { length: 0, kind: 0, ref: 0, slot: 0, refClient: 0, refClock: 0 };
    for (let c = 0; c < nClients; c++) {
      const nStructs = r.varUint();
      const client = r.varUint();
      let clock = r.varUint();
      if (tables.has(client)) throw new UpdateError(`VAL-2: client ${client} has two struct sections`);
      if (nStructs * 2 > r.remaining) throw new UpdateError('VAL-1: struct count past end');
      const table: ClientTable = { clocks: [], lengths: [], flags: [], refClients: [], refClocks: [], memo: [] };
      tables.set(client, table);
      let run: { clock: number; length: number; structs: number; start: number } | null = null;
      for (let s = 0; s < nStructs; s++) {
        const start = r.pos;
        readStructBody(r, r.u8(), client, clock, maxDepth, info);
        if (r.pos - start > maxStructBytes) {
          throw new UpdateError(
            `VAL-10: a struct of ${r.pos - start} bytes is larger than ${maxStructBytes}`,
            'VAL-10',
          );
        }
        const length = info.length;
        if (length < 1) throw new UpdateError(`VAL-3: struct of length ${length}`);
        if (clock + length > MAX_CLOCK) throw new UpdateError('VAL-3: clock out of range');
        table.clocks.push(clock);
        table.lengths.push(length);
        table.flags.push(info.kind | (info.slot << 2));
        table.refClients.push(info.refClient);
        table.refClocks.push(info.refClock);
        if (info.kind === KIND_ITEM && length > 1 && info.ref !== 1 && info.slot !== SLOT_LIST) {
          candidates.push(client, table.clocks.length - 1);
        }
        if (info.kind === KIND_SKIP) {
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
    const deletes = readDeleteSet(r, maxClients);
    if (r.remaining !== 0) throw new UpdateError('VAL-1: trailing bytes after delete set');
    const deletedWithStructs: StructRange[] = [];
    for (let i = 0; i < candidates.length; i += 2) {
      const client = candidates[i]!;
      const table = tables.get(client)!;
      const index = candidates[i + 1]!;
      if (!isMapEntry(tables, table, index, options.isMapEntry)) continue;
      const clock = table.clocks[index]!;
      const length = table.lengths[index]!;
      if (rangeCovered(deletes.get(client), clock, length)) deletedWithStructs.push({ client, clock, length });
      else if (!options.skipMapEntryRule) {
        throw new UpdateError(`VAL-9: live map entry ${client}:${clock} holds ${length} values`);
      }
    }
    if (!options.isMapEntry) return { bytes, runs, deletes, deleteSetStart, deletedWithStructs };
    const mapEntries: StructRange[] = [];
    for (const [client, table] of tables) {
      let open: { client: number; clock: number; length: number } | null = null;
      for (let i = 0; i < table.clocks.length; i++) {
        if (!isMapEntry(tables, table, i, options.isMapEntry)) continue;
        const clock = table.clocks[i]!;
        const length = table.lengths[i]!;
        if (open && open.clock + open.length === clock) open.length += length;
        else {
          open = { client, clock, length };
          mapEntries.push(open);
        }
      }
    }
    return { bytes, runs, deletes, deleteSetStart, deletedWithStructs, mapEntries };
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    if (e instanceof ByteReaderError) throw new UpdateError(`VAL-1: ${e.message}`);
    throw e;
  }
};

/** Index of the struct of `table` that holds `clock`, or -1. */
const findStruct = (table: ClientTable, clock: number): number => {
  const { clocks, lengths } = table;
  let lo = 0;
  let hi = clocks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const start = clocks[mid]!;
    if (clock < start) hi = mid - 1;
    else if (clock >= start + lengths[mid]!) lo = mid + 1;
    else return mid;
  }
  return -1;
};

/**
 * Whether an item is a map entry, following origins (as yjs does: an item with an origin takes
 * its parent and key from it, else from its right origin) through this update. References that
 * reach a Skip or a GC (the item then becomes a GC itself) or go round in a circle count as "no";
 * those that leave the update are answered by `heldMapEntry` ("no" without it). Results are
 * memoised, so all calls together walk each struct once.
 */
const isMapEntry = (
  tables: ReadonlyMap<number, ClientTable>,
  table: ClientTable,
  index: number,
  heldMapEntry: ((client: number, clock: number) => boolean) | undefined,
): boolean => {
  const path: Array<[ClientTable, number]> = [];
  let t = table;
  let i = index;
  let answer: number = MEMO_NO;
  for (;;) {
    const memo = t.memo[i] ?? MEMO_UNKNOWN;
    if (memo === MEMO_YES || memo === MEMO_NO) {
      answer = memo;
      break;
    }
    if (memo === MEMO_VISITING) break; // a circle: "no"
    const flags = t.flags[i]!;
    if ((flags & 3) !== KIND_ITEM) break;
    const slot = (flags >> 2) & 3;
    if (slot !== SLOT_INHERIT) {
      answer = slot === SLOT_MAP ? MEMO_YES : MEMO_NO;
      break;
    }
    t.memo[i] = MEMO_VISITING;
    path.push([t, i]);
    const refClient = t.refClients[i]!;
    const refClock = t.refClocks[i]!;
    const next = tables.get(refClient);
    const j = next ? findStruct(next, refClock) : -1;
    if (!next || j < 0) {
      // The reference leaves the update: ask the caller what it holds there.
      if (heldMapEntry?.(refClient, refClock)) answer = MEMO_YES;
      break;
    }
    t = next;
    i = j;
  }
  for (const [pt, pi] of path) pt.memo[pi] = answer;
  return answer === MEMO_YES;
};
const MEMO_UNKNOWN = 0;
const MEMO_VISITING = 1;
const MEMO_YES = 2;
const MEMO_NO = 3;

/** True when the sorted ranges cover [clock, clock + length). */
const rangeCovered = (ranges: readonly DeleteRange[] | undefined, clock: number, length: number): boolean => {
  if (!ranges) return false;
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const d = ranges[mid]!;
    if (clock < d.clock) hi = mid - 1;
    else if (clock >= d.clock + d.length) lo = mid + 1;
    // Ranges may be adjacent (VAL-7 allows it): extend across touching ones.
    else {
      let end = d.clock + d.length;
      for (let k = mid + 1; end < clock + length && k < ranges.length && ranges[k]!.clock === end; k++) {
        end += ranges[k]!.length;
      }
      return end >= clock + length;
    }
  }
  return false;
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

/** Reads an ID; returns its client and stores its clock in `idClock` (no allocation). */
const readId = (r: ByteReader, client: number, clock: number, what: string): number => {
  const refClient = r.varUint();
  const refClock = r.varUint();
  if (refClient === client && refClock >= clock) {
    throw new UpdateError(`VAL-6: ${what} ${refClient}:${refClock} is not below the item's own clock ${clock}`);
  }
  idClock = refClock;
  return refClient;
};
let idClock = 0;

const readJsonString = (r: ByteReader, maxDepth: number, allowUndefined: boolean): void => {
  const text = decodeUtf8(r.varString().bytes);
  if (allowUndefined && text === 'undefined') return;
  if (!isBoundedJson(text, maxDepth)) throw new UpdateError('VAL-5: invalid or too deeply nested JSON');
};

/** Reads one struct after its info byte into `out`. */
const readStructBody = (
  r: ByteReader,
  info: number,
  client: number,
  clock: number,
  maxDepth: number,
  out: StructInfo,
): void => {
  const ref = info & 0x1f;
  out.ref = ref;
  out.slot = SLOT_LIST;
  out.refClient = 0;
  out.refClock = 0;
  if (ref === GC_STRUCT_REF || ref === SKIP_STRUCT_REF) {
    out.kind = ref === GC_STRUCT_REF ? KIND_GC : KIND_SKIP;
    out.length = r.varUint();
    return;
  }
  if (ref > SKIP_STRUCT_REF) throw new UpdateError(`VAL-4: unknown content ref ${ref}`);
  out.kind = KIND_ITEM;
  if (info & 0x80) {
    out.refClient = readId(r, client, clock, 'origin');
    out.refClock = idClock;
    out.slot = SLOT_INHERIT;
  }
  if (info & 0x40) {
    const rightClient = readId(r, client, clock, 'right origin');
    if (out.slot !== SLOT_INHERIT) {
      out.refClient = rightClient;
      out.refClock = idClock;
      out.slot = SLOT_INHERIT;
    }
  }
  if ((info & 0xc0) === 0) {
    const parentInfo = r.varUint();
    if (parentInfo === 1) r.varString();
    else if (parentInfo === 0) readId(r, client, clock, 'parent');
    else throw new UpdateError(`VAL-1: parent info ${parentInfo}`);
    if (info & 0x20) {
      r.varString();
      out.slot = SLOT_MAP;
    }
  }
  out.length = readContent(r, ref, maxDepth);
};

/** Reads an item's content; returns its clock length. */
const readContent = (r: ByteReader, ref: number, maxDepth: number): number => {
  switch (ref) {
    case 1: // Deleted
      return r.varUint();
    case 2: {
      // JSON
      const n = r.varUint();
      if (n > r.remaining) throw new UpdateError('VAL-1: JSON count past end');
      for (let i = 0; i < n; i++) readJsonString(r, maxDepth, true);
      return n;
    }
    case 3: // Binary
      r.varBytes();
      return 1;
    case 4: // String
      return r.varString().utf16Length;
    case 5: // Embed
      readJsonString(r, maxDepth, false);
      return 1;
    case 6: // Format
      r.varString();
      readJsonString(r, maxDepth, false);
      return 1;
    case 7: {
      // Type
      const typeRef = r.varUint();
      if (typeRef > 6) throw new UpdateError(`VAL-4: unknown type ref ${typeRef}`);
      if (typeRef === 3 || typeRef === 5) r.varString(); // XmlElement / XmlHook name
      return 1;
    }
    case 8: {
      // Any
      const n = r.varUint();
      if (n > r.remaining) throw new UpdateError('VAL-1: Any count past end');
      for (let i = 0; i < n; i++) readAny(r, maxDepth);
      return n;
    }
    case 9: // Doc: guid + options
      r.varString();
      readDocOptions(r, maxDepth);
      return 1;
    default:
      throw new UpdateError(`VAL-4: unknown content ref ${ref}`);
  }
};

/** VAL-8: the options of a sub-document (yjs writes `{ gc?: false, autoLoad?: true, meta? }`). */
const readDocOptions = (r: ByteReader, maxDepth: number): void => {
  if (r.u8() !== ANY_OBJECT) throw new UpdateError('VAL-8: sub-document options are not an object');
  const n = r.varUint();
  if (n * 2 > r.remaining) throw new UpdateError('VAL-1: object size past end');
  for (let i = 0; i < n; i++) {
    const key = r.string();
    if (key === 'meta') readAny(r, maxDepth - 1);
    else if (key === 'gc' || key === 'autoLoad' || key === 'shouldLoad') {
      const t = r.u8();
      if (t !== ANY_TRUE && t !== ANY_FALSE)
        throw new UpdateError(`VAL-8: sub-document option ${key} is not a boolean`);
    } else {
      // The key is update content of any length: it is not put in the message (which is logged).
      throw new UpdateError(`VAL-8: unknown sub-document option (a key of ${key.length} characters)`);
    }
  }
};
const ANY_OBJECT = 118;
const ANY_TRUE = 120;
const ANY_FALSE = 121;

/**
 * Validates one lib0 `any` value. `depthLeft` is how many more arrays/objects may nest (the same
 * count as jsonNestingDepth: a value of depth `maxDepth` passes, one deeper fails).
 */
const readAny = (r: ByteReader, depthLeft: number): void => {
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
      if (depthLeft <= 0) throw new UpdateError('VAL-5: Any value nested too deeply');
      const n = r.varUint();
      if (n * 2 > r.remaining) throw new UpdateError('VAL-1: object size past end');
      for (let i = 0; i < n; i++) {
        r.varString();
        readAny(r, depthLeft - 1);
      }
      return;
    }
    case 117: {
      if (depthLeft <= 0) throw new UpdateError('VAL-5: Any value nested too deeply');
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

const readDeleteSet = (r: ByteReader, maxClients: number): Map<number, DeleteRange[]> => {
  const deletes = new Map<number, DeleteRange[]>();
  const n = r.varUint();
  if (n > maxClients) throw new UpdateError(`VAL-11: ${n} clients in the delete set (at most ${maxClients})`, 'VAL-11');
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

/** The most Yjs clients `p` names: among its struct sections, or among its delete set (VAL-11). */
export const clientsIn = (p: ParsedUpdate): number =>
  Math.max(new Set(p.runs.map((r) => r.client)).size, p.deletes.size);

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
 * Splits a parsed update into valid V1 updates of at most `maxBytes` each, which applied in any
 * order give the same document as the original. Struct runs are cut at struct boundaries (V1
 * structs are position independent: their clock is implied by the section's start clock); runs
 * of one client that share a piece are joined with a Skip (a client has one section per update,
 * VAL-2). Deletions go in pieces of their own, except those VAL-9 requires next to their
 * structs. A single struct (or delete range) larger than `maxBytes` becomes a piece on its own:
 * it cannot be cut, so the frame limit must allow the largest struct. With `maxClients`, no piece
 * names more Yjs clients than that among its struct sections, nor among its delete set (VAL-11:
 * what a relay accepts in one update, UP-1).
 */
export const splitUpdateV1 = (
  p: ParsedUpdate,
  maxBytes: number,
  maxClients: number = Number.POSITIVE_INFINITY,
): Uint8Array[] => {
  if (p.bytes.length <= maxBytes && clientsIn(p) <= maxClients) return [p.bytes];
  const pieces: Uint8Array[] = [];
  const coDeleted = new Map<number, StructRange[]>();
  for (const d of p.deletedWithStructs) {
    const list = coDeleted.get(d.client);
    if (list) list.push(d);
    else coDeleted.set(d.client, [d]);
  }

  // The piece being filled. Sizes are upper bounds of the encoded bytes.
  let sections: Section[] = [];
  // The clients of `sections` (a scan of them per run made an update of 200,000 one-struct
  // clients take 43 s to split).
  let sectionClients = new Set<number>();
  let pieceDeletes: StructRange[] = [];
  let size = PIECE_OVERHEAD;
  const flush = (): void => {
    if (sections.length === 0) return;
    pieces.push(encodePiece(sections, pieceDeletes));
    sections = [];
    sectionClients = new Set();
    pieceDeletes = [];
    size = PIECE_OVERHEAD;
  };
  /** Adds structs [start, end) of `client` from `clock` to the piece, flushing first if needed. */
  const add = (client: number, clock: number, endClock: number, structs: number, start: number, end: number): void => {
    const dels = coDeletedIn(coDeleted.get(client), clock, endClock);
    const last = sections[sections.length - 1];
    const joins = last !== undefined && last.client === client && last.endClock <= clock;
    const cost = (joins ? SKIP_BYTES : SECTION_OVERHEAD) + (end - start) + dels.length * CO_DELETE_BYTES;
    const newClientFull = !joins && (sectionClients.has(client) || sectionClients.size >= maxClients);
    if (sections.length > 0 && (size + cost > maxBytes || newClientFull)) {
      flush();
      add(client, clock, endClock, structs, start, end);
      return;
    }
    if (joins) {
      if (clock > last.endClock) {
        last.chunks.push(skipStruct(clock - last.endClock));
        last.structs++;
      }
      last.chunks.push(p.bytes.subarray(start, end));
      last.structs += structs;
      last.endClock = endClock;
    } else {
      sections.push({ client, clock, endClock, structs, chunks: [p.bytes.subarray(start, end)] });
      sectionClients.add(client);
    }
    pieceDeletes.push(...dels);
    size += cost;
  };

  const info: StructInfo = { length: 0, kind: 0, ref: 0, slot: 0, refClient: 0, refClock: 0 };
  for (const run of p.runs) {
    const runEnd = run.clock + run.length;
    const runDels = coDeletedIn(coDeleted.get(run.client), run.clock, runEnd);
    if (PIECE_OVERHEAD + SECTION_OVERHEAD + run.end - run.start + runDels.length * CO_DELETE_BYTES <= maxBytes) {
      add(run.client, run.clock, runEnd, run.structs, run.start, run.end); // fits, here or in the next piece
      continue;
    }
    // Cut the run at struct boundaries: fill what is left of this piece, then whole pieces.
    const coClocks = new Set(runDels.map((d) => d.clock));
    const roomHere = (): number => {
      const last = sections[sections.length - 1];
      if (last !== undefined && last.client === run.client) return maxBytes - size - SKIP_BYTES;
      if (sectionClients.has(run.client) || sectionClients.size >= maxClients) return 0;
      return maxBytes - size - SECTION_OVERHEAD;
    };
    let room = roomHere();
    const r = new ByteReader(p.bytes);
    r.pos = run.start;
    let clock = run.clock;
    let partStart = run.start;
    let partClock = run.clock;
    let partStructs = 0;
    let partCost = 0;
    while (r.pos < run.end) {
      const structStart = r.pos;
      readStructBody(r, r.u8(), run.client, clock, Number.POSITIVE_INFINITY, info);
      const cost = r.pos - structStart + (coClocks.has(clock) ? CO_DELETE_BYTES : 0);
      if (partCost + cost > room && (partStructs > 0 || sections.length > 0)) {
        if (partStructs > 0) add(run.client, partClock, clock, partStructs, partStart, structStart);
        flush();
        room = maxBytes - PIECE_OVERHEAD - SECTION_OVERHEAD;
        partStart = structStart;
        partClock = clock;
        partStructs = 0;
        partCost = 0;
      }
      partStructs++;
      partCost += cost;
      clock += info.length;
    }
    add(run.client, partClock, clock, partStructs, partStart, run.end);
  }
  flush();

  // Deletions: whole clients per piece, ranges cut when one client alone is too big.
  let ds: Array<[number, DeleteRange[]]> = [];
  let dsSize = PIECE_OVERHEAD;
  const flushDs = (): void => {
    if (ds.length === 0) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0); // no structs
    writeDeletes(e, ds);
    pieces.push(encoding.toUint8Array(e));
    ds = [];
    dsSize = PIECE_OVERHEAD;
  };
  for (const [client, ranges] of p.deletes) {
    for (let i = 0; i < ranges.length;) {
      if (ds.length > 0 && (dsSize + DS_CLIENT_BYTES + DS_RANGE_BYTES > maxBytes || ds.length >= maxClients)) flushDs();
      const room = Math.max(1, Math.floor((maxBytes - dsSize - DS_CLIENT_BYTES) / DS_RANGE_BYTES));
      const part = ranges.slice(i, i + room);
      ds.push([client, part]);
      dsSize += DS_CLIENT_BYTES + part.length * DS_RANGE_BYTES;
      i += part.length;
    }
  }
  flushDs();
  return pieces;
};

/**
 * RATE-1's count of Yjs clients for a piece of `splitUpdateV1`, read from its first bytes: a
 * piece with struct sections deletes only within its own sections' clients (VAL-9's co-deleted
 * ranges), and a piece of deletions has no sections. For any other update it is a lower bound.
 */
export const splitPieceClients = (piece: Uint8Array): number => {
  const r = new ByteReader(piece);
  try {
    const sections = r.varUint();
    return sections > 0 ? sections : r.varUint();
  } catch {
    return 0;
  }
};

/**
 * CONCAT-1: merges updates whose structs do not overlap without decoding a single struct. Each
 * client's runs are laid end to end in clock order, with a Skip over each gap (as Y.mergeUpdates
 * writes one), and the delete sets are united (sorted, overlapping and touching ranges joined,
 * VAL-7). V1 structs are position independent (a struct's clock is implied by its section's
 * start clock and the lengths before it), so the bytes of every run are copied as they are.
 *
 * The result, applied to any replica, does what applying the parts does, and what
 * Y.mergeUpdates(parts) does. Its bytes differ from the latter's where Y would join adjacent GC
 * structs, and where a part encoded a value other than the way lib0 writes it (a longer varint,
 * a float64 that fits a float32): Y re-encodes, this copies. Y.mergeUpdates decodes and
 * re-encodes every struct (about 9 µs per chat message here); this costs a copy of the bytes.
 * Null when two parts hold the same clock of a client: Y.mergeUpdates must then drop the
 * duplicate.
 */
export const concatUpdatesV1 = (parts: readonly ParsedUpdate[]): Uint8Array | null => {
  if (parts.length === 1) return parts[0]!.bytes;
  const runs = new Map<number, RunBytes[]>();
  const ranges = new Map<number, DeleteRange[]>();
  for (const p of parts) {
    for (const run of p.runs) addRun(runs, run, p.bytes);
    for (const [client, list] of p.deletes) {
      const into = ranges.get(client);
      // A loop, not push(...list): a spread of ~10^5 arguments overflows the stack.
      if (into) for (const d of list) into.push(d);
      else ranges.set(client, [...list]);
    }
  }
  return encodeRuns(runs, ranges);
};

/**
 * SYNC-6: what `p` holds beyond the state vector `sv`, as Y.diffUpdate(p.bytes, sv) gives it,
 * without decoding what is kept: each client's structs from sv[client] on (a run that starts
 * below it is cut at the struct boundary there, found by reading the struct headers before it),
 * copied as they are, and all of `p`'s deletions (a state vector says nothing about deletions).
 * Null when sv[client] falls inside a struct: Y.diffUpdate then slices that struct's content.
 */
export const diffUpdateV1 = (p: ParsedUpdate, sv: ReadonlyMap<number, number>): Uint8Array | null => {
  const runs = new Map<number, RunBytes[]>();
  const info: StructInfo = { length: 0, kind: 0, ref: 0, slot: 0, refClient: 0, refClock: 0 };
  for (const run of p.runs) {
    const have = sv.get(run.client) ?? 0;
    const end = run.clock + run.length;
    if (have >= end) continue;
    if (have <= run.clock) {
      addRun(runs, run, p.bytes);
      continue;
    }
    const r = new ByteReader(p.bytes);
    r.pos = run.start;
    let clock = run.clock;
    let structs = run.structs;
    while (clock < have) {
      readStructBody(r, r.u8(), run.client, clock, Number.POSITIVE_INFINITY, info);
      clock += info.length;
      structs--;
    }
    if (clock !== have) return null;
    addRun(runs, { client: run.client, clock, length: end - clock, structs, start: r.pos, end: run.end }, p.bytes);
  }
  return encodeRuns(runs, new Map([...p.deletes].map(([client, list]) => [client, [...list]])));
};

/**
 * DEDUPE-2: `p` without the struct clocks a replica already holds, wherever they lie (past a gap
 * too, not only below a state vector): `missing(client, clock, length)` names the parts of
 * [clock, clock + length) not held (sorted, disjoint; ClockRanges.missing). Each run's structs
 * inside those parts are copied as they are; a struct a held range cuts is sliced as Yjs slices
 * it (`sliceStructV1`); all of `p`'s deletions are kept (as Y.diffUpdate keeps them). Runs of a
 * client are laid out in clock order with a Skip over each gap. Held clocks are never taken from
 * a later copy: the first stored copy of a clock is the one every replica gets.
 */
export const withoutHeldV1 = (
  p: ParsedUpdate,
  missing: (client: number, clock: number, length: number) => ReadonlyArray<readonly [number, number]>,
): Uint8Array => {
  const runs = new Map<number, RunBytes[]>();
  const info: StructInfo = { length: 0, kind: 0, ref: 0, slot: 0, refClient: 0, refClock: 0 };
  for (const run of p.runs) {
    const end = run.clock + run.length;
    const keep = missing(run.client, run.clock, run.length);
    if (keep.length === 0) continue;
    if (keep.length === 1 && keep[0]![0] === run.clock && keep[0]![1] === end) {
      addRun(runs, run, p.bytes);
      continue;
    }
    // Whole structs kept one after another are copied as one stretch of bytes.
    let stretch: { clock: number; endClock: number; structs: number; start: number; end: number } | null = null;
    const flush = (): void => {
      if (!stretch) return;
      const { clock, endClock, structs, start, end: stop } = stretch;
      addRun(runs, { client: run.client, clock, length: endClock - clock, structs, start, end: stop }, p.bytes);
      stretch = null;
    };
    const r = new ByteReader(p.bytes);
    r.pos = run.start;
    let clock = run.clock;
    let k = 0;
    while (r.pos < run.end && k < keep.length) {
      const start = r.pos;
      readStructBody(r, r.u8(), run.client, clock, Number.POSITIVE_INFINITY, info);
      const structEnd = clock + info.length;
      const pieces: Array<[number, number]> = [];
      for (let i = k; i < keep.length && keep[i]![0] < structEnd; i++) {
        const from = Math.max(keep[i]![0], clock);
        const to = Math.min(keep[i]![1], structEnd);
        if (from < to) pieces.push([from, to]);
      }
      if (pieces.length === 1 && pieces[0]![0] === clock && pieces[0]![1] === structEnd) {
        if (stretch && stretch.endClock === clock) {
          stretch.endClock = structEnd;
          stretch.structs++;
          stretch.end = r.pos;
        } else {
          flush();
          stretch = { clock, endClock: structEnd, structs: 1, start, end: r.pos };
        }
      } else if (pieces.length > 0) {
        flush();
        const sliced = sliceStructV1(p.bytes.subarray(start, r.pos), run.client, clock, pieces);
        pieces.forEach(([from, to], i) => {
          const bytes = sliced[i]!;
          addRun(
            runs,
            { client: run.client, clock: from, length: to - from, structs: 1, start: 0, end: bytes.length },
            bytes,
          );
        });
      }
      while (k < keep.length && keep[k]![1] <= structEnd) k++;
      clock = structEnd;
    }
    flush();
  }
  const out = encodeRuns(runs, new Map([...p.deletes].map(([client, list]) => [client, [...list]])));
  if (!out) throw new Error('withoutHeldV1: overlapping runs'); // cannot happen: the parts are disjoint
  return out;
};

/**
 * The parts `pieces` (sorted, disjoint [from, to) clock ranges inside it) of one struct (`bytes`,
 * of `client` at `clock`), each encoded as Yjs encodes the pieces of a split struct: a GC keeps
 * its kind; a piece that starts after the struct does takes the clock before it as its origin
 * (its parent comes from there) and keeps the right origin; the first piece keeps the struct's
 * origin and parent. A string cut inside a surrogate pair gets U+FFFD on both sides of the cut,
 * as Yjs's `ContentString.splice` does. The struct is decoded once (by Yjs) and each piece's
 * content taken from it directly: cost linear in the struct and the pieces however many held
 * ranges cut it. Only structs longer than 1 are cut: GC, Deleted, JSON, String and Any contents.
 */
const sliceStructV1 = (
  bytes: Uint8Array,
  client: number,
  clock: number,
  pieces: ReadonlyArray<readonly [number, number]>,
): Uint8Array[] => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1); // one client section
  encoding.writeVarUint(e, 1); // of one struct
  encoding.writeVarUint(e, client);
  encoding.writeVarUint(e, clock);
  encoding.writeUint8Array(e, bytes);
  encoding.writeVarUint(e, 0); // no deletions
  const struct = Y.decodeUpdate(encoding.toUint8Array(e)).structs[0]!;
  return pieces.map(([from, to]) => {
    const out = new Y.UpdateEncoderV1();
    if (struct instanceof Y.Item) {
      const item = new Y.Item(
        Y.createID(client, from),
        null,
        from > clock ? Y.createID(client, from - 1) : struct.origin,
        null,
        struct.rightOrigin,
        struct.parent,
        struct.parentSub,
        contentPart(struct.content, from - clock, to - clock),
      );
      item.write(out, 0);
    } else {
      new Y.GC(Y.createID(client, from), to - from).write(out, 0);
    }
    return out.toUint8Array();
  });
};

/** Offsets [a, b) of a content of length > 1, as Yjs's splits at a and at b leave them. */
const contentPart = (c: YContent, a: number, b: number): YContent => {
  if (c instanceof Y.ContentString) {
    const str = c.str;
    let part = str.slice(a, b);
    const isHigh = (i: number): boolean => {
      const code = str.charCodeAt(i);
      return code >= 0xd800 && code <= 0xdbff;
    };
    if (a > 0 && isHigh(a - 1)) part = '\ufffd' + part.slice(1);
    if (b < str.length && isHigh(b - 1)) part = part.slice(0, -1) + '\ufffd';
    return new Y.ContentString(part);
  }
  if (c instanceof Y.ContentAny) return new Y.ContentAny(c.arr.slice(a, b));
  if (c instanceof Y.ContentJSON) return new Y.ContentJSON(c.arr.slice(a, b));
  if (c instanceof Y.ContentDeleted) return new Y.ContentDeleted(b - a);
  throw new Error(`cannot cut content ${c.constructor.name}`); // its length is 1: never cut
};

type YContent = Y.Item['content'];

interface RunBytes {
  readonly run: StructRun;
  readonly bytes: Uint8Array;
}

const addRun = (runs: Map<number, RunBytes[]>, run: StructRun, bytes: Uint8Array): void => {
  const list = runs.get(run.client);
  if (list) list.push({ run, bytes });
  else runs.set(run.client, [{ run, bytes }]);
};

/**
 * One update of the given runs (a section per client, higher clients first as yjs writes them,
 * runs in clock order with a Skip over each gap) and delete ranges (sorted, overlapping and
 * touching ranges joined); null when two runs of a client overlap. Sorts the lists in place.
 */
const encodeRuns = (runs: Map<number, RunBytes[]>, ranges: Map<number, DeleteRange[]>): Uint8Array | null => {
  const sections: Section[] = [];
  for (const client of [...runs.keys()].sort((a, b) => b - a)) {
    const list = runs.get(client)!.sort((a, b) => a.run.clock - b.run.clock);
    const first = list[0]!.run;
    const section: Section = { client, clock: first.clock, endClock: first.clock, structs: 0, chunks: [] };
    for (const { run, bytes } of list) {
      if (run.clock < section.endClock) return null;
      if (run.clock > section.endClock) {
        section.chunks.push(skipStruct(run.clock - section.endClock));
        section.structs++;
      }
      section.chunks.push(bytes.subarray(run.start, run.end));
      section.structs += run.structs;
      section.endClock = run.clock + run.length;
    }
    sections.push(section);
  }
  const deletes: StructRange[] = [];
  for (const client of [...ranges.keys()].sort((a, b) => b - a)) {
    let open: { client: number; clock: number; length: number } | null = null;
    for (const d of ranges.get(client)!.sort((a, b) => a.clock - b.clock)) {
      if (open && d.clock <= open.clock + open.length) {
        open.length = Math.max(open.length, d.clock + d.length - open.clock);
      } else {
        open = { client, clock: d.clock, length: d.length };
        deletes.push(open);
      }
    }
  }
  return encodePiece(sections, deletes);
};

/** A Skip struct of `length` clocks: its info, then the length. */
const skipStruct = (length: number): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeUint8(e, SKIP_STRUCT_REF);
  encoding.writeVarUint(e, length);
  return encoding.toUint8Array(e);
};

interface Section {
  readonly client: number;
  readonly clock: number;
  endClock: number;
  structs: number;
  readonly chunks: Uint8Array[];
}

/** Upper bounds of encoded sizes (a varUint of a safe integer takes at most 8 bytes). */
const PIECE_OVERHEAD = 16; // varUint(sections) + varUint(delete set clients)
const SECTION_OVERHEAD = 24; // varUint(structs) · varUint(client) · varUint(clock)
const SKIP_BYTES = 9; // info · varUint(length)
const DS_CLIENT_BYTES = 16; // varUint(client) · varUint(ranges)
const DS_RANGE_BYTES = 16; // varUint(clock) · varUint(length)
const CO_DELETE_BYTES = DS_CLIENT_BYTES + DS_RANGE_BYTES;

/** The entries of a client's (clock-sorted) co-deleted structs inside [clock, endClock). */
const coDeletedIn = (list: readonly StructRange[] | undefined, clock: number, endClock: number): StructRange[] =>
  list ? list.filter((d) => d.clock >= clock && d.clock < endClock) : [];

const encodePiece = (sections: readonly Section[], deletes: readonly StructRange[]): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, sections.length);
  for (const s of sections) {
    encoding.writeVarUint(e, s.structs);
    encoding.writeVarUint(e, s.client);
    encoding.writeVarUint(e, s.clock);
    for (const c of s.chunks) encoding.writeUint8Array(e, c);
  }
  const byClient = new Map<number, DeleteRange[]>();
  for (const d of deletes) {
    const list = byClient.get(d.client);
    const range = { clock: d.clock, length: d.length };
    if (list) list.push(range);
    else byClient.set(d.client, [range]);
  }
  for (const list of byClient.values()) list.sort((a, b) => a.clock - b.clock);
  writeDeletes(e, [...byClient]);
  return encoding.toUint8Array(e);
};

const writeDeletes = (e: encoding.Encoder, ds: ReadonlyArray<readonly [number, readonly DeleteRange[]]>): void => {
  encoding.writeVarUint(e, ds.length);
  for (const [client, ranges] of ds) {
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, ranges.length);
    for (const d of ranges) {
      encoding.writeVarUint(e, d.clock);
      encoding.writeVarUint(e, d.length);
    }
  }
};
