/**
 * UP-1: what this device uploads in answer to the relay's SyncStep1 (everything the relay lacks,
 * e.g. a room written offline for days, or a whole room after the relay lost it) goes in pieces
 * a relay accepts: each at most `Limits.maxSendFrameBytes` with its frame header, naming at most
 * `Limits.maxUploadClientsPerFrame` Yjs clients. The stock client sends it as one SyncStep2, and
 * a relay refuses one over its MAX_FRAME_BYTES (8 MiB) or its MAX_CLIENTS_PER_UPDATE (VAL-11)
 * with a fatal close: that device could then never sync the room again.
 *
 * The pieces are valid updates that give the same document applied in any order
 * (`splitUpdateV1`); the caller sends all but the last as Update frames, then the last as the
 * SyncStep2, so the relay has everything by the time it sees the SyncStep2. A relay that closes
 * the socket part-way (its byte rate, RATE-1) keeps what it committed: its next SyncStep1 asks
 * only for the rest.
 */
import { FRAME_HEADROOM, Limits } from '../../shared/protocol.js';
import { clientsIn, parseUpdateV1, splitUpdateV1 } from '../../shared/updateV1.js';

/** Bytes an update may take in one upload frame. */
export const UPLOAD_PIECE_BYTES = Limits.maxSendFrameBytes - FRAME_HEADROOM;

/**
 * `update` (this device's own encoding, `Y.encodeStateAsUpdate`) in upload pieces; `[update]`
 * when it fits one, or when it cannot be parsed (sent as before: the relay then says why).
 */
export const uploadPieces = (update: Uint8Array): Uint8Array[] => {
  // A struct section takes at least 3 bytes and a delete-set entry 4: an update this small names
  // at most the allowed clients, and fits a frame. The usual answer (the relay has nearly
  // everything) is not parsed.
  if (update.length <= 3 * Limits.maxUploadClientsPerFrame) return [update];
  try {
    // Bytes this doc encoded from updates it accepted (APPLY-1): no VAL-5/VAL-9 checks again.
    const parsed = parseUpdateV1(update, { maxDepth: Number.POSITIVE_INFINITY, skipMapEntryRule: true });
    if (update.length <= UPLOAD_PIECE_BYTES && clientsIn(parsed) <= Limits.maxUploadClientsPerFrame) return [update];
    return splitUpdateV1(parsed, UPLOAD_PIECE_BYTES, Limits.maxUploadClientsPerFrame);
  } catch {
    return [update];
  }
};
