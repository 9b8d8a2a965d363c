/**
 * The lobby's kept summaries: showing the lobby again reuses the summary of a room that did not
 * change, and counts again one whose stored updates or last-read message changed; after a page
 * load the summary persisted in the room's meta is reused on the same terms (LOBBY-2). Real chat
 * updates in the in-memory store; a replay is observed as the store's read of the room's updates.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ChatRoom, type Identity } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import { newId } from '../../shared/ids.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import type { RoomCounters, RoomInfo, RoomMetaPatch, StoredUpdates } from '../storage/roomUpdateStore.js';
import { pendingWrites, RoomSession } from '../sync/roomSession.js';
import { encodeReadSv } from '../sync/readMark.js';
import { decodeSyncState, emptySyncState, encodeSyncState } from '../sync/syncState.js';
import { notSent, notSentCount, summarizeRoom } from './lobbyData.js';
import { LobbySummaries, lobbySummariesFor } from './lobbySummaries.js';
import { MAX_AWAITED_PARENTS } from './summaryRecord.js';

const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
/** No relay ack known: every own message counts as not acked (LOBBY-3). */
const NO_ACKS: ReadonlyMap<number, number> = new Map();
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

/**
 * The real in-memory store, counting the reads of a room's updates (every replay starts with
 * one; showing a kept or persisted summary makes none) and the lobby's summary writes.
 */
class CountingStore extends MemoryRoomUpdateStore {
  loads = 0;
  summaryWrites = 0;

  override load(room: string): Promise<StoredUpdates> {
    this.loads++;
    return super.load(room);
  }

  override setMetaIf(room: string, patch: RoomMetaPatch, at: RoomCounters): Promise<boolean> {
    if (patch.lobby !== undefined) this.summaryWrites++;
    return super.setMetaIf(room, patch, at);
  }
}

/** Waits until the lobby's summary of `room` in the store's meta is a new one (the write is not awaited). */
const persistedOver = async (store: MemoryRoomUpdateStore, room: string, previous?: string): Promise<string> => {
  await waitFor(async () => {
    const lobby = (await store.getMeta(room))?.lobby;
    return lobby !== undefined && lobby !== previous;
  }, `summary of ${room} persisted`);
  return (await store.getMeta(room))!.lobby!;
};

/** What a fresh count (a replay of the whole room) says now. */
const freshCount = async (store: MemoryRoomUpdateStore, room: string, selfId = me.id) =>
  (await summarizeRoom(store, room, (await infoOf(store, room)).meta.lastReadMessageId, selfId, NO_ACKS)).summary;

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

  it('UNREAD-1: messages stored since the read mark count as unread though they sort before it; reading them again is counted again', async () => {
    // Ann's clock is a minute behind: her messages, stored after Me read "latest", sort before it.
    const store = new MemoryRoomUpdateStore();
    const meDoc = new Y.Doc();
    const meChat = new ChatRoom(meDoc, new HybridClock('me', () => Date.now()), randomBytes);
    const annDoc = new Y.Doc();
    const annChat = new ChatRoom(annDoc, new HybridClock('ann', () => Date.now() - 60_000), randomBytes);
    meDoc.on('update', (u: Uint8Array) => void store.append('r', u));
    const latest = meChat.send(me, 'latest').id;
    const readSv = encodeReadSv(Y.encodeStateVector(meDoc));
    await store.setMeta('r', { lastReadMessageId: latest, readSv });
    const summaries = new LobbySummaries(store, me.id);
    expect(await summaries.summary(await infoOf(store, 'r'))).toMatchObject({ messages: 1, unread: 0 });

    annDoc.on('update', (u: Uint8Array) => void store.append('r', u));
    for (let i = 1; i <= 3; i++) annChat.send(ann, `late ${i}`);
    await waitFor(async () => (await infoOf(store, 'r')).updates === 4, 'late messages stored');
    expect(await summaries.summary(await infoOf(store, 'r'))).toMatchObject({ messages: 4, unread: 3 });

    // The room showed them (its doc now holds them): a new mark, the same last-read message.
    Y.applyUpdate(meDoc, Y.encodeStateAsUpdate(annDoc));
    await store.setMeta('r', { readSv: encodeReadSv(Y.encodeStateVector(meDoc)) });
    expect(await summaries.summary(await infoOf(store, 'r'))).toMatchObject({ messages: 4, unread: 0 });
    // After a page load too (LOBBY-2: the record names the mark it was counted for).
    expect(await new LobbySummaries(store, me.id).summary(await infoOf(store, 'r'))).toMatchObject({ unread: 0 });
  });

  it('is the same object for the same store and identity each time the lobby is shown', () => {
    const store = new MemoryRoomUpdateStore();
    const a = lobbySummariesFor(store, me.id);
    expect(lobbySummariesFor(store, me.id)).toBe(a);
    expect(lobbySummariesFor(store, ann.id)).not.toBe(a);
    expect(lobbySummariesFor(new MemoryRoomUpdateStore(), me.id)).not.toBe(a);
  });
});

describe('LOBBY-2: summaries persisted in the room meta survive a page load', () => {
  /** Two rooms counted and persisted by a first page; r1 has a last-read message. */
  const counted = async () => {
    const store = new CountingStore();
    const ann1 = annWrites(store, 'r1');
    const ann2 = annWrites(store, 'r2');
    const read = await ann1.send('one');
    await ann1.send('two');
    await ann1.send('three');
    await ann2.send('elsewhere');
    await store.setMeta('r1', { lastReadMessageId: read });
    const page = new LobbySummaries(store, me.id);
    const r1 = await page.summary(await infoOf(store, 'r1'));
    const r2 = await page.summary(await infoOf(store, 'r2'));
    expect(r1).toMatchObject({ messages: 3, unread: 2, last: { text: 'three' } });
    const records = { r1: await persistedOver(store, 'r1'), r2: await persistedOver(store, 'r2') };
    return { store, ann1, ann2, read, r1, r2, records };
  };

  it('LOBBY-2: after a reload an unchanged room is not replayed, and its summary is what a fresh count gives', async () => {
    const { store, r1, r2 } = await counted();
    expect(store.summaryWrites).toBe(2);
    store.loads = 0;
    const reloaded = new LobbySummaries(store, me.id);
    const again1 = await reloaded.summary(await infoOf(store, 'r1'));
    const again2 = await reloaded.summary(await infoOf(store, 'r2'));
    expect(store.loads).toBe(0);
    expect(again1).toEqual(r1);
    expect(again2).toEqual(r2);
    // Shown again on that page: the same object, still no replay, and nothing written.
    expect(await reloaded.summary(await infoOf(store, 'r1'))).toBe(again1);
    expect(store.loads).toBe(0);
    expect(store.summaryWrites).toBe(2);
    // The check of the claim: a replay says the same.
    expect(await freshCount(store, 'r1')).toEqual(again1);
    expect(await freshCount(store, 'r2')).toEqual(again2);
  });

  it("LOBBY-2: another tab's write, a new last-read message or another identity is recounted, as a fresh count", async () => {
    const { store, ann1, records } = await counted();
    // Another tab stored a message after the summary was persisted.
    await ann1.send('four');
    store.loads = 0;
    const afterWrite = await new LobbySummaries(store, me.id).summary(await infoOf(store, 'r1'));
    expect(store.loads).toBe(1);
    expect(afterWrite).toMatchObject({ messages: 4, unread: 3, last: { text: 'four' } });
    expect(afterWrite).toEqual(await freshCount(store, 'r1'));
    const afterWriteRecord = await persistedOver(store, 'r1', records.r1);

    // The room was read (in another tab, or before the reload).
    const last = (await freshCount(store, 'r1')).last!.id;
    await store.setMeta('r1', { lastReadMessageId: last });
    store.loads = 0;
    const afterRead = await new LobbySummaries(store, me.id).summary(await infoOf(store, 'r1'));
    expect(store.loads).toBe(1);
    expect(afterRead).toMatchObject({ messages: 4, unread: 0 });
    expect(afterRead).toEqual(await freshCount(store, 'r1'));
    const afterReadRecord = await persistedOver(store, 'r1', afterWriteRecord);

    // Another identity on this device: unread counts differ (Ann wrote them all).
    store.loads = 0;
    const asAnn = await new LobbySummaries(store, ann.id).summary(await infoOf(store, 'r1'));
    expect(store.loads).toBe(1);
    expect(asAnn).toEqual(await freshCount(store, 'r1', ann.id));
    await persistedOver(store, 'r1', afterReadRecord);
    // And back: the record is Ann's now, so mine is counted again.
    store.loads = 0;
    expect(await new LobbySummaries(store, me.id).summary(await infoOf(store, 'r1'))).toEqual(afterRead);
    expect(store.loads).toBe(1);
  });

  it('LOBBY-2: a corrupt, foreign-format, stale or misplaced record is recounted, as a fresh count', async () => {
    const { store, records } = await counted();
    const record = JSON.parse(records.r1) as Record<string, unknown>;
    const tampered = (patch: Record<string, unknown>): string => JSON.stringify({ ...record, ...patch });
    const bad: Record<string, string> = {
      'not JSON': records.r1.slice(0, -3),
      'another format version': tampered({ v: (record.v as number) + 1 }),
      'a field of the wrong type': tampered({ summary: { ...(record.summary as object), unread: '2' } }),
      'counted at other counters (stale)': tampered({ at: { updates: 2, bytes: (record.at as RoomCounters).bytes } }),
      'another last-read message': tampered({ read: null }),
      'another room’s record': records.r2,
      'not an object': '[]',
    };
    const fresh = await freshCount(store, 'r1');
    for (const [what, lobby] of Object.entries(bad)) {
      // setMeta changes no counters: the planted record sits beside the very rows it claims.
      await store.setMeta('r1', { lobby });
      store.loads = 0;
      const shown = await new LobbySummaries(store, me.id).summary(await infoOf(store, 'r1'));
      expect(store.loads, what).toBe(1);
      expect(shown, what).toEqual(fresh);
      // The recount replaced the bad record with a good one.
      expect(await persistedOver(store, 'r1', lobby), what).toBe(records.r1);
    }
  });

  it('LOBBY-2: an advanced summary (LOBBY-1) is persisted; after a reload it is reused and advances again', async () => {
    const store = new CountingStore();
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    let now = 1_700_000_000_000;
    const chat = new ChatRoom(doc, new HybridClock('x', () => (now += 1000)), randomBytes);
    chat.send(ann, 'first');
    for (const u of updates.splice(0)) await store.append('r', u);
    const page = new LobbySummaries(store, me.id);
    await page.summary(await infoOf(store, 'r'));
    const firstRecord = await persistedOver(store, 'r');

    chat.send(ann, 'second');
    page.advance('r', { kind: 'stored', stored: await store.appendMissing('r', updates.splice(0)) });
    const advancedRecord = await persistedOver(store, 'r', firstRecord);
    store.loads = 0;
    expect(await page.summary(await infoOf(store, 'r'))).toMatchObject({ messages: 2, unread: 2 });
    expect(store.loads).toBe(0);

    const reloaded = new LobbySummaries(store, me.id);
    const restored = await reloaded.summary(await infoOf(store, 'r'));
    expect(store.loads).toBe(0);
    expect(restored).toEqual(await freshCount(store, 'r'));
    chat.send(ann, 'third');
    store.loads = 0;
    reloaded.advance('r', { kind: 'stored', stored: await store.appendMissing('r', updates.splice(0)) });
    await persistedOver(store, 'r', advancedRecord);
    const shown = await reloaded.summary(await infoOf(store, 'r'));
    expect(store.loads).toBe(0);
    expect(shown).toMatchObject({ messages: 3, unread: 3, last: { text: 'third' } });
    expect(shown).toEqual(await freshCount(store, 'r'));
  });

  it('LOBBY-2: a room awaiting more reply parents than a record keeps is reused after a reload, then recounted on a change', async () => {
    const store = new CountingStore();
    // Replies to messages this device never got (Ann saw them elsewhere): each parent is awaited
    // (LOBBY-1's basis). Only Ann's own updates are stored.
    const elsewhere = new ChatRoom(new Y.Doc(), new HybridClock('ben', () => Date.now()), randomBytes);
    const doc = new Y.Doc();
    const chat = new ChatRoom(doc, new HybridClock('ann', () => Date.now()), randomBytes);
    const own: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== 'elsewhere') own.push(u);
    });
    for (let i = 0; i <= MAX_AWAITED_PARENTS; i++) {
      const parent = elsewhere.send(ann, `never here ${i}`).id;
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(elsewhere.doc), 'elsewhere');
      chat.send(ann, `reply ${i}`, { replyTo: parent });
    }
    for (const u of own.splice(0)) await store.append('r', u);
    await new LobbySummaries(store, me.id).summary(await infoOf(store, 'r'));
    await persistedOver(store, 'r');
    chat.send(ann, 'arrived by a refresh');
    const missed = own.splice(0);

    store.loads = 0;
    const reloaded = new LobbySummaries(store, me.id);
    const restored = await reloaded.summary(await infoOf(store, 'r'));
    expect(store.loads).toBe(0);
    expect(restored).toEqual(await freshCount(store, 'r'));
    // Without its basis the restored summary cannot advance: the refresh's change is recounted.
    reloaded.advance('r', { kind: 'stored', stored: await store.appendMissing('r', missed) });
    store.loads = 0;
    const shown = await reloaded.summary(await infoOf(store, 'r'));
    expect(store.loads).toBe(1);
    expect(shown).toMatchObject({ messages: MAX_AWAITED_PARENTS + 2, last: { text: 'arrived by a refresh' } });
    expect(shown).toEqual(await freshCount(store, 'r'));
  });
});

describe('LOBBY-3: own messages the relay has not acked', () => {
  /** What the room screen counts as pending (`pendingWrites`): `me`'s session on `store`, held back (nothing connects). */
  const roomScreenPending = async (store: MemoryRoomUpdateStore, room: string): Promise<number> => {
    const s = await RoomSession.open({
      room,
      relayUrl: 'ws://127.0.0.1:9/sync',
      identity: me,
      store,
      persistent: false,
      randomBytes,
      crossTab: false,
      offline: true,
    });
    try {
      return pendingWrites(s.view());
    } finally {
      s.destroy();
    }
  };

  /** What the lobby shows for `room` (Lobby.tsx): the summary's count by the acks in the room's meta now. */
  const lobbyNotSent = async (summaries: LobbySummaries, store: MemoryRoomUpdateStore, room: string) => {
    const info = await infoOf(store, room);
    return notSentCount(await summaries.summary(info), decodeSyncState(info.meta.sync).acked);
  };

  /** The relay's acks as a session keeps them in the room's meta (STATE-1). */
  const acked = (store: MemoryRoomUpdateStore, room: string, clocks: Map<number, number>): Promise<void> =>
    store.setMeta(room, { sync: encodeSyncState({ ...emptySyncState(), acked: clocks }, new Set(clocks.keys())) });

  it('LOBBY-3: own messages and edits not acked are counted as the room screen counts them, following new acks without a recount or a replay after a reload', async () => {
    const store = new CountingStore();
    const doc = new Y.Doc();
    const chat = new ChatRoom(doc, new HybridClock('me', () => Date.now()), randomBytes);
    let stored = Promise.resolve();
    doc.on('update', (u: Uint8Array) => {
      stored = stored.then(() => store.append('r', u));
    });
    const first = chat.send(me, 'first').id;
    chat.send(me, 'second');
    await annWrites(store, 'r').send("Ann's, never counted");
    chat.edit(me, first, 'first, edited');
    await stored;
    const edit = chat.messages().find((m) => m.id === first)!.editYId!;
    const summaries = new LobbySummaries(store, me.id);
    expect(await lobbyNotSent(summaries, store, 'r')).toBe(2);
    expect(await roomScreenPending(store, 'r')).toBe(2);
    const loads = store.loads;

    // Both records acked, not the edit the first one shows: it is not saved yet.
    await acked(store, 'r', new Map([[edit.client, edit.clock]]));
    expect(await lobbyNotSent(summaries, store, 'r')).toBe(1);
    expect(await roomScreenPending(store, 'r')).toBe(1);

    // A page load restores the summary kept in the meta (LOBBY-2): the same count, no replay.
    await persistedOver(store, 'r');
    const reloaded = new LobbySummaries(store, me.id);
    expect(await lobbyNotSent(reloaded, store, 'r')).toBe(1);

    await acked(store, 'r', new Map([[edit.client, edit.clock + 1]]));
    expect(await lobbyNotSent(summaries, store, 'r')).toBe(0);
    expect(await lobbyNotSent(reloaded, store, 'r')).toBe(0);
    expect(await roomScreenPending(store, 'r')).toBe(0);
    // Only the room screen's sessions read the rows: the lobby counted once, before.
    expect(store.loads - loads).toBe(2);
  });

  it('LOBBY-3 (STATE-5, STATE-6): own reactions and the title not acked are counted as the room screen counts them, after a reload too, until acked', async () => {
    const store = new CountingStore();
    const doc = new Y.Doc();
    const chat = new ChatRoom(doc, new HybridClock('me', () => Date.now()), randomBytes);
    let stored = Promise.resolve();
    doc.on('update', (u: Uint8Array) => {
      stored = stored.then(() => store.append('r', u));
    });
    await annWrites(store, 'r').send("Ann's");
    const mine = chat.send(me, 'mine').id;
    // Everything so far acked; then a reaction and a rename, not acked.
    await stored;
    await acked(store, 'r', new Map([[doc.clientID, Y.getState(doc.store, doc.clientID)]]));
    chat.react(me, mine, '👍', true);
    chat.setTitle(me, 'Renamed');
    await stored;
    const summaries = new LobbySummaries(store, me.id);
    const info = await infoOf(store, 'r');
    const counted = notSent(await summaries.summary(info), decodeSyncState(info.meta.sync).acked);
    expect(counted).toEqual({ count: 2, messages: 0, reactions: 1, title: true });
    expect(await roomScreenPending(store, 'r')).toBe(2);

    // A page load restores the summary kept in the meta (LOBBY-2): the same count.
    await persistedOver(store, 'r');
    const reloaded = new LobbySummaries(store, me.id);
    expect(await lobbyNotSent(reloaded, store, 'r')).toBe(2);
    // CATCH-8 records the acks of their client.
    expect(reloaded.unackedClients('r')).toEqual(new Set([doc.clientID]));

    // The reaction acked (it was written first), not the title.
    const title = chat.ownTitleYId(me.id)!;
    await acked(store, 'r', new Map([[doc.clientID, title.clock]]));
    expect(await lobbyNotSent(reloaded, store, 'r')).toBe(1);
    expect(await roomScreenPending(store, 'r')).toBe(1);
    await acked(store, 'r', new Map([[doc.clientID, Y.getState(doc.store, doc.clientID)]]));
    expect(await lobbyNotSent(summaries, store, 'r')).toBe(0);
    expect(await lobbyNotSent(reloaded, store, 'r')).toBe(0);
    expect(await roomScreenPending(store, 'r')).toBe(0);
  });
});
