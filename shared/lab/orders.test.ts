import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { webcrypto } from 'node:crypto';
import { ChatRoom, type ChatMessage } from '../chat/chatRoom.js';
import { compareHlc, decodeHlc, HybridClock } from '../chat/hlc.js';
import { newId } from '../ids.js';
import { compareOrders, longestIncreasing } from './orders.js';

const random = (n: number): Uint8Array => webcrypto.getRandomValues(new Uint8Array(n));

/** A replica whose physical clock is `skewMs` off the shared real time, merging HLCs on receipt as a session does. */
const replica = (node: string, real: { now: number }, skewMs: number) => {
  const doc = new Y.Doc();
  const clock = new HybridClock(node, () => real.now + skewMs);
  const room = new ChatRoom(doc, clock, random, () => real.now + skewMs);
  const receive = (from: Y.Doc): void => {
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(from, Y.encodeStateVector(doc)));
    for (const m of room.messages()) clock.observe(decodeHlc(room.record(m.id)!.hlc)!);
  };
  /** Sends as a session does: with the greatest message it displays (CHAT-8). */
  const send = (name: string, text: string) =>
    room.send({ id: newId(random), name }, text, {
      shownMax: room
        .messages()
        .reduce<ChatMessage | null>((m, x) => (m === null || compareHlc(x.hlc, m.hlc) > 0 ? x : m), null),
    });
  return { doc, room, receive, send };
};

/** Alice (true clock) asks; Bob (clock off by `bobSkewMs`) answers 5 s later without replying to it. */
const askAndAnswer = (bobSkewMs: number) => {
  const real = { now: 1_800_000_000_000 };
  const alice = replica('a', real, 0);
  const bob = replica('b', real, bobSkewMs);
  const q = alice.send('Alice', 'Lunch at noon?');
  bob.receive(alice.doc);
  real.now += 5000;
  const a = bob.send('Bob', 'yes!');
  alice.receive(bob.doc);
  return { q, a, shown: alice.room.messages() };
};

const msg = (id: string, wall: number, replyTo: string | null = null): ChatMessage => ({
  id,
  authorId: 'a'.repeat(26),
  authorName: 'A',
  text: id,
  hlc: { wall, counter: 0, node: 'n' },
  wall,
  replyTo,
  after: null,
  edited: false,
  deleted: false,
  reactions: [],
  yId: null,
  editYId: null,
});

describe('LAB-5 orders side by side', () => {
  it('longestIncreasing picks one longest run', () => {
    expect([...longestIncreasing([0, 1, 2, 3])].sort()).toEqual([0, 1, 2, 3]);
    expect(longestIncreasing([3, 0, 1, 2]).size).toBe(3);
    expect(longestIncreasing([]).size).toBe(0);
  });

  it('agrees everywhere when the three orders agree', () => {
    const ms = [msg('a', 1), msg('b', 2, 'a'), msg('c', 3)];
    const { rows, anomalies } = compareOrders(
      ms,
      new Map([
        ['a', 0],
        ['b', 1],
        ['c', 2],
      ]),
    );
    expect(rows.map((r) => [r.hlcOrder, r.wallOrder, r.arrivalOrder])).toEqual([
      [0, 0, 0],
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(anomalies).toEqual([]);
  });

  it('a reply from a slow clock comes before its parent by wall clock; a late arrival is out of place once', () => {
    // Displayed (HLC) order a, b (reply to a), c; b's sender clock was 5 s behind.
    const ms = [
      msg('a', 10_000),
      { ...msg('b', 5_000, 'a'), hlc: { wall: 10_000, counter: 1, node: 'm' } },
      msg('c', 11_000),
    ];
    const arrival = new Map([
      ['b', 0],
      ['a', 1],
      ['c', 2],
    ]);
    const { rows, anomalies } = compareOrders(ms, arrival);
    expect(rows.find((r) => r.id === 'b')).toMatchObject({ hlcOrder: 1, wallOrder: 0, arrivalOrder: 0 });
    expect(anomalies).toContainEqual({ id: 'b', kind: 'reply-before-parent', order: 'wall' });
    expect(anomalies).toContainEqual({ id: 'b', kind: 'reply-before-parent', order: 'arrival' });
    expect(anomalies.filter((a) => a.kind === 'position-differs' && a.order === 'wall')).toHaveLength(1);
    expect(anomalies.filter((a) => a.kind === 'position-differs' && a.order === 'arrival')).toHaveLength(1);
  });

  it("LAB-5 before-what-sender-saw: beyond HLC-3's 60 s a message written after seeing another is shown before it, and flagged", () => {
    const { q, a, shown } = askAndAnswer(-120_000);
    expect(a.after).toBe(q.id);
    expect(shown.map((m) => m.id)).toEqual([a.id, q.id]);
    const { anomalies } = compareOrders(shown, new Map());
    expect(anomalies).toEqual([
      { id: a.id, kind: 'before-what-sender-saw', order: 'hlc' },
      { id: a.id, kind: 'before-what-sender-saw', order: 'wall' },
    ]);
  });

  it('LAB-5 before-what-sender-saw: within 60 s the HLC keeps the answer after what its sender saw (HLC-1)', () => {
    const { q, a, shown } = askAndAnswer(-50_000);
    expect(shown.map((m) => m.id)).toEqual([q.id, a.id]);
    // Stamped above everything Bob displayed: nothing to record (CHAT-8 costs nothing here).
    expect(a.after).toBeUndefined();
    const { anomalies } = compareOrders(shown, new Map());
    expect(anomalies.filter((x) => x.order === 'hlc')).toEqual([]);
    // The sender's wall clock would still put the answer first.
    expect(anomalies.filter((x) => x.order === 'wall').map((x) => x.kind)).toEqual(['position-differs']);
  });

  it('LAB-5: a reply whose `after` is its parent is flagged once, as reply-before-parent', () => {
    const ms = [
      msg('a', 10_000),
      { ...msg('b', 5_000, 'a'), after: 'a', hlc: { wall: 10_000, counter: 1, node: 'm' } },
    ];
    const { anomalies } = compareOrders(ms, new Map());
    expect(anomalies.filter((x) => x.id === 'b' && x.order === 'wall').map((x) => x.kind)).toEqual([
      'reply-before-parent',
      'position-differs',
    ]);
  });

  it('messages with no known arrival have arrivalOrder null and are not compared', () => {
    const { rows, anomalies } = compareOrders([msg('a', 1), msg('b', 2)], new Map([['b', 7]]));
    expect(rows.map((r) => r.arrivalOrder)).toEqual([null, 0]);
    expect(anomalies).toEqual([]);
  });
});
