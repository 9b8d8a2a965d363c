import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../shared/chat/chatRoom.js';
import { formatLocalMinute, formatTranscript } from './transcript.js';

const at = new Date(2026, 10, 25, 20, 1).getTime();
const msg = (over: Partial<ChatMessage>): ChatMessage => ({
  id: 'a'.repeat(26),
  authorId: 'b'.repeat(26),
  authorName: 'Alice',
  text: 'hi',
  hlc: { wall: at, counter: 0, node: 'n' },
  wall: at,
  replyTo: null,
  after: null,
  edited: false,
  deleted: false,
  reactions: [],
  yId: null,
  editYId: null,
  ...over,
});

describe('transcript', () => {
  it('formats local minutes', () => {
    expect(formatLocalMinute(at)).toBe('2026-11-25 20:01');
  });

  it('one line per message; edited, deleted, replies, reactions and multi-line text marked', () => {
    const first = msg({});
    const text = formatTranscript(
      'class-7b',
      'Class 7B',
      [
        first,
        msg({ id: 'c'.repeat(26), authorName: 'Bob', text: 'hello\nworld', replyTo: first.id, edited: true }),
        msg({ id: 'd'.repeat(26), text: '', deleted: true, reactions: [{ emoji: '❤️', users: ['x'] }] }),
        msg({ id: 'e'.repeat(26), text: 'yay', reactions: [{ emoji: '👍', users: ['x', 'y'] }] }),
      ],
      at,
    );
    expect(text).toBe(
      [
        'Converge room "Class 7B" (class-7b), exported 2026-11-25 20:01, 4 messages',
        '',
        '[2026-11-25 20:01] Alice: hi',
        '[2026-11-25 20:01] Bob (reply to Alice): hello\n    world (edited)',
        '[2026-11-25 20:01] Alice: (message deleted)',
        '[2026-11-25 20:01] Alice: yay [👍 2]',
        '',
      ].join('\n'),
    );
  });

  it("a message's time is its sender's wall clock, as the room shows it, not its HLC", () => {
    const skewed = msg({ hlc: { wall: at + 5 * 60_000, counter: 0, node: 'n' }, wall: at - 5 * 60_000 });
    expect(formatTranscript('r', '', [skewed], at).split('\n')[2]).toBe('[2026-11-25 19:56] Alice: hi');
  });
});
