/**
 * STATE-7 against the real relay: tabs of one profile (same user, `crossTab` on, Node's global
 * BroadcastChannel standing for the browser's) share the relay's acks. The tab that must learn
 * them is switched off (OFF-1), so STATE-2's re-check (a SyncStep1 answered with ACK-2) cannot be
 * what brings them.
 */
import { describe, expect, it } from 'vitest';
import { encodeAck, MessageType } from '../../shared/protocol.js';
import { validateFaultConfig } from '../../shared/lab/faults.js';
import { observeFor, waitFor } from '../../shared/testing/waitFor.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { person, useRelaySessions, WS } from '../testing/relaySessions.js';
import { ackChannelName } from './ackShare.js';
import type { RoomSession } from './roomSession.js';
import { decodeSyncState } from './syncState.js';

const { freshRoom, open, afterTest } = useRelaySessions('acks');
const alice = person('Alice');
const bob = person('Bob');

const online = (s: RoomSession): Promise<void> =>
  waitFor(() => s.view().connection.status === 'online', `${s.identity.name} online`);
const texts = (s: RoomSession): string[] => s.view().messages.map((m) => m.text);
const stateOf = (s: RoomSession, text: string): string | null | undefined =>
  s.view().messages.find((m) => m.text === text)?.state;
/** A tab of Alice's profile: cross-tab sync on, its own store (so nothing comes through a shared sync meta). */
const tab = (room: string, store: MemoryRoomUpdateStore, offline: boolean): Promise<RoomSession> =>
  open(room, alice, { store, WebSocketImpl: WS, crossTab: true, offline });

describe('STATE-7: acks shared between the tabs of a room', () => {
  it('STATE-7: a switched-off tab learns the ack another tab got: nothing pending, the ack in its sync meta', async () => {
    const room = freshRoom();
    const storeB = new MemoryRoomUpdateStore();
    const a = await tab(room, new MemoryRoomUpdateStore(), false);
    const b = await tab(room, storeB, true);
    const v = await open(room, bob, { WebSocketImpl: WS });
    await Promise.all([online(a), online(v)]);
    const m = a.send('m1');
    await waitFor(() => stateOf(a, 'm1') === 'seen', 'seen in tab a');
    await waitFor(() => b.view().pendingCount === 0, 'nothing pending in tab b');
    expect(stateOf(b, 'm1')).toMatch(/saved|seen/);
    expect(b.view().connection.status).toBe('offline');
    // Persisted as the relay's own ack would be: a reload of tab b offline still knows it.
    const yId = b.view().messages.find((x) => x.id === m.id)?.yId;
    expect(yId).toBeDefined();
    await waitFor(
      async () => (decodeSyncState((await storeB.getMeta(room))?.sync).acked.get(yId!.client) ?? 0) > yId!.clock,
      "the ack is in tab b's sync meta",
    );
  });

  it('STATE-7: a tab that joins later asks the others for the acks they know', async () => {
    const room = freshRoom();
    const a = await tab(room, new MemoryRoomUpdateStore(), false);
    await online(a);
    a.send('before c opened');
    await waitFor(() => stateOf(a, 'before c opened') === 'saved', 'saved in tab a');
    // c opens switched off with an empty store: the message comes over BroadcastChannel, its ack with it.
    const c = await tab(room, new MemoryRoomUpdateStore(), true);
    await waitFor(() => texts(c).includes('before c opened'), 'c receives the message over BroadcastChannel');
    await waitFor(() => c.view().pendingCount === 0, 'c learns its ack');
  });

  it('STATE-7: malformed messages on the ack channel are ignored; the session keeps working', async () => {
    const room = freshRoom();
    const a = await tab(room, new MemoryRoomUpdateStore(), false);
    const b = await tab(room, new MemoryRoomUpdateStore(), true);
    await online(a);
    const forger = new BroadcastChannel(ackChannelName(room));
    afterTest(() => forger.close());
    const junk: unknown[] = [
      new Uint8Array([MessageType.Ack, 0xff, 0xff, 0xff]), // a count past the end
      new Uint8Array([MessageType.Ack, 1, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // past 2^53
      new Uint8Array([MessageType.Sync, 0]), // not an ack
      new Uint8Array([...encodeAck(new Map([[1, 2]])), 9]), // trailing bytes
      new Uint8Array([MessageType.Ack, 2, 7, 1, 7, 2]), // a duplicate client
      new Uint8Array(0),
      'ack',
      { clocks: [[1, 2]] },
      null,
      42,
    ];
    for (const j of junk) forger.postMessage(j);
    a.send('after the junk');
    await waitFor(() => stateOf(a, 'after the junk') === 'saved', 'saved in tab a');
    await waitFor(() => texts(b).includes('after the junk') && b.view().pendingCount === 0, 'tab b learns the ack');
    expect(a.view().notices).toEqual([]);
    expect(b.view().notices).toEqual([]);
  });

  it('STATE-7: acks do not cross a lab partition (LAB-1)', async () => {
    const room = freshRoom();
    const a = await tab(room, new MemoryRoomUpdateStore(), true);
    const b = await tab(room, new MemoryRoomUpdateStore(), true);
    const witness = await tab(room, new MemoryRoomUpdateStore(), true);
    a.send('written switched off');
    await waitFor(
      () => texts(b).includes('written switched off') && texts(witness).includes('written switched off'),
      'the other tabs receive it over BroadcastChannel',
    );
    b.lab.setFaults(validateFaultConfig({ partitioned: true }));
    a.setOffline(false);
    await waitFor(() => stateOf(a, 'written switched off') === 'saved', 'tab a uploads it and gets the ack');
    await waitFor(() => witness.view().pendingCount === 0, 'the tab in cross-tab sync learns the ack');
    await observeFor(300); // nothing may arrive: watch a window
    expect(b.view().pendingCount).toBe(1);
    expect(stateOf(b, 'written switched off')).toBe('pending');
  });
});
