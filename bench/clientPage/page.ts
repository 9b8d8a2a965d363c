/// <reference lib="dom" />
/**
 * Browser entry of the client benchmark (bench/client.ts), bundled by esbuild and injected into
 * a page on the relay's origin (`/healthz`, which the service worker never answers). It runs the
 * app's OWN storage code and the y-indexeddb baseline on the page's real IndexedDB, and exposes
 * them on `globalThis.clientBench` for the benchmark to drive through `page.evaluate`:
 *
 * - Converge: `IdbRoomUpdateStore` (client/storage/idbRoomUpdateStore.ts) seeded with one
 *   compacted update (what a room holds after STORE-C2), and loaded the way `RoomSession` loads
 *   it: `store.load` then `buildDoc` (validation + apply, LOAD-C1), then `ChatRoom.messages()`.
 *   Also the app's own `RoomSession.open` and its first `view()`, as the room screen calls them.
 * - Baseline: `IndexeddbPersistence` (y-indexeddb 9) on a fresh `Y.Doc`, timed to `whenSynced`.
 */
import * as Y from 'yjs';
import { IndexeddbPersistence } from 'y-indexeddb';
import { IdbRoomUpdateStore } from '../../client/storage/idbRoomUpdateStore.js';
import { buildDoc, RoomSession } from '../../client/sync/roomSession.js';
import { ChatRoom } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import { newId } from '../../shared/ids.js';

export interface StoredSummary {
  /** Rows stored for the room (Converge: update rows; y-indexeddb: rows of its `updates` store). */
  readonly rows: number;
  /** Sum of the stored updates' byte lengths. */
  readonly bytes: number;
}

export interface ConvergeLoad {
  /** Opening the database (`IdbRoomUpdateStore.open`). */
  readonly openMs: number;
  /** `store.load(room)`: reading the rows. */
  readonly readMs: number;
  /** `buildDoc`: strict validation (parseUpdateV1) and `Y.applyUpdate`. */
  readonly buildMs: number;
  /** `ChatRoom.messages()` on the loaded doc. */
  readonly messagesMs: number;
  readonly messages: number;
}

export interface SessionOpen {
  /** `IdbRoomUpdateStore.open` + `RoomSession.open` (load, buildDoc, install: messages(), connect). */
  readonly openMs: number;
  /** The first `session.view()` (the messages again, as views). */
  readonly viewMs: number;
  readonly messages: number;
}

export interface BaselineLoad {
  /** `new IndexeddbPersistence(name, doc)` until `whenSynced` (open, read, apply). */
  readonly syncedMs: number;
  /** The part of it spent in y-indexeddb's apply transaction (`Y.applyUpdate` of every row). */
  readonly applyMs: number;
  /** `ChatRoom.messages()` on the loaded doc (the same work Converge does, for reference). */
  readonly messagesMs: number;
  readonly messages: number;
}

export interface ClientBenchPage {
  /** `navigator.storage.estimate().usage`, bytes. */
  usage(): Promise<number>;
  convergeSeed(room: string, url: string): Promise<StoredSummary>;
  convergeStored(room: string): Promise<StoredSummary>;
  convergeLoad(room: string): Promise<ConvergeLoad>;
  /** `relayUrl`: ws://host:port/sync, as the app passes it. */
  sessionOpen(room: string, relayUrl: string): Promise<SessionOpen>;
  baselineSeed(name: string, url: string): Promise<StoredSummary>;
  baselineStored(name: string): Promise<StoredSummary>;
  baselineLoad(name: string): Promise<BaselineLoad>;
}

export interface ClientBenchGlobals {
  clientBench?: ClientBenchPage;
}

const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

const fetchBytes = async (url: string): Promise<Uint8Array> => {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
};

const countMessages = (doc: Y.Doc): { messagesMs: number; messages: number } => {
  const chat = new ChatRoom(doc, new HybridClock('bench', () => Date.now()), randomBytes);
  const t0 = performance.now();
  const messages = chat.messages().length;
  return { messagesMs: performance.now() - t0, messages };
};

const request = <T>(req: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });

/** Every value of y-indexeddb's `updates` store (read with plain IndexedDB, no y-indexeddb code). */
const baselineStored = async (name: string): Promise<StoredSummary> => {
  const db = await request(indexedDB.open(name));
  try {
    const values = await request(db.transaction('updates', 'readonly').objectStore('updates').getAll());
    const rows = values as Uint8Array[];
    return { rows: rows.length, bytes: rows.reduce((sum, u) => sum + u.byteLength, 0) };
  } finally {
    db.close();
  }
};

const convergeStored = async (room: string): Promise<StoredSummary> => {
  const store = await IdbRoomUpdateStore.open();
  try {
    const info = (await store.listRooms()).find((r) => r.room === room);
    return { rows: info?.updates ?? 0, bytes: info?.bytes ?? 0 };
  } finally {
    await store.close();
  }
};

const page: ClientBenchPage = {
  usage: async () => (await navigator.storage.estimate()).usage ?? NaN,

  convergeSeed: async (room, url) => {
    const update = await fetchBytes(url);
    const store = await IdbRoomUpdateStore.open();
    try {
      await store.append(room, update);
    } finally {
      await store.close();
    }
    return convergeStored(room);
  },

  convergeStored,

  convergeLoad: async (room) => {
    const t0 = performance.now();
    const store = await IdbRoomUpdateStore.open();
    const t1 = performance.now();
    const stored = await store.load(room);
    const t2 = performance.now();
    const { doc, skipped } = buildDoc(stored.updates);
    const t3 = performance.now();
    await store.close();
    if (skipped > 0) throw new Error(`buildDoc skipped ${skipped} stored updates`);
    const counted = countMessages(doc);
    doc.destroy();
    return { openMs: t1 - t0, readMs: t2 - t1, buildMs: t3 - t2, ...counted };
  },

  sessionOpen: async (room, relayUrl) => {
    const t0 = performance.now();
    const store = await IdbRoomUpdateStore.open();
    const session = await RoomSession.open({
      room,
      relayUrl,
      identity: { id: newId(randomBytes), name: 'Bench' },
      store,
      persistent: true,
      crossTab: false,
    });
    const t1 = performance.now();
    const messages = session.view().messages.length;
    const t2 = performance.now();
    session.destroy();
    await store.close();
    return { openMs: t1 - t0, viewMs: t2 - t1, messages };
  },

  baselineSeed: async (name, url) => {
    const update = await fetchBytes(url);
    const doc = new Y.Doc();
    const persistence = new IndexeddbPersistence(name, doc);
    await persistence.whenSynced;
    // One transaction, as a sync would deliver it: y-indexeddb stores it as one row.
    Y.applyUpdate(doc, update);
    // Closing waits for the pending write; the read below queues behind it anyway.
    await persistence.destroy();
    doc.destroy();
    return baselineStored(name);
  },

  baselineStored,

  baselineLoad: async (name) => {
    const t0 = performance.now();
    const doc = new Y.Doc();
    // y-indexeddb applies the rows in one transaction whose origin is the persistence.
    let applyStart = NaN;
    let applyMs = NaN;
    doc.on('beforeTransaction', (tr: Y.Transaction) => {
      if (tr.origin === persistence) applyStart = performance.now();
    });
    doc.on('afterTransactionCleanup', (tr: Y.Transaction) => {
      if (tr.origin === persistence) applyMs = performance.now() - applyStart;
    });
    const persistence = new IndexeddbPersistence(name, doc);
    await persistence.whenSynced;
    const syncedMs = performance.now() - t0;
    await persistence.destroy();
    const counted = countMessages(doc);
    doc.destroy();
    return { syncedMs, applyMs, ...counted };
  },
};

(globalThis as unknown as ClientBenchGlobals).clientBench = page;
