/**
 * LAB-4: a short hash of what a room shows (messages with their ids, texts, edited and deleted
 * flags, reactions, in display order, and the title). Replicas that show the same thing have
 * the same hash whatever their Yjs struct layout, so a class view can tell "converged" at a
 * glance. FNV-1a, 32 bits: a display aid, not an integrity check.
 */
import type { ChatMessage } from '../chat/chatRoom.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the UTF-16 code units of `s` (both bytes of each), continuing from `h`. */
const fnvString = (h: number, s: string): number => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return h;
};

/** FNV-1a over the four bytes of a 32-bit value, continuing from `h`. */
const fnvWord = (h: number, w: number): number => {
  h = Math.imul(h ^ (w & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((w >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((w >>> 16) & 0xff), FNV_PRIME);
  return Math.imul(h ^ (w >>> 24), FNV_PRIME);
};

const hex = (h: number): string => (h >>> 0).toString(16).padStart(8, '0');

/** FNV-1a over the UTF-16 code units of `s` (both bytes of each), as 8 hex characters. */
export const fnv1a = (s: string): string => hex(fnvString(FNV_OFFSET, s));

/**
 * Each message's own hash, kept while its object lives: ChatRoom gives an unchanged message the
 * same object and a changed one a new object (`orderedMessages`), so a room of 100,000 messages
 * hashes only what changed, then folds 4 bytes per message.
 */
const messageHashes = new WeakMap<ChatMessage, number>();

const messageHash = (m: ChatMessage): number => {
  let h = messageHashes.get(m);
  if (h === undefined) {
    h = fnvString(
      FNV_OFFSET,
      JSON.stringify([m.id, m.text, m.edited, m.deleted, m.reactions.map((r) => [r.emoji, r.users])]),
    );
    messageHashes.set(m, h);
  }
  return h;
};

/** The title, then each message's hash in display order: order-sensitive, layout-blind. */
export const chatContentHash = (messages: readonly ChatMessage[], title: string): string => {
  let h = fnvString(FNV_OFFSET, JSON.stringify(title));
  for (const m of messages) h = fnvWord(h, messageHash(m));
  return hex(h);
};
