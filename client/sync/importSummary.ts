/**
 * FILE-2: what importing a room file brought to this device, told to the person afterwards
 * ("3 new messages", or that the device already had everything). "Imported" alone left them
 * unsure whether the file did anything.
 *
 * Counted from what the room shows, before and after the file is applied: messages by id (new
 * ones; those this device had whose text, edit mark, deletion or reactions changed) and the
 * title. The document's snapshot (state vector and delete set) tells apart a file that added
 * nothing at all from one whose additions change nothing shown (an edit older than the one shown).
 */
import * as Y from 'yjs';
import type { ChatMessage, ChatRoom } from '../../shared/chat/chatRoom.js';

export interface ImportSummary {
  /** Messages the room shows now that it did not before, not counting those that arrived deleted. */
  readonly newMessages: number;
  /** Messages new to the room that arrived already deleted (shown as deleted, nothing to read). */
  readonly newDeleted: number;
  /** Messages the room showed whose text, edit mark, deletion or reactions changed, or that are gone. */
  readonly changedMessages: number;
  readonly titleChanged: boolean;
  /** The document got anything at all this device lacked (false: it already had the whole file). */
  readonly anythingNew: boolean;
}

/** What the room shows of a message, apart from its id. */
const shown = (m: ChatMessage): string =>
  JSON.stringify([m.text, m.edited, m.deleted, m.reactions.map((r) => [r.emoji, r.users])]);

/** Notes what `chat` shows now; `finish()`, right after the file is applied, says what it brought. */
export const beginImport = (chat: ChatRoom): { finish(): ImportSummary } => {
  const snapshot = Y.snapshot(chat.doc);
  const title = chat.title();
  const before = new Map(chat.orderedMessages().map((m) => [m.id, shown(m)]));
  return {
    finish: () => {
      let newMessages = 0;
      let newDeleted = 0;
      let changedMessages = 0;
      let kept = 0;
      for (const m of chat.orderedMessages()) {
        const was = before.get(m.id);
        if (was === undefined) {
          if (m.deleted) newDeleted++;
          else newMessages++;
        } else {
          kept++;
          if (was !== shown(m)) changedMessages++;
        }
      }
      // A message that is no longer shown (a file may hold a replica that dropped a record).
      changedMessages += before.size - kept;
      return {
        newMessages,
        newDeleted,
        changedMessages,
        titleChanged: chat.title() !== title,
        anythingNew: !Y.equalSnapshots(snapshot, Y.snapshot(chat.doc)),
      };
    },
  };
};
