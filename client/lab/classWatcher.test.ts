/**
 * The class view's watcher against a real relay (child process) and real sessions over `ws`:
 * what the class view sees (LAB-UI-1, LAB-UI-2 through the tracker) and that it is not a
 * participant (LAB-UI-4), and how soon it reconnects (LAB-UI-12).
 */
import { describe, expect, it, vi } from 'vitest';
import { startRelay } from '../../relay/testing/relayProcess.js';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { observeFor, waitFor } from '../../shared/testing/waitFor.js';
import { person, useRelaySessions, WS } from '../testing/relaySessions.js';
import type { Identity } from '../identity.js';
import type { RoomSession } from '../sync/roomSession.js';
import { ClassTracker, type ClassSnapshot } from './classTracker.js';
import { ClassWatcher } from './classWatcher.js';
import { CUT_OFF_REFRESH_MS } from './cutOffPeers.js';

const { freshRoom, open: openOn, relay, afterTest } = useRelaySessions('class');

const open = (room: string, identity: Identity): Promise<RoomSession> => openOn(room, identity, { WebSocketImpl: WS });

const watch = (room: string): { watcher: ClassWatcher; snap: () => ClassSnapshot } => {
  const watcher = new ClassWatcher(room, relay().wsUrl, WS);
  afterTest(() => watcher.destroy());
  const tracker = new ClassTracker(Date.now());
  // As the class view does: a state announced and removed between two looks is still seen (LAB-7).
  return {
    watcher,
    snap: () => tracker.observe(watcher.states(), Date.now(), watcher.connected, watcher.takeDeparted()),
  };
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

  it('LAB-UI-17: the watcher is connected only once the states the relay sends on join are in', async () => {
    const room = freshRoom();
    await open(room, person('Alice'));
    // The relay holds Alice's state: a first view sees it.
    const first = watch(room);
    await waitFor(() => first.snap().participants.length === 1, 'Alice seen');
    const watcher = new ClassWatcher(room, relay().wsUrl, WS);
    afterTest(() => watcher.destroy());
    // Every moment the view looks (each change it is told of): connected, and how many states it holds.
    const looks: Array<[boolean, number]> = [];
    watcher.subscribe(() => looks.push([watcher.connected, watcher.states().size]));
    await waitFor(() => watcher.connected, 'connected');
    expect(looks.filter(([connected, states]) => connected && states === 0)).toEqual([]);
    expect(watcher.states().size).toBe(1);
  });

  it('LAB-UI-1 unknown, unreachable: a partitioned participant goes offline with its last state, last seen behind, and comes back on heal', async () => {
    const room = freshRoom();
    const a = await open(room, person('Alice'));
    const b = await open(room, person('Bob'));
    const { snap } = watch(room);
    await waitFor(() => snap().verdict.kind === 'converged' && snap().participants.length === 2, 'both, converged');

    b.lab.setFaults({ ...NO_FAULTS, partitioned: true });
    await waitFor(() => row(snap(), 'Bob')?.offlineSince !== null, 'Bob offline');
    a.send('while Bob is away');
    await waitFor(() => row(snap(), 'Alice')?.state.hash !== row(snap(), 'Bob')?.state.hash, 'contents differ');
    // Only Alice is reachable: what Bob holds now is unknown, and his last state lacks her message.
    const v = snap().verdict;
    expect(v.kind === 'unreachable' && v.reasons[0]).toBe(
      'Bob is partitioned — last seen behind (missing updates the others have)',
    );

    b.lab.setFaults(NO_FAULTS);
    await waitFor(() => snap().verdict.kind === 'converged', 'converged after the heal', 20_000);
    expect(row(snap(), 'Bob')?.offlineSince).toBeNull();
    expect(snap().lastHealToConvergeMs).not.toBeNull();
  });
  it('LAB-9, LAB-UI-8: a view opened during a partition lists the partitioned participant, as Alice reports it', async () => {
    const room = freshRoom();
    const a = await open(room, person('Alice'));
    const b = await open(room, person('Bob'));
    const bob = b.internals!.doc.clientID;
    const aliceSees = (): Map<number, unknown> => a.internals!.awareness.getStates();
    await waitFor(() => (aliceSees().get(bob) as { lab?: unknown } | undefined)?.lab !== undefined, 'Alice sees Bob');

    b.lab.setFaults({ ...NO_FAULTS, partitioned: true });
    await waitFor(() => !aliceSees().has(bob), 'Bob gone from Alice');
    // Opened after Bob left: the view never sees Bob's own state.
    const { snap } = watch(room);
    await waitFor(() => row(snap(), 'Bob')?.reportedBy === 'Alice', 'Bob listed, as reported by Alice');
    expect(row(snap(), 'Bob')?.state.faults.partitioned).toBe(true);
    expect(snap().verdict).toMatchObject({ kind: 'unreachable', unreachable: 1 });
    // A later view reads the report's age from its `at`: while reporting, Alice republishes it unchanged.
    const aliceLab = (): { at: number; cutOffPeers?: unknown[] } =>
      (a.internals!.awareness.getLocalState() as { lab: { at: number; cutOffPeers?: unknown[] } }).lab;
    const at = aliceLab().at;
    await waitFor(() => aliceLab().at > at, 'Alice republished', 3 * CUT_OFF_REFRESH_MS);
    expect(aliceLab().cutOffPeers).toHaveLength(1);

    a.send('while Bob is away');
    await waitFor(() => row(snap(), 'Alice')?.state.hash === a.lab.contentHash(), 'Alice wrote');
    const v = snap().verdict;
    expect(v.kind === 'unreachable' && v.reasons[0]).toBe(
      'Bob is partitioned — last seen behind (missing updates the others have)',
    );

    b.lab.setFaults(NO_FAULTS);
    await waitFor(() => snap().verdict.kind === 'converged', 'converged after the heal', 20_000);
    expect(row(snap(), 'Bob')).toMatchObject({ offlineSince: null, reportedBy: null });
  });

  it('LAB-UI-12: however long its relay was down, the view is back within its longest wait (2 s) once the relay is', async () => {
    const room = freshRoom();
    const down = await startRelay();
    await down.kill();
    // Timers are faked so that minutes pass in no time; the sockets stay real. Between steps the
    // event loop turns, so each refused connection's failure comes in before the next step.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    const pass = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 100) {
        await vi.advanceTimersByTimeAsync(100);
        for (let i = 0; i < 3; i++) await turn();
      }
    };
    const watcher = new ClassWatcher(room, down.wsUrl, WS);
    let up: Awaited<ReturnType<typeof startRelay>> | null = null;
    try {
      await pass(60_000);
      expect(watcher.connected).toBe(false);
      up = await startRelay({ port: down.port, dataDir: down.dataDir });
      // LAB-UI-12's longest wait (2 s), and as long again for an attempt under way when the relay came back.
      await pass(2 * 2000);
      // Every wait of the view that was due has run; what is left of the connection is real I/O.
      vi.useRealTimers();
      await waitFor(() => watcher.connected, 'the view connected');
    } finally {
      vi.useRealTimers();
      watcher.destroy();
      await up?.cleanup();
      await down.cleanup();
    }
  });
});
