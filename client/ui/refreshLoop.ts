/**
 * SYNC-C1's schedule for the lobby's refresh of recent rooms: a run at start, then one `gap` after
 * the last run ended, when the network comes back (after the run in progress, if any: it may be
 * stuck on a room the network left), and when the page is shown again at least `baseMs` after the
 * last run started; never while the page is hidden or offline, and never two at once. A lobby left
 * open in a background tab costs the relay nothing (each run is up to 10 websocket upgrades,
 * which CLOSE-7 counts per address: a class behind one NAT shares them).
 *
 * The gap backs off while rounds find nothing: each round that changed no room's store or acks
 * doubles it (`baseMs`, then 2×, 4×, 8×, … up to `maxMs`), a round that changed something sets it
 * back to `baseMs`, and a round that failed (it threw, or a room timed out or failed: it could not
 * tell) keeps it. The page shown again sets it back to `baseMs` too (someone is looking now; the
 * cost follows their visits, at most a round per `baseMs`); the network coming back runs a round at
 * once but leaves the gap to what that round finds.
 */
import type { RefreshOutcome } from '../sync/backgroundRefresh.js';

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

/** What a round found: a room's store or acks changed, nothing changed, or it cannot tell (a room failed or timed out). */
export type RoundFinding = 'changed' | 'nothing' | 'failed';

/** SYNC-C1's gaps: `baseMs` after a round that changed something, doubling after each that did not, up to `maxMs`. */
export interface RefreshGaps {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** How much longer the gap gets after a round that changed nothing. */
export const REFRESH_BACKOFF_FACTOR = 2;

/** The gap after a round that found `finding`, `gap` being the one before it. */
export const nextGap = (gap: number, finding: RoundFinding, gaps: RefreshGaps): number =>
  finding === 'changed'
    ? gaps.baseMs
    : finding === 'nothing'
      ? Math.min(gap * REFRESH_BACKOFF_FACTOR, gaps.maxMs)
      : // Failed: it says nothing about the rooms. Growing would let a flaky network push a busy
        // lobby to the longest gap; shrinking would retry a relay that is down every `baseMs`.
        gap;

/**
 * What a round of `rooms` found, from `refreshRooms`'s outcomes: `changed` as soon as a room's
 * store or acks changed (`changed`: a `RoomChange` other than `none`; a room that took the full
 * path counts whatever its session stored, which cannot be told: such rooms are rare); else
 * `failed` when a room timed out, failed or was not reached (the round was cancelled: the network
 * went down); else `nothing` (a room refused or held back is an answer: asking again sooner
 * brings the same).
 */
export const roundFinding = (
  rooms: readonly string[],
  outcomes: ReadonlyMap<string, RefreshOutcome>,
  changed: boolean,
): RoundFinding => {
  if (changed) return 'changed';
  for (const room of rooms) {
    const outcome = outcomes.get(room);
    if (outcome === undefined || outcome === 'timeout' || outcome === 'failed') return 'failed';
  }
  return 'nothing';
};

/**
 * Starts the loop; the returned function stops it (a run in progress finishes). `run` says what it
 * found; one that throws counts as `failed`.
 */
export const startRefreshLoop = (
  run: () => Promise<RoundFinding>,
  gaps: RefreshGaps,
  env: RefreshLoopEnv,
): (() => void) => {
  let stopped = false;
  let running = false;
  /** The network came back during a run: another one follows it. */
  let again = false;
  let lastStart = -Infinity;
  let lastEnd = -Infinity;
  let gap = gaps.baseMs;
  /**
   * The next run, armed when a run ends (or the page is shown): one due while the page is hidden
   * or offline arms no other; `shown` and `online` start the loop again.
   */
  let timer: ReturnType<typeof setTimeout> | null = null;
  const arm = (at: number): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(
      () => {
        timer = null;
        tick();
      },
      Math.max(0, at - env.now()),
    );
  };
  const tick = (): void => {
    if (stopped || running || !env.visible() || !env.online()) return;
    if (timer) clearTimeout(timer);
    timer = null;
    running = true;
    lastStart = env.now();
    void run()
      .catch((): RoundFinding => 'failed')
      .then((finding) => {
        running = false;
        lastEnd = env.now();
        gap = nextGap(gap, finding, gaps);
        if (stopped) return;
        if (again) {
          again = false;
          tick();
        }
        if (!running) arm(lastEnd + gap);
      });
  };
  const shown = (): void => {
    gap = gaps.baseMs;
    if (running) return;
    if (env.now() - lastStart >= gaps.baseMs) tick();
    else arm(lastEnd + gap);
  };
  const networkBack = (): void => {
    if (running) again = true;
    else tick();
  };
  tick();
  const unlisten = env.listen({ shown, online: networkBack });
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
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
