/**
 * Lobby refresh (SYNC-C1): main-thread time of refreshing one big room that missed a few
 * messages, the full background session (the refresh before CATCH-1..5) against the catch-up.
 *
 *   npm run bench -- --only lobby        (or standalone:)
 *   npx tsx bench/lobbyRefresh.ts [--messages 100000] [--missed 10] [--reps 3]
 *
 * In Node, against a real relay (child process; byte-rate limits raised so seeding needs no
 * pacing), with the in-memory store (IndexedDB's own read cost is left out: it only adds to the
 * full path, which reads the whole room). The room is made with the app's chat model, uploaded,
 * and stored on "Alice's device" as one compacted update; Bob then sends `--missed` messages.
 * Each rep refreshes a fresh copy of Alice's store:
 *   - session: `refreshRooms` whose catch-up says `unsure`, so the full path runs (RoomSession
 *     open = load + validate + apply, SyncStep2, store, destroy);
 *   - catch-up, first: the store's held ranges are computed on this call (once per room, LOCAL-12);
 *   - catch-up: held ranges already kept (every later refresh);
 *   - recount: the lobby's summary afterwards by replaying the room (`summarizeRoom`, what the
 *     lobby did after every refresh that changed the room);
 *   - count (LOBBY-1): the same summary advanced from what the catch-up stored (`advanceSummary`),
 *     checked equal to the recount.
 * Main thread = the event loop's active time (`performance.eventLoopUtilization`) over the call.
 *
 * Then, without the relay, the lobby's first count of the room after a page load (LOBBY-2) at
 * 10,000 messages and at `--messages`: `listRooms` plus a new `LobbySummaries`' `summary`, over a
 * store that holds no persisted summary (before: a replay) and over one where an earlier page
 * persisted it (after: the record read from the room's meta; checked equal to the replay's
 * summary, and made without reading the room's updates). `--reload-only` runs just this part.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { startRelay, type RelayProcess } from '../relay/testing/relayProcess.js';
import { ChatRoom, type Identity } from '../shared/chat/chatRoom.js';
import { HybridClock } from '../shared/chat/hlc.js';
import { newId } from '../shared/ids.js';
import { decodeAck, encodeSyncStep1, encodeSyncUpdate, MessageType } from '../shared/protocol.js';
import { MemoryRoomUpdateStore } from '../client/storage/memoryRoomUpdateStore.js';
import { refreshRooms, type RoomChange } from '../client/sync/backgroundRefresh.js';
import { catchUpRoom } from '../client/sync/catchUp.js';
import { RoomSession } from '../client/sync/roomSession.js';
import { Transport } from '../client/net/transport.js';
import { advanceSummary, summarizeRoom, type CountedRoom, type RoomSummary } from '../client/ui/lobbyData.js';
import { LobbySummaries } from '../client/ui/lobbySummaries.js';
import type { StoredUpdates } from '../client/storage/roomUpdateStore.js';

const WS = WebSocket as unknown as typeof globalThis.WebSocket;
const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));

export interface LobbyRefreshOptions {
  /** Messages in the room. */
  readonly messages: number;
  /** Messages Alice's device misses. */
  readonly missed: number;
  readonly reps: number;
}

export const DEFAULT_LOBBY_REFRESH: LobbyRefreshOptions = { messages: 100_000, missed: 10, reps: 3 };

const ROOM = 'lobby-refresh';
const alice: Identity = { id: newId(randomBytes), name: 'Alice' };
const bob: Identity = { id: newId(randomBytes), name: 'Bob' };

/** The room as one update per 2,000 messages (each upload frame well under 8 MiB), and merged. */
const makeRoom = (messages: number): { chunks: Uint8Array[]; full: Uint8Array } => {
  const doc = new Y.Doc();
  let i = 0;
  const chat = new ChatRoom(doc, new HybridClock('seed', () => 1_700_000_000_000 + i * 1000), randomBytes);
  const chunks: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => chunks.push(u));
  while (i < messages) {
    doc.transact(() => {
      for (const end = Math.min(messages, i + 2000); i < end; i++) {
        chat.send(i % 3 ? bob : alice, `message ${i}: some words to give it the weight of a chat line`);
      }
    });
  }
  return { chunks, full: Y.encodeStateAsUpdate(doc) };
};

/** Uploads `chunks` as Update frames and waits until the relay acked all of them. */
const seed = async (relay: RelayProcess, chunks: readonly Uint8Array[], full: Uint8Array): Promise<void> => {
  const want = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(full));
  const ws = new WebSocket(`${relay.wsUrl}/${ROOM}`);
  const acked = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (raw: Buffer) => {
      const f = new Uint8Array(raw);
      if (f[0] !== MessageType.Ack) return;
      for (const [c, k] of decodeAck(f)) acked.set(c, Math.max(k, acked.get(c) ?? 0));
      if ([...want].every(([c, k]) => (acked.get(c) ?? 0) >= k)) resolve();
    });
    ws.once('close', (code) => reject(new Error(`seeding socket closed: ${code}`)));
    ws.once('open', () => {
      ws.send(encodeSyncStep1(new Uint8Array([0])));
      for (const chunk of chunks) ws.send(encodeSyncUpdate(chunk));
    });
  });
  ws.removeAllListeners('close');
  ws.close();
};

const storeWith = async (full: Uint8Array): Promise<MemoryRoomUpdateStore> => {
  const store = new MemoryRoomUpdateStore();
  await store.append(ROOM, full);
  await store.setMeta(ROOM, { lastOpenedAt: 1 });
  return store;
};

const mainThread = async (f: () => Promise<void>): Promise<{ active: number; wall: number }> => {
  const e0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await f();
  const wall = performance.now() - t0;
  const active = performance.eventLoopUtilization(e0).active;
  return { active, wall };
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The in-memory store, counting reads of a room's updates (a replay starts with one). */
class CountingStore extends MemoryRoomUpdateStore {
  loads = 0;

  override load(room: string): Promise<StoredUpdates> {
    this.loads++;
    return super.load(room);
  }
}

/** What the lobby does for the room on its first showing after a page load. */
const firstCount = async (store: MemoryRoomUpdateStore): Promise<RoomSummary> => {
  const [info] = await store.listRooms();
  return new LobbySummaries(store, alice.id).summary(info!);
};

/**
 * LOBBY-2: main thread of the lobby's first count of a `messages`-message room after a page
 * load, without (before) and with (after) a persisted summary; Markdown rows.
 */
export const runFirstCountBench = async (sizes: readonly number[], reps: number): Promise<string> => {
  const lines = [
    `| first count after reload (median of ${reps}) | before: replay | after: persisted summary (LOBBY-2) | record |`,
    '| --- | ---: | ---: | ---: |',
  ];
  for (const messages of sizes) {
    const { full } = makeRoom(messages);
    const before: Array<{ active: number; wall: number }> = [];
    const after: Array<{ active: number; wall: number }> = [];
    let record = 0;
    for (let rep = 0; rep < reps; rep++) {
      const store = new CountingStore();
      await store.append(ROOM, full);
      await store.setMeta(ROOM, { lastOpenedAt: 1 });
      const out: { replayed?: RoomSummary; restored?: RoomSummary } = {};
      // The page that counts (and persists; the lobby does not wait for the write).
      before.push(await mainThread(async () => void (out.replayed = await firstCount(store))));
      while ((await store.getMeta(ROOM))?.lobby === undefined) await new Promise((r) => setTimeout(r, 5));
      record = (await store.getMeta(ROOM))!.lobby!.length;
      // The next page load.
      store.loads = 0;
      after.push(await mainThread(async () => void (out.restored = await firstCount(store))));
      if (store.loads !== 0) throw new Error('LOBBY-2: the reload replayed the room');
      if (JSON.stringify(out.restored) !== JSON.stringify(out.replayed)) throw new Error('LOBBY-2 disagrees');
    }
    const cell = (xs: Array<{ active: number; wall: number }>): string =>
      `${median(xs.map((x) => x.active)).toFixed(2)} ms (wall ${median(xs.map((x) => x.wall)).toFixed(2)} ms)`;
    lines.push(`| ${messages} messages | ${cell(before)} | ${cell(after)} | ${record} B |`);
  }
  return lines.join('\n');
};

/** Runs the measurement; resolves with a Markdown table (progress goes to stderr). */
export const runLobbyRefreshBench = async (opts: LobbyRefreshOptions = DEFAULT_LOBBY_REFRESH): Promise<string> => {
  const { messages: MESSAGES, missed: MISSED, reps: REPS } = opts;
  const relay = await startRelay({ env: { MAX_BYTES_PER_SEC: String(2 ** 30), BYTE_BURST: String(2 ** 30) } });
  try {
    const room = makeRoom(MESSAGES);
    process.stderr.write(
      `lobby: ${MESSAGES} messages, ${(room.full.length / 1024 / 1024).toFixed(1)} MiB; uploading\n`,
    );
    await seed(relay, room.chunks, room.full);
    // Bob sends what Alice's device misses.
    const bobStore = await storeWith(room.full);
    const b = await RoomSession.open({
      room: ROOM,
      relayUrl: relay.wsUrl,
      identity: bob,
      store: bobStore,
      persistent: false,
      randomBytes,
      crossTab: false,
      transport: new Transport({ WebSocketImpl: WS }),
    });
    while (!b.synced) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < MISSED; i++) b.send(`missed ${i}`);
    while (b.view().pendingCount > 0) await new Promise((r) => setTimeout(r, 50));
    b.destroy();

    const rows: Record<string, Array<{ active: number; wall: number }>> = {
      session: [],
      'catch-up, first': [],
      'catch-up': [],
      recount: [],
      'count (LOBBY-1)': [],
    };
    const check = async (store: MemoryRoomUpdateStore): Promise<number> =>
      (await summarizeRoom(store, ROOM, undefined, alice.id, new Map())).summary.messages;
    for (let rep = 0; rep < REPS; rep++) {
      const s1 = await storeWith(room.full);
      rows.session!.push(
        await mainThread(async () => {
          await refreshRooms({
            rooms: [ROOM],
            catchUp: () => Promise.resolve({ outcome: 'unsure' }),
            open: (r) =>
              RoomSession.open({
                room: r,
                relayUrl: relay.wsUrl,
                identity: alice,
                store: s1,
                persistent: false,
                randomBytes,
                crossTab: false,
                background: true,
                transport: new Transport({ WebSocketImpl: WS }),
              }),
            timeoutMs: 60_000,
          });
        }),
      );
      if ((await check(s1)) !== MESSAGES + MISSED) throw new Error('session: messages missing');
      const seen: { change: RoomChange } = { change: { kind: 'none' } };
      const catchUp = (store: MemoryRoomUpdateStore) => async (): Promise<void> => {
        const outcomes = await refreshRooms({
          onRoom: (_room, _outcome, c) => (seen.change = c),
          rooms: [ROOM],
          catchUp: (r, timeoutMs) =>
            catchUpRoom({ room: r, relayUrl: relay.wsUrl, store, timeoutMs, WebSocketImpl: WS }),
          open: () => Promise.reject(new Error('full path not expected')),
          timeoutMs: 60_000,
        });
        if (outcomes.get(ROOM) !== 'synced') throw new Error(`catch-up: ${outcomes.get(ROOM)}`);
      };
      const s2 = await storeWith(room.full);
      rows['catch-up, first']!.push(await mainThread(catchUp(s2)));
      const s3 = await storeWith(room.full);
      await s3.held(ROOM);
      const counted = await summarizeRoom(s3, ROOM, undefined, alice.id, new Map());
      rows['catch-up']!.push(await mainThread(catchUp(s3)));
      if ((await check(s3)) !== MESSAGES + MISSED) throw new Error('catch-up: messages missing');
      const out: { recounted?: CountedRoom; advanced?: CountedRoom | null } = {};
      rows.recount!.push(
        await mainThread(async () => {
          out.recounted = await summarizeRoom(s3, ROOM, undefined, alice.id, new Map());
        }),
      );
      const change = seen.change;
      if (change.kind !== 'stored') throw new Error('catch-up stored nothing');
      rows['count (LOBBY-1)']!.push(
        await mainThread(() => {
          out.advanced = advanceSummary(counted, change.stored, undefined, alice.id);
          return Promise.resolve();
        }),
      );
      if (JSON.stringify(out.advanced?.summary) !== JSON.stringify(out.recounted?.summary)) {
        throw new Error('LOBBY-1 disagrees with the recount');
      }
    }
    const lines = [
      `| refresh of a ${MESSAGES}-message room that missed ${MISSED} | main thread (median of ${REPS}) | wall |`,
      '| --- | ---: | ---: |',
    ];
    for (const [name, xs] of Object.entries(rows)) {
      const active = median(xs.map((x) => x.active));
      const wall = median(xs.map((x) => x.wall));
      lines.push(`| ${name} | ${active.toFixed(1)} ms | ${wall.toFixed(1)} ms |`);
    }
    const sizes = [...new Set([10_000, MESSAGES])].sort((a, b) => a - b);
    return `${lines.join('\n')}\n\n${await runFirstCountBench(sizes, REPS)}`;
  } finally {
    await relay.cleanup();
  }
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: String(DEFAULT_LOBBY_REFRESH.messages) },
      missed: { type: 'string', default: String(DEFAULT_LOBBY_REFRESH.missed) },
      reps: { type: 'string', default: String(DEFAULT_LOBBY_REFRESH.reps) },
      'reload-only': { type: 'boolean', default: false },
    },
  });
  const messages = Number(values.messages);
  const reps = Number(values.reps);
  console.log(
    values['reload-only']
      ? await runFirstCountBench([...new Set([10_000, messages])], reps)
      : await runLobbyRefreshBench({ messages, missed: Number(values.missed), reps }),
  );
}
