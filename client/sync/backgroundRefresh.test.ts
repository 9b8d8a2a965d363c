/**
 * SYNC-C1 / CATCH-1..8 / LOBBY-3..4: the lobby's background refresh, against the real relay (a child process)
 * with `ws` and the in-memory store; a fake relay (an in-test `ws` server) plays a relay that
 * misbehaves.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { ChatRoom } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import {
  encodeStateVector,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  MessageType,
} from '../../shared/protocol.js';
import { observeFor, waitFor } from '../../shared/testing/waitFor.js';
import { parseUpdateV1 } from '../../shared/updateV1.js';
import { person, randomBytes, testTransport, useRelaySessions, WS } from '../testing/relaySessions.js';
import { IN_USE, memoryRoomLocks } from '../storage/roomLocks.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { startRelay } from '../../relay/testing/relayProcess.js';
import type { Identity } from '../identity.js';
import { RoomSession } from './roomSession.js';
import { refreshRooms, takeStoredRoom, type RefreshOptions, type RoomChange } from './backgroundRefresh.js';
import { catchUpRoom, type CatchUpResult } from './catchUp.js';
import { decodeReadSv } from './readMark.js';
import { decodeSyncState } from './syncState.js';
import { notSentCount, summarizeRoom } from '../ui/lobbyData.js';

const alice = person('Alice');
const bob = person('Bob');
const { freshRoom, open: openOn, relay, afterTest } = useRelaySessions('bg');

const open = (
  room: string,
  identity: Identity,
  store: MemoryRoomUpdateStore,
  background = false,
  offline = false,
): Promise<RoomSession> => openOn(room, identity, { store, background, offline });

/** The message texts stored for `room`, in display order. */
const storedTexts = async (store: MemoryRoomUpdateStore, room: string): Promise<string[]> => {
  const doc = new Y.Doc();
  for (const u of (await store.load(room)).updates) Y.applyUpdate(doc, u);
  return new ChatRoom(doc, new HybridClock('test', () => Date.now()), randomBytes).messages().map((m) => m.text);
};

/** A `ws` WebSocket that counts the bytes and the Sync frames it receives. */
const countingWebSocket = (): { impl: typeof WebSocket; received: () => number; syncFrames: () => number } => {
  let bytes = 0;
  let syncFrames = 0;
  class Counting extends WS {
    constructor(url: string | URL) {
      super(url);
      this.addEventListener('message', (event: MessageEvent) => {
        if (!(event.data instanceof ArrayBuffer)) return;
        bytes += event.data.byteLength;
        if (new Uint8Array(event.data)[0] === MessageType.Sync) syncFrames++;
      });
    }
  }
  return { impl: Counting, received: () => bytes, syncFrames: () => syncFrames };
};

const catchUpOn =
  (store: MemoryRoomUpdateStore, relayUrl = relay().wsUrl, WebSocketImpl: typeof WebSocket = WS) =>
  (room: string, timeoutMs: number): Promise<CatchUpResult> =>
    catchUpRoom({ room, relayUrl, store, timeoutMs, WebSocketImpl });

const noFullPath = (): Promise<RoomSession> => Promise.reject(new Error('the full path was not expected'));

/** Alice's session in `room` sends `texts`, waits until they are saved, and leaves. */
const aliceSends = async (room: string, store: MemoryRoomUpdateStore, texts: readonly string[]): Promise<void> => {
  const s = await open(room, alice, store);
  await waitFor(() => s.synced, 'alice synced');
  for (const text of texts) s.send(text);
  await s.whenStored();
  await waitFor(() => s.view().pendingCount === 0, 'saved');
  s.destroy();
  await s.whenStored();
};

/**
 * A fake relay: calls `onConnection` for every socket once its first frame (the client's
 * SyncStep1) arrived, and keeps every frame clients send in `frames`; closed after the test.
 */
const fakeRelay = async (onConnection: (socket: ServerSocket) => void, frames: Uint8Array[] = []): Promise<string> => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => frames.push(new Uint8Array(data)));
    socket.once('message', () => onConnection(socket));
  });
  afterTest(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/sync`;
};

/** An update adding one message by Bob to `doc` (a copy of what Alice holds), as a relay would send it. */
const bobClock = new HybridClock('bob', () => Date.now());
const bobMessageUpdate = (doc: Y.Doc, text: string): Uint8Array => {
  const before = Y.encodeStateVector(doc);
  new ChatRoom(doc, bobClock, randomBytes).send(bob, text);
  return Y.encodeStateAsUpdate(doc, before);
};

const docOf = async (store: MemoryRoomUpdateStore, room: string): Promise<Y.Doc> => {
  const doc = new Y.Doc();
  for (const u of (await store.load(room)).updates) Y.applyUpdate(doc, u);
  return doc;
};

/** LOBBY-3: how many of Alice's messages in `room` the lobby counts as not sent, as it recounts after a refresh. */
const notSentIn = async (store: MemoryRoomUpdateStore, room: string): Promise<number> => {
  const info = (await store.listRooms()).find((i) => i.room === room)!;
  const { summary } = await summarizeRoom(store, room, undefined, alice.id, new Map());
  return notSentCount(summary, decodeSyncState(info.meta.sync).acked);
};

/** Alice writes `texts` in `room` with it held back ("Go offline"): kept on her device only, one row each. */
const aliceWritesOffline = async (
  room: string,
  store: MemoryRoomUpdateStore,
  texts: readonly string[],
  relayUrl = relay().wsUrl,
): Promise<void> => {
  const s = await openOn(room, alice, { store, offline: true, relayUrl });
  for (const text of texts) {
    s.send(text);
    await s.whenStored();
  }
  s.destroy();
  await s.whenStored();
};

/** Refreshes `room` for Alice; the full path, when taken, is her background session on `store`. */
const refreshAlice = async (
  room: string,
  store: MemoryRoomUpdateStore,
  onRoom?: RefreshOptions['onRoom'],
): Promise<{ outcomes: Array<[string, string]>; fullPath: string[] }> => {
  const fullPath: string[] = [];
  const outcomes = await refreshRooms({
    rooms: [room],
    catchUp: catchUpOn(store),
    open: (r) => {
      fullPath.push(r);
      return open(r, alice, store, true);
    },
    timeoutMs: 20_000,
    ...(onRoom ? { onRoom } : {}),
  });
  return { outcomes: [...outcomes], fullPath };
};

describe('SYNC-C1: background refresh of the lobby', () => {
  it('SYNC-C1, CATCH-4: fetches and stores what rooms missed, one room at a time, invisibly and without "opening" or loading them; a refresh that brings nothing writes no row', async () => {
    const [r1, r2] = [freshRoom(), freshRoom()];
    const aliceStore = new MemoryRoomUpdateStore();
    // Alice visited r1 once and left; r2 she knows only by name (nothing stored).
    await aliceSends(r1, aliceStore, ['Alice was here']);
    const openedAt = (await aliceStore.getMeta(r1))?.lastOpenedAt;
    expect(openedAt).toBeDefined();
    await aliceStore.setMeta(r2, { title: 'known by name' });

    const bob1 = await open(r1, bob, new MemoryRoomUpdateStore());
    const bob2 = await open(r2, bob, new MemoryRoomUpdateStore());
    await Promise.all([waitFor(() => bob1.synced, 'bob1 synced'), waitFor(() => bob2.synced, 'bob2 synced')]);
    bob1.send('Bob in r1 while Alice was away');
    bob2.send('Bob in r2');
    await waitFor(() => bob1.view().pendingCount === 0 && bob2.view().pendingCount === 0, 'bob saved');

    // Everyone Bob ever sees in presence while the refresh runs (every view change is observed).
    const seenByBob = new Set<string>();
    const watch = (s: RoomSession): void => {
      s.subscribe(() => {
        for (const p of s.view().presence) seenByBob.add(p.name);
      });
    };
    watch(bob1);
    watch(bob2);
    let concurrent = 0;
    let maxConcurrent = 0;
    const done: Array<[string, string]> = [];
    const catchUp = catchUpOn(aliceStore);
    const outcomes = await refreshRooms({
      rooms: [r1, r2],
      catchUp: async (room, timeoutMs) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        try {
          return await catchUp(room, timeoutMs);
        } finally {
          concurrent--;
        }
      },
      open: noFullPath,
      timeoutMs: 20_000,
      onRoom: (room, _outcome, change) => done.push([room, change.kind]),
    });

    expect([...outcomes]).toEqual([
      [r1, 'synced'],
      [r2, 'synced'],
    ]);
    expect(done).toEqual([
      [r1, 'stored'],
      [r2, 'stored'],
    ]);
    expect(maxConcurrent).toBe(1);
    expect(await storedTexts(aliceStore, r1)).toEqual(['Alice was here', 'Bob in r1 while Alice was away']);
    expect(await storedTexts(aliceStore, r2)).toEqual(['Bob in r2']);
    expect([...seenByBob].filter((name) => name !== 'Bob')).toEqual([]);
    expect((await aliceStore.getMeta(r1))?.lastOpenedAt).toBe(openedAt);
    expect((await aliceStore.getMeta(r2))?.lastOpenedAt).toBeUndefined();

    // CATCH-4: a refresh that brings nothing new stores nothing and reports no change.
    const rows = (await aliceStore.load(r1)).keys;
    const again: Array<[string, string]> = [];
    await refreshRooms({
      rooms: [r1],
      catchUp,
      open: noFullPath,
      timeoutMs: 20_000,
      onRoom: (room, _outcome, change) => again.push([room, change.kind]),
    });
    expect(again).toEqual([[r1, 'none']]);
    expect((await aliceStore.load(r1)).keys).toEqual(rows);

    // The watch does see a visit: a normal session shows up in Bob's presence.
    await open(r1, alice, aliceStore);
    await waitFor(() => seenByBob.has('Alice'), 'bob sees a visiting Alice');
  });

  it('LATE-2, UNREAD-1: messages written offline that sort before what was read, stored by the catch-up, are unread and marked late when the room opens', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    const a = await open(room, alice, aliceStore);
    const b = await open(room, bob, new MemoryRoomUpdateStore());
    await waitFor(() => a.synced && b.synced, 'both synced');
    a.send('alice first');
    await waitFor(() => b.view().messages.length === 1, 'bob has it');
    b.setOffline(true);
    for (let i = 1; i <= 3; i++) b.send(`bob offline ${i}`);
    await b.whenStored();
    // Sent after Bob's three (a later time), so it sorts after them; Alice reads it, as the room
    // screen marks it when she is at the newest message (UNREAD-1), and leaves. A later time means
    // a later millisecond: in the same one the HLCs' counters and nodes decide (CI had it sort first).
    const bobLatest = Math.max(...b.view().messages.map((m) => m.hlc.wall));
    await waitFor(() => Date.now() > bobLatest, 'a millisecond after Bob’s last');
    const latest = a.send('alice latest').id;
    expect(a.view().messages.at(-1)!.hlc.wall).toBeGreaterThan(bobLatest);
    await waitFor(() => a.view().pendingCount === 0, 'alice saved');
    await aliceStore.setMeta(room, { lastReadMessageId: latest, readSv: a.readStateVector()! });
    a.destroy();

    b.setOffline(false);
    await waitFor(() => b.view().pendingCount === 0, 'bob uploaded');
    const result = await catchUpOn(aliceStore)(room, 20_000);
    expect(result.outcome).toBe('synced');
    expect(await storedTexts(aliceStore, room)).toEqual([
      'alice first',
      'bob offline 1',
      'bob offline 2',
      'bob offline 3',
      'alice latest',
    ]);
    const meta = (await aliceStore.getMeta(room))!;
    const { summary } = await summarizeRoom(
      aliceStore,
      room,
      meta.lastReadMessageId,
      alice.id,
      new Map(),
      decodeReadSv(meta.readSv),
    );
    expect(summary.unread).toBe(3);

    // Opened offline: nothing arrives from the network, so only LATE-2 can mark them.
    const again = await open(room, alice, aliceStore, false, true);
    const late = again.view().messages.map((m) => [m.text, m.late]);
    expect(late).toEqual([
      ['alice first', false],
      ['bob offline 1', true],
      ['bob offline 2', true],
      ['bob offline 3', true],
      ['alice latest', false],
    ]);
  });

  it('CATCH-1: a room that missed a few messages costs what it missed: the relay sends only those', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(
      room,
      aliceStore,
      Array.from({ length: 200 }, (_, i) => `Alice's message number ${i}, with some words to give it weight`),
    );
    const roomBytes = (await aliceStore.load(room)).bytes;
    const b = await open(room, bob, new MemoryRoomUpdateStore());
    await waitFor(() => b.synced, 'bob synced');
    b.send('one');
    b.send('two');
    await waitFor(() => b.view().pendingCount === 0, 'bob saved');

    const counting = countingWebSocket();
    const result = await catchUpOn(aliceStore, relay().wsUrl, counting.impl)(room, 20_000);
    expect(result.outcome).toBe('synced');
    expect(result.stored?.appended.length).toBe(1);
    expect((await storedTexts(aliceStore, room)).slice(-2)).toEqual(['one', 'two']);
    // The relay's handshake plus two messages, not the room (≈ 20 KB here).
    expect(counting.received()).toBeLessThan(roomBytes / 10);
  });

  it('CATCH-1: a store that lost rows (LOCAL-6) sends the room to the full path, which fetches everything', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['first', 'second']);
    aliceStore.simulateEviction(room);
    expect(await refreshAlice(room, aliceStore)).toEqual({ outcomes: [[room, 'synced']], fullPath: [room] });
    expect(await storedTexts(aliceStore, room)).toEqual(['first', 'second']);
  });

  it('CATCH-3: a malformed update from the relay fails the refresh and nothing is stored', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['before']);
    const doc = await docOf(aliceStore, room);
    const good = bobMessageUpdate(doc, 'valid, in the same catch-up');
    // A valid update with its final byte cut off (the truncated delete set of the relay notes).
    const truncated = bobMessageUpdate(doc, 'truncated').slice(0, -1);
    const url = await fakeRelay((socket) => {
      socket.send(encodeSyncUpdate(good));
      socket.send(encodeSyncStep2(truncated));
    });
    const before = aliceStore.dump();
    const fullPath: string[] = [];
    const outcomes = await refreshRooms({
      rooms: [room],
      catchUp: catchUpOn(aliceStore, url),
      open: (r) => {
        fullPath.push(r);
        return noFullPath();
      },
      timeoutMs: 20_000,
    });
    expect([...outcomes]).toEqual([[room, 'failed']]);
    expect(fullPath).toEqual([]);
    expect(aliceStore.dump()).toEqual(before);
  });

  it('CATCH-2/SYNC-4: a catch-up streamed as several Update frames is stored whole at the SyncStep2, in one go', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['before']);
    const doc = await docOf(aliceStore, room);
    const pieces = ['1', '2', '3'].map((n) => bobMessageUpdate(doc, `streamed ${n}`));
    const sent: Uint8Array[] = [];
    const heldSv = (await aliceStore.held(room))!.stateVector();
    const url = await fakeRelay((socket) => {
      // As a relay does on join (SYNC-1): its SyncStep1, holding all Alice holds (CATCH-6).
      socket.send(encodeSyncStep1(Y.encodeStateVector(doc)));
      socket.send(encodeSyncUpdate(pieces[0]!));
      socket.send(encodeSyncUpdate(pieces[1]!));
      socket.send(new Uint8Array([MessageType.Ack, 0]));
      socket.send(encodeSyncStep2(pieces[2]!));
    }, sent);
    const result = await catchUpOn(aliceStore, url)(room, 20_000);
    expect(result.outcome).toBe('synced');
    expect(result.stored?.appended).toEqual(pieces);
    expect(result.stored?.deletesOlder).toBe(false);
    // CATCH-2: the client sent its SyncStep1 with the held state vector, and nothing else (no awareness).
    expect(sent).toEqual([encodeSyncStep1(encodeStateVector(heldSv))]);
    expect(await storedTexts(aliceStore, room)).toEqual(['before', 'streamed 1', 'streamed 2', 'streamed 3']);
  });

  it('CATCH-6: an edit this device made offline goes to the full path, which uploads it; a relay without SyncStep1 does too', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['online']);
    // Written to Alice's store while the relay could not hear it (an offline edit).
    await aliceStore.append(room, bobMessageUpdate(await docOf(aliceStore, room), 'made offline'));
    expect(await refreshAlice(room, aliceStore)).toEqual({ outcomes: [[room, 'synced']], fullPath: [room] });
    // Another device's refresh gets it from the relay; nothing is left to upload, so no full path.
    const bobStore = new MemoryRoomUpdateStore();
    await waitFor(async () => {
      await refreshRooms({ rooms: [room], catchUp: catchUpOn(bobStore), open: noFullPath, timeoutMs: 20_000 });
      return (await storedTexts(bobStore, room)).includes('made offline');
    }, 'the offline edit reached the relay');
    expect(await storedTexts(bobStore, room)).toEqual(['online', 'made offline']);
    expect((await catchUpOn(aliceStore)(room, 20_000)).outcome).toBe('synced');

    // A relay that never says what it holds cannot show that nothing is missing.
    const url = await fakeRelay((socket) => socket.send(encodeSyncStep2(new Uint8Array([0, 0]))));
    expect((await catchUpOn(aliceStore, url)(room, 20_000)).outcome).toBe('unsure');
  });

  it('LOBBY-3: the full path waits for the relay to ack what it uploaded; the acks are in the sync meta when the room is reported', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['online']);
    // Alice writes with the room held back ("Go offline"): kept on her device only.
    const offline = await open(room, alice, aliceStore, false, true);
    offline.send('written offline 1');
    offline.edit(offline.send('written offline 2').id, 'written offline 2, edited');
    await offline.whenStored();
    expect(offline.view().pendingCount).toBe(2);
    offline.destroy();
    const notSent = (): Promise<number> => notSentIn(aliceStore, room);
    expect(await notSent()).toBe(2);

    const reported: number[] = [];
    // The lobby recounts when a room is reported (Lobby.tsx): what it reads then is what it shows.
    const refreshed = await refreshAlice(room, aliceStore, () => void notSent().then((n) => reported.push(n)));
    expect(refreshed).toEqual({ outcomes: [[room, 'synced']], fullPath: [room] });
    await waitFor(() => reported.length === 1, 'counted after the refresh');
    expect(reported).toEqual([0]);
  });

  it('STATE-5 (LOBBY-4): the full path waits for the ack of a reaction made offline too; a reopen offline then shows it saved', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['online']);
    // Alice reacts with the room held back: the reaction is kept on her device only.
    const offline = await open(room, alice, aliceStore, false, true);
    offline.react(offline.view().messages[0]!.id, '👍', true);
    await offline.whenStored();
    expect(offline.view().pendingReactionCount).toBe(1);
    offline.destroy();
    await offline.whenStored();

    expect(await refreshAlice(room, aliceStore)).toEqual({ outcomes: [[room, 'synced']], fullPath: [room] });
    const again = await openOn(room, alice, { store: aliceStore.reopen(), relayUrl: 'ws://127.0.0.1:9/sync' });
    expect(again.view().messages[0]?.reactions).toEqual([{ emoji: '👍', users: [alice.id] }]);
    expect(again.view().pendingReactionCount).toBe(0);
  });

  it('STATE-6 (LOBBY-4): the full path waits for the ack of a title renamed offline too; a reopen offline then shows it saved', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['online']);
    // Alice renames the room with it held back: the title is kept on her device only.
    const offline = await open(room, alice, aliceStore, false, true);
    offline.setTitle('Renamed offline');
    await offline.whenStored();
    expect(offline.view().pendingTitle).toBe(true);
    offline.destroy();
    await offline.whenStored();

    expect(await refreshAlice(room, aliceStore)).toEqual({ outcomes: [[room, 'synced']], fullPath: [room] });
    const again = await openOn(room, alice, { store: aliceStore.reopen(), relayUrl: 'ws://127.0.0.1:9/sync' });
    expect(again.view()).toMatchObject({ title: 'Renamed offline', pendingTitle: false });
  });

  it('LOBBY-4: a room whose upload the relay refuses after the sync (VAL-10) is reported refused when the relay closes, not at the timeout; the next room still waits for its acks', async () => {
    // A relay whose frames are at most 4 KiB: a message of 4,000 characters is one struct over
    // VAL-10's limit, so the upload carrying it is refused with the fatal struct-too-large (REFUSE-4).
    const small = await startRelay({ env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' } });
    afterTest(() => void small.cleanup());
    const [refused, next] = [freshRoom(), freshRoom()];
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceWritesOffline(refused, aliceStore, ['x'.repeat(4000)], small.wsUrl);
    await aliceWritesOffline(next, aliceStore, ['short enough'], small.wsUrl);

    const reported: string[] = [];
    const outcomes = await refreshRooms({
      rooms: [refused, next],
      catchUp: catchUpOn(aliceStore, small.wsUrl),
      open: (r) => openOn(r, alice, { store: aliceStore, background: true, relayUrl: small.wsUrl }),
      timeoutMs: 20_000,
      onRoom: (room) => reported.push(room),
    });
    // Before LOBBY-4 the synced session waited out its timer for acks that could not come, and
    // the room was reported `synced`.
    expect([...outcomes]).toEqual([
      [refused, 'refused'],
      [next, 'synced'],
    ]);
    expect(reported).toEqual([refused, next]);
    // The refused room's message is kept, not sent yet; the next room's acks did come, and the
    // refresh waited for them (LOBBY-3).
    expect(await notSentIn(aliceStore, refused)).toBe(1);
    expect(await notSentIn(aliceStore, next)).toBe(0);
  }, 60_000);

  // Why LOBBY-4 needs no case for ACK-3's gaps: the counting rule (LOBBY-3, as the room's) leaves them out.
  it("LOBBY-3: an own message past a gap in this device's structs (its earlier row lost), which the relay can never ack (ACK-3), is neither shown nor counted as not sent", async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceWritesOffline(room, aliceStore, ['lost with its row', 'past the gap']);
    const { keys } = await aliceStore.load(room);
    expect(keys.length).toBe(2);
    aliceStore.simulateEviction(room, [keys[0]!]); // LOCAL-6: the earlier row vanished
    const [kept] = parseUpdateV1((await aliceStore.load(room)).updates[0]!).runs;
    expect(kept!.clock).toBeGreaterThan(0);

    const fullPath: string[] = [];
    const outcomes = await refreshRooms({
      rooms: [room],
      catchUp: catchUpOn(aliceStore),
      open: (r) => {
        fullPath.push(r); // CATCH-1: the store cannot vouch for its state vector
        return open(r, alice, aliceStore, true);
      },
      timeoutMs: 20_000,
    });
    expect([...outcomes]).toEqual([[room, 'synced']]);
    expect(fullPath).toEqual([room]);
    // Never shown, never counted as not sent.
    expect(await storedTexts(aliceStore, room)).toEqual([]);
    expect(await notSentIn(aliceStore, room)).toBe(0);
    // It was uploaded all the same: the relay holds it, past a gap nobody can fill (its ack stops before, ACK-3).
    const bobStore = new MemoryRoomUpdateStore();
    expect((await catchUpOn(bobStore)(room, 20_000)).outcome).toBe('synced');
    const held = (await bobStore.load(room)).updates.flatMap((u) => parseUpdateV1(u).runs);
    expect(held.filter((r) => r.client === kept!.client)).toEqual([kept]);
  });

  it('CATCH-8: a message the relay saved whose ack never reached the sync meta stops counting as not sent after a catch-up', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['saved, but the ack was lost']);
    // The ack's write is lost (the tab closed first, or another tab's write went over it).
    await aliceStore.setMeta(room, { sync: undefined });
    const counted = async (): Promise<{ notSent: number; clients: Set<number> }> => {
      const info = (await aliceStore.listRooms()).find((i) => i.room === room)!;
      const { acked } = decodeSyncState(info.meta.sync);
      const { summary } = await summarizeRoom(aliceStore, room, undefined, alice.id, acked);
      const clients = new Set(summary.unacked.map((m) => m.yId!.client));
      return { notSent: notSentCount(summary, acked), clients };
    };
    const before = await counted();
    expect(before.notSent).toBe(1);

    // The relay holds it, so nothing is uploaded: only the catch-up runs, and it keeps the relay's
    // handshake ack (ACK-2, before its SyncStep2) for the clients it is asked about.
    const change: RoomChange[] = [];
    const outcomes = await refreshRooms({
      rooms: [room],
      catchUp: (r, timeoutMs) =>
        catchUpRoom({
          room: r,
          relayUrl: relay().wsUrl,
          store: aliceStore,
          timeoutMs,
          WebSocketImpl: WS,
          recordAcksOf: before.clients,
        }),
      open: noFullPath,
      timeoutMs: 20_000,
      onRoom: (_r, _o, c) => change.push(c),
    });
    expect([...outcomes]).toEqual([[room, 'synced']]);
    expect(change).toEqual([{ kind: 'acked' }]);
    expect((await counted()).notSent).toBe(0);
    // Known acks are not written again.
    const again = await catchUpRoom({
      room,
      relayUrl: relay().wsUrl,
      store: aliceStore,
      timeoutMs: 20_000,
      WebSocketImpl: WS,
      recordAcksOf: before.clients,
    });
    expect(again).toMatchObject({ outcome: 'synced', acksRecorded: false });
  });

  it('CATCH-7: a reaction removed offline (deletions only) goes to the full path, which uploads it; then the catch-up alone decides again', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['react to me']);
    const online = await open(room, alice, aliceStore);
    await waitFor(() => online.synced, 'alice synced');
    const id = online.view().messages[0]!.id;
    online.react(id, '👍', true);
    await waitFor(() => online.view().pendingCount === 0, 'saved');
    await online.whenStored();
    online.destroy();
    const bobStore = new MemoryRoomUpdateStore();
    const reactions = async (): Promise<number> => {
      const doc = await docOf(bobStore, room);
      return new ChatRoom(doc, bobClock, randomBytes).messages()[0]?.reactions.length ?? -1;
    };
    await refreshRooms({ rooms: [room], catchUp: catchUpOn(bobStore), open: noFullPath, timeoutMs: 20_000 });
    expect(await reactions()).toBe(1);

    // Un-reacting while the room is held back deletes and adds nothing: the state vector is unchanged.
    const offline = await open(room, alice, aliceStore, false, true);
    const held = (await aliceStore.held(room))!.stateVector();
    offline.react(id, '👍', false);
    await offline.whenStored();
    offline.destroy();
    expect((await aliceStore.held(room))!.stateVector()).toEqual(held);

    expect(await refreshAlice(room, aliceStore)).toEqual({ outcomes: [[room, 'synced']], fullPath: [room] });
    await waitFor(async () => {
      await refreshRooms({ rooms: [room], catchUp: catchUpOn(bobStore), open: noFullPath, timeoutMs: 20_000 });
      return (await reactions()) === 0;
    }, 'the un-react reached the relay');
    // The relay's answer now carries the deletion: no full path on the next refresh.
    expect((await catchUpOn(aliceStore)(room, 20_000)).outcome).toBe('synced');
  });

  it('CATCH-2/SYNC-4: the real relay streams a large catch-up in several frames; every message is stored', async () => {
    // A relay whose frames are at most 4 KiB: sixty messages do not fit in one.
    const small = await startRelay({ env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' } });
    afterTest(() => void small.cleanup());
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    const a = await openOn(room, alice, { store: aliceStore, relayUrl: small.wsUrl });
    await waitFor(() => a.synced, 'alice synced');
    a.send('before');
    await waitFor(() => a.view().pendingCount === 0, 'alice saved');
    a.destroy();
    const b = await openOn(room, bob, { relayUrl: small.wsUrl });
    await waitFor(() => b.synced, 'bob synced');
    const texts = Array.from({ length: 60 }, (_, i) => `Bob's message ${i} while Alice was away, long enough to weigh`);
    for (const text of texts) b.send(text);
    await waitFor(() => b.view().pendingCount === 0, 'bob saved');

    const counting = countingWebSocket();
    const result = await catchUpOn(aliceStore, small.wsUrl, counting.impl)(room, 20_000);
    expect(result.outcome).toBe('synced');
    // The relay's SyncStep1, then more than one catch-up frame.
    expect(counting.syncFrames()).toBeGreaterThan(2);
    expect(await storedTexts(aliceStore, room)).toEqual(['before', ...texts]);
  });

  it('CATCH-3: an update re-sending clocks this device holds sends the room to the full path, which decides', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceSends(room, aliceStore, ['held already']);
    const held = Y.mergeUpdates((await aliceStore.load(room)).updates);
    const url = await fakeRelay((socket) => socket.send(encodeSyncStep2(held)));
    const before = aliceStore.dump();
    expect(await catchUpOn(aliceStore, url)(room, 20_000)).toEqual({ outcome: 'unsure' });
    expect(aliceStore.dump()).toEqual(before);
  });

  it('CATCH-5: a fatal close or a denied Auth is refused; a silent relay times out; nothing is stored', async () => {
    const aliceStore = new MemoryRoomUpdateStore();
    const fatal = await fakeRelay((socket) => socket.close(4422, 'invalid-update'));
    const denied = await fakeRelay((socket) => socket.send(new Uint8Array([MessageType.Auth, 0, 0])));
    const silent = await fakeRelay(() => undefined);
    expect(await catchUpOn(aliceStore, fatal)('a-room', 20_000)).toEqual({ outcome: 'refused' });
    expect(await catchUpOn(aliceStore, denied)('a-room', 20_000)).toEqual({ outcome: 'refused' });
    expect(await catchUpOn(aliceStore, silent)('a-room', 300)).toEqual({ outcome: 'timeout' });
    expect(await catchUpOn(aliceStore, silent)('.bad-name', 300)).toEqual({ outcome: 'refused' });
    expect(aliceStore.dump()).toEqual({ rows: [], records: [] });
  });

  it('OFF-1: a room switched off (or partitioned) after the round started is not visited when its turn comes', async () => {
    const [r1, r2] = [freshRoom(), freshRoom()];
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceWritesOffline(r2, aliceStore, ['held back']);
    const held = new Set<string>();
    const caughtUp: string[] = [];
    const catchUp = catchUpOn(aliceStore);
    const outcomes = await refreshRooms({
      rooms: [r1, r2],
      catchUp: (room, timeoutMs) => {
        caughtUp.push(room);
        held.add(r2); // the user switches r2 off while the round is at r1
        return catchUp(room, timeoutMs);
      },
      open: (room) => openOn(room, alice, { store: aliceStore, background: true }),
      heldBack: (room) => held.has(room),
      timeoutMs: 20_000,
    });
    expect([...outcomes]).toEqual([
      [r1, 'synced'],
      [r2, 'held-back'],
    ]);
    expect(caughtUp).toEqual([r1]);
    // Between its catch-up and its session: a catch-up that leaves it unsure opens no session.
    const opened: string[] = [];
    const late = await refreshRooms({
      rooms: [r2],
      catchUp: (room) => {
        held.add(room);
        return Promise.resolve({ outcome: 'unsure' });
      },
      open: (room) => {
        opened.push(room);
        return noFullPath();
      },
      heldBack: (room) => held.has(room) && caughtUp.length > 0,
      timeoutMs: 20_000,
    });
    expect([...late]).toEqual([[r2, 'held-back']]);
    expect(opened).toEqual([]);
  });

  it('REMOVE-1: a room is held for its whole visit, so it is not removed meanwhile; a room removed since the round listed it is not visited', async () => {
    const [kept, removed] = [freshRoom(), freshRoom()];
    const aliceStore = new MemoryRoomUpdateStore();
    await aliceWritesOffline(kept, aliceStore, ['kept']);
    await aliceWritesOffline(removed, aliceStore, ['removed']);
    const locks = memoryRoomLocks();
    const removal = (room: string): Promise<true | typeof IN_USE> =>
      locks.ifFree(room, async () => {
        await aliceStore.deleteRoom(room);
        return true as const;
      });
    expect(await removal(removed)).toBe(true); // after the round listed the rooms
    const visited: string[] = [];
    const tried: Array<true | typeof IN_USE> = [];
    const catchUp = catchUpOn(aliceStore);
    const outcomes = await refreshRooms({
      rooms: [kept, removed],
      catchUp: (room, timeoutMs) => {
        visited.push(room);
        return catchUp(room, timeoutMs);
      },
      // `kept` holds an edit made offline: the full path opens a session, the room still held.
      open: async (room) => {
        tried.push(await removal(room));
        return openOn(room, alice, { store: aliceStore, background: true });
      },
      take: takeStoredRoom(locks, aliceStore),
      timeoutMs: 20_000,
    });
    expect([...outcomes]).toEqual([
      [kept, 'synced'],
      [removed, 'gone'],
    ]);
    expect(visited).toEqual([kept]);
    expect(tried).toEqual([IN_USE]);
    expect(await aliceStore.getMeta(removed)).toBeUndefined();
    // The visit over, the room is free.
    expect(await removal(kept)).toBe(true);
  });

  it('OFF-2: a background session switched off while it runs stops, uploads nothing a switched-off tab wrote, and its wait ends', async () => {
    const room = freshRoom();
    const aliceStore = new MemoryRoomUpdateStore();
    const bobS = await openOn(room, bob, { store: new MemoryRoomUpdateStore() });
    // The profile's switch, as client/ui/offlineSwitch.ts keeps it: watched from the session's start.
    let off = false;
    const watchers = new Set<(off: boolean) => void>();
    const turn = (to: boolean): void => {
      off = to;
      for (const w of watchers) w(off);
    };
    const watchOffline = (changed: (off: boolean) => void): (() => void) => {
      watchers.add(changed);
      return () => watchers.delete(changed);
    };
    // Its wait ends with the switch, not at the timeout (a relay that cannot be reached: it would wait 60 s).
    let waiting: RoomSession | null = null;
    const refreshed = refreshRooms({
      rooms: [room],
      catchUp: () => Promise.resolve({ outcome: 'unsure' }),
      open: async (r) => {
        waiting = await openOn(r, alice, {
          store: aliceStore,
          background: true,
          relayUrl: 'ws://127.0.0.1:1/sync',
          offline: off,
          watchOffline,
        });
        return waiting;
      },
      timeoutMs: 60_000,
    });
    await waitFor(() => waiting !== null, 'the background session opened');
    turn(true);
    expect([...(await refreshed)]).toEqual([[room, 'held-back']]);

    // Switched off while it runs, a background session uploads nothing: not a tab's message held
    // back by the switch, which reaches it over BroadcastChannel (OFF-1). The tab stays switched off.
    turn(false);
    const bg = await openOn(room, alice, {
      store: aliceStore,
      background: true,
      crossTab: true,
      offline: off,
      watchOffline,
    });
    await waitFor(() => bg.synced, 'the background session synced');
    turn(true);
    await waitFor(() => bg.view().connection.status === 'offline', 'the background session went offline');
    const tab = await openOn(room, alice, { store: aliceStore, crossTab: true, offline: true });
    tab.send('held back by the switch');
    await waitFor(() => bg.view().messages.some((m) => m.text === 'held back by the switch'), 'it reached the session');
    await observeFor(5000); // STATE-2's quiet spell would have uploaded it by now
    expect(bobS.view().messages.map((m) => m.text)).not.toContain('held back by the switch');
    // Switched on again: it goes.
    turn(false);
    await waitFor(() => bobS.view().messages.some((m) => m.text === 'held back by the switch'), 'bob has it');
  });

  it('SYNC-C1: a relay that does not answer is given up on after the timeout, and a cancelled refresh stops', async () => {
    const aliceStore = new MemoryRoomUpdateStore();
    const silent = await fakeRelay(() => undefined);
    const outcomes = await refreshRooms({
      rooms: ['a-room'],
      catchUp: catchUpOn(aliceStore, silent),
      open: noFullPath,
      timeoutMs: 300,
    });
    expect([...outcomes]).toEqual([['a-room', 'timeout']]);
    const none = await refreshRooms({
      rooms: ['a', 'b'],
      catchUp: catchUpOn(aliceStore, silent),
      open: noFullPath,
      timeoutMs: 300,
      cancelled: () => true,
    });
    expect(none.size).toBe(0);
    // The full path keeps its timeout too: an unreachable relay, for a room the catch-up left unsure.
    const unreachable = async (room: string): Promise<RoomSession> => {
      const s = await RoomSession.open({
        room,
        relayUrl: 'ws://127.0.0.1:1/sync',
        identity: alice,
        store: aliceStore,
        persistent: false,
        randomBytes,
        crossTab: false,
        background: true,
        transport: testTransport(),
      });
      afterTest(() => s.destroy());
      return s;
    };
    const unsure = (): Promise<CatchUpResult> => Promise.resolve({ outcome: 'unsure' });
    const viaSession = await refreshRooms({ rooms: ['a-room'], catchUp: unsure, open: unreachable, timeoutMs: 300 });
    expect([...viaSession]).toEqual([['a-room', 'timeout']]);
    const failing = await refreshRooms({
      rooms: ['x'],
      catchUp: () => Promise.reject(new Error('no store')),
      open: noFullPath,
      timeoutMs: 300,
    });
    expect([...failing]).toEqual([['x', 'failed']]);
  });
});
