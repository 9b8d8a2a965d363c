import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { currentDraft, DRAFT_WRITE_DELAY_MS, draftKey, DraftKeeper, readLocalDraft } from './draftKeeper.js';
import { MemoryStorage } from './memoryStorage.js';

describe('DRAFT-1: a draft is kept in localStorage at once and in the room meta after a pause', () => {
  let store: MemoryRoomUpdateStore;
  let kv: MemoryStorage;
  let t: number;
  let keeper: DraftKeeper;
  const errors: unknown[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
    store = new MemoryRoomUpdateStore();
    kv = new MemoryStorage();
    t = 1_000;
    errors.length = 0;
    keeper = new DraftKeeper(
      'r',
      store,
      kv,
      undefined,
      () => t,
      (e) => errors.push(e),
    );
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  /** Lets the store's promise settle. */
  const settled = async (): Promise<void> => {
    await vi.runAllTimersAsync();
  };

  it('DRAFT-1: every keystroke reaches localStorage; the meta gets the last text once typing pauses', async () => {
    keeper.change('h');
    t += 50;
    keeper.change('hi');
    expect(readLocalDraft(kv, 'r')).toEqual({ text: 'hi', at: 1_050 });
    await vi.advanceTimersByTimeAsync(DRAFT_WRITE_DELAY_MS - 1);
    expect(await store.getMeta('r')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await store.getMeta('r')).toEqual({ draft: 'hi', draftAt: 1_050 });
  });

  it('DRAFT-1: a cleared draft (sent) is written at once, and an older copy does not bring it back', async () => {
    keeper.change('about to send');
    await settled();
    t += 10;
    keeper.change('');
    await Promise.resolve();
    expect(await store.getMeta('r')).toEqual({ draftAt: 1_010 });
    // A browser crash that lost localStorage's last writes: the older text is still there.
    kv.setItem(draftKey('r'), 'about to send');
    kv.setItem('converge:draftAt:r', '1000');
    expect(currentDraft(kv, 'r', await store.getMeta('r')).text).toBe('');
  });

  it('DRAFT-1: a text sent before it reached the meta costs no write; one the room opened with is cleared at once', async () => {
    const writes: unknown[] = [];
    const counting = { setMeta: (room: string, patch: object) => (writes.push(patch), store.setMeta(room, patch)) };
    const quick = new DraftKeeper('r', counting, kv, undefined, () => t);
    quick.change('sent at once');
    quick.change('');
    await settled();
    expect(writes).toEqual([]);
    expect(readLocalDraft(kv, 'r').text).toBe('');

    const reopened = new DraftKeeper('r', counting, kv, { draft: 'left from before', draftAt: 500 }, () => t);
    reopened.change('');
    await Promise.resolve();
    expect(writes).toEqual([{ draft: undefined, draftAt: 1_000 }]);
  });

  it('DRAFT-1: after a crash that lost localStorage, the room opens with the meta copy', async () => {
    keeper.change('typed before the crash');
    keeper.flush();
    await Promise.resolve();
    const fresh = new MemoryStorage();
    expect(currentDraft(fresh, 'r', await store.getMeta('r'))).toEqual({ text: 'typed before the crash', at: 1_000 });
  });

  it('DRAFT-1: the newer copy wins; a localStorage draft from before drafts had a time still counts', () => {
    kv.setItem(draftKey('r'), 'legacy');
    expect(currentDraft(kv, 'r', undefined)).toEqual({ text: 'legacy', at: 0 });
    expect(currentDraft(kv, 'r', { draft: 'stored', draftAt: 5 }).text).toBe('stored');
    kv.setItem('converge:draftAt:r', '6');
    expect(currentDraft(kv, 'r', { draft: 'stored', draftAt: 5 }).text).toBe('legacy');
    // On a tie localStorage wins: it is never older than the meta's copy.
    expect(currentDraft(kv, 'r', { draft: 'stored', draftAt: 6 }).text).toBe('legacy');
    kv.setItem('converge:draftAt:r', 'garbage');
    expect(readLocalDraft(kv, 'r').at).toBe(0);
  });

  it('DRAFT-1: flush writes what is pending now, and nothing when nothing is', async () => {
    keeper.flush();
    await Promise.resolve();
    expect(await store.getMeta('r')).toBeUndefined();
    keeper.change('leaving');
    keeper.flush();
    await Promise.resolve();
    expect(await store.getMeta('r')).toEqual({ draft: 'leaving', draftAt: 1_000 });
    // The timer it replaced writes nothing more.
    await store.setMeta('r', { draft: 'other tab', draftAt: 2_000 });
    await settled();
    expect((await store.getMeta('r'))?.draft).toBe('other tab');
  });

  it('DRAFT-1: a failed write is reported, localStorage keeps the text, and the next change tries again', async () => {
    store.failNextWrite(new DOMException('full', 'QuotaExceededError'));
    keeper.change('no room left');
    await settled();
    expect(errors).toHaveLength(1);
    expect(readLocalDraft(kv, 'r').text).toBe('no room left');
    expect(await store.getMeta('r')).toBeUndefined();
    t += 5;
    keeper.change('no room left!');
    await settled();
    expect(await store.getMeta('r')).toEqual({ draft: 'no room left!', draftAt: 1_005 });
    expect(errors).toHaveLength(1);
  });

  it('DRAFT-1: a localStorage that throws reads as no draft and does not stop the meta copy', async () => {
    const broken = new MemoryStorage();
    broken.getItem = () => {
      throw new Error('denied');
    };
    broken.setItem = () => {
      throw new Error('denied');
    };
    expect(readLocalDraft(broken, 'r')).toEqual({ text: '', at: 0 });
    const k = new DraftKeeper('r', store, broken, undefined, () => 7);
    k.change('still kept');
    await settled();
    expect(await store.getMeta('r')).toEqual({ draft: 'still kept', draftAt: 7 });
  });
});
