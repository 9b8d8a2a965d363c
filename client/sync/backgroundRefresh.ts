/**
 * SYNC-C1: the lobby's background refresh. Rooms are only synced while open, so a room's unread
 * count in the lobby would only know what this device already stored. While the lobby is shown
 * and the network is up, it visits the rooms one at a time (which: ../ui/roundRooms.ts): a catch-up
 * (./catchUp.ts) sends the relay the state vector the store keeps for the room, validates what
 * comes back up to the relay's SyncStep2 (everything the relay held is then here), stores it and
 * leaves — without loading the room, so a refresh costs what the room missed. A room the
 * catch-up cannot decide alone (`unsure`: no trustworthy state vector, or an update only the
 * room's doc can judge) gets the full path once: a background session (no presence,
 * `lastOpenedAt` untouched) that loads the room, syncs (uploading what this device made offline,
 * CATCH-6/7), waits for the relay's acks of it (LOBBY-3) while they can still come (LOBBY-4) and
 * for the store, and leaves. The lobby recounts afterwards, and the rooms are up to date for the
 * next time offline.
 *
 * One room at a time keeps the relay's and this device's work small; a room that does not answer
 * within `timeoutMs` is left for the next round.
 */
import type { RoomLocks } from '../storage/roomLocks.js';
import type { AppendedMissing, RoomUpdateStore } from '../storage/roomUpdateStore.js';
import type { CatchUpResult } from './catchUp.js';
import { pendingWrites, type RoomSession } from './roomSession.js';

/**
 * `held-back`: OFF-1's switch or LAB-10's partition holds the room back (`heldBack`); `gone`: the
 * room was removed from the device (REMOVE-1, `take`). Nothing was fetched or sent for either.
 */
export type RefreshOutcome = 'synced' | 'refused' | 'timeout' | 'failed' | 'held-back' | 'gone';

/**
 * What a refresh changed in the room's store: nothing, exactly the updates the catch-up stored
 * (a summary can be advanced by them), or unknown (the full path ran: recount).
 */
export type RoomChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'stored'; readonly stored: AppendedMissing }
  /** Nothing stored, but the catch-up recorded acks in the room's sync meta (CATCH-8). */
  | { readonly kind: 'acked' }
  | { readonly kind: 'unknown' };

export interface RefreshOptions {
  readonly rooms: readonly string[];
  /** Fetches what a room missed without loading it (`catchUpRoom`). */
  readonly catchUp: (room: string, timeoutMs: number) => Promise<CatchUpResult>;
  /** The full path, for a room the catch-up leaves `unsure`: a background session (RoomSessionOptions.background). */
  readonly open: (room: string) => Promise<RoomSession>;
  /** How long to wait for one room's SyncStep2. */
  readonly timeoutMs: number;
  /** Checked before each room: the lobby went away or the network went down. */
  readonly cancelled?: () => boolean;
  /**
   * OFF-1, LAB-10: the room is held back from the relay (the "Go offline" switch, a partition held
   * on this device). Checked when its turn comes and again before its background session opens:
   * a round takes a while, and the user may turn the switch meanwhile. The session itself follows
   * the switch once open (OFF-2), and its wait ends when it is switched off.
   */
  readonly heldBack?: (room: string) => boolean;
  /** After each room, once what arrived is stored. */
  readonly onRoom?: (room: string, outcome: RefreshOutcome, change: RoomChange) => void;
  /**
   * REMOVE-1: takes the room for its visit (its lock, held until everything the visit stores is
   * stored), resolving with the release (which resolves once it is let go); or null when the room
   * is gone from the device since the round listed it: the visit would fetch it all back. Default:
   * nothing to take.
   */
  readonly take?: (room: string) => Promise<(() => Promise<void>) | null>;
}

/**
 * Resolves with `done(s)` once it is not null, or `'timeout'` at `deadline` (ms, `Date.now()`);
 * checked at once and after every change of the session.
 */
const waitUntil = <T>(s: RoomSession, done: (s: RoomSession) => T | null, deadline: number): Promise<T | 'timeout'> =>
  new Promise((resolve) => {
    let unsubscribe = (): void => undefined;
    const finish = (outcome: T | 'timeout'): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve(outcome);
    };
    const check = (): void => {
      const outcome = done(s);
      if (outcome !== null) finish(outcome);
    };
    const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - Date.now()));
    unsubscribe = s.subscribe(check);
    check();
  });

const syncedOrRefused = (s: RoomSession): RefreshOutcome | null =>
  s.view().connection.manualOffline
    ? 'held-back'
    : s.synced
      ? 'synced'
      : s.view().connection.refusal !== null
        ? 'refused'
        : null;

/**
 * LOBBY-4: the wait for acks is over when every own write (`pendingWrites`: messages, reactions
 * (STATE-5) and the title (STATE-6), whose acks are then in the sync meta when the room is next
 * opened offline) is acked, or when no ack can
 * come any more: the session was refused (a fatal close, REFUSE-1; or REBUILD-2). The relay acks an
 * update only on the connection that sent it, after its commit (ACK-1), or in answer to a
 * SyncStep1 (ACK-2); a refused session never connects again, so nothing more can come. A fatal
 * close right after the relay's answer is the relay refusing the upload itself (VAL-10, or limits
 * set below UP-1's pieces), and it stores nothing of that frame (CLOSE-2).
 *
 * No other case is needed, and the relay gives no signal that would tell one apart: an upload
 * gets no ack frame when it holds nothing new or moves no ack pair (ACK-5), nor for structs past
 * a gap (ACK-3), and the handshake ack comes before the relay's answer (ACK-2), so none of them
 * says "your upload is committed". But every message counted here can be acked: the session
 * shows a message only once its doc holds every earlier struct of the message's Yjs client
 * (Yjs integrates a client's structs in clock order), it uploads every struct from the relay's
 * SyncStep1 clocks on (SYNC-1, APPLY-3), and the relay's SyncStep1 never claims past a gap
 * (SYNC-3); so the relay's contiguous durable clock passes the message once that upload is
 * committed, and the ack follows (ACK-1, or STATE-2's handshake ack). A message past a gap in
 * this device's structs (a lost row) is neither shown nor counted: it costs no wait. Short of a
 * refusal, acks that do not come mean a connection that is down or a relay that cannot commit
 * (ACK-4: it closes the room's connections, which reconnect and upload again): they can still
 * come, so the wait goes on, within `timeoutMs`.
 */
const ackedOrRefused = (s: RoomSession): RefreshOutcome | null => {
  const v = s.view();
  if (v.connection.manualOffline) return 'held-back';
  // UP-5: and the upload queue is empty. The acks stand for own writes only (messages, reactions,
  // the title): pieces queued behind a big upload (deletions, another's messages from an imported
  // file) would be dropped when the session ends.
  if (s.queuedUploadBytes > 0 && v.connection.refusal === null) return null;
  return pendingWrites(v) === 0 ? 'synced' : v.connection.refusal !== null ? 'refused' : null;
};

/**
 * The full path for one room: a background session, until synced and stored. LOBBY-3: when it
 * holds own messages the relay has not acked (it uploads them on connecting, CATCH-6), it also
 * waits for those acks, within the same `timeoutMs`, and the acks are in the room's sync meta
 * when it resolves: the lobby's "not sent yet" then goes as soon as they are on the relay.
 * LOBBY-4: a session refused after it synced ends that wait at once and reports `refused`.
 */
const refreshWithSession = async (room: string, opts: RefreshOptions): Promise<RefreshOutcome> => {
  const deadline = Date.now() + opts.timeoutMs;
  let session: RoomSession | null = null;
  try {
    if (opts.heldBack?.(room)) return 'held-back';
    session = await opts.open(room);
    const outcome = await waitUntil(session, syncedOrRefused, deadline);
    if (outcome !== 'synced') return outcome;
    // Acks still missing at the deadline: the room is synced; its messages stay "not sent yet".
    const acked = await waitUntil(session, ackedOrRefused, deadline);
    return acked === 'refused' || acked === 'held-back' ? acked : 'synced';
  } catch {
    return 'failed';
  } finally {
    session?.destroy();
    // Everything it received is stored, and destroy() flushed the acks not written yet to the
    // sync meta: both are in the store before the lobby recounts.
    await session?.whenStored();
  }
};

/**
 * REMOVE-1, `RefreshOptions.take`: a room's lock for its visit, if the room is still on the device
 * once the lock is held (a removal deletes under the lock, so it is either done or not begun). A
 * store that fails to answer lets the visit go on, which then fails as it would have.
 */
export const takeStoredRoom =
  (locks: RoomLocks, store: RoomUpdateStore) =>
  async (room: string): Promise<(() => Promise<void>) | null> => {
    const release = await locks.share(room);
    const meta = await store.getMeta(room).catch(() => null);
    if (meta !== undefined) return release;
    await release();
    return null;
  };

/** Refreshes `rooms` in order, one at a time (SYNC-C1); resolves with each room's outcome. */
export const refreshRooms = async (opts: RefreshOptions): Promise<Map<string, RefreshOutcome>> => {
  const outcomes = new Map<string, RefreshOutcome>();
  for (const room of opts.rooms) {
    if (opts.cancelled?.()) break;
    if (opts.heldBack?.(room)) {
      outcomes.set(room, 'held-back');
      continue;
    }
    const release = opts.take ? await opts.take(room) : () => Promise.resolve();
    if (release === null) {
      outcomes.set(room, 'gone');
      continue;
    }
    try {
      const [outcome, change] = await visitRoom(room, opts);
      outcomes.set(room, outcome);
      opts.onRoom?.(room, outcome, change);
    } finally {
      await release();
    }
  }
  return outcomes;
};

/** One room of a round: a catch-up, and the full path when it leaves the room unsure. */
const visitRoom = async (room: string, opts: RefreshOptions): Promise<[RefreshOutcome, RoomChange]> => {
  let result: CatchUpResult;
  try {
    result = await opts.catchUp(room, opts.timeoutMs);
  } catch {
    result = { outcome: 'failed' };
  }
  if (result.outcome === 'unsure') return [await refreshWithSession(room, opts), { kind: 'unknown' }];
  if (result.stored && result.stored.appended.length > 0) {
    return [result.outcome, { kind: 'stored', stored: result.stored }];
  }
  return [result.outcome, result.acksRecorded ? { kind: 'acked' } : { kind: 'none' }];
};
