import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { webcrypto } from 'node:crypto';
import { ChatError, ChatRoom, TEXT_LIMIT, orderMessages, validateText, type Identity } from './chatRoom.js';
import { HybridClock, type Hlc } from './hlc.js';
import { newId } from '../ids.js';

const random = (n: number): Uint8Array => webcrypto.getRandomValues(new Uint8Array(n));
const person = (name: string): Identity => ({ id: newId(random), name });

/** A replica: its own doc and clock (with a settable physical time). */
const replica = (node: string, start = 1_000_000) => {
  const time = { now: start };
  const doc = new Y.Doc();
  const room = new ChatRoom(doc, new HybridClock(node, () => time.now), random);
  return { doc, room, time };
};

const sync = (...docs: Y.Doc[]): void => {
  for (const a of docs)
    for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
};

describe('ORD-1/ORD-2: display order', () => {
  const h = (wall: number, counter = 0, node = 'n'): Hlc => ({ wall, counter, node });
  const table: Array<{ name: string; input: Array<{ id: string; hlc: Hlc; replyTo: string | null }>; want: string[] }> =
    [
      {
        name: 'by HLC wall, then counter',
        input: [
          { id: 'c', hlc: h(3), replyTo: null },
          { id: 'a', hlc: h(1, 5), replyTo: null },
          { id: 'b', hlc: h(1, 7), replyTo: null },
        ],
        want: ['a', 'b', 'c'],
      },
      {
        name: 'equal wall and counter: node, then id break the tie',
        input: [
          { id: 'z', hlc: h(1, 0, 'b'), replyTo: null },
          { id: 'y', hlc: h(1, 0, 'a'), replyTo: null },
          { id: 'x', hlc: h(1, 0, 'a'), replyTo: null },
        ],
        want: ['x', 'y', 'z'],
      },
      {
        name: 'ORD-2: a reply with a smaller HLC (far-future parent refused by HLC-3) goes right after its parent',
        input: [
          { id: 'p', hlc: h(99_999), replyTo: null },
          { id: 'r', hlc: h(5), replyTo: 'p' },
          { id: 'o', hlc: h(10), replyTo: null },
        ],
        want: ['o', 'p', 'r'],
      },
      {
        name: 'a reply to a message this replica does not have yet is placed by its HLC',
        input: [
          { id: 'r', hlc: h(5), replyTo: 'missing' },
          { id: 'o', hlc: h(10), replyTo: null },
        ],
        want: ['r', 'o'],
      },
    ];
  for (const row of table) {
    it(row.name, () => {
      expect(orderMessages(row.input).map((m) => m.id)).toEqual(row.want);
      // Every replica computes the same order, whatever order it learned the messages in.
      expect(orderMessages([...row.input].reverse()).map((m) => m.id)).toEqual(row.want);
    });
  }
});

describe('chat model', () => {
  it('CHAT-1: send stores a message every replica shows identically', () => {
    const a = replica('a');
    const b = replica('b');
    const alice = person('Alice');
    const bob = person('Bob');
    a.room.send(alice, 'hello');
    b.room.send(bob, 'hi there');
    sync(a.doc, b.doc);
    const ma = a.room.messages();
    expect(ma.map((m) => m.text).sort()).toEqual(['hello', 'hi there']);
    expect(b.room.messages()).toEqual(ma);
  });

  it('CHAT-2: empty and over-long texts are refused and nothing changes', () => {
    const a = replica('a');
    const alice = person('Alice');
    expect(() => a.room.send(alice, '   ')).toThrow(ChatError);
    expect(() => a.room.send(alice, 'x'.repeat(TEXT_LIMIT + 1))).toThrow(/at most 4000/);
    expect(a.room.messages()).toEqual([]);
    expect(validateText('x'.repeat(TEXT_LIMIT))).toBeNull();
  });

  it('CHAT-3: a reply references its parent and sorts after it', () => {
    const a = replica('a');
    const alice = person('Alice');
    const p = a.room.send(alice, 'question');
    const r = a.room.send(alice, 'answer', { replyTo: p.id });
    expect(a.room.messages().map((m) => [m.id, m.replyTo])).toEqual([
      [p.id, null],
      [r.id, p.id],
    ]);
    expect(() => a.room.send(alice, 'x', { replyTo: newId(random) })).toThrow(/does not exist/);
  });

  it('CHAT-4: concurrent edits converge to the edit with the greatest HLC and show "edited"', () => {
    const a = replica('a', 1_000_000);
    const b = replica('b', 1_000_000);
    const alice = person('Alice');
    const m = a.room.send(alice, 'v1');
    sync(a.doc, b.doc);
    a.time.now = 1_000_100;
    b.time.now = 1_000_200; // b's edit is later
    a.room.edit(alice, m.id, 'from tab a');
    b.room.edit(alice, m.id, 'from tab b');
    sync(a.doc, b.doc);
    for (const r of [a, b]) {
      const [msg] = r.room.messages();
      expect(msg!.text).toBe('from tab b');
      expect(msg!.edited).toBe(true);
    }
  });

  it('CHAT-4: only the author can edit or delete', () => {
    const a = replica('a');
    const alice = person('Alice');
    const m = a.room.send(alice, 'mine');
    expect(() => a.room.edit(person('Mallory'), m.id, 'x')).toThrow(/own messages/);
    expect(() => a.room.remove(person('Mallory'), m.id)).toThrow(/own messages/);
  });

  it('CHAT-5: delete leaves a tombstone and removes the text from the document', () => {
    const a = replica('a');
    const b = replica('b');
    const alice = person('Alice');
    const m = a.room.send(alice, 'secret words');
    a.room.edit(alice, m.id, 'secret words, edited');
    a.room.remove(alice, m.id);
    sync(a.doc, b.doc);
    const [msg] = b.room.messages();
    expect(msg).toMatchObject({ id: m.id, deleted: true, text: '', edited: false });
    const bytes = Buffer.from(Y.encodeStateAsUpdate(b.doc)).toString('latin1');
    expect(bytes).not.toContain('secret');
    expect(() => a.room.edit(alice, m.id, 'again')).toThrow(/deleted/);
  });

  it('CHAT-6: reactions per user converge, and can be removed', () => {
    const a = replica('a');
    const b = replica('b');
    const alice = person('Alice');
    const bob = person('Bob');
    const m = a.room.send(alice, 'party');
    sync(a.doc, b.doc);
    a.room.react(alice, m.id, '🎉', true);
    b.room.react(bob, m.id, '🎉', true);
    b.room.react(bob, m.id, '👍', true);
    sync(a.doc, b.doc);
    expect(a.room.messages()[0]!.reactions).toEqual([
      { emoji: '👍', users: [bob.id] },
      { emoji: '🎉', users: [alice.id, bob.id].sort() },
    ]);
    b.room.react(bob, m.id, '👍', false);
    sync(a.doc, b.doc);
    expect(a.room.messages()[0]!.reactions.map((r) => r.emoji)).toEqual(['🎉']);
    expect(() => a.room.react(alice, m.id, '<script>', true)).toThrow(ChatError);
  });

  it('CHAT-7: the title converges', () => {
    const a = replica('a');
    const b = replica('b');
    a.room.setTitle('  Distributed Systems  ');
    sync(a.doc, b.doc);
    expect(b.room.title()).toBe('Distributed Systems');
  });

  it('untrusted records that do not validate are ignored, not thrown on', () => {
    const a = replica('a');
    a.room.messagesMap.set('not-an-id', { text: 'x' });
    const id = newId(random);
    a.room.messagesMap.set(id, { id, authorId: 'nope', authorName: 'x', text: 'x', hlc: 'bad', wall: 0 });
    a.room.messagesMap.set(newId(random), 'just a string');
    expect(a.room.messages()).toEqual([]);
  });

  it('yId names the Yjs item of the stored record (for pending/saved/seen)', () => {
    const a = replica('a');
    const alice = person('Alice');
    a.room.send(alice, 'one');
    const [m] = a.room.messages();
    expect(m!.yId).toEqual({ client: a.doc.clientID, clock: expect.any(Number) as number });
    expect(m!.yId!.clock).toBeLessThan(Y.getState(a.doc.store, a.doc.clientID));
  });
});
