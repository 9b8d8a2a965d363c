/**
 * The acceptance suite every `RoomUpdateStore` must pass (rules LOCAL-1..9, 12, 13, see
 * ./roomUpdateStore.ts). Call `roomUpdateStoreContract` from a test file once per
 * implementation; tests are named after the rule they check.
 *
 * The harness looks at the store from outside (`dump`, `evict`, `loseConnection`,
 * `failNextWrite`), so "writes nothing" and "stores nothing" are checked against what is really
 * stored, not against what the store reports about itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  COMPACT_AFTER_UPDATES,
  detectLoss,
  LossStatus,
  shouldCompact,
  StorageError,
  StorageErrorKind,
  type RoomUpdateStore,
} from './roomUpdateStore.js';
import { Prng, seedFromEnv } from '../../shared/testing/prng.js';

export interface RoomUpdateStoreHarness {
  readonly store: RoomUpdateStore;
  /** A page reload: closes the current store and opens a new one over the same data. */
  readonly reopen: () => Promise<RoomUpdateStore>;
  /**
   * The next write of the current store fails the way the browser fails it (for IndexedDB: the
   * transaction aborts at commit with `error`'s name) and must store nothing.
   */
  readonly failNextWrite: (error: DOMException) => void;
  /** Another tab or the browser closes the store's connection; resolves once it could notice. */
  readonly loseConnection: () => Promise<void>;
  /** Deletes the room's rows (all, or only `keys`) behind the store's back, leaving its record. */
  readonly evict: (room: string, keys?: readonly number[]) => Promise<void>;
  /** A plain picture of everything stored (rows with keys, records), read from outside. */
  readonly dump: () => Promise<unknown>;
  /** Closes whichever store is current and removes its data. */
  readonly cleanup: () => Promise<void>;
}

/** A recognisable update: tests compare exact bytes, never just lengths. */
function update(i: number, tag = 1): Uint8Array {
  return Uint8Array.of(tag, i & 0xff, (i >>> 8) & 0xff, 0x5a);
}

function plain(updates: readonly Uint8Array[]): number[][] {
  return updates.map((u) => Array.from(u));
}

function quota(): DOMException {
  return new DOMException('The quota has been exceeded.', 'QuotaExceededError');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Applies a Y.Doc's updates to the store the way the sync layer must (LOCAL-4). */
const STORAGE_ORIGIN = Symbol('storage');

export function roomUpdateStoreContract(name: string, make: () => Promise<RoomUpdateStoreHarness>): void {
  describe(`RoomUpdateStore contract: ${name}`, () => {
    let harness: RoomUpdateStoreHarness;
    let store: RoomUpdateStore;

    beforeEach(async () => {
      harness = await make();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    async function reload(): Promise<void> {
      store = await harness.reopen();
    }

    it('LOCAL-4: an unknown room loads empty and is not created by loading', async () => {
      const before = await harness.dump();
      expect(await store.load('nobody')).toEqual({ updates: [], keys: [], bytes: 0, recorded: undefined });
      expect(await store.getMeta('nobody')).toBeUndefined();
      expect(await store.listRooms()).toEqual([]);
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-1/LOCAL-3: append then load returns every update in order, with distinct keys', async () => {
      for (let i = 0; i < 5; i++) await store.append('r', update(i));
      const loaded = await store.load('r');
      expect(plain(loaded.updates)).toEqual(plain([0, 1, 2, 3, 4].map((i) => update(i))));
      expect(new Set(loaded.keys).size).toBe(5);
      expect([...loaded.keys].sort((a, b) => a - b)).toEqual(loaded.keys);
      expect(loaded.bytes).toBe(20);
      expect(loaded.recorded).toEqual({ updates: 5, bytes: 20 });
    });

    it('LOCAL-1: what append stored survives a reload', async () => {
      await store.append('r', update(1));
      await store.append('r', update(2));
      await reload();
      expect(plain((await store.load('r')).updates)).toEqual(plain([update(1), update(2)]));
    });

    it('LOCAL-3: appends of several rooms are isolated (names are exact strings)', async () => {
      const rooms = ['a', 'A', 'a ', 'ä/🙂', ''];
      for (let i = 0; i < 3; i++) {
        for (const [tag, room] of rooms.entries()) await store.append(room, update(i, tag));
      }
      for (const [tag, room] of rooms.entries()) {
        expect(plain((await store.load(room)).updates)).toEqual(plain([0, 1, 2].map((i) => update(i, tag))));
      }
      expect((await store.listRooms()).map((info) => info.room)).toEqual([...rooms].sort());
    });

    it('LOCAL-3: appends issued without awaiting are stored in call order', async () => {
      const writes = Array.from({ length: 50 }, (_, i) => store.append(i % 2 ? 'odd' : 'even', update(i)));
      await Promise.all(writes);
      const evens = Array.from({ length: 25 }, (_, i) => update(2 * i));
      const odds = Array.from({ length: 25 }, (_, i) => update(2 * i + 1));
      expect(plain((await store.load('even')).updates)).toEqual(plain(evens));
      expect(plain((await store.load('odd')).updates)).toEqual(plain(odds));
    });

    it('LOCAL-4: load, listRooms, getMeta and estimate write nothing; reloads do not grow the store', async () => {
      await store.append('r', update(1));
      await store.append('s', update(2));
      await store.setMeta('r', { title: 'R' });
      const before = await harness.dump();
      for (let reloads = 0; reloads < 3; reloads++) {
        for (let i = 0; i < 3; i++) {
          await store.load('r');
          await store.load('s');
          await store.load('unknown');
          await store.listRooms();
          await store.getMeta('r');
          await store.getMeta('unknown');
          await store.estimate();
        }
        await reload();
      }
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-4: a Yjs client that reloads without editing never grows the store, and compacts once', async () => {
      /** One page load of a room: load, apply, append only what the doc produces afterwards. */
      async function session(edits: number): Promise<Y.Doc> {
        const doc = new Y.Doc();
        const loaded = await store.load('r');
        for (const u of loaded.updates) Y.applyUpdate(doc, u, STORAGE_ORIGIN);
        if (shouldCompact(loaded)) {
          expect(await store.compact('r', Y.mergeUpdates(loaded.updates), loaded.keys)).toBe(true);
        }
        const pending: Promise<void>[] = [];
        doc.on('update', (u: Uint8Array, origin: unknown) => {
          if (origin !== STORAGE_ORIGIN) pending.push(store.append('r', u));
        });
        const messages = doc.getArray<string>('messages');
        for (let i = 0; i < edits; i++) messages.push([`m${messages.length}`]);
        await Promise.all(pending);
        await reload();
        return doc;
      }

      await session(5);
      const afterEdits = await harness.dump();
      for (let i = 0; i < 5; i++) await session(0);
      expect(await harness.dump()).toEqual(afterEdits);

      await session(COMPACT_AFTER_UPDATES);
      expect((await store.load('r')).updates).toHaveLength(COMPACT_AFTER_UPDATES + 5);
      await session(0); // compacts
      const compacted = await harness.dump();
      expect((await store.load('r')).updates).toHaveLength(1);
      for (let i = 0; i < 3; i++) await session(0);
      expect(await harness.dump()).toEqual(compacted);
      const doc = await session(0);
      expect(doc.getArray('messages').length).toBe(COMPACT_AFTER_UPDATES + 5);
    });

    it('LOCAL-5: compact replaces atomically: load after compact = later appends + merged', async () => {
      for (let i = 0; i < 5; i++) await store.append('r', update(i));
      await store.append('other', update(9, 9));
      const loaded = await store.load('r');
      const merged = Uint8Array.of(0xee, 0, 1, 2);
      expect(await store.compact('r', merged, loaded.keys.slice(0, 3))).toBe(true);
      await store.append('r', update(5));
      const after = await store.load('r');
      expect(plain(after.updates)).toEqual(plain([update(3), update(4), merged, update(5)]));
      expect(after.keys.slice(0, 2)).toEqual(loaded.keys.slice(3));
      expect(after.recorded).toEqual({ updates: 4, bytes: 16 });
      expect(detectLoss(after)).toBe(LossStatus.none);
      expect(plain((await store.load('other')).updates)).toEqual(plain([update(9, 9)]));
      await reload();
      expect(plain((await store.load('r')).updates)).toEqual(plain(after.updates));
    });

    it('LOCAL-5: a stale compaction (another tab compacted first) changes nothing and resolves false', async () => {
      for (let i = 0; i < 4; i++) await store.append('r', update(i));
      const loaded = await store.load('r');
      expect(await store.compact('r', Uint8Array.of(0xaa), loaded.keys)).toBe(true);
      const before = await harness.dump();
      expect(await store.compact('r', Uint8Array.of(0xbb), loaded.keys)).toBe(false);
      // Partly stale (one key still exists, one does not): still all or nothing.
      const now = await store.load('r');
      expect(await store.compact('r', Uint8Array.of(0xcc), [...now.keys, loaded.keys[0]!])).toBe(false);
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-5: compact refuses bad key lists and keys of another room, changing nothing', async () => {
      await store.append('r', update(1));
      await store.append('s', update(2));
      const r = await store.load('r');
      const s = await store.load('s');
      const before = await harness.dump();
      const bad: [Uint8Array, number[]][] = [
        [Uint8Array.of(1), []],
        [Uint8Array.of(1), [r.keys[0]!, r.keys[0]!]],
        [Uint8Array.of(1), [-1]],
        [Uint8Array.of(1), [1.5]],
        [new Uint8Array(0), r.keys],
        [Uint8Array.of(1), [...r.keys, ...s.keys]],
      ];
      for (const [merged, keys] of bad) {
        const error = await rejection(store.compact('r', merged, keys));
        expect(error).toBeInstanceOf(RangeError);
      }
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-5: keys are never reused (after compaction and deleteRoom)', async () => {
      await store.append('r', update(1));
      await store.append('r', update(2));
      const first = await store.load('r');
      await store.compact('r', Uint8Array.of(7), first.keys);
      await store.deleteRoom('r');
      await store.append('r', update(3));
      await store.append('r', update(4));
      const second = await store.load('r');
      for (const key of second.keys) expect(first.keys).not.toContain(key);
      expect(await store.compact('r', Uint8Array.of(8), first.keys)).toBe(false);
    });

    it('LOCAL-5: 200 Yjs updates compacted with Y.mergeUpdates load into an identical doc', async () => {
      const doc = new Y.Doc();
      const messages = doc.getArray<string>('messages');
      const info = doc.getMap<number>('info');
      const pending: Promise<void>[] = [];
      doc.on('update', (u: Uint8Array) => pending.push(store.append('room', u)));
      for (let i = 0; i < 200; i++) {
        // One transaction, one update.
        doc.transact(() => {
          if (i % 10 === 9) messages.delete(0, 1);
          else messages.push([`message ${i}`]);
          if (i % 20 === 0) info.set('edits', i);
        });
      }
      await Promise.all(pending);
      const loaded = await store.load('room');
      expect(loaded.updates).toHaveLength(200);
      expect(shouldCompact(loaded)).toBe(true);
      expect(await store.compact('room', Y.mergeUpdates(loaded.updates), loaded.keys)).toBe(true);
      messages.insert(0, ['after compaction']);
      await Promise.all(pending);
      await reload();

      const after = await store.load('room');
      expect(after.updates).toHaveLength(2);
      expect(shouldCompact(after)).toBe(false);
      const fresh = new Y.Doc();
      for (const u of after.updates) Y.applyUpdate(fresh, u);
      expect(fresh.getArray('messages').toJSON()).toEqual(messages.toJSON());
      expect(fresh.getMap('info').toJSON()).toEqual(info.toJSON());
      expect(Y.encodeStateVector(fresh)).toEqual(Y.encodeStateVector(doc));
      // Deletions survived the merge too: the fresh doc has nothing the original lacks.
      expect(Y.diffUpdate(Y.encodeStateAsUpdate(fresh), Y.encodeStateVector(doc))).toEqual(
        Y.diffUpdate(Y.encodeStateAsUpdate(doc), Y.encodeStateVector(doc)),
      );
    });

    it('LOCAL-6: the record counts updates and bytes; detectLoss sees evicted and partial rooms', async () => {
      for (let i = 0; i < 3; i++) await store.append('r', update(i));
      await store.append('s', update(1));
      expect((await store.listRooms()).map(({ room, updates, bytes }) => ({ room, updates, bytes }))).toEqual([
        { room: 'r', updates: 3, bytes: 12 },
        { room: 's', updates: 1, bytes: 4 },
      ]);
      const loaded = await store.load('r');
      expect(detectLoss(loaded)).toBe(LossStatus.none);
      expect(detectLoss(await store.load('unknown'))).toBe(LossStatus.none);

      await harness.evict('r', [loaded.keys[1]!]);
      const partial = await store.load('r');
      expect(detectLoss(partial)).toBe(LossStatus.partial);
      // Compacting what survived (the caller re-adds what it still has) recounts: no repeat report.
      expect(await store.compact('r', update(9), partial.keys)).toBe(true);
      expect(detectLoss(await store.load('r'))).toBe(LossStatus.none);
      expect((await store.load('r')).recorded).toEqual({ updates: 1, bytes: 4 });
      for (let i = 0; i < 2; i++) await store.append('r', update(i));
      await harness.evict('r');
      const evicted = await store.load('r');
      expect(evicted.updates).toEqual([]);
      expect(evicted.recorded).toEqual({ updates: 3, bytes: 12 });
      expect(detectLoss(evicted)).toBe(LossStatus.evicted);
      expect(detectLoss(await store.load('s'))).toBe(LossStatus.none);
      // A meta-only room is not "evicted": it never stored an update.
      await store.setMeta('m', { title: 'M' });
      expect(detectLoss(await store.load('m'))).toBe(LossStatus.none);
    });

    it('LOCAL-7: meta round trip; a patch merges, undefined removes; meta-only rooms are listed', async () => {
      await store.setMeta('r', { title: 'Room', lastOpenedAt: 1000 });
      await store.setMeta('r', { draft: 'hello', draftAt: 900, lastReadMessageId: 'm-1' });
      expect(await store.getMeta('r')).toEqual({
        title: 'Room',
        lastOpenedAt: 1000,
        draft: 'hello',
        draftAt: 900,
        lastReadMessageId: 'm-1',
      });
      // Relaxed durability (DRAFT-1) writes the same, only without waiting for the disk.
      await store.setMeta('r', { draft: 'hello again', draftAt: 950 }, 'relaxed');
      expect(await store.getMeta('r')).toMatchObject({ draft: 'hello again', draftAt: 950, title: 'Room' });
      await store.setMeta('r', { draft: undefined, draftAt: undefined, lastOpenedAt: 2000 });
      expect(await store.getMeta('r')).toEqual({ title: 'Room', lastOpenedAt: 2000, lastReadMessageId: 'm-1' });
      expect(await store.listRooms()).toEqual([
        { room: 'r', meta: { title: 'Room', lastOpenedAt: 2000, lastReadMessageId: 'm-1' }, updates: 0, bytes: 0 },
      ]);
      // Meta and updates do not disturb each other.
      await store.append('r', update(1));
      const loaded = await store.load('r');
      await store.compact('r', Uint8Array.of(3), loaded.keys);
      expect(await store.getMeta('r')).toEqual({ title: 'Room', lastOpenedAt: 2000, lastReadMessageId: 'm-1' });
      expect(plain((await store.load('r')).updates)).toEqual([[3]]);
      await reload();
      expect((await store.getMeta('r'))?.title).toBe('Room');
    });

    it('LOCAL-7: an invalid meta patch rejects and changes nothing', async () => {
      await store.setMeta('r', { title: 'Room' });
      const before = await harness.dump();
      const patches: unknown[] = [
        { title: 5 },
        { lastOpenedAt: 'yesterday' },
        { lastOpenedAt: Number.NaN },
        { colour: 'red' },
        { draft: 'ok', title: null },
        null,
      ];
      for (const patch of patches) {
        expect(await rejection(store.setMeta('r', patch as never))).toBeInstanceOf(TypeError);
      }
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-7: a patch made from the stored meta is made in the write: concurrent merges into one field lose nothing', async () => {
      await store.setMeta('r', { title: 'Room' });
      // Twenty writers each add their mark to the same field without awaiting the others: as two
      // tabs merging their sync clocks do. A read, then a separate write, would lose most marks.
      const add = (mark: number) => (meta: { readonly sync?: string }) => ({
        sync: JSON.stringify([...(JSON.parse(meta.sync ?? '[]') as number[]), mark]),
      });
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.setMeta('r', add(i))));
      const marks = JSON.parse((await store.getMeta('r'))!.sync!) as number[];
      expect([...marks].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect((await store.getMeta('r'))?.title).toBe('Room');
      // One that makes an invalid patch rejects and changes nothing.
      const before = await harness.dump();
      expect(await rejection(store.setMeta('r', () => ({ title: 5 }) as never))).toBeInstanceOf(TypeError);
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-13: setMetaIf writes only over the exact counters of an existing record; never creates one', async () => {
      await store.append('r', update(1));
      await store.setMeta('r', { title: 'Room' });
      const info = (await store.listRooms())[0]!;
      expect(await store.setMetaIf('r', { lobby: 'one' }, { updates: info.updates, bytes: info.bytes })).toBe(true);
      expect(await store.getMeta('r')).toEqual({ title: 'Room', lobby: 'one' });
      // Counters moved (another tab appended): nothing is written.
      await store.append('r', update(2));
      const before = await harness.dump();
      expect(await store.setMetaIf('r', { lobby: 'two' }, { updates: info.updates, bytes: info.bytes })).toBe(false);
      expect(await store.setMetaIf('r', { lobby: 'two' }, { updates: 2, bytes: 4 * 2 + 1 })).toBe(false);
      // A room that is not stored (or another tab deleted) is not recreated.
      expect(await store.setMetaIf('gone', { lobby: 'x' }, { updates: 0, bytes: 0 })).toBe(false);
      expect(await harness.dump()).toEqual(before);
      expect(await store.setMetaIf('r', { lobby: undefined, draft: 'd' }, { updates: 2, bytes: 8 })).toBe(true);
      expect(await store.getMeta('r')).toEqual({ title: 'Room', draft: 'd' });
      // Invalid arguments reject as programming errors and write nothing.
      const after = await harness.dump();
      for (const at of [null, { updates: -1, bytes: 0 }, { updates: 1 }, { updates: 1.5, bytes: 0 }]) {
        expect(await rejection(store.setMetaIf('r', { draft: 'e' }, at as never))).toBeInstanceOf(TypeError);
      }
      expect(
        await rejection(store.setMetaIf('r', { colour: 'red' } as never, { updates: 2, bytes: 8 })),
      ).toBeInstanceOf(TypeError);
      harness.failNextWrite(quota());
      expect(
        ((await rejection(store.setMetaIf('r', { draft: 'e' }, { updates: 2, bytes: 8 }))) as StorageError).kind,
      ).toBe(StorageErrorKind.quota);
      expect(await harness.dump()).toEqual(after);
    });

    it('LOCAL-2: a failed append rejects with StorageError(quota), stores nothing, is reported, and the store keeps working', async () => {
      const reported: StorageError[] = [];
      store.onError((error) => reported.push(error));
      await store.append('r', update(1));
      const before = await harness.dump();
      harness.failNextWrite(quota());
      const error = await rejection(store.append('r', update(2)));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).kind).toBe(StorageErrorKind.quota);
      expect((error as StorageError).message).toMatch(/storage space/);
      expect(reported).toEqual([error]);
      expect(await harness.dump()).toEqual(before);
      // The caller's retry succeeds.
      await store.append('r', update(2));
      expect(plain((await store.load('r')).updates)).toEqual(plain([update(1), update(2)]));
    });

    it('LOCAL-2: failed compact, setMeta and deleteRoom store nothing', async () => {
      await store.append('r', update(1));
      await store.append('r', update(2));
      await store.setMeta('r', { title: 'Room' });
      const loaded = await store.load('r');
      const before = await harness.dump();
      const writes: (() => Promise<unknown>)[] = [
        () => store.compact('r', Uint8Array.of(9), loaded.keys),
        () => store.setMeta('r', { title: 'Other', draft: 'x' }),
        () => store.deleteRoom('r'),
      ];
      for (const write of writes) {
        harness.failNextWrite(quota());
        const error = await rejection(write());
        expect((error as StorageError).kind).toBe(StorageErrorKind.quota);
        expect(await harness.dump()).toEqual(before);
      }
    });

    it('LOCAL-2: invalid arguments reject with TypeError/RangeError (never synchronously) and store nothing', async () => {
      const before = await harness.dump();
      const calls: (() => Promise<unknown>)[] = [
        () => store.append(5 as unknown as string, update(1)),
        () => store.append('r', new Uint8Array(0)),
        () => store.append('r', [1, 2] as unknown as Uint8Array),
        () => store.load(undefined as unknown as string),
        () => store.deleteRoom({} as unknown as string),
      ];
      for (const call of calls) {
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = call())).not.toThrow();
        const error = await rejection(promise!);
        expect(error instanceof TypeError || error instanceof RangeError, String(error)).toBe(true);
      }
      expect(await harness.dump()).toEqual(before);
    });

    it('LOCAL-8: a lost connection is reported as closed and the next call reopens', async () => {
      const reported: StorageError[] = [];
      store.onError((error) => reported.push(error));
      await store.append('r', update(1));
      await harness.loseConnection();
      expect(reported.map((error) => error.kind)).toEqual([StorageErrorKind.closed]);
      expect(plain((await store.load('r')).updates)).toEqual(plain([update(1)]));
      await store.append('r', update(2));
      expect(plain((await store.load('r')).updates)).toEqual(plain([update(1), update(2)]));
      expect(reported).toHaveLength(1);
    });

    it('LOCAL-8: close() is final: every call rejects with kind closed, never throws synchronously', async () => {
      await store.append('r', update(1));
      await store.close();
      await store.close();
      const calls: (() => Promise<unknown>)[] = [
        () => store.load('r'),
        () => store.append('r', update(2)),
        () => store.compact('r', Uint8Array.of(1), [1]),
        () => store.listRooms(),
        () => store.getMeta('r'),
        () => store.setMeta('r', { title: 'x' }),
        () => store.deleteRoom('r'),
      ];
      for (const call of calls) {
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = call())).not.toThrow();
        const error = await rejection(promise!);
        expect(error).toBeInstanceOf(StorageError);
        expect((error as StorageError).kind).toBe(StorageErrorKind.closed);
      }
      await reload();
      expect((await store.load('r')).updates).toHaveLength(1);
    });

    it('LOCAL-9: bytes are copied in and out, and only the bytes of a view are stored', async () => {
      const input = update(1);
      await store.append('r', input);
      input.fill(0);
      const backing = Uint8Array.of(9, 9, ...update(2), 9, 9);
      await store.append('r', backing.subarray(2, 6));
      const loaded = await store.load('r');
      expect(plain(loaded.updates)).toEqual(plain([update(1), update(2)]));
      expect(loaded.updates[1]!.buffer.byteLength).toBe(4);
      for (const u of loaded.updates) {
        expect(Object.getPrototypeOf(u)).toBe(Uint8Array.prototype);
        u.fill(0);
      }
      expect(plain((await store.load('r')).updates)).toEqual(plain([update(1), update(2)]));
    });

    it('LOCAL-12: held ranges of an unknown room are empty; they follow append, appendMissing and compact', async () => {
      expect((await store.held('r'))?.stateVector()).toEqual(new Map());
      const { updates, doc } = yjsUpdates(3, 5);
      await store.append('r', updates[0]!);
      await store.append('r', updates[1]!);
      expect((await store.held('r'))?.stateVector()).toEqual(storedStateVector(updates.slice(0, 2)));
      // Another tab appends meanwhile: folded in on the next read.
      await store.append('r', updates[2]!);
      const result = await store.appendMissing('r', updates.slice(1));
      expect(plain(result.appended)).toEqual(plain(updates.slice(3)));
      expect(result.before).toEqual({ updates: 3, bytes: sum(updates.slice(0, 3)) });
      expect((await store.load('r')).updates.length).toBe(updates.length);
      expect((await store.held('r'))?.stateVector()).toEqual(decodeSv(Y.encodeStateVector(doc)));
      const loaded = await store.load('r');
      expect(await store.compact('r', Y.mergeUpdates(loaded.updates), loaded.keys)).toBe(true);
      await reload();
      expect((await store.held('r'))?.stateVector()).toEqual(decodeSv(Y.encodeStateVector(doc)));
    });

    it('LOCAL-12: appendMissing stores nothing that is held (nor a repeated deletion) and says what it stored', async () => {
      const { updates } = yjsUpdates(2, 4);
      for (const u of updates) await store.append('r', u);
      const before = await store.load('r');
      const counters = { updates: updates.length, bytes: sum(updates) };
      const none = { appended: [], before: counters, deletesOlder: false };
      expect(await store.appendMissing('r', [...updates, Y.mergeUpdates(updates)])).toEqual(none);
      expect(await store.appendMissing('r', [])).toEqual(none);
      expect(await store.load('r')).toEqual(before);
      expect(before.recorded).toEqual(counters);
      const doc = new Y.Doc();
      for (const u of updates) Y.applyUpdate(doc, u);
      // A new entry deleted in the same batch deletes nothing older; deleting a stored entry does.
      const added = captureUpdate(doc, () => doc.getMap('m').set('fresh', 1));
      const removed = captureUpdate(doc, () => doc.getMap('m').delete('fresh'));
      const own = await store.appendMissing('r', [added, removed]);
      expect(own).toEqual({ appended: [added, removed], before: counters, deletesOlder: false });
      const deletion = captureUpdate(doc, () => doc.getMap('m').delete('k0'));
      expect((await store.appendMissing('r', [deletion])).deletesOlder).toBe(true);
      expect((await store.appendMissing('r', [deletion])).appended).toEqual([]);
      expect((await store.load('r')).recorded).toEqual({
        updates: updates.length + 3,
        bytes: sum(updates) + added.length + removed.length + deletion.length,
      });
    });

    it('LOCAL-12: held never claims past a gap, and refuses to answer after rows vanished (LOCAL-6)', async () => {
      const { updates } = yjsUpdates(1, 4);
      await store.append('r', updates[0]!);
      await store.append('r', updates[2]!);
      expect((await store.held('r'))?.stateVector()).toEqual(storedStateVector([updates[0]!]));
      const keys = (await store.load('r')).keys;
      await harness.evict('r', [keys[0]!]);
      expect(await store.held('r')).toBeUndefined();
      await store.deleteRoom('r');
      expect((await store.held('r'))?.stateVector()).toEqual(new Map());
    });

    it('LOCAL-12: held never over-claims under random interleavings of tab appends, refreshes and compactions (seeded)', async () => {
      const seed = seedFromEnv();
      const rng = new Prng(seed);
      try {
        for (let round = 0; round < 8; round++) {
          const room = `r${round}`;
          const { updates } = yjsUpdates(rng.int(1, 4), rng.int(5, 20), rng);
          for (let step = 0; step < 40; step++) {
            const action = rng.int(0, 3);
            if (action === 0) await store.append(room, rng.pick(updates));
            else if (action === 1) {
              await store.appendMissing(
                room,
                Array.from({ length: rng.int(0, 3) }, () => rng.pick(updates)),
              );
            } else if (action === 2) {
              const loaded = await store.load(room);
              if (loaded.keys.length > 1) await store.compact(room, Y.mergeUpdates(loaded.updates), loaded.keys);
            } else {
              const held = await store.held(room);
              expect(held?.stateVector()).toEqual(storedStateVector((await store.load(room)).updates));
            }
          }
          const held = await store.held(room);
          expect(held?.stateVector()).toEqual(storedStateVector((await store.load(room)).updates));
        }
      } catch (error) {
        console.error(`LOCAL-12 interleavings failed with SEED=${seed}`);
        throw error;
      }
    });

    it('deleteRoom removes the updates and record of that room only; an unknown room is fine', async () => {
      await store.append('r', update(1));
      await store.setMeta('r', { title: 'R' });
      await store.append('s', update(2));
      await store.deleteRoom('r');
      await store.deleteRoom('unknown');
      expect(await store.load('r')).toEqual({ updates: [], keys: [], bytes: 0, recorded: undefined });
      expect(await store.getMeta('r')).toBeUndefined();
      expect((await store.listRooms()).map((info) => info.room)).toEqual(['s']);
      await reload();
      expect((await store.load('r')).updates).toEqual([]);
      expect(plain((await store.load('s')).updates)).toEqual(plain([update(2)]));
    });

    it('estimate and persist resolve without throwing', async () => {
      const usage = await store.estimate();
      expect(usage === undefined || typeof usage === 'object').toBe(true);
      expect(typeof (await store.persist())).toBe('boolean');
    });

    it('onError returns an unsubscribe function', async () => {
      const reported: StorageError[] = [];
      const unsubscribe = store.onError((error) => reported.push(error));
      unsubscribe();
      harness.failNextWrite(quota());
      await rejection(store.append('r', update(1)));
      expect(reported).toEqual([]);
    });
  });
}

/**
 * Updates of `clients` Y.Docs making `edits` map edits each (sets and deletes), exchanged between
 * them at random: some updates depend on others of another client, and any subset of them leaves
 * gaps. `doc` holds all of them.
 */
function yjsUpdates(clients: number, edits: number, rng = new Prng(1)): { updates: Uint8Array[]; doc: Y.Doc } {
  const docs = Array.from({ length: clients }, () => new Y.Doc());
  const updates: Uint8Array[] = [];
  for (let i = 0; i < edits; i++) {
    for (const d of docs) {
      const m = d.getMap<number>('m');
      const key = `k${rng.int(0, 5)}`;
      const u = captureUpdate(d, () => (rng.bool(0.2) && m.has(key) ? m.delete(key) : m.set(key, i)));
      if (u.length > 2) updates.push(u);
      // Share it with one other doc sometimes, so later edits reference it.
      if (rng.bool(0.5)) Y.applyUpdate(rng.pick(docs), u);
    }
  }
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, u);
  return { updates, doc };
}

function captureUpdate(doc: Y.Doc, edit: () => void): Uint8Array {
  let captured: Uint8Array = new Uint8Array([0, 0]);
  const listener = (u: Uint8Array): void => {
    captured = u;
  };
  doc.on('update', listener);
  edit();
  doc.off('update', listener);
  return captured;
}

/**
 * The conservative state vector of stored updates, computed independently of the store: each
 * client's clocks contiguous from 0 over the structs `Y.decodeUpdate` finds (Skips hold nothing).
 */
function storedStateVector(updates: readonly Uint8Array[]): Map<number, number> {
  const ranges = new Map<number, Array<[number, number]>>();
  for (const u of updates) {
    for (const struct of Y.decodeUpdate(u).structs) {
      if (struct instanceof Y.Skip) continue;
      const list = ranges.get(struct.id.client) ?? [];
      list.push([struct.id.clock, struct.id.clock + struct.length]);
      ranges.set(struct.id.client, list);
    }
  }
  const sv = new Map<number, number>();
  for (const [client, list] of ranges) {
    list.sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (const [start, stop] of list) if (start <= end) end = Math.max(end, stop);
    if (end > 0) sv.set(client, end);
  }
  return sv;
}

function decodeSv(bytes: Uint8Array): Map<number, number> {
  return Y.decodeStateVector(bytes);
}

function sum(updates: readonly Uint8Array[]): number {
  return updates.reduce((n, u) => n + u.length, 0);
}
