/**
 * SYNC-C1: the lobby's background refresh. Rooms are only synced while open, so a room's unread
 * count in the lobby would only know what this device already stored. While the lobby is shown
 * and the network is up, it visits the most recently opened rooms one at a time with a
 * background session (no presence, `lastOpenedAt` untouched): connect, wait for the relay's
 * SyncStep2 (everything the relay held is then here), wait until it is stored, leave. The lobby
 * recounts from the store afterwards, and the rooms are up to date for the next time offline.
 *
 * One room at a time keeps the relay's and this device's work small; a room that does not answer
 * within `timeoutMs` is left for the next round.
 */
import type { RoomSession } from './roomSession.js';

export type RefreshOutcome = 'synced' | 'refused' | 'timeout' | 'failed';

export interface RefreshOptions {
  readonly rooms: readonly string[];
  /** Opens a background session (RoomSessionOptions.background) for a room. */
  readonly open: (room: string) => Promise<RoomSession>;
  /** How long to wait for one room's SyncStep2. */
  readonly timeoutMs: number;
  /** Checked before each room: the lobby went away or the network went down. */
  readonly cancelled?: () => boolean;
  /** After each room, once what arrived is stored. */
  readonly onRoom?: (room: string, outcome: RefreshOutcome) => void;
}

const waitSynced = (s: RoomSession, timeoutMs: number): Promise<RefreshOutcome> =>
  new Promise((resolve) => {
    let unsubscribe = (): void => undefined;
    const finish = (outcome: RefreshOutcome): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve(outcome);
    };
    const check = (): void => {
      if (s.synced) finish('synced');
      else if (s.view().connection.refusal !== null) finish('refused');
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    unsubscribe = s.subscribe(check);
    check();
  });

/** Refreshes `rooms` in order, one at a time (SYNC-C1); resolves with each room's outcome. */
export const refreshRooms = async (opts: RefreshOptions): Promise<Map<string, RefreshOutcome>> => {
  const outcomes = new Map<string, RefreshOutcome>();
  for (const room of opts.rooms) {
    if (opts.cancelled?.()) break;
    let outcome: RefreshOutcome = 'failed';
    let session: RoomSession | null = null;
    try {
      session = await opts.open(room);
      outcome = await waitSynced(session, opts.timeoutMs);
      await session.whenStored();
    } catch {
      outcome = 'failed';
    } finally {
      session?.destroy();
    }
    outcomes.set(room, outcome);
    opts.onRoom?.(room, outcome);
  }
  return outcomes;
};
