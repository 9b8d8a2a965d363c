/**
 * UNREAD-5: a read mark (UNREAD-1) is not lost when the page goes away before IndexedDB stored it.
 *
 * The room screen writes the mark to the room's meta (one strict transaction) when the reader is at
 * the newest message. A page left at once after that (a full page load, the tab closed) can lose
 * the transaction: the browser drops a page's unfinished IndexedDB work with it. The lobby then
 * counted as unread what the reader had seen, and LATE-2 missed what arrived late.
 *
 * So every mark handed to IndexedDB is "pending" until its transaction completes, and on `pagehide`
 * (synchronous, the last moment the page has) the pending marks go to localStorage, one key per
 * room. The next start of the app on this profile (`restoreAll`, before anything reads the rooms),
 * or another tab of it that is open then (`restore` on its `storage` event), moves each into the
 * room's meta, unless the stored mark is already as new:
 *
 * - newer means the kept mark saw every update the stored one saw, and more (`keptIsNewer`); the
 *   check and the write are one transaction, so a mark another tab stored meanwhile is never
 *   replaced by an older one, nor by one that saw other updates (the line could move back);
 * - a room removed from this device (REMOVE-1) gets no mark back: the restore holds the room's lock
 *   shared, so it runs before or after a removal, and after one the room has no record to write to;
 * - the key is removed once its mark is stored or found not newer, unless a page kept another there
 *   meanwhile; a key that does not parse is removed; one whose restore failed stays for the next.
 *
 * localStorage is written to disk lazily by the browser: a crash of the browser itself can still
 * lose the mark (as before, when the page was open long enough the transaction completed anyway).
 */
import { decodeReadSv } from '../sync/readMark.js';
import type { RoomMeta, RoomUpdateStore } from '../storage/roomUpdateStore.js';
import type { RoomLocks } from '../storage/roomLocks.js';

/** A read mark: the last-read message id and the doc's state vector then (base64; `RoomMeta.readSv`). */
export interface ReadMark {
  readonly id: string;
  readonly sv: string | undefined;
}

const PREFIX = 'converge:readMark:';
export const readMarkKey = (room: string): string => `${PREFIX}${room}`;

/** The room whose kept mark a localStorage key is (a `storage` event's), or null. */
export const readMarkRoom = (key: string | null): string | null =>
  key?.startsWith(PREFIX) ? key.slice(PREFIX.length) : null;

const parse = (text: string | null): ReadMark | null => {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return null;
    const { id, sv } = value as Record<string, unknown>;
    if (typeof id !== 'string' || (sv !== undefined && typeof sv !== 'string')) return null;
    return { id, sv };
  } catch {
    return null;
  }
};

/**
 * Whether `kept` is newer than the room's stored mark: no mark is stored; or the stored one has no
 * state vector while `kept` has one; or `kept`'s covers every entry of the stored one's and goes
 * past it in one (it saw all the stored mark saw, and more). Marks neither of which covers the
 * other (two tabs that had not received the same updates) leave the stored one: replacing it could
 * move the line back over messages read. A kept mark without a state vector is newer only than
 * no mark at all.
 */
export const keptIsNewer = (kept: ReadMark, stored: Pick<RoomMeta, 'lastReadMessageId' | 'readSv'>): boolean => {
  if (stored.lastReadMessageId === undefined) return true;
  const keptSv = decodeReadSv(kept.sv);
  if (keptSv === null) return false;
  const storedSv = decodeReadSv(stored.readSv);
  if (storedSv === null) return true;
  for (const [client, clock] of storedSv) if ((keptSv.get(client) ?? 0) < clock) return false;
  for (const [client, clock] of keptSv) if ((storedSv.get(client) ?? 0) < clock) return true;
  return false;
};

/** `mark` as the meta fields it is stored in. */
const asMeta = (mark: ReadMark): Pick<RoomMeta, 'lastReadMessageId' | 'readSv'> => ({
  lastReadMessageId: mark.id,
  readSv: mark.sv,
});

type Store = Pick<RoomUpdateStore, 'getMeta' | 'setMeta'>;

export class ReadMarkKeeper {
  /** Marks handed to IndexedDB whose transaction has not completed, per room. */
  private readonly pending = new Map<string, ReadMark>();
  /** Between `pagehide` and a `pageshow`: a mark written then (a room screen's flush) is kept at once. */
  private hidden = false;
  private readonly listeners = new Set<(room: string) => void>();

  constructor(
    private readonly kv: Storage,
    private readonly locks: Pick<RoomLocks, 'share'>,
  ) {}

  /**
   * Stores `mark` as `room`'s read mark (both fields in one write: an id with an older state vector
   * would count as unread what was read). Resolves when it is stored; rejects as `setMeta` does, the
   * mark then still pending (kept on `pagehide`, tried again at the next start).
   */
  async write(store: Store, room: string, mark: ReadMark): Promise<void> {
    this.pending.set(room, mark);
    // `pagehide` listeners run in the order they were added: a screen's flush may come after ours.
    if (this.hidden) this.keep(room, mark);
    await store.setMeta(room, asMeta(mark));
    // Kept on a `pagehide` that did not end the page (the back/forward cache), then stored after all.
    try {
      if (this.kv.getItem(readMarkKey(room)) === JSON.stringify(mark)) this.kv.removeItem(readMarkKey(room));
    } catch {
      // A refused storage keeps nothing to remove.
    }
    if (this.pending.get(room) === mark) this.pending.delete(room);
  }

  /**
   * `pagehide`: every pending mark to localStorage, and any written until the page shows again.
   * Never throws (over quota, that mark is lost, as before).
   */
  keepPending(): void {
    this.hidden = true;
    for (const [room, mark] of this.pending) this.keep(room, mark);
  }

  /** `pageshow`: the page is back (the back/forward cache); its writes go as usual. */
  shown(): void {
    this.hidden = false;
  }

  private keep(room: string, mark: ReadMark): void {
    try {
      // Another tab hidden before this one may have kept a mark: it is replaced only by a newer one.
      const other = parse(this.kv.getItem(readMarkKey(room)));
      if (other !== null && !keptIsNewer(mark, asMeta(other))) return;
      this.kv.setItem(readMarkKey(room), JSON.stringify(mark));
    } catch {
      // Quota or a refused storage: nothing else can be done as the page goes.
    }
  }

  /** REMOVE-1, under the room's removal lock: the room's pending and kept mark are forgotten. Never throws. */
  forget(room: string): void {
    this.pending.delete(room);
    try {
      this.kv.removeItem(readMarkKey(room));
    } catch {
      // A refused storage holds no mark to forget.
    }
  }

  /** The rooms with a kept mark. */
  private keptRooms(): string[] {
    const rooms: string[] = [];
    try {
      for (let i = 0; i < this.kv.length; i++) {
        const room = readMarkRoom(this.kv.key(i));
        if (room !== null) rooms.push(room);
      }
    } catch {
      // A refused storage keeps no marks.
    }
    return rooms;
  }

  /** At the app's start, before the rooms are read: every kept mark into its room's meta. */
  async restoreAll(store: Store): Promise<void> {
    await Promise.all(this.keptRooms().map((room) => this.restore(store, room)));
  }

  /** Calls `listener` with the room whenever a kept mark is stored into it; returns the unsubscribe. */
  onRestored(listener: (room: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * `room`'s kept mark, if any, into its meta when newer (above), then the key removed unless it
   * changed meanwhile (a page hidden since kept another). Never rejects: a failed write leaves the
   * key for the next start.
   */
  async restore(store: Store, room: string): Promise<void> {
    const key = readMarkKey(room);
    let release: (() => Promise<void>) | null = null;
    try {
      const text = this.kv.getItem(key);
      const kept = parse(text);
      if (kept !== null) {
        release = await this.locks.share(room);
        // A removed room has no meta: it must not get a record back. A mark found not newer here
        // costs no write; the check is made again in the write's transaction (another tab may
        // store one meanwhile), which then writes the record back unchanged.
        const meta = await store.getMeta(room);
        if (meta !== undefined && keptIsNewer(kept, meta)) {
          let stored = false;
          await store.setMeta(room, (now) => {
            stored = keptIsNewer(kept, now);
            return stored ? asMeta(kept) : {};
          });
          if (stored) for (const listener of this.listeners) listener(room);
        }
      }
      // Only the value read: a page hidden meanwhile may have kept a newer one.
      if (text !== null && this.kv.getItem(key) === text) this.kv.removeItem(key);
    } catch {
      // The key stays: the next start tries again.
    } finally {
      await release?.();
    }
  }
}
