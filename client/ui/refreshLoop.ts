/**
 * SYNC-C1's schedule for the lobby's refresh of recent rooms: a run at start, every `everyMs`,
 * when the network comes back (after the run in progress, if any: it may be stuck on a room the
 * network left), and when the page is shown again at least `everyMs` after the last run started;
 * never while the page is hidden or offline, and never two at once. A lobby left
 * open in a background tab costs the relay nothing (each run is up to 10 websocket upgrades,
 * which CLOSE-7 counts per address: a class behind one NAT shares them).
 */
export interface RefreshLoopEnv {
  readonly visible: () => boolean;
  readonly online: () => boolean;
  readonly now: () => number;
  /** Calls `shown` when the page becomes visible and `online` when the network returns; returns the unsubscribe. */
  readonly listen: (handlers: { shown: () => void; online: () => void }) => () => void;
}

/** The browser's page visibility, network state and clock. */
export const browserRefreshEnv: RefreshLoopEnv = {
  visible: () => document.visibilityState === 'visible',
  online: () => navigator.onLine,
  now: () => Date.now(),
  listen: ({ shown, online }) => {
    const onVisibility = (): void => {
      if (document.visibilityState === 'visible') shown();
    };
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('online', online);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      window.removeEventListener('online', online);
    };
  },
};

/** Starts the loop; the returned function stops it (a run in progress finishes). */
export const startRefreshLoop = (run: () => Promise<void>, everyMs: number, env: RefreshLoopEnv): (() => void) => {
  let stopped = false;
  let running = false;
  /** The network came back during a run: another one follows it. */
  let again = false;
  let lastStart = -Infinity;
  const tick = (onlyIfStale: boolean): void => {
    if (stopped || running || !env.visible() || !env.online()) return;
    if (onlyIfStale && env.now() - lastStart < everyMs) return;
    running = true;
    lastStart = env.now();
    run()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          tick(false);
        }
      });
  };
  const networkBack = (): void => {
    if (running) again = true;
    else tick(false);
  };
  tick(false);
  const timer = setInterval(() => tick(false), everyMs);
  const unlisten = env.listen({ shown: () => tick(true), online: networkBack });
  return () => {
    stopped = true;
    clearInterval(timer);
    unlisten();
  };
};
