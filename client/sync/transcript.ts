/**
 * A readable plain-text transcript of a room, one message per line in display order:
 *
 *     [2026-11-25 20:01] Alice: hi
 *     [2026-11-25 20:02] Bob (reply to Alice): hello (edited)
 *     [2026-11-25 20:03] Alice: (message deleted)
 *
 * Times are the sender's wall clock when sending, in the reader's local time zone: the time the
 * room shows (a sender with a skewed clock gives out-of-order times; the order is the display's,
 * by HLC). A deleted message has no text, edits or reactions. Continuation lines of a multi-line
 * message are indented so every message still starts with "[".
 */
import type { ChatMessage } from '../../shared/chat/chatRoom.js';

const pad = (n: number): string => String(n).padStart(2, '0');

/** `yyyy-mm-dd hh:mm` in local time. */
export const formatLocalMinute = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

export const formatTranscript = (
  room: string,
  title: string,
  messages: readonly ChatMessage[],
  exportedAt: number,
): string => {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const lines: string[] = [
    `Converge room "${title || room}" (${room}), exported ${formatLocalMinute(exportedAt)}, ${messages.length} message${messages.length === 1 ? '' : 's'}`,
    '',
  ];
  for (const m of messages) {
    const parent = m.replyTo !== null ? byId.get(m.replyTo) : undefined;
    const reply = m.replyTo === null ? '' : ` (reply to ${parent ? parent.authorName : 'a missing message'})`;
    const body = m.deleted ? '(message deleted)' : m.text.replace(/\r\n?/g, '\n').split('\n').join('\n    ');
    const edited = m.edited && !m.deleted ? ' (edited)' : '';
    const reactions =
      !m.deleted && m.reactions.length > 0
        ? ` [${m.reactions.map((r) => `${r.emoji} ${r.users.length}`).join(', ')}]`
        : '';
    lines.push(`[${formatLocalMinute(m.wall)}] ${m.authorName}${reply}: ${body}${edited}${reactions}`);
  }
  return lines.join('\n') + '\n';
};
