/**
 * SYNC-C1: the lobby's background refresh, against the real relay (a child process) with `ws`
 * and the in-memory store.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ChatRoom } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { person, randomBytes, testTransport, useRelaySessions } from '../testing/relaySessions.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import type { Identity } from '../identity.js';
import { RoomSession } from './roomSession.js';
import { refreshRooms } from './backgroundRefresh.js';

const alice = person('Alice');
const bob = person('Bob');
const { freshRoom, open: openOn, afterTest } = useRelaySessions('bg');

const open = (
  room: string,
  identity: Identity,
  store: MemoryRoomUpdateStore,
  background = false,
): Promise<RoomSession> => openOn(room, identity, { store, background });

/** The message texts stored for `room`, in display order. */
const storedTexts = async (store: MemoryRoomUpdateStore, room: string): Promise<string[]> => {
  const doc = new Y.Doc();
  for (const u of (await store.load(room)).updates) Y.applyUpdate(doc, u);
  return new ChatRoom(doc, new HybridClock('test', () => Date.now()), randomBytes).messages().map((m) => m.text);
};

describe('SYNC-C1: background refresh of the lobby', () => {
  it('SYNC-C1: fetches and stores what rooms missed, one room at a time, invisibly and without "opening" them', async () => {
    const [r1, r2] = [freshRoom(), freshRoom()];
    const aliceStore = new MemoryRoomUpdateStore();
    // Alice visited r1 once and left; r2 she knows only by name (nothing stored).
    const first = await open(r1, alice, aliceStore);
    await waitFor(() => first.synced, 'alice synced');
    first.send('Alice was here');
    await first.whenStored();
    await waitFor(() => first.view().pendingCount === 0, 'saved');
    first.destroy();
    const openedAt = (await aliceStore.getMeta(r1))?.lastOpenedAt;
    expect(openedAt).toBeDefined();

    const bob1 = await open(r1, bob, new MemoryRoomUpdateStore());
    const bob2 = await open(r2, bob, new MemoryRoomUpdateStore());
    await Promise.all([waitFor(() => bob1.synced, 'bob1 synced'), waitFor(() => bob2.synced, 'bob2 synced')]);
    bob1.send('Bob in r1 while Alice was away');
    bob2.send('Bob in r2');
    await waitFor(() => bob1.view().pendingCount === 0 && bob2.view().pendingCount === 0, 'bob saved');

    // Everyone Bob ever sees in presence while the refresh runs (every view change is observed).
    const seenByBob = new Set<string>();
    const watch = (s: RoomSession): void => {
      s.subscribe(() => {
        for (const p of s.view().presence) seenByBob.add(p.name);
      });
    };
    watch(bob1);
    watch(bob2);
    let concurrent = 0;
    let maxConcurrent = 0;
    const done: string[] = [];
    const outcomes = await refreshRooms({
      rooms: [r1, r2],
      open: async (room) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        const s = await open(room, alice, aliceStore, true);
        const destroy = s.destroy.bind(s);
        s.destroy = () => {
          concurrent--;
          destroy();
        };
        return s;
      },
      timeoutMs: 20_000,
      onRoom: (room) => done.push(room),
    });

    expect([...outcomes]).toEqual([
      [r1, 'synced'],
      [r2, 'synced'],
    ]);
    expect(done).toEqual([r1, r2]);
    expect(maxConcurrent).toBe(1);
    expect(await storedTexts(aliceStore, r1)).toEqual(['Alice was here', 'Bob in r1 while Alice was away']);
    expect(await storedTexts(aliceStore, r2)).toEqual(['Bob in r2']);
    expect([...seenByBob].filter((name) => name !== 'Bob')).toEqual([]);
    expect((await aliceStore.getMeta(r1))?.lastOpenedAt).toBe(openedAt);
    expect((await aliceStore.getMeta(r2))?.lastOpenedAt).toBeUndefined();
    // The watch does see a visit: a normal session shows up in Bob's presence.
    await open(r1, alice, aliceStore);
    await waitFor(() => seenByBob.has('Alice'), 'bob sees a visiting Alice');
  });

  it('SYNC-C1: a relay that does not answer is given up on after the timeout, and a cancelled refresh stops', async () => {
    const aliceStore = new MemoryRoomUpdateStore();
    const unreachable = async (room: string): Promise<RoomSession> => {
      const s = await RoomSession.open({
        room,
        relayUrl: 'ws://127.0.0.1:1/sync',
        identity: alice,
        store: aliceStore,
        persistent: false,
        randomBytes,
        crossTab: false,
        background: true,
        transport: testTransport(),
      });
      afterTest(() => s.destroy());
      return s;
    };
    const outcomes = await refreshRooms({ rooms: ['a-room'], open: unreachable, timeoutMs: 300 });
    expect([...outcomes]).toEqual([['a-room', 'timeout']]);
    const none = await refreshRooms({ rooms: ['a', 'b'], open: unreachable, timeoutMs: 300, cancelled: () => true });
    expect(none.size).toBe(0);
    const failing = await refreshRooms({
      rooms: ['x'],
      open: () => Promise.reject(new Error('no store')),
      timeoutMs: 300,
    });
    expect([...failing]).toEqual([['x', 'failed']]);
  });
});
