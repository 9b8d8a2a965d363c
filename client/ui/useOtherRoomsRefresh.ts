/**
 * SYNC-C2: while a room is open, the other recent rooms are refreshed when its connection comes
 * back ("Online" after "Offline": the network returned, or the relay after failed attempts),
 * so a message written offline in another room goes out without a visit to the lobby or to that
 * room (the lobby's own refresh, SYNC-C1, runs only while the lobby is shown). A room opened
 * while online ("Connecting…", then "Online") owes no round: the lobby it came from refreshed.
 */
import { useEffect, useMemo, useRef } from 'react';
import type { ConnectionStatus } from '../sync/status.js';
import { useApp } from './appContext.js';
import { lobbySummariesFor } from './lobbySummaries.js';
import { startReconnectRefresh, type ReconnectRefresh } from './refreshLoop.js';
import { REFRESH_EVERY_MS, refreshRecentRooms } from './refreshRecentRooms.js';

/** The page's rounds from room screens: the gap between them holds across rooms. */
const pageRounds = { lastStart: -Infinity };

/** `status`: the open room's connection. */
export const useOtherRoomsRefresh = (room: string, status: ConnectionStatus): void => {
  const online = status === 'online';
  const { local, identity } = useApp();
  const summaries = useMemo(() => lobbySummariesFor(local.store, identity.id), [local.store, identity.id]);
  const current = useRef({ room, online });
  current.current = { room, online };
  const refresher = useRef<ReconnectRefresh | null>(null);
  useEffect(() => {
    let stopped = false;
    const refresh = startReconnectRefresh(
      // What a round found does not matter here: SYNC-C2 runs no round on a timer, so none backs off.
      async () => {
        await refreshRecentRooms({
          local,
          identity,
          summaries,
          except: () => current.current.room,
          cancelled: () => stopped,
        });
      },
      REFRESH_EVERY_MS,
      {
        visible: () => document.visibilityState === 'visible',
        online: () => current.current.online,
        now: () => Date.now(),
        listen: ({ shown }) => {
          const onVisibility = (): void => {
            if (document.visibilityState === 'visible') shown();
          };
          document.addEventListener('visibilitychange', onVisibility);
          return () => document.removeEventListener('visibilitychange', onVisibility);
        },
        rounds: pageRounds,
      },
    );
    refresher.current = refresh;
    return () => {
      stopped = true;
      refresh.stop();
      refresher.current = null;
    };
  }, [local, identity, summaries]);
  // The screen showed "Offline" since it was last "Online" (or since it opened).
  const wasOffline = useRef(status === 'offline');
  // Declared after the effect that makes the refresher, so it runs after it at mount too.
  useEffect(() => {
    if (status === 'offline') wasOffline.current = true;
    else if (status === 'online' && wasOffline.current) {
      wasOffline.current = false;
      refresher.current?.connected();
    }
  }, [status]);
};
