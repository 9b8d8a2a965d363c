/**
 * SYNC-4: the catch-up of a room larger than 3 MiB is streamed in frames of at most
 * MAX_SEND_FRAME_BYTES (1 MiB): several Update frames, then one final SyncStep2. Checked with a
 * raw client that records every frame, and with a stock provider that must hold the whole room
 * once it reports `synced`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Limits, MessageType, SyncType, encodeSyncStep1 } from '../../shared/protocol.js';
import { Harness, frameKind, frameUpdate, synced, waitFor } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

const MiB = 1024 * 1024;

/** A chat-like message: a Y.Map with an id, an author and a ~250-character body. */
const addMessages = (doc: Y.Doc, from: number, count: number): void => {
  const messages = doc.getArray<Y.Map<unknown>>('messages');
  doc.transact(() => {
    for (let i = from; i < from + count; i++) {
      const m = new Y.Map<unknown>();
      m.set('id', `m${i}`);
      m.set('author', `user-${i % 17}`);
      m.set('body', `message ${i}: ` + 'lorem ipsum dolor sit amet '.repeat(9));
      messages.push([m]);
    }
  });
};

describe('big room', () => {
  it('SYNC-4: a >3 MiB catch-up arrives as several Update frames of ≤ 1 MiB, then one SyncStep2', async () => {
    const relay = await h.relay();
    const room = 'big-room';

    // ~3 MiB made offline (uploaded as one big SyncStep2 answering the relay's SyncStep1), then
    // ~1 MiB more typed live in 20 transactions (20 Update frames, several log entries).
    const uploaderDoc = new Y.Doc();
    addMessages(uploaderDoc, 0, 11_000);
    const uploader = h.client(relay.wsUrl, room, { doc: uploaderDoc });
    await synced(uploader, 20_000);
    for (let k = 0; k < 20; k++) addMessages(uploaderDoc, 11_000 + k * 200, 200);
    const size = Y.encodeStateAsUpdate(uploaderDoc).length;
    expect(size).toBeGreaterThan(3 * MiB);
    await waitFor(() => uploader.allOwnEditsAcked(), { timeout: 30_000, message: 'upload acked' });
    const expected = uploaderDoc.getArray('messages').toJSON();

    // A brand-new raw client asks for everything (SyncStep1 with an empty state vector).
    const raw = h.raw(`${relay.wsUrl}/${room}`);
    await raw.opened;
    raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    const isStep2 = (f: Uint8Array): boolean => {
      const k = frameKind(f);
      return k.outer === MessageType.Sync && k.inner === SyncType.Step2;
    };
    await waitFor(() => raw.frames.some(isStep2), { timeout: 30_000, message: 'SyncStep2 received' });

    for (const f of raw.frames) expect(f.length).toBeLessThanOrEqual(Limits.maxSendFrameBytes);
    const catchUp = raw.frames.filter((f) => {
      const k = frameKind(f);
      return k.outer === MessageType.Sync && (k.inner === SyncType.Update || k.inner === SyncType.Step2);
    });
    const kinds = catchUp.map((f) => frameKind(f).inner);
    expect(kinds.filter((k) => k === SyncType.Step2)).toHaveLength(1);
    expect(kinds[kinds.length - 1]).toBe(SyncType.Step2);
    expect(kinds.length).toBeGreaterThanOrEqual(4); // > 3 MiB in ≤ 1 MiB frames

    const replica = new Y.Doc();
    for (const f of catchUp) Y.applyUpdate(replica, frameUpdate(f));
    expect(replica.store.pendingStructs).toBeNull();
    expect(replica.store.pendingDs).toBeNull();
    expect(replica.getArray('messages').length).toBe(15_000);
    expect(replica.getArray('messages').toJSON()).toEqual(expected);

    // The stock client marks itself synced on the SyncStep2 only, so by then it holds it all.
    const fresh = h.client(relay.wsUrl, room);
    let lengthWhenSynced = -1;
    fresh.provider.on('sync', (isSynced: boolean) => {
      if (isSynced) lengthWhenSynced = fresh.doc.getArray('messages').length;
    });
    await synced(fresh, 30_000);
    expect(lengthWhenSynced).toBe(15_000);
    expect(fresh.doc.getArray('messages').toJSON()).toEqual(expected);
  });
});
