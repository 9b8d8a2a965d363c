/**
 * The class view's watcher against a real relay (child process) and real sessions over `ws`:
 * what the class view sees (LAB-UI-1, LAB-UI-2 through the tracker) and that it is not a
 * participant (LAB-UI-4).
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { newId } from '../../shared/ids.js';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { observeFor, waitFor } from '../../shared/testing/waitFor.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import type { Identity } from '../identity.js';
import { Transport } from '../net/transport.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { RoomSession } from '../sync/roomSession.js';
import { ClassTracker, type ClassSnapshot } from './classTracker.js';
import { ClassWatcher } from './classWatcher.js';

const WS = WebSocket as unknown as typeof globalThis.WebSocket;
const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const person = (name: string): Identity => ({ id: newId(randomBytes), name });

let relay: RelayProcess;
const cleanups: Array<() => void> = [];
let roomCounter = 0;
const freshRoom = (): string => `class-${process.pid}-${Date.now()}-${roomCounter++}`;

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay.cleanup();
});
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const open = async (room: string, identity: Identity): Promise<RoomSession> => {
  const s = await RoomSession.open({
    room,
    relayUrl: relay.wsUrl,
    identity,
    store: new MemoryRoomUpdateStore(),
    persistent: false,
    WebSocketImpl: WS,
    randomBytes,
    crossTab: false,
    transport: new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 }),
  });
  cleanups.push(() => s.destroy());
  return s;
};

const watch = (room: string): { watcher: ClassWatcher; snap: () => ClassSnapshot } => {
  const watcher = new ClassWatcher(room, relay.wsUrl, WS);
  cleanups.push(() => watcher.destroy());
  const tracker = new ClassTracker(Date.now());
  return { watcher, snap: () => tracker.observe(watcher.states(), Date.now(), watcher.connected) };
};

const row = (s: ClassSnapshot, name: string): ClassSnapshot['participants'][number] | undefined =>
  s.participants.find((p) => p.state.name === name);

describe('the class view watcher', () => {
  it('LAB-UI-4: sees the participants and their lab state, and is not one of them', async () => {
    const room = freshRoom();
    const a = await open(room, person('Alice'));
    const b = await open(room, person('Bob'));
    const { watcher, snap } = watch(room);
    await waitFor(() => snap().verdict.kind === 'converged' && snap().participants.length === 2, 'both, converged');

    // A change made after the watcher connected reaches it: whatever it published on
    // connecting has reached the others by now. It published nothing.
    a.send('hello class');
    await waitFor(() => row(snap(), 'Bob')?.state.hash === a.lab.contentHash(), 'Bob caught up, seen by the watcher');
    await observeFor(300);
    for (const s of [a, b]) {
      const states = s.internals!.awareness.getStates();
      expect([...states.keys()].sort((x, y) => x - y)).toEqual(
        [a.internals!.doc.clientID, b.internals!.doc.clientID].sort((x, y) => x - y),
      );
    }
    expect(
      b
        .view()
        .presence.map((p) => p.name)
        .sort(),
    ).toEqual(['Alice', 'Bob']);
    expect(watcher.connected).toBe(true);
  });

  it('LAB-UI-1: a partitioned participant goes offline with its last state, and comes back on heal', async () => {
    const room = freshRoom();
    const a = await open(room, person('Alice'));
    const b = await open(room, person('Bob'));
    const { snap } = watch(room);
    await waitFor(() => snap().verdict.kind === 'converged' && snap().participants.length === 2, 'both, converged');

    b.lab.setFaults({ ...NO_FAULTS, partitioned: true });
    await waitFor(() => row(snap(), 'Bob')?.offlineSince !== null, 'Bob offline');
    a.send('while Bob is away');
    await waitFor(() => row(snap(), 'Alice')?.state.hash !== row(snap(), 'Bob')?.state.hash, 'contents differ');
    expect(snap().verdict.kind).toBe('diverged');

    b.lab.setFaults(NO_FAULTS);
    await waitFor(() => snap().verdict.kind === 'converged', 'converged after the heal', 20_000);
    expect(row(snap(), 'Bob')?.offlineSince).toBeNull();
    expect(snap().lastHealToConvergeMs).not.toBeNull();
  });
});
