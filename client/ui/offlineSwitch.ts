/**
 * OFF-1: the rooms whose "Go offline" switch is on, for every tab of this profile (localStorage):
 * what the user held back stays back across reloads, and no other tab (its open room, its
 * lobby's refresh) sends it, until the user switches it off.
 *
 * OFF-2: `watch` calls back at once with the switch as it is when the watch starts, then on every
 * change another tab makes: a session reads the switch, then watches it; a change another tab made
 * in between fires no `storage` event afterwards (a room that watched only once it showed, after
 * reading IndexedDB, stayed switched off for good).
 */
export class OfflineSwitch {
  constructor(
    private readonly kv: Storage,
    /** Where the browser fires `storage` events for changes made by other tabs (the window). */
    private readonly events: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>,
  ) {}

  private static readonly PREFIX = 'converge:offline:';

  private static key(room: string): string {
    return `${OfflineSwitch.PREFIX}${room}`;
  }

  /** Whether a `storage` event's key can be a switch turned in another tab (null: the storage was cleared). */
  static mayBeSwitch(key: string | null): boolean {
    return key === null || key.startsWith(OfflineSwitch.PREFIX);
  }

  isOff(room: string): boolean {
    try {
      return this.kv.getItem(OfflineSwitch.key(room)) === '1';
    } catch {
      return false;
    }
  }

  set(room: string, off: boolean): void {
    try {
      if (off) this.kv.setItem(OfflineSwitch.key(room), '1');
      else this.kv.removeItem(OfflineSwitch.key(room));
    } catch {
      // Full or refused: the switch then holds for this page only.
    }
  }

  /** Calls `changed` now and whenever another tab switches `room` on or off; returns the unsubscribe. */
  watch(room: string, changed: (off: boolean) => void): () => void {
    const listener = (e: Event): void => {
      const key = (e as StorageEvent).key;
      if (key === OfflineSwitch.key(room) || key === null) changed(this.isOff(room));
    };
    this.events.addEventListener('storage', listener);
    changed(this.isOff(room));
    return () => this.events.removeEventListener('storage', listener);
  }
}
