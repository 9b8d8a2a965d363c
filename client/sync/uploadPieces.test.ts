import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CLIENT_CHARGE_BYTES, FRAME_HEADROOM, Limits, type PublishedLimits } from '../../shared/protocol.js';
import { clientsIn, parseUpdateV1 } from '../../shared/updateV1.js';
import { mapEntryLookup } from './defensiveSync.js';
import { PIECE_BURST_SHARE, pieceLimits, UPLOAD_PIECE_BYTES, uploadPieces } from './uploadPieces.js';

/** A room written by `writers` sessions (one Yjs client each), then half of it deleted by one more. */
const manyWriters = (writers: number): Uint8Array => {
  const doc = new Y.Doc();
  const list = doc.getArray<string>('messages');
  const writes: Uint8Array[] = [];
  for (let w = 0; w < writers; w++) {
    // Each writes without having seen the others (concurrent inserts): no history to replay.
    const writer = new Y.Doc();
    writer.clientID = 1000 + w;
    writer.getArray<string>('messages').push([`message ${w} `.repeat(20)]);
    writes.push(Y.encodeStateAsUpdate(writer));
  }
  Y.applyUpdate(doc, Y.mergeUpdates(writes));
  doc.clientID = 999_999;
  // Deleting every other message gives a delete set naming half the writers.
  for (let i = list.length - 1; i >= 0; i -= 2) list.delete(i, 1);
  return Y.encodeStateAsUpdate(doc);
};

describe('uploadPieces (UP-1)', () => {
  it('UP-1: a small update goes as it is', () => {
    const doc = new Y.Doc();
    doc.getArray('a').push(['hello']);
    const u = Y.encodeStateAsUpdate(doc);
    expect(uploadPieces(u)).toEqual([{ update: u, clients: 1 }]);
  });

  it('UP-1: a large update goes in pieces within the frame budget and the client cap, that rebuild the doc', () => {
    const doc = new Y.Doc();
    const map = doc.getMap('m'); // an entry per key (consecutive array pushes would merge into one struct)
    for (let i = 0; i < 700; i++) map.set(`k${i}`, 'x'.repeat(4000));
    const u = Y.encodeStateAsUpdate(doc);
    const pieces = uploadPieces(u).map((p) => p.update);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(UPLOAD_PIECE_BYTES);
      expect(clientsIn(parseUpdateV1(p))).toBeLessThanOrEqual(Limits.maxUploadClientsPerFrame);
    }
    const copy = new Y.Doc();
    for (const p of pieces.reverse()) Y.applyUpdate(copy, p);
    expect(copy.getMap('m').toJSON()).toEqual(map.toJSON());
  });

  it("UP-1, VAL-9: with the doc's lookup every piece passes the relay's VAL-9, as the whole update would", () => {
    // A gc: false doc (deleted map values keep their content) overwrote a key the relay already
    // holds: whether the overwritten values are map entries is only known from the doc.
    const d = new Y.Doc({ gc: false });
    d.clientID = 9;
    const m = d.getMap('m');
    m.set('k', 'v0');
    const relayHas = Y.encodeStateAsUpdate(d);
    const relaySv = Y.encodeStateVector(d);
    m.set('k', 'v1');
    m.set('k', 'v2');
    m.set('k', 'v3');
    const big = d.getArray('big');
    for (let i = 0; i < 3000; i++) big.push(['x'.repeat(400)]);
    const reply = Y.encodeStateAsUpdate(d, relaySv);

    /** What a relay holding `relayHas` says of each piece in turn (it remembers what it accepted). */
    const relayRefusals = (pieces: readonly Uint8Array[]): string[] => {
      const held = new Y.Doc({ gc: false });
      Y.applyUpdate(held, relayHas);
      const refused: string[] = [];
      for (const piece of pieces) {
        try {
          parseUpdateV1(piece, { isMapEntry: mapEntryLookup(held) });
        } catch (e) {
          refused.push(String(e));
        }
        Y.applyUpdate(held, piece);
      }
      return refused;
    };
    const withLookup = uploadPieces(reply, mapEntryLookup(d)).map((p) => p.update);
    expect(withLookup.length).toBeGreaterThan(1);
    expect(relayRefusals(withLookup)).toEqual([]);
    // Without it a piece breaks VAL-9: the test can tell.
    expect(relayRefusals(uploadPieces(reply).map((p) => p.update))).not.toEqual([]);
  });

  it('UP-2: every piece says how many Yjs clients the relay charges it for (RATE-1), deletion pieces too', () => {
    const update = manyWriters(2500);
    const pieces = uploadPieces(update, undefined, { bytes: 64 * 1024, clients: 300 });
    expect(pieces.length).toBeGreaterThan(8);
    const counts = pieces.map((p) => clientsIn(parseUpdateV1(p.update)));
    expect(pieces.map((p) => p.clients)).toEqual(counts);
    // Both kinds were met: pieces of structs and pieces of deletions only.
    expect(pieces.some((p) => parseUpdateV1(p.update).runs.length === 0 && p.clients > 0)).toBe(true);
    expect(Math.max(...counts)).toBe(300);
    // A small whole update is counted too (it goes unsplit).
    const small = manyWriters(3);
    expect(uploadPieces(small)).toEqual([{ update: small, clients: clientsIn(parseUpdateV1(small)) }]);
  });

  it("UP-2: with a relay's published limits, a piece's frame fits its MAX_FRAME_BYTES, its client cap and 3/4 of its burst", () => {
    const limits: PublishedLimits = {
      maxBytesPerSecond: 100_000,
      byteBurst: 64 * 1024 + 200 * CLIENT_CHARGE_BYTES,
      maxMessagesPerSecond: 200,
      messageBurst: 1000,
      maxFrameBytes: 64 * 1024,
      maxClientsPerUpdate: 200,
      maxStructBytes: 1_048_512,
    };
    const sized = pieceLimits(limits);
    expect(sized.clients).toBeLessThanOrEqual(200);
    expect(sized.bytes).toBeLessThanOrEqual(limits.maxFrameBytes - FRAME_HEADROOM);
    const pieces = uploadPieces(manyWriters(1500), undefined, sized);
    for (const p of pieces) {
      expect(p.update.length + FRAME_HEADROOM).toBeLessThanOrEqual(limits.maxFrameBytes);
      expect(p.clients).toBeLessThanOrEqual(limits.maxClientsPerUpdate);
      expect(p.update.length + FRAME_HEADROOM + p.clients * CLIENT_CHARGE_BYTES).toBeLessThanOrEqual(
        limits.byteBurst * PIECE_BURST_SHARE,
      );
    }
    // Unknown limits: UP-1's pieces; the default relay's: the same (its burst is large).
    expect(pieceLimits(null)).toEqual({ bytes: UPLOAD_PIECE_BYTES, clients: Limits.maxUploadClientsPerFrame });
  });
});
