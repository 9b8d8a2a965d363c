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

/** What `startReconnectRefresh` needs of the page: its visibility, the room's connection and the clock. */
export interface ReconnectRefreshEnv {
  readonly visible: () => boolean;
  /** The room's own connection is up (a round started while it is down would only fail). */
  readonly online: () => boolean;
  readonly now: () => number;
  /** Calls `shown` when the page becomes visible; returns the unsubscribe. */
  readonly listen: (handlers: { shown: () => void }) => () => void;
  /** When the last round started (ms, `now`), shared by every schedule of the page: a new room's screen keeps the gap. */
  readonly rounds: { lastStart: number };
}

export interface ReconnectRefresh {
  /** The room's connection came up: a round is owed. */
  connected(): void;
  /** Stops it (a round in progress finishes; none owed runs). */
  stop(): void;
}

/**
 * SYNC-C2's schedule for a room's screen: a round is owed each time the room's connection comes
 * up (the relay is reachable again, so edits made offline in other rooms can go out), and runs
 * once the page is visible, the connection is still up, no round is running and `minGapMs` have
 * passed since the page's last round started (it runs when they have: moving from room to room
 * does not start a round per room). Owed rounds do not add up: one
 * round visits every room. No round runs on a timer: a room's screen, where people spend their
 * time, adds upgrades only when its connection comes back, and hidden tabs none (a relay restart
 * reconnects every tab of a class behind one NAT at once; CLOSE-7 counts their upgrades together).
 */
export const startReconnectRefresh = (
  run: () => Promise<void>,
  minGapMs: number,
  env: ReconnectRefreshEnv,
): ReconnectRefresh => {
  let stopped = false;
  let running = false;
  let owed = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const tick = (): void => {
    if (stopped || running || !owed || !env.visible() || !env.online()) return;
    const wait = env.rounds.lastStart + minGapMs - env.now();
    if (wait > 0) {
      timer ??= setTimeout(() => {
        timer = null;
        tick();
      }, wait);
      return;
    }
    owed = false;
    running = true;
    env.rounds.lastStart = env.now();
    run()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        tick();
      });
  };
  const unlisten = env.listen({ shown: tick });
  return {
    connected: () => {
      owed = true;
      tick();
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      unlisten();
    },
  };
};
