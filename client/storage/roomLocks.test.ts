/**
 * REMOVE-1's room lock: as a page without Web Locks holds it, and `webRoomLocks`' use of the API.
 * The browser's Web Locks themselves are in the REMOVE-1 e2e tests, across tabs in Chromium.
 */
import { describe, expect, it } from 'vitest';
import { IN_USE, memoryRoomLocks, webRoomLocks, type LockRequester } from './roomLocks.js';

const removal = (): Promise<string> => Promise.resolve('removed');

describe('REMOVE-1: room locks (memory)', () => {
  it('a room held shared is in use until every holder released it; other rooms are their own', async () => {
    const locks = memoryRoomLocks();
    expect(locks.acrossTabs).toBe(false);
    const first = await locks.share('r');
    const second = await locks.share('r');
    expect(await locks.ifFree('r', removal)).toBe(IN_USE);
    await first();
    await first(); // a second release of the same hold releases nothing more
    expect(await locks.ifFree('r', removal)).toBe(IN_USE);
    await locks.share('s');
    await second();
    expect(await locks.ifFree('r', removal)).toBe('removed');
  });

  it('a share asked for during a removal is granted when the removal ends, not before', async () => {
    const locks = memoryRoomLocks();
    let finish = (): void => undefined;
    const running = locks.ifFree('r', () => new Promise<string>((resolve) => (finish = () => resolve('done'))));
    let granted = false;
    const share = locks.share('r').then((release) => {
      granted = true;
      return release;
    });
    // A second removal meanwhile finds the room in use.
    expect(await locks.ifFree('r', removal)).toBe(IN_USE);
    expect(granted).toBe(false);
    finish();
    expect(await running).toBe('done');
    const release = await share;
    expect(await locks.ifFree('r', removal)).toBe(IN_USE);
    await release();
    expect(await locks.ifFree('r', removal)).toBe('removed');
  });

  it('a removal that fails frees the room', async () => {
    const locks = memoryRoomLocks();
    await expect(locks.ifFree('r', () => Promise.reject(new Error('quota')))).rejects.toThrow('quota');
    expect(await locks.ifFree('r', removal)).toBe('removed');
  });
});

/**
 * A Web Locks stand-in for one room name: grants as the API does for these two uses (a shared
 * request waits for an exclusive holder; `ifAvailable` gets null when any holder exists). Only the
 * wiring of `webRoomLocks` is under test here; the browser's own is in the e2e tests.
 */
const fakeLocks = (refuse = false): LockRequester & { held: () => number } => {
  let holders = 0;
  return {
    held: () => holders,
    request: async <T>(
      _name: string,
      options: { mode: 'shared' | 'exclusive'; ifAvailable?: boolean },
      callback: (lock: unknown) => Promise<T> | T,
    ): Promise<T> => {
      if (refuse) throw new DOMException('document not fully active', 'InvalidStateError');
      if (options.ifAvailable && holders > 0) return callback(null);
      holders++;
      try {
        return await callback({ mode: options.mode });
      } finally {
        holders--;
      }
    },
  };
};

describe('REMOVE-1: room locks (Web Locks)', () => {
  it('a share holds the lock until released, once; a removal runs only while nobody holds it', async () => {
    const api = fakeLocks();
    const locks = webRoomLocks(api);
    expect(locks.acrossTabs).toBe(true);
    const release = await locks.share('r');
    expect(api.held()).toBe(1);
    let ran = false;
    expect(
      await locks.ifFree('r', () => {
        ran = true;
        return Promise.resolve('removed');
      }),
    ).toBe(IN_USE);
    expect(ran).toBe(false);
    // Resolved once the lock is let go: a removal right after finds it free.
    await release();
    expect(api.held()).toBe(0);
    await release();
    expect(await locks.ifFree('r', removal)).toBe('removed');
    await expect(locks.ifFree('r', () => Promise.reject(new Error('quota')))).rejects.toThrow('quota');
  });

  it('a share the browser refuses lets the room open unguarded rather than never', async () => {
    const release = await webRoomLocks(fakeLocks(true)).share('r');
    await release();
  });
});
