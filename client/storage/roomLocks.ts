/**
 * REMOVE-1: a room is removed from this device only while no page of this profile has it open.
 *
 * A room's screen, and a session kept after it (LEAVE-2), hold the room's lock shared from before
 * the session reads the store until its last write is done (`RoomSessionOptions.done`). Such a
 * session holds what the store may not (edits only in the page, a doc loaded before the removal):
 * writing into a room removed under it would leave a store holding its later updates without what
 * they build on. A removal takes the lock exclusive only if it is free at once, and deletes under
 * it; a room in use is not removed (the user is told why), and the removal waits for nobody. A
 * session that opens while a removal runs waits for it, then loads what is left: nothing.
 *
 * In a browser the lock is a Web Lock (`navigator.locks`: every tab of the origin); where there is
 * none (a page that is not a secure context, such as plain http on a LAN address) it is the page's
 * own (`memoryRoomLocks`, `acrossTabs` false), which knows only this tab's sessions: the lobby
 * then removes nothing, as it cannot know whether another tab has the room open.
 */

/** What is needed of the Web Locks API (`navigator.locks`). */
export interface LockRequester {
  request<T>(
    name: string,
    options: { mode: 'shared' | 'exclusive'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

/** `RoomLocks.ifFree`'s answer for a room in use. */
export const IN_USE: unique symbol = Symbol('in use');

export interface RoomLocks {
  /** Whether the lock is every tab's (Web Locks), or only this page's: a removal must not rely on the latter. */
  readonly acrossTabs: boolean;
  /**
   * Resolves once `room`'s lock is held shared, with the function that releases it (once; again,
   * it does nothing), which resolves when the lock is let go.
   */
  share(room: string): Promise<() => Promise<void>>;
  /** Runs `fn` with `room`'s lock held exclusive if nobody holds it now; `IN_USE` (and `fn` not run) otherwise. */
  ifFree<T>(room: string, fn: () => Promise<T>): Promise<T | typeof IN_USE>;
}

/** The Web Lock's name for a room (locks are per origin: another app's rooms are not these). */
export const roomLockName = (room: string): string => `converge-room:${room}`;

/** `f`, run at its first call only; every call answers what the first did. */
const once = <T>(f: () => T): (() => T) => {
  let result: { value: T } | null = null;
  return () => (result ??= { value: f() }).value;
};

/** Room locks over the Web Locks API. */
export const webRoomLocks = (locks: LockRequester): RoomLocks => ({
  acrossTabs: true,
  share: (room) =>
    new Promise((granted) => {
      let letGo = (): void => undefined;
      /** Settles once the browser has let the lock go (the request settles then). */
      let gone: Promise<void> = Promise.resolve();
      // Made before the request: its callback may run at once.
      const release = once(() => {
        letGo();
        return gone;
      });
      const held = locks.request(
        roomLockName(room),
        { mode: 'shared' },
        () =>
          new Promise<void>((resolve) => {
            letGo = resolve;
            granted(release);
          }),
      );
      gone = held.then(
        () => undefined,
        () => undefined,
      );
      // Refused (the document is going away): the room opens unguarded rather than never.
      held.catch(() => granted(() => Promise.resolve()));
    }),
  ifFree: <T>(room: string, fn: () => Promise<T>) =>
    locks.request<T | typeof IN_USE>(roomLockName(room), { mode: 'exclusive', ifAvailable: true }, (lock) =>
      lock === null ? IN_USE : fn(),
    ),
});

/** Room locks of this page only (tests; a page without Web Locks). */
export const memoryRoomLocks = (): RoomLocks => {
  const shared = new Map<string, number>();
  /** Rooms held exclusive, each with the shares waiting for it to end. */
  const exclusive = new Map<string, Array<() => void>>();
  const take = (room: string): (() => Promise<void>) => {
    shared.set(room, (shared.get(room) ?? 0) + 1);
    return once(() => {
      const left = (shared.get(room) ?? 1) - 1;
      if (left === 0) shared.delete(room);
      else shared.set(room, left);
      return Promise.resolve();
    });
  };
  return {
    acrossTabs: false,
    share: (room) => {
      const waiting = exclusive.get(room);
      if (waiting === undefined) return Promise.resolve(take(room));
      return new Promise((granted) => waiting.push(() => granted(take(room))));
    },
    ifFree: async <T>(room: string, fn: () => Promise<T>): Promise<T | typeof IN_USE> => {
      if (shared.has(room) || exclusive.has(room)) return IN_USE;
      const waiting: Array<() => void> = [];
      exclusive.set(room, waiting);
      try {
        return await fn();
      } finally {
        exclusive.delete(room);
        for (const grant of waiting) grant();
      }
    },
  };
};
