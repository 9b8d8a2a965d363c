import { describe, expect, it } from 'vitest';
import { OlderRoomsTurn, REFRESH_OLDER_ROOMS, REFRESH_ROOMS, roundRooms, type RoundRoom } from './roundRooms.js';

/** Rooms `r00`…, the lower the number the more recently opened. */
const rooms = (n: number): RoundRoom[] =>
  Array.from({ length: n }, (_, i) => ({ room: `r${String(i).padStart(2, '0')}`, lastOpenedAt: 1_000 - i }));
const LIMITS = { recent: 3, older: 2 };
const none = (): boolean => false;

describe('SYNC-C1: the rooms a refresh round visits', () => {
  it('the most recently opened first, then older rooms in their turn by name', () => {
    const all = rooms(8).reverse(); // the order listRooms gives does not matter
    const first = roundRooms(all, none, LIMITS, null);
    expect(first).toEqual({ rooms: ['r00', 'r01', 'r02', 'r03', 'r04'], turn: ['r03', 'r04'] });
    const second = roundRooms(all, none, LIMITS, 'r04');
    expect(second).toEqual({ rooms: ['r00', 'r01', 'r02', 'r05', 'r06'], turn: ['r05', 'r06'] });
    // The turn wraps around.
    expect(roundRooms(all, none, LIMITS, 'r06')).toEqual({
      rooms: ['r00', 'r01', 'r02', 'r07', 'r03'],
      turn: ['r07', 'r03'],
    });
  });

  it('every older room is visited within ceil(others / older) rounds, though rooms are opened meanwhile', () => {
    let all = rooms(20);
    const visited = new Set<string>();
    let after: string | null = null;
    for (let round = 0; round < Math.ceil(17 / LIMITS.older); round++) {
      const choice = roundRooms(all, none, LIMITS, after);
      choice.rooms.forEach((r) => visited.add(r));
      after = choice.turn.at(-1) ?? after;
      // The user opens an older room between rounds: it becomes the most recent.
      const opened = all[all.length - 1 - round]!.room;
      all = all.map((r) => (r.room === opened ? { ...r, lastOpenedAt: 2_000 + round } : r));
    }
    expect([...visited].sort()).toEqual(rooms(20).map((r) => r.room));
  });

  it('rooms left out (held back, open on this screen) are neither recent nor in the turn', () => {
    const skip = (room: string): boolean => room === 'r01' || room === 'r05';
    expect(roundRooms(rooms(8), skip, LIMITS, null).rooms).toEqual(['r00', 'r02', 'r03', 'r04', 'r06']);
  });

  it('a round cut short: the older rooms it did not visit keep their turn', () => {
    const all = rooms(REFRESH_ROOMS + 3 * REFRESH_OLDER_ROOMS);
    const older = all.slice(REFRESH_ROOMS).map((r) => r.room);
    const turn = new OlderRoomsTurn();
    expect(turn.choose(all, none).slice(REFRESH_ROOMS)).toEqual(older.slice(0, REFRESH_OLDER_ROOMS));
    // The round visits its recent rooms and the first older one, then stops (the lobby left).
    for (const r of all.slice(0, REFRESH_ROOMS)) turn.visited(r.room);
    turn.visited(older[0]!);
    expect(turn.choose(all, none).slice(REFRESH_ROOMS)).toEqual(older.slice(1, 1 + REFRESH_OLDER_ROOMS));
    // A round that visits none of them leaves the turn where it was.
    expect(turn.choose(all, none).slice(REFRESH_ROOMS)).toEqual(older.slice(1, 1 + REFRESH_OLDER_ROOMS));
  });

  it('few rooms: each once; no older room keeps the turn where it was', () => {
    expect(roundRooms(rooms(2), none, LIMITS, 'r05')).toEqual({ rooms: ['r00', 'r01'], turn: [] });
    expect(roundRooms(rooms(4), none, LIMITS, null)).toEqual({ rooms: ['r00', 'r01', 'r02', 'r03'], turn: ['r03'] });
    expect(roundRooms(rooms(4), none, LIMITS, 'r03')).toEqual({ rooms: ['r00', 'r01', 'r02', 'r03'], turn: ['r03'] });
  });

  it('a room never opened here counts as the oldest', () => {
    const all: RoundRoom[] = [{ room: 'imported', lastOpenedAt: undefined }, ...rooms(3)];
    expect(roundRooms(all, none, { recent: 3, older: 0 }, null).rooms).toEqual(['r00', 'r01', 'r02']);
  });
});
