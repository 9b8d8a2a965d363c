/**
 * PRES-7: presence survives reconnects. y-protocols takes an awareness entry only when its clock
 * is newer than the one it holds for that client (AWR-2), and around a reconnect three clocks made
 * the next entry look old, so people stayed invisible until their state changed (in a quiet room,
 * up to the 15–30 s of y-protocols' renewals; after a relay restart, everybody to everybody):
 * - the relay, when a socket closes, broadcasts the removal of the states it announced at clock
 *   + 1 and remembers it (AWR-3, AWR-4), while the stock provider announces again at the old clock
 *   (`announceAfresh`);
 * - the stock provider, when its socket closes, drops every remote state but keeps their clocks,
 *   while the relay re-sends the same states at the same clocks on joining
 *   (`keepPresenceAcrossReconnects`);
 * - a quick reconnect on a new socket while the relay still holds the old one: when the relay
 *   drops the old socket it removes this replica's state at a newer clock; y-protocols answers by
 *   raising its own clock, an update whose origin is the provider (`ownStateToSend`).
 */
import * as awarenessProtocol from 'y-protocols/awareness';
import type { WebsocketProvider } from 'y-websocket';

/**
 * Announces this replica's state with its clock two above the last one: newer than a removal the
 * relay holds at + 1. Called on the provider's `connected` status, which y-websocket emits before
 * its own announcement: this one goes first and is the one taken. No-op without a state (a
 * background session, SYNC-C1; the class view).
 */
export const announceAfresh = (awareness: awarenessProtocol.Awareness): void => {
  const state = awareness.getLocalState();
  if (state === null) return;
  const meta = awareness.meta.get(awareness.clientID);
  if (meta) meta.clock += 1;
  awareness.setLocalState({ ...state }); // + 1 again, and emitted (sent)
};

/**
 * Remembers the remote clients the provider drops when its socket closes (an update it makes,
 * with no socket), and forgets their clocks when the next socket opens, before the relay's first
 * frame: what the relay then sends is taken (it holds the latest states). Not earlier: while
 * disconnected, other tabs may answer over BroadcastChannel with states the relay has since
 * removed, and the kept clocks still turn those away. Returns the cleanup.
 */
export const keepPresenceAcrossReconnects = (
  provider: WebsocketProvider,
  awareness: awarenessProtocol.Awareness,
): (() => void) => {
  let dropped: number[] = [];
  const onUpdate = (changes: { removed: number[] }, origin: unknown): void => {
    if (origin === provider && provider.ws === null) dropped.push(...changes.removed);
  };
  const onStatus = (e: { status: string }): void => {
    if (e.status !== 'connected') return;
    for (const id of dropped) if (id !== awareness.clientID && !awareness.states.has(id)) awareness.meta.delete(id);
    dropped = [];
    announceAfresh(awareness);
  };
  awareness.on('update', onUpdate);
  provider.on('status', onStatus);
  return () => {
    awareness.off('update', onUpdate);
    provider.off('status', onStatus);
  };
};

export interface AwarenessChanges {
  readonly added: readonly number[];
  readonly updated: readonly number[];
  readonly removed: readonly number[];
}

/**
 * PRES-2 sends only this replica's own changes; `changes` came from `fromRemote` (the relay or
 * another tab) or from here. Also sent: this replica's own state when a remote removal of it was
 * just refused by raising its clock (y-protocols keeps a live local state), the answer the relay
 * must hear. Null when nothing is to be sent.
 */
export const ownStateToSend = (
  changes: AwarenessChanges,
  fromRemote: boolean,
  awareness: awarenessProtocol.Awareness,
): AwarenessChanges | null => {
  if (!fromRemote) return changes;
  const own = awareness.clientID;
  return changes.removed.includes(own) && awareness.getLocalState() !== null
    ? { added: [], updated: [own], removed: [] }
    : null;
};
