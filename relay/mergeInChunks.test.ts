import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { parseUpdateV1, UpdateError, type ParsedUpdate } from '../shared/updateV1.js';
import { inlineMerger, mergeAndParse, mergeInChunks, mergeParsed, type Merger } from './mergeInChunks.js';

const trusted = (u: Uint8Array): ParsedUpdate => parseUpdateV1(u, { maxDepth: Infinity, skipMapEntryRule: true });

/** The inline merger, counting the merges handed to it (what the worker would be asked). */
const countingMerger = (): Merger & { calls: number } => {
  const m = {
    calls: 0,
    mergeAndParse: (updates: readonly Uint8Array[]) => {
      m.calls++;
      return inlineMerger.mergeAndParse(updates);
    },
  };
  return m;
};

const chat = (): { doc: Y.Doc; events: Uint8Array[] } => {
  const doc = new Y.Doc();
  const events: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => events.push(u));
  for (let i = 0; i < 12; i++) {
    doc.clientID = 100 + (i % 3);
    doc.getArray('messages').push([{ id: `m${i}`, text: `message ${i}` }]);
  }
  return { doc, events };
};

describe('compaction merges (CONCAT-1)', () => {
  it('CONCAT-1: log entries that do not overlap are merged on the calling thread, not handed to the merger', async () => {
    const { doc, events } = chat();
    const merger = countingMerger();
    const merged = await mergeParsed(merger, events.map(trusted));
    expect(merger.calls).toBe(0);
    expect(merged).toEqual(trusted(merged.bytes));
    const replica = new Y.Doc();
    Y.applyUpdate(replica, merged.bytes);
    expect(replica.getArray('messages').toJSON()).toEqual(doc.getArray('messages').toJSON());
    expect(mergeAndParse(events)).toEqual(merged);
  });

  it('CONCAT-1: a single part (an oversized log entry becoming a segment) is its own merge, not parsed again', async () => {
    const { events } = chat();
    const part = trusted(events[0]!);
    const merger = countingMerger();
    expect(await mergeParsed(merger, [part])).toBe(part);
    expect(merger.calls).toBe(0);
  });

  it('CONCAT-1: a merge that fails rejects, never throws (callers run it inside the commit loop)', async () => {
    const { events } = chat();
    const good = trusted(events[0]!);
    // A parse whose run points at bytes that are not structs: the concatenation does not parse.
    const bad: ParsedUpdate = { ...good, bytes: new Uint8Array(good.bytes.length).fill(0xff) };
    let merging: Promise<ParsedUpdate> | null = null;
    expect(() => (merging = mergeParsed(countingMerger(), [bad, trusted(events[1]!)]))).not.toThrow();
    await expect(merging).rejects.toThrow(UpdateError);
  });

  it('CONCAT-1: parts that hold the same clocks go to the merger (Y.mergeUpdates), with the same result', async () => {
    const { doc, events } = chat();
    const parts = [...events.slice(0, 6), Y.encodeStateAsUpdate(doc)].map(trusted);
    const merger = countingMerger();
    const merged = await mergeParsed(merger, parts);
    expect(merger.calls).toBe(1);
    expect(merged).toEqual(trusted(mergeInChunks(parts.map((p) => p.bytes))));
    expect(mergeAndParse(parts.map((p) => p.bytes))).toEqual(merged);
  });
});
