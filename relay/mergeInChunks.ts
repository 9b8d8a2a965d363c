/**
 * Merging stored updates for compaction, without a Y.Doc. Most merges are a concatenation
 * (CONCAT-1: `concatUpdatesV1`, a copy of the bytes), done where the parts' parses already are;
 * the rest — parts that hold the same clocks — go through `Y.mergeUpdates`, in the store's worker
 * thread (relay/roomStoreWorker.ts) in production, inline in tests and the fuzz.
 */
import * as Y from 'yjs';
import { concatUpdatesV1, parseUpdateV1, type ParsedUpdate } from '../shared/updateV1.js';

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
 * Parses bytes the relay built itself from updates it accepted earlier, for their summaries only
 * (skipMapEntryRule: see shared/updateV1.ts; the map entries were recorded when each input
 * was accepted).
 */
const parseTrusted = (bytes: Uint8Array): ParsedUpdate =>
  parseUpdateV1(bytes, { maxDepth: Infinity, skipMapEntryRule: true });

/**
 * The merge of `parts` (CONCAT-1), parsed, or null when they overlap. A single part is its own
 * merge: it is returned as it is, not parsed again (an oversized log entry becomes a segment of
 * its own, and may be megabytes).
 */
export const concatAndParse = (parts: readonly ParsedUpdate[]): ParsedUpdate | null => {
  if (parts.length === 1) return parts[0]!;
  const bytes = concatUpdatesV1(parts);
  return bytes && parseTrusted(bytes);
};

/** Merges updates the relay accepted earlier (concatenated when they do not overlap) and parses the result. */
export const mergeAndParse = (updates: readonly Uint8Array[]): ParsedUpdate =>
  concatAndParse(updates.map(parseTrusted)) ?? parseTrusted(mergeInChunks(updates));

/** Where compaction merges run: inline (`inlineMerger`) or off the event loop (WorkerRoomStore). */
export interface Merger {
  mergeAndParse(updates: readonly Uint8Array[]): Promise<ParsedUpdate>;
}

export const inlineMerger: Merger = {
  mergeAndParse: (updates) => new Promise((resolve) => resolve(mergeAndParse(updates))),
};

/**
 * A compaction's merge: on the calling thread when the parts (already parsed by the caller) can
 * be concatenated, which costs less than handing them to a worker; else `merger.mergeAndParse`.
 */
export const mergeParsed = async (merger: Merger, parts: readonly ParsedUpdate[]): Promise<ParsedUpdate> =>
  // async: a throw becomes a rejection, which every caller handles (the scale-out caller would
  // otherwise throw inside the commit loop, before the acks of later rooms).
  concatAndParse(parts) ?? (await merger.mergeAndParse(parts.map((p) => p.bytes)));
