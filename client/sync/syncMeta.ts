/**
 * Reading and merging the room's sync meta (./syncState.ts) in the store. Writers: the room's
 * sessions (acks, seen clocks, late ids, last sync) and the lobby's catch-up (acks only, CATCH-8).
 * A write merges with what is stored (clocks only grow, late ids accumulate), so writers do not
 * undo each other's progress; what another writer kept (already limited to its own clients) stays.
 */
import type { RoomMetaPatch, RoomUpdateStore } from '../storage/roomUpdateStore.js';
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
 * messages) and those already stored. Rejects as `setMeta` does (a store without the field
 * refuses the patch with a TypeError).
 */
export const mergeSyncMeta = async (
  store: RoomUpdateStore,
  room: string,
  mine: SyncState,
  keep: Iterable<number>,
): Promise<void> => {
  const stored = await readSyncMeta(store, room);
  const merged = stored ? mergeSyncStates(stored, mine) : mine;
  const clients = new Set(keep);
  for (const c of [...(stored?.acked.keys() ?? []), ...(stored?.seen.keys() ?? [])]) clients.add(c);
  const patch = { [SYNC_META_FIELD]: encodeSyncState(merged, clients) } as unknown as RoomMetaPatch;
  await store.setMeta(room, patch);
};
