/**
 * Unit tests of the pure room logic (relay/roomCore.ts), named after the docs/SPEC.md rule each
 * one checks. Clients are real Y.Docs (the relay must not use one; its tests may): their updates
 * are framed with shared/protocol.ts, fed to the core, and the frames the core sends back are
 * decoded independently (relay/testing/fakeSink.ts) and applied to client docs.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import {
  CloseReason,
  Limits,
  encodeAwareness,
  encodeQueryAwareness,
  encodeStateVector,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.js';
import { mergeAndParse } from './mergeInChunks.js';
import { manyClientsUpdate } from '../shared/testing/updateModel.js';
import { RoomCore, type ConnId, type RoomCoreLimits, type RoomEffect } from './roomCore.js';
import type { StoredRoom } from './roomStore.js';
import { decodeRelayFrame, type AwarenessFrameEntry, type RelayFrame } from './testing/fakeSink.js';
import { defaultRoomCoreLimits } from './testing/roomCoreLimits.js';
import { Prng, seedFromEnv } from '../shared/testing/prng.js';

// --- helpers ------------------------------------------------------------------------------------

const LIMITS: RoomCoreLimits = defaultRoomCoreLimits;

const DEDUPE_SEED = seedFromEnv();

const EMPTY_ROOM: StoredRoom = { segments: [], log: [] };

const makeCore = (limits: Partial<RoomCoreLimits> = {}, stored: StoredRoom = EMPTY_ROOM): RoomCore =>
  new RoomCore('room', stored, { ...LIMITS, ...limits });

/** A stored room whose log holds `updates` as seq 1, 2, … (what the store returns on load). */
const storedLog = (updates: readonly Uint8Array[]): StoredRoom => ({
  segments: [],
  log: updates.map((update, i) => ({ seq: i + 1, update })),
});

type SendEffect = Extract<RoomEffect, { type: 'send' }>;
type CloseEffect = Extract<RoomEffect, { type: 'close' }>;
type PersistEffect = Extract<RoomEffect, { type: 'persist' }>;

const sendsTo = (effects: readonly RoomEffect[], conn: ConnId): SendEffect[] =>
  effects.filter((e): e is SendEffect => e.type === 'send' && e.conn === conn);

/** The frames `effects` send to `conn`, decoded. */
const framesTo = (effects: readonly RoomEffect[], conn: ConnId): RelayFrame[] =>
  sendsTo(effects, conn).map((e) => decodeRelayFrame(e.frame));

const persists = (effects: readonly RoomEffect[]): PersistEffect[] =>
  effects.filter((e): e is PersistEffect => e.type === 'persist');

/** The effects without RATE-1's 'clients' charge. */
const uncharged = (effects: readonly RoomEffect[]): RoomEffect[] => effects.filter((e) => e.type !== 'clients');

const closes = (effects: readonly RoomEffect[]): CloseEffect[] =>
  effects.filter((e): e is CloseEffect => e.type === 'close');

const acksIn = (frames: readonly RelayFrame[]): Array<Map<number, number>> =>
  frames.flatMap((f) => (f.kind === 'ack' ? [f.clocks] : []));

const kinds = (frames: readonly RelayFrame[]): string[] => frames.map((f) => f.kind);

/** The Yjs update bodies of the sync frames (step 2 and update) among `frames`, in order. */
const syncBodies = (frames: readonly RelayFrame[]): Uint8Array[] =>
  frames.flatMap((f) => (f.kind === 'sync-step2' || f.kind === 'sync-update' ? [f.update] : []));

const REMOTE = Symbol('remote');

/** A client replica: a Y.Doc with a fixed client id that records every local update it makes. */
class Editor {
  readonly doc = new Y.Doc();
  readonly updates: Uint8Array[] = [];

  constructor(clientID: number) {
    this.doc.clientID = clientID;
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.updates.push(update);
    });
  }

  /** Runs `fn` in one transaction and returns the single update it produced. */
  edit(fn: (doc: Y.Doc) => void): Uint8Array {
    const before = this.updates.length;
    this.doc.transact(() => fn(this.doc));
    expect(this.updates.length).toBe(before + 1);
    return this.updates[before]!;
  }

  insert(index: number, text: string): Uint8Array {
    return this.edit((d) => d.getText('t').insert(index, text));
  }

  apply(...updates: Uint8Array[]): void {
    for (const u of updates) Y.applyUpdate(this.doc, u, REMOTE);
  }

  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }
}

/** A doc holding exactly `updates`. */
const docOf = (updates: readonly Uint8Array[]): Y.Doc => {
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, u);
  return doc;
};

/** Same structs, same deletions, same content, nothing left pending. */
const expectSameDoc = (actual: Y.Doc, expected: Y.Doc): void => {
  expect(actual.store.pendingStructs).toBeNull();
  expect(actual.store.pendingDs).toBeNull();
  expect(actual.getText('t').toJSON()).toBe(expected.getText('t').toJSON());
  expect(actual.getMap('m').toJSON()).toEqual(expected.getMap('m').toJSON());
  expect(Y.decodeStateVector(Y.encodeStateVector(actual))).toEqual(Y.decodeStateVector(Y.encodeStateVector(expected)));
  expect(Y.equalSnapshots(Y.snapshot(actual), Y.snapshot(expected))).toBe(true);
};

/** The state vector of a doc holding `updates`, as a Map. */
const svOf = (updates: readonly Uint8Array[]): Map<number, number> =>
  Y.decodeStateVector(Y.encodeStateVector(docOf(updates)));

interface AwarenessInput {
  readonly clientID: number;
  readonly clock: number;
  readonly state: unknown;
}

/** An awareness update (y-protocols encoding), written with lib0 directly. */
const awarenessUpdate = (entries: readonly AwarenessInput[]): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const x of entries) {
    encoding.writeVarUint(e, x.clientID);
    encoding.writeVarUint(e, x.clock);
    encoding.writeVarString(e, JSON.stringify(x.state));
  }
  return encoding.toUint8Array(e);
};

const awarenessFrame = (...entries: AwarenessInput[]): Uint8Array => encodeAwareness(awarenessUpdate(entries));

/** Awareness entries the effects send to `conn`, across all awareness frames. */
const awarenessTo = (effects: readonly RoomEffect[], conn: ConnId): AwarenessFrameEntry[] =>
  framesTo(effects, conn).flatMap((f) => (f.kind === 'awareness' ? f.entries : []));

/** Joins `conns` and returns the core (join effects dropped). */
const joined = (core: RoomCore, ...conns: ConnId[]): RoomCore => {
  for (const c of conns) core.join(c);
  return core;
};

// --- SYNC ---------------------------------------------------------------------------------------

describe('RoomCore sync', () => {
  it('SYNC-1: a joining connection first receives the relay SyncStep1', () => {
    const a = new Editor(1);
    const updates = [a.insert(0, 'hello'), a.insert(5, ' world')];
    const b = new Editor(2);
    updates.push(b.insert(0, 'x'));

    const empty = makeCore().join(7);
    expect(empty).toHaveLength(1);
    expect(framesTo(empty, 7)).toEqual([expect.objectContaining({ kind: 'sync-step1', stateVector: new Map() })]);

    const effects = makeCore({}, storedLog(updates)).join(7);
    expect(effects.every((e) => e.type === 'send' && e.conn === 7)).toBe(true);
    const frames = framesTo(effects, 7);
    expect(kinds(frames)).toEqual(['sync-step1']);
    expect(frames[0]).toMatchObject({ kind: 'sync-step1', stateVector: svOf(updates) });
  });

  it('SYNC-1: after its SyncStep1 a joining connection receives the live awareness states, not removed ones', () => {
    const core = joined(makeCore(), 1);
    core.receive(1, awarenessFrame({ clientID: 77, clock: 3, state: { name: 'ann' } }));
    core.receive(1, awarenessFrame({ clientID: 78, clock: 1, state: { name: 'bob' } }));
    core.receive(1, awarenessFrame({ clientID: 78, clock: 2, state: null }));

    const frames = framesTo(core.join(2), 2);
    expect(kinds(frames)).toEqual(['sync-step1', 'awareness']);
    expect(frames[1]).toEqual({ kind: 'awareness', entries: [{ clientID: 77, clock: 3, state: { name: 'ann' } }] });
  });

  it('SYNC-2: a client holding part of the state receives exactly what it lacks and ends identical', () => {
    const a = new Editor(1);
    const a1 = a.insert(0, 'hello');
    const a2 = a.insert(5, ' world');
    const a3 = a.edit((d) => d.getMap('m').set('k', 'v'));
    const a4 = a.edit((d) => d.getText('t').delete(0, 2)); // deletion only
    const c = new Editor(3);
    const c1 = c.insert(0, 'abc');
    const c2 = c.insert(3, 'def');
    const c3 = c.insert(6, 'ghi');
    // Stored chunks: a1, a2 (client has them), a3 (client lacks it), c1+c2+c3 merged (client has
    // only c1: partly covered), a4 (a deletion the client lacks, in a chunk it fully covers).
    const stored = storedLog([a1, a2, a3, Y.mergeUpdates([c1, c2, c3]), a4]);
    const all = [a1, a2, a3, c1, c2, c3, a4];

    const x = new Editor(9);
    x.apply(a1, a2, c1);
    const sv = Y.decodeStateVector(x.stateVector());
    const core = joined(makeCore({}, stored), 1);
    const frames = framesTo(core.receive(1, encodeSyncStep1(x.stateVector())), 1);

    expect(kinds(frames).filter((k) => k !== 'ack')).toEqual(['sync-step2']);
    for (const update of syncBodies(frames)) {
      // Nothing the client already holds is sent again.
      for (const s of Y.decodeUpdate(update).structs) {
        if (s instanceof Y.Skip) continue;
        expect(s.id.clock).toBeGreaterThanOrEqual(sv.get(s.id.client) ?? 0);
      }
      x.apply(update);
    }
    expectSameDoc(x.doc, docOf(all));
  });

  it('SYNC-2: deletions reach a client that already holds every struct', () => {
    const a = new Editor(1);
    const insert = a.insert(0, 'hello world');
    const del = a.edit((d) => d.getText('t').delete(5, 6));
    const b = new Editor(2);
    b.apply(insert); // b has every struct but not the deletion

    const core = joined(makeCore({}, storedLog([insert, del])), 1);
    const frames = framesTo(core.receive(1, encodeSyncStep1(b.stateVector())), 1);
    expect(kinds(frames).filter((k) => k !== 'ack')).toEqual(['sync-step2']);
    const [answer] = syncBodies(frames);
    expect(Y.decodeUpdate(answer!).structs).toEqual([]); // only the deletion goes
    b.apply(answer!);
    expect(b.doc.getText('t').toJSON()).toBe('hello');
    expectSameDoc(b.doc, a.doc);
  });

  it('SYNC-2: a client holding everything receives an empty SyncStep2', () => {
    const a = new Editor(1);
    const updates = [a.insert(0, 'hi'), a.insert(2, '!')];
    const core = joined(makeCore({}, storedLog(updates)), 1);
    const frames = framesTo(core.receive(1, encodeSyncStep1(a.stateVector())), 1);
    expect(kinds(frames).filter((k) => k !== 'ack')).toEqual(['sync-step2']);
    const decoded = Y.decodeUpdate(syncBodies(frames)[0]!);
    expect(decoded.structs).toEqual([]);
    expect(decoded.ds.clients.size).toBe(0);
  });

  it('SYNC-3: the relay SyncStep1 does not claim past a gap, and does once the gap is filled', () => {
    const a = new Editor(1);
    const a1 = a.insert(0, 'hello');
    const a2 = a.insert(5, ' world'); // clocks 5..11; a1 (0..5) is its missing predecessor
    const b = new Editor(2);
    const b1 = b.insert(0, 'x');

    const core = joined(makeCore(), 1);
    core.receive(1, encodeSyncUpdate(a2));
    core.receive(1, encodeSyncUpdate(b1));
    expect(framesTo(core.join(2), 2)[0]).toMatchObject({ kind: 'sync-step1', stateVector: new Map([[2, 1]]) });
    expect(core.stateVector()).toEqual(new Map([[2, 1]]));

    core.receive(1, encodeSyncUpdate(a1));
    expect(framesTo(core.join(3), 3)[0]).toMatchObject({
      kind: 'sync-step1',
      stateVector: new Map([
        [1, 11],
        [2, 1],
      ]),
    });
  });

  it('SYNC-3: a room loaded with a gap does not claim past it', () => {
    const a = new Editor(1);
    a.insert(0, 'hello');
    const a2 = a.insert(5, ' world');
    const frames = framesTo(makeCore({}, storedLog([a2])).join(1), 1);
    expect(frames[0]).toMatchObject({ kind: 'sync-step1', stateVector: new Map() });
  });

  it('SYNC-4: a large catch-up comes as several Update frames within the limit, then one final SyncStep2', () => {
    const maxSendFrameBytes = 4096;
    const a = new Editor(1);
    const updates: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) updates.push(a.insert(0, `line ${i} of many, prepended so each is a struct;`));
    const b = new Editor(2);
    // One update of ~30 KB made of hundreds of structs: it must be cut at struct boundaries.
    const big = b.edit((d) => {
      const m = d.getMap('m');
      for (let i = 0; i < 400; i++) m.set(`key-${i}`, `value ${i} `.padEnd(60, '.'));
    });
    expect(big.length).toBeGreaterThan(4 * maxSendFrameBytes);
    updates.push(
      big,
      a.edit((d) => d.getText('t').delete(10, 500)),
    );

    const core = joined(makeCore({ maxSendFrameBytes }, storedLog(updates)), 1);
    const effects = core.receive(1, encodeSyncStep1(encodeStateVector(new Map())));
    const sends = sendsTo(effects, 1);
    const frames = sends.map((s) => decodeRelayFrame(s.frame));

    expect(frames.length).toBeGreaterThan(2);
    for (const s of sends) expect(s.frame.length).toBeLessThanOrEqual(maxSendFrameBytes);
    const dataKinds = kinds(frames).filter((k) => k !== 'ack');
    expect(dataKinds.slice(0, -1).every((k) => k === 'sync-update')).toBe(true);
    expect(dataKinds[dataKinds.length - 1]).toBe('sync-step2');
    expect(dataKinds.filter((k) => k === 'sync-step2')).toHaveLength(1);
    for (const [i, s] of sends.filter((x) => decodeRelayFrame(x.frame).kind !== 'ack').entries()) {
      expect(s.catchUp).toBe(i === 0 ? 'start' : 'more');
    }

    const x = new Editor(9);
    x.apply(...syncBodies(frames));
    expectSameDoc(x.doc, docOf(updates));
  });

  it('SYNC-4: an update broadcast to the room is cut into frames within the limit', () => {
    const maxSendFrameBytes = 4096;
    const b = new Editor(2);
    const big = b.edit((d) => {
      const m = d.getMap('m');
      for (let i = 0; i < 400; i++) m.set(`key-${i}`, `value ${i} `.padEnd(60, '.'));
    });
    for (const frame of [encodeSyncUpdate(big), encodeSyncStep2(big)]) {
      const core = joined(makeCore({ maxSendFrameBytes }), 1, 2);
      const effects = core.receive(1, frame);
      expect(persists(effects)).toHaveLength(1);
      const toOther = sendsTo(effects, 2);
      expect(toOther.length).toBeGreaterThan(0);
      for (const s of toOther) expect(s.frame.length).toBeLessThanOrEqual(maxSendFrameBytes);
      const x = new Editor(9);
      x.apply(...syncBodies(toOther.map((s) => decodeRelayFrame(s.frame))));
      expectSameDoc(x.doc, docOf([big]));
    }
  });

  it('VAL-10 / SYNC-4, REFUSE-4: a struct too large for any frame the relay sends is refused (struct-too-large); one that fits is forwarded within the limit', () => {
    const maxSendFrameBytes = 4096;
    const b = new Editor(2);
    const tooBig = b.edit((d) => d.getText('t').insert(0, 'x'.repeat(maxSendFrameBytes)));
    const core = joined(makeCore({ maxSendFrameBytes }), 1, 2);
    const refused = core.receive(1, encodeSyncUpdate(tooBig));
    expect(persists(refused)).toEqual([]);
    expect(sendsTo(refused, 2)).toEqual([]);
    expect(closes(refused)).toEqual([
      { type: 'close', conn: 1, reason: CloseReason.StructTooLarge, detail: expect.stringMatching(/VAL-10/) as string },
    ]);

    const c = new Editor(3);
    const fits = c.edit((d) => d.getText('t').insert(0, 'y'.repeat(maxSendFrameBytes - 100)));
    const effects = core.receive(2, encodeSyncUpdate(fits));
    expect(persists(effects)).toHaveLength(1);
    for (const s of sendsTo(effects, 2)) expect(s.frame.length).toBeLessThanOrEqual(maxSendFrameBytes);
    expect(sendsTo(effects, 2).length).toBeGreaterThan(0);
  });

  it('VAL-11, REFUSE-4: an update of more Yjs clients than maxClientsPerUpdate is refused (too-many-clients) and stores nothing; one at the limit is taken', () => {
    const clients = (n: number, from: number): Uint8Array => manyClientsUpdate(n, 0, from);
    const core = joined(makeCore({ maxClientsPerUpdate: 10 }), 1, 2);
    const refused = core.receive(1, encodeSyncUpdate(clients(11, 100)));
    expect(persists(refused)).toEqual([]);
    expect(sendsTo(refused, 2)).toEqual([]);
    expect(closes(refused)).toEqual([
      { type: 'close', conn: 1, reason: CloseReason.TooManyClients, detail: expect.stringMatching(/VAL-11/) as string },
    ]);
    const taken = core.receive(2, encodeSyncUpdate(clients(10, 200)));
    expect(closes(taken)).toEqual([]);
    expect(persists(taken)).toHaveLength(1);
  });

  it('SYNC-4: awareness frames the relay sends (join, query answer, broadcast) stay within the limit', () => {
    const maxSendFrameBytes = 4096;
    const state = (i: number): unknown => ({ name: `user ${i}`, note: 'n'.repeat(1500) });
    const core = joined(makeCore({ maxSendFrameBytes }), 1, 2, 3);
    for (const c of [1, 2, 3]) core.receive(c, awarenessFrame({ clientID: 100 + c, clock: 1, state: state(c) }));

    const expectWithin = (effects: RoomEffect[], conn: ConnId, ids: number[]): void => {
      for (const s of sendsTo(effects, conn)) expect(s.frame.length).toBeLessThanOrEqual(maxSendFrameBytes);
      expect(
        awarenessTo(effects, conn)
          .map((e) => e.clientID)
          .sort(),
      ).toEqual(ids);
    };
    expectWithin(core.join(4), 4, [101, 102, 103]);
    expectWithin(core.receive(4, encodeQueryAwareness()), 4, [101, 102, 103]);
    // One valid incoming frame announcing three states (each within AWR-1) is re-broadcast.
    const incoming = awarenessFrame(
      { clientID: 201, clock: 1, state: state(201) },
      { clientID: 202, clock: 1, state: state(202) },
      { clientID: 203, clock: 1, state: state(203) },
    );
    expectWithin(core.receive(4, incoming), 1, [201, 202, 203]);
  });

  it('SYNC-2: a room loaded from stored segments and log answers with all of it', () => {
    const a = new Editor(1);
    const updates = [a.insert(0, 'one '), a.insert(4, 'two '), a.insert(8, 'three '), a.insert(0, '>')];
    const stored: StoredRoom = {
      segments: [{ seqLo: 1, seqHi: 3, update: Y.mergeUpdates(updates.slice(0, 3)) }],
      log: [{ seq: 4, update: updates[3]! }],
    };
    const core = joined(makeCore({}, stored), 1);
    const frames = framesTo(core.receive(1, encodeSyncStep1(encodeStateVector(new Map()))), 1);
    const x = new Editor(9);
    x.apply(...syncBodies(frames));
    expectSameDoc(x.doc, a.doc);
    // The next update gets the next sequence number.
    const effects = core.receive(1, encodeSyncUpdate(a.insert(0, '#')));
    expect(persists(effects).map((p) => p.seq)).toEqual([5]);
  });
});

// --- FWD / DEDUPE ---------------------------------------------------------------------------------

describe('RoomCore forwarding', () => {
  it('FWD-1: a new update is broadcast to every connection, the sender included, and persisted once', () => {
    const core = joined(makeCore(), 1, 2, 3);
    const a = new Editor(1);
    const u = a.insert(0, 'hello');
    const effects = core.receive(1, encodeSyncUpdate(u));

    expect(persists(effects)).toEqual([{ type: 'persist', seq: 1, update: u }]);
    for (const conn of [1, 2, 3]) expect(framesTo(effects, conn)).toEqual([{ kind: 'sync-update', update: u }]);
    expect(effects.filter((e) => e.type === 'send')).toHaveLength(3);
    expect(closes(effects)).toEqual([]);
    expect(core.hasPending).toBe(true);

    const next = core.receive(2, encodeSyncUpdate(a.insert(5, '!')));
    expect(persists(next).map((p) => p.seq)).toEqual([2]);
  });

  it('FWD-1: an update sent as a SyncStep2 is forwarded to the room as an Update', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const u = a.insert(0, 'offline work');
    const effects = core.receive(1, encodeSyncStep2(u));
    expect(persists(effects)).toHaveLength(1);
    expect(framesTo(effects, 2)).toEqual([{ kind: 'sync-update', update: u }]);
    expect(framesTo(effects, 1)).toEqual([{ kind: 'sync-update', update: u }]);
  });

  it('FWD-1: an update holding something new besides known structs is stored and broadcast', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const u1 = a.insert(0, 'hello');
    const u2 = a.insert(5, ' world');
    core.receive(1, encodeSyncUpdate(u1));
    const effects = core.receive(2, encodeSyncUpdate(Y.mergeUpdates([u1, u2])));
    expect(persists(effects)).toHaveLength(1);
    expect(framesTo(effects, 1)).toHaveLength(1);
    expect(framesTo(effects, 2)).toHaveLength(1);
  });

  it('FWD-1: an empty update is neither stored nor broadcast', () => {
    const core = joined(makeCore(), 1, 2);
    expect(core.receive(1, encodeSyncUpdate(Uint8Array.of(0, 0)))).toEqual([]);
    expect(core.receive(1, encodeSyncStep2(Uint8Array.of(0, 0)))).toEqual([]);
  });

  it('DEDUPE-1: re-sending a durable update stores and broadcasts nothing, and acks at once', () => {
    const core = joined(makeCore(), 1, 2, 3);
    const a = new Editor(1);
    const u = a.insert(0, 'hello');
    core.receive(1, encodeSyncUpdate(u));
    core.committed(1);

    const effects = core.receive(2, encodeSyncUpdate(u));
    expect(persists(effects)).toEqual([]);
    expect(framesTo(effects, 1)).toEqual([]);
    expect(framesTo(effects, 3)).toEqual([]);
    expect(framesTo(effects, 2)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    expect(core.hasPending).toBe(false);
  });

  it('DEDUPE-1: re-sending a pending update stores and broadcasts nothing, and is acked after the commit', () => {
    const core = joined(makeCore(), 1, 2, 3);
    const a = new Editor(1);
    const u = a.insert(0, 'hello');
    core.receive(1, encodeSyncUpdate(u));

    // Nothing but RATE-1's charge (the parse was the cost).
    expect(core.receive(2, encodeSyncUpdate(u))).toEqual([{ type: 'clients', conn: 2, count: 1 }]);
    expect(uncharged(core.receive(2, encodeSyncStep2(u)))).toEqual([]);
    const effects = core.committed(1);
    expect(framesTo(effects, 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    expect(framesTo(effects, 2)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    expect(framesTo(effects, 3)).toEqual([]);
  });

  it('DEDUPE-1: a re-sent deletion is neither stored nor broadcast again', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const ins = a.insert(0, 'hello world');
    const del = a.edit((d) => d.getText('t').delete(0, 6));
    core.receive(1, encodeSyncUpdate(ins));
    expect(persists(core.receive(1, encodeSyncUpdate(del)))).toHaveLength(1);
    core.committed(2);

    for (const again of [del, Y.mergeUpdates([ins, del])]) {
      const effects = core.receive(2, encodeSyncUpdate(again));
      expect(persists(effects)).toEqual([]);
      expect(framesTo(effects, 1)).toEqual([]);
      expect(framesTo(effects, 2).filter((f) => f.kind !== 'ack')).toEqual([]);
    }
  });
});

// --- DEDUPE-2 past a gap ------------------------------------------------------------------------

/** A replica fed by the relay: every sync frame sent to its connection is applied to its doc. */
class Replica {
  readonly doc = new Y.Doc();
  constructor(readonly conn: ConnId) {}
  take(effects: readonly RoomEffect[]): void {
    for (const u of syncBodies(framesTo(effects, this.conn))) Y.applyUpdate(this.doc, u);
  }
  /** Joins `core` and catches up from nothing (SYNC-2). */
  static caughtUp(core: RoomCore, conn: ConnId): Replica {
    const r = new Replica(conn);
    core.join(conn);
    r.take(core.receive(conn, encodeSyncStep1(encodeStateVector(new Map()))));
    return r;
  }
}

/** What a doc shows: its text, array and map, and whether something is left pending. */
const shown = (doc: Y.Doc): unknown => ({
  t: doc.getText('t').toJSON(),
  a: doc.getArray('a').toJSON(),
  m: doc.getMap('m').toJSON(),
  pending: doc.store.pendingStructs !== null || doc.store.pendingDs !== null,
});

/** The struct clock ranges [from, to) of `client` an update carries (adjacent structs joined). */
const clocksOf = (update: Uint8Array, client: number): Array<[number, number]> => {
  const out: Array<[number, number]> = [];
  for (const s of Y.decodeUpdate(update).structs) {
    if (s.id.client !== client || s instanceof Y.Skip) continue;
    const last = out[out.length - 1];
    if (last && last[1] === s.id.clock) last[1] += s.length;
    else out.push([s.id.clock, s.id.clock + s.length]);
  }
  return out;
};

describe('RoomCore DEDUPE-2: clocks held past a gap', () => {
  /** Client 4242 writes `head`, then `tail`: [0, 5) then [5, 10), as one struct in `full`. */
  const history = (tail: string): { head: Uint8Array; tail: Uint8Array; full: Uint8Array } => {
    const d = new Y.Doc();
    d.clientID = 4242;
    d.getText('t').insert(0, 'hello');
    const sv = Y.encodeStateVector(d);
    const head = Y.encodeStateAsUpdate(d);
    d.getText('t').insert(5, tail);
    return { head, tail: Y.encodeStateAsUpdate(d, sv), full: Y.encodeStateAsUpdate(d) };
  };

  it('DEDUPE-2: a copy of clocks held past a gap is trimmed: every replica keeps the first content', () => {
    const real = history('REAL!');
    const fake = history('FAKE!');
    const core = makeCore();
    const live = new Replica(3);
    for (const conn of [1, 2, 3]) core.join(conn);
    const persisted: Uint8Array[] = [];
    // The real [5, 10) arrives first: held past a gap [0, 5).
    const first = core.receive(1, encodeSyncUpdate(real.tail));
    persisted.push(...persists(first).map((p) => p.update));
    live.take(first);
    // A copy of [0, 10) with other content at [5, 10): only [0, 5) is new.
    const second = core.receive(2, encodeSyncUpdate(fake.full));
    expect(closes(second)).toEqual([]);
    const stored = persists(second).map((p) => p.update);
    expect(stored).toHaveLength(1);
    expect(clocksOf(stored[0]!, 4242)).toEqual([[0, 5]]);
    for (const conn of [1, 2, 3]) {
      const sent = syncBodies(framesTo(second, conn));
      expect(sent).toHaveLength(1);
      expect(clocksOf(sent[0]!, 4242)).toEqual([[0, 5]]);
    }
    persisted.push(...stored);
    live.take(second);
    core.committed(2);

    // The author (who holds the real history), a live replica, a late one, and one caught up
    // from the store after a restart all show the first content stored.
    const author = new Y.Doc();
    Y.applyUpdate(author, real.full);
    for (const u of [...syncBodies(framesTo(first, 1)), ...syncBodies(framesTo(second, 1))]) Y.applyUpdate(author, u);
    const late = Replica.caughtUp(core, 4);
    const restarted = Replica.caughtUp(makeCore({}, storedLog(persisted)), 5);
    for (const doc of [author, live.doc, late.doc, restarted.doc]) {
      expect(shown(doc)).toEqual({ t: 'helloREAL!', a: [], m: {}, pending: false });
    }
    // The forged copy again, whole or its tail alone: nothing new, nothing stored or sent.
    for (const again of [fake.full, fake.tail]) {
      const effects = core.receive(2, encodeSyncUpdate(again));
      expect(persists(effects)).toEqual([]);
      expect(framesTo(effects, 1)).toEqual([]);
      expect(framesTo(effects, 3)).toEqual([]);
    }
  });

  /** Client 4242 types `letters` one at a time: the update of each letter, and the whole as one struct. */
  const typed = (letters: string): { each: Uint8Array[]; full: Uint8Array } => {
    const e = new Editor(4242);
    const each = [...letters].map((c, i) => e.insert(i, c));
    return { each, full: Y.encodeStateAsUpdate(e.doc) };
  };

  /**
   * The room first takes the real clocks of each range in `held`, then `fake.full` (all of them,
   * one struct, other letters). Returns what a live, a late and a restarted replica show, and the
   * clock ranges of client 4242 each stored update holds.
   */
  const heldThenCopy = (
    held: ReadonlyArray<readonly [number, number]>,
  ): { shown: unknown[]; stored: Array<Array<[number, number]>> } => {
    const real = typed('abcdefghijkl');
    const fake = typed('ABCDEFGHIJKL');
    const core = makeCore();
    const live = new Replica(9);
    core.join(9);
    core.join(1);
    const persisted: Uint8Array[] = [];
    for (const [from, to] of held) {
      const effects = core.receive(1, encodeSyncUpdate(Y.mergeUpdates(real.each.slice(from, to))));
      persisted.push(...persists(effects).map((p) => p.update));
      live.take(effects);
    }
    const effects = core.receive(1, encodeSyncStep2(fake.full));
    expect(closes(effects)).toEqual([]);
    persisted.push(...persists(effects).map((p) => p.update));
    live.take(effects);
    const late = Replica.caughtUp(core, 10);
    const restarted = Replica.caughtUp(makeCore({}, storedLog(persisted)), 11);
    return {
      shown: [live, late, restarted].map((r) => shown(r.doc)),
      stored: persisted.map((u) => clocksOf(u, 4242)),
    };
  };

  it('DEDUPE-2: a copy of clocks held past gaps is cut around each held range, inside its structs', () => {
    const { shown: all, stored } = heldThenCopy([
      [7, 9],
      [2, 4],
    ]);
    for (const s of all) expect(s).toEqual({ t: 'ABcdEFGhiJKL', a: [], m: {}, pending: false });
    expect(stored).toEqual([
      [[7, 9]],
      [[2, 4]],
      [
        [0, 2],
        [4, 7],
        [9, 12],
      ],
    ]);
  });

  it('DEDUPE-2: with no gap, the copy is cut below the held prefix (as before)', () => {
    const { shown: all, stored } = heldThenCopy([[0, 5]]);
    for (const s of all) expect(s).toEqual({ t: 'abcdeFGHIJKL', a: [], m: {}, pending: false });
    expect(stored).toEqual([[[0, 5]], [[5, 12]]]);
  });

  it('DEDUPE-2: a held range ending inside the copy, and one reaching past it, keep their first content', () => {
    const { shown: all, stored } = heldThenCopy([[3, 12]]);
    for (const s of all) expect(s).toEqual({ t: 'ABCdefghijkl', a: [], m: {}, pending: false });
    expect(stored).toEqual([[[3, 12]], [[0, 3]]]);
  });

  it(`DEDUPE-2: copies of any content, held in pieces in any order, leave every replica with the first content (seed ${DEDUPE_SEED})`, () => {
    const prng = new Prng(DEDUPE_SEED);
    for (let round = 0; round < 40; round++) {
      const ctx = `seed ${DEDUPE_SEED}, round ${round}`;
      // Two histories of client 4242 with the same operations (so the same Yjs ids) and other
      // values; `mixed` takes each operation's values from the history the room gets it from.
      const real = new Editor(4242);
      const fake = new Editor(4242);
      const mixed = new Editor(4242);
      const realOps: Uint8Array[] = [];
      const fromReal: boolean[] = [];
      for (let op = 0; op < 12; op++) {
        const kind = prng.int(0, 3);
        const length = real.doc.getText('t').length;
        const at = prng.int(0, length);
        const n = prng.int(1, 4);
        const takeReal = prng.bool(0.5);
        const edit = (e: Editor, isReal: boolean): Uint8Array =>
          e.edit((d) => {
            if (kind === 0) d.getText('t').insert(at, (isReal ? 'r' : 'F').repeat(n) + String(op));
            else if (kind === 1)
              d.getArray('a').insert(
                0,
                Array.from({ length: n }, (_, i) => (isReal ? i : -i - 1)),
              );
            else if (kind === 2) d.getMap('m').set(`k${n}`, isReal ? { real: op } : ['fake', op]);
            else if (length > 0)
              d.getText('t').delete(Math.min(at, length - 1), Math.min(n, length - Math.min(at, length - 1)));
            else d.getText('t').insert(0, isReal ? 'x' : 'X');
          });
        realOps.push(edit(real, true));
        edit(fake, false);
        edit(mixed, takeReal);
        fromReal.push(takeReal);
      }
      const core = makeCore();
      const live = new Replica(9);
      core.join(9);
      core.join(1);
      core.join(2);
      const persisted: Uint8Array[] = [];
      const take = (conn: ConnId, update: Uint8Array): void => {
        const effects = core.receive(conn, encodeSyncUpdate(update));
        expect(closes(effects), ctx).toEqual([]);
        persisted.push(...persists(effects).map((p) => p.update));
        live.take(effects);
      };
      // The room gets the chosen real operations in any order (gaps), then the fake history whole.
      for (const i of prng.shuffle(realOps.map((_, i) => i).filter((i) => fromReal[i]))) take(1, realOps[i]!);
      take(2, Y.encodeStateAsUpdate(fake.doc));
      take(1, Y.encodeStateAsUpdate(real.doc));
      // No clock of client 4242 is stored twice.
      const clocks = persisted.flatMap((u) => clocksOf(u, 4242)).sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < clocks.length; i++) expect(clocks[i]![0], ctx).toBeGreaterThanOrEqual(clocks[i - 1]![1]);
      const late = Replica.caughtUp(core, 10);
      const restarted = Replica.caughtUp(makeCore({}, storedLog(persisted)), 11);
      for (const r of [live, late, restarted]) {
        expect(shown(r.doc), `${ctx}, replica ${r.conn}`).toEqual({ ...(shown(mixed.doc) as object), pending: false });
        expect(Y.equalSnapshots(Y.snapshot(r.doc), Y.snapshot(mixed.doc)), `${ctx}, replica ${r.conn}`).toBe(true);
      }
    }
  });
});

// --- DEDUPE-3 -----------------------------------------------------------------------------------

describe('RoomCore DEDUPE-3: a bounded number of held ranges past a gap per update', () => {
  const LIMIT = Limits.maxHeldRangesPerUpdate;

  /** Client `id` types `n` letters one at a time: the update of each (the letter at clock i), and the whole. */
  const typedBy = (id: number, n: number): { each: Uint8Array[]; full: Uint8Array } => {
    const e = new Editor(id);
    const each = Array.from({ length: n }, (_, i) => e.insert(i, String.fromCharCode(97 + (i % 26))));
    return { each, full: Y.encodeStateAsUpdate(e.doc) };
  };

  /** Updates of the letters at odd clocks in [from, to), 64 to an update: one range past a gap per letter. */
  const oddLetters = (each: readonly Uint8Array[], from: number, to: number): Uint8Array[] => {
    const odd = each.slice(from, to).filter((_, i) => (from + i) % 2 === 1);
    return Array.from({ length: Math.ceil(odd.length / 64) }, (_, k) => Y.mergeUpdates(odd.slice(k * 64, k * 64 + 64)));
  };

  const refusal = (effects: readonly RoomEffect[], conn: ConnId): void =>
    expect(closes(effects)).toEqual([
      { type: 'close', conn, reason: CloseReason.TooManyGaps, detail: expect.stringMatching(/DEDUPE-3/) as string },
    ]);

  it('DEDUPE-3: more ranges past a gap than the limit, planted in separate updates, are taken; one update reaching limit + 1 of them is refused (too-many-gaps), nothing of it stored or sent, another connection goes on (runs held whole do not count); one reaching the limit is taken and every replica converges', () => {
    const core = makeCore();
    const live = new Replica(3);
    for (const conn of [1, 2, 3]) core.join(conn);
    const persisted: Uint8Array[] = [];
    const take = (conn: ConnId, update: Uint8Array): void => {
      const effects = core.receive(conn, encodeSyncUpdate(update));
      expect(closes(effects)).toEqual([]);
      expect(persists(effects)).toHaveLength(1);
      persisted.push(...persists(effects).map((p) => p.update));
      live.take(effects);
    };
    const h = typedBy(4242, 2 * LIMIT + 4);
    // Clock 0 (the contiguous prefix [0, 1)), then clocks 3, 5, …, 2 × LIMIT + 3: LIMIT + 1 ranges
    // past a gap, in updates that each reach none.
    take(1, h.each[0]!);
    for (const u of oddLetters(h.each, 2, 2 * LIMIT + 4)) take(1, u);

    // The whole history reaches all LIMIT + 1 of them.
    const refused = core.receive(1, encodeSyncUpdate(h.full));
    refusal(refused, 1);
    expect(persists(refused)).toEqual([]);
    expect(sendsTo(refused, 2)).toEqual([]);
    expect(sendsTo(refused, 3)).toEqual([]);
    expect(core.receive(1, encodeSyncUpdate(h.full))).toEqual([]); // gone

    const hi = new Editor(77).insert(0, 'hi');
    // The planted structs re-sent with something new, as an honest client re-sends pending
    // structs: each run is held whole, dropped without a cut, so none counts.
    take(2, Y.mergeUpdates([...h.each.filter((_, i) => i % 2 === 1 && i > 2), hi]));
    // Clocks 0 … 2 × LIMIT + 1 reach the prefix and LIMIT ranges past a gap: the prefix does not
    // count, so it is taken, cut around them (DEDUPE-2); then the rest.
    take(2, Y.mergeUpdates(h.each.slice(0, 2 * LIMIT + 2)));
    take(2, Y.mergeUpdates(h.each.slice(2 * LIMIT + 2)));
    const late = Replica.caughtUp(core, 4);
    const restarted = Replica.caughtUp(makeCore({}, storedLog(persisted)), 5);
    const expected = { ...(shown(docOf([h.full, hi])) as object), pending: false };
    for (const r of [live, late, restarted]) expect(shown(r.doc), `replica ${r.conn}`).toEqual(expected);
  });

  it('DEDUPE-3: the count is over every client an update names', () => {
    const core = joined(makeCore(), 1, 2);
    // Two clients with LIMIT / 2 + 1 ranges past a gap each: either alone is within the limit.
    const a = typedBy(11, LIMIT + 2);
    const b = typedBy(12, LIMIT + 2);
    for (const h of [a, b])
      for (const u of oddLetters(h.each, 0, LIMIT + 2))
        expect(closes(core.receive(1, encodeSyncUpdate(u)))).toEqual([]);
    const refused = core.receive(1, encodeSyncUpdate(Y.mergeUpdates([a.full, b.full])));
    refusal(refused, 1);
    expect(persists(refused)).toEqual([]);
    expect(sendsTo(refused, 2)).toEqual([]);
    for (const h of [a, b]) {
      const taken = core.receive(2, encodeSyncUpdate(h.full));
      expect(closes(taken)).toEqual([]);
      expect(persists(taken)).toHaveLength(1);
    }
  });
});

// --- ACK ------------------------------------------------------------------------------------------

describe('RoomCore acks', () => {
  it('ACK-1: no ack before committed(); after it only the contributor gets one ack with the durable clock', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const effects = core.receive(1, encodeSyncUpdate(a.insert(0, 'hello')));
    expect(acksIn(framesTo(effects, 1))).toEqual([]);
    expect(acksIn(framesTo(effects, 2))).toEqual([]);

    const done = core.committed(1);
    expect(framesTo(done, 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    expect(framesTo(done, 2)).toEqual([]);
    expect(core.hasPending).toBe(false);
    expect(core.durableClock(1)).toBe(5);
    expect(core.committed(1)).toEqual([]);
  });

  it('ACK-1: a connection that sent several updates of one commit gets one ack listing every client', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const b = new Editor(2);
    core.receive(1, encodeSyncUpdate(a.insert(0, 'abc')));
    core.receive(1, encodeSyncUpdate(b.insert(0, 'xy')));
    core.receive(2, encodeSyncUpdate(a.insert(3, 'd')));
    const done = core.committed(3);
    expect(framesTo(done, 1)).toEqual([
      {
        kind: 'ack',
        clocks: new Map([
          [1, 4],
          [2, 2],
        ]),
      },
    ]);
    expect(framesTo(done, 2)).toEqual([{ kind: 'ack', clocks: new Map([[1, 4]]) }]);
  });

  it('ACK-1: committed(seq) acks only the entries up to seq', () => {
    const core = joined(makeCore(), 1);
    const a = new Editor(1);
    core.receive(1, encodeSyncUpdate(a.insert(0, 'abc')));
    core.receive(1, encodeSyncUpdate(a.insert(3, 'de')));
    expect(framesTo(core.committed(1), 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 3]]) }]);
    expect(core.hasPending).toBe(true);
    expect(framesTo(core.committed(2), 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
  });

  it('ACK-1: a connection that left before the commit is not acked', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    core.receive(1, encodeSyncUpdate(a.insert(0, 'abc')));
    core.leave(1);
    expect(core.committed(1)).toEqual([]);
  });

  it('ACK-2: after answering a SyncStep1 the relay acks the durable clocks of the clients in the client SV and of those its answer carries', () => {
    const a = new Editor(1);
    const b = new Editor(2);
    const c = new Editor(3);
    const core = joined(makeCore({}, storedLog([a.insert(0, 'hello'), c.insert(0, 'c')])), 1, 2);
    core.receive(1, encodeSyncUpdate(b.insert(0, 'pending'))); // not durable yet

    const sv = encodeStateVector(
      new Map([
        [1, 5], // durable to 5
        [2, 7], // only pending
        [9, 4], // unknown to the relay
      ]),
    );
    const frames = framesTo(core.receive(2, encodeSyncStep1(sv)), 2);
    // Before the answer: a client that leaves at the SyncStep2 has it (CATCH-8).
    expect(kinds(frames)).toEqual(['ack', 'sync-step2']);
    // Client 3 is not in the SV but the answer carries it; client 2's structs are not durable yet.
    expect(frames[0]).toEqual({
      kind: 'ack',
      clocks: new Map([
        [1, 5],
        [3, 1],
      ]),
    });

    core.committed(3); // seq 1 and 2 were loaded from the store
    const again = framesTo(core.receive(2, encodeSyncStep1(sv)), 2);
    expect(acksIn(again)).toEqual([
      new Map([
        [1, 5],
        [2, 7],
        [3, 1],
      ]),
    ]);
  });

  it('ACK-2: a new device (an empty SV) learns that what it downloads is durable, not what is still pending', () => {
    const a = new Editor(1);
    const b = new Editor(2);
    const core = joined(makeCore({}, storedLog([a.insert(0, 'hello')])), 1, 2);
    core.receive(1, encodeSyncUpdate(b.insert(0, 'pending'))); // not durable yet
    const frames = framesTo(core.receive(2, encodeSyncStep1(encodeStateVector(new Map()))), 2);
    expect(kinds(frames)).toEqual(['ack', 'sync-step2']);
    expect(frames[0]).toEqual({ kind: 'ack', clocks: new Map([[1, 5]]) });
  });

  it('ACK-5: an ack that would repeat what a connection was already acked is not sent', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const u = a.insert(0, 'hello');
    core.receive(1, encodeSyncUpdate(u));
    expect(framesTo(core.committed(1), 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);

    expect(uncharged(core.receive(1, encodeSyncUpdate(u)))).toEqual([]); // conn 1 knows clock 5 is durable
    expect(framesTo(core.receive(2, encodeSyncUpdate(u)), 2)).toEqual([{ kind: 'ack', clocks: new Map([[1, 5]]) }]);
    expect(uncharged(core.receive(2, encodeSyncUpdate(u)))).toEqual([]);

    // Only the pairs that moved: client 1 again, client 2 for the first time.
    const b = new Editor(2);
    core.receive(1, encodeSyncUpdate(Y.mergeUpdates([u, b.insert(0, 'xy')])));
    expect(framesTo(core.committed(2), 1)).toEqual([{ kind: 'ack', clocks: new Map([[2, 2]]) }]);
  });

  it('ACK-5: the handshake ack (ACK-2) still lists every durable client asked about', () => {
    const core = joined(makeCore(), 1);
    const a = new Editor(1);
    core.receive(1, encodeSyncUpdate(a.insert(0, 'hello')));
    core.committed(1);
    const frames = framesTo(core.receive(1, encodeSyncStep1(encodeStateVector(new Map([[1, 5]])))), 1);
    expect(acksIn(frames)).toEqual([new Map([[1, 5]])]);
  });

  it('ACK-2: a client with nothing durable gets no ack after its SyncStep1', () => {
    const core = joined(makeCore(), 1);
    const frames = framesTo(core.receive(1, encodeSyncStep1(encodeStateVector(new Map([[4, 10]])))), 1);
    expect(kinds(frames)).toEqual(['sync-step2']);
  });

  it('ACK-3: an ack stops at the first gap and names only clients with something durable', () => {
    const core = joined(makeCore(), 1);
    const a = new Editor(1);
    const a1 = a.insert(0, 'abc'); // 0..3
    const a2 = a.insert(3, 'de'); // 3..5
    const a3 = a.insert(5, 'fgh'); // 5..8
    const b = new Editor(2);
    b.insert(0, 'xy');
    const b2 = b.insert(2, 'z'); // 2..3, its predecessor never arrives

    core.receive(1, encodeSyncUpdate(a1));
    core.receive(1, encodeSyncUpdate(a3));
    core.receive(1, encodeSyncUpdate(b2));
    expect(framesTo(core.committed(3), 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 3]]) }]);

    core.receive(1, encodeSyncUpdate(a2));
    expect(framesTo(core.committed(4), 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 8]]) }]);

    // Only b's gapped range: nothing durable to name, so no ack frame at all.
    const lone = joined(makeCore(), 5);
    lone.receive(5, encodeSyncUpdate(b2));
    expect(lone.committed(1)).toEqual([]);
  });

  it('ACK-3: ack clocks of a client never decrease', () => {
    const core = joined(makeCore(), 1, 2);
    const a = new Editor(1);
    const a1 = a.insert(0, 'abcdef');
    const a2 = a.insert(6, 'g');
    core.receive(1, encodeSyncUpdate(Y.mergeUpdates([a1, a2])));
    expect(framesTo(core.committed(1), 1)).toEqual([{ kind: 'ack', clocks: new Map([[1, 7]]) }]);
    // Re-sending an older, smaller update acks the current durable clock, not the update's end
    // (from another connection: conn 1 was acked clock 7 already, ACK-5).
    expect(framesTo(core.receive(2, encodeSyncUpdate(a1)), 2)).toEqual([{ kind: 'ack', clocks: new Map([[1, 7]]) }]);
  });
});

// --- AWR ------------------------------------------------------------------------------------------

/** Raw awareness update bytes that break AWR-1, each with what it breaks. */
const badAwareness = (): Array<[string, Uint8Array]> => {
  const valid = awarenessUpdate([{ clientID: 5, clock: 1, state: { a: 1 } }]);
  const rawEntry = (stateBytes: Uint8Array): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint(e, 5);
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint8Array(e, stateBytes);
    return encoding.toUint8Array(e);
  };
  const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
  const many = Array.from({ length: Limits.maxAwarenessEntriesPerFrame + 1 }, (_, i) => ({
    clientID: 1000 + i,
    clock: 1,
    state: null,
  }));
  return [
    ['oversized state', awarenessUpdate([{ clientID: 5, clock: 1, state: 'x'.repeat(Limits.maxAwarenessStateBytes) }])],
    ['too deep state', awarenessUpdate([{ clientID: 5, clock: 1, state: deep(Limits.maxNestingDepth + 1) }])],
    ['truncated', valid.subarray(0, valid.length - 1)],
    ['trailing byte', Uint8Array.from([...valid, 0])],
    ['count past the entries', Uint8Array.from([2, ...valid.subarray(1)])],
    ['invalid JSON', rawEntry(new TextEncoder().encode('{"a":'))],
    ['invalid UTF-8', rawEntry(Uint8Array.of(0x22, 0xff, 0xfe, 0x22))],
    ['too many entries', awarenessUpdate(many)],
  ];
};

describe('RoomCore awareness', () => {
  it.each(badAwareness())('AWR-1: %s closes the connection with 4423 invalid-awareness', (_, update) => {
    const core = joined(makeCore(), 1, 2);
    const effects = core.receive(1, encodeAwareness(update));
    expect(closes(effects)).toEqual([
      { type: 'close', conn: 1, reason: CloseReason.InvalidAwareness, detail: expect.any(String) as string },
    ]);
    expect(core.connectionCount).toBe(1);
    expect(awarenessTo(effects, 2).filter((e) => e.state !== null)).toEqual([]);
    // Nothing of it is kept, and the other connection carries on.
    expect(awarenessTo(core.join(3), 3)).toEqual([]);
    const ok = core.receive(2, awarenessFrame({ clientID: 6, clock: 1, state: {} }));
    expect(awarenessTo(ok, 2)).toEqual([{ clientID: 6, clock: 1, state: {} }]);
    expect(core.receive(1, awarenessFrame({ clientID: 7, clock: 1, state: {} }))).toEqual([]);
  });

  it('AWR-1: a state at the size and depth limits is accepted', () => {
    const core = joined(makeCore(), 1);
    const text = 'x'.repeat(Limits.maxAwarenessStateBytes - 2); // JSON adds the two quotes
    const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
    const effects = core.receive(
      1,
      awarenessFrame(
        { clientID: 5, clock: 1, state: text },
        { clientID: 6, clock: 1, state: deep(Limits.maxNestingDepth) },
      ),
    );
    expect(closes(effects)).toEqual([]);
    expect(awarenessTo(effects, 1).map((e) => e.clientID)).toEqual([5, 6]);
  });

  it('AWR-1: announcing more client ids than maxAwarenessClientsPerConnection closes with 4423', () => {
    const core = joined(makeCore(), 1, 2);
    const max = Limits.maxAwarenessClientsPerConnection;
    for (let i = 0; i < max; i++) {
      expect(closes(core.receive(1, awarenessFrame({ clientID: 100 + i, clock: 1, state: {} })))).toEqual([]);
    }
    // Re-announcing an owned id is fine; removing one frees a slot.
    expect(closes(core.receive(1, awarenessFrame({ clientID: 100, clock: 2, state: { x: 1 } })))).toEqual([]);
    expect(closes(core.receive(1, awarenessFrame({ clientID: 100, clock: 3, state: null })))).toEqual([]);
    expect(closes(core.receive(1, awarenessFrame({ clientID: 999, clock: 1, state: {} })))).toEqual([]);

    const effects = core.receive(1, awarenessFrame({ clientID: 1000, clock: 1, state: {} }));
    expect(closes(effects)).toEqual([
      { type: 'close', conn: 1, reason: CloseReason.InvalidAwareness, detail: expect.any(String) as string },
    ]);
    expect(core.connectionCount).toBe(1);
  });

  describe('AWR-7: the live states a connection owns total at most maxAwarenessBytesPerConnection', () => {
    const budget = 1000;
    /** A state whose JSON text is exactly `bytes` long: {"p":"xxx…"}. */
    const sized = (bytes: number): { p: string } => ({ p: 'x'.repeat(bytes - 8) });
    const refused = (effects: readonly RoomEffect[], conn: ConnId): void =>
      expect(closes(effects)).toEqual([
        { type: 'close', conn, reason: CloseReason.InvalidAwareness, detail: expect.stringMatching(/AWR-7/) as string },
      ]);

    it('up to the budget is fine, over it closes the sender with 4423 and changes nothing', () => {
      const core = joined(makeCore({ maxAwarenessBytesPerConnection: budget }), 1, 2);
      expect(closes(core.receive(1, awarenessFrame({ clientID: 10, clock: 1, state: sized(600) })))).toEqual([]);
      expect(closes(core.receive(1, awarenessFrame({ clientID: 11, clock: 1, state: sized(400) })))).toEqual([]);
      // A renewal replaces its own bytes (not counted twice); a removal frees them.
      expect(closes(core.receive(1, awarenessFrame({ clientID: 10, clock: 2, state: sized(600) })))).toEqual([]);
      const over = core.receive(1, awarenessFrame({ clientID: 12, clock: 1, state: sized(9) }));
      refused(over, 1);
      // Never broadcast (the sender's own states are removed as it leaves, AWR-4).
      expect(awarenessTo(over, 2).filter((e) => e.clientID === 12)).toEqual([]);
    });

    it('a removal frees its bytes', () => {
      const core = joined(makeCore({ maxAwarenessBytesPerConnection: budget }), 1);
      core.receive(1, awarenessFrame({ clientID: 10, clock: 1, state: sized(900) }));
      expect(closes(core.receive(1, awarenessFrame({ clientID: 10, clock: 2, state: null })))).toEqual([]);
      expect(closes(core.receive(1, awarenessFrame({ clientID: 11, clock: 1, state: sized(900) })))).toEqual([]);
    });

    it('another connection cannot grow a state it does not own: the entry is ignored and nobody is closed', () => {
      const core = joined(makeCore({ maxAwarenessBytesPerConnection: budget }), 1, 2);
      core.receive(2, awarenessFrame({ clientID: 20, clock: 1, state: sized(100) }));
      const grown = core.receive(1, awarenessFrame({ clientID: 20, clock: 2, state: sized(900) }));
      expect(closes(grown)).toEqual([]);
      expect(awarenessTo(grown, 2)).toEqual([]);
      // The same size or smaller (a tab relaying another's state) is taken as before.
      const relayed = core.receive(1, awarenessFrame({ clientID: 20, clock: 3, state: sized(100) }));
      expect(awarenessTo(relayed, 2)).toEqual([{ clientID: 20, clock: 3, state: sized(100) }]);
      // The owner's budget is its own: it can still announce up to it.
      expect(closes(core.receive(2, awarenessFrame({ clientID: 21, clock: 1, state: sized(900) })))).toEqual([]);
    });

    it('AWR-1: a client id listed twice in one update closes the sender (each repeat would be counted again)', () => {
      const core = joined(makeCore({ maxAwarenessBytesPerConnection: budget }), 1, 2);
      core.receive(1, awarenessFrame({ clientID: 10, clock: 1, state: sized(900) }));
      const twice = core.receive(
        1,
        awarenessFrame({ clientID: 10, clock: 2, state: sized(10) }, { clientID: 10, clock: 3, state: sized(900) }),
      );
      expect(closes(twice)).toEqual([
        {
          type: 'close',
          conn: 1,
          reason: CloseReason.InvalidAwareness,
          detail: expect.stringMatching(/listed twice/) as string,
        },
      ]);
    });
  });

  it('CLOSE-2: an awareness frame refused under AWR-1 (too many client ids) changes no state', () => {
    const core = joined(makeCore(), 1, 2);
    core.receive(2, awarenessFrame({ clientID: 50, clock: 1, state: { who: 'owner' } }));
    const max = Limits.maxAwarenessClientsPerConnection;
    const entries: AwarenessInput[] = [{ clientID: 50, clock: 2, state: { who: 'hijack' } }];
    for (let i = 0; i <= max; i++) entries.push({ clientID: 100 + i, clock: 1, state: {} });
    const effects = core.receive(1, awarenessFrame(...entries));
    expect(closes(effects)).toHaveLength(1);
    // The refused frame's entries were never broadcast, so no connection may learn them later.
    expect(awarenessTo(effects, 2).filter((e) => e.state !== null)).toEqual([]);
    expect(awarenessTo(core.join(3), 3)).toEqual([{ clientID: 50, clock: 1, state: { who: 'owner' } }]);
  });

  it('AWR-2, FWD-2: an older or equal clock is ignored; a newer one is broadcast to all, the sender included', () => {
    const core = joined(makeCore(), 1, 2, 3);
    const first = core.receive(1, awarenessFrame({ clientID: 10, clock: 5, state: { n: 1 } }));
    for (const conn of [1, 2, 3])
      expect(awarenessTo(first, conn)).toEqual([{ clientID: 10, clock: 5, state: { n: 1 } }]);

    expect(core.receive(2, awarenessFrame({ clientID: 10, clock: 5, state: { n: 2 } }))).toEqual([]);
    expect(core.receive(2, awarenessFrame({ clientID: 10, clock: 4, state: { n: 3 } }))).toEqual([]);
    expect(core.receive(1, awarenessFrame({ clientID: 10, clock: 4, state: null }))).toEqual([]);

    const newer = core.receive(1, awarenessFrame({ clientID: 10, clock: 6, state: { n: 4 } }));
    for (const conn of [1, 2, 3])
      expect(awarenessTo(newer, conn)).toEqual([{ clientID: 10, clock: 6, state: { n: 4 } }]);

    // Only the accepted entries of a mixed frame are broadcast.
    const mixed = core.receive(
      2,
      awarenessFrame({ clientID: 10, clock: 3, state: { n: 5 } }, { clientID: 11, clock: 1, state: { n: 6 } }),
    );
    expect(awarenessTo(mixed, 3)).toEqual([{ clientID: 11, clock: 1, state: { n: 6 } }]);
  });

  it('AWR-2: the removal of a live state at the same clock is accepted, once', () => {
    const core = joined(makeCore(), 1, 2);
    core.receive(1, awarenessFrame({ clientID: 10, clock: 5, state: { n: 1 } }));
    const removal = core.receive(1, awarenessFrame({ clientID: 10, clock: 5, state: null }));
    expect(awarenessTo(removal, 2)).toEqual([{ clientID: 10, clock: 5, state: null }]);
    expect(core.receive(1, awarenessFrame({ clientID: 10, clock: 5, state: null }))).toEqual([]);
    expect(awarenessTo(core.join(3), 3)).toEqual([]);
  });

  it('AWR-2: query-awareness is answered with the live states', () => {
    const core = joined(makeCore(), 1, 2);
    core.receive(
      1,
      awarenessFrame({ clientID: 10, clock: 1, state: { n: 1 } }, { clientID: 11, clock: 2, state: 'x' }),
    );
    core.receive(1, awarenessFrame({ clientID: 11, clock: 3, state: null }));
    const effects = core.receive(2, encodeQueryAwareness());
    expect(effects.every((e) => e.type === 'send' && e.conn === 2)).toBe(true);
    expect(awarenessTo(effects, 2)).toEqual([{ clientID: 10, clock: 1, state: { n: 1 } }]);
  });

  it('AWR-3: a removed client cannot be resurrected by a stale copy', () => {
    const core = joined(makeCore(), 1, 2, 3);
    core.receive(1, awarenessFrame({ clientID: 10, clock: 3, state: { n: 1 } }));
    core.receive(1, awarenessFrame({ clientID: 10, clock: 4, state: null })); // explicit removal
    core.receive(1, awarenessFrame({ clientID: 20, clock: 7, state: { n: 2 } }));
    core.leave(1); // AWR-4 removal of 20 at clock 8

    // Another client re-sends the copies it learned before the removals: not stored, not
    // broadcast; only the sender is told of the removals (AWR-8).
    const stale = awarenessFrame(
      { clientID: 10, clock: 3, state: { n: 1 } },
      { clientID: 20, clock: 7, state: { n: 2 } },
    );
    const tombstones = [
      { clientID: 10, clock: 4, state: null },
      { clientID: 20, clock: 8, state: null },
    ];
    const answered = core.receive(2, stale);
    expect(answered.every((e) => e.type === 'send' && e.conn === 2)).toBe(true);
    expect(awarenessTo(answered, 2)).toEqual(tombstones);
    const sameClock = core.receive(2, awarenessFrame({ clientID: 20, clock: 8, state: { n: 2 } }));
    expect(awarenessTo(sameClock, 2)).toEqual([tombstones[1]]);
    expect(awarenessTo(sameClock, 3)).toEqual([]);
    expect(awarenessTo(core.join(4), 4)).toEqual([]);
    expect(awarenessTo(core.receive(3, encodeQueryAwareness()), 3)).toEqual([]);
  });

  it('AWR-8: a state re-announced at a clock its removal supersedes gets the removal back; renewed past it, it is live again', () => {
    const core = joined(makeCore(), 1, 2);
    core.receive(1, awarenessFrame({ clientID: 10, clock: 3, state: { n: 1 } }));
    core.leave(1); // AWR-4: the removal of 10 at clock 4
    core.join(3); // the same client, reconnected, announces the state it had
    const answered = core.receive(3, awarenessFrame({ clientID: 10, clock: 3, state: { n: 1 } }));
    expect(answered.every((e) => e.type === 'send' && e.conn === 3)).toBe(true);
    expect(awarenessTo(answered, 3)).toEqual([{ clientID: 10, clock: 4, state: null }]);
    // y-protocols renews its own state with the clock past the removal: accepted and broadcast.
    const renewed = core.receive(3, awarenessFrame({ clientID: 10, clock: 5, state: { n: 1 } }));
    for (const conn of [2, 3])
      expect(awarenessTo(renewed, conn)).toEqual([{ clientID: 10, clock: 5, state: { n: 1 } }]);
    expect(awarenessTo(core.join(4), 4)).toEqual([{ clientID: 10, clock: 5, state: { n: 1 } }]);
    // Owned by the new connection: its leave removes it again.
    expect(awarenessTo(core.leave(3), 2)).toEqual([{ clientID: 10, clock: 6, state: null }]);
    // Nothing is answered for an older live state (AWR-2) or a stale removal.
    core.receive(2, awarenessFrame({ clientID: 20, clock: 5, state: { n: 2 } }));
    expect(core.receive(4, awarenessFrame({ clientID: 20, clock: 4, state: { n: 3 } }))).toEqual([]);
    expect(core.receive(4, awarenessFrame({ clientID: 10, clock: 5, state: null }))).toEqual([]);
  });

  it('AWR-3: 1,024 removed clients are remembered', () => {
    const core = joined(makeCore(), 1, 2);
    const batch = Limits.maxAwarenessClientsPerConnection;
    for (let start = 0; start < 1024; start += batch) {
      const ids = Array.from({ length: batch }, (_, i) => 10_000 + start + i);
      core.receive(1, awarenessFrame(...ids.map((clientID) => ({ clientID, clock: 1, state: {} }))));
      core.receive(1, awarenessFrame(...ids.map((clientID) => ({ clientID, clock: 2, state: null }))));
    }
    for (let start = 0; start < 1024; start += 128) {
      const stale = Array.from({ length: 128 }, (_, i) => ({ clientID: 10_000 + start + i, clock: 1, state: {} }));
      const answered = core.receive(2, awarenessFrame(...stale));
      expect(awarenessTo(answered, 1)).toEqual([]);
      expect(awarenessTo(answered, 2)).toEqual(stale.map(({ clientID }) => ({ clientID, clock: 2, state: null })));
    }
  });

  it('AWR-4: leave broadcasts the removal (null, clock + 1) of the states it owns, not of ids another owns', () => {
    const core = joined(makeCore(), 1, 2, 3);
    core.receive(1, awarenessFrame({ clientID: 10, clock: 1, state: { n: 1 } }, { clientID: 11, clock: 5, state: {} }));
    core.receive(1, awarenessFrame({ clientID: 11, clock: 6, state: null })); // already removed
    core.receive(2, awarenessFrame({ clientID: 20, clock: 1, state: { n: 2 } }));
    core.receive(2, awarenessFrame({ clientID: 10, clock: 2, state: { n: 3 } })); // 2 relays 1's client

    const left = core.leave(1);
    expect(framesTo(left, 1)).toEqual([]);
    expect(framesTo(left, 2)).toEqual([{ kind: 'awareness', entries: [{ clientID: 10, clock: 3, state: null }] }]);
    expect(framesTo(left, 3)).toEqual([{ kind: 'awareness', entries: [{ clientID: 10, clock: 3, state: null }] }]);
    expect(core.leave(1)).toEqual([]);

    const left2 = core.leave(2);
    expect(framesTo(left2, 3)).toEqual([{ kind: 'awareness', entries: [{ clientID: 20, clock: 2, state: null }] }]);
    expect(core.leave(3)).toEqual([]);
    expect(core.connectionCount).toBe(0);
  });

  it('AWR-4: a connection closed for bad input also removes the states it owns', () => {
    const core = joined(makeCore(), 1, 2);
    core.receive(1, awarenessFrame({ clientID: 10, clock: 1, state: { n: 1 } }));
    const effects = core.receive(1, Uint8Array.of(42));
    expect(closes(effects).map((c) => c.conn)).toEqual([1]);
    expect(awarenessTo(effects, 2)).toEqual([{ clientID: 10, clock: 2, state: null }]);
  });
});

// --- CLOSE-2 --------------------------------------------------------------------------------------

const malformedFrames: Array<[string, Uint8Array]> = [
  ['an empty frame', new Uint8Array(0)],
  ['an unknown outer type', Uint8Array.of(7)],
  ['a relay-only Ack frame', Uint8Array.of(100, 0)],
  ['a relay-only Auth frame', Uint8Array.of(2, 0, 0)],
  ['an unknown sync type', Uint8Array.of(0, 3, 0)],
  ['a body length past the end', Uint8Array.of(0, 2, 5, 0, 0)],
  ['a truncated varint', Uint8Array.of(0, 0x80)],
  ['trailing bytes', Uint8Array.of(3, 0)],
  ['a state vector whose count is past its end', encodeSyncStep1(Uint8Array.of(5))],
  ['a state vector with trailing bytes', encodeSyncStep1(Uint8Array.of(0, 1))],
];

describe('RoomCore bad input', () => {
  it.each(malformedFrames)('CLOSE-2: %s closes only that connection with 4400 and stores nothing', (_, frame) => {
    const core = joined(makeCore(), 1, 2);
    const effects = core.receive(1, frame);
    expect(effects).toEqual([
      { type: 'close', conn: 1, reason: CloseReason.BadFrame, detail: expect.any(String) as string },
    ]);
    expect(core.connectionCount).toBe(1);
    expect(core.hasPending).toBe(false);

    const a = new Editor(1);
    const u = a.insert(0, 'still fine');
    expect(core.receive(1, encodeSyncUpdate(u))).toEqual([]); // the closed connection is gone
    const ok = core.receive(2, encodeSyncUpdate(u));
    expect(persists(ok).map((p) => p.seq)).toEqual([1]);
    expect(framesTo(ok, 2)).toEqual([{ kind: 'sync-update', update: u }]);
  });

  it('CLOSE-2: an invalid update closes with 4422 and nothing of it is stored or forwarded', () => {
    const a = new Editor(1);
    const u = a.insert(0, 'hello');
    for (const bad of [u.subarray(0, u.length - 1), Uint8Array.from([...u, 0])]) {
      for (const frame of [encodeSyncUpdate(bad), encodeSyncStep2(bad)]) {
        const core = joined(makeCore(), 1, 2);
        const effects = core.receive(1, frame);
        expect(effects).toEqual([
          { type: 'close', conn: 1, reason: CloseReason.InvalidUpdate, detail: expect.any(String) as string },
        ]);
        expect(core.hasPending).toBe(false);
        expect(core.stateVector()).toEqual(new Map());
      }
    }
  });
});

// --- STORE-2 (the core's side of compaction) ------------------------------------------------------

describe('RoomCore compaction', () => {
  it('STORE-2: compactionPlan takes committed log entries only and applyCompaction keeps the content', () => {
    const a = new Editor(1);
    const updates = Array.from({ length: 6 }, (_, i) => a.insert(0, `#${i} `));
    const core = joined(makeCore(), 1);
    for (const u of updates) core.receive(1, encodeSyncUpdate(u));
    const opts = { minLogEntries: 3, targetBytes: 1 << 20 };
    expect(core.compactionPlan(opts)).toBeNull(); // nothing durable yet

    core.committed(4);
    const plan = core.compactionPlan(opts)!;
    expect(plan).toMatchObject({ seqLo: 1, seqHi: 4 });
    expect(plan.parts.map((p) => p.bytes)).toEqual(updates.slice(0, 4));
    const sv = core.stateVector();
    core.applyCompaction(plan.seqLo, plan.seqHi, mergeAndParse(plan.parts.map((p) => p.bytes)));
    expect(core.stateVector()).toEqual(sv);
    expect(core.compactionPlan(opts)).toBeNull(); // seq 5 and 6 are still pending

    const x = new Editor(9);
    x.apply(...syncBodies(framesTo(core.receive(1, encodeSyncStep1(encodeStateVector(new Map()))), 1)));
    expectSameDoc(x.doc, a.doc);
    // A re-sent compacted update is still recognised (DEDUPE-1).
    expect(persists(core.receive(1, encodeSyncUpdate(updates[0]!)))).toEqual([]);
    expect(core.compactionPlan({ minLogEntries: 100, targetBytes: 1 << 20 })).toBeNull();
  });
});

describe('RoomCore compaction behind a big entry', () => {
  it('STORE-11: an entry too big to join the run before it does not stop compaction: the run is folded, then the entry alone', () => {
    const a = new Editor(1);
    const opts = { minLogEntries: 8, targetBytes: 1000 };
    const small = (i: number): Uint8Array => a.insert(0, `#${i} `);
    const updates = [small(0), small(1), small(2), a.insert(0, 'x'.repeat(3 * opts.targetBytes))];
    for (let i = 3; i < 40; i++) updates.push(small(i));
    const core = joined(makeCore(), 1);
    for (const u of updates) core.receive(1, encodeSyncUpdate(u));
    core.committed(updates.length);
    const sv = core.stateVector();
    const plans: [number, number][] = [];
    for (let plan = core.compactionPlan(opts); plan; plan = core.compactionPlan(opts)) {
      plans.push([plan.seqLo, plan.seqHi]);
      core.applyCompaction(plan.seqLo, plan.seqHi, mergeAndParse(plan.parts.map((p) => p.bytes)));
      expect(plans.length).toBeLessThan(50);
    }
    expect(plans.slice(0, 2)).toEqual([
      [1, 3],
      [4, 4],
    ]);
    // Everything after the big entry was folded too, down to less than one plan's worth.
    expect(plans[plans.length - 1]![1]).toBeGreaterThan(updates.length - opts.minLogEntries);
    expect(core.stateVector()).toEqual(sv);
    const x = new Editor(9);
    x.apply(...syncBodies(framesTo(core.receive(1, encodeSyncStep1(encodeStateVector(new Map()))), 1)));
    expectSameDoc(x.doc, a.doc);
  });
});

describe('RoomCore awareness-only connections', () => {
  it('WATCH-1: a watcher gets the awareness states on join and no SyncStep1', () => {
    const core = joined(makeCore(), 1);
    core.receive(1, awarenessFrame({ clientID: 11, clock: 1, state: { name: 'ann' } }));
    const effects = core.join(9, { awarenessOnly: true });
    expect(framesTo(effects, 9).map((f) => f.kind)).toEqual(['awareness']);
    expect(awarenessTo(effects, 9).map((e) => e.clientID)).toEqual([11]);
  });

  it('WATCH-1: a watcher receives awareness but no document data (local or remote), and no acks', () => {
    const core = joined(makeCore(), 1);
    core.join(9, { awarenessOnly: true });
    const a = new Editor(1);
    const local = core.receive(1, encodeSyncUpdate(a.insert(0, 'hello')));
    expect(persists(local)).toHaveLength(1);
    expect(sendsTo(local, 1)).toHaveLength(1); // the sender still gets its echo (FWD-1)
    expect(sendsTo(local, 9)).toEqual([]);
    expect(sendsTo(core.committed(persists(local)[0]!.seq), 9)).toEqual([]);
    const b = new Editor(2);
    const remote = core.receiveRemote(b.insert(0, 'remote'));
    expect(sendsTo(remote, 1)).toHaveLength(1);
    expect(sendsTo(remote, 9)).toEqual([]);
    const aw = core.receive(1, awarenessFrame({ clientID: 11, clock: 1, state: { name: 'ann' } }));
    expect(awarenessTo(aw, 9).map((e) => e.clientID)).toEqual([11]);
  });

  it('WATCH-1: its SyncStep1 gets an empty SyncStep2; an update from it closes it, storing nothing', () => {
    const a = new Editor(1);
    const core = makeCore({}, { segments: [], log: [{ seq: 1, update: a.insert(0, 'stored') }] });
    joined(core, 1);
    core.join(9, { awarenessOnly: true });
    const answer = framesTo(core.receive(9, encodeSyncStep1(encodeStateVector(new Map()))), 9);
    expect(answer).toHaveLength(1);
    expect(answer[0]!.kind).toBe('sync-step2');
    const x = new Editor(5);
    x.apply(...syncBodies(answer));
    expect(x.doc.getText('t').length).toBe(0);

    const refused = core.receive(9, encodeSyncUpdate(new Editor(3).insert(0, 'no')));
    expect(persists(refused)).toEqual([]);
    expect(sendsTo(refused, 1)).toEqual([]);
    expect(closes(refused)).toEqual([
      { type: 'close', conn: 9, reason: CloseReason.InvalidUpdate, detail: expect.stringMatching(/WATCH-1/) as string },
    ]);
  });
});
