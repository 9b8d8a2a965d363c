import { describe, expect, it } from 'vitest';
import { MAX_SV_ENTRIES, parsePresence, RecentClients } from './presence.js';
import { decodeSyncState, emptySyncState, encodeSyncState, MAX_LATE_IDS, mergeSyncStates } from './syncState.js';

const id = 'a'.repeat(26);

describe('presence states from others are validated', () => {
  it('accepts a Converge presence', () => {
    expect(
      parsePresence({
        user: { id, name: ' Ada\n ' },
        typing: true,
        sv: [
          [1, 2],
          [3, 4],
        ],
      }),
    ).toEqual({
      userId: id,
      name: 'Ada',
      typing: true,
      sv: new Map([
        [1, 2],
        [3, 4],
      ]),
    });
  });

  it.each([null, 'x', {}, { user: { id: 'short', name: 'x' } }, { user: { id, name: 5 } }])('refuses %j', (s) => {
    expect(parsePresence(s)).toBeNull();
  });

  it('ignores bad sv entries and bounds their number; typing must be exactly true', () => {
    const p = parsePresence({
      user: { id, name: 'x' },
      typing: 'yes',
      sv: [[1, -1], ['2', 3], [4.5, 1], [5, 6, 7], [8, 9], ...Array.from({ length: 100 }, (_, i) => [100 + i, 1])],
    })!;
    expect(p.typing).toBe(false);
    expect(p.sv.get(8)).toBe(9);
    expect(p.sv.size).toBeLessThanOrEqual(MAX_SV_ENTRIES);
    expect([...p.sv.keys()].every((k) => k === 8 || k >= 100)).toBe(true);
  });

  it('RecentClients keeps the most recent, bounded', () => {
    const r = new RecentClients();
    for (let i = 0; i < MAX_SV_ENTRIES + 5; i++) r.touch(i);
    r.touch(10);
    expect(r.list()).toHaveLength(MAX_SV_ENTRIES);
    expect(r.list().at(-1)).toBe(10);
    expect(r.list()[0]).toBe(5);
  });
});

describe('sync state in room meta', () => {
  it('round trips, keeping only the given clients', () => {
    const s = {
      acked: new Map([
        [1, 5],
        [2, 7],
      ]),
      seen: new Map([[1, 3]]),
      late: [id],
      ahead: new Map([[id, 86_400_000]]),
      syncedAt: 1_764_000_000_000,
    };
    const back = decodeSyncState(encodeSyncState(s, new Set([1])));
    expect(back).toEqual({
      acked: new Map([[1, 5]]),
      seen: new Map([[1, 3]]),
      late: [id],
      ahead: new Map([[id, 86_400_000]]),
      syncedAt: 1_764_000_000_000,
    });
    expect(decodeSyncState(encodeSyncState({ ...s, syncedAt: null }, new Set([1]))).syncedAt).toBeNull();
  });

  it.each([undefined, 5, 'not json', '{"v":2}', '[]'])('reads %j as empty', (v) => {
    expect(decodeSyncState(v)).toEqual(emptySyncState());
  });

  it('drops malformed entries and bounds the late list', () => {
    const text = JSON.stringify({
      v: 1,
      acked: [[1, 2], [-1, 2], 'x'],
      seen: 'x',
      late: [...Array(MAX_LATE_IDS + 3).fill(id), 'bad'],
      ahead: [[id, 5000], ['bad', 5000], [id, -1], [id], 'x'],
      syncedAt: -5,
    });
    const s = decodeSyncState(text);
    expect(s.syncedAt).toBeNull();
    expect(s.acked).toEqual(new Map([[1, 2]]));
    expect(s.seen.size).toBe(0);
    expect(s.late).toHaveLength(MAX_LATE_IDS);
    expect(s.ahead).toEqual(new Map([[id, 5000]]));
  });
});

describe('mergeSyncStates', () => {
  it('keeps the higher clock per client and the union of late ids', () => {
    const other = 'b'.repeat(26);
    const m = mergeSyncStates(
      {
        acked: new Map([
          [1, 5],
          [2, 1],
        ]),
        seen: new Map(),
        late: [id],
        ahead: new Map([[id, 5000]]),
        syncedAt: 20,
      },
      {
        acked: new Map([
          [1, 3],
          [3, 9],
        ]),
        seen: new Map([[1, 1]]),
        late: [other, id],
        ahead: new Map([
          [other, 2000],
          [id, 7000],
        ]),
        syncedAt: 10,
      },
    );
    expect(m.syncedAt).toBe(20);
    expect(m.acked).toEqual(
      new Map([
        [1, 5],
        [2, 1],
        [3, 9],
      ]),
    );
    expect(m.seen).toEqual(new Map([[1, 1]]));
    expect(m.late).toEqual([id, other]);
    // HLC-4: the first measure of a message's lead is kept.
    expect(m.ahead).toEqual(
      new Map([
        [id, 5000],
        [other, 2000],
      ]),
    );
  });
});
