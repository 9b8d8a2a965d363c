import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startRefreshLoop, type RefreshLoopEnv } from './refreshLoop.js';

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
