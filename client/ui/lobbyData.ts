/**
 * What the lobby shows about a room it does not have open: read from the local store only
 * (no network), by replaying the room's stored updates into a throwaway Y.Doc.
 */
import * as Y from 'yjs';
import { ChatRoom } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import type { RoomUpdateStore } from './services.js';
import { randomBytes } from './services.js';

export interface RoomSummary {
  readonly title: string;
  readonly messages: number;
  /** Messages by others after the last one read (meta.lastReadMessageId). */
  readonly unread: number;
  readonly last: {
    readonly authorName: string;
    readonly text: string;
    readonly wall: number;
    readonly deleted: boolean;
  } | null;
}

export const summarizeRoom = async (
  store: RoomUpdateStore,
  room: string,
  lastReadMessageId: string | undefined,
  selfId: string,
): Promise<RoomSummary> => {
  const { updates } = await store.load(room);
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
    const chat = new ChatRoom(doc, new HybridClock('lobby', () => Date.now()), randomBytes);
    const messages = chat.messages();
    const readAt = lastReadMessageId === undefined ? -1 : messages.findIndex((m) => m.id === lastReadMessageId);
    let unread = 0;
    if (readAt >= 0 || lastReadMessageId === undefined) {
      for (let i = readAt + 1; i < messages.length; i++) {
        const m = messages[i]!;
        if (m.authorId !== selfId && !m.deleted) unread++;
      }
    }
    const lastMsg = messages.at(-1);
    return {
      title: chat.title(),
      messages: messages.length,
      unread,
      last: lastMsg
        ? { authorName: lastMsg.authorName, text: lastMsg.text, wall: lastMsg.wall, deleted: lastMsg.deleted }
        : null,
    };
  } finally {
    doc.destroy();
  }
};
