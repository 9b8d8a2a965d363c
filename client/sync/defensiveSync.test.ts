import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { WebsocketProvider } from 'y-websocket';
import { encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate, MessageType, SyncType } from '../../shared/protocol.js';
import { parseUpdateV1 } from '../../shared/updateV1.js';
import { applyUpdateDefensively, createSyncHandler, isDocFrozen } from './defensiveSync.js';

const fakeProvider = (doc: Y.Doc): WebsocketProvider => ({ doc, synced: false }) as unknown as WebsocketProvider;

interface Run {
  reply: Uint8Array;
  refused: string[];
  frozen: number;
  received: number[];
}

const run = (provider: WebsocketProvider, frame: Uint8Array, emitSynced = true): Run => {
  const out: Run = { reply: new Uint8Array(), refused: [], frozen: 0, received: [] };
  const handler = createSyncHandler({
    onRefused: (r) => out.refused.push(r),
    onFrozen: () => out.frozen++,
    onReceived: (inner) => out.received.push(inner),
  });
  const decoder = decoding.createDecoder(frame);
  expect(decoding.readVarUint(decoder)).toBe(MessageType.Sync);
  const encoder = encoding.createEncoder();
  handler(encoder, decoder, provider, emitSynced, MessageType.Sync);
  out.reply = encoding.toUint8Array(encoder);
  return out;
};

const docWithText = (text: string): Y.Doc => {
  const d = new Y.Doc();
  d.getMap('meta').set('title', text);
  return d;
};

describe('APPLY-3 the replacement sync handler keeps the stock semantics', () => {
  it('answers SyncStep1 with a SyncStep2 of what the peer lacks', () => {
    const doc = docWithText('mine');
    const r = run(fakeProvider(doc), encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    const d = decoding.createDecoder(r.reply);
    expect(decoding.readVarUint(d)).toBe(MessageType.Sync);
    expect(decoding.readVarUint(d)).toBe(SyncType.Step2);
    const peer = new Y.Doc();
    Y.applyUpdate(peer, decoding.readVarUint8Array(d));
    expect(peer.getMap('meta').get('title')).toBe('mine');
  });

  it('applies SyncStep2 with the provider as origin and becomes synced only over the socket', () => {
    const doc = new Y.Doc();
    const provider = fakeProvider(doc);
    const origins: unknown[] = [];
    doc.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));
    const frame = encodeSyncStep2(Y.encodeStateAsUpdate(docWithText('theirs')));
    run(provider, frame, false);
    expect(provider.synced).toBe(false);
    expect(doc.getMap('meta').get('title')).toBe('theirs');
    const r = run(provider, frame, true);
    expect(provider.synced).toBe(true);
    expect(r.reply.length).toBe(0);
    expect(origins).toEqual([provider]);
  });

  it('APPLY-1: refuses a malformed update, applies nothing, replies nothing and stays unsynced', () => {
    const doc = new Y.Doc();
    const provider = fakeProvider(doc);
    const good = Y.encodeStateAsUpdate(docWithText('x'));
    for (const bad of [
      good.subarray(0, good.length - 1),
      new Uint8Array([...good, 0]),
      new Uint8Array([1, 1, 5, 0, 0xff]),
    ]) {
      const r = run(provider, encodeSyncStep2(bad));
      expect(r.refused).toHaveLength(1);
      expect(r.reply.length).toBe(0);
      expect(provider.synced).toBe(false);
    }
    expect(run(provider, encodeSyncUpdate(new Uint8Array([0xff]))).refused).toHaveLength(1);
    expect(run(provider, new Uint8Array([0, 7, 0])).refused[0]).toMatch(/unknown sync message type 7/);
    expect(run(provider, new Uint8Array([0, 0, 50])).refused[0]).toMatch(/state vector/);
    expect(doc.store.clients.size).toBe(0);
    let updates = 0;
    doc.on('update', () => updates++);
    doc.getMap('meta').set('title', 'still alive');
    expect(updates).toBe(1);
  });

  it('APPLY-1: VAL-9 across updates is answered from the live doc', () => {
    // A two-value item whose origin is a map entry this doc already holds: valid on its own
    // (the relay cannot know what the origin is), but it would break the map.
    const doc = new Y.Doc();
    doc.clientID = 1;
    doc.getMap('m').set('k', 1);
    const bytes = new Uint8Array([1, 1, 2, 0, 0x88, 1, 0, 2, 126, 126, 0]);
    expect(() => parseUpdateV1(bytes)).not.toThrow();
    const r = applyUpdateDefensively(doc, bytes, null);
    expect(r.status).toBe('refused');
    expect(doc.getMap('m').get('k')).toBe(1);
  });

  it('APPLY-2: a frozen doc is reported instead of marking the connection synced', () => {
    const doc = new Y.Doc();
    const provider = fakeProvider(doc);
    doc.on('afterTransactionCleanup', () => {
      throw new Error('simulated cleanup failure');
    });
    const r = run(provider, encodeSyncStep2(Y.encodeStateAsUpdate(docWithText('x'))));
    expect(r.frozen).toBe(1);
    expect(isDocFrozen(doc)).toBe(true);
    expect(provider.synced).toBe(false);
  });

  it('isDocFrozen is false for a healthy doc, also inside a transaction', () => {
    const doc = new Y.Doc();
    expect(isDocFrozen(doc)).toBe(false);
    doc.transact(() => {
      doc.getMap('m').set('a', 1);
      expect(isDocFrozen(doc)).toBe(false);
    });
    expect(isDocFrozen(doc)).toBe(false);
  });
});
