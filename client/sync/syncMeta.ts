/**
 * Reading and merging the room's sync meta (./syncState.ts) in the store. Writers: the room's
 * sessions (acks, seen clocks, late ids, last sync) and the lobby's catch-up (acks only, CATCH-8).
 * A write merges with what is stored (clocks only grow, late ids accumulate), so writers do not
 * undo each other's progress; what another writer kept (already limited to its own clients) stays.
 */
import type { RoomUpdateStore } from '../storage/roomUpdateStore.js';
import { decodeSyncState, encodeSyncState, mergeSyncStates, SYNC_META_FIELD, type SyncState } from './syncState.js';

/** The stored sync state; null when the room has no meta or it cannot be read. */
export const readSyncMeta = async (store: RoomUpdateStore, room: string): Promise<SyncState | null> => {
  try {
    const meta = (await store.getMeta(room)) as Record<string, unknown> | undefined;
    return meta ? decodeSyncState(meta[SYNC_META_FIELD]) : null;
  } catch {
    return null;
  }
};

/**
 * Merges `mine` into the stored sync state, keeping the clients in `keep` (the Yjs clients of own
 * messages) and those already stored. The merge is made from the meta inside the write (LOCAL-7),
 * so two writers at once lose neither's progress. Rejects as `setMeta` does (a store without the
 * field refuses the patch with a TypeError).
 */
export const mergeSyncMeta = (
  store: RoomUpdateStore,
  room: string,
  mine: SyncState,
  keep: Iterable<number>,
): Promise<void> => {
  const clients = new Set(keep);
  return store.setMeta(room, (meta) => {
    const stored = decodeSyncState(meta[SYNC_META_FIELD]);
    for (const c of [...stored.acked.keys(), ...stored.seen.keys()]) clients.add(c);
    return { [SYNC_META_FIELD]: encodeSyncState(mergeSyncStates(stored, mine), clients) };
  });
};
