import { describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { MemoryStorage } from './memoryStorage.js';
import { MARK_TTL_MS, PartitionMarks, TabFaults } from './tabFaults.js';

/** Two tabs of one browser profile: one localStorage, one clock. */
const twoTabs = (): { a: TabFaults; b: TabFaults; storage: MemoryStorage; clock: { now: number } } => {
  const storage = new MemoryStorage();
  const clock = { now: 1000 };
  const tab = (id: string): TabFaults => new TabFaults(new PartitionMarks(storage, id), () => clock.now);
  return { a: tab('a'), b: tab('b'), storage, clock };
};

const PARTITIONED = { ...NO_FAULTS, partitioned: true };

describe('LAB-10: a tab keeps its Lab faults per room, and a partition holds the room back on the device', () => {
  it('LAB-10 a session opened on the room again in the same tab starts with its faults, all of them', () => {
    const { a } = twoTabs();
    const faults = { ...NO_FAULTS, dropPct: 30, skewMs: -60_000 };
    a.remember('maths', faults);
    expect(a.startingFaults('maths')).toEqual(faults);
    expect(a.startingFaults('physics')).toBeUndefined();
    expect(a.partitionedHere('maths')).toBe(false); // only a partition holds the room back
    a.remember('maths', NO_FAULTS);
    expect(a.startingFaults('maths')).toBeUndefined();
  });

  it('LAB-10 another tab sees the partition: its lobby skips the room and a new session there starts partitioned', () => {
    const { a, b } = twoTabs();
    a.remember('maths', { ...PARTITIONED, skewMs: 5000 });
    expect(b.partitionedHere('maths')).toBe(true);
    // Only the partition carries over, not the other tab's other faults.
    expect(b.startingFaults('maths')).toEqual(PARTITIONED);
    expect(b.partitionedHere('physics')).toBe(false);
    a.remember('maths', NO_FAULTS);
    expect(b.partitionedHere('maths')).toBe(false);
  });

  it('LAB-10 a mark lasts while renewed; a tab that crashed holds the room back for at most MARK_TTL_MS', () => {
    const { a, b, clock, storage } = twoTabs();
    a.remember('maths', PARTITIONED);
    clock.now += MARK_TTL_MS - 1;
    a.renew();
    clock.now += MARK_TTL_MS - 1;
    expect(b.partitionedHere('maths')).toBe(true);
    // Tab a is gone without a word: nobody renews its mark.
    clock.now += 1;
    expect(b.partitionedHere('maths')).toBe(false);
    expect(storage.length).toBe(0); // the expired mark is cleaned up
  });

  it('LAB-10 two tabs partitioned: the room is held back until both lifted it or went away (a reload clears faults)', () => {
    const { a, b } = twoTabs();
    a.remember('maths', PARTITIONED);
    b.remember('maths', PARTITIONED);
    a.remember('maths', NO_FAULTS);
    expect(a.partitionedHere('maths')).toBe(true); // b still holds it
    expect(a.startingFaults('maths')).toEqual(PARTITIONED);
    b.release(); // b's page goes away
    expect(a.partitionedHere('maths')).toBe(false);
    expect(a.startingFaults('maths')).toBeUndefined();
  });

  it("REMOVE-1 a room removed from the device forgets this tab's faults and mark for it, not another tab's", () => {
    const { a, b, storage } = twoTabs();
    a.remember('maths', { ...PARTITIONED, dropPct: 30 });
    a.remember('physics', PARTITIONED);
    a.forget('maths');
    expect(a.startingFaults('maths')).toBeUndefined();
    expect(b.partitionedHere('maths')).toBe(false);
    expect(a.partitionedHere('physics')).toBe(true); // the other room's stay
    b.remember('maths', PARTITIONED);
    a.remember('maths', PARTITIONED);
    a.forget('maths');
    expect(a.startingFaults('maths')).toEqual(PARTITIONED); // b's partition still holds the device
    expect(storage.length).toBe(2); // b's mark of maths and a's of physics
  });

  it('LAB-10 a storage that refuses writes leaves the partition to this tab alone (nothing thrown)', () => {
    const storage = new MemoryStorage();
    storage.setItem = () => {
      throw new DOMException('full', 'QuotaExceededError');
    };
    const a = new TabFaults(new PartitionMarks(storage, 'a'), () => 0);
    a.remember('maths', PARTITIONED);
    expect(a.partitionedHere('maths')).toBe(true);
    expect(storage.length).toBe(0);
  });
});
