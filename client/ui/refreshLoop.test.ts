import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RefreshOutcome } from '../sync/backgroundRefresh.js';
import {
  nextGap,
  roundFinding,
  startReconnectRefresh,
  startRefreshLoop,
  type ReconnectRefresh,
  type ReconnectRefreshEnv,
  type RefreshGaps,
  type RefreshLoopEnv,
  type RoundFinding,
} from './refreshLoop.js';

const EVERY = 30_000;
const GAPS: RefreshGaps = { baseMs: EVERY, maxMs: 5 * 60_000 };

describe('SYNC-C1: the lobby refreshes recent rooms only while it is shown and online', () => {
  let visible: boolean;
  let online: boolean;
  let handlers: { shown: () => void; online: () => void } | null;
  let runs: number;
  /** Resolves the run in progress with what it found. */
  let finish: ((found: RoundFinding) => void) | null;
  let stop: () => void;
  const env: RefreshLoopEnv = {
    visible: () => visible,
    online: () => online,
    now: () => Date.now(),
    listen: (h) => {
      handlers = h;
      return () => (handlers = null);
    },
  };
  const run = (): Promise<RoundFinding> => {
    runs++;
    return new Promise((resolve) => (finish = resolve));
  };
  /** Lets the run in progress end; by default it found something (the gap stays 30 s). */
  const endRun = async (found: RoundFinding = 'changed'): Promise<void> => {
    finish?.(found);
    finish = null;
    await vi.advanceTimersByTimeAsync(0);
  };
  /** When each run started, in seconds since the test's start. */
  let starts: number[];
  let t0: number;
  /** A run that ends at once with the next of `findings` (`throw`: it rejects), then `nothing`. */
  const scripted = (findings: (RoundFinding | 'throw')[]) => (): Promise<RoundFinding> => {
    starts.push((Date.now() - t0) / 1000);
    const found = findings.shift() ?? 'nothing';
    return found === 'throw' ? Promise.reject(new Error('relay down')) : Promise.resolve(found);
  };
  /** Advances the clock to `s` seconds since the test's start. */
  const at = (s: number): Promise<unknown> => vi.advanceTimersByTimeAsync(t0 + s * 1000 - Date.now());

  beforeEach(() => {
    vi.useFakeTimers();
    visible = true;
    online = true;
    handlers = null;
    runs = 0;
    finish = null;
    starts = [];
    t0 = Date.now();
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('SYNC-C1: a run at start and 30 s after each that found something, never two at once', async () => {
    stop = startRefreshLoop(run, GAPS, env);
    expect(runs).toBe(1);
    // Still running when the next would be due: none until it ends, then 30 s after.
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(1);
    await endRun();
    await vi.advanceTimersByTimeAsync(EVERY - 1);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(2);
    await endRun();
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(3);
  });

  it('SYNC-C1: nothing while the page is hidden; shown again, a run only when the last is 30 s old', async () => {
    stop = startRefreshLoop(run, GAPS, env);
    await endRun();
    visible = false;
    await vi.advanceTimersByTimeAsync(10 * EVERY);
    expect(runs).toBe(1);
    visible = true;
    handlers!.shown();
    expect(runs).toBe(2);
    await endRun();
    // Hidden and shown again at once: the last run is fresh.
    handlers!.shown();
    expect(runs).toBe(2);
  });

  it('SYNC-C1: nothing offline; the network coming back runs at once', async () => {
    online = false;
    stop = startRefreshLoop(run, GAPS, env);
    await vi.advanceTimersByTimeAsync(3 * EVERY);
    expect(runs).toBe(0);
    online = true;
    handlers!.online();
    expect(runs).toBe(1);
  });

  it('SYNC-C1: the network coming back during a run runs again once that run ends', async () => {
    stop = startRefreshLoop(run, GAPS, env);
    expect(runs).toBe(1);
    // The run in progress may be stuck on a room the network left: another one follows it.
    handlers!.online();
    handlers!.online();
    expect(runs).toBe(1);
    await endRun();
    expect(runs).toBe(2);
    await endRun();
    expect(runs).toBe(2);
  });

  it('SYNC-C1: stopped, it runs no more and lets go of its listeners; a failed run does not stop it', async () => {
    let fail = true;
    stop = startRefreshLoop(
      () => {
        runs++;
        return fail ? Promise.reject(new Error('relay down')) : Promise.resolve<RoundFinding>('changed');
      },
      GAPS,
      env,
    );
    await vi.advanceTimersByTimeAsync(0);
    fail = false;
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(2);
    stop();
    expect(handlers).toBeNull();
    await vi.advanceTimersByTimeAsync(3 * EVERY);
    expect(runs).toBe(2);
  });

  it('SYNC-C1: each round that changes nothing doubles the gap, 1, 2, 4 min, up to 5 min', async () => {
    stop = startRefreshLoop(scripted([]), GAPS, env);
    await at(30 * 60);
    expect(starts).toEqual([0, 60, 180, 420, 720, 1020, 1320, 1620]);
  });

  it('SYNC-C1: a round that changed something sets the gap back to 30 s', async () => {
    stop = startRefreshLoop(scripted(['nothing', 'nothing', 'nothing', 'changed', 'nothing', 'changed']), GAPS, env);
    await at(600);
    // 0, +1 min, +2 min, +4 min (found something), +30 s, +1 min (found something), +30 s, +1 min.
    expect(starts).toEqual([0, 60, 180, 420, 450, 510, 540, 600]);
  });

  it('SYNC-C1: a failed round (it threw, or a room failed or timed out) keeps the gap: neither longer nor back to 30 s', async () => {
    stop = startRefreshLoop(scripted(['throw', 'failed', 'nothing', 'nothing', 'throw', 'failed']), GAPS, env);
    await at(900);
    // Failing from the start: every 30 s, as a relay that is down for a moment is retried today;
    // failing once backed off (2 min): every 2 min, then on from there.
    expect(starts).toEqual([0, 30, 60, 120, 240, 360, 480, 720]);
  });

  it('SYNC-C1: the gap counts from the end of a round', async () => {
    stop = startRefreshLoop(run, GAPS, env);
    // A slow round (rooms timing out one after another) that found nothing: 1 min after it ends.
    await vi.advanceTimersByTimeAsync(100_000);
    await endRun('nothing');
    await vi.advanceTimersByTimeAsync(2 * EVERY - 1);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(2);
  });

  it('SYNC-C1: the page shown again sets the gap back to 30 s (and runs if the last run is 30 s old)', async () => {
    stop = startRefreshLoop(scripted([]), GAPS, env);
    await at(200);
    expect(starts).toEqual([0, 60, 180]); // the next one is due at 420 s
    visible = false;
    await at(300);
    visible = true;
    handlers!.shown();
    // It ran (the last started 2 min ago) and found nothing: 1 min, not 8.
    await at(360);
    expect(starts).toEqual([0, 60, 180, 300, 360]); // then 2 min: 480 s
    visible = false;
    await at(370);
    visible = true;
    handlers!.shown();
    // Shown 10 s after a run: none now, but the next is 30 s after it, not 2 min.
    expect(starts).toHaveLength(5);
    await at(389);
    expect(starts).toHaveLength(5);
    await at(450);
    expect(starts).toEqual([0, 60, 180, 300, 360, 390, 450]);
  });

  it('SYNC-C1: the network coming back runs at once; the gap then follows what that round found', async () => {
    stop = startRefreshLoop(scripted([]), GAPS, env);
    await at(100);
    expect(starts).toEqual([0, 60]); // the next one is due at 180 s
    online = false;
    await at(150);
    online = true;
    handlers!.online();
    await at(600);
    // Nothing again: 4 min after it; the one due at 180 s did not run.
    expect(starts).toEqual([0, 60, 150, 390]);
  });

  it('SYNC-C1: an hour hidden runs nothing; shown, one run, and the gap then follows what it found', async () => {
    stop = startRefreshLoop(scripted([]), GAPS, env);
    visible = false;
    await at(3600);
    expect(starts).toEqual([0]);
    visible = true;
    handlers!.shown();
    await at(3600 + 90);
    expect(starts).toEqual([0, 3600, 3660]);
  });
});

describe('SYNC-C1: what a round found', () => {
  const rooms = ['a', 'b', 'c'];
  it('SYNC-C1: changed when any room changed, failed when a room failed, timed out or was not reached, else nothing', () => {
    const all = (o: RefreshOutcome): Map<string, RefreshOutcome> => new Map(rooms.map((r) => [r, o]));
    expect(roundFinding(rooms, all('synced'), false)).toBe('nothing');
    expect(roundFinding(rooms, all('refused'), false)).toBe('nothing');
    expect(roundFinding(rooms, all('held-back'), false)).toBe('nothing');
    expect(roundFinding([], new Map(), false)).toBe('nothing');
    expect(roundFinding(rooms, new Map([...all('synced'), ['b', 'timeout']]), false)).toBe('failed');
    expect(roundFinding(rooms, new Map([...all('synced'), ['c', 'failed']]), false)).toBe('failed');
    // Cancelled after the first room (the network went down): the others were not asked.
    expect(roundFinding(rooms, new Map([['a', 'synced']]), false)).toBe('failed');
    expect(roundFinding(rooms, new Map([...all('synced'), ['b', 'timeout']]), true)).toBe('changed');
  });

  it('SYNC-C1: the gap doubles after nothing up to the cap, goes back to the base after a change, stays after a failure', () => {
    expect(nextGap(EVERY, 'nothing', GAPS)).toBe(2 * EVERY);
    expect(nextGap(4 * 60_000, 'nothing', GAPS)).toBe(5 * 60_000);
    expect(nextGap(5 * 60_000, 'nothing', GAPS)).toBe(5 * 60_000);
    expect(nextGap(5 * 60_000, 'changed', GAPS)).toBe(EVERY);
    expect(nextGap(2 * 60_000, 'failed', GAPS)).toBe(2 * 60_000);
  });
});

describe("SYNC-C2: a room's screen refreshes the other rooms when its connection comes up", () => {
  let visible: boolean;
  let online: boolean;
  let shown: (() => void) | null;
  let rounds: { lastStart: number };
  let runs: number;
  let finish: (() => void) | null;
  let schedules: ReconnectRefresh[];
  const env = (): ReconnectRefreshEnv => ({
    visible: () => visible,
    online: () => online,
    now: () => Date.now(),
    listen: (h) => {
      shown = h.shown;
      return () => (shown = null);
    },
    rounds,
  });
  const run = (): Promise<void> => {
    runs++;
    return new Promise((resolve) => (finish = resolve));
  };
  const start = (): ReconnectRefresh => {
    const s = startReconnectRefresh(run, EVERY, env());
    schedules.push(s);
    return s;
  };
  const endRun = async (): Promise<void> => {
    finish?.();
    finish = null;
    await vi.advanceTimersByTimeAsync(0);
  };

  beforeEach(() => {
    vi.useFakeTimers();
    visible = true;
    online = true;
    shown = null;
    rounds = { lastStart: -Infinity };
    runs = 0;
    finish = null;
    schedules = [];
  });
  afterEach(() => {
    for (const s of schedules) s.stop();
    vi.useRealTimers();
  });

  it('SYNC-C2: no round until the connection comes up, then one at once; none on a timer', async () => {
    const s = start();
    await vi.advanceTimersByTimeAsync(10 * EVERY);
    expect(runs).toBe(0);
    s.connected();
    expect(runs).toBe(1);
    await endRun();
    await vi.advanceTimersByTimeAsync(10 * EVERY);
    expect(runs).toBe(1);
  });

  it('SYNC-C2: coming up again within 30 s of the last round owes one round, run when the 30 s are up; owed rounds do not add up', async () => {
    const s = start();
    s.connected();
    await endRun();
    await vi.advanceTimersByTimeAsync(EVERY / 3);
    s.connected();
    s.connected();
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync((2 * EVERY) / 3);
    expect(runs).toBe(2);
    await endRun();
    await vi.advanceTimersByTimeAsync(5 * EVERY);
    expect(runs).toBe(2);
  });

  it('SYNC-C2: coming up during a round owes one more after it, once the gap is over', async () => {
    const s = start();
    s.connected();
    s.connected();
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(EVERY + 1);
    expect(runs).toBe(1);
    await endRun();
    expect(runs).toBe(2);
  });

  it('SYNC-C2: a hidden page runs its owed round when shown; a connection down again holds it until it comes up', () => {
    const s = start();
    visible = false;
    s.connected();
    expect(runs).toBe(0);
    online = false;
    visible = true;
    shown!();
    expect(runs).toBe(0);
    online = true;
    s.connected();
    expect(runs).toBe(1);
  });

  it("SYNC-C2: the gap holds across a page's schedules (moving to another room starts no round of its own)", async () => {
    const first = start();
    first.connected();
    await endRun();
    first.stop();
    const second = start();
    second.connected();
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(2);
  });

  it('SYNC-C2: a stopped schedule runs nothing it owed', async () => {
    const s = start();
    s.connected();
    await endRun();
    s.connected();
    s.stop();
    await vi.advanceTimersByTimeAsync(3 * EVERY);
    expect(runs).toBe(1);
  });
});
