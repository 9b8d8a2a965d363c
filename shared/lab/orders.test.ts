import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../chat/chatRoom.js';
import { compareOrders, longestIncreasing } from './orders.js';

const msg = (id: string, wall: number, replyTo: string | null = null): ChatMessage => ({
  id,
  authorId: 'a'.repeat(26),
  authorName: 'A',
  text: id,
  hlc: { wall, counter: 0, node: 'n' },
  wall,
  replyTo,
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

  it('messages with no known arrival have arrivalOrder null and are not compared', () => {
    const { rows, anomalies } = compareOrders([msg('a', 1), msg('b', 2)], new Map([['b', 7]]));
    expect(rows.map((r) => r.arrivalOrder)).toEqual([null, 0]);
    expect(anomalies).toEqual([]);
  });
});
