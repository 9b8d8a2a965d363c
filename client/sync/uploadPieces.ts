/**
 * UP-1: every update this device sends the relay goes in pieces a relay accepts: each frame at
 * most `Limits.maxSendFrameBytes` (1 MiB), each update naming at most
 * `Limits.maxUploadClientsPerFrame` Yjs clients. That covers the answer to the relay's SyncStep1
 * (everything the relay lacks: a room written offline for days, or a whole room after the relay
 * lost it), an imported room file (up to 64 MiB), and the lab's resync. The stock client sends
 * each as one frame, and a relay refuses one over its MAX_FRAME_BYTES (8 MiB) or its
 * MAX_CLIENTS_PER_UPDATE (VAL-11) with a fatal close: that device could then never sync the room
 * again. Local edits are small and go as they are, unsplit.
 *
 * The pieces are valid updates that give the same document applied in any order
 * (`splitUpdateV1`), so the relay may take them in any order, and a relay that closes the socket
 * part-way (its byte rate, RATE-1) keeps what it accepted: its next SyncStep1 asks for the rest.
 * UP-2 (./uploadPacer.ts) sends them no faster than the relay accepts, when it knows how fast.
 */
import { CLIENT_CHARGE_BYTES, FRAME_HEADROOM, Limits, type PublishedLimits } from '../../shared/protocol.js';
import { clientsIn, parseUpdateV1, splitPieceClients, splitUpdateV1 } from '../../shared/updateV1.js';

/** Bytes an update may take in one upload frame. */
export const UPLOAD_PIECE_BYTES = Limits.maxSendFrameBytes - FRAME_HEADROOM;

/** UP-2: the share of a relay's byte burst one upload frame may cost; the rest is the pacer's reserve. */
export const PIECE_BURST_SHARE = 0.75;

/** The largest upload piece: its bytes, and the Yjs clients it may name. */
export interface PieceLimits {
  readonly bytes: number;
  readonly clients: number;
}

/** One upload piece and the Yjs clients it names (RATE-1 charges `CLIENT_CHARGE_BYTES` each). */
export interface UploadPiece {
  readonly update: Uint8Array;
  readonly clients: number;
}

export type MapEntryLookup = (client: number, clock: number) => boolean;

/** UP-1's pieces, for a relay whose limits are unknown. */
export const DEFAULT_PIECE_LIMITS: PieceLimits = {
  bytes: UPLOAD_PIECE_BYTES,
  clients: Limits.maxUploadClientsPerFrame,
};

/**
 * UP-2: pieces a relay publishing `limits` accepts, each costing at most `PIECE_BURST_SHARE` of its
 * byte burst (bytes plus `CLIENT_CHARGE_BYTES` per client, at most a quarter of that for the
 * clients), so the pacer always keeps a reserve for what is sent meanwhile. Never above UP-1's.
 */
export const pieceLimits = (limits: PublishedLimits | null): PieceLimits => {
  if (!limits) return DEFAULT_PIECE_LIMITS;
  const budget = Math.floor(limits.byteBurst * PIECE_BURST_SHARE);
  const clients = Math.max(
    1,
    Math.min(Limits.maxUploadClientsPerFrame, limits.maxClientsPerUpdate, Math.floor(budget / 4 / CLIENT_CHARGE_BYTES)),
  );
  const bytes = Math.min(
    UPLOAD_PIECE_BYTES,
    limits.maxFrameBytes - FRAME_HEADROOM,
    budget - clients * CLIENT_CHARGE_BYTES - FRAME_HEADROOM,
  );
  // Published limits are validated (readPublishedLimits): the burst pays for a frame of the relay's
  // largest size, so this is positive; splitUpdateV1 still puts a larger struct in a piece alone.
  return { bytes: Math.max(64, bytes), clients };
};

/** The Yjs clients a whole update names (RATE-1); 0 when it does not parse (the relay refuses it). */
const clientsOf = (update: Uint8Array): number => {
  try {
    return clientsIn(parseUpdateV1(update, { maxDepth: Number.POSITIVE_INFINITY, skipMapEntryRule: true }));
  } catch {
    return 0;
  }
};

/**
 * `update` (this device's own encoding) in upload pieces; one piece when it fits, or when it
 * cannot be parsed (sent as before: the relay then says why). `isMapEntry` answers VAL-9 for
 * structs the update refers to but does not hold (`mapEntryLookup(doc)`): a piece must keep a
 * deleted map entry with its deletion wherever the whole update would.
 */
export const uploadPieces = (
  update: Uint8Array,
  isMapEntry?: MapEntryLookup,
  limits: PieceLimits = DEFAULT_PIECE_LIMITS,
): UploadPiece[] => {
  // A struct section takes at least 5 bytes and a delete-set entry 4: an update of at most 3
  // bytes per allowed client names no more than are allowed, and fits a frame.
  if (update.length <= Math.min(3 * limits.clients, limits.bytes)) return [{ update, clients: clientsOf(update) }];
  let parsed;
  try {
    // Bytes this doc encoded from updates it accepted (APPLY-1): VAL-5 and VAL-9 are not checked
    // again; the lookup still tells which deletions must travel with their structs.
    parsed = parseUpdateV1(update, {
      maxDepth: Number.POSITIVE_INFINITY,
      skipMapEntryRule: true,
      ...(isMapEntry ? { isMapEntry } : {}),
    });
  } catch {
    return [{ update, clients: 0 }];
  }
  const pieces = splitUpdateV1(parsed, limits.bytes, limits.clients);
  if (pieces.length === 1 && pieces[0] === parsed.bytes) return [{ update, clients: clientsIn(parsed) }];
  return pieces.map((piece) => ({ update: piece, clients: splitPieceClients(piece) }));
};
