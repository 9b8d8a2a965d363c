import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../chat/chatRoom.js';
import { chatContentHash, fnv1a } from './contentHash.js';

const msg = (id: string, text: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  id,
  authorId: 'a'.repeat(26),
  authorName: 'A',
  text,
  hlc: { wall: 1, counter: 0, node: 'n' },
  wall: 1,
  replyTo: null,
  after: null,
  edited: false,
  deleted: false,
  reactions: [],
  yId: { client: 1, clock: 0 },
  editYId: null,
  ...extra,
});

describe('LAB-4 content hash', () => {
  it('is 8 hex characters and the FNV-1a of the empty string is the offset basis', () => {
    expect(fnv1a('')).toBe('811c9dc5');
    expect(chatContentHash([msg('x', 'hi')], 't')).toMatch(/^[0-9a-f]{8}$/);
  });

  it('ignores the struct layout (Yjs ids, HLCs) and sees every displayed difference', () => {
    const base = chatContentHash([msg('x', 'hi'), msg('y', 'yo')], 'room');
    expect(chatContentHash([msg('x', 'hi', { yId: { client: 9, clock: 4 } }), msg('y', 'yo')], 'room')).toBe(base);
    const changed = [
      chatContentHash([msg('x', 'hi')], 'room'),
      chatContentHash([msg('x', 'hi'), msg('y', 'yo!')], 'room'),
      chatContentHash([msg('y', 'yo'), msg('x', 'hi')], 'room'),
      chatContentHash([msg('x', 'hi'), msg('y', 'yo', { edited: true })], 'room'),
      chatContentHash([msg('x', 'hi'), msg('y', 'yo', { reactions: [{ emoji: '👍', users: ['u'] }] })], 'room'),
      chatContentHash([msg('x', 'hi'), msg('y', 'yo')], 'other'),
    ];
    for (const h of changed) expect(h).not.toBe(base);
  });

  it('LAB-4: the per-message cache never changes a result: fresh objects, reused objects, a changed message', () => {
    const list = [msg('x', 'hi'), msg('y', 'yo')];
    const first = chatContentHash(list, 'room');
    expect(chatContentHash(list, 'room')).toBe(first);
    expect(chatContentHash([msg('x', 'hi'), msg('y', 'yo')], 'room')).toBe(first);
    const edited = [list[0]!, { ...list[1]!, text: 'yo!', edited: true }];
    expect(chatContentHash(edited, 'room')).not.toBe(first);
    expect(chatContentHash(list, 'room')).toBe(first);
  });
});
