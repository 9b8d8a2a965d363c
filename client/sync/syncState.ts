/**
 * What the sync layer remembers about a room across reloads, kept in the room's meta record
 * (one JSON string, field `sync`): relay acks and peers' "seen" clocks for the Yjs clients that
 * authored own messages (so 'saved' and 'seen' survive a reload while offline), the ids of
 * messages that arrived late (LATE-1), how far ahead of this device's clock each flagged message was
 * when it first appeared here (HLC-4), and when the relay was last heard from (STATE-3).
 *
 * Everything read back is validated (another version or another tab may have written it) and
 * bounded, so the meta record stays small.
 */
import { isId } from '../../shared/ids.js';

export const SYNC_META_FIELD = 'sync';
export const MAX_CLOCK_ENTRIES = 512;
export const MAX_LATE_IDS = 500;
export const MAX_AHEAD_IDS = 500;

export interface SyncState {
  /** Yjs client → clock below which the relay acked everything (ACK-3). */
  readonly acked: ReadonlyMap<number, number>;
  /** Yjs client → highest clock another participant's replica reported holding. */
  readonly seen: ReadonlyMap<number, number>;
  /** Ids of messages that arrived late, oldest first. */
  readonly late: readonly string[];
  /** HLC-4: message id → ms its HLC was ahead of this device's clock when it first appeared here, oldest first. */
  readonly ahead: ReadonlyMap<string, number>;
  /** STATE-3: when this room last synced with the relay (ms since the epoch), null if never. */
  readonly syncedAt: number | null;
}

export const emptySyncState = (): SyncState => ({
  acked: new Map(),
  seen: new Map(),
  late: [],
  ahead: new Map(),
  syncedAt: null,
});

const readTime = (v: unknown): number | null => (Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : null);

const isClockPair = (v: unknown): v is [number, number] =>
  Array.isArray(v) &&
  v.length === 2 &&
  Number.isSafeInteger(v[0]) &&
  Number.isSafeInteger(v[1]) &&
  (v[0] as number) >= 0 &&
  (v[1] as number) >= 0;

const readClocks = (v: unknown): Map<number, number> => {
  const out = new Map<number, number>();
  if (!Array.isArray(v)) return out;
  for (const pair of v.slice(0, MAX_CLOCK_ENTRIES)) if (isClockPair(pair)) out.set(pair[0], pair[1]);
  return out;
};

const readAhead = (v: unknown): Map<string, number> => {
  const out = new Map<string, number>();
  if (!Array.isArray(v)) return out;
  for (const pair of v.slice(-MAX_AHEAD_IDS)) {
    if (Array.isArray(pair) && pair.length === 2 && isId(pair[0]) && Number.isSafeInteger(pair[1]) && pair[1] > 0) {
      out.set(pair[0], pair[1] as number);
    }
  }
  return out;
};

/** The last `n` entries of a map, in its order. */
const lastOf = <K, V>(m: ReadonlyMap<K, V>, n: number): Array<[K, V]> => [...m].slice(-n);

export const decodeSyncState = (text: unknown): SyncState => {
  if (typeof text !== 'string') return emptySyncState();
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return emptySyncState();
    const r = v as Record<string, unknown>;
    if (r.v !== 1) return emptySyncState();
    const late = Array.isArray(r.late) ? r.late.filter(isId).slice(-MAX_LATE_IDS) : [];
    return {
      acked: readClocks(r.acked),
      seen: readClocks(r.seen),
      late,
      ahead: readAhead(r.ahead),
      syncedAt: readTime(r.syncedAt),
    };
  } catch {
    return emptySyncState();
  }
};

/** Keeps only the clients in `keep` (the authors' Yjs clients of own messages), bounded. */
export const encodeSyncState = (s: SyncState, keep: ReadonlySet<number>): string => {
  const pick = (m: ReadonlyMap<number, number>): Array<[number, number]> =>
    [...m]
      .filter(([c]) => keep.has(c))
      .slice(-MAX_CLOCK_ENTRIES)
      .sort((a, b) => a[0] - b[0]);
  return JSON.stringify({
    v: 1,
    acked: pick(s.acked),
    seen: pick(s.seen),
    late: s.late.slice(-MAX_LATE_IDS),
    ...(s.ahead.size > 0 ? { ahead: lastOf(s.ahead, MAX_AHEAD_IDS) } : {}),
    ...(s.syncedAt !== null ? { syncedAt: s.syncedAt } : {}),
  });
};

/** A Yjs item id (`Y.ID`'s fields). */
export interface ItemId {
  readonly client: number;
  readonly clock: number;
}

/** What STATE-1 judges of a message: its record's Yjs id and, once edited, the id of the edit it shows. */
export interface MessageWrites {
  readonly yId: ItemId | null;
  readonly editYId: ItemId | null;
}

/** Whether `clocks` (client → clock below which everything is held) covers the item `id`. */
export const coversItem = (clocks: ReadonlyMap<number, number>, id: ItemId | null): boolean =>
  id !== null && (clocks.get(id.client) ?? 0) > id.clock;

/**
 * STATE-1: whether `clocks` (the relay's acks, or another user's "seen" clocks) cover the message:
 * its record and, once edited, the edit it shows (an edit made offline is not saved yet).
 */
export const coversMessage = (clocks: ReadonlyMap<number, number>, m: MessageWrites): boolean =>
  coversItem(clocks, m.yId) && (m.editYId === null || coversItem(clocks, m.editYId));

/**
 * Another tab's state and ours: the higher clock per client, the union of late ids (oldest first),
 * the union of clock-ahead amounts (the first one recorded wins: it was measured when the message
 * first appeared), the later sync.
 */
export const mergeSyncStates = (a: SyncState, b: SyncState): SyncState => {
  const max = (x: ReadonlyMap<number, number>, y: ReadonlyMap<number, number>): Map<number, number> => {
    const out = new Map(x);
    for (const [c, k] of y) if (k > (out.get(c) ?? 0)) out.set(c, k);
    return out;
  };
  const late = [...new Set([...a.late, ...b.late])].slice(-MAX_LATE_IDS);
  const syncedAt =
    a.syncedAt === null || b.syncedAt === null ? (a.syncedAt ?? b.syncedAt) : Math.max(a.syncedAt, b.syncedAt);
  const ahead = new Map(a.ahead);
  for (const [id, ms] of b.ahead) if (!ahead.has(id)) ahead.set(id, ms);
  return {
    acked: max(a.acked, b.acked),
    seen: max(a.seen, b.seen),
    late,
    ahead: new Map(lastOf(ahead, MAX_AHEAD_IDS)),
    syncedAt,
  };
};
