/**
 * One round of SYNC-C1's background refresh of the most recently opened rooms, run by the lobby
 * (./Lobby.tsx, on ./refreshLoop.ts's schedule) and by a room's screen for the other rooms when
 * its connection comes back (SYNC-C2, ./refreshLoop.ts `startReconnectRefresh`). Each room is
 * caught up without loading it; one the catch-up cannot decide alone, such as one holding edits
 * made offline (CATCH-6), gets a background session, which uploads them.
 */
import { refreshRooms, type RoomChange } from '../sync/backgroundRefresh.js';
import type { LobbySummaries } from './lobbySummaries.js';
import {
  catchUpInBackground,
  offlineSwitch,
  openBackgroundSession,
  tabFaults,
  type IdentityInfo,
  type LocalStore,
} from './services.js';

/** SYNC-C1: how many of the most recently opened rooms a round visits. */
export const REFRESH_ROOMS = 10;
// A refresh of a room that missed nothing is one short websocket (CATCH-1: the relay answers a
// state vector with nothing): every 30 s costs a relay little, where 2 min left counts stale.
export const REFRESH_EVERY_MS = 30_000;
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

/** Refreshes the `REFRESH_ROOMS` most recently opened rooms not held back, one at a time. */
export const refreshRecentRooms = async (round: RecentRoomsRound): Promise<void> => {
  const { local, identity, summaries } = round;
  const skip = (room: string): boolean => heldBack(room) || room === round.except?.();
  const infos = await local.store.listRooms();
  infos.sort((a, b) => (b.meta.lastOpenedAt ?? 0) - (a.meta.lastOpenedAt ?? 0));
  await refreshRooms({
    // OFF-1: a room switched off in this tab is not synced from here either; LAB-10: nor one a Lab
    // partition holds back, in this tab or another (also once the round started).
    rooms: infos
      .map((i) => i.room)
      .filter((room) => !skip(room))
      .slice(0, REFRESH_ROOMS),
    heldBack: skip,
    catchUp: (room, timeoutMs) => catchUpInBackground(room, local, timeoutMs, summaries.unackedClients(room)),
    open: (room) => openBackgroundSession(room, identity, local),
    timeoutMs: REFRESH_ROOM_TIMEOUT_MS,
    cancelled: () => round.cancelled() || !navigator.onLine,
    onRoom: (room, _outcome, change) => {
      if (change.kind === 'none') return;
      summaries.advance(room, change);
      round.onChange?.(room, change);
    },
  });
};
