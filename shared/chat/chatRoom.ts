/**
 * The chat model on a Yjs document: one Y.Doc per room (CHAT-1..CHAT-7 in docs/SPEC.md).
 *
 * Layout (all top-level Y.Maps, so any replica can read any part without the others):
 * - `messages`  id → MessageRecord (plain JSON, immutable once sent except for CHAT-5)
 * - `edits`     `${id}@${hlc}` → text: every edit; the text shown is the edit with the
 *               greatest HLC (CHAT-4: last writer wins by HLC, not by Yjs client id)
 * - `deleted`   id → hlc of the delete (CHAT-5: tombstone; the record's text and all edits are
 *               removed from the document, so the text is gone, not hidden)
 * - `reactions` `${id}|${userId}|${emoji}` → true; removing the key un-reacts (CHAT-6)
 * - `meta`      'title' → string (CHAT-7); 'titleBy' → the id of the user who set it, written in
 *               the same transaction (STATE-6: whose title change is pending; CHAT-9: whose
 *               rename lost to a concurrent one)
 *
 * Data from other replicas is untrusted: records that do not validate are ignored, never thrown
 * on, and text is only ever data (the UI renders it as text, never as HTML).
 */
import * as Y from 'yjs';
import { compareHlc, decodeHlc, encodeHlc, type Hlc, type HybridClock } from './hlc.js';
import { isId, newId, type RandomBytes } from '../ids.js';
import { utf8Length } from '../utf8Length.js';

/** CHAT-2: longest message text, in characters (UTF-16 code units, what a textarea counts). */
export const TEXT_LIMIT = 4000;
export const TITLE_LIMIT = 120;
export const NAME_LIMIT = 64;
export const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'] as const;

export interface Identity {
  /** Stable per browser profile (not per tab); 26-char id. */
  readonly id: string;
  readonly name: string;
}

/** What is stored for a message; validated on read. */
export interface MessageRecord {
  readonly id: string;
  readonly authorId: string;
  readonly authorName: string;
  readonly text: string;
  readonly hlc: string;
  /** The sender's wall clock when sending (for the lab's wall-clock order). */
  readonly wall: number;
  readonly replyTo?: string;
  /**
   * CHAT-8: present only when this message's HLC sorts below a message its sender's replica
   * displayed when sending it (HLC-3 refused that one's timestamp as too far ahead): the id of
   * the greatest such message. The sender had seen it, so this message shown before it breaks
   * causality; LAB-5 and CHK-7 show that. Absent in the normal case, which HLC-1 keeps causal,
   * so it costs nothing there.
   */
  readonly after?: string;
}

export interface ChatMessage {
  readonly id: string;
  readonly authorId: string;
  readonly authorName: string;
  /** Current text ('' when deleted). */
  readonly text: string;
  readonly hlc: Hlc;
  readonly wall: number;
  readonly replyTo: string | null;
  /** CHAT-8: `MessageRecord.after`, null when absent. */
  readonly after: string | null;
  readonly edited: boolean;
  readonly deleted: boolean;
  /** emoji → user ids, in a stable order. */
  readonly reactions: ReadonlyArray<{ emoji: string; users: readonly string[] }>;
  /** The Yjs id of the stored record: for "saved" (relay ack) and "seen" (peers' state vectors). */
  readonly yId: { readonly client: number; readonly clock: number } | null;
  /**
   * The Yjs id of the edit whose text is shown, null when none: an edited message is saved (seen)
   * only once this edit is too (STATE-1), not merely its first version.
   */
  readonly editYId: { readonly client: number; readonly clock: number } | null;
}

export class ChatError extends Error {
  constructor(
    readonly code: 'empty' | 'too-long' | 'not-found' | 'not-yours' | 'deleted' | 'bad-reaction',
    message: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

/**
 * STRUCT-1: bytes a message's largest struct (its record: text, author name, ids, HLC, reply)
 * takes beyond its text's UTF-8, at most: 412 measured with a 64-character name of 3-byte
 * letters and a reply. The tests check the bound, and that `Limits.clientStructBytes` is
 * `3 × TEXT_LIMIT` plus this.
 */
export const TEXT_STRUCT_OVERHEAD = 512;

/**
 * STRUCT-1: the reason a message or edit of `text` cannot go through a relay passing on structs
 * of at most `maxStructBytes` (VAL-10, from its /config.json), or null when it can. Refused when
 * written, the text stays a draft; stored, the relay would refuse the room's upload for good.
 */
export const validateTextSize = (text: string, maxStructBytes: number): ChatError | null => {
  const bytes = utf8Length(text);
  const room = textByteLimit(maxStructBytes);
  if (bytes <= room) return null;
  return new ChatError(
    'too-long',
    `This relay passes on messages of at most ${room} bytes; this one takes ${bytes} (a letter outside basic Latin takes 2 or 3 bytes, an emoji 4). Shorten it or send it in parts.`,
  );
};

/** STRUCT-1: the most UTF-8 bytes a message's text may take through a relay passing on structs of `maxStructBytes`. */
export const textByteLimit = (maxStructBytes: number): number => Math.max(0, maxStructBytes - TEXT_STRUCT_OVERHEAD);

/** CHAT-6: the key of `userId`'s reaction `emoji` to message `id`. */
export const reactionKey = (id: string, userId: string, emoji: string): string => `${id}|${userId}|${emoji}`;

/**
 * CHAT-6: the parts of a key of the `reactions` map, null when the room does not show it (a part
 * missing, an emoji not in REACTIONS). Parts after the third are ignored, as every version does.
 */
export const parseReactionKey = (key: string): { id: string; userId: string; emoji: string } | null => {
  const [id, userId, emoji] = key.split('|');
  if (!id || !userId || !emoji || !(REACTIONS as readonly string[]).includes(emoji)) return null;
  return { id, userId, emoji };
};

/**
 * STATE-5: whether `key` is `userId`'s reaction exactly as `react` writes it (only forged data
 * writes one another way: it is not claimed as theirs).
 */
export const isOwnReactionKey = (key: string, userId: string): boolean => {
  const parts = parseReactionKey(key);
  return parts !== null && parts.userId === userId && key === reactionKey(parts.id, parts.userId, parts.emoji);
};

/**
 * What shows nothing: white space and the code points Unicode says to render invisibly when not
 * supported otherwise (zero-width spaces and joiners, direction marks, soft hyphens, …).
 */
const INVISIBLE = /[\s\p{Default_Ignorable_Code_Point}]/gu;

/** CHAT-2: the reason a text cannot be sent, or null when it can. */
export const validateText = (text: string): ChatError | null => {
  // A text of only zero-width spaces was sent, and shown as a message with no text.
  if (text.replace(INVISIBLE, '').length === 0) return new ChatError('empty', 'A message cannot be empty.');
  if (text.length > TEXT_LIMIT) {
    return new ChatError(
      'too-long',
      `A message can have at most ${TEXT_LIMIT} characters (this one has ${text.length}).`,
    );
  }
  return null;
};

/** A stored record that validates, and its decoded HLC; null when it does not validate. */
const parseRecordAndHlc = (id: string, v: unknown): [MessageRecord, Hlc] | null => {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (r.id !== id || !isId(id) || !isId(r.authorId)) return null;
  if (typeof r.authorName !== 'string' || typeof r.text !== 'string' || typeof r.wall !== 'number') return null;
  if (r.text.length > TEXT_LIMIT) return null;
  const hlc = decodeHlc(r.hlc);
  if (hlc === null) return null;
  if (r.replyTo !== undefined && !isId(r.replyTo)) return null;
  const rec: MessageRecord = {
    id,
    authorId: r.authorId,
    authorName: r.authorName.slice(0, NAME_LIMIT),
    text: r.text,
    hlc: r.hlc as string,
    wall: r.wall,
    ...(r.replyTo !== undefined ? { replyTo: r.replyTo } : {}),
    // A hint for the lab, not part of what the room shows: one that is not an id is dropped, not
    // the message (versions that ignore the field show it, and replicas must agree, LAB-4).
    ...(isId(r.after) ? { after: r.after } : {}),
  };
  return [rec, hlc];
};

const parseRecord = (id: string, v: unknown): MessageRecord | null => parseRecordAndHlc(id, v)?.[0] ?? null;

const NO_REACTIONS: ChatMessage['reactions'] = Object.freeze([]);

/** ORD-1: by HLC, ties by message id (the comparison `orderMessages` sorts with). */
export const byHlcThenId = (a: Pick<ChatMessage, 'id' | 'hlc'>, b: Pick<ChatMessage, 'id' | 'hlc'>): number =>
  compareHlc(a.hlc, b.hlc) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Index of `m` in `sorted` (ordered by byHlcThenId), or where it would go. */
const lowerBound = (sorted: readonly ChatMessage[], m: Pick<ChatMessage, 'id' | 'hlc'>): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byHlcThenId(sorted[mid]!, m) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** Above this many changed messages in one batch the sorted list is merged, not spliced. */
const SPLICE_LIMIT = 32;

/** A stored message record, parsed once per Yjs item (a new value is a new item). */
interface Entry {
  readonly item: Y.Item;
  readonly rec: MessageRecord | null;
  readonly hlc: Hlc | null;
  /** The current message (null when the record does not validate). */
  msg: ChatMessage | null;
}

/**
 * What `messages()` derives from the document, kept up to date per changed key (built on the
 * first read; afterwards every transaction's changed keys are collected and applied on the next
 * read, so a change costs work proportional to what it touched).
 */
/** A valid edit and the Yjs id of the map entry holding it. */
interface Edit {
  readonly hlc: Hlc;
  readonly text: string;
  readonly yId: { readonly client: number; readonly clock: number };
}

interface Derived {
  readonly entries: Map<string, Entry>;
  /** message id → edit key → valid edit. */
  readonly edits: Map<string, Map<string, Edit>>;
  /** message id → valid reaction key → [user, emoji]. */
  readonly reactions: Map<string, Map<string, readonly [string, string]>>;
  /** Every valid message, by HLC then id. */
  sorted: ChatMessage[];
  /** parent id → ids of valid replies to it (self-replies excluded). */
  readonly kids: Map<string, Set<string>>;
  /** Replies whose parent is here and sorts after them: the only places ORD-2 reorders. */
  readonly inverted: Set<string>;
  /** Display order, the same array until something changes; null when stale. */
  order: readonly ChatMessage[] | null;
  readonly dirtyIds: Set<string>;
  readonly dirtyEdits: Set<string>;
  readonly dirtyReactions: Set<string>;
}

const sameReactions = (a: ChatMessage['reactions'], b: ChatMessage['reactions']): boolean =>
  a.length === b.length &&
  a.every((r, i) => {
    const o = b[i]!;
    return r.emoji === o.emoji && r.users.length === o.users.length && r.users.every((u, j) => u === o.users[j]);
  });

export class ChatRoom {
  readonly messagesMap: Y.Map<unknown>;
  readonly edits: Y.Map<unknown>;
  readonly deletedMap: Y.Map<unknown>;
  readonly reactionsMap: Y.Map<unknown>;
  readonly meta: Y.Map<unknown>;
  private derived: Derived | null = null;

  constructor(
    readonly doc: Y.Doc,
    private readonly clock: HybridClock,
    private readonly randomBytes: RandomBytes,
    /** The sender's wall clock for `MessageRecord.wall` (the lab skews it: LAB-3). */
    private readonly wallNow: () => number = Date.now,
  ) {
    this.messagesMap = doc.getMap('messages');
    this.edits = doc.getMap('edits');
    this.deletedMap = doc.getMap('deleted');
    this.reactionsMap = doc.getMap('reactions');
    this.meta = doc.getMap('meta');
    // Before any observer runs, so a read from an observer sees the whole transaction.
    doc.on('beforeObserverCalls', (tr: Y.Transaction) => this.collect(tr));
  }

  /**
   * CHAT-1: sends a message; throws ChatError (nothing changes) when the text is refused.
   * `shownMax`: the greatest message (by HLC, then id) the caller's replica displays, for CHAT-8
   * (the caller keeps it as messages come: finding it here would be a pass over every message).
   */
  send(
    author: Identity,
    text: string,
    opts: { replyTo?: string; shownMax?: Pick<ChatMessage, 'id' | 'hlc'> | null } = {},
  ): MessageRecord {
    const err = validateText(text);
    if (err) throw err;
    if (opts.replyTo !== undefined && !this.messagesMap.has(opts.replyTo)) {
      throw new ChatError('not-found', 'The message you reply to does not exist.');
    }
    const id = newId(this.randomBytes);
    const hlc = this.clock.tick();
    const max = opts.shownMax;
    const after = max && byHlcThenId({ id, hlc }, max) < 0 ? max.id : undefined;
    const record: MessageRecord = {
      id,
      authorId: author.id,
      authorName: author.name.slice(0, NAME_LIMIT),
      text,
      hlc: encodeHlc(hlc),
      wall: Math.floor(this.wallNow()),
      ...(opts.replyTo !== undefined ? { replyTo: opts.replyTo } : {}),
      ...(after !== undefined ? { after } : {}),
    };
    this.messagesMap.set(record.id, record);
    return record;
  }

  /** CHAT-4: edit own message (last writer by HLC wins). */
  edit(author: Identity, id: string, text: string): void {
    const rec = this.ownRecord(author, id);
    const err = validateText(text);
    if (err) throw err;
    if (rec.text === text && this.editsOf(id).length === 0) return;
    this.edits.set(`${id}@${encodeHlc(this.clock.tick())}`, text);
  }

  /** CHAT-5: delete own message: a tombstone, and the text is removed from the document. */
  remove(author: Identity, id: string): void {
    const rec = this.ownRecord(author, id);
    this.doc.transact(() => {
      this.deletedMap.set(id, encodeHlc(this.clock.tick()));
      this.messagesMap.set(id, { ...rec, text: '' });
      for (const key of this.editsOf(id).map((e) => e.key)) this.edits.delete(key);
    });
  }

  /** CHAT-6: add or remove this user's reaction. */
  react(author: Identity, id: string, emoji: string, on: boolean): void {
    if (!(REACTIONS as readonly string[]).includes(emoji)) throw new ChatError('bad-reaction', 'Unknown reaction.');
    if (!this.messagesMap.has(id)) throw new ChatError('not-found', 'No such message.');
    const key = reactionKey(id, author.id, emoji);
    if (on) this.reactionsMap.set(key, true);
    else this.reactionsMap.delete(key);
  }

  /**
   * The Yjs id of the value the reaction `key` holds now (each set is a new item), null when the
   * key is not set: what the relay's acks must cover for the reaction to be on the relay (STATE-5).
   */
  reactionYId(key: string): { readonly client: number; readonly clock: number } | null {
    const item = this.reactionsMap._map.get(key);
    return item && !item.deleted ? { client: item.id.client, clock: item.id.clock } : null;
  }

  /** CHAT-7: `author` sets the room's title; `titleBy` names them (STATE-6), written right after it. */
  setTitle(author: Identity, title: string): void {
    this.doc.transact(() => {
      this.meta.set('title', title.trim().slice(0, TITLE_LIMIT));
      this.meta.set('titleBy', author.id);
    });
  }

  /**
   * STATE-6: the Yjs id of the title value the room shows when `userId` set it (what the relay's
   * acks must cover for the title change to be on the relay), else null: no title, another user's,
   * or one set without `titleBy`. Written in one transaction, `titleBy` is the item right after
   * the title's (the same client, the next clock); a `titleBy` left by an earlier set, or the
   * other half of a concurrent set that won only one of the two keys, does not match.
   */
  ownTitleYId(userId: string): { readonly client: number; readonly clock: number } | null {
    const title = this.meta._map.get('title');
    const by = this.meta._map.get('titleBy');
    if (!title || title.deleted || !by || by.deleted || this.meta.get('titleBy') !== userId) return null;
    if (by.id.client !== title.id.client || by.id.clock !== title.id.clock + title.length) return null;
    return { client: title.id.client, clock: title.id.clock };
  }

  /**
   * CHAT-9: what became of the title value whose Yjs id is `id` (one `setTitle` made):
   * - 'shown': the room shows it;
   * - 'replaced': a later rename replaced it, made by someone whose replica held it (the new
   *   value's Yjs origin is it, or a value after it);
   * - 'lost': a rename made without seeing it (at the same time, or while apart) won the key
   *   (CHAT-7: the higher Yjs client id), so nobody may ever have seen it;
   * - 'unknown': this replica does not hold it.
   * Walks the key's values from the newest: as many as the room has had titles. Deleted values
   * keep their ids and origins (Yjs garbage-collects only their content), also across encoding.
   */
  titleFate(id: { readonly client: number; readonly clock: number }): 'shown' | 'replaced' | 'lost' | 'unknown' {
    const holds = (item: Y.Item, ref: Y.ID | null): boolean =>
      ref !== null &&
      ref.client === item.id.client &&
      ref.clock >= item.id.clock &&
      ref.clock < item.id.clock + item.length;
    const newer: Y.Item[] = [];
    for (let item = this.meta._map.get('title') ?? null; item; item = item.left) {
      if (holds(item, Y.createID(id.client, id.clock))) {
        if (!item.deleted) return 'shown';
        return newer.some((n) => holds(item, n.origin)) ? 'replaced' : 'lost';
      }
      newer.push(item);
    }
    return 'unknown';
  }

  title(): string {
    const t = this.meta.get('title');
    return typeof t === 'string' ? t.slice(0, TITLE_LIMIT) : '';
  }

  record(id: string): MessageRecord | null {
    return parseRecord(id, this.messagesMap.get(id));
  }

  /** Every valid message, in display order (ORD-1, ORD-2: `orderMessages`). A new array per call. */
  messages(): ChatMessage[] {
    return this.orderedMessages().slice();
  }

  /**
   * `messages()` without the copy: the same array (and the same message objects) until the
   * document changes, so a caller can tell by identity what changed. Do not modify it.
   */
  orderedMessages(): readonly ChatMessage[] {
    const d = this.refresh();
    if (!d.order) d.order = displayOrder(d);
    return d.order;
  }

  /**
   * STRUCT-4: every text the document holds for message `id`, each a struct of its own: its
   * record's and every edit's (an edit adds one; only a delete removes them, CHAT-5).
   */
  storedTexts(id: string): string[] {
    const texts: string[] = [];
    const rec = this.record(id);
    if (rec) texts.push(rec.text);
    for (const { key } of this.editsOf(id)) {
      const text = this.edits.get(key);
      if (typeof text === 'string') texts.push(text);
    }
    return texts;
  }

  private ownRecord(author: Identity, id: string): MessageRecord {
    const rec = this.record(id);
    if (!rec) throw new ChatError('not-found', 'No such message.');
    if (rec.authorId !== author.id) throw new ChatError('not-yours', 'You can only change your own messages.');
    if (this.deletedMap.has(id)) throw new ChatError('deleted', 'This message was deleted.');
    return rec;
  }

  private editsOf(id: string): Array<{ key: string }> {
    const out: Array<{ key: string }> = [];
    for (const key of this.edits.keys()) if (key.startsWith(id + '@')) out.push({ key });
    return out;
  }

  // ---------------------------------------------------------------- derived state

  /** Notes the keys a transaction changed (once `derived` exists). */
  private collect(tr: Y.Transaction): void {
    const d = this.derived;
    if (!d) return;
    const add = (type: Y.Map<unknown>, into: Set<string>): void => {
      const keys = tr.changed.get(type as unknown as Y.AbstractType<Y.YEvent<Y.Map<unknown>>>);
      if (keys) for (const k of keys) if (k !== null) into.add(k);
    };
    add(this.messagesMap, d.dirtyIds);
    add(this.deletedMap, d.dirtyIds);
    add(this.edits, d.dirtyEdits);
    add(this.reactionsMap, d.dirtyReactions);
  }

  /** The derived state, current with the document (also inside a transaction or an observer). */
  private refresh(): Derived {
    if (!this.derived) {
      this.derived = this.build();
      return this.derived;
    }
    const d = this.derived;
    // Transactions not yet through their observer calls (a read inside `transact` or an observer).
    for (const tr of this.doc._transactionCleanups) this.collect(tr);
    if (d.dirtyIds.size === 0 && d.dirtyEdits.size === 0 && d.dirtyReactions.size === 0) return d;

    for (const key of d.dirtyEdits) {
      const id = this.applyEdit(d, key);
      if (id !== null) d.dirtyIds.add(id);
    }
    d.dirtyEdits.clear();
    for (const key of d.dirtyReactions) {
      const id = this.applyReaction(d, key);
      if (id !== null) d.dirtyIds.add(id);
    }
    d.dirtyReactions.clear();

    const ids = [...d.dirtyIds];
    d.dirtyIds.clear();
    const removed: ChatMessage[] = [];
    const added: ChatMessage[] = [];
    const replaced: Array<[ChatMessage, ChatMessage]> = [];
    const relink: Array<{ id: string; before: ChatMessage | null; after: ChatMessage | null }> = [];
    for (const id of ids) {
      const item = this.messagesMap._map.get(id);
      const old = d.entries.get(id);
      const before = old?.msg ?? null;
      let entry: Entry | undefined = old;
      if (!item || item.deleted) {
        d.entries.delete(id);
        entry = undefined;
      } else if (!old || old.item !== item) {
        entry = this.parse(id, item);
        d.entries.set(id, entry);
      }
      const after = entry?.rec ? this.message(d, entry, before) : null;
      if (entry) entry.msg = after;
      if (before === after) continue;
      if (before && after && byHlcThenId(before, after) === 0) replaced.push([before, after]);
      else {
        if (before) removed.push(before);
        if (after) added.push(after);
      }
      if (before?.replyTo !== after?.replyTo || !before || !after || byHlcThenId(before, after) !== 0) {
        relink.push({ id, before, after });
      }
    }
    if (replaced.length + removed.length + added.length === 0) return d;

    const sorted = d.sorted;
    for (const [before, after] of replaced) sorted[lowerBound(sorted, before)] = after;
    if (removed.length + added.length <= SPLICE_LIMIT) {
      for (const m of removed) sorted.splice(lowerBound(sorted, m), 1);
      for (const m of added) sorted.splice(lowerBound(sorted, m), 0, m);
    } else {
      const gone = new Set(removed);
      const kept = gone.size > 0 ? sorted.filter((m) => !gone.has(m)) : sorted;
      d.sorted = merge(kept, added.sort(byHlcThenId));
    }

    // ORD-2 bookkeeping: reply links, and which replies sort before their parent.
    const recheck = new Set<string>();
    for (const { id, before, after } of relink) {
      if (before?.replyTo != null && before.replyTo !== id) d.kids.get(before.replyTo)?.delete(id);
      if (after?.replyTo != null && after.replyTo !== id) {
        let set = d.kids.get(after.replyTo);
        if (!set) d.kids.set(after.replyTo, (set = new Set()));
        set.add(id);
      }
      if (before?.replyTo != null && d.kids.get(before.replyTo)?.size === 0) d.kids.delete(before.replyTo);
      recheck.add(id);
      for (const k of d.kids.get(id) ?? []) recheck.add(k);
    }
    for (const id of recheck) {
      const m = d.entries.get(id)?.msg;
      const parent = m?.replyTo != null && m.replyTo !== id ? d.entries.get(m.replyTo)?.msg : null;
      if (m && parent && byHlcThenId(parent, m) > 0) d.inverted.add(id);
      else d.inverted.delete(id);
    }
    d.order = null;
    return d;
  }

  /** Everything from scratch (the first read). */
  private build(): Derived {
    const d: Derived = {
      entries: new Map(),
      edits: new Map(),
      reactions: new Map(),
      sorted: [],
      kids: new Map(),
      inverted: new Set(),
      order: null,
      dirtyIds: new Set(),
      dirtyEdits: new Set(),
      dirtyReactions: new Set(),
    };
    for (const key of this.edits.keys()) this.applyEdit(d, key);
    for (const key of this.reactionsMap.keys()) this.applyReaction(d, key);
    const sorted: ChatMessage[] = [];
    for (const [id, item] of this.messagesMap._map) {
      if (item.deleted) continue;
      const entry = this.parse(id, item);
      d.entries.set(id, entry);
      if (!entry.rec) continue;
      const m = this.message(d, entry, null);
      entry.msg = m;
      sorted.push(m);
      if (m.replyTo !== null && m.replyTo !== id) {
        let set = d.kids.get(m.replyTo);
        if (!set) d.kids.set(m.replyTo, (set = new Set()));
        set.add(id);
      }
    }
    d.sorted = sorted.sort(byHlcThenId);
    for (const [parentId, kids] of d.kids) {
      const parent = d.entries.get(parentId)?.msg;
      if (!parent) continue;
      for (const k of kids) if (byHlcThenId(parent, d.entries.get(k)!.msg!) > 0) d.inverted.add(k);
    }
    return d;
  }

  /** Takes in the edit stored under `key` (or its absence); the message id it is for, or null. */
  private applyEdit(d: Derived, key: string): string | null {
    const at = key.indexOf('@');
    if (at < 0) return null;
    const id = key.slice(0, at);
    const value = this.edits.get(key);
    const item = this.edits._map.get(key);
    const hlc = decodeHlc(key.slice(at + 1));
    let byKey = d.edits.get(id);
    if (hlc && item && typeof value === 'string' && value.length <= TEXT_LIMIT) {
      if (!byKey) d.edits.set(id, (byKey = new Map<string, Edit>()));
      byKey.set(key, { hlc, text: value, yId: { client: item.id.client, clock: item.id.clock } });
    } else if (byKey?.delete(key) && byKey.size === 0) d.edits.delete(id);
    return id;
  }

  /** Takes in the reaction stored under `key` (or its absence); the message id it is for, or null. */
  private applyReaction(d: Derived, key: string): string | null {
    const parts = parseReactionKey(key);
    if (!parts) return null;
    const { id, userId: user, emoji } = parts;
    let byKey = d.reactions.get(id);
    if (this.reactionsMap.has(key)) {
      if (!byKey) d.reactions.set(id, (byKey = new Map<string, readonly [string, string]>()));
      byKey.set(key, [user, emoji]);
    } else if (byKey?.delete(key) && byKey.size === 0) d.reactions.delete(id);
    return id;
  }

  private parse(id: string, item: Y.Item): Entry {
    const content = item.content.getContent();
    const parsed = parseRecordAndHlc(id, content[content.length - 1]);
    return parsed ? { item, rec: parsed[0], hlc: parsed[1], msg: null } : { item, rec: null, hlc: null, msg: null };
  }

  /** The message of a valid entry; `prev` (the entry's previous message) when nothing differs. */
  private message(d: Derived, entry: Entry, prev: ChatMessage | null): ChatMessage {
    const rec = entry.rec!;
    const id = rec.id;
    const deleted = this.deletedMap.has(id);
    const edits = d.edits.get(id);
    let text = rec.text;
    let best: Edit | null = null;
    if (edits) for (const e of edits.values()) if (!best || compareHlc(best.hlc, e.hlc) < 0) best = e;
    if (best) text = best.text;
    let reactions = NO_REACTIONS;
    const keys = d.reactions.get(id);
    if (keys) {
      const byEmoji = new Map<string, string[]>();
      for (const [user, emoji] of keys.values()) {
        const users = byEmoji.get(emoji);
        if (users) users.push(user);
        else byEmoji.set(emoji, [user]);
      }
      reactions = REACTIONS.filter((e) => byEmoji.has(e)).map((emoji) => ({
        emoji,
        users: byEmoji.get(emoji)!.sort(),
      }));
    }
    text = deleted ? '' : text;
    const edited = !deleted && edits !== undefined && edits.size > 0;
    const item = entry.item;
    const editYId = best?.yId ?? null;
    if (
      prev &&
      prev.yId?.client === item.id.client &&
      prev.yId.clock === item.id.clock &&
      prev.editYId?.client === editYId?.client &&
      prev.editYId?.clock === editYId?.clock &&
      prev.text === text &&
      prev.edited === edited &&
      prev.deleted === deleted &&
      sameReactions(prev.reactions, reactions)
    ) {
      return prev;
    }
    return {
      id,
      authorId: rec.authorId,
      authorName: rec.authorName,
      text,
      hlc: entry.hlc!,
      wall: rec.wall,
      replyTo: rec.replyTo ?? null,
      after: rec.after ?? null,
      edited,
      deleted,
      reactions,
      yId: { client: item.id.client, clock: item.id.clock },
      editYId,
    };
  }
}

/** Two lists sorted by byHlcThenId, merged. */
const merge = (a: readonly ChatMessage[], b: readonly ChatMessage[]): ChatMessage[] => {
  const out = new Array<ChatMessage>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = byHlcThenId(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
};

/**
 * `orderMessages(d.sorted)`, computed from the few messages ORD-2 can move. Only a reply whose
 * parent sorts after it (`inverted`), and replies under such a reply, can wait for their parent;
 * every other message is placed at its own turn, with no effect on the rest. So the algorithm of
 * `orderMessages` runs over those messages and their parents only, and the runs of other
 * messages between them are copied as they are.
 */
const displayOrder = (d: Derived): readonly ChatMessage[] => {
  const sorted = d.sorted;
  if (d.inverted.size === 0) return sorted.slice();
  const msgOf = (id: string): ChatMessage | null => d.entries.get(id)?.msg ?? null;
  const movable = new Set<string>();
  const stack = [...d.inverted];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (movable.has(id) || !msgOf(id)) continue;
    movable.add(id);
    for (const k of d.kids.get(id) ?? []) stack.push(k);
  }
  const involved = new Set(movable);
  for (const id of movable) {
    const p = msgOf(id)!.replyTo;
    if (p !== null && p !== id && msgOf(p)) involved.add(p);
  }
  const list = [...involved].map((id) => msgOf(id)!).sort(byHlcThenId);

  const out: ChatMessage[] = [];
  const placed = new Set<string>();
  const waiting = new Map<string, ChatMessage[]>();
  const place = (m: ChatMessage): void => {
    if (placed.has(m.id)) return; // forged reply cycles: each message appears once
    out.push(m);
    placed.add(m.id);
    const kids = waiting.get(m.id);
    if (kids) {
      waiting.delete(m.id);
      for (const k of kids) place(k);
    }
  };
  let at = 0;
  for (const m of list) {
    const pos = lowerBound(sorted, m);
    while (at < pos) out.push(sorted[at++]!);
    at = pos + 1;
    if (movable.has(m.id) && m.replyTo !== null && msgOf(m.replyTo) && !placed.has(m.replyTo) && m.replyTo !== m.id) {
      const wait = waiting.get(m.replyTo) ?? [];
      wait.push(m);
      waiting.set(m.replyTo, wait);
    } else place(m);
  }
  while (at < sorted.length) out.push(sorted[at++]!);
  for (const wait of waiting.values()) for (const m of wait) if (!placed.has(m.id)) place(m);
  return out;
};

/**
 * ORD-1: display order is by HLC, ties broken by message id: a total order every replica
 * computes identically from the same messages. ORD-2: a reply is never shown before the message
 * it answers (HLC-1 guarantees it unless HLC-3 refused a far-future parent; then the reply is
 * placed right after its parent).
 */
export const orderMessages = <M extends Pick<ChatMessage, 'id' | 'hlc' | 'replyTo'>>(messages: M[]): M[] => {
  const byHlc = [...messages].sort((a, b) => compareHlc(a.hlc, b.hlc) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ids = new Set(byHlc.map((m) => m.id));
  const placed = new Set<string>();
  const waiting = new Map<string, M[]>();
  const out: M[] = [];
  const place = (m: M): void => {
    if (placed.has(m.id)) return; // forged reply cycles: each message appears once
    out.push(m);
    placed.add(m.id);
    const kids = waiting.get(m.id);
    if (kids) {
      waiting.delete(m.id);
      for (const k of kids) place(k);
    }
  };
  for (const m of byHlc) {
    if (m.replyTo !== null && ids.has(m.replyTo) && !placed.has(m.replyTo) && m.replyTo !== m.id) {
      const list = waiting.get(m.replyTo) ?? [];
      list.push(m);
      waiting.set(m.replyTo, list);
    } else place(m);
  }
  // Cycles (only possible with forged data) are placed by HLC at the end.
  for (const list of waiting.values()) for (const m of list) if (!placed.has(m.id)) place(m);
  return out;
};
