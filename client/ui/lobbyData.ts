/**
 * What the lobby shows about a room it does not have open: read from the local store only
 * (no network). `summarizeRoom` replays the room's stored updates into a throwaway Y.Doc (work
 * that grows with the room); `advanceSummary` (LOBBY-1) derives the next summary from the
 * updates a background refresh appended (work that grows with what arrived), or says it cannot.
 *
 * LOBBY-1 A summary is advanced, never recounted, only when the appended updates are exactly what
 *         changed since it was counted (the store's counters before the append equal those the
 *         summary was counted at, LOCAL-12's `before`) and they only add: no struct of theirs
 *         refers to a struct they do not bring (a new value for a key already set would), nothing
 *         older is deleted (`deletesOlder`), no message that was there is marked deleted or
 *         edited (LOBBY-3: an own one is not acked until its edit is), and no title is set when
 *         one was (two concurrent sets do not refer to each other; Yjs picks the winner); every
 *         new message sorts (ORD-1) after every message that was there, none is the parent an
 *         earlier reply was waiting for (ORD-2), and none is the last one read. Then the room's
 *         display order is the old order followed by the new messages' own order, and the counts
 *         add up. The updates are
 *         replayed into a doc that holds only placeholders (garbage-collected structs) for the
 *         clocks before theirs, so they integrate without the room. Anything else
 *         is recounted. Not seen by the rule, because only forged data does it: a new message
 *         that reuses the id of a message that was there (ids are random 128-bit) and reply
 *         cycles; the next recount (the lobby opening again) corrects them.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { ClockRanges } from '../../shared/clockRanges.js';
import { byHlcThenId, ChatRoom, isOwnReactionKey, type ChatMessage } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import { GC_STRUCT_REF, SKIP_STRUCT_REF } from '../../shared/updateV1.js';
import { arrivedSince } from '../sync/readMark.js';
import { coversItem, coversMessage, type ItemId, type MessageWrites } from '../sync/syncState.js';
import type { AppendedMissing, RoomUpdateStore } from './services.js';
import { randomBytes } from './services.js';

export interface RoomSummary {
  readonly title: string;
  readonly messages: number;
  /**
   * UNREAD-1: messages by others, not deleted, that sort after the last one read
   * (meta.lastReadMessageId) or that arrived since it was read (not covered by meta.readSv).
   */
  readonly unread: number;
  /**
   * LOBBY-3: own messages the relay had not acked (STATE-1) by the acks known when they were
   * counted; `notSentCount` tells how many are still not acked. Acks only grow, so one acked then
   * stays acked: the list can only hold more than is pending, never less.
   */
  readonly unacked: readonly MessageWrites[];
  /** LOBBY-3: the Yjs items of own reactions (STATE-5) not acked when counted, as `unacked`. */
  readonly unackedReactions: readonly ItemId[];
  /** LOBBY-3: the title's Yjs item when it was own (STATE-6) and not acked when counted, else null. */
  readonly unackedTitle: ItemId | null;
  readonly last: {
    readonly id: string;
    readonly authorName: string;
    readonly text: string;
    readonly wall: number;
    readonly deleted: boolean;
  } | null;
}

/** What LOBBY-1 needs to know about the counted room besides its summary. */
export interface SummaryBasis {
  /** The message that sorts last by HLC then id (ORD-1), if any. */
  readonly maxByHlc: Pick<ChatMessage, 'id' | 'hlc'> | null;
  /** The last read message was found (or none is set): unread counts from there. */
  readonly readFound: boolean;
  /** Ids that replies point to but that are not in the room (yet); may also hold ids that are. */
  readonly awaitedParents: ReadonlySet<string>;
  /** A title was ever set: a new one without a reference to it is a concurrent set, won by Yjs's rule. */
  readonly titleSet: boolean;
}

export interface CountedRoom {
  readonly summary: RoomSummary;
  /** Null when it was not kept (LOBBY-2: too large to persist): such a summary is never advanced. */
  readonly basis: SummaryBasis | null;
  /** The store's counters for the room (LOCAL-6) in the snapshot that was counted. */
  readonly at: { readonly updates: number; readonly bytes: number };
}

const lastOf = (m: ChatMessage | undefined): RoomSummary['last'] =>
  m ? { id: m.id, authorName: m.authorName, text: m.text, wall: m.wall, deleted: m.deleted } : null;

/** Messages by others, not deleted: what counts as unread. */
const countsAsUnread = (m: ChatMessage, selfId: string): boolean => m.authorId !== selfId && !m.deleted;

const writesOf = (m: ChatMessage): MessageWrites => ({ yId: m.yId, editYId: m.editYId });

/** LOBBY-3: what of a room the relay has not acked, by kind, and in all (`count`). */
export interface NotSent {
  readonly count: number;
  readonly messages: number;
  readonly reactions: number;
  readonly title: boolean;
}

/**
 * LOBBY-3: the room's own writes the relay has not acked, by `acked` (the room's sync meta now,
 * `decodeSyncState`): what the room screen counts as pending, messages (STATE-1), reactions
 * (STATE-5) and the title (STATE-6).
 */
export const notSent = (summary: RoomSummary, acked: ReadonlyMap<number, number>): NotSent => {
  const messages = summary.unacked.reduce((n, m) => (coversMessage(acked, m) ? n : n + 1), 0);
  const reactions = summary.unackedReactions.reduce((n, r) => (coversItem(acked, r) ? n : n + 1), 0);
  const title = summary.unackedTitle !== null && !coversItem(acked, summary.unackedTitle);
  return { count: messages + reactions + (title ? 1 : 0), messages, reactions, title };
};

/** LOBBY-3: `notSent`'s `count`. */
export const notSentCount = (summary: RoomSummary, acked: ReadonlyMap<number, number>): number =>
  notSent(summary, acked).count;

/** LOBBY-3: the Yjs items of `chat`'s reactions by `selfId` that `acked` does not cover (STATE-5's own keys). */
const ownReactionsNotAcked = (chat: ChatRoom, selfId: string, acked: ReadonlyMap<number, number>): ItemId[] => {
  const out: ItemId[] = [];
  for (const key of chat.reactionsMap.keys()) {
    if (!isOwnReactionKey(key, selfId)) continue;
    const yId = chat.reactionYId(key);
    if (yId && !coversItem(acked, yId)) out.push(yId);
  }
  return out;
};

/** LOBBY-3: the title's Yjs item when it is `selfId`'s (STATE-6) and `acked` does not cover it. */
const ownTitleNotAcked = (chat: ChatRoom, selfId: string, acked: ReadonlyMap<number, number>): ItemId | null => {
  const yId = chat.ownTitleYId(selfId);
  return yId && !coversItem(acked, yId) ? yId : null;
};

const chatOf = (doc: Y.Doc): ChatRoom => new ChatRoom(doc, new HybridClock('lobby', () => Date.now()), randomBytes);

/**
 * The struct ranges `appended` bring, or null when one of their items refers (origin, right
 * origin or parent) to a struct they do not bring.
 */
const selfContained = (appended: readonly Uint8Array[]): ClockRanges | null => {
  const decoded = appended.map((u) => Y.decodeUpdate(u).structs);
  const brought = new ClockRanges();
  for (const structs of decoded) {
    for (const s of structs) if (!(s instanceof Y.Skip)) brought.add(s.id.client, s.id.clock, s.length);
  }
  const inside = (id: Y.ID | null): boolean => id === null || brought.covers(id.client, id.clock, 1);
  for (const structs of decoded) {
    for (const s of structs) {
      if (!(s instanceof Y.Item)) continue;
      const parent = s.parent instanceof Y.ID ? s.parent : null;
      if (!inside(s.origin) || !inside(s.rightOrigin) || !inside(parent)) return null;
    }
  }
  return brought;
};

/**
 * A V1 update of placeholders: for every client of `brought`, garbage-collected structs over the
 * clocks before and between its ranges, the ranges themselves skipped, so the brought structs
 * find their clocks' predecessors and integrate.
 */
const placeholdersFor = (brought: ClockRanges): Uint8Array => {
  const sections: Array<{ client: number; structs: Array<[number, number]> }> = [];
  for (const client of brought.clients()) {
    const structs: Array<[number, number]> = [];
    let at = 0;
    for (const [start, end] of brought.ranges(client)) {
      if (start > at) structs.push([GC_STRUCT_REF, start - at]);
      structs.push([SKIP_STRUCT_REF, end - start]);
      at = end;
    }
    structs.pop();
    if (structs.length > 0) sections.push({ client, structs });
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, sections.length);
  for (const { client, structs } of sections) {
    encoding.writeVarUint(e, structs.length);
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, 0);
    for (const [info, length] of structs) {
      encoding.writeUint8(e, info);
      encoding.writeVarUint(e, length);
    }
  }
  encoding.writeVarUint(e, 0);
  return encoding.toUint8Array(e);
};

/**
 * The full count: replays every stored update of the room. `acked` is the relay's acks known
 * for the room (its sync meta, read no later than now): own messages they cover are not kept
 * in `unacked`.
 */
export const summarizeRoom = async (
  store: RoomUpdateStore,
  room: string,
  lastReadMessageId: string | undefined,
  selfId: string,
  acked: ReadonlyMap<number, number>,
  readSv: ReadonlyMap<number, number> | null = null,
): Promise<CountedRoom> => {
  const { updates, bytes, recorded } = await store.load(room);
  const doc = new Y.Doc();
  try {
    doc.transact(() => {
      for (const u of updates) {
        try {
          Y.applyUpdate(doc, u);
        } catch {
          // A damaged row: summarise what is readable (the room session reports the damage).
        }
      }
    });
    const chat = chatOf(doc);
    const messages = chat.messages();
    const readAt = lastReadMessageId === undefined ? -1 : messages.findIndex((m) => m.id === lastReadMessageId);
    const readFound = readAt >= 0 || lastReadMessageId === undefined;
    let unread = 0;
    if (readFound) {
      // UNREAD-1: before the last read one, only what arrived since it was read (written offline,
      // sorting by its time); the lobby's catch-up stores such messages without the room.
      if (readSv !== null && readAt > 0) {
        for (let i = 0; i < readAt; i++) {
          const m = messages[i]!;
          if (countsAsUnread(m, selfId) && arrivedSince(readSv, m.yId)) unread++;
        }
      }
      for (let i = readAt + 1; i < messages.length; i++) if (countsAsUnread(messages[i]!, selfId)) unread++;
    }
    const ids = new Set(messages.map((m) => m.id));
    const awaitedParents = new Set<string>();
    const unacked: MessageWrites[] = [];
    let maxByHlc: ChatMessage | null = null;
    for (const m of messages) {
      if (m.replyTo !== null && m.replyTo !== m.id && !ids.has(m.replyTo)) awaitedParents.add(m.replyTo);
      if (!maxByHlc || byHlcThenId(m, maxByHlc) > 0) maxByHlc = m;
      if (m.authorId === selfId && !coversMessage(acked, m)) unacked.push(writesOf(m));
    }
    return {
      summary: {
        title: chat.title(),
        messages: messages.length,
        unread,
        unacked,
        unackedReactions: ownReactionsNotAcked(chat, selfId, acked),
        unackedTitle: ownTitleNotAcked(chat, selfId, acked),
        last: lastOf(messages.at(-1)),
      },
      basis: { maxByHlc, readFound, awaitedParents, titleSet: chat.meta.has('title') },
      at: recorded ?? { updates: updates.length, bytes },
    };
  } finally {
    doc.destroy();
  }
};

/**
 * LOBBY-1: `counted` advanced by what `appendMissing` stored; null when the room must be
 * recounted (also when the append did not follow the counted snapshot directly).
 */
export const advanceSummary = (
  counted: CountedRoom,
  stored: AppendedMissing,
  lastReadMessageId: string | undefined,
  selfId: string,
): CountedRoom | null => {
  const { appended, before, deletesOlder } = stored;
  if (
    counted.basis === null ||
    deletesOlder ||
    before.updates !== counted.at.updates ||
    before.bytes !== counted.at.bytes
  )
    return null;
  const { summary } = counted;
  const basis = counted.basis;
  const doc = new Y.Doc();
  try {
    try {
      const brought = selfContained(appended);
      if (!brought) return null;
      doc.transact(() => {
        Y.applyUpdate(doc, placeholdersFor(brought));
        for (const u of appended) Y.applyUpdate(doc, u);
      });
    } catch {
      return null;
    }
    if (doc.store.pendingStructs !== null) return null;
    const chat = chatOf(doc);
    const fresh = chat.messages();
    const freshIds = new Set(fresh.map((m) => m.id));
    for (const id of chat.deletedMap.keys()) if (!freshIds.has(id)) return null;
    // An edit of a message that was there changes its text if it is the last one shown, and its
    // STATE-1 state if it is own (LOBBY-3: not acked until its edit is); which are own is not kept.
    for (const key of chat.edits.keys()) if (!freshIds.has(key.slice(0, key.indexOf('@')))) return null;
    if (lastReadMessageId !== undefined && freshIds.has(lastReadMessageId)) return null;
    const titleSet = chat.meta.has('title');
    if (titleSet && basis.titleSet) return null;
    let maxByHlc = basis.maxByHlc;
    const awaitedParents = new Set(basis.awaitedParents);
    let unread = summary.unread;
    const unacked = [...summary.unacked];
    for (const m of fresh) {
      if (basis.maxByHlc && byHlcThenId(m, basis.maxByHlc) <= 0) return null;
      if (basis.awaitedParents.has(m.id)) return null;
      if (basis.readFound && countsAsUnread(m, selfId)) unread++;
      // LOBBY-3: the relay sent it, but only its ack makes it saved (STATE-1): kept, as a recount would.
      if (m.authorId === selfId) unacked.push(writesOf(m));
      if (m.replyTo !== null && m.replyTo !== m.id && !freshIds.has(m.replyTo)) awaitedParents.add(m.replyTo);
      if (!maxByHlc || byHlcThenId(m, maxByHlc) > 0) maxByHlc = m;
    }
    // LOBBY-3: as for a message, only an ack makes them saved; `fresh`'s doc holds only the new keys.
    const noAcks = new Map<number, number>();
    return {
      summary: {
        title: titleSet ? chat.title() : summary.title,
        messages: summary.messages + fresh.length,
        unread,
        unacked,
        unackedReactions: [...summary.unackedReactions, ...ownReactionsNotAcked(chat, selfId, noAcks)],
        unackedTitle: titleSet ? ownTitleNotAcked(chat, selfId, noAcks) : summary.unackedTitle,
        last: fresh.length > 0 ? lastOf(fresh.at(-1)) : summary.last,
      },
      basis: { maxByHlc, readFound: basis.readFound, awaitedParents, titleSet: titleSet || basis.titleSet },
      at: {
        updates: before.updates + appended.length,
        bytes: before.bytes + appended.reduce((n, u) => n + u.byteLength, 0),
      },
    };
  } finally {
    doc.destroy();
  }
};
