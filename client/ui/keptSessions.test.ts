/**
 * LEAVE-2 against real sessions on a real relay: a room left while it holds edits only in the page
 * stays open until the relay has them; one with nothing to lose is closed at once.
 */
import { describe, expect, it, vi } from 'vitest';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import type { RoomSession } from '../sync/roomSession.js';
import { person, useRelaySessions, WS } from '../testing/relaySessions.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { SessionKeeper } from './keptSessions.js';

const { freshRoom, open } = useRelaySessions('kept');
const alice = person('Alice');
const bob = person('Bob');

const online = (s: RoomSession): Promise<void> =>
  waitFor(() => s.view().connection.status === 'online', `${s.identity.name} online`);
const texts = (s: RoomSession): string[] => s.view().messages.map((m) => m.text);
/** Whether `s` announces its user in the room (its own awareness state). */
const inPresence = (s: RoomSession): boolean => s.view().presence.some((p) => p.self);
const sees = (s: RoomSession, who: RoomSession): boolean => s.view().presence.some((p) => p.userId === who.identity.id);

/** Alice offline in a fresh room whose device store refuses every write, holding one message only in her page. */
const aliceWithAMessageOnlyInPage = async (): Promise<{ room: string; a: RoomSession; b: RoomSession }> => {
  const room = freshRoom();
  const store = new MemoryRoomUpdateStore();
  const a = await open(room, alice, { store, WebSocketImpl: WS });
  const b = await open(room, bob, { store: new MemoryRoomUpdateStore(), WebSocketImpl: WS });
  await Promise.all([online(a), online(b)]);
  await waitFor(() => sees(b, a), 'Bob sees Alice in the room');
  a.setOffline(true);
  // Every write fails from here (the heal's retries too): only the relay can keep what she writes.
  for (let i = 0; i < 50; i++) store.failNextWrite(new DOMException('full', 'QuotaExceededError'));
  a.send('written with a full device');
  await waitFor(() => a.view().storage.onlyInPage, 'only in the page');
  return { room, a, b };
};

describe('SessionKeeper', () => {
  it('LEAVE-2: a room left with nothing only in the page is closed at once', async () => {
    const keeper = new SessionKeeper<RoomSession>();
    const room = freshRoom();
    const a = await open(room, alice, { store: new MemoryRoomUpdateStore(), WebSocketImpl: WS });
    a.send('stored');
    await a.whenStored();
    const destroy = vi.spyOn(a, 'destroy');
    keeper.release(room, a);
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(keeper.rooms()).toEqual([]);
    expect(keeper.take(room)).toBeNull();
  });

  it('LEAVE-2: a room left while its message is only in the page stays open, out of presence, and is closed once the relay acks it', async () => {
    const keeper = new SessionKeeper<RoomSession>();
    const { room, a, b } = await aliceWithAMessageOnlyInPage();
    const destroy = vi.spyOn(a, 'destroy');
    const changes = vi.fn();
    keeper.subscribe(changes);
    keeper.release(room, a);
    expect(destroy).not.toHaveBeenCalled();
    expect(keeper.rooms()).toEqual([room]);
    expect(changes).toHaveBeenCalled();
    // Out of the room's presence while the user is elsewhere (PRES-4's leave).
    expect(inPresence(a)).toBe(false);
    // The network comes back while the user is elsewhere: the kept session sends the message.
    a.setOffline(false);
    await waitFor(() => texts(b).includes('written with a full device'), 'Bob gets the message');
    await waitFor(() => keeper.rooms().length === 0, 'no longer kept once acked');
    expect(destroy).toHaveBeenCalledTimes(1);
  });

  it('LEAVE-2: opening the room again takes the kept session back, with its message, into presence', async () => {
    const keeper = new SessionKeeper<RoomSession>();
    const { room, a, b } = await aliceWithAMessageOnlyInPage();
    keeper.release(room, a);
    const back = keeper.take(room);
    expect(back).toBe(a);
    expect(keeper.rooms()).toEqual([]);
    expect(texts(a)).toEqual(['written with a full device']);
    expect(inPresence(a)).toBe(true);
    // The keeper let go of it: acked later, it is not destroyed, and the user is in the room again.
    const destroy = vi.spyOn(a, 'destroy');
    a.setOffline(false);
    await waitFor(() => texts(b).includes('written with a full device'), 'Bob gets the message');
    await waitFor(() => a.view().pendingCount === 0, 'acked');
    await waitFor(() => sees(b, a), 'Bob sees Alice in the room again');
    expect(destroy).not.toHaveBeenCalled();
    expect(a.view().connection.status).toBe('online');
  });
});
