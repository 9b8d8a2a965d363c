/**
 * Unit tests of the relay host (relay/relay.ts): rooms, loading, group commit, limits, unloading
 * and shutdown, driven through recording sinks (relay/testing/fakeSink.ts) and in-memory stores.
 * Each test is named after the docs/SPEC.md rule it checks. Commits are manual
 * (`commitDelayMs: 'manual'`, `flush()`) and the tests wait with `settled()`: no sleeps.
 */
import { unthrottledLimits } from './testing/simNetwork.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import {
  CLIENT_CHARGE_BYTES,
  CloseReason,
  Limits,
  UpgradeRefusal,
  encodeAwareness,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.js';
import { loadQueueBytes, Relay, STORAGE_FAILURE_MS, type RelayLimits } from './relay.js';
import { MemoryRoomStore } from './memoryRoomStore.js';
import type { AppendEntry, RoomStore, StoredRoom, StoredSegment } from './roomStore.js';
import type { ConnId } from './roomCore.js';
import { FakeSink, type RelayFrame } from './testing/fakeSink.js';
import { manyClientsUpdate } from '../shared/testing/updateModel.js';

// --- helpers ------------------------------------------------------------------------------------

const LIMITS: RelayLimits = unthrottledLimits(Limits.maxSendFrameBytes);

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

const deferred = (): Deferred => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/** Lets pending promise callbacks run (a handful of microtask turns, no timers). */
const ticks = async (n = 10): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

/**
 * A MemoryRoomStore whose loads and appends the test can hold back or fail, and that records
 * every append. `close()` is recorded but leaves the inner store open so tests can inspect what
 * was stored after a shutdown.
 */
class ControlledStore implements RoomStore {
  readonly appends: AppendEntry[][] = [];
  loadGate: Promise<void> | null = null;
  appendGate: Promise<void> | null = null;
  loadError: Error | null = null;
  closed = false;

  constructor(readonly inner = new MemoryRoomStore()) {}

  load(room: string): Promise<StoredRoom> {
    const gate = this.loadGate ?? Promise.resolve();
    return gate.then(() => {
      if (this.loadError) throw this.loadError;
      return this.inner.load(room);
    });
  }

  append(entries: readonly AppendEntry[]): Promise<void> {
    this.appends.push([...entries]);
    const gate = this.appendGate ?? Promise.resolve();
    return gate.then(() => this.inner.append(entries));
  }

  /** Segment writes so far, and how many more of them fail (at once, like a store worker that is down). */
  segmentWrites = 0;
  segmentFailures = 0;

  writeSegment(room: string, segment: StoredSegment): Promise<void> {
    this.segmentWrites++;
    if (this.segmentFailures > 0) {
      this.segmentFailures--;
      return Promise.reject(new Error('the store worker is restarting'));
    }
    return this.inner.writeSegment(room, segment);
  }

  deleteCovered(room: string, seqLo: number, seqHi: number): Promise<void> {
    return this.inner.deleteCovered(room, seqLo, seqHi);
  }

  hasRoom(room: string): Promise<boolean> {
    return this.inner.hasRoom(room);
  }

  roomCount(): Promise<number> {
    return this.inner.roomCount();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

interface RelayOpts {
  readonly store?: RoomStore;
  readonly limits?: Partial<RelayLimits>;
  readonly idleUnloadMs?: number;
  readonly compaction?: { minLogEntries: number; targetBytes: number };
  readonly now?: () => number;
}

const relays: Relay[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const r of relays.splice(0)) await r.shutdown().catch(() => undefined);
});

const makeRelay = (opts: RelayOpts = {}): Relay => {
  const relay = new Relay({
    store: opts.store ?? new MemoryRoomStore(),
    limits: { ...LIMITS, ...opts.limits },
    commitDelayMs: 'manual',
    idleUnloadMs: opts.idleUnloadMs ?? 0,
    compaction: opts.compaction ?? { minLogEntries: 1_000_000, targetBytes: 1 << 30 },
    ...(opts.now ? { now: opts.now } : {}),
  });
  relays.push(relay);
  return relay;
};

const REMOTE = Symbol('remote');

/**
 * A client replica speaking like the stock y-websocket client, one frame at a time: local edits
 * go out as Update frames, `process()` handles what the relay sent (answers its SyncStep1 with a
 * SyncStep2, applies sync data, records acks and awareness).
 */
class Client {
  readonly doc: Y.Doc;
  sink = new FakeSink();
  id: ConnId = -1;
  readonly acks: Array<Map<number, number>> = [];
  readonly updates: Uint8Array[] = [];

  constructor(
    private relay: Relay,
    readonly room: string,
    clientID: number,
    doc?: Y.Doc,
  ) {
    this.doc = doc ?? new Y.Doc();
    this.doc.clientID = clientID;
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.updates.push(update);
    });
  }

  /** Opens a new connection (to the same relay, or another one). */
  connect(relay: Relay = this.relay): this {
    this.relay = relay;
    this.sink = new FakeSink();
    this.id = relay.open(this.room, this.sink);
    return this;
  }

  send(frame: Uint8Array): void {
    this.relay.receive(this.id, frame, true);
  }

  /** What the stock client sends on open: its SyncStep1. */
  hello(): void {
    this.send(encodeSyncStep1(Y.encodeStateVector(this.doc)));
  }

  /** A local edit in one transaction, sent as an Update frame; returns the update. */
  edit(fn: (doc: Y.Doc) => void, send = true): Uint8Array {
    const before = this.updates.length;
    this.doc.transact(() => fn(this.doc));
    const update = this.updates[before]!;
    if (send) this.send(encodeSyncUpdate(update));
    return update;
  }

  insert(index: number, text: string, send = true): Uint8Array {
    return this.edit((d) => d.getText('t').insert(index, text), send);
  }

  /** Handles every frame received so far (and those its answers cause); returns them. */
  process(): RelayFrame[] {
    const seen: RelayFrame[] = [];
    for (;;) {
      const fresh = this.sink.take();
      if (fresh.length === 0) return seen;
      for (const f of fresh) {
        seen.push(f);
        if (f.kind === 'sync-step1') this.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, f.body)));
        else if (f.kind === 'sync-step2' || f.kind === 'sync-update') Y.applyUpdate(this.doc, f.update, REMOTE);
        else if (f.kind === 'ack') this.acks.push(f.clocks);
      }
    }
  }

  get lastAck(): Map<number, number> | undefined {
    return this.acks[this.acks.length - 1];
  }
}

const kinds = (frames: readonly RelayFrame[]): string[] => frames.map((f) => f.kind);

/** A doc holding everything `store` returns for `room`. */
const storedDoc = async (store: RoomStore, room: string): Promise<Y.Doc> => {
  const stored = await store.load(room);
  const doc = new Y.Doc();
  for (const s of stored.segments) Y.applyUpdate(doc, s.update);
  for (const l of stored.log) Y.applyUpdate(doc, l.update);
  return doc;
};

/** Same structs, same deletions, same content, nothing left pending. */
const expectSameDoc = (actual: Y.Doc, expected: Y.Doc): void => {
  expect(actual.store.pendingStructs).toBeNull();
  expect(actual.store.pendingDs).toBeNull();
  expect(actual.getText('t').toJSON()).toBe(expected.getText('t').toJSON());
  expect(Y.equalSnapshots(Y.snapshot(actual), Y.snapshot(expected))).toBe(true);
};

/** Appends `updates` of `room` to `store` as seq 1, 2, … (a room stored by an earlier relay run). */
const seedStore = async (store: RoomStore, room: string, updates: readonly Uint8Array[]): Promise<void> => {
  await store.append(updates.map((update, i) => ({ room, seq: i + 1, update })));
};

/** `n` updates of one client, each prepending a line (so each is its own struct). */
const manyUpdates = (clientID: number, n: number, line = 'a line of text that takes some bytes; '): Uint8Array[] => {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const out: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => out.push(u));
  for (let i = 0; i < n; i++) doc.getText('t').insert(0, `${i}: ${line}`);
  return out;
};

const awarenessFrame = (clientID: number, clock: number, state: unknown): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint(e, clientID);
  encoding.writeVarUint(e, clock);
  encoding.writeVarString(e, JSON.stringify(state));
  return encodeAwareness(encoding.toUint8Array(e));
};

const goingAway = { code: CloseReason.GoingAway.code, reason: CloseReason.GoingAway.reason };
const closeOf = (reason: { code: number; reason: string }) => ({ code: reason.code, reason: reason.reason });

// --- tests ------------------------------------------------------------------------------------------

/** Two connections in room 'a', one in room 'b', past their handshakes, on a ControlledStore. */
const twoRooms = async (): Promise<{ store: ControlledStore; relay: Relay; a: Client; a2: Client; b: Client }> => {
  const store = new ControlledStore();
  const relay = makeRelay({ store });
  const a = new Client(relay, 'a', 1).connect();
  const a2 = new Client(relay, 'a', 2).connect();
  const b = new Client(relay, 'b', 3).connect();
  await relay.settled();
  for (const c of [a, a2, b]) c.process();
  return { store, relay, a, a2, b };
};

describe('Relay handshake and loading', () => {
  it('SYNC-1: a connection receives the relay SyncStep1 first, then the awareness states', async () => {
    const store = new MemoryRoomStore();
    const a = new Client(makeRelay({ store }), 'r', 1);
    const stored = a.insert(0, 'stored', false);
    await seedStore(store, 'r', [stored]);
    a.connect();
    await relays[0]!.settled();
    const first = a.process();
    expect(kinds(first)).toEqual(['sync-step1']);
    expect(first[0]).toMatchObject({ kind: 'sync-step1', stateVector: new Map([[1, 6]]) });
    a.send(awarenessFrame(42, 1, { name: 'a' }));

    const b = new Client(relays[0]!, 'r', 2).connect();
    expect(kinds(b.process())).toEqual(['sync-step1', 'awareness']);
  });

  it('SYNC-5: frames sent before the room is loaded are handled in order once it is', async () => {
    const store = new ControlledStore();
    const seed = new Client(makeRelay(), 'r', 1);
    await seedStore(store.inner, 'r', [seed.insert(0, 'stored', false)]);
    const gate = deferred();
    store.loadGate = gate.promise;
    const relay = makeRelay({ store });

    const a = new Client(relay, 'r', 2).connect();
    const b = new Client(relay, 'r', 3).connect();
    const gone = new Client(relay, 'r', 4).connect();
    a.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    const u1 = a.insert(0, 'one ');
    const u2 = a.insert(4, 'two'); // depends on u1
    a.send(awarenessFrame(20, 1, { name: 'a' }));
    gone.insert(0, 'never applied: its connection closes before the load');
    relay.closed(gone.id);
    await ticks();
    expect(a.sink.frames).toEqual([]);
    expect(b.sink.frames).toEqual([]);
    expect(relay.stats()).toMatchObject({ roomsLoaded: 1, connections: 2 });

    gate.resolve();
    await relay.settled();
    const framesA = a.sink.take();
    expect(kinds(framesA)).toEqual(['sync-step1', 'ack', 'sync-step2', 'sync-update', 'sync-update', 'awareness']);
    expect(framesA[0]).toMatchObject({ stateVector: new Map([[1, 6]]) });
    // ACK-2: the stored text the answer carries is durable.
    expect(framesA[1]).toEqual({ kind: 'ack', clocks: new Map([[1, 6]]) });
    expect(framesA.slice(3)).toEqual([
      { kind: 'sync-update', update: u1 },
      { kind: 'sync-update', update: u2 },
      { kind: 'awareness', entries: [{ clientID: 20, clock: 1, state: { name: 'a' } }] },
    ]);
    expect(kinds(b.sink.take())).toEqual(['sync-step1', 'sync-update', 'sync-update', 'awareness']);

    await relay.flush();
    expect(store.appends).toEqual([
      [
        { room: 'r', seq: 2, update: u1 },
        { room: 'r', seq: 3, update: u2 },
      ],
    ]);
  });

  it('LOAD-2: a loading room holds at most 2 × maxFrameBytes for its connections; the sender beyond it is closed, the rest is handled', async () => {
    const store = new ControlledStore();
    const gate = deferred();
    store.loadGate = gate.promise;
    const maxFrameBytes = 4096;
    const relay = makeRelay({ store, limits: { maxFrameBytes } });
    expect(loadQueueBytes({ maxFrameBytes })).toBe(8192);
    const a = new Client(relay, 'r', 1).connect();
    const flooder = new Client(relay, 'r', 2).connect();
    const c = new Client(relay, 'r', 3).connect();
    const u1 = a.insert(0, 'kept ');
    const garbage = new Uint8Array(4000).fill(0xff);
    flooder.send(garbage);
    flooder.send(garbage); // 8000 + u1 bytes held: still within 8192
    expect(flooder.sink.closes).toEqual([]);
    flooder.send(garbage);
    expect(flooder.sink.closes).toEqual([closeOf(CloseReason.RateLimited)]);
    const u2 = a.insert(5, 'too'); // small enough to fit what is left
    expect(a.sink.closes).toEqual([]);

    gate.resolve();
    await relay.settled();
    expect(c.sink.take().filter((f) => f.kind === 'sync-update')).toEqual([
      { kind: 'sync-update', update: u1 },
      { kind: 'sync-update', update: u2 },
    ]);
    await relay.flush();
    // Nothing of the flooder's frames was handled or stored.
    expect(store.appends).toEqual([
      [
        { room: 'r', seq: 1, update: u1 },
        { room: 'r', seq: 2, update: u2 },
      ],
    ]);
    expect(a.sink.closes).toEqual([]);
    expect(c.sink.closes).toEqual([]);
  });
  it('ACK-4: a room whose load fails closes its connections with 4503 storage-unavailable', async () => {
    const store = new ControlledStore();
    store.loadError = new Error('disk on fire');
    const relay = makeRelay({ store });
    const a = new Client(relay, 'r', 1).connect();
    const other = new Client(relay, 'q', 2);
    a.insert(0, 'x');
    await relay.settled();
    expect(a.sink.closes).toEqual([closeOf(CloseReason.StorageUnavailable)]);
    expect(a.sink.frames).toEqual([]);
    expect(relay.stats()).toMatchObject({ roomsLoaded: 0, connections: 0 });

    store.loadError = null;
    other.connect();
    await relay.settled();
    expect(kinds(other.process())).toEqual(['sync-step1']);
  });
});

describe('LOG-1: lines clients can cause again and again are throttled', () => {
  it('LOG-1: closes and failed loads log at most 10 lines per reason in 10 s, then say how many were left out', async () => {
    const store = new ControlledStore();
    store.loadError = new Error('disk on fire');
    let now = 1_000_000;
    const lines: Array<[string, Record<string, unknown>]> = [];
    const record = (event: string, fields?: Record<string, unknown>): void => void lines.push([event, fields ?? {}]);
    const relay = new Relay({
      store,
      limits: LIMITS,
      commitDelayMs: 'manual',
      idleUnloadMs: 0,
      compaction: { minLogEntries: 1_000_000, targetBytes: 1 << 30 },
      now: () => now,
      log: { debug: record, info: record, warn: record, error: record },
    });
    relays.push(relay);
    // 25 reconnects to a room whose storage fails: 25 failed loads, 25 closes.
    const clients: Client[] = [];
    for (let i = 0; i < 25; i++) {
      clients.push(new Client(relay, 'r', i + 1).connect());
      await relay.settled();
    }
    expect(clients.every((c) => c.sink.closes.length === 1)).toBe(true);
    const of = (event: string): Array<Record<string, unknown>> => lines.filter(([e]) => e === event).map(([, f]) => f);
    expect(of('room-load-failed')).toHaveLength(10);
    expect(of('close')).toHaveLength(10);
    // The window over: the next line says what was left out.
    now += 10_000;
    new Client(relay, 'r', 99).connect();
    await relay.settled();
    expect(of('room-load-failed').at(-1)).toMatchObject({ room: 'r', suppressed: 15 });
    expect(of('close').at(-1)).toMatchObject({ reason: CloseReason.StorageUnavailable.reason, suppressed: 15 });
  });
});

describe('Relay rooms, commits and acks', () => {
  it('FWD-3: nothing from one room reaches another room’s connections', async () => {
    const store = new ControlledStore();
    const relay = makeRelay({ store });
    const a1 = new Client(relay, 'a', 1).connect();
    const a2 = new Client(relay, 'a', 2).connect();
    const b1 = new Client(relay, 'b', 3).connect();
    const b2 = new Client(relay, 'b', 4).connect();
    await relay.settled();
    for (const c of [a1, a2, b1, b2]) c.process();

    const ua = a1.insert(0, 'room a');
    a1.send(awarenessFrame(11, 1, { room: 'a' }));
    b1.hello();
    await relay.flush();
    expect(kinds(a2.process())).toEqual(['sync-update', 'awareness']);
    expect(a1.process().map((f) => f.kind)).toEqual(['sync-update', 'awareness', 'ack']);
    expect(kinds(b1.process())).toEqual(['sync-step2']);
    expect(b2.sink.take()).toEqual([]);
    expect(b1.doc.getText('t').toJSON()).toBe('');
    expect(store.appends.flat().map((e) => e.room)).toEqual(['a']);
    expect(store.appends.flat()[0]!.update).toEqual(ua);

    b2.send(encodeQueryAwareness());
    expect(b2.process()).toEqual([{ kind: 'awareness', entries: [] }]);
  });

  it('ACK-1: one group commit for every room; acks only after the append resolved, to contributors only', async () => {
    const { store, relay, a, a2, b } = await twoRooms();

    a.insert(0, 'hello');
    b.insert(0, 'hi');
    for (const c of [a, a2, b]) expect(c.process().filter((f) => f.kind === 'ack')).toEqual([]);

    const gate = deferred();
    store.appendGate = gate.promise;
    const flushed = relay.flush();
    await ticks();
    expect(store.appends).toHaveLength(1);
    expect(store.appends[0]!.map((e) => [e.room, e.seq])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    for (const c of [a, a2, b]) expect(c.process()).toEqual([]);

    gate.resolve();
    await flushed;
    expect(a.process()).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    expect(b.process()).toEqual([{ kind: 'ack', clocks: new Map([[3, 2]]) }]);
    expect(a2.process()).toEqual([]);
    expect(await relay.flush()).toBeUndefined(); // nothing left: no empty append
    expect(store.appends).toHaveLength(1);
  });

  it('ACK-1: with a commit delay, updates of the window go in one append and are acked after it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = new ControlledStore();
    const relay = new Relay({
      store,
      limits: LIMITS,
      commitDelayMs: 5,
      idleUnloadMs: 0,
      compaction: { minLogEntries: 1_000_000, targetBytes: 1 << 30 },
    });
    relays.push(relay);
    const a = new Client(relay, 'a', 1).connect();
    const b = new Client(relay, 'b', 2).connect();
    await relay.settled();
    a.process();
    b.process();
    a.insert(0, 'one');
    b.insert(0, 'two');
    a.insert(3, '!');
    vi.advanceTimersByTime(4);
    await relay.settled();
    expect(store.appends).toEqual([]);
    expect(a.process().filter((f) => f.kind === 'ack')).toEqual([]);
    vi.advanceTimersByTime(1);
    await relay.settled();
    expect(store.appends.map((batch) => batch.length)).toEqual([3]);
    expect(a.process().filter((f) => f.kind === 'ack')).toEqual([{ kind: 'ack', clocks: new Map([[1, 4]]) }]);
    expect(b.process().filter((f) => f.kind === 'ack')).toEqual([{ kind: 'ack', clocks: new Map([[2, 3]]) }]);
  });

  it('ACK-4: a failed append closes the room’s connections with 4503, acks nothing, and the client re-uploads', async () => {
    const store = new MemoryRoomStore();
    const relay = makeRelay({ store });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    const p = new Client(relay, 'p', 3).connect(); // another room in the same failed batch
    const q = new Client(relay, 'q', 4).connect(); // a room with nothing in the batch
    await relay.settled();
    for (const c of [a, b, p, q]) {
      c.hello();
      c.process();
    }

    const lost = a.insert(0, 'lost? ');
    p.insert(0, 'p');
    store.failNextAppend(new Error('disk full'));
    await relay.flush();
    await relay.settled();

    for (const c of [a, b, p]) {
      expect(c.sink.closes).toEqual([closeOf(CloseReason.StorageUnavailable)]);
      expect(c.process().filter((f) => f.kind === 'ack')).toEqual([]);
      expect(c.sink.sentAfterClose).toBe(0);
    }
    expect(q.sink.closes).toEqual([]);
    expect(relay.stats()).toMatchObject({ roomsLoaded: 1, connections: 1 });
    expect((await store.load('r')).log).toEqual([]);
    relay.closed(a.id); // the socket's own close event afterwards is harmless

    // Reconnect: the relay's SyncStep1 (from what was stored) makes the client upload it again.
    a.connect();
    await relay.settled();
    const frames = a.process();
    expect(frames[0]).toMatchObject({ kind: 'sync-step1', stateVector: new Map() });
    await relay.flush();
    expect(a.process()).toEqual([{ kind: 'ack', clocks: new Map([[1, 6]]) }]);
    const doc = await storedDoc(store, 'r');
    expectSameDoc(doc, a.doc);
    expect(doc.getText('t').toJSON()).toBe('lost? ');
    expect(lost.length).toBeGreaterThan(0);

    b.connect();
    await relay.settled();
    b.hello();
    b.process();
    expectSameDoc(b.doc, a.doc);
  });

  it('ACK-2: a client that reconnects learns which of its edits were saved', async () => {
    const relay = makeRelay();
    const a = new Client(relay, 'r', 1).connect();
    await relay.settled();
    a.insert(0, 'saved');
    await relay.flush();
    relay.closed(a.id);
    a.insert(5, ' offline', false);

    a.connect();
    await relay.settled();
    a.hello();
    const frames = a.process();
    expect(frames.filter((f) => f.kind === 'ack')).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    await relay.flush();
    a.process();
    expect(a.lastAck).toEqual(new Map([[1, 13]]));
  });
});

describe('Relay unloading and compaction', () => {
  it('UNLOAD-1: a room is unloaded once its last connection left and nothing is pending', async () => {
    const store = new MemoryRoomStore();
    const relay = makeRelay({ store, idleUnloadMs: 0 });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    expect(relay.stats()).toMatchObject({ roomsLoaded: 1, connections: 2 });

    a.insert(0, 'pending');
    relay.closed(a.id);
    relay.closed(b.id);
    expect(relay.stats()).toMatchObject({ roomsLoaded: 1, connections: 0 }); // still pending
    await relay.flush();
    await relay.settled();
    expect(relay.stats()).toMatchObject({ roomsLoaded: 0, connections: 0 });

    // Loaded again from the store on the next connection.
    const c = new Client(relay, 'r', 3).connect();
    await relay.settled();
    c.hello();
    c.process();
    expect(c.doc.getText('t').toJSON()).toBe('pending');
  });

  it('UNLOAD-1: a room whose only connection left while it loaded is unloaded after the load', async () => {
    const store = new ControlledStore();
    const gate = deferred();
    store.loadGate = gate.promise;
    const relay = makeRelay({ store, idleUnloadMs: 0 });
    const a = new Client(relay, 'r', 1).connect();
    relay.closed(a.id);
    gate.resolve();
    await relay.settled();
    expect(relay.stats()).toMatchObject({ roomsLoaded: 0, connections: 0 });
  });

  it('UNLOAD-1: an idle room is dropped after idleUnloadMs; a new connection cancels the unload', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const relay = makeRelay({ idleUnloadMs: 30_000 });
    const a = new Client(relay, 'r', 1).connect();
    await relay.settled();
    relay.closed(a.id);
    vi.advanceTimersByTime(29_000);
    expect(relay.stats().roomsLoaded).toBe(1);
    a.connect();
    vi.advanceTimersByTime(60_000);
    expect(relay.stats().roomsLoaded).toBe(1);
    relay.closed(a.id);
    vi.advanceTimersByTime(30_000);
    expect(relay.stats().roomsLoaded).toBe(0);
  });

  it('STORE-2: with small compaction settings the store ends up with segments and loads the same content', async () => {
    const store = new MemoryRoomStore();
    const relay = makeRelay({ store, compaction: { minLogEntries: 4, targetBytes: 2048 } });
    const a = new Client(relay, 'r', 1).connect();
    await relay.settled();
    for (let i = 0; i < 60; i++) {
      a.insert(0, `line ${i}: some text to fill the log. `);
      if (i % 3 === 0) a.edit((d) => d.getText('t').delete(5, 3));
      await relay.flush();
      await relay.settled();
    }
    const stored = await store.load('r');
    expect(stored.segments.length).toBeGreaterThan(0);
    const seqsInSegments = stored.segments.reduce((n, s) => n + s.seqHi - s.seqLo + 1, 0);
    expect(seqsInSegments + stored.log.length).toBe(80);
    expect(stored.log.length).toBeLessThan(20);
    expectSameDoc(await storedDoc(store, 'r'), a.doc);

    // A relay restarted on the same data serves the same document.
    const restarted = makeRelay({ store: store.reopen() });
    const b = new Client(restarted, 'r', 2).connect();
    await restarted.settled();
    b.hello();
    b.process();
    expectSameDoc(b.doc, a.doc);
  });
});

describe('HEALTH-1: storage health', () => {
  it("is 'failing' after a failed store call, until a write succeeds or STORAGE_FAILURE_MS pass", async () => {
    let now = 1_000_000;
    const store = new ControlledStore();
    const relay = makeRelay({ store, now: () => now });
    const a = new Client(relay, 'r', 1).connect();
    await relay.settled();
    expect(relay.stats().storage).toBe('ok');
    store.inner.failNextAppend(new Error('database or disk is full'));
    a.insert(0, 'not stored');
    await relay.flush();
    expect(relay.stats().storage).toBe('failing');
    // Reads still work on a full disk: a reader joining (admission, load) does not clear it.
    expect(await relay.admit('other')).toBeNull();
    const reader = new Client(relay, 'other', 2).connect();
    await relay.settled();
    reader.process();
    expect(relay.stats().storage).toBe('failing');
    // A write that succeeds does.
    const writer = new Client(relay, 'r', 3).connect();
    await relay.settled();
    writer.insert(0, 'stored');
    await relay.flush();
    expect(relay.stats().storage).toBe('ok');
    // With no traffic after a failure, it fades (a relay taken out of service gets to try again).
    store.inner.failNextAppend(new Error('database or disk is full'));
    writer.insert(0, 'not stored either');
    await relay.flush();
    expect(relay.stats().storage).toBe('failing');
    now += STORAGE_FAILURE_MS - 1;
    expect(relay.stats().storage).toBe('failing');
    now += 1;
    expect(relay.stats().storage).toBe('ok');
  });
});

describe('STORE-7: a failed compaction', () => {
  it('is not retried at once: the room compacts again after its next commit', async () => {
    const store = new ControlledStore();
    const relay = makeRelay({ store, compaction: { minLogEntries: 4, targetBytes: 2048 } });
    const a = new Client(relay, 'r', 1).connect();
    await relay.settled();
    // Retried at once, the compaction would use up these failures in one burst of promise
    // callbacks (the test would not even hang: the 1,001st write succeeds).
    store.segmentFailures = 1000;
    for (let i = 0; i < 6; i++) a.insert(0, `line ${i} `);
    await relay.flush();
    await relay.settled();
    expect(store.segmentWrites).toBe(1);
    a.insert(0, 'one more ');
    await relay.flush();
    await relay.settled();
    expect(store.segmentWrites).toBe(2);

    // Working again: the next commit compacts, and the stored room is whole.
    store.segmentFailures = 0;
    a.insert(0, 'and another ');
    await relay.flush();
    await relay.settled();
    expect((await store.inner.load('r')).segments.length).toBeGreaterThan(0);
    expectSameDoc(await storedDoc(store.inner, 'r'), a.doc);
  });
});

describe('Relay limits and bad input', () => {
  it('CLOSE-2: a malformed frame closes only its connection with 4400; others carry on and nothing is stored', async () => {
    const store = new ControlledStore();
    const relay = makeRelay({ store });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    const c = new Client(relay, 'q', 3).connect();
    await relay.settled();
    for (const x of [a, b, c]) x.process();

    a.send(Uint8Array.of(0, 2, 9, 1)); // an update whose length runs past the frame
    expect(a.sink.closes).toEqual([closeOf(CloseReason.BadFrame)]);
    a.insert(0, 'after close');
    expect(relay.stats().connections).toBe(2);
    await relay.flush();
    expect(store.appends).toEqual([]);

    b.insert(0, 'fine');
    expect(kinds(b.process())).toEqual(['sync-update']);
    expect(b.sink.closes).toEqual([]);
    expect(c.sink.take()).toEqual([]);
    expect(c.sink.closes).toEqual([]);
  });

  it('CLOSE-2: a text frame closes with 4401 text-frame', async () => {
    const relay = makeRelay();
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    relay.receive(a.id, new TextEncoder().encode('hello'), false);
    expect(a.sink.closes).toEqual([closeOf(CloseReason.TextFrame)]);
    expect(b.sink.closes).toEqual([]);
    expect(relay.stats().connections).toBe(1);
  });

  it('CLOSE-2: a frame larger than maxFrameBytes closes with 4413 frame-too-large', async () => {
    const relay = makeRelay({ limits: { maxFrameBytes: 1024 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    a.process();
    a.send(awarenessFrame(5, 1, 'x'.repeat(900))); // under the limit
    expect(a.sink.closes).toEqual([]);
    a.send(awarenessFrame(5, 2, 'x'.repeat(1100)));
    expect(a.sink.closes).toEqual([closeOf(CloseReason.FrameTooLarge)]);
    expect(b.sink.closes).toEqual([]);
  });

  it('CLOSE-2: more messages than the burst within the rate closes with 4529 rate-limited', async () => {
    let now = 1_000_000;
    const relay = makeRelay({ now: () => now, limits: { maxMessagesPerSecond: 10, messageBurst: 3 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();

    for (let i = 0; i < 3; i++) a.send(encodeQueryAwareness());
    expect(a.sink.closes).toEqual([]);
    a.send(encodeQueryAwareness());
    expect(a.sink.closes).toEqual([closeOf(CloseReason.RateLimited)]);

    for (let i = 0; i < 3; i++) b.send(encodeQueryAwareness());
    now += 100; // one more token at 10 per second
    b.send(encodeQueryAwareness());
    expect(b.sink.closes).toEqual([]);
    b.send(encodeQueryAwareness());
    expect(b.sink.closes).toEqual([closeOf(CloseReason.RateLimited)]);
  });

  it('CLOSE-2: more bytes than the byte burst within the rate closes with 4529 rate-limited', async () => {
    let now = 0;
    const relay = makeRelay({ now: () => now, limits: { maxBytesPerSecond: 1000, byteBurst: 1000 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    const frame = awarenessFrame(5, 1, 'x'.repeat(580));
    expect(frame.length).toBeGreaterThan(500);
    a.send(frame);
    now += 1000;
    a.send(awarenessFrame(5, 2, 'x'.repeat(580)));
    expect(a.sink.closes).toEqual([]);
    a.send(awarenessFrame(5, 3, 'x'.repeat(580)));
    expect(a.sink.closes).toEqual([closeOf(CloseReason.RateLimited)]);
    expect(b.sink.closes).toEqual([]);
  });

  it('RATE-1: an update is charged 256 bytes per Yjs client on top of its size', async () => {
    let now = 0;
    const relay = makeRelay({ now: () => now, limits: { maxBytesPerSecond: 20_000, byteBurst: 20_000 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    const clients = (n: number, from: number): Uint8Array => encodeSyncUpdate(manyClientsUpdate(n, 0, from));
    // 50 clients: about 500 bytes on the wire, charged 50 × 256 more; twice is over the burst.
    const first = clients(50, 100);
    expect(first.length + 50 * CLIENT_CHARGE_BYTES).toBeLessThan(20_000);
    a.send(first);
    expect(a.sink.closes).toEqual([]);
    a.send(clients(50, 200));
    expect(a.sink.closes).toEqual([closeOf(CloseReason.RateLimited)]);
    // Clients named only in the delete set count the same.
    const deletes = (n: number, from: number): Uint8Array => encodeSyncUpdate(manyClientsUpdate(0, n, from));
    const d = new Client(relay, 'r', 4).connect();
    await relay.settled();
    d.send(deletes(50, 500));
    expect(d.sink.closes).toEqual([]);
    d.send(deletes(50, 600));
    expect(d.sink.closes).toEqual([closeOf(CloseReason.RateLimited)]);
    // As many bytes in one client's update are charged as bytes only.
    const oneClient = (client: number): Uint8Array => {
      const doc = new Y.Doc();
      doc.clientID = client;
      doc.getText('t').insert(0, 'x'.repeat(first.length));
      return encodeSyncUpdate(Y.encodeStateAsUpdate(doc));
    };
    b.send(oneClient(7));
    b.send(oneClient(8));
    expect(b.sink.closes).toEqual([]);
    // The allowance refills with time.
    const c = new Client(relay, 'r', 3).connect();
    await relay.settled();
    c.send(clients(50, 300));
    now += 1000;
    c.send(clients(50, 400));
    expect(c.sink.closes).toEqual([]);
  });

  it('CLOSE-2: a client that stops reading is closed with 4508 on the next broadcast, not during its catch-up', async () => {
    const store = new MemoryRoomStore();
    await seedStore(store, 'r', manyUpdates(7, 400)); // a catch-up of tens of KB
    const relay = makeRelay({ store, limits: { maxBufferedBytes: 1000, maxSendFrameBytes: 4096 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    a.process();
    b.process();

    b.sink.accumulate = true; // b reads nothing from now on: every frame sent stays queued
    b.hello();
    const catchUp = b.sink.take();
    expect(catchUp.length).toBeGreaterThan(3);
    expect(catchUp[catchUp.length - 1]!.kind).toBe('sync-step2');
    expect(b.sink.closes).toEqual([]);

    b.sink.buffered += 5000; // live traffic piled up beyond the catch-up allowance
    a.insert(0, 'a live edit');
    expect(b.sink.closes).toEqual([closeOf(CloseReason.SlowConsumer)]);
    expect(b.sink.take()).toEqual([]);
    expect(a.sink.closes).toEqual([]);
    expect(kinds(a.process())).toEqual(['sync-update']);
    expect(relay.stats().connections).toBe(1);
  });

  it('CLOSE-2: a client that never reads keeps its catch-up and is closed once live frames pile up', async () => {
    const store = new MemoryRoomStore();
    await seedStore(store, 'r', manyUpdates(7, 400));
    const relay = makeRelay({ store, limits: { maxBufferedBytes: 1000, maxSendFrameBytes: 4096 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    b.sink.accumulate = true; // every frame sent to b stays queued
    await relay.settled();
    b.hello();
    expect(b.sink.buffered).toBeGreaterThan(10_000);
    expect(b.sink.closes).toEqual([]);

    let edits = 0;
    while (b.sink.closes.length === 0 && edits < 100) {
      a.insert(0, 'x'.repeat(200));
      edits++;
    }
    expect(b.sink.closes).toEqual([closeOf(CloseReason.SlowConsumer)]);
    expect(edits).toBeGreaterThan(1); // ~1000 bytes of live frames were allowed first
    expect(edits).toBeLessThan(10);
    expect(a.sink.closes).toEqual([]);
  });

  it('CLOSE-5: over the relay-wide buffer budget, the largest queues are closed until it holds again', async () => {
    const relay = makeRelay({ limits: { maxBufferedBytes: 10_000, maxTotalBufferedBytes: 10_000 } });
    const clients = [1, 2, 3, 4].map((n) => new Client(relay, n % 2 ? 'r' : 's', n).connect());
    await relay.settled();
    for (const c of clients) c.process();
    // Each queue is within CLOSE-2's per-client allowance; together they are not.
    clients[0]!.sink.buffered = 2_000;
    clients[1]!.sink.buffered = 6_000;
    clients[2]!.sink.buffered = 5_000;
    clients[3]!.sink.buffered = 100;
    expect(relay.enforceBufferBudget()).toBe(1);
    expect(clients.map((c) => c.sink.closes)).toEqual([[], [closeOf(CloseReason.SlowConsumer)], [], []]);
    // 7,100 bytes left: within the budget, nobody else is closed, and the rooms keep working.
    expect(relay.enforceBufferBudget()).toBe(0);
    clients[2]!.insert(0, 'still here');
    expect(kinds(clients[0]!.process())).toEqual(['sync-update']);
  });

  it('CLOSE-5: within the budget nothing is closed, catch-ups included', async () => {
    const relay = makeRelay({ limits: { maxBufferedBytes: 1_000, maxTotalBufferedBytes: 50_000 } });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    a.sink.buffered = 25_000;
    b.sink.buffered = 25_000;
    expect(relay.enforceBufferBudget()).toBe(0);
    expect([a.sink.closes, b.sink.closes]).toEqual([[], []]);
    expect(relay.stats().connections).toBe(2);
  });

  it('CLOSE-2: a client that never reads is closed even if it keeps asking for catch-ups', async () => {
    const store = new MemoryRoomStore();
    await seedStore(store, 'r', manyUpdates(7, 400));
    const maxBufferedBytes = 1000;
    const relay = makeRelay({ store, limits: { maxBufferedBytes, maxSendFrameBytes: 4096 } });
    const b = new Client(relay, 'r', 2).connect();
    b.sink.accumulate = true;
    await relay.settled();
    b.hello();
    const catchUpBytes = b.sink.buffered;
    expect(b.sink.closes).toEqual([]);

    // Each SyncStep1 is a few bytes; each answer queues the whole room again for a socket that
    // reads nothing. The allowance is the last catch-up, not the sum of all of them.
    for (let i = 0; i < 20 && b.sink.closes.length === 0; i++) b.hello();
    expect(b.sink.closes).toEqual([closeOf(CloseReason.SlowConsumer)]);
    expect(b.sink.buffered).toBeLessThanOrEqual(maxBufferedBytes + 3 * catchUpBytes);
  });

  it('CLOSE-3: admit refuses too many rooms, too many connections, and everything while shutting down', async () => {
    const store = new MemoryRoomStore();
    await seedStore(store, 'stored', manyUpdates(1, 1));
    const relay = makeRelay({ store, limits: { maxRooms: 2, maxConnections: 3 } });

    expect(await relay.admit('stored')).toBeNull();
    expect(await relay.admit('new-1')).toBeNull();
    const c1 = new Client(relay, 'new-1', 1).connect();
    await relay.settled();
    expect(await relay.admit('new-1')).toBeNull(); // an existing room is always fine
    expect(await relay.admit('stored')).toBeNull();
    expect(await relay.admit('new-2')).toBe(UpgradeRefusal.TooManyRooms);

    // A new room that stores nothing and is unloaded no longer counts.
    relay.closed(c1.id);
    await relay.settled();
    expect(await relay.admit('new-2')).toBeNull();

    const conns = [1, 2, 3].map((i) => new Client(relay, 'stored', 10 + i).connect());
    expect(await relay.admit('stored')).toBe(UpgradeRefusal.TooManyConnections);
    relay.closed(conns[0]!.id);
    expect(await relay.admit('stored')).toBeNull();

    await relay.shutdown();
    expect(await relay.admit('stored')).toBe(UpgradeRefusal.ShuttingDown);
  });

  it('CLOSE-3: concurrent admissions of new rooms reserve their places: no more than maxRooms pass', async () => {
    const relay = makeRelay({ limits: { maxRooms: 2 } });
    const rooms = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const refusals = await Promise.all(rooms.map((r) => relay.admit(r)));
    expect(refusals.filter((r) => r === null)).toHaveLength(2);
    // Until they open (or are cancelled) the two admitted rooms hold their places.
    expect(await relay.admit('n6')).toBe(UpgradeRefusal.TooManyRooms);
    const admitted = rooms.filter((_, i) => refusals[i] === null);
    const a = new Client(relay, admitted[0]!, 1).connect();
    relay.cancelAdmission(admitted[1]!);
    expect(await relay.admit('n6')).toBeNull();
    relay.closed(a.id);
  });

  it('CLOSE-3: a new room stored by a commit counts toward maxRooms', async () => {
    const relay = makeRelay({ limits: { maxRooms: 2 }, idleUnloadMs: 0 });
    expect(await relay.admit('one')).toBeNull(); // reads the stored room count (0)
    const a = new Client(relay, 'one', 1).connect();
    await relay.settled();
    a.insert(0, 'x');
    await relay.flush();
    relay.closed(a.id);
    await relay.settled();
    expect(relay.stats().roomsLoaded).toBe(0);
    expect(await relay.admit('two')).toBeNull();
    const b = new Client(relay, 'two', 2).connect();
    await relay.settled();
    expect(await relay.admit('three')).toBe(UpgradeRefusal.TooManyRooms);
    relay.closed(b.id);
  });
});

describe('Relay shutdown', () => {
  it('CLOSE-4: shutdown commits everything pending, acks it, and closes every connection with 1001 going-away', async () => {
    const { store, relay, a, a2, b } = await twoRooms();
    a.insert(0, 'last words');
    b.insert(0, 'bye');

    await relay.shutdown();
    expect(store.appends).toHaveLength(1);
    expect(store.closed).toBe(true);
    for (const c of [a, a2, b]) {
      expect(c.sink.closes).toEqual([goingAway]);
      expect(c.sink.sentAfterClose).toBe(0);
    }
    expect(a.process().filter((f) => f.kind === 'ack')).toEqual([{ kind: 'ack', clocks: new Map([[1, 10]]) }]);
    expect(b.process().filter((f) => f.kind === 'ack')).toEqual([{ kind: 'ack', clocks: new Map([[3, 3]]) }]);
    expect(a2.process().filter((f) => f.kind === 'ack')).toEqual([]);
    expect(relay.stats()).toMatchObject({ roomsLoaded: 0, connections: 0 });
    expectSameDoc(await storedDoc(store.inner, 'a'), a.doc);
    expectSameDoc(await storedDoc(store.inner, 'b'), b.doc);
  });

  it('CLOSE-4 / ACK-4: a shutdown whose commit fails closes with storage-unavailable, acks nothing and rejects', async () => {
    const { store, relay, a, a2, b } = await twoRooms();
    a.insert(0, 'not stored');
    store.inner.failNextAppend(new Error('database or disk is full'));

    await expect(relay.shutdown()).rejects.toThrow('1 group commit(s) failed while shutting down');
    expect(store.closed).toBe(true);
    for (const c of [a, a2]) expect(c.sink.closes).toEqual([closeOf(CloseReason.StorageUnavailable)]);
    expect(b.sink.closes).toEqual([goingAway]); // nothing of room b was in the failed commit
    expect(a.process().filter((f) => f.kind === 'ack')).toEqual([]);
    expect((await store.inner.load('a')).log).toEqual([]);
  });

  it('CLOSE-4: an update received while the shutdown commit is in flight is not left uncommitted', async () => {
    const store = new ControlledStore();
    const relay = makeRelay({ store });
    const a = new Client(relay, 'r', 1).connect();
    const b = new Client(relay, 'r', 2).connect();
    await relay.settled();
    for (const c of [a, b]) c.process();
    a.insert(0, 'first');

    const gate = deferred();
    store.appendGate = gate.promise;
    const done = relay.shutdown();
    await ticks();
    expect(store.appends).toHaveLength(1); // the shutdown commit is in flight
    a.insert(5, ' second'); // arrives meanwhile
    gate.resolve();
    await done;

    b.process();
    a.process();
    for (const c of [a, b]) expect(c.sink.closes).toEqual([goingAway]);
    // Whatever the relay forwarded before closing is durable, and its sender was acked for it.
    const stored = await storedDoc(store.inner, 'r');
    expectSameDoc(stored, b.doc);
    expect(a.lastAck?.get(1) ?? 0).toBe(Y.getState(b.doc.store, 1));
  });
});
