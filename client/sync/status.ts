/**
 * Connection status and refusal texts, as pure functions of what the provider and the session
 * know (so they are unit-tested without sockets).
 *
 * STATUS-1: 'online' only when the socket is open AND the sync handshake finished (the relay
 * answered our SyncStep1): before that, the client cannot know what it lacks. 'offline' when
 * the user switched the room offline, when the relay refused us for good, when the browser says
 * there is no network, or after `OFFLINE_AFTER_FAILURES` consecutive failed attempts (the
 * provider keeps retrying in the background; the UI should not flicker "connecting" for hours).
 * 'connecting' otherwise while the provider wants to connect.
 */
import { closeReasonByCode, CloseReason, UpgradeRefusal } from '../../shared/protocol.js';

export type ConnectionStatus = 'online' | 'connecting' | 'offline';

/** Consecutive failed attempts after which a retrying client shows 'offline'. */
export const OFFLINE_AFTER_FAILURES = 3;

export interface StatusInputs {
  readonly manualOffline: boolean;
  /** A fatal close or a refused room name: no retries. */
  readonly refused: boolean;
  /** `navigator.onLine` (true when unknown). */
  readonly networkOnline: boolean;
  /** LAB-1: this session's Lab faults include a partition (no attempt can succeed until it is lifted). */
  readonly partitioned: boolean;
  /** provider.shouldConnect */
  readonly wantsConnection: boolean;
  /** provider.wsconnected */
  readonly socketOpen: boolean;
  /** provider.synced */
  readonly synced: boolean;
  /** provider.wsUnsuccessfulReconnects (reset when a connection syncs). */
  readonly failedAttempts: number;
}

/** STATUS-1. */
export const deriveStatus = (s: StatusInputs): ConnectionStatus => {
  if (s.manualOffline || s.refused || !s.wantsConnection) return 'offline';
  // Before the socket: the session is closing it (STATUS-2), and a close on a dead link may take
  // seconds to complete; until then the socket still looks open and synced.
  if (!s.networkOnline) return 'offline';
  // A partition fails every attempt on purpose: "Connecting…" would say a connection may come.
  if (s.partitioned) return 'offline';
  if (s.socketOpen && s.synced) return 'online';
  if (s.failedAttempts >= OFFLINE_AFTER_FAILURES && !s.socketOpen) return 'offline';
  return 'connecting';
};

/** REFUSE-2: the text shown for an invalid room name (checked before connecting). */
export const roomNameRefusal = (room: string): string =>
  `The room name "${room.length > 40 ? room.slice(0, 40) + '…' : room}" cannot be used: a room name is ` +
  UpgradeRefusal.BadRoomName.reason.replace(/^bad-room-name: /, '') +
  '. This room is kept on this device only and never synced.';

/** REFUSE-1: the text shown after the relay closed the connection with a fatal (4400–4499) code. */
export const describeFatalClose = (code: number, reason: string): string => {
  const known = closeReasonByCode(code);
  const tail = ' The app stopped reconnecting; switch the room offline and online again to retry.';
  switch (known?.reason) {
    case CloseReason.BadFrame.reason:
    case CloseReason.TextFrame.reason:
    case CloseReason.ProtocolError.reason:
      return `The relay refused this connection because it received data it could not read (${known.reason}). This is a bug in this app; reloading the page may help.${tail}`;
    case CloseReason.FrameTooLarge.reason:
      return `The relay refused a change that is too large to send (${known.reason}). Very large messages or imports cannot be synced.${tail}`;
    case CloseReason.InvalidUpdate.reason:
      return `The relay refused a change from this device as malformed (${known.reason}). Your messages are kept on this device; export the room to keep a copy.${tail}`;
    // REFUSE-4: well-formed data over one of this relay's limits: say which, and what can be done.
    case CloseReason.StructTooLarge.reason:
      return `The relay refused a change too large for this relay (${known.reason}): one item in it, such as a very long message or something in an imported room file, is bigger than the largest piece this relay passes on, so this room cannot sync through it. Your messages are kept on this device; export the room to keep a copy, and ask whoever runs the relay to raise MAX_SEND_FRAME_BYTES. If it is a long message of yours written offline, deleting it (copy its text first) lets the room sync.${tail}`;
    case CloseReason.TooManyClients.reason:
      return `The relay refused an upload naming too many writers (${known.reason}): this room was written in more sessions than this relay accepts in one change (its MAX_CLIENTS_PER_UPDATE). Your messages are kept on this device; export the room to keep a copy, and ask whoever runs the relay to raise that limit.${tail}`;
    case CloseReason.TooManyGaps.reason:
      return `The relay refused a change from this device (${known.reason}): the change reaches more pieces of the room that the relay holds out of order (with parts before them still missing) than the relay cuts around in one change (DEDUPE-3). This app does not make such changes; a program writing forged data to the room can cause it. Your messages are kept on this device; export the room to keep a copy, and tell whoever runs the relay.${tail}`;
    case CloseReason.InvalidAwareness.reason:
      return `The relay refused this device's presence information (${known.reason}).${tail}`;
    default:
      return `The relay closed the connection for good (code ${code}${reason ? `, ${reason}` : ''}).${tail}`;
  }
};

/**
 * REFUSE-3: the notice shown after the relay closed the connection, for a retryable reason the
 * user should know about (their messages stay Pending meanwhile, and the app keeps retrying);
 * null for the others (going-away and slow-consumer are ordinary reconnects).
 */
export const describeRetryableClose = (code: number): string | null => {
  switch (closeReasonByCode(code)?.reason) {
    case CloseReason.StorageUnavailable.reason:
      return `The relay could not save to its storage (${CloseReason.StorageUnavailable.reason}: full or failing). Messages stay Pending on this device and are sent again until the relay can store them.`;
    case CloseReason.RateLimited.reason:
      return `This device sent faster than the relay accepts (${CloseReason.RateLimited.reason}); the connection was reset and what is not saved yet is sent again.`;
    case CloseReason.InternalError.reason:
      return `The relay hit an internal error (${CloseReason.InternalError.reason}) and reset the connection; the app reconnects by itself.`;
    default:
      return null;
  }
};

/** STRUCT-4: an own message not sent yet that this relay would refuse for good (VAL-10). */
export interface OversizedMessage {
  readonly id: string;
  /** The text shown (to copy before deleting it). */
  readonly text: string;
  /** UTF-8 bytes of the message's largest stored text (its first version or an edit). */
  readonly bytes: number;
  /** The most this relay passes on (`maxStructBytes` − TEXT_STRUCT_OVERHEAD). */
  readonly maxBytes: number;
}

/** STRUCT-4: the start of a message's text, on one line, to name it in a sentence. */
export const quoteStart = (text: string): string => {
  const line = text.replace(/\s+/g, ' ').trim();
  return `“${line.length > 30 ? line.slice(0, 30) + '…' : line}”`;
};

/**
 * STRUCT-4: the refusal shown, before anything is sent, when own messages not sent yet are too
 * large for the relay's known limits (written offline before this device knew them, or the
 * limit was lowered since): which, and what the user can do.
 */
export const oversizedRefusal = (oversized: readonly OversizedMessage[]): string => {
  const max = oversized[0]?.maxBytes ?? 0;
  const which =
    oversized.length === 1
      ? `Your message ${quoteStart(oversized[0]!.text)} takes ${oversized[0]!.bytes} bytes, more than the ${max} this relay passes on`
      : `${oversized.length} of your messages are larger than the ${max} bytes this relay passes on: ${oversized.map((m) => `${quoteStart(m.text)} (${m.bytes} bytes)`).join(', ')}`;
  const it = oversized.length === 1 ? 'it' : 'them';
  return `${which}. The relay would refuse this room's changes for good, so nothing is sent (struct-too-large). Delete ${it} (copy the text first to keep it, and send it in parts) and the room syncs again; or ask whoever runs the relay to raise MAX_SEND_FRAME_BYTES.`;
};

/** REBUILD-2: shown when rebuilding keeps failing, so the session stops reconnecting. */
export const REPEATED_FREEZE_REFUSAL =
  'This room keeps receiving data from the network that this app cannot apply, so it stopped syncing. ' +
  'Your messages are kept on this device; export the room to keep a copy. Switch offline and online to try again.';
