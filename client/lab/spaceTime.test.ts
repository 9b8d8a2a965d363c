import { describe, expect, it } from 'vitest';
import { othersFromAwareness, SPACE_TIME_MESSAGES, SpaceTimeRecorder, type SpaceTimeMessage } from './spaceTime.js';

const ME = 'm'.padEnd(26, '0');
const BOB = 'b'.padEnd(26, '0');
const CAROL = 'c'.padEnd(26, '0');

const msg = (id: string, authorId: string, client: number, clock: number, wall = 0): SpaceTimeMessage => ({
  id,
  authorId,
  authorName: authorId === ME ? 'Me' : authorId === BOB ? 'Bob' : 'Carol',
  text: `text ${id}`,
  wall,
  yId: { client, clock },
});

const sv = (entries: Array<[number, number]>): ReadonlyMap<number, number> => new Map(entries);

describe('LAB-UI-5: the space-time diagram records when this client learned who holds what', () => {
  it('places what was known at the start at the start, marked before, and later events when observed', () => {
    const r = new SpaceTimeRecorder(ME, 1000);
    const m1 = msg('m1', BOB, 7, 0);
    r.observe(1000, 'Me', [m1], [{ userId: BOB, name: 'Bob', sv: sv([[7, 1]]) }]);
    const m2 = msg('m2', ME, 9, 0, 999_999);
    // Carol's state vector does not cover m2 yet; Bob's does.
    r.observe(
      2000,
      'Me',
      [m1, m2],
      [
        {
          userId: BOB,
          name: 'Bob',
          sv: sv([
            [7, 1],
            [9, 1],
          ]),
        },
        { userId: CAROL, name: 'Carol', sv: sv([[7, 1]]) },
      ],
    );
    r.observe(
      3500,
      'Me',
      [m1, m2],
      [
        {
          userId: BOB,
          name: 'Bob',
          sv: sv([
            [7, 1],
            [9, 1],
          ]),
        },
        {
          userId: CAROL,
          name: 'Carol',
          sv: sv([
            [7, 1],
            [9, 1],
          ]),
        },
      ],
    );
    const d = r.data([m1, m2]);
    expect(d.lanes.map((l) => [l.name, l.self])).toEqual([
      ['Me', true],
      ['Bob', false],
      ['Carol', false],
    ]);
    const [a, b] = d.messages;
    expect(a!.events.map((e) => [e.userId, e.t, e.before])).toEqual([
      [ME, 1000, true],
      [BOB, 1000, true],
      [CAROL, 2000, false],
    ]);
    // The sender's skewed wall clock is kept as its claim, not used as the position.
    expect(b!.wall).toBe(999_999);
    expect(b!.sentAt).toBe(2000);
    expect(b!.events.map((e) => [e.userId, e.t])).toEqual([
      [ME, 2000],
      [BOB, 2000],
      [CAROL, 3500],
    ]);
  });

  it('keeps only the last SPACE_TIME_MESSAGES messages', () => {
    const r = new SpaceTimeRecorder(ME, 0);
    const all = Array.from({ length: SPACE_TIME_MESSAGES + 5 }, (_, i) => msg(`x${i}`, ME, 1, i));
    r.observe(0, 'Me', all, []);
    const d = r.data(all);
    expect(d.messages).toHaveLength(SPACE_TIME_MESSAGES);
    expect(d.messages[0]!.id).toBe('x5');
  });

  it('othersFromAwareness: validates states, skips this user, merges tabs by the largest clock', () => {
    const states = new Map<number, unknown>([
      [1, { user: { id: BOB, name: 'Bob' }, sv: [[7, 3]] }],
      [
        2,
        {
          user: { id: BOB, name: 'Bob' },
          sv: [
            [7, 5],
            [8, 1],
          ],
        },
      ],
      [3, { user: { id: ME, name: 'Me' }, sv: [[7, 9]] }],
      [4, { user: { id: 'bad', name: 'x' }, sv: [[7, 9]] }],
      [5, null],
    ]);
    const others = othersFromAwareness(states, ME);
    expect(others).toHaveLength(1);
    expect(others[0]!.name).toBe('Bob');
    expect([...others[0]!.sv]).toEqual([
      [7, 5],
      [8, 1],
    ]);
  });
});
