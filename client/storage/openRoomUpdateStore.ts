/// <reference lib="dom" />
/**
 * Opens the device's room store: IndexedDB when it works, memory otherwise.
 *
 * LOCAL-10  When IndexedDB is missing, refuses to open (private modes of some browsers, a
 *           disabled or blocked database) or does not answer within the open timeout, the app
 *           still starts, on a `MemoryRoomUpdateStore`, and the result says so
 *           (`persistent: false` and a `reason` for the UI: nothing is kept after the tab
 *           closes). The decision is made once, at start; a store never switches underneath
 *           its caller.
 */
import { IdbRoomUpdateStore, type IdbRoomUpdateStoreOptions } from './idbRoomUpdateStore.js';
import { MemoryRoomUpdateStore } from './memoryRoomUpdateStore.js';
import { toStorageError, type RoomUpdateStore } from './roomUpdateStore.js';

export interface OpenedRoomUpdateStore {
  readonly store: RoomUpdateStore;
  /** True when the store writes to IndexedDB (whether the browser keeps it: see `persist()`). */
  readonly persistent: boolean;
  /** Why the store is in memory only, for the UI; set exactly when `persistent` is false. */
  readonly reason?: string;
}

export async function openRoomUpdateStore(options: IdbRoomUpdateStoreOptions = {}): Promise<OpenedRoomUpdateStore> {
  try {
    return { store: await IdbRoomUpdateStore.open(options), persistent: true };
  } catch (error) {
    const cause = toStorageError(error).message;
    return {
      store: new MemoryRoomUpdateStore(),
      persistent: false,
      reason: `Storage unavailable: working in memory only, nothing is kept after this tab closes. ${cause}`,
    };
  }
}
