/**
 * RoomCore's scale-out entry points (REDIS-4, REDIS-6): updates and awareness another relay
 * committed or announced. Clients are real Y.Docs; the frames the core sends back are decoded
 * independently (relay/testing/fakeSink.ts).
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import {
  CloseReason,
  Limits,
  encodeAwareness,
  encodeStateVector,
  encodeSyncStep1,
  encodeSyncUpdate,
} from '../shared/protocol.js';
import { defaultRoomCoreLimits } from './testing/roomCoreLimits.js';
import { RoomCore, type ConnId, type RoomEffect } from './roomCore.js';
import { decodeRelayFrame, type RelayFrame } from './testing/fakeSink.js';

const core = (): RoomCore => new RoomCore('room', { segments: [], log: [] }, defaultRoomCoreLimits);

const framesTo = (effects: readonly RoomEffect[], conn: ConnId): RelayFrame[] =>
  effects.flatMap((e) => (e.type === 'send' && e.conn === conn ? [decodeRelayFrame(e.frame)] : []));

const updatesIn = (frames: readonly RelayFrame[]): Uint8Array[] =>
  frames.flatMap((f) => (f.kind === 'sync-update' || f.kind === 'sync-step2' ? [f.update] : []));

const edits = (clientID: number, ...texts: string[]): Uint8Array[] => {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const out: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => out.push(u));
  for (const t of texts) doc.getText('t').insert(doc.getText('t').length, t);
  return out;
};

const awarenessFrame = (entries: ReadonlyArray<{ clientID: number; clock: number; state: unknown }>): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const x of entries) {
    encoding.writeVarUint(e, x.clientID);
    encoding.writeVarUint(e, x.clock);
    encoding.writeVarString(e, JSON.stringify(x.state));
  }
  return encodeAwareness(encoding.toUint8Array(e));
};

describe('RoomCore.receiveRemote (REDIS-4, REDIS-8)', () => {
  it('REDIS-8: broadcasts a remote update to every connection, persists nothing, and counts it as durable (ACK-2)', () => {
    const c = core();
    c.join(1);
    c.join(2);
    const [u] = edits(7, 'hello');
    const effects = c.receiveRemote(u!);
    expect(effects.some((e) => e.type === 'persist')).toBe(false);
    for (const conn of [1, 2]) {
      const doc = new Y.Doc();
      for (const b of updatesIn(framesTo(effects, conn))) Y.applyUpdate(doc, b);
      expect(doc.getText('t').toJSON()).toBe('hello');
    }
    expect(c.hasPending).toBe(false);
    // ACK-2: a client that knows client 7 learns that its clocks are durable.
    const answer = framesTo(c.receive(1, encodeSyncStep1(encodeStateVector(new Map([[7, 5]])))), 1);
    expect(answer.flatMap((f) => (f.kind === 'ack' ? [f.clocks.get(7)] : []))).toEqual([5]);
  });

  it('DEDUPE-1: a remote copy of an update the room holds changes nothing', () => {
    const c = core();
    c.join(1);
    const [u] = edits(7, 'hello');
    c.receive(1, encodeSyncUpdate(u!));
    expect(c.receiveRemote(u!)).toEqual([]);
    expect(c.receiveRemote(u!)).toEqual([]);
  });

  it('DEDUPE-2: a remote update overlapping what the room holds is cut to the new part', () => {
    const c = core();
    c.join(1);
    const [a, b] = edits(7, 'ab', 'cd');
    c.receiveRemote(a!);
    const merged = Y.mergeUpdates([a!, b!]);
    const forwarded = updatesIn(framesTo(c.receiveRemote(merged), 1));
    expect(forwarded).toHaveLength(1);
    const structs = Y.decodeUpdate(forwarded[0]!).structs;
    expect(structs.every((s) => s.id.clock >= 2)).toBe(true);
  });

  it('DEDUPE-2: a remote copy of clocks the room holds past a gap is cut around them: replicas keep the first content', () => {
    const c = core();
    c.join(1);
    const [realHead, realTail] = edits(7, 'hello', 'REAL!');
    const [fakeHead, fakeTail] = edits(7, 'hello', 'FAKE!');
    const doc = new Y.Doc();
    const apply = (effects: RoomEffect[]): void => {
      for (const u of updatesIn(framesTo(effects, 1))) Y.applyUpdate(doc, u);
    };
    apply(c.receiveRemote(realTail!)); // [5, 10) past a gap
    const forwarded = updatesIn(framesTo(c.receiveRemote(Y.mergeUpdates([fakeHead!, fakeTail!])), 1));
    expect(forwarded).toHaveLength(1);
    expect(Y.decodeUpdate(forwarded[0]!).structs.every((s) => s.id.clock + s.length <= 5)).toBe(true);
    Y.applyUpdate(doc, forwarded[0]!);
    expect(doc.getText('t').toJSON()).toBe('helloREAL!');
    expect(c.receiveRemote(realHead!)).toEqual([]);
  });

  it('DEDUPE-3: a remote update reaching more held ranges past a gap than the limit is taken (it is in the shared log); a local writer sending the same is refused', () => {
    const LIMIT = Limits.maxHeldRangesPerUpdate;
    const c = core();
    c.join(1);
    c.join(2);
    const doc = new Y.Doc();
    const apply = (effects: RoomEffect[]): void => {
      for (const u of updatesIn(framesTo(effects, 2))) Y.applyUpdate(doc, u);
    };
    // Client 7 types one letter per update; the letters at odd clocks, committed through another
    // relay, are LIMIT + 1 ranges past a gap here.
    const letters = Array.from({ length: 2 * LIMIT + 2 }, (_, i) => String.fromCharCode(97 + (i % 26)));
    const each = edits(7, ...letters);
    apply(c.receiveRemote(Y.mergeUpdates(each.filter((_, i) => i % 2 === 1))));
    const full = Y.mergeUpdates(each);

    const refused = c.receive(1, encodeSyncUpdate(full));
    expect(refused.filter((e) => e.type === 'close')).toEqual([
      { type: 'close', conn: 1, reason: CloseReason.TooManyGaps, detail: expect.stringMatching(/DEDUPE-3/) as string },
    ]);
    expect(refused.some((e) => e.type === 'persist')).toBe(false);
    expect(framesTo(refused, 2)).toEqual([]);

    const remote = c.receiveRemote(full);
    expect(updatesIn(framesTo(remote, 2))).toHaveLength(1);
    apply(remote);
    expect(doc.getText('t').toJSON()).toBe(letters.join(''));
    expect(doc.store.pendingStructs).toBeNull();
  });

  it('ACK-1: a local update already committed by another relay is acked to its sender once durable', () => {
    const c = core();
    c.join(1);
    const [u] = edits(7, 'x');
    const local = c.receive(1, encodeSyncUpdate(u!));
    const persist = local.find((e): e is Extract<RoomEffect, { type: 'persist' }> => e.type === 'persist');
    expect(persist).toBeDefined();
    // The same bytes arrive from the backplane while the local commit is in flight: not re-sent.
    expect(c.receiveRemote(u!)).toEqual([]);
    const acks = framesTo(c.committed(persist!.seq), 1);
    expect(acks.flatMap((f) => (f.kind === 'ack' ? [f.clocks.get(7)] : []))).toEqual([1]);
  });
});

describe('RoomCore.receiveRemoteAwareness (REDIS-6)', () => {
  it('applies newer remote entries, refuses stale ones and tombstoned ones, and re-publishes none of them', () => {
    const c = core();
    c.join(1);
    const first = c.receiveRemoteAwareness([{ clientID: 9, clock: 3, state: '{"n":"ann"}' }]);
    expect(first.some((e) => e.type === 'awareness')).toBe(false);
    expect(framesTo(first, 1).flatMap((f) => (f.kind === 'awareness' ? f.entries : []))).toHaveLength(1);
    expect(c.receiveRemoteAwareness([{ clientID: 9, clock: 2, state: '{"n":"old"}' }])).toEqual([]);
    const removal = c.receiveRemoteAwareness([{ clientID: 9, clock: 4, state: 'null' }]);
    expect(framesTo(removal, 1)).toHaveLength(1);
    // AWR-3: a stale copy of the departed state is refused; AWR-8: the removal is published back.
    expect(c.receiveRemoteAwareness([{ clientID: 9, clock: 3, state: '{"n":"ann"}' }])).toEqual([
      { type: 'awareness', entries: [{ clientID: 9, clock: 4, state: 'null' }] },
    ]);
  });

  it('AWR-8: a client that reconnected through another relay with a clock this relay’s removal supersedes is answered with that removal', () => {
    // This relay removed 5's state (its connection left); the client reconnected through a relay
    // that never saw the removal, which took its state at the old clock and published it.
    const here = core();
    here.join(1);
    here.receive(1, awarenessFrame([{ clientID: 5, clock: 1, state: { n: 'bo' } }]));
    here.leave(1); // removal at clock 2
    here.join(2);
    const seen = here.receiveRemoteAwareness([{ clientID: 5, clock: 1, state: '{"n":"bo"}' }]);
    expect(framesTo(seen, 2)).toEqual([]); // not shown here
    expect(seen).toEqual([{ type: 'awareness', entries: [{ clientID: 5, clock: 2, state: 'null' }] }]);
    // The other relay takes the removal in and passes it on to the client's connection there,
    // whose y-protocols then renews its state past it.
    const there = core();
    there.join(7);
    there.receive(7, awarenessFrame([{ clientID: 5, clock: 1, state: { n: 'bo' } }]));
    const told = there.receiveRemoteAwareness([{ clientID: 5, clock: 2, state: 'null' }]);
    expect(framesTo(told, 7).flatMap((f) => (f.kind === 'awareness' ? f.entries : []))).toEqual([
      { clientID: 5, clock: 2, state: null },
    ]);
    const renewed = there.receive(7, awarenessFrame([{ clientID: 5, clock: 3, state: { n: 'bo' } }]));
    expect(renewed.filter((e) => e.type === 'awareness')).toEqual([
      { type: 'awareness', entries: [{ clientID: 5, clock: 3, state: '{"n":"bo"}' }] },
    ]);
    expect(framesTo(here.receiveRemoteAwareness([{ clientID: 5, clock: 3, state: '{"n":"bo"}' }]), 2)).toHaveLength(1);
  });

  it('AWR-1: a remote state over the size limit is dropped like a client one', () => {
    const c = core();
    c.join(1);
    const huge = JSON.stringify({ s: 'x'.repeat(Limits.maxAwarenessStateBytes + 1) });
    expect(c.receiveRemoteAwareness([{ clientID: 9, clock: 1, state: huge }])).toEqual([]);
  });

  it('local awareness and AWR-4 removals produce an awareness effect for the host to publish', () => {
    const c = core();
    c.join(1);
    const announced = c.receive(1, awarenessFrame([{ clientID: 5, clock: 1, state: { n: 'bo' } }]));
    expect(announced.filter((e) => e.type === 'awareness')).toEqual([
      { type: 'awareness', entries: [{ clientID: 5, clock: 1, state: '{"n":"bo"}' }] },
    ]);
    const left = c.leave(1);
    expect(left.filter((e) => e.type === 'awareness')).toEqual([
      { type: 'awareness', entries: [{ clientID: 5, clock: 2, state: 'null' }] },
    ]);
  });

  it('a remote removal ends a local connection’s ownership (no second removal on leave)', () => {
    const c = core();
    c.join(1);
    c.receive(1, awarenessFrame([{ clientID: 5, clock: 1, state: { n: 'bo' } }]));
    c.receiveRemoteAwareness([{ clientID: 5, clock: 2, state: 'null' }]);
    expect(c.leave(1).filter((e) => e.type === 'awareness')).toEqual([]);
  });
});
