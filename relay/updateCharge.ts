/**
 * RATE-1: an update is charged to its sender's byte allowance (`MAX_BYTES_PER_SEC`,
 * `BYTE_BURST`) for its size plus `CLIENT_CHARGE_BYTES` for each Yjs client among its struct
 * sections.
 *
 * Why: the relay's work per client (the parse, the clock ranges it keeps while the room is
 * loaded) is several microseconds, against nanoseconds per byte of content: one socket sending
 * frames of tens of thousands of one-struct clients within its byte rate would keep the process
 * busy. At 256 bytes a client, the default 2 MiB/s allows about 8,000 new clients a second per
 * connection (a few tens of milliseconds of work). VAL-11 (`MAX_CLIENTS_PER_UPDATE`) bounds one
 * frame; the configuration requires `BYTE_BURST` to pay for the largest frame with the most
 * clients, so an honest frame is never refused for ever.
 *
 * The count is read from the frame before anything is parsed. A count above the cap is charged
 * as the cap: the room core refuses that update (VAL-11, fatal), which says more than a
 * rate-limited close would.
 */
import * as decoding from 'lib0/decoding';
import { decodeClientFrame, MessageType, type ClientFrame } from '../shared/protocol.js';

export const CLIENT_CHARGE_BYTES = 256;

/** The extra bytes `frame` is charged for its clients (0 for anything but an update). */
export const updateCharge = (frame: Uint8Array, maxClientsPerUpdate: number): number => {
  if (frame[0] !== MessageType.Sync) return 0;
  let msg: ClientFrame;
  try {
    msg = decodeClientFrame(frame);
  } catch {
    return 0; // malformed: the room core closes it
  }
  if (msg.type !== 'sync-step2' && msg.type !== 'sync-update') return 0;
  try {
    return (
      Math.min(decoding.readVarUint(decoding.createDecoder(msg.update)), maxClientsPerUpdate) * CLIENT_CHARGE_BYTES
    );
  } catch {
    return 0;
  }
};
