/**
 * DRAFT-1: the composer's unsent text survives a reload and a crash of the browser itself.
 *
 * Two copies, because neither alone does both:
 * - localStorage, written on every keystroke: synchronous (the composer opens with it), shared by
 *   the profile's tabs (`storage` events), but Chromium writes it to disk lazily — a browser crash
 *   loses the last seconds of typing, or brings back a text already sent;
 * - the room's IndexedDB meta (`draft`, `draftAt`), written `DRAFT_WRITE_DELAY_MS` after typing
 *   pauses and at least every `DRAFT_MAX_WAIT_MS` while it goes on, at once when the text is sent
 *   or cleared, and when the page is hidden or closed. Relaxed durability: on disk as far as a
 *   crash of the browser goes when the write resolves, without an fsync per pause (a power loss
 *   may still lose the last of it).
 *
 * Each copy carries the time it was typed (`at`, ms since the epoch, strictly increasing here even
 * if the clock steps back); a room opens with the newer one, so a draft cleared by sending is not
 * brought back by an older copy that outlived it.
 */
import { TEXT_LIMIT } from '../../shared/chat/chatRoom.js';
import type { RoomMeta, RoomMetaPatch, RoomUpdateStore } from '../storage/roomUpdateStore.js';

export interface Draft {
  readonly text: string;
  /** When it was typed; 0 for a copy written before drafts carried a time. */
  readonly at: number;
}

/** Typing pauses shorter than this cost no IndexedDB write... */
export const DRAFT_WRITE_DELAY_MS = 400;
/** ...but text typed without such a pause is written at least this often. */
export const DRAFT_MAX_WAIT_MS = 1000;

/**
 * Kept at most (16 times what can be sent, TEXT_LIMIT): a huge paste would fill localStorage's
 * quota (other keys could then not be written) and be rewritten to IndexedDB every second.
 */
export const DRAFT_KEPT_CHARS = 16 * TEXT_LIMIT;

export const draftKey = (room: string): string => `converge:draft:${room}`;
const draftAtKey = (room: string): string => `converge:draftAt:${room}`;

const EMPTY: Draft = { text: '', at: 0 };

/** REMOVE-1: the room is removed from this device: its draft (text, time, reply) goes too. Never throws. */
export const forgetDraft = (kv: Storage, room: string): void => {
  try {
    for (const key of [draftKey(room), draftAtKey(room), draftReplyKey(room)]) kv.removeItem(key);
  } catch {
    // A refused storage holds no draft to forget.
  }
};

/** The localStorage copy; never throws (a refused storage reads as no draft). */
export const readLocalDraft = (kv: Storage, room: string): Draft => {
  try {
    const text = kv.getItem(draftKey(room)) ?? '';
    const at = Number(kv.getItem(draftAtKey(room)));
    return { text, at: Number.isFinite(at) && at > 0 ? at : 0 };
  } catch {
    return EMPTY;
  }
};

const writeLocalDraft = (kv: Storage, room: string, draft: Draft): void => {
  try {
    // The text first: were the time to reach the disk without it, the older text would win.
    if (draft.text) kv.setItem(draftKey(room), draft.text);
    else kv.removeItem(draftKey(room));
    kv.setItem(draftAtKey(room), String(draft.at));
  } catch {
    // Quota: the text stays in the composer and goes to IndexedDB as usual.
  }
};

/**
 * DRAFT-2: the message the draft replies to (its id), kept beside the draft's localStorage copy so
 * that a reload keeps the reply with its text (Enter sent it as a plain message), and the room's
 * other tabs follow it as they follow the text (`isDraftReplyKey` on their storage events). Only
 * this copy: losing it to a browser crash loses the reply bar, never the text. Never throws.
 */
const draftReplyKey = (room: string): string => `converge:draftReply:${room}`;

/** DRAFT-2: a storage event's key is `room`'s draft reply (another tab chose, dropped or sent it). */
export const isDraftReplyKey = (key: string | null, room: string): boolean => key === draftReplyKey(room);

export const readDraftReply = (kv: Storage, room: string): string | null => {
  try {
    return kv.getItem(draftReplyKey(room));
  } catch {
    return null;
  }
};

export const writeDraftReply = (kv: Storage, room: string, messageId: string | null): void => {
  try {
    if (messageId === null) kv.removeItem(draftReplyKey(room));
    else kv.setItem(draftReplyKey(room), messageId);
  } catch {
    // Quota: the reply bar stays for this page.
  }
};

export const metaDraft = (meta: RoomMeta | undefined): Draft => ({ text: meta?.draft ?? '', at: meta?.draftAt ?? 0 });

/** The copy typed last; localStorage's on a tie (it is never older than the meta's). */
export const newerDraft = (local: Draft, stored: Draft): Draft => (stored.at > local.at ? stored : local);

/** The draft a room opens with, or the lobby previews. */
export const currentDraft = (kv: Storage, room: string, meta: RoomMeta | undefined): Draft =>
  newerDraft(readLocalDraft(kv, room), metaDraft(meta));

type MetaWriter = Pick<RoomUpdateStore, 'setMeta'>;

/** One room's draft while its composer is shown. */
export class DraftKeeper {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Typed here and not yet handed to IndexedDB, and when the oldest such change was made. */
  private unsaved: { draft: Draft; since: number } | null = null;
  /** The time of the last change; the next is later even if the clock stepped back. */
  private lastAt: number;

  constructor(
    private readonly room: string,
    private readonly store: MetaWriter,
    private readonly kv: Storage,
    /** `at` of the draft the composer opened with. */
    openedAt: number,
    private readonly now: () => number = Date.now,
    /** A failed IndexedDB write of `draft` (quota, a closed database); localStorage still has it. */
    private readonly onError: (e: unknown, draft: Draft) => void = () => {},
  ) {
    this.lastAt = openedAt;
  }

  /** The user changed the text: localStorage now, IndexedDB after a pause (or at once when emptied). */
  change(text: string): void {
    const now = this.now();
    this.lastAt = Math.max(now, this.lastAt + 1);
    const draft = { text: text.slice(0, DRAFT_KEPT_CHARS), at: this.lastAt };
    writeLocalDraft(this.kv, this.room, draft);
    this.unsaved = { draft, since: this.unsaved?.since ?? now };
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Sent or cleared: at once, so that no older copy (localStorage's, written lazily, or the
    // meta's, maybe from another tab) can bring the text back after a crash.
    if (!text || now - this.unsaved.since >= DRAFT_MAX_WAIT_MS) this.flush();
    else this.timer = setTimeout(() => this.flush(), DRAFT_WRITE_DELAY_MS);
  }

  /** Hands what was typed to IndexedDB now (page hidden or closed, composer gone). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const pending = this.unsaved;
    if (!pending) return;
    this.unsaved = null;
    const { draft } = pending;
    const patch: RoomMetaPatch = { draft: draft.text || undefined, draftAt: draft.at };
    // A failed write leaves the localStorage copy; the next change tries again.
    this.store.setMeta(this.room, patch, 'relaxed').catch((e: unknown) => this.onError(e, draft));
  }
}
