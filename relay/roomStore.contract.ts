/**
 * The acceptance suite every `RoomStore` must pass (rules STORE-1..3, see relay/roomStore.ts).
 * Call `roomStoreContract` from a test file once per implementation.
 *
 * Beyond the interface's rules it pins the guards both implementations keep so that STORE-3's
 * clean-up can never drop data: no append inside a segment, no partially overlapping segments, no
 * deleteCovered without a covering segment. It also pins that returned updates are plain
 * `Uint8Array`s, so callers can compare them with `toEqual` against their own bytes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppendEntry, RoomStore, StoredRoom } from './roomStore.js';

export interface RoomStoreHarness {
  readonly store: RoomStore;
  /**
   * Closes the current store and opens a new one over the same durable data (a relay restart).
   * After it, `cleanup` must release whichever store is current.
   */
  readonly reopen?: () => Promise<RoomStore>;
  /** Arms a simulated disk error for the next `append` of the current store, where supported. */
  readonly failNextAppend?: (error: Error) => void;
  /** Closes the current store (it may already be closed) and removes any files. */
  readonly cleanup: () => Promise<void>;
}

/** A recognisable update for (seq, tag): tests compare exact bytes, never just lengths. */
function update(seq: number, tag = 1): Uint8Array {
  return Uint8Array.of(tag, seq & 0xff, (seq >>> 8) & 0xff, 0x5a);
}

function segmentUpdate(seqLo: number, seqHi: number, tag = 0xee): Uint8Array {
  return Uint8Array.of(tag, seqLo & 0xff, seqHi & 0xff);
}

function entries(room: string, seqs: readonly number[], tag = 1): AppendEntry[] {
  return seqs.map((seq) => ({ room, seq, update: update(seq, tag) }));
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

type Shape = { segments: [number, number, number[]][]; log: [number, number[]][] };

/** A plain-data picture of a loaded room, for readable deep equality. */
function shape(room: StoredRoom): Shape {
  return {
    segments: room.segments.map((s) => [s.seqLo, s.seqHi, Array.from(s.update)]),
    log: room.log.map((e) => [e.seq, Array.from(e.update)]),
  };
}

function expected(segments: [number, number][], log: number[], tag = 1): Shape {
  return {
    segments: segments.map(([lo, hi]) => [lo, hi, Array.from(segmentUpdate(lo, hi))]),
    log: log.map((seq) => [seq, Array.from(update(seq, tag))]),
  };
}

/** Bytes that are unlikely to survive any truncation, offset or reordering unnoticed. */
function patterned(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >>> 8) * 7 + salt) & 0xff;
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * What an implementation can do in a test: a hook to fail the next append (the SQLite store's
 * real disk-full failure is tested in roomStore.test.ts instead) and reopening on the same data.
 * Tests that need a capability are declared only where it exists (never skipped).
 */
export interface RoomStoreCapabilities {
  readonly failNextAppend: boolean;
  readonly reopen: boolean;
}

export function roomStoreContract(
  name: string,
  make: () => Promise<RoomStoreHarness>,
  capabilities: RoomStoreCapabilities,
): void {
  describe(`RoomStore contract: ${name}`, () => {
    let harness: RoomStoreHarness;
    let store: RoomStore;

    beforeEach(async () => {
      harness = await make();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    /** Restart when the implementation supports it; otherwise keep the same store. */
    async function restart(): Promise<void> {
      if (harness.reopen) store = await harness.reopen();
    }

    it('unknown room loads empty', async () => {
      expect(shape(await store.load('nobody'))).toEqual({ segments: [], log: [] });
      expect(await store.hasRoom('nobody')).toBe(false);
      expect(await store.roomCount()).toBe(0);
      // Loading does not create the room.
      expect(await store.hasRoom('nobody')).toBe(false);
    });

    it('STORE-1: append then load returns every entry in seq order', async () => {
      await store.append(entries('r', [3, 1]));
      await store.append(entries('r', [2, 5, 4]));
      expect(shape(await store.load('r'))).toEqual(expected([], [1, 2, 3, 4, 5]));
    });

    it('STORE-1: entries of several rooms in one append', async () => {
      await store.append([
        { room: 'a', seq: 1, update: update(1, 0xa) },
        { room: 'b', seq: 1, update: update(1, 0xb) },
        { room: 'a', seq: 2, update: update(2, 0xa) },
        { room: 'c', seq: 7, update: update(7, 0xc) },
      ]);
      expect(shape(await store.load('a'))).toEqual(expected([], [1, 2], 0xa));
      expect(shape(await store.load('b'))).toEqual(expected([], [1], 0xb));
      expect(shape(await store.load('c'))).toEqual(expected([], [7], 0xc));
      expect(await store.roomCount()).toBe(3);
    });

    it('STORE-1: an empty append resolves and stores nothing', async () => {
      await store.append([]);
      expect(await store.roomCount()).toBe(0);
    });

    it('STORE-1: a rejected append stores nothing (duplicate seq within the batch)', async () => {
      const batch = [...entries('a', [1, 2]), ...entries('b', [1]), ...entries('a', [2])];
      await expect(store.append(batch)).rejects.toThrow();
      expect(shape(await store.load('a'))).toEqual({ segments: [], log: [] });
      expect(shape(await store.load('b'))).toEqual({ segments: [], log: [] });
      expect(await store.hasRoom('a')).toBe(false);
      expect(await store.roomCount()).toBe(0);
    });

    it('STORE-1: a rejected append stores nothing (seq already stored)', async () => {
      await store.append(entries('a', [1]));
      await expect(store.append([...entries('b', [1]), ...entries('a', [2, 1], 9)])).rejects.toThrow();
      expect(shape(await store.load('a'))).toEqual(expected([], [1]));
      expect(await store.hasRoom('b')).toBe(false);
      expect(await store.roomCount()).toBe(1);
    });

    it('STORE-1: a rejected append stores nothing (invalid seq)', async () => {
      for (const seq of [-1, 1.5, Number.NaN, 2 ** 53]) {
        await expect(store.append([...entries('a', [1]), { room: 'a', seq, update: update(0) }])).rejects.toThrow();
      }
      expect(await store.roomCount()).toBe(0);
    });

    const withFailHook = capabilities.failNextAppend ? it : undefined;
    withFailHook?.(
      'STORE-1: a disk error rejects the append, stores nothing, and the store keeps working',
      async () => {
        if (!harness.failNextAppend) throw new Error('capability failNextAppend declared but the harness has no hook');
        await store.append(entries('a', [1]));
        const diskError = new Error('simulated EIO');
        harness.failNextAppend(diskError);
        await expect(store.append([...entries('a', [2]), ...entries('b', [1])])).rejects.toBe(diskError);
        expect(shape(await store.load('a'))).toEqual(expected([], [1]));
        expect(await store.hasRoom('b')).toBe(false);
        // The failure was one-shot: the caller's retry of the same batch succeeds.
        await store.append([...entries('a', [2]), ...entries('b', [1])]);
        expect(shape(await store.load('a'))).toEqual(expected([], [1, 2]));
        expect(shape(await store.load('b'))).toEqual(expected([], [1]));
      },
    );

    it('STORE-1: the same seq in different rooms is independent', async () => {
      await store.append(entries('a', [1, 2]));
      await store.append(entries('b', [1, 2], 2));
      expect(shape(await store.load('a'))).toEqual(expected([], [1, 2]));
      expect(shape(await store.load('b'))).toEqual(expected([], [1, 2], 2));
    });

    it('STORE-2: writeSegment then deleteCovered leaves only the segment', async () => {
      await store.append(entries('r', range(1, 6)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 4, update: segmentUpdate(1, 4) });
      await store.deleteCovered('r', 1, 4);
      expect(shape(await store.load('r'))).toEqual(expected([[1, 4]], [5, 6]));
    });

    it('STORE-2: a compaction over earlier segments and rows replaces them all', async () => {
      await store.append(entries('r', range(1, 4)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 2, update: segmentUpdate(1, 2) });
      await store.deleteCovered('r', 1, 2);
      await store.writeSegment('r', { seqLo: 3, seqHi: 4, update: segmentUpdate(3, 4) });
      await store.deleteCovered('r', 3, 4);
      await store.append(entries('r', range(5, 8)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 6, update: segmentUpdate(1, 6) });
      await store.deleteCovered('r', 1, 6);
      expect(shape(await store.load('r'))).toEqual(expected([[1, 6]], [7, 8]));
    });

    it('STORE-2: deleteCovered twice (a retried step 2) is harmless', async () => {
      await store.append(entries('r', range(1, 3)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 2, update: segmentUpdate(1, 2) });
      await store.deleteCovered('r', 1, 2);
      await store.deleteCovered('r', 1, 2);
      expect(shape(await store.load('r'))).toEqual(expected([[1, 2]], [3]));
    });

    it('STORE-2: writeSegment with a stored range again (a retried step 1) replaces it', async () => {
      await store.append(entries('r', range(1, 3)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 3, update: segmentUpdate(1, 3, 0x01) });
      await store.writeSegment('r', { seqLo: 1, seqHi: 3, update: segmentUpdate(1, 3) });
      await store.deleteCovered('r', 1, 3);
      expect(shape(await store.load('r'))).toEqual(expected([[1, 3]], []));
    });

    it('STORE-2: deleteCovered without a covering segment rejects and deletes nothing', async () => {
      await store.append(entries('r', range(1, 6)));
      await expect(store.deleteCovered('r', 1, 4)).rejects.toThrow();
      await store.writeSegment('r', { seqLo: 1, seqHi: 2, update: segmentUpdate(1, 2) });
      // [1, 2] does not cover [1, 4].
      await expect(store.deleteCovered('r', 1, 4)).rejects.toThrow();
      await expect(store.deleteCovered('nobody', 1, 4)).rejects.toThrow();
      expect(shape(await store.load('r'))).toEqual(expected([[1, 2]], [3, 4, 5, 6]));
    });

    it('STORE-2: a segment partially overlapping a stored one is rejected', async () => {
      await store.append(entries('r', range(1, 10)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 5, update: segmentUpdate(1, 5) });
      await expect(store.writeSegment('r', { seqLo: 4, seqHi: 8, update: segmentUpdate(4, 8) })).rejects.toThrow();
      await expect(store.writeSegment('r', { seqLo: 0, seqHi: 1, update: segmentUpdate(0, 1) })).rejects.toThrow();
      await expect(store.writeSegment('r', { seqLo: 3, seqHi: 2, update: segmentUpdate(3, 2) })).rejects.toThrow();
      expect(shape(await store.load('r'))).toEqual(expected([[1, 5]], range(6, 10)));
    });

    it('STORE-3: an append inside a stored segment is rejected (load would drop it)', async () => {
      await store.append(entries('r', [1, 2, 4]));
      await store.writeSegment('r', { seqLo: 1, seqHi: 4, update: segmentUpdate(1, 4) });
      await store.deleteCovered('r', 1, 4);
      await expect(store.append([...entries('r', [5]), ...entries('r', [3])])).rejects.toThrow();
      expect(shape(await store.load('r'))).toEqual(expected([[1, 4]], []));
    });

    it('STORE-3: load after a crash between writeSegment and deleteCovered returns the segment and no covered rows', async () => {
      await store.append(entries('r', range(1, 6)));
      await store.writeSegment('r', { seqLo: 2, seqHi: 4, update: segmentUpdate(2, 4) });
      await restart();
      expect(shape(await store.load('r'))).toEqual(expected([[2, 4]], [1, 5, 6]));
      // The clean-up is durable and leaves a store that keeps working.
      await restart();
      expect(shape(await store.load('r'))).toEqual(expected([[2, 4]], [1, 5, 6]));
      await store.deleteCovered('r', 2, 4);
      await store.append(entries('r', [7]));
      expect(shape(await store.load('r'))).toEqual(expected([[2, 4]], [1, 5, 6, 7]));
    });

    it('STORE-3: a segment inside a larger segment is dropped on load', async () => {
      await store.append(entries('r', range(1, 12)));
      await store.writeSegment('r', { seqLo: 1, seqHi: 5, update: segmentUpdate(1, 5) });
      await store.deleteCovered('r', 1, 5);
      await store.writeSegment('r', { seqLo: 6, seqHi: 8, update: segmentUpdate(6, 8) });
      // Same start, larger end: the sort must not keep the smaller one.
      await store.writeSegment('r', { seqLo: 1, seqHi: 10, update: segmentUpdate(1, 10) });
      await restart();
      expect(shape(await store.load('r'))).toEqual(expected([[1, 10]], [11, 12]));
      expect(await store.roomCount()).toBe(1);
      await store.deleteCovered('r', 1, 10);
      expect(shape(await store.load('r'))).toEqual(expected([[1, 10]], [11, 12]));
    });

    it('load returns segments sorted by seqLo, with the log rows between them', async () => {
      await store.append(entries('r', range(1, 12)));
      await store.writeSegment('r', { seqLo: 7, seqHi: 9, update: segmentUpdate(7, 9) });
      await store.deleteCovered('r', 7, 9);
      await store.writeSegment('r', { seqLo: 2, seqHi: 3, update: segmentUpdate(2, 3) });
      await store.deleteCovered('r', 2, 3);
      await store.writeSegment('r', { seqLo: 11, seqHi: 11, update: segmentUpdate(11, 11) });
      expect(shape(await store.load('r'))).toEqual(
        expected(
          [
            [2, 3],
            [7, 9],
            [11, 11],
          ],
          [1, 4, 5, 6, 10, 12],
        ),
      );
    });

    it('hasRoom/roomCount', async () => {
      expect(await store.roomCount()).toBe(0);
      await store.append([...entries('a', [1, 2]), ...entries('b', [1])]);
      // A room holding only a segment counts too.
      await store.writeSegment('c', { seqLo: 0, seqHi: 9, update: segmentUpdate(0, 9) });
      expect(await store.hasRoom('a')).toBe(true);
      expect(await store.hasRoom('b')).toBe(true);
      expect(await store.hasRoom('c')).toBe(true);
      expect(await store.hasRoom('d')).toBe(false);
      expect(await store.roomCount()).toBe(3);
      // Compaction never empties a room.
      await store.writeSegment('a', { seqLo: 1, seqHi: 2, update: segmentUpdate(1, 2) });
      await store.deleteCovered('a', 1, 2);
      expect(await store.hasRoom('a')).toBe(true);
      expect(await store.roomCount()).toBe(3);
    });

    it('room names are exact strings (case, unicode, prefixes)', async () => {
      const names = ['room', 'Room', 'room ', 'röom/🙂', 'ro', ''];
      await store.append(names.map((room, i) => ({ room, seq: 1, update: update(1, i) })));
      for (const [i, room] of names.entries()) {
        expect(shape(await store.load(room))).toEqual(expected([], [1], i));
      }
      expect(await store.roomCount()).toBe(names.length);
    });

    it('bytes are copied (mutating the input after append does not change stored data)', async () => {
      const input = update(1);
      const segment = segmentUpdate(2, 2);
      await store.append([{ room: 'r', seq: 1, update: input }]);
      input.fill(0);
      await store.append(entries('r', [2]));
      await store.writeSegment('r', { seqLo: 2, seqHi: 2, update: segment });
      segment.fill(0);
      const loaded = await store.load('r');
      expect(shape(loaded)).toEqual(expected([[2, 2]], [1]));
      // Nor does mutating what load returned.
      for (const s of loaded.segments) s.update.fill(0);
      for (const e of loaded.log) e.update.fill(0);
      expect(shape(await store.load('r'))).toEqual(expected([[2, 2]], [1]));
    });

    it('stores only the bytes of a view, not its whole underlying buffer', async () => {
      const backing = Uint8Array.of(9, 9, ...update(1), 9, 9);
      await store.append([{ room: 'r', seq: 1, update: backing.subarray(2, 6) }]);
      expect(shape(await store.load('r'))).toEqual(expected([], [1]));
    });

    it('returned updates are plain Uint8Arrays', async () => {
      await store.append(entries('r', [1, 2]));
      await store.writeSegment('r', { seqLo: 2, seqHi: 2, update: segmentUpdate(2, 2) });
      const loaded = await store.load('r');
      for (const bytes of [...loaded.segments, ...loaded.log].map((x) => x.update)) {
        expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
      }
    });

    const withReopen = capabilities.reopen ? it : undefined;
    withReopen?.('survives reopen', async () => {
      if (!harness.reopen) throw new Error('capability reopen declared but the harness has no reopen');
      await store.append([...entries('a', range(1, 5)), ...entries('b', [1])]);
      await store.writeSegment('a', { seqLo: 1, seqHi: 3, update: segmentUpdate(1, 3) });
      await store.deleteCovered('a', 1, 3);
      store = await harness.reopen();
      expect(shape(await store.load('a'))).toEqual(expected([[1, 3]], [4, 5]));
      expect(shape(await store.load('b'))).toEqual(expected([], [1]));
      expect(await store.hasRoom('a')).toBe(true);
      expect(await store.roomCount()).toBe(2);
      // Still enforces its rules after reopening.
      await expect(store.append(entries('a', [5]))).rejects.toThrow();
      await store.append(entries('a', [6]));
      expect(shape(await store.load('a'))).toEqual(expected([[1, 3]], [4, 5, 6]));
    });

    it('large blob (4 MiB) round trip', async () => {
      const size = 4 * 1024 * 1024;
      const logBlob = patterned(size, 1);
      const segmentBlob = patterned(size + 3, 2);
      await store.append([{ room: 'big', seq: 1, update: logBlob }, ...entries('big', [2])]);
      await store.writeSegment('big', { seqLo: 2, seqHi: 2, update: segmentBlob });
      await store.deleteCovered('big', 2, 2);
      await restart();
      const loaded = await store.load('big');
      expect(loaded.log.map((e) => e.seq)).toEqual([1]);
      expect(loaded.segments.map((s) => [s.seqLo, s.seqHi])).toEqual([[2, 2]]);
      expect(sameBytes(loaded.log[0]!.update, logBlob)).toBe(true);
      expect(sameBytes(loaded.segments[0]!.update, segmentBlob)).toBe(true);
    });

    it('every operation rejects (never throws synchronously) after close', async () => {
      await store.append(entries('r', [1]));
      await store.close();
      await store.close();
      const calls: (() => Promise<unknown>)[] = [
        () => store.load('r'),
        () => store.append(entries('r', [2])),
        () => store.writeSegment('r', { seqLo: 1, seqHi: 1, update: segmentUpdate(1, 1) }),
        () => store.deleteCovered('r', 1, 1),
        () => store.hasRoom('r'),
        () => store.roomCount(),
      ];
      for (const call of calls) {
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = call())).not.toThrow();
        await expect(promise).rejects.toThrow();
      }
    });
  });
}
