/**
 * UPD-4: a room's connection to the relay came back after it had been up in this screen (the
 * relay restarted, or the network dropped the socket). A relay restart is when a deploy lands, so
 * the update check listens for this as well as for the browser's `online` (which a relay restart
 * never fires). The first connection of a screen is not a return.
 */
import { useEffect, useRef } from 'react';
import type { ConnectionStatus } from '../sync/status.js';

export const RELAY_BACK_EVENT = 'converge:relay-back';

/** Announces (a window event) each return of `status` to "online" after it had been online and then not. */
export const useRelayBackAnnouncer = (status: ConnectionStatus): void => {
  const phase = useRef<'never-online' | 'online' | 'away'>('never-online');
  useEffect(() => {
    if (status === 'online') {
      if (phase.current === 'away') window.dispatchEvent(new Event(RELAY_BACK_EVENT));
      phase.current = 'online';
    } else if (phase.current === 'online') {
      phase.current = 'away';
    }
  }, [status]);
};
