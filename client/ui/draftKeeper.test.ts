import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import type { MetaDurability, RoomMetaPatch } from '../storage/roomUpdateStore.js';
import {
  currentDraft,
  DRAFT_KEPT_CHARS,
  DRAFT_MAX_WAIT_MS,
  DRAFT_WRITE_DELAY_MS,
  draftKey,
  DraftKeeper,
  readLocalDraft,
  type Draft,
} from './draftKeeper.js';
import { MemoryStorage } from './memoryStorage.js';

describe('DRAFT-1: a draft is kept in localStorage at once and in the room meta after a pause', () => {
  let store: MemoryRoomUpdateStore;
  let kv: MemoryStorage;
  let t: number;
  let keeper: DraftKeeper;
  let writes: { patch: RoomMetaPatch; durability: MetaDurability | undefined }[];
  let errors: { e: unknown; draft: Draft }[];
  /** The store, with every setMeta call recorded. */
  const recorded = {
    setMeta: (room: string, patch: RoomMetaPatch, durability?: MetaDurability): Promise<void> => {
      writes.push({ patch, durability });
      return store.setMeta(room, patch, durability);
    },
  };
  beforeEach(() => {
    vi.useFakeTimers();
    store = new MemoryRoomUpdateStore();
    kv = new MemoryStorage();
    t = 1_000;
    writes = [];
    errors = [];
    keeper = new DraftKeeper(
      'r',
      recorded,
      kv,
      0,
      () => t,
      (e, draft) => errors.push({ e, draft }),
    );
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  /** Lets the timers run and the store's promises settle. */
  const settled = async (): Promise<void> => {
    await vi.runAllTimersAsync();
  };

  it('DRAFT-1: every keystroke reaches localStorage; the meta gets the last text once typing pauses, relaxed', async () => {
    keeper.change('h');
    t += 50;
    keeper.change('hi');
    expect(readLocalDraft(kv, 'r')).toEqual({ text: 'hi', at: 1_050 });
    await vi.advanceTimersByTimeAsync(DRAFT_WRITE_DELAY_MS - 1);
    expect(await store.getMeta('r')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await store.getMeta('r')).toEqual({ draft: 'hi', draftAt: 1_050 });
    expect(writes).toEqual([{ patch: { draft: 'hi', draftAt: 1_050 }, durability: 'relaxed' }]);
  });

  it('DRAFT-1: typing without a pause still reaches the meta at least every DRAFT_MAX_WAIT_MS', async () => {
    const gap = DRAFT_WRITE_DELAY_MS / 2;
    const started = t;
    let text = '';
    while (t - started < 5 * DRAFT_MAX_WAIT_MS) {
      text += 'x';
      keeper.change(text);
      await Promise.resolve();
      // Never a pause of DRAFT_WRITE_DELAY_MS, yet the meta lags the typing by at most the wait
      // (plus the keystroke that finds it over).
      const stored = (await store.getMeta('r'))?.draftAt ?? started;
      expect(t - stored).toBeLessThanOrEqual(DRAFT_MAX_WAIT_MS + gap);
      t += gap;
      await vi.advanceTimersByTimeAsync(gap);
    }
    expect(writes.length).toBeGreaterThanOrEqual(4);
    await settled();
    expect((await store.getMeta('r'))?.draft).toBe(text);
  });

  it('DRAFT-1: a send clears the meta at once, also when the text never reached it, and no older copy brings it back', async () => {
    keeper.change('sent at once');
    t += 10;
    keeper.change('');
    await Promise.resolve();
    expect(writes.map((w) => w.patch)).toEqual([{ draft: undefined, draftAt: 1_010 }]);
    // A browser crash after localStorage had written the text but not the clear.
    kv.setItem(draftKey('r'), 'sent at once');
    kv.setItem('converge:draftAt:r', '1000');
    expect(currentDraft(kv, 'r', await store.getMeta('r')).text).toBe('');
  });

  it('DRAFT-1: a send here clears a text another tab put in the meta', async () => {
    const other = new DraftKeeper('r', store, new MemoryStorage(), 0, () => t);
    other.change('see you at 5');
    other.flush();
    await Promise.resolve();
    t += 100;
    keeper.change('');
    await settled();
    expect(currentDraft(new MemoryStorage(), 'r', await store.getMeta('r')).text).toBe('');
  });

  it('DRAFT-1: after a crash that lost localStorage, the room opens with the meta copy', async () => {
    keeper.change('typed before the crash');
    keeper.flush();
    await Promise.resolve();
    expect(currentDraft(new MemoryStorage(), 'r', await store.getMeta('r'))).toEqual({
      text: 'typed before the crash',
      at: 1_000,
    });
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

  it('DRAFT-1: times only grow, even when the clock steps back', async () => {
    const opened = new DraftKeeper('r', store, kv, 5_000, () => t);
    opened.change('typed after the clock stepped back');
    expect(readLocalDraft(kv, 'r').at).toBe(5_001);
    t -= 500;
    opened.change('');
    expect(readLocalDraft(kv, 'r').at).toBe(5_002);
    await settled();
    expect(await store.getMeta('r')).toEqual({ draftAt: 5_002 });
  });

  it('DRAFT-1: flush writes what is pending now, and nothing when nothing is', async () => {
    keeper.flush();
    await Promise.resolve();
    expect(writes).toEqual([]);
    keeper.change('leaving');
    keeper.flush();
    await Promise.resolve();
    expect(await store.getMeta('r')).toEqual({ draft: 'leaving', draftAt: 1_000 });
    // The timer it replaced writes nothing more.
    await settled();
    expect(writes).toHaveLength(1);
  });

  it('DRAFT-1: a failed write is reported with its draft, localStorage keeps the text, and the next change tries again', async () => {
    store.failNextWrite(new DOMException('full', 'QuotaExceededError'));
    keeper.change('no room left');
    await settled();
    expect(errors.map((x) => x.draft)).toEqual([{ text: 'no room left', at: 1_000 }]);
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
    const k = new DraftKeeper('r', store, broken, 0, () => 7);
    k.change('still kept');
    await settled();
    expect(await store.getMeta('r')).toEqual({ draft: 'still kept', draftAt: 7 });
  });

  it('DRAFT-1: a draft is kept up to DRAFT_KEPT_CHARS', async () => {
    const huge = 'y'.repeat(DRAFT_KEPT_CHARS + 10);
    keeper.change(huge);
    await settled();
    expect(readLocalDraft(kv, 'r').text).toBe(huge.slice(0, DRAFT_KEPT_CHARS));
    expect((await store.getMeta('r'))?.draft).toBe(huge.slice(0, DRAFT_KEPT_CHARS));
  });
});
