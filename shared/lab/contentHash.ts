/**
 * LAB-4: a short hash of what a room shows (messages with their ids, texts, edited and deleted
 * flags, reactions, in display order, and the title). Replicas that show the same thing have
 * the same hash whatever their Yjs struct layout, so a class view can tell "converged" at a
 * glance. FNV-1a, 32 bits: a display aid, not an integrity check.
 */
import type { ChatMessage } from '../chat/chatRoom.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the UTF-16 code units of `s` (both bytes of each), as 8 hex characters. */
export const fnv1a = (s: string): string => {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
};

export const chatContentHash = (messages: readonly ChatMessage[], title: string): string =>
  fnv1a(
    JSON.stringify([
      title,
      messages.map((m) => [m.id, m.text, m.edited, m.deleted, m.reactions.map((r) => [r.emoji, r.users])]),
    ]),
  );
