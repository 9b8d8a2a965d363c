/**
 * UP-1: every update this device sends the relay goes in pieces a relay accepts: each frame at
 * most `Limits.maxSendFrameBytes` (1 MiB), each update naming at most
 * `Limits.maxUploadClientsPerFrame` Yjs clients. That covers the answer to the relay's SyncStep1
 * (everything the relay lacks: a room written offline for days, or a whole room after the relay
 * lost it), an imported room file (up to 64 MiB), and the lab's resync. The stock client sends
 * each as one frame, and a relay refuses one over its MAX_FRAME_BYTES (8 MiB) or its
 * MAX_CLIENTS_PER_UPDATE (VAL-11) with a fatal close: that device could then never sync the room
 * again. Local edits are small and go as they are, unparsed.
 *
 * The pieces are valid updates that give the same document applied in any order
 * (`splitUpdateV1`), so the relay may take them in any order, and a relay that closes the socket
 * part-way (its byte rate, RATE-1) keeps what it accepted: its next SyncStep1 asks for the rest.
 */
import { encodeSyncUpdate, FRAME_HEADROOM, Limits } from '../../shared/protocol.js';
import { parseUpdateV1, splitUpdateV1 } from '../../shared/updateV1.js';

/** Bytes an update may take in one upload frame. */
export const UPLOAD_PIECE_BYTES = Limits.maxSendFrameBytes - FRAME_HEADROOM;

/**
 * `update` (this device's own encoding) in upload pieces; `[update]` when it fits one, or when it
 * cannot be parsed (sent as before: the relay then says why). `isMapEntry` answers VAL-9 for
 * structs the update refers to but does not hold (`mapEntryLookup(doc)`): a piece must keep a
 * deleted map entry with its deletion wherever the whole update would.
 */
export const uploadPieces = (
  update: Uint8Array,
  isMapEntry?: (client: number, clock: number) => boolean,
): Uint8Array[] => {
  // A struct section takes at least 5 bytes and a delete-set entry 4: an update of at most 3
  // bytes per allowed client names no more than are allowed, and fits a frame.
  if (update.length <= 3 * Limits.maxUploadClientsPerFrame) return [update];
  try {
    // Bytes this doc encoded from updates it accepted (APPLY-1): VAL-5 and VAL-9 are not checked
    // again; the lookup still tells which deletions must travel with their structs.
    const parsed = parseUpdateV1(update, {
      maxDepth: Number.POSITIVE_INFINITY,
      skipMapEntryRule: true,
      ...(isMapEntry ? { isMapEntry } : {}),
    });
    return splitUpdateV1(parsed, UPLOAD_PIECE_BYTES, Limits.maxUploadClientsPerFrame);
  } catch {
    return [update];
  }
};

/** UP-1: sends `update` over `ws` as Update frames, one per upload piece. */
export const sendInPieces = (
  ws: { send(frame: Uint8Array): void },
  update: Uint8Array,
  isMapEntry?: (client: number, clock: number) => boolean,
): void => {
  for (const piece of uploadPieces(update, isMapEntry)) ws.send(encodeSyncUpdate(piece));
};
