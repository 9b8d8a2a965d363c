/**
 * One round of SYNC-C1's background refresh of the most recently opened rooms, run by the lobby
 * (./Lobby.tsx, on ./refreshLoop.ts's schedule) and by a room's screen for the other rooms when
 * its connection comes back (SYNC-C2, ./refreshLoop.ts `startReconnectRefresh`). Each room is
 * caught up without loading it; one the catch-up cannot decide alone, such as one holding edits
 * made offline (CATCH-6), gets a background session, which uploads them. A round says what it
 * found (`RoundFinding`): the lobby's schedule backs off while rounds find nothing.
 */
import { refreshRooms, takeStoredRoom, type RoomChange } from '../sync/backgroundRefresh.js';
import type { LobbySummaries } from './lobbySummaries.js';
import { roundFinding, type RefreshGaps, type RoundFinding } from './refreshLoop.js';
import { OlderRoomsTurn } from './roundRooms.js';
import {
  catchUpInBackground,
  offlineSwitch,
  openBackgroundSession,
  roomLocks,
  tabFaults,
  type IdentityInfo,
  type LocalStore,
} from './services.js';

/**
 * SYNC-C1's gaps between the lobby's rounds (and SYNC-C2's least gap between a page's rounds). A
 * refresh of a room that missed nothing is one short websocket (CATCH-1: the relay answers a
 * state vector with nothing), about 1.9 KB with its upgrade (plus a TLS handshake in production):
 * every 30 s, 10 rooms a round, that was 1,200 upgrades and 2.3 MB an hour for a lobby left shown
 * on a phone, found nothing or not. So 30 s only after a round that changed something (a
 * conversation is going on: its counts stay within 30 s), doubling after each round in a row that
 * changed nothing: 1, 2, 4 min, then 5 min (reached after 7 min of quiet). The cap bounds how far
 * behind the counts of a lobby left shown can be (5 min, plus a round) while costing 12 rounds an
 * hour, a tenth of before (13 rooms a round: 156 upgrades, about 300 KB); past it each doubling
 * would save less and less for counts twice as stale. The page shown again (if the last round
 * started 30 s ago or more) and the network coming back run a round anyway.
 */
export const REFRESH_EVERY_MS = 30_000;
/** SYNC-C1: the longest gap between the lobby's rounds (see `REFRESH_EVERY_MS`). */
export const REFRESH_MAX_GAP_MS = 5 * 60_000;
export const LOBBY_REFRESH_GAPS: RefreshGaps = { baseMs: REFRESH_EVERY_MS, maxMs: REFRESH_MAX_GAP_MS };
const REFRESH_ROOM_TIMEOUT_MS = 15_000;

/** OFF-1, LAB-10: rooms the user holds back from the relay (the offline switch, a Lab partition), which no round visits. */
export const heldBack = (room: string): boolean => offlineSwitch.isOff(room) || tabFaults.partitionedHere(room);

export interface RecentRoomsRound {
  readonly local: LocalStore;
  readonly identity: IdentityInfo;
  /** The lobby's summaries: advanced by what a catch-up stored (LOBBY-1), asked which clients' acks to record (CATCH-8). */
  readonly summaries: LobbySummaries;
  /** A room left out, checked when the round starts and when each room's turn comes: the one open on this screen, which syncs on its own. */
  readonly except?: () => string | null;
  /** Checked before each room (the screen went away); the network going down ends the round too. */
  readonly cancelled: () => boolean;
  /** After a room whose store or acks the round changed, once the summaries know it. */
  readonly onChange?: (room: string, change: RoomChange) => void;
}

/** REMOVE-1: the rooms this page's rounds are visiting now, each until its visit ends. */
const visits = new Map<string, Promise<void>>();

/** REMOVE-1: the end of this page's visit of `room`, if a round is visiting it now. */
export const roundVisit = (room: string): Promise<void> | undefined => visits.get(room);

/** The turn of the older rooms, shared by this page's rounds (the lobby's, SYNC-C2's). */
const olderTurn = new OlderRoomsTurn();

/**
 * Refreshes the `REFRESH_ROOMS` most recently opened rooms not held back and `REFRESH_OLDER_ROOMS`
 * of the others in turn, one at a time; resolves with what it found (`roundFinding`: a change in
 * any room wins over a room that failed).
 */
export const refreshRecentRooms = async (round: RecentRoomsRound): Promise<RoundFinding> => {
  const { local, identity, summaries } = round;
  const skip = (room: string): boolean => heldBack(room) || room === round.except?.();
  const infos = await local.store.listRooms();
  // OFF-1: a room switched off in this tab is not synced from here either; LAB-10: nor one a Lab
  // partition holds back, in this tab or another (also once the round started).
  const rooms = olderTurn.choose(
    infos.map((i) => ({ room: i.room, lastOpenedAt: i.meta.lastOpenedAt })),
    skip,
  );
  let changed = false;
  const outcomes = await refreshRooms({
    rooms,
    heldBack: skip,
    catchUp: (room, timeoutMs) => catchUpInBackground(room, local, timeoutMs, summaries.unackedClients(room)),
    open: (room) => openBackgroundSession(room, identity, local),
    timeoutMs: REFRESH_ROOM_TIMEOUT_MS,
    cancelled: () => round.cancelled() || !navigator.onLine,
    // REMOVE-1: a room is not removed while a round visits it, nor visited once removed.
    take: async (room) => {
      const release = await takeStoredRoom(roomLocks, local.store)(room);
      if (release === null) return null;
      let ended = (): void => undefined;
      visits.set(room, new Promise((resolve) => (ended = resolve)));
      return async () => {
        visits.delete(room);
        await release();
        ended();
      };
    },
    onRoom: (room, _outcome, change) => {
      olderTurn.visited(room);
      if (change.kind === 'none') return;
      changed = true;
      summaries.advance(room, change);
      round.onChange?.(room, change);
    },
  });
  return roundFinding(rooms, outcomes, changed);
};
