import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { IN_USE, memoryRoomLocks } from '../storage/roomLocks.js';
import { encodeReadSv } from '../sync/readMark.js';
import { MemoryStorage } from './memoryStorage.js';
import { keptIsNewer, ReadMarkKeeper, readMarkKey, readMarkRoom, type ReadMark } from './readMarkKeeper.js';

/** A room's doc as one writer (Yjs client 7) grows it, and the read mark taken at each step. */
const marks = (): ReadMark[] => {
  const doc = new Y.Doc();
  doc.clientID = 7;
  const list = doc.getArray<string>('m');
  return ['m-1', 'm-2', 'm-3'].map((id) => {
    list.push([id]);
    return { id, sv: encodeReadSv(Y.encodeStateVector(doc)) };
  });
};
const [first, second, third] = marks() as [ReadMark, ReadMark, ReadMark];

/** One browser profile: its localStorage and room store, and a page (a keeper) that comes and goes. */
const profile = () => {
  const kv = new MemoryStorage();
  const store = new MemoryRoomUpdateStore();
  const locks = memoryRoomLocks();
  const page = (): ReadMarkKeeper => new ReadMarkKeeper(kv, locks);
  const stored = async (room = 'maths') => {
    const meta = await store.getMeta(room);
    return meta && { id: meta.lastReadMessageId, sv: meta.readSv };
  };
  /** The store as a page that goes before IndexedDB answered sees it: a write never completes. */
  const goneWithThePage = {
    getMeta: (room: string) => store.getMeta(room),
    setMeta: () => new Promise<void>(() => {}),
  };
  return { kv, store, locks, page, stored, goneWithThePage };
};

describe('UNREAD-5: a read mark not yet stored when the page goes is kept for the next start', () => {
  it('UNREAD-5 a mark whose write has not completed at pagehide is stored at the next start, and its key goes', async () => {
    const { kv, store, page, stored, goneWithThePage } = profile();
    await store.setMeta('maths', { title: 'Maths', lastReadMessageId: first.id, readSv: first.sv });
    const leaving = page();
    void leaving.write(goneWithThePage, 'maths', second);
    leaving.keepPending();
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(second));
    expect(await stored()).toEqual(first);
    await page().restoreAll(store);
    expect(await stored()).toEqual(second);
    expect(kv.getItem(readMarkKey('maths'))).toBeNull();
  });

  it('UNREAD-5 a mark written after pagehide (a screen flushing as the page goes) is kept at once, until the page shows again', () => {
    const { kv, page, goneWithThePage } = profile();
    const keeper = page();
    keeper.keepPending();
    void keeper.write(goneWithThePage, 'maths', second);
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(second));
    keeper.shown();
    void keeper.write(goneWithThePage, 'physics', second);
    expect(kv.getItem(readMarkKey('physics'))).toBeNull();
  });

  it('UNREAD-5 a mark stored before the page goes is not kept', async () => {
    const { kv, store, page } = profile();
    const keeper = page();
    await keeper.write(store, 'maths', second);
    keeper.keepPending();
    expect(kv.length).toBe(0);
  });

  it('UNREAD-5 a mark kept on a pagehide that did not end the page (back/forward cache) goes once it is stored', async () => {
    const { kv, store, page, stored } = profile();
    const keeper = page();
    const write = keeper.write(store, 'maths', second);
    keeper.keepPending();
    await write;
    expect(kv.length).toBe(0);
    expect(await stored()).toEqual(second);
  });

  it('UNREAD-5 a kept mark older than the stored one (another tab read further) does not replace it', async () => {
    const { kv, store, page, stored } = profile();
    await store.setMeta('maths', { lastReadMessageId: third.id, readSv: third.sv });
    kv.setItem(readMarkKey('maths'), JSON.stringify(second));
    await page().restoreAll(store);
    expect(await stored()).toEqual(third);
    expect(kv.length).toBe(0);
  });

  it('UNREAD-5 the same mark stored already (the write completed after all) is left as it is', async () => {
    const { kv, store, page, stored } = profile();
    await store.setMeta('maths', { lastReadMessageId: second.id, readSv: second.sv });
    kv.setItem(readMarkKey('maths'), JSON.stringify(second));
    await page().restoreAll(store);
    expect(await stored()).toEqual(second);
    expect(kv.length).toBe(0);
  });

  it('UNREAD-5 a room removed from the device gets no record back; its key goes', async () => {
    const { kv, store, page } = profile();
    kv.setItem(readMarkKey('maths'), JSON.stringify(second));
    await page().restoreAll(store);
    expect(await store.listRooms()).toEqual([]);
    expect(kv.length).toBe(0);
  });

  it('UNREAD-5 the restore waits for a removal under way (REMOVE-1), then finds no room', async () => {
    const { kv, store, locks, page } = profile();
    await store.setMeta('maths', { title: 'Maths' });
    kv.setItem(readMarkKey('maths'), JSON.stringify(second));
    const restoring: Array<Promise<void>> = [];
    const removed = await locks.ifFree('maths', async () => {
      restoring.push(page().restoreAll(store));
      // The restore cannot take the room's lock while the removal holds it.
      await Promise.resolve();
      await store.deleteRoom('maths');
      return true;
    });
    expect(removed).not.toBe(IN_USE);
    await Promise.all(restoring);
    expect(restoring).toHaveLength(1);
    expect(await store.listRooms()).toEqual([]);
  });

  it('UNREAD-5 REMOVE-1 forgets the pending and the kept mark of a removed room', () => {
    const { kv, page, goneWithThePage } = profile();
    const keeper = page();
    kv.setItem(readMarkKey('physics'), JSON.stringify(first));
    void keeper.write(goneWithThePage, 'maths', second);
    keeper.forget('maths');
    keeper.forget('physics');
    keeper.keepPending();
    expect(kv.length).toBe(0);
  });

  it('UNREAD-5 a tab hidden later does not overwrite a kept mark that saw more with its own', () => {
    const { kv, store, page } = profile();
    const a = page();
    const b = page();
    void a.write(store, 'maths', third);
    void b.write(store, 'maths', second);
    a.keepPending();
    b.keepPending();
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(third));
    // The other way round, the later one that saw more wins.
    kv.clear();
    void b.write(store, 'physics', second);
    void a.write(store, 'physics', third);
    b.keepPending();
    a.keepPending();
    expect(kv.getItem(readMarkKey('physics'))).toBe(JSON.stringify(third));
  });

  it('UNREAD-5 a write that completes after a later one was handed over leaves the later one pending', async () => {
    const { kv, page, goneWithThePage } = profile();
    const keeper = page();
    let complete = (): void => undefined;
    const slow = { ...goneWithThePage, setMeta: () => new Promise<void>((resolve) => (complete = resolve)) };
    const earlier = keeper.write(slow, 'maths', first);
    void keeper.write(goneWithThePage, 'maths', second);
    complete();
    await earlier;
    keeper.keepPending();
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(second));
  });

  it('UNREAD-5 two tabs that saw different updates: neither mark replaces the other', async () => {
    const { kv, store, page, stored, goneWithThePage } = profile();
    const doc = new Y.Doc();
    const mine = new Y.Doc();
    doc.clientID = 7;
    mine.clientID = 8;
    doc.getArray<string>('m').push(['m-1']);
    Y.applyUpdate(mine, Y.encodeStateAsUpdate(doc));
    doc.getArray<string>('m').push(['m-2']); // the stored mark's tab got m-2 ...
    mine.getArray<string>('m').push(['m-3']); // ... the kept one's m-3 instead
    const storedMark = { id: 'm-2', sv: encodeReadSv(Y.encodeStateVector(doc)) };
    const keptMark = { id: 'm-3', sv: encodeReadSv(Y.encodeStateVector(mine)) };
    await store.setMeta('maths', { lastReadMessageId: storedMark.id, readSv: storedMark.sv });
    kv.setItem(readMarkKey('maths'), JSON.stringify(keptMark));
    await page().restoreAll(store);
    expect(await stored()).toEqual(storedMark);
    expect(kv.length).toBe(0);
    // Nor does a tab hidden later replace the other's kept mark with its own.
    const keeper = page();
    kv.setItem(readMarkKey('maths'), JSON.stringify(keptMark));
    void keeper.write(goneWithThePage, 'maths', storedMark);
    keeper.keepPending();
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(keptMark));
  });

  it('UNREAD-5 a mark kept while the restore runs stays for the next', async () => {
    const { kv, store, page, stored } = profile();
    await store.setMeta('maths', { lastReadMessageId: first.id, readSv: first.sv });
    kv.setItem(readMarkKey('maths'), JSON.stringify(second));
    const restoring = page().restoreAll(store);
    // A page of the profile hidden now keeps a newer one (the restore is waiting for the room's lock).
    kv.setItem(readMarkKey('maths'), JSON.stringify(third));
    await restoring;
    expect(await stored()).toEqual(second);
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(third));
    await page().restoreAll(store);
    expect(await stored()).toEqual(third);
  });

  it('UNREAD-5 the lobby hears of a mark stored by a restore; a mark not newer costs no write', async () => {
    const { kv, store, page } = profile();
    await store.setMeta('maths', { lastReadMessageId: second.id, readSv: second.sv });
    await store.setMeta('physics', { lastReadMessageId: second.id, readSv: second.sv });
    kv.setItem(readMarkKey('maths'), JSON.stringify(third));
    kv.setItem(readMarkKey('physics'), JSON.stringify(first));
    const keeper = page();
    const heard: string[] = [];
    const stop = keeper.onRestored((room) => heard.push(room));
    const writes: string[] = [];
    const counted = {
      getMeta: (room: string) => store.getMeta(room),
      setMeta: (room: string, patch: Parameters<MemoryRoomUpdateStore['setMeta']>[1]) => {
        writes.push(room);
        return store.setMeta(room, patch);
      },
    };
    await keeper.restoreAll(counted);
    expect(heard).toEqual(['maths']);
    expect(writes).toEqual(['maths']);
    stop();
    kv.setItem(readMarkKey('physics'), JSON.stringify(third));
    await keeper.restoreAll(counted);
    expect(writes).toEqual(['maths', 'physics']);
    expect(heard).toEqual(['maths']);
  });

  it('UNREAD-5 a mark another tab stored between the check and the write stays, and nobody hears of a restore', async () => {
    const { kv, store, page, stored } = profile();
    await store.setMeta('maths', { lastReadMessageId: third.id, readSv: third.sv });
    kv.setItem(readMarkKey('maths'), JSON.stringify(second));
    const keeper = page();
    const heard: string[] = [];
    keeper.onRestored((room) => heard.push(room));
    // The meta read before the write's transaction still had the first mark.
    const raced = {
      getMeta: () => Promise.resolve({ lastReadMessageId: first.id, readSv: first.sv }),
      setMeta: store.setMeta.bind(store),
    };
    await keeper.restoreAll(raced);
    expect(await stored()).toEqual(third);
    expect(heard).toEqual([]);
    expect(kv.length).toBe(0);
  });

  it('UNREAD-5 a kept value that does not parse is dropped; a key of another kind is left alone', async () => {
    const { kv, store, page, stored } = profile();
    await store.setMeta('maths', { lastReadMessageId: first.id, readSv: first.sv });
    kv.setItem(readMarkKey('maths'), '{"id": 3}');
    kv.setItem('converge:draft:maths', 'hello');
    await page().restoreAll(store);
    expect(await stored()).toEqual(first);
    expect(kv.getItem(readMarkKey('maths'))).toBeNull();
    expect(kv.getItem('converge:draft:maths')).toBe('hello');
  });

  it('UNREAD-5 a failed write stays pending, so it is kept; a failed restore keeps the key', async () => {
    const { kv, page } = profile();
    const keeper = page();
    const broken = {
      getMeta: () => Promise.reject(new Error('closed')),
      setMeta: () => Promise.reject(new Error('quota')),
    };
    await expect(keeper.write(broken, 'maths', second)).rejects.toThrow('quota');
    keeper.keepPending();
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(second));
    await page().restoreAll(broken);
    expect(kv.getItem(readMarkKey('maths'))).toBe(JSON.stringify(second));
  });

  it('UNREAD-5 keptIsNewer compares state vectors; without one, only over no mark at all', () => {
    const meta = (m: ReadMark | undefined) => (m ? { lastReadMessageId: m.id, readSv: m.sv } : {});
    expect(keptIsNewer(second, meta(first))).toBe(true);
    expect(keptIsNewer(first, meta(second))).toBe(false);
    expect(keptIsNewer(second, meta(second))).toBe(false);
    expect(keptIsNewer(third, meta(first))).toBe(true);
    expect(keptIsNewer(second, meta(undefined))).toBe(true);
    expect(keptIsNewer(second, { lastReadMessageId: 'm-9' })).toBe(true);
    expect(keptIsNewer({ id: 'm-2', sv: undefined }, meta(first))).toBe(false);
    expect(keptIsNewer({ id: 'm-2', sv: undefined }, meta(undefined))).toBe(true);
    expect(readMarkRoom(readMarkKey('a b'))).toBe('a b');
    expect(readMarkRoom('converge:draft:a')).toBeNull();
    expect(readMarkRoom(null)).toBeNull();
  });
});
