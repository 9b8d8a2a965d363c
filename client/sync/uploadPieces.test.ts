import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Limits } from '../../shared/protocol.js';
import { clientsIn, parseUpdateV1 } from '../../shared/updateV1.js';
import { mapEntryLookup } from './defensiveSync.js';
import { UPLOAD_PIECE_BYTES, uploadPieces } from './uploadPieces.js';

describe('uploadPieces (UP-1)', () => {
  it('UP-1: a small update goes as it is', () => {
    const doc = new Y.Doc();
    doc.getArray('a').push(['hello']);
    const u = Y.encodeStateAsUpdate(doc);
    expect(uploadPieces(u)).toEqual([u]);
  });

  it('UP-1: a large update goes in pieces within the frame budget and the client cap, that rebuild the doc', () => {
    const doc = new Y.Doc();
    const map = doc.getMap('m'); // an entry per key (consecutive array pushes would merge into one struct)
    for (let i = 0; i < 700; i++) map.set(`k${i}`, 'x'.repeat(4000));
    const u = Y.encodeStateAsUpdate(doc);
    const pieces = uploadPieces(u);
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
    const withLookup = uploadPieces(reply, mapEntryLookup(d));
    expect(withLookup.length).toBeGreaterThan(1);
    expect(relayRefusals(withLookup)).toEqual([]);
    // Without it a piece breaks VAL-9: the test can tell.
    expect(relayRefusals(uploadPieces(reply))).not.toEqual([]);
  });
});
