/**
 * LOBBY-2: a counted room summary as kept in the room's meta (`RoomMeta.lobby`, JSON), so the
 * lobby's first count of a room after a page load is a read, not a replay.
 *
 * A record is used only when it says it describes exactly what is asked: the same format
 * version, room, identity (unread counts depend on who is reading), read mark (last-read message
 * and, by its digest, read state vector: UNREAD-1), and the
 * store counters (LOCAL-6) the room has now. Every write to a room's rows, by any tab, changes
 * its counters; a record is written with `setMetaIf` (LOCAL-13) over the counters it was counted
 * at, so it is never stored beside rows it was not counted from. Anything else — no record,
 * another format, a field of the wrong type, other counters — is not a summary: the room is
 * recounted. Only the fields are read, never evaluated or rendered as HTML.
 *
 * The basis LOBBY-1 advances from is kept too, so a restored summary advances like a counted
 * one. All of it is bounded except `awaitedParents` (ids replies point to that are not in the
 * room, normally none): above `MAX_AWAITED_PARENTS` the record keeps no basis, and the restored
 * summary is shown but never advanced (the next change recounts it); and the own messages not
 * acked and the own reactions not acked (LOBBY-3, normally none): above `MAX_UNACKED` of either no
 * record is written. So a record is small and
 * bounded: about 0.5 KB for a room of short messages, at most a few KB (the last message's text,
 * ≤ 4,000 characters by the chat model, and 64 ids); `listRooms` reads it with the room's meta.
 *
 * Trusted as far as its shape: only this app writes it, and a record that does not parse or has
 * a field of the wrong type is ignored. Not seen: a well-formed record someone edited by hand
 * with the right counters (the device's owner can edit what the device shows anyway), and a
 * room whose counters came back to exactly the values it was counted at (LOCAL-6's counters are
 * not a version: appends only raise them, but a compaction sets them to what remains) — which
 * needs a compaction, in an opened room, that leaves exactly as many rows and bytes as were
 * counted, with other content; the in-page kept summaries have always relied on the same
 * counters.
 */
import type { RoomCounters } from '../storage/roomUpdateStore.js';
import type { ItemId, MessageWrites } from '../sync/syncState.js';
import type { CountedRoom, RoomSummary, SummaryBasis } from './lobbyData.js';

/** Bumped whenever the record or the meaning of a summary changes: older records are recounted. */
export const SUMMARY_FORMAT = 4;

/** The most awaited parent ids a record keeps its basis with. */
export const MAX_AWAITED_PARENTS = 64;

/**
 * LOBBY-3: the most own messages not acked (`RoomSummary.unacked`), and the most own reactions not
 * acked (`unackedReactions`), a record is written with; beyond, none is written (dropping some
 * would under-count), and the next page load recounts.
 */
export const MAX_UNACKED = 256;

/** What a record must have been counted for to be used. */
export interface SummaryKey {
  readonly room: string;
  readonly selfId: string;
  readonly lastRead: string | undefined;
  /** The read state vector (`RoomMeta.readSv`, UNREAD-1) the unread count was counted with. */
  readonly readSv?: string | undefined;
  readonly at: RoomCounters;
}

interface StoredRecord {
  readonly v: number;
  readonly room: string;
  readonly self: string;
  readonly read: string | null;
  /** `readSvDigest` of the key's `readSv` (one entry per Yjs client: not kept whole), null when none. */
  readonly readSv: string | null;
  readonly at: RoomCounters;
  readonly summary: Omit<RoomSummary, 'unacked' | 'unackedReactions' | 'unackedTitle'> & {
    /** `[client, clock, editClient, editClock]`, the edit's -1 when unedited; a null record id as -1 too. */
    readonly unacked: ReadonlyArray<readonly [number, number, number, number]>;
    /** `[client, clock]` of each. */
    readonly unackedReactions: ReadonlyArray<readonly [number, number]>;
    readonly unackedTitle: readonly [number, number] | null;
  };
  readonly basis: {
    readonly maxByHlc: { readonly id: string; readonly hlc: { wall: number; counter: number; node: string } } | null;
    readonly readFound: boolean;
    readonly awaitedParents: readonly string[];
    readonly titleSet: boolean;
  } | null;
}

const NONE = -1;

/**
 * A 64-bit digest of a read state vector (two FNV-1a 32 passes with different offsets): the
 * record matches the read mark by it, as it matches the rows by their counters.
 */
export const readSvDigest = (text: string | undefined): string | null => {
  if (text === undefined) return null;
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193) >>> 0;
  }
  return `${a.toString(16).padStart(8, '0')}${b.toString(16).padStart(8, '0')}${text.length.toString(16)}`;
};

/** The record of `counted`, counted for `key` (its `at` is `counted.at`); null when too large to keep. */
export const toSummaryRecord = (counted: CountedRoom, key: Omit<SummaryKey, 'at'>): string | null => {
  const { basis, summary } = counted;
  if (summary.unacked.length > MAX_UNACKED || summary.unackedReactions.length > MAX_UNACKED) return null;
  const record: StoredRecord = {
    v: SUMMARY_FORMAT,
    room: key.room,
    self: key.selfId,
    read: key.lastRead ?? null,
    readSv: readSvDigest(key.readSv),
    at: { updates: counted.at.updates, bytes: counted.at.bytes },
    summary: {
      title: summary.title,
      messages: summary.messages,
      unread: summary.unread,
      unacked: summary.unacked.map(({ yId, editYId }) => [
        yId?.client ?? NONE,
        yId?.clock ?? NONE,
        editYId?.client ?? NONE,
        editYId?.clock ?? NONE,
      ]),
      unackedReactions: summary.unackedReactions.map(({ client, clock }) => [client, clock]),
      unackedTitle: summary.unackedTitle && [summary.unackedTitle.client, summary.unackedTitle.clock],
      last: summary.last && { ...summary.last },
    },
    basis:
      basis === null || basis.awaitedParents.size > MAX_AWAITED_PARENTS
        ? null
        : {
            maxByHlc: basis.maxByHlc && { id: basis.maxByHlc.id, hlc: { ...basis.maxByHlc.hlc } },
            readFound: basis.readFound,
            awaitedParents: [...basis.awaitedParents],
            titleSet: basis.titleSet,
          },
  };
  return JSON.stringify(record);
};

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isStr = (x: unknown): x is string => typeof x === 'string';

const lastOf = (x: unknown): RoomSummary['last'] | undefined => {
  if (x === null) return null;
  if (!isObj(x) || !isStr(x.id) || !isStr(x.authorName) || !isStr(x.text) || typeof x.deleted !== 'boolean') {
    return undefined;
  }
  if (typeof x.wall !== 'number' || !Number.isFinite(x.wall)) return undefined;
  return { id: x.id, authorName: x.authorName, text: x.text, wall: x.wall, deleted: x.deleted };
};

/** An item id, `undefined` when the pair is neither one nor (NONE, NONE). */
const itemOf = (client: unknown, clock: unknown): ItemId | null | undefined => {
  if (client === NONE && clock === NONE) return null;
  return isCount(client) && isCount(clock) ? { client, clock } : undefined;
};

const unackedOf = (x: unknown, messages: number): MessageWrites[] | undefined => {
  if (!Array.isArray(x) || x.length > Math.min(MAX_UNACKED, messages)) return undefined;
  const out: MessageWrites[] = [];
  for (const w of x as unknown[]) {
    if (!Array.isArray(w) || w.length !== 4) return undefined;
    const yId = itemOf(w[0], w[1]);
    const editYId = itemOf(w[2], w[3]);
    if (yId === undefined || editYId === undefined) return undefined;
    out.push({ yId, editYId });
  }
  return out;
};

/** `[client, clock]` pairs, at most MAX_UNACKED; `undefined` when not that. */
const itemsOf = (x: unknown): ItemId[] | undefined => {
  if (!Array.isArray(x) || x.length > MAX_UNACKED) return undefined;
  const out: ItemId[] = [];
  for (const w of x as unknown[]) {
    if (!Array.isArray(w) || w.length !== 2 || !isCount(w[0]) || !isCount(w[1])) return undefined;
    out.push({ client: w[0], clock: w[1] });
  }
  return out;
};

/** A `[client, clock]` pair or null; `undefined` when neither. */
const titleItemOf = (x: unknown): ItemId | null | undefined => (x === null ? null : itemsOf([x])?.[0]);

const summaryOf = (x: unknown): RoomSummary | undefined => {
  if (!isObj(x) || !isStr(x.title) || !isCount(x.messages) || !isCount(x.unread) || x.unread > x.messages) {
    return undefined;
  }
  const last = lastOf(x.last);
  const unacked = unackedOf(x.unacked, x.messages);
  const unackedReactions = itemsOf(x.unackedReactions);
  const unackedTitle = titleItemOf(x.unackedTitle);
  if (last === undefined || unacked === undefined || (last === null) !== (x.messages === 0)) return undefined;
  if (unackedReactions === undefined || unackedTitle === undefined) return undefined;
  return { title: x.title, messages: x.messages, unread: x.unread, unacked, unackedReactions, unackedTitle, last };
};

const maxOf = (x: unknown): SummaryBasis['maxByHlc'] | undefined => {
  if (x === null) return null;
  if (!isObj(x) || !isStr(x.id) || !isObj(x.hlc)) return undefined;
  const { wall, counter, node } = x.hlc;
  if (!isCount(wall) || !isCount(counter) || !isStr(node)) return undefined;
  return { id: x.id, hlc: { wall, counter, node } };
};

/** `null` is a record kept without its basis; `undefined` is not a valid basis. */
const basisOf = (x: unknown): SummaryBasis | null | undefined => {
  if (x === null) return null;
  if (!isObj(x) || typeof x.readFound !== 'boolean' || typeof x.titleSet !== 'boolean') return undefined;
  const maxByHlc = maxOf(x.maxByHlc);
  const parents = x.awaitedParents;
  if (maxByHlc === undefined || !Array.isArray(parents) || parents.length > MAX_AWAITED_PARENTS) return undefined;
  if (!parents.every(isStr)) return undefined;
  return { maxByHlc, readFound: x.readFound, awaitedParents: new Set(parents), titleSet: x.titleSet };
};

/**
 * The summary `text` (a `RoomMeta.lobby`) holds, when it was counted for exactly `key`; else
 * null (the room must be recounted).
 */
export const fromSummaryRecord = (text: string | undefined, key: SummaryKey): CountedRoom | null => {
  if (text === undefined) return null;
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(x) || x.v !== SUMMARY_FORMAT || x.room !== key.room || x.self !== key.selfId) return null;
  if (x.read !== (key.lastRead ?? null) || x.readSv !== readSvDigest(key.readSv)) return null;
  if (!isObj(x.at) || x.at.updates !== key.at.updates || x.at.bytes !== key.at.bytes) return null;
  const summary = summaryOf(x.summary);
  const basis = basisOf(x.basis);
  if (summary === undefined || basis === undefined) return null;
  return { summary, basis, at: { updates: key.at.updates, bytes: key.at.bytes } };
};
