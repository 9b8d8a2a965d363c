/**
 * PRES-7: presence survives reconnects. y-protocols takes an awareness entry only when its clock
 * is newer than the one it holds for that client (AWR-2), and both sides of a reconnect kept a
 * clock that made the next entry look old:
 * - the relay, when a socket closes, broadcasts the removal of the states it announced at clock
 *   + 1 and remembers it (AWR-3, AWR-4), while the stock provider announces again at the old clock;
 * - the stock provider, when its socket closes, drops every remote state but keeps their clocks,
 *   while the relay re-sends the same states at the same clocks on joining.
 * Either way the person stayed invisible until their state changed (in a quiet room, up to the
 * 15–30 s of y-protocols' renewals; after a relay restart, everybody to everybody).
 */
import * as awarenessProtocol from 'y-protocols/awareness';

/**
 * Announces this replica's state with its clock two above the last one: newer than a removal the
 * relay holds at + 1. Called on the provider's `connected` status, which comes before the
 * provider's own announcement: this one goes first and is the one taken. No-op without a state
 * (a background session, SYNC-C1).
 */
export const announceAfresh = (awareness: awarenessProtocol.Awareness): void => {
  const state = awareness.getLocalState();
  if (state === null) return;
  const meta = awareness.meta.get(awareness.clientID);
  if (meta) meta.clock += 1;
  awareness.setLocalState({ ...state }); // + 1 again, and emitted (sent)
};

/**
 * Forgets the clocks of remote clients whose states are gone (the provider dropped them when its
 * socket closed), so what the relay sends on joining is taken: it holds the latest states.
 */
export const forgetRemoteClocks = (awareness: awarenessProtocol.Awareness): void => {
  for (const id of [...awareness.meta.keys()]) {
    if (id !== awareness.clientID && !awareness.states.has(id)) awareness.meta.delete(id);
  }
};
