/**
 * The visible counter of a message field, shared by the composer and the edit form. Referenced by the
 * field's aria-describedby, so screen readers hear it too. It counts against what sending checks:
 * CHAT-2's TEXT_LIMIT characters (UTF-16 units), and STRUCT-1's bytes when the relay's limits are
 * known and a text within TEXT_LIMIT could take more bytes than they allow (a relay sending small
 * frames): both are then shown, each in its own unit, as neither follows from the other.
 */
import type { ReactNode } from 'react';
import { TEXT_LIMIT } from '../../shared/chat/chatRoom.js';
import { utf8Length } from '../../shared/utf8Length.js';
import { plural } from './format.js';

/** The most UTF-8 bytes a text of TEXT_LIMIT UTF-16 units can take (a unit is at most 3 bytes). */
const MOST_BYTES = 3 * TEXT_LIMIT;

export const CharCounter = ({
  id,
  text,
  byteLimit,
}: {
  id: string;
  text: string;
  /** STRUCT-1: the most bytes the relay passes on for a text; null while unknown. */
  byteLimit: number | null;
}): ReactNode => {
  const over: string[] = [];
  const overChars = text.length - TEXT_LIMIT;
  if (overChars > 0) over.push(`${overChars}`);
  let shown = `${text.length} / ${TEXT_LIMIT} characters`;
  let title: string | undefined;
  if (byteLimit !== null && byteLimit < MOST_BYTES) {
    const bytes = utf8Length(text);
    shown += `, ${bytes} / ${byteLimit} bytes`;
    // Two counts: each excess says its unit.
    if (overChars > 0) over[0] = plural(overChars, 'character');
    if (bytes > byteLimit) over.push(plural(bytes - byteLimit, 'byte'));
    title = `This relay passes on messages of at most ${byteLimit} bytes: a letter outside basic Latin takes 2 or 3 bytes, an emoji 4.`;
  }
  return (
    <span id={id} className={over.length > 0 ? 'counter over' : 'counter'} title={title}>
      {over.length > 0 ? `${shown} — ${over.join(' and ')} too many` : shown}
    </span>
  );
};
