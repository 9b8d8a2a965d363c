/**
 * The read mark's second half (UNREAD-1, LATE-2): what the room's doc held when the reader was
 * last at its newest message, as a Yjs state vector (`RoomMeta.readSv`, base64 of its V1 encoding),
 * written with the last-read message id (`RoomMeta.lastReadMessageId`).
 *
 * The id alone says where the reader was in the display order; a message that arrives later but
 * sorts before it (written offline, ORD-1) would never count as new. The state vector says what had
 * arrived on this device: a message whose record's Yjs item it does not cover arrived since, wherever
 * it sorts. Its size is one entry per Yjs client of the room (a few bytes each), the size of the
 * state vector every SyncStep1 carries; it is written only with the last-read id.
 *
 * A mark that does not decode is no mark: unread counts then fall back to the display order alone.
 */
import * as Y from 'yjs';
import { fromBase64, toBase64 } from 'lib0/buffer';
import type { ItemId } from './syncState.js';

/** The text kept in `RoomMeta.readSv` for a doc's encoded state vector. */
export const encodeReadSv = (stateVector: Uint8Array): string => toBase64(stateVector);

/** The state vector `text` holds, or null when there is none or it does not decode. */
export const decodeReadSv = (text: string | undefined): ReadonlyMap<number, number> | null => {
  if (text === undefined) return null;
  try {
    const sv = Y.decodeStateVector(fromBase64(text));
    for (const [client, clock] of sv) {
      if (!Number.isSafeInteger(client) || !Number.isSafeInteger(clock) || client < 0 || clock < 0) return null;
    }
    return sv;
  } catch {
    return null;
  }
};

/** UNREAD-1: the record item `yId` arrived after `readSv` was taken (an unknown item never did). */
export const arrivedSince = (readSv: ReadonlyMap<number, number>, yId: ItemId | null): boolean =>
  yId !== null && yId.clock >= (readSv.get(yId.client) ?? 0);
