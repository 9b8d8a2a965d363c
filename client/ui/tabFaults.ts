/**
 * LAB-10: a Lab fault belongs to the tab, not to one visit of the room, and a partition holds the
 * room back on this whole device.
 *
 * Why: the faults live on the room's session, and leaving the room for the lobby destroyed it:
 * the partition ended silently and the lobby's refresh (SYNC-C1) uploaded what was written behind
 * it, while the panel said faults last until cleared or the page is reloaded. A lobby in another
 * tab, or a second tab opened on the room, did the same from IndexedDB, which all tabs share.
 *
 * - This tab remembers each room's faults (`rememberedFaults`): a session opened on the room again
 *   starts with them, before it connects. A reload forgets them (the module starts empty).
 * - While this tab holds a room partitioned, it keeps a mark in localStorage,
 *   `converge:partitioned:<room>:<tab>` = expiry (ms), renewed every `RENEW_MS` and removed when
 *   the partition is lifted or the page goes away; a tab that crashed leaves one that expires
 *   within `MARK_TTL_MS`. `partitionedHere(room)` (this tab, or a live mark of another) keeps the
 *   room out of every lobby's refresh, and a session opened on it in another tab starts
 *   partitioned too (its banner says so; clearing it there is that person's choice).
 */
import { hasFaults, NO_FAULTS, sameFaults, type FaultConfig } from '../../shared/lab/faults.js';

/**
 * A browser may run a hidden tab's timers once a minute only (Chrome's intensive throttling): a
 * mark outlives two such minutes. A tab that crashed holds the room back that long.
 */
export const MARK_TTL_MS = 150_000;
export const RENEW_MS = 30_000;
const PREFIX = 'converge:partitioned:';

/** The partition marks of one tab in one `Storage` (pure apart from it: time is passed in). */
export class PartitionMarks {
  constructor(
    private readonly storage: Storage,
    private readonly tab: string,
  ) {}

  /** Marks (or renews) `rooms` as partitioned by this tab until `now + MARK_TTL_MS`, and unmarks the others. */
  hold(rooms: ReadonlySet<string>, now: number): void {
    for (const { key, room, tab } of this.marks()) {
      if (tab === this.tab && !rooms.has(room)) this.remove(key);
    }
    for (const room of rooms) {
      try {
        this.storage.setItem(`${PREFIX}${room}:${this.tab}`, String(now + MARK_TTL_MS));
      } catch {
        // Full or refused: the partition then holds for this tab only.
      }
    }
  }

  /** Some tab holds `room` partitioned at `now` (expired marks are removed on the way). */
  held(room: string, now: number): boolean {
    let found = false;
    for (const { key, room: r } of this.marks()) {
      const until = Number(this.storage.getItem(key));
      if (!(until > now)) this.remove(key);
      else if (r === room) found = true;
    }
    return found;
  }

  private marks(): Array<{ key: string; room: string; tab: string }> {
    const out: Array<{ key: string; room: string; tab: string }> = [];
    for (let i = 0; i < this.storage.length; i++) {
      const key = this.storage.key(i);
      if (!key?.startsWith(PREFIX)) continue;
      // Room names never contain ':' (ROOM_NAME_PATTERN), tab ids neither.
      const rest = key.slice(PREFIX.length);
      const cut = rest.lastIndexOf(':');
      out.push({ key, room: rest.slice(0, cut), tab: rest.slice(cut + 1) });
    }
    return out;
  }

  private remove(key: string): void {
    try {
      this.storage.removeItem(key);
    } catch {
      // Refused: it expires.
    }
  }
}

/** This tab's faults per room, and its marks (wired up by `tabFaults`). */
export class TabFaults {
  private readonly faults = new Map<string, FaultConfig>();

  constructor(
    private readonly marks: PartitionMarks,
    private readonly now: () => number,
  ) {}

  /** Takes the room's faults as they are now (called on every lab change: only a change of faults costs anything). */
  remember(room: string, config: FaultConfig): void {
    if (sameFaults(this.faults.get(room) ?? NO_FAULTS, config)) return;
    if (hasFaults(config)) this.faults.set(room, config);
    else this.faults.delete(room);
    this.renew();
  }

  /**
   * REMOVE-1: the room is gone from the device: this tab's faults for it and its mark go too, so
   * the room joined again starts without them. Another tab's partition mark is that tab's (LAB-10).
   */
  forget(room: string): void {
    if (!this.faults.delete(room)) return;
    this.renew();
  }

  /** The faults a session opened on `room` in this tab starts with. */
  startingFaults(room: string): FaultConfig | undefined {
    const own = this.faults.get(room);
    if (own) return own;
    return this.marks.held(room, this.now()) ? { ...NO_FAULTS, partitioned: true } : undefined;
  }

  /** This tab or another holds `room` partitioned: no background sync of it from this tab. */
  partitionedHere(room: string): boolean {
    return this.faults.get(room)?.partitioned === true || this.marks.held(room, this.now());
  }

  /** Renews this tab's marks (and drops those of rooms no longer partitioned). */
  renew(): void {
    const rooms = new Set([...this.faults].filter(([, c]) => c.partitioned).map(([room]) => room));
    this.marks.hold(rooms, this.now());
  }

  /** The page goes away: its marks go with it (a reload clears faults). */
  release(): void {
    this.marks.hold(new Set(), this.now());
  }
}
