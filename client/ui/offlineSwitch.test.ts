import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memoryStorage.js';
import { OfflineSwitch } from './offlineSwitch.js';

/** One profile's localStorage, and a window per tab: a write fires `storage` in the other tabs only, as browsers do. */
const profile = () => {
  const kv = new MemoryStorage();
  const windows: EventTarget[] = [];
  const tab = () => {
    const events = new EventTarget();
    windows.push(events);
    const own = new OfflineSwitch(kv, events);
    return {
      events,
      switch: own,
      set: (room: string, off: boolean): void => {
        own.set(room, off);
        for (const other of windows.filter((w) => w !== events))
          other.dispatchEvent(Object.assign(new Event('storage'), { key: `converge:offline:${room}` }));
      },
    };
  };
  return { kv, tab };
};

describe('OfflineSwitch', () => {
  it('OFF-3: the keys a switch writes are the ones a lobby listens for, and only those', () => {
    const { kv, tab } = profile();
    tab().set('room-1', true);
    kv.setItem('converge:draft:room-1', 'x');
    const keys = Array.from({ length: kv.length }, (_, i) => kv.key(i)!);
    expect(keys.filter((k) => OfflineSwitch.mayBeSwitch(k))).toHaveLength(1);
    expect(OfflineSwitch.mayBeSwitch(null)).toBe(true);
  });

  it('OFF-1: a room switched off in one tab is off in every tab, and a watching tab hears each change', () => {
    const { tab } = profile();
    const a = tab();
    const b = tab();
    const heard: boolean[] = [];
    const stop = b.switch.watch('r', (off) => heard.push(off));
    a.set('r', true);
    expect(b.switch.isOff('r')).toBe(true);
    a.set('other', true); // another room's switch: not this watch's business
    a.set('r', false);
    stop();
    a.set('r', true);
    expect(heard).toEqual([false, true, false]);
  });

  it('OFF-2: a change another tab made between reading the switch and watching it is not lost', () => {
    const { tab } = profile();
    const a = tab();
    const b = tab();
    a.set('r', true);
    // b opens the room switched off (its session reads the switch) …
    expect(b.switch.isOff('r')).toBe(true);
    // … a switches it on again before b's room shows and watches: b's `storage` event has fired.
    a.set('r', false);
    const heard: boolean[] = [];
    b.switch.watch('r', (off) => heard.push(off));
    expect(heard).toEqual([false]);
  });

  it('OFF-1: a cleared storage (key null) is re-read', () => {
    const { kv, tab } = profile();
    const a = tab();
    a.set('r', true);
    const heard: boolean[] = [];
    a.switch.watch('r', (off) => heard.push(off));
    kv.clear();
    a.events.dispatchEvent(Object.assign(new Event('storage'), { key: null }));
    expect(heard).toEqual([true, false]);
  });
});
