/**
 * REMOVE-1's room lock as a page without Web Locks holds it. The Web Locks one is the browser's:
 * the REMOVE-1 e2e tests use it across tabs in Chromium.
 */
import { describe, expect, it } from 'vitest';
import { IN_USE, memoryRoomLocks } from './roomLocks.js';

const removal = (): Promise<string> => Promise.resolve('removed');

describe('REMOVE-1: room locks (memory)', () => {
  it('a room held shared is in use until every holder released it; other rooms are their own', async () => {
    const locks = memoryRoomLocks();
    const first = await locks.share('r');
    const second = await locks.share('r');
    expect(await locks.ifFree('r', removal)).toBe(IN_USE);
    first();
    first(); // a second release of the same hold releases nothing more
    expect(await locks.ifFree('r', removal)).toBe(IN_USE);
    await locks.share('s');
    second();
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
    release();
    expect(await locks.ifFree('r', removal)).toBe('removed');
  });

  it('a removal that fails frees the room', async () => {
    const locks = memoryRoomLocks();
    await expect(locks.ifFree('r', () => Promise.reject(new Error('quota')))).rejects.toThrow('quota');
    expect(await locks.ifFree('r', removal)).toBe('removed');
  });
});
