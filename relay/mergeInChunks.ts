/**
 * Merging stored updates for compaction, without a Y.Doc. Runs in the store's worker thread
 * (relay/roomStoreWorker.ts) in production, inline in tests and the fuzz.
 */
import * as Y from 'yjs';
import { parseUpdateV1, type ParsedUpdate } from '../shared/updateV1.js';

/** `Y.mergeUpdates` is super-linear in its number of inputs: merge in groups of at most 64. */
export const mergeInChunks = (updates: readonly Uint8Array[]): Uint8Array => {
  let level = [...updates];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 64) next.push(Y.mergeUpdates(level.slice(i, i + 64)));
    level = next;
  }
  return level[0] ?? new Uint8Array([0, 0]);
};

/**
 * Merges updates the relay accepted earlier and parses the result for its summaries only
 * (skipMapEntryRule: see shared/updateV1.ts; the map entries were recorded when each input
 * was accepted).
 */
export const mergeAndParse = (updates: readonly Uint8Array[]): ParsedUpdate =>
  parseUpdateV1(mergeInChunks(updates), { maxDepth: Infinity, skipMapEntryRule: true });

/** Where compaction merges run: inline (`inlineMerger`) or off the event loop (WorkerRoomStore). */
export interface Merger {
  mergeAndParse(updates: readonly Uint8Array[]): Promise<ParsedUpdate>;
}

export const inlineMerger: Merger = {
  mergeAndParse: (updates) => new Promise((resolve) => resolve(mergeAndParse(updates))),
};
