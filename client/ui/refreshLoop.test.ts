import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  startReconnectRefresh,
  startRefreshLoop,
  type ReconnectRefresh,
  type ReconnectRefreshEnv,
  type RefreshLoopEnv,
} from './refreshLoop.js';

const EVERY = 30_000;

describe('SYNC-C1: the lobby refreshes recent rooms only while it is shown and online', () => {
  let visible: boolean;
  let online: boolean;
  let handlers: { shown: () => void; online: () => void } | null;
  let runs: number;
  /** Resolves the run in progress. */
  let finish: (() => void) | null;
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
  const run = (): Promise<void> => {
    runs++;
    return new Promise((resolve) => (finish = resolve));
  };
  /** Lets the run in progress end. */
  const endRun = async (): Promise<void> => {
    finish?.();
    finish = null;
    await vi.advanceTimersByTimeAsync(0);
  };

  beforeEach(() => {
    vi.useFakeTimers();
    visible = true;
    online = true;
    handlers = null;
    runs = 0;
    finish = null;
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('SYNC-C1: a run at start and every 30 s, never two at once', async () => {
    stop = startRefreshLoop(run, EVERY, env);
    expect(runs).toBe(1);
    // Still running when the next is due: skipped, not queued.
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(1);
    await endRun();
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(2);
    await endRun();
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toBe(3);
  });

  it('SYNC-C1: nothing while the page is hidden; shown again, a run only when the last is 30 s old', async () => {
    stop = startRefreshLoop(run, EVERY, env);
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
    stop = startRefreshLoop(run, EVERY, env);
    await vi.advanceTimersByTimeAsync(3 * EVERY);
    expect(runs).toBe(0);
    online = true;
    handlers!.online();
    expect(runs).toBe(1);
  });

  it('SYNC-C1: the network coming back during a run runs again once that run ends', async () => {
    stop = startRefreshLoop(run, EVERY, env);
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
        return fail ? Promise.reject(new Error('relay down')) : Promise.resolve();
      },
      EVERY,
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
