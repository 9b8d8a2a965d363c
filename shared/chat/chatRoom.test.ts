import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { webcrypto } from 'node:crypto';
import {
  ChatError,
  ChatRoom,
  NAME_LIMIT,
  REACTIONS,
  TEXT_LIMIT,
  TEXT_STRUCT_OVERHEAD,
  validateTextSize,
  orderMessages,
  parseReactionKey,
  reactionKey,
  validateText,
  type ChatMessage,
  type Identity,
} from './chatRoom.js';
import { compareHlc, decodeHlc, encodeHlc, HybridClock, type Hlc } from './hlc.js';
import { newId } from '../ids.js';
import { Prng } from '../testing/prng.js';
import { Limits } from '../protocol.js';
import { parseUpdateV1 } from '../updateV1.js';

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
    // Only invisible code points (zero-width space, word joiner, direction mark, soft hyphen) is empty too.
    for (const invisible of ['\u200b\u200b', ' \u2060\u200e\n', '\u00ad', '\u200d\ufe0f']) {
      expect(validateText(invisible)?.code, JSON.stringify(invisible)).toBe('empty');
      expect(() => a.room.send(alice, invisible)).toThrow(/cannot be empty/);
    }
    // Visible text with them is a message: an emoji sequence joins with U+200D.
    expect(validateText('\u{1F468}\u200d\u{1F469}')).toBeNull();
    expect(validateText('a\u200b')).toBeNull();
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

  it('CHAT-6, STATE-5: a reaction key names the Yjs item its value is now: a new one when set again, none once removed', () => {
    const a = replica('a');
    const b = replica('b');
    const alice = person('Alice');
    const m = a.room.send(alice, 'party');
    const key = reactionKey(m.id, alice.id, '🎉');
    expect(parseReactionKey(key)).toEqual({ id: m.id, userId: alice.id, emoji: '🎉' });
    expect(parseReactionKey(`${m.id}|${alice.id}|<b>`)).toBeNull();
    expect(a.room.reactionYId(key)).toBeNull();
    a.room.react(alice, m.id, '🎉', true);
    const first = a.room.reactionYId(key)!;
    expect(first.client).toBe(a.doc.clientID);
    a.room.react(alice, m.id, '🎉', true);
    const second = a.room.reactionYId(key)!;
    expect(second.clock).toBeGreaterThan(first.clock);
    sync(a.doc, b.doc);
    expect(b.room.reactionYId(key)).toEqual(second);
    a.room.react(alice, m.id, '🎉', false);
    expect(a.room.reactionYId(key)).toBeNull();
  });

  it('CHAT-7: the title converges', () => {
    const a = replica('a');
    const b = replica('b');
    a.room.setTitle(person('Ann'), '  Distributed Systems  ');
    sync(a.doc, b.doc);
    expect(b.room.title()).toBe('Distributed Systems');
  });

  it('STATE-6: the title shown is own only for the user who set it, as setTitle writes it', () => {
    const a = replica('a');
    const b = replica('b');
    const ann = person('Ann');
    const ben = person('Ben');
    expect(a.room.ownTitleYId(ann.id)).toBeNull();
    a.room.setTitle(ann, 'one');
    const first = a.room.ownTitleYId(ann.id)!;
    expect(first.client).toBe(a.doc.clientID);
    expect(a.room.ownTitleYId(ben.id)).toBeNull();
    sync(a.doc, b.doc);
    expect(b.room.ownTitleYId(ann.id)).toEqual(first);
    // Set again: a new item, own again.
    a.room.setTitle(ann, 'two');
    expect(a.room.ownTitleYId(ann.id)!.clock).toBeGreaterThan(first.clock);
    sync(a.doc, b.doc);
    b.room.setTitle(ben, 'three');
    sync(a.doc, b.doc);
    expect(a.room.ownTitleYId(ann.id)).toBeNull();
    expect(a.room.ownTitleYId(ben.id)).toEqual({ client: b.doc.clientID, clock: expect.any(Number) as number });
    // A title set without `titleBy` (another version, forged data) keeps no earlier setter's claim.
    a.room.meta.set('title', 'bare');
    expect(a.room.ownTitleYId(ben.id)).toBeNull();
    expect(a.room.ownTitleYId(ann.id)).toBeNull();
  });

  describe('CHAT-9: what became of a rename', () => {
    const ann = person('Ann');
    const ben = person('Ben');
    const lastTitleId = (room: ChatRoom) => room.ownTitleYId(ann.id) ?? room.ownTitleYId(ben.id)!;
    /** Two replicas with fixed client ids (the higher one's concurrent rename wins, CHAT-7), synced once. */
    const pair = () => {
      const a = replica('a');
      const b = replica('b');
      a.doc.clientID = 1;
      b.doc.clientID = 2;
      a.room.setTitle(ann, 'first');
      sync(a.doc, b.doc);
      return { a, b };
    };

    it('shown while the room shows it; unknown to a replica that does not hold it', () => {
      const { a, b } = pair();
      a.room.setTitle(ann, 'mine');
      const mine = lastTitleId(a.room);
      expect(a.room.titleFate(mine)).toBe('shown');
      expect(b.room.titleFate(mine)).toBe('unknown');
      sync(a.doc, b.doc);
      expect(b.room.titleFate(mine)).toBe('shown');
    });

    it('replaced by a rename made by someone who had it (also by its own author)', () => {
      const { a, b } = pair();
      const first = lastTitleId(a.room);
      a.room.setTitle(ann, 'again');
      expect(a.room.titleFate(first)).toBe('replaced');
      const again = lastTitleId(a.room);
      sync(a.doc, b.doc);
      b.room.setTitle(ben, 'after seeing it');
      sync(a.doc, b.doc);
      expect(a.room.titleFate(again)).toBe('replaced');
      expect(b.room.titleFate(again)).toBe('replaced');
    });

    it('lost to a concurrent rename with a higher client id, on both replicas; the winner is shown', () => {
      const { a, b } = pair();
      a.room.setTitle(ann, 'from a');
      b.room.setTitle(ben, 'from b');
      const fromA = lastTitleId(a.room);
      const fromB = lastTitleId(b.room);
      sync(a.doc, b.doc);
      expect(a.room.title()).toBe('from b');
      for (const room of [a.room, b.room]) {
        expect(room.titleFate(fromA)).toBe('lost');
        expect(room.titleFate(fromB)).toBe('shown');
      }
      // Still lost after a later rename that saw the winner, and in a replica loaded from bytes
      // (deleted values keep their ids and origins once their content is collected).
      b.room.setTitle(ben, 'later');
      sync(a.doc, b.doc);
      const loaded = replica('c');
      Y.applyUpdate(loaded.doc, Y.encodeStateAsUpdate(a.doc));
      for (const room of [a.room, loaded.room]) {
        expect(room.titleFate(fromA)).toBe('lost');
        expect(room.titleFate(fromB)).toBe('replaced');
      }
    });

    it('lost when three rename at once, whatever order the updates arrive in', () => {
      const { a, b } = pair();
      const c = replica('c');
      c.doc.clientID = 3;
      sync(a.doc, c.doc);
      a.room.setTitle(ann, 'a');
      b.room.setTitle(ben, 'b');
      c.room.setTitle(ben, 'c');
      const ids = [a, b, c].map((r) => lastTitleId(r.room));
      Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(c.doc));
      Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(b.doc));
      sync(a.doc, b.doc, c.doc);
      for (const r of [a, b, c]) expect(ids.map((id) => r.room.titleFate(id))).toEqual(['lost', 'lost', 'shown']);
    });
  });

  it('CHAT-8: a message stamped below the greatest one its sender displayed names it; otherwise nothing is added', () => {
    const a = replica('a');
    const b = replica('b');
    const alice = person('Alice');
    const bob = person('Bob');
    const greatest = (room: ChatRoom): ChatMessage | null =>
      room.messages().reduce<ChatMessage | null>((m, x) => (m === null || compareHlc(x.hlc, m.hlc) > 0 ? x : m), null);
    const first = a.room.send(alice, 'first', { shownMax: greatest(a.room) });
    expect(first.after).toBeUndefined();
    sync(a.doc, b.doc);
    // b's clock is ahead: its HLC is above everything it displays (HLC-1), nothing to record.
    b.time.now += 1000;
    expect(b.room.send(bob, 'in order', { shownMax: greatest(b.room) }).after).toBeUndefined();
    sync(a.doc, b.doc);
    // a's clock is now far behind what it displays, as when HLC-3 refused a timestamp.
    const max = greatest(a.room)!;
    a.time.now -= 120_000;
    const early = a.room.send(alice, 'stamped early', { shownMax: max });
    expect(early.after).toBe(max.id);
    // CHAT-5: the tombstone keeps it.
    a.room.remove(alice, early.id);
    expect(a.room.record(early.id)?.after).toBe(max.id);
  });

  it('CHAT-8: an `after` that is not an id is dropped, not the message', () => {
    const a = replica('a');
    const id = newId(random);
    const rec = {
      id,
      authorId: newId(random),
      authorName: 'x',
      text: 'x',
      hlc: encodeHlc({ wall: 1, counter: 0, node: 'n' }),
      wall: 1,
    };
    a.room.messagesMap.set(id, { ...rec, after: '<img>' });
    expect(a.room.messages().map((m) => [m.id, m.after])).toEqual([[id, null]]);
    expect(a.room.record(id)).toEqual(rec);
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

/**
 * The original, non-incremental `messages()`: every message from scratch, then `orderMessages`.
 * The reference the incremental model is checked against.
 */
const referenceMessages = (room: ChatRoom): ChatMessage[] => {
  const editsBy = new Map<string, Array<{ hlc: Hlc; text: string; yId: { client: number; clock: number } }>>();
  for (const [key, value] of room.edits) {
    const entry = room.edits._map.get(key)!;
    const at = key.indexOf('@');
    const hlc = decodeHlc(key.slice(at + 1));
    if (at < 0 || !hlc || typeof value !== 'string' || value.length > TEXT_LIMIT) continue;
    const list = editsBy.get(key.slice(0, at)) ?? [];
    list.push({ hlc, text: value, yId: { client: entry.id.client, clock: entry.id.clock } });
    editsBy.set(key.slice(0, at), list);
  }
  const reactionsBy = new Map<string, Map<string, string[]>>();
  for (const key of room.reactionsMap.keys()) {
    const [id, user, emoji] = key.split('|');
    if (!id || !user || !emoji || !(REACTIONS as readonly string[]).includes(emoji)) continue;
    const byEmoji = reactionsBy.get(id) ?? new Map<string, string[]>();
    byEmoji.set(emoji, [...(byEmoji.get(emoji) ?? []), user]);
    reactionsBy.set(id, byEmoji);
  }
  const out: ChatMessage[] = [];
  for (const [id] of room.messagesMap) {
    const rec = room.record(id);
    if (!rec) continue;
    const deleted = room.deletedMap.has(id);
    const edits = editsBy.get(id) ?? [];
    const shown = edits.length > 0 ? edits.reduce((a, b) => (compareHlc(a.hlc, b.hlc) >= 0 ? a : b)) : null;
    const text = shown?.text ?? rec.text;
    const item = room.messagesMap._map.get(id);
    const byEmoji = reactionsBy.get(id);
    out.push({
      id,
      authorId: rec.authorId,
      authorName: rec.authorName,
      text: deleted ? '' : text,
      hlc: decodeHlc(rec.hlc)!,
      wall: rec.wall,
      replyTo: rec.replyTo ?? null,
      after: rec.after ?? null,
      edited: !deleted && edits.length > 0,
      deleted,
      reactions: REACTIONS.filter((e) => byEmoji?.has(e)).map((emoji) => ({
        emoji,
        users: [...byEmoji!.get(emoji)!].sort(),
      })),
      yId: item ? { client: item.id.client, clock: item.id.clock } : null,
      editYId: shown?.yId ?? null,
    });
  }
  return orderMessages(out);
};

describe('incremental messages() (property: always equals orderMessages of every message, from scratch)', () => {
  const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
  const STEPS = 300;

  const run = (seed: number): void => {
    const rng = new Prng(seed);
    const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rng.int(0, 255));
    const people = ['Alice', 'Bob', 'Carol'].map((name) => ({ id: newId(bytes), name }));
    const replicas = [0, 1, 2].map((i) => {
      const time = { now: 1_000_000 };
      const doc = new Y.Doc();
      doc.clientID = 100 + i;
      const room = new ChatRoom(doc, new HybridClock(`n${i}`, () => time.now), bytes);
      return { doc, room, time, me: people[i]! };
    });
    const known = new Set<string>();
    const check = (r: (typeof replicas)[number], where: string): void => {
      const want = referenceMessages(r.room);
      expect(r.room.messages(), `seed ${seed} ${where}`).toEqual(want);
      expect(r.room.orderedMessages()).toEqual(want);
      if (rng.bool(0.2)) {
        // From scratch on a copy of the document (a ChatRoom stays subscribed to its doc).
        const copy = new Y.Doc();
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(r.doc));
        expect(new ChatRoom(copy, new HybridClock('x', () => 0), bytes).messages()).toEqual(want);
      }
    };
    const someId = (): string => (known.size > 0 && rng.bool(0.9) ? rng.pick([...known]) : newId(bytes));
    /** One of the last few ids: repeated changes to the same messages. */
    const hotId = (): string => (known.size > 0 ? rng.pick([...known].slice(-4)) : newId(bytes));
    // HLCs from a small range, so ties, far-future parents and replies sorting first all happen.
    const forgedHlc = (): string =>
      encodeHlc({ wall: rng.int(0, 40), counter: rng.int(0, 2), node: rng.pick(['a', 'b']) });
    const forge = (r: (typeof replicas)[number]): void => {
      const id = rng.bool(0.3) && known.size > 0 ? someId() : newId(bytes);
      known.add(id);
      const kind = rng.int(0, 9);
      if (kind === 0) r.room.messagesMap.set(id, { id, authorId: 'bad', text: 'x', hlc: forgedHlc(), wall: 0 });
      else if (kind === 1) r.room.messagesMap.delete(id);
      else {
        const replyTo = rng.bool(0.6) ? (rng.bool(0.1) ? id : someId()) : undefined;
        r.room.messagesMap.set(id, {
          id,
          authorId: rng.pick(people).id,
          authorName: 'Forger',
          text: `forged ${rng.int(0, 9)}`,
          hlc: forgedHlc(),
          wall: rng.int(0, 5),
          ...(replyTo !== undefined ? { replyTo } : {}),
        });
      }
    };
    const step = (r: (typeof replicas)[number]): void => {
      const op = rng.int(0, 12);
      const own = (): string | null => {
        const mine = [...known].filter((id) => r.room.record(id)?.authorId === r.me.id && !r.room.deletedMap.has(id));
        return mine.length > 0 ? rng.pick(mine) : null;
      };
      r.time.now += rng.int(0, 3);
      if (op <= 2) {
        const replyTo = known.size > 0 && rng.bool(0.4) ? someId() : undefined;
        try {
          known.add(
            r.room.send(r.me, `m${rng.int(0, 99)}`, replyTo && r.room.messagesMap.has(replyTo) ? { replyTo } : {}).id,
          );
        } catch (e) {
          expect(e).toBeInstanceOf(ChatError);
        }
      } else if (op === 3) {
        const id = own();
        if (id) r.room.edit(r.me, id, `edit ${rng.int(0, 9)}`);
      } else if (op === 4) {
        const id = own();
        if (id) r.room.remove(r.me, id);
      } else if (op === 5 && known.size > 0) {
        const id = someId();
        if (r.room.messagesMap.has(id)) r.room.react(rng.pick(people), id, rng.pick(REACTIONS), rng.bool(0.7));
      } else if (op === 6) {
        // A clock that jumps ahead (HLC-3 territory: ChatRoom does not observe remote HLCs, so
        // the other replicas' replies to this one's messages sort before them), or one that drifts.
        r.time.now += rng.bool(0.3) ? 120_000 : rng.int(-5, 5);
      } else if (op === 7) {
        forge(r);
      } else if (op === 8) {
        // Forged edits, reactions and tombstones: bad values, bad keys, extra separators.
        const id = hotId();
        const existing = (m: Y.Map<unknown>): string | null => (m.size > 0 ? rng.pick([...m.keys()]) : null);
        const key = rng.pick([`${id}@${forgedHlc()}`, `${id}@bad`, `${id}`, `${id}@${forgedHlc()}@x`]);
        const edit = rng.bool(0.4) ? existing(r.room.edits) : null;
        if (edit !== null) r.room.edits.delete(edit);
        else
          r.room.edits.set(
            key,
            rng.pick(['forged edit', 42, 'y'.repeat(TEXT_LIMIT + 1), r.room.record(id)?.text ?? 'same']),
          );
        const rkey = rng.pick([
          `${id}|${rng.pick(people).id}|${rng.pick(REACTIONS)}`,
          `${id}|u|🎉|extra`,
          `${id}|u|nope`,
          `|u|👍`,
          `${id}|u|👍`,
        ]);
        const reaction = rng.bool(0.4) ? existing(r.room.reactionsMap) : null;
        if (reaction !== null) r.room.reactionsMap.delete(reaction);
        else r.room.reactionsMap.set(rkey, true);
        const tombstone = rng.bool(0.3) ? existing(r.room.deletedMap) : null;
        if (tombstone !== null) r.room.deletedMap.delete(tombstone);
        else if (rng.bool(0.1)) r.room.deletedMap.set(hotId(), forgedHlc());
      } else if (op === 9) {
        // Several changes in one transaction, read in the middle of it and from an observer.
        const n = rng.int(1, 60);
        let seenInObserver: ChatMessage[] | null = null;
        const observer = (): void => {
          seenInObserver = r.room.messages();
        };
        r.room.reactionsMap.observe(observer);
        r.doc.transact(() => {
          for (let i = 0; i < n; i++) forge(r);
          if (rng.bool(0.5)) expect(r.room.messages()).toEqual(referenceMessages(r.room));
          if (known.size > 0) r.room.reactionsMap.set(`${someId()}|${r.me.id}|😮`, true);
        });
        r.room.reactionsMap.unobserve(observer);
        if (seenInObserver) expect(seenInObserver).toEqual(referenceMessages(r.room));
      } else if (op === 10) {
        r.room.setTitle(r.me, `t${rng.int(0, 9)}`);
      } else {
        // A remote merge, in one direction, maybe only part of what the other has.
        const other = rng.pick(replicas.filter((x) => x !== r));
        Y.applyUpdate(r.doc, Y.encodeStateAsUpdate(other.doc, Y.encodeStateVector(r.doc)), 'remote');
      }
    };
    for (let i = 0; i < STEPS; i++) {
      const r = rng.pick(replicas);
      step(r);
      if (rng.bool(0.5)) check(r, `step ${i}`);
    }
    sync(...replicas.map((r) => r.doc));
    for (const r of replicas) check(r, 'after the final sync');
    const [a, b] = replicas;
    expect(a!.room.messages()).toEqual(b!.room.messages());
  };

  for (const seed of SEEDS) it(`seed ${seed}`, () => run(seed));

  it('a reply placed after its far-future parent, then the parent removed (forged), goes back to its HLC place', () => {
    const a = replica('a');
    const alice = person('Alice');
    const parent = newId(random);
    const h = (wall: number): string => encodeHlc({ wall, counter: 0, node: 'n' });
    const rec = (id: string, wall: number, replyTo?: string) => ({
      id,
      authorId: alice.id,
      authorName: 'Alice',
      text: id,
      hlc: h(wall),
      wall,
      ...(replyTo ? { replyTo } : {}),
    });
    const reply = newId(random);
    const other = newId(random);
    a.room.messagesMap.set(reply, rec(reply, 5, parent));
    a.room.messagesMap.set(other, rec(other, 10));
    expect(a.room.messages().map((m) => m.id)).toEqual([reply, other]);
    a.room.messagesMap.set(parent, rec(parent, 99));
    expect(a.room.messages().map((m) => m.id)).toEqual([other, parent, reply]);
    a.room.messagesMap.delete(parent);
    expect(a.room.messages().map((m) => m.id)).toEqual([reply, other]);
  });

  it('forged reply cycles are placed as orderMessages places them', () => {
    const a = replica('a');
    const alice = person('Alice');
    const [x, y, z, w] = [newId(random), newId(random), newId(random), newId(random)];
    const rec = (id: string, wall: number, replyTo: string) => ({
      id,
      authorId: alice.id,
      authorName: 'Alice',
      text: id,
      hlc: encodeHlc({ wall, counter: 0, node: 'n' }),
      wall,
      replyTo,
    });
    a.room.messagesMap.set(x, rec(x, 3, y));
    a.room.messagesMap.set(y, rec(y, 1, x));
    a.room.messagesMap.set(z, rec(z, 2, z));
    a.room.messagesMap.set(w, rec(w, 4, y));
    expect(a.room.messages()).toEqual(referenceMessages(a.room));
    a.room.messagesMap.set(y, rec(y, 5, z));
    expect(a.room.messages()).toEqual(referenceMessages(a.room));
  });

  it('a change of only the edited or deleted flag is seen (forged: an edit to the same text, a tombstone removed)', () => {
    const a = replica('a');
    const alice = person('Alice');
    const m = a.room.send(alice, 'same');
    expect(a.room.messages()[0]).toMatchObject({ edited: false });
    a.room.edits.set(`${m.id}@${encodeHlc({ wall: 5, counter: 0, node: 'z' })}`, 'same');
    expect(a.room.messages()[0]).toMatchObject({ text: 'same', edited: true });
    a.room.remove(alice, m.id);
    expect(a.room.messages()[0]).toMatchObject({ text: '', deleted: true, edited: false });
    a.room.deletedMap.delete(m.id);
    expect(a.room.messages()).toEqual(referenceMessages(a.room));
    expect(a.room.messages()[0]).toMatchObject({ text: '', deleted: false });
  });

  it('unchanged messages keep their object identity; a changed one gets a new object', () => {
    const a = replica('a');
    const alice = person('Alice');
    const m1 = a.room.send(alice, 'one');
    a.room.send(alice, 'two');
    const before = a.room.orderedMessages();
    expect(a.room.orderedMessages()).toBe(before);
    a.room.react(alice, m1.id, '👍', true);
    const after = a.room.orderedMessages();
    expect(after).not.toBe(before);
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).toBe(before[1]);
    a.room.setTitle(person('Ann'), 'title only');
    expect(a.room.orderedMessages()).toBe(after);
  });
});

describe('STRUCT-1: a message fits the structs a relay passes on', () => {
  /** The largest struct in `update` (VAL-10's measure), by bisection over parseUpdateV1's limit. */
  const largestStruct = (update: Uint8Array): number => {
    let lo = 0;
    let hi = update.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      try {
        parseUpdateV1(update, { maxStructBytes: mid });
        hi = mid;
      } catch {
        lo = mid + 1;
      }
    }
    return lo;
  };

  it('STRUCT-1 the largest record (text and name at their limits, 3-byte letters, a reply) is within TEXT_STRUCT_OVERHEAD of its text', () => {
    const r = replica('node-abcde');
    const me: Identity = { id: newId(random), name: '€'.repeat(NAME_LIMIT) };
    const first = r.room.send(me, 'x');
    for (const write of [
      () => r.room.send(me, '€'.repeat(TEXT_LIMIT), { replyTo: first.id }),
      () => r.room.edit(me, first.id, '€'.repeat(TEXT_LIMIT)),
    ]) {
      const before = Y.encodeStateVector(r.doc);
      write();
      const struct = largestStruct(Y.encodeStateAsUpdate(r.doc, before));
      expect(struct).toBeGreaterThan(3 * TEXT_LIMIT);
      expect(struct).toBeLessThanOrEqual(3 * TEXT_LIMIT + TEXT_STRUCT_OVERHEAD);
    }
    // What a relay must pass on for Converge's longest message (its start-up warning's threshold).
    expect(Limits.clientStructBytes).toBe(3 * TEXT_LIMIT + TEXT_STRUCT_OVERHEAD);
  });

  it('STRUCT-1 refuses a text over what the relay passes on, saying both sizes', () => {
    const max = 4032;
    const fits = 'a'.repeat(max - TEXT_STRUCT_OVERHEAD);
    expect(validateTextSize(fits, max)).toBeNull();
    const refusal = validateTextSize('€'.repeat(3000), max);
    expect(refusal).toBeInstanceOf(ChatError);
    expect(refusal?.code).toBe('too-long');
    expect(refusal?.message).toBe(
      `This relay passes on messages of at most ${max - TEXT_STRUCT_OVERHEAD} bytes; this one takes 9000 (a letter outside basic Latin takes 2 or 3 bytes, an emoji 4). Shorten it or send it in parts.`,
    );
    expect(validateTextSize(fits + 'a', max)).not.toBeNull();
  });
});
