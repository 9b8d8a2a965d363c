/**
 * RATE-1: an update is charged to its sender's byte allowance (`MAX_BYTES_PER_SEC`,
 * `BYTE_BURST`) for its size and, once parsed, `CLIENT_CHARGE_BYTES` for each Yjs client it
 * names: the larger of its struct sections' clients and its delete set's (the room core reports
 * the count, relay/roomCore.ts effect 'clients'; known updates too, the parse is the cost).
 *
 * Why: the relay's work per client (the parse, the clock ranges it keeps while the room is
 * loaded) is several microseconds, against nanoseconds per byte of content (bench/manyClients.ts):
 * one socket sending frames of tens of thousands of one-struct clients, or of one-range delete
 * sets, within its byte rate would keep the process busy. At 256 bytes a client, the default
 * 2 MiB/s allows about 8,000 clients a second per connection (a few tens of milliseconds of
 * work). VAL-11 (`MAX_CLIENTS_PER_UPDATE`) bounds one frame, and the configuration requires
 * `BYTE_BURST` to pay for the largest frame with the most clients, so an honest frame never
 * gets its sender closed. Over the allowance, the sender is closed with `rate-limited`.
 */
export const CLIENT_CHARGE_BYTES = 256;
