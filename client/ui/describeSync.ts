/**
 * SYNC-D1: Room details' Sync section in words, as a pure function of the room's view and the
 * browser's network state. Each line says what is true now and what will happen next, so that it
 * never contradicts the rest of the screen: a refused room is not "Offline … sent when the relay
 * can be reached" (nothing is sent until the user acts), a switched-off room waits for the user,
 * not the relay, an online room with writes still pending is sending them, and an upload in
 * progress (UP-2's banner) is listed even when none of it is the user's own writes. A session cut
 * off by a Lab partition (LAB-1) says so: "the relay cannot be reached" sent students looking for
 * a network fault the lab's banner had already named.
 */
import type { RoomView } from '../sync/roomSession.js';
import { describeUpload } from './describeUpload.js';
import { describePending } from './describePending.js';

export const STATUS_LABEL = { online: 'Online', connecting: 'Connecting…', offline: 'Offline' } as const;

export interface SyncWords {
  readonly connection: string;
  readonly pending: string;
  /** UP-2's progress while a paced upload takes a while, else null. */
  readonly upload: string | null;
}

/** "a, b and c". */
const listInWords = (parts: readonly string[]): string =>
  parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;

const capitalized = (s: string): string => `${s.charAt(0).toUpperCase()}${s.slice(1)}`;

export const describeSync = (
  view: Pick<RoomView, 'connection' | 'pendingCount' | 'pendingReactionCount' | 'pendingTitle'>,
  where: {
    /** The browser says it has a network (`navigator.onLine`). */
    readonly networkOnline: boolean;
    /** LAB-1: this session's Lab faults include a partition. */
    readonly labPartitioned: boolean;
  },
): SyncWords => {
  const { status, manualOffline, refusal, upload } = view.connection;
  // The order is the order of precedence: a refusal stands whatever the network does, the switch
  // stands whatever the relay does, a partition is this device's own doing (named even without a
  // network: it holds after the network is back), and the relay can be reached only over a network.
  const [connection, next] =
    refusal !== null
      ? [`Not syncing. ${refusal}`, 'not sent while the relay refuses this room']
      : manualOffline
        ? ['Offline (switched off: nothing is sent or received until you go online)', 'sent when you go online']
        : where.labPartitioned
          ? [
              'Offline: cut off by a Lab partition on this device (from the relay and this room’s other tabs) until it is lifted',
              'sent when the partition is lifted',
            ]
          : !where.networkOnline
            ? ['Offline: this device has no network', 'sent when this device is back on a network']
            : status === 'online'
              ? ['Online', 'being sent to the relay, which confirms each once it has saved it']
              : status === 'connecting'
                ? ['Connecting…', 'sent when the relay can be reached']
                : ['Offline: the relay cannot be reached; trying again', 'sent when the relay can be reached'];
  const waiting = listInWords(describePending(view).parts);
  return {
    connection,
    pending:
      waiting === ''
        ? upload === null
          ? 'Nothing waiting to be sent'
          : 'Nothing of your own waiting to be sent'
        : `${capitalized(waiting)} kept on this device, ${next}`,
    upload: upload === null ? null : describeUpload(upload),
  };
};
