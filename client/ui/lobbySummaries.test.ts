/**
 * The lobby's kept summaries: showing the lobby again reuses the summary of a room that did not
 * change, and counts again one whose stored updates or last-read message changed. Real chat
 * updates in the in-memory store.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ChatRoom, type Identity } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import { newId } from '../../shared/ids.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import type { RoomInfo } from '../storage/roomUpdateStore.js';
import { LobbySummaries, lobbySummariesFor } from './lobbySummaries.js';

const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const me: Identity = { id: newId(randomBytes), name: 'Me' };
const ann: Identity = { id: newId(randomBytes), name: 'Ann' };

/** Ann's chat in `room`, every edit appended to `store` as the device would store it. */
const annWrites = (store: MemoryRoomUpdateStore, room: string): { send: (text: string) => Promise<string> } => {
  const doc = new Y.Doc();
  const chat = new ChatRoom(doc, new HybridClock('ann', () => Date.now()), randomBytes);
  let pending = Promise.resolve();
  doc.on('update', (u: Uint8Array) => {
    pending = pending.then(() => store.append(room, u));
  });
  return {
    send: async (text) => {
      const id = chat.send(ann, text).id;
      await pending;
      return id;
    },
  };
};

const infoOf = async (store: MemoryRoomUpdateStore, room: string): Promise<RoomInfo> =>
  (await store.listRooms()).find((i) => i.room === room)!;

describe('LobbySummaries', () => {
  it('keeps a summary while the room is unchanged; counts again after a write or a new last-read message', async () => {
    const store = new MemoryRoomUpdateStore();
    const ann1 = annWrites(store, 'r1');
    const ann2 = annWrites(store, 'r2');
    await ann1.send('one');
    await ann2.send('elsewhere');
    const summaries = new LobbySummaries(store, me.id);

    const first = await summaries.summary(await infoOf(store, 'r1'));
    expect(first).toMatchObject({ messages: 1, unread: 1, last: { text: 'one', authorName: 'Ann' } });
    const other = await summaries.summary(await infoOf(store, 'r2'));
    // Shown again with nothing changed: the same summaries, not counted again.
    expect(await summaries.summary(await infoOf(store, 'r1'))).toBe(first);
    expect(await summaries.summary(await infoOf(store, 'r2'))).toBe(other);

    // A write (by any tab) changes the store's counters: counted again.
    const two = await ann1.send('two');
    const second = await summaries.summary(await infoOf(store, 'r1'));
    expect(second).toMatchObject({ messages: 2, unread: 2, last: { text: 'two' } });
    expect(await summaries.summary(await infoOf(store, 'r2'))).toBe(other);

    // Reading the room moves its last-read message: counted again.
    await store.setMeta('r1', { lastReadMessageId: two });
    expect(await summaries.summary(await infoOf(store, 'r1'))).toMatchObject({ messages: 2, unread: 0 });
  });

  it('is the same object for the same store and identity each time the lobby is shown', () => {
    const store = new MemoryRoomUpdateStore();
    const a = lobbySummariesFor(store, me.id);
    expect(lobbySummariesFor(store, me.id)).toBe(a);
    expect(lobbySummariesFor(store, ann.id)).not.toBe(a);
    expect(lobbySummariesFor(new MemoryRoomUpdateStore(), me.id)).not.toBe(a);
  });
});
