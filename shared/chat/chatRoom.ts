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
 * - `meta`      'title' → string (CHAT-7)
 *
 * Data from other replicas is untrusted: records that do not validate are ignored, never thrown
 * on, and text is only ever data (the UI renders it as text, never as HTML).
 */
import * as Y from 'yjs';
import { compareHlc, decodeHlc, encodeHlc, type Hlc, type HybridClock } from './hlc.js';
import { isId, newId, type RandomBytes } from '../ids.js';

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
  readonly edited: boolean;
  readonly deleted: boolean;
  /** emoji → user ids, in a stable order. */
  readonly reactions: ReadonlyArray<{ emoji: string; users: readonly string[] }>;
  /** The Yjs id of the stored record: for "saved" (relay ack) and "seen" (peers' state vectors). */
  readonly yId: { readonly client: number; readonly clock: number } | null;
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

/** CHAT-2: the reason a text cannot be sent, or null when it can. */
export const validateText = (text: string): ChatError | null => {
  if (text.trim().length === 0) return new ChatError('empty', 'A message cannot be empty.');
  if (text.length > TEXT_LIMIT) {
    return new ChatError(
      'too-long',
      `A message can have at most ${TEXT_LIMIT} characters (this one has ${text.length}).`,
    );
  }
  return null;
};

const parseRecord = (id: string, v: unknown): MessageRecord | null => {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (r.id !== id || !isId(id) || !isId(r.authorId)) return null;
  if (typeof r.authorName !== 'string' || typeof r.text !== 'string' || typeof r.wall !== 'number') return null;
  if (r.text.length > TEXT_LIMIT || decodeHlc(r.hlc) === null) return null;
  if (r.replyTo !== undefined && !isId(r.replyTo)) return null;
  return {
    id,
    authorId: r.authorId,
    authorName: r.authorName.slice(0, NAME_LIMIT),
    text: r.text,
    hlc: r.hlc as string,
    wall: r.wall,
    ...(r.replyTo !== undefined ? { replyTo: r.replyTo } : {}),
  };
};

export class ChatRoom {
  readonly messagesMap: Y.Map<unknown>;
  readonly edits: Y.Map<unknown>;
  readonly deletedMap: Y.Map<unknown>;
  readonly reactionsMap: Y.Map<unknown>;
  readonly meta: Y.Map<unknown>;

  constructor(
    readonly doc: Y.Doc,
    private readonly clock: HybridClock,
    private readonly randomBytes: RandomBytes,
  ) {
    this.messagesMap = doc.getMap('messages');
    this.edits = doc.getMap('edits');
    this.deletedMap = doc.getMap('deleted');
    this.reactionsMap = doc.getMap('reactions');
    this.meta = doc.getMap('meta');
  }

  /** CHAT-1: sends a message; throws ChatError (nothing changes) when the text is refused. */
  send(author: Identity, text: string, opts: { replyTo?: string } = {}): MessageRecord {
    const err = validateText(text);
    if (err) throw err;
    if (opts.replyTo !== undefined && !this.messagesMap.has(opts.replyTo)) {
      throw new ChatError('not-found', 'The message you reply to does not exist.');
    }
    const record: MessageRecord = {
      id: newId(this.randomBytes),
      authorId: author.id,
      authorName: author.name.slice(0, NAME_LIMIT),
      text,
      hlc: encodeHlc(this.clock.tick()),
      wall: Date.now(),
      ...(opts.replyTo !== undefined ? { replyTo: opts.replyTo } : {}),
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
    const key = `${id}|${author.id}|${emoji}`;
    if (on) this.reactionsMap.set(key, true);
    else this.reactionsMap.delete(key);
  }

  /** CHAT-7: the room's title. */
  setTitle(title: string): void {
    this.meta.set('title', title.trim().slice(0, TITLE_LIMIT));
  }

  title(): string {
    const t = this.meta.get('title');
    return typeof t === 'string' ? t.slice(0, TITLE_LIMIT) : '';
  }

  record(id: string): MessageRecord | null {
    return parseRecord(id, this.messagesMap.get(id));
  }

  /** Every valid message, in display order (ORD-1, ORD-2; see ordering.ts). */
  messages(): ChatMessage[] {
    const editsBy = new Map<string, Array<{ hlc: Hlc; text: string }>>();
    for (const [key, value] of this.edits) {
      const at = key.indexOf('@');
      const hlc = decodeHlc(key.slice(at + 1));
      if (at < 0 || !hlc || typeof value !== 'string' || value.length > TEXT_LIMIT) continue;
      const list = editsBy.get(key.slice(0, at)) ?? [];
      list.push({ hlc, text: value });
      editsBy.set(key.slice(0, at), list);
    }
    const reactionsBy = new Map<string, Map<string, string[]>>();
    for (const key of this.reactionsMap.keys()) {
      const [id, user, emoji] = key.split('|');
      if (!id || !user || !emoji || !(REACTIONS as readonly string[]).includes(emoji)) continue;
      const byEmoji = reactionsBy.get(id) ?? new Map<string, string[]>();
      byEmoji.set(emoji, [...(byEmoji.get(emoji) ?? []), user]);
      reactionsBy.set(id, byEmoji);
    }
    const out: ChatMessage[] = [];
    for (const [id, value] of this.messagesMap) {
      const rec = parseRecord(id, value);
      if (!rec) continue;
      const deleted = this.deletedMap.has(id);
      const edits = editsBy.get(id) ?? [];
      let text = rec.text;
      if (edits.length > 0) text = edits.reduce((a, b) => (compareHlc(a.hlc, b.hlc) >= 0 ? a : b)).text;
      const item = this.messagesMap._map.get(id);
      const byEmoji = reactionsBy.get(id);
      out.push({
        id,
        authorId: rec.authorId,
        authorName: rec.authorName,
        text: deleted ? '' : text,
        hlc: decodeHlc(rec.hlc)!,
        wall: rec.wall,
        replyTo: rec.replyTo ?? null,
        edited: !deleted && edits.length > 0,
        deleted,
        reactions: REACTIONS.filter((e) => byEmoji?.has(e)).map((emoji) => ({
          emoji,
          users: [...byEmoji!.get(emoji)!].sort(),
        })),
        yId: item ? { client: item.id.client, clock: item.id.clock } : null,
      });
    }
    return orderMessages(out);
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
}

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
