/**
 * Compaction merges (STORE-2, CONCAT-1): CPU per input of folding a run of log entries into one
 * segment, the way the relay does it now against `Y.mergeUpdates`, the anchor it replaced.
 *
 *   npm run bench -- --only merge        (or standalone:)
 *   npx tsx bench/compactionMerge.ts [--entries 256] [--authors 10] [--reps 40]
 *
 * Inputs: `--entries` consecutive chat messages (bench/chat.ts: one update per message, authors
 * taking turns), what the relay's default policy compacts at once (relay/main.ts: 256 entries).
 * Measured in this process, one path after the other, each warmed up first, median of `--reps`:
 *   - Y.mergeUpdates + parse: `mergeInChunks` and a parse of the result, what every compaction
 *     cost in the store's worker before CONCAT-1 (the anchor);
 *   - concat (relay): `concatAndParse` from the parses the room already holds, on the event loop;
 *   - concat (worker): `mergeAndParse`, which parses each input first (scale-out store compaction
 *     and the fallback's entry point).
 * Every result is checked to give the same document as Y.mergeUpdates.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as Y from 'yjs';
import { concatAndParse, mergeAndParse, mergeInChunks } from '../relay/mergeInChunks.js';
import { parseUpdateV1, type ParsedUpdate } from '../shared/updateV1.js';
import { makeChatRoom } from './chat.js';
import { fmt, median, table } from './stats.js';

export interface CompactionMergeOptions {
  readonly entries: number;
  readonly authors: number;
  readonly reps: number;
}

export const DEFAULT_COMPACTION_MERGE: CompactionMergeOptions = { entries: 256, authors: 10, reps: 40 };

const trusted = (u: Uint8Array): ParsedUpdate => parseUpdateV1(u, { maxDepth: Infinity, skipMapEntryRule: true });

const sameDoc = (a: Uint8Array, b: Uint8Array): boolean => {
  const da = new Y.Doc();
  const db = new Y.Doc();
  Y.applyUpdate(da, a);
  Y.applyUpdate(db, b);
  return Buffer.from(Y.encodeStateAsUpdate(da)).equals(Buffer.from(Y.encodeStateAsUpdate(db)));
};

export const runCompactionMergeBench = (opts: CompactionMergeOptions = DEFAULT_COMPACTION_MERGE): string => {
  // Several distinct batches, so no path merges the same bytes twice in a row.
  const batches = 4;
  const room = makeChatRoom(opts.entries * batches, { authors: opts.authors, behind: 0, seed: 7 });
  const inputs = Array.from({ length: batches }, (_, b) =>
    room.updates.slice(b * opts.entries, (b + 1) * opts.entries),
  );
  const parsed = inputs.map((batch) => batch.map(trusted));
  const paths: Array<[string, (b: number) => Uint8Array]> = [
    ['Y.mergeUpdates + parse (before)', (b) => trusted(mergeInChunks(inputs[b]!)).bytes],
    ['concat from parses (relay, CONCAT-1)', (b) => concatAndParse(parsed[b]!)!.bytes],
    ['parse inputs + concat (worker)', (b) => mergeAndParse(inputs[b]!).bytes],
  ];
  const anchor = Y.mergeUpdates(inputs[0]!);
  const rows: string[][] = [];
  let before = 0;
  for (const [name, run] of paths) {
    if (!sameDoc(run(0), anchor)) throw new Error(`${name}: not the same document as Y.mergeUpdates`);
    for (let i = 0; i < 10; i++) run(i % batches);
    const times: number[] = [];
    for (let i = 0; i < opts.reps; i++) {
      const t0 = performance.now();
      run(i % batches);
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    if (rows.length === 0) before = ms;
    rows.push([
      name,
      fmt(ms, 2),
      fmt((ms * 1000) / opts.entries, 1),
      rows.length === 0 ? '1.00×' : `${fmt(ms / before, 2)}×`,
    ]);
  }
  const bytes = inputs[0]!.reduce((n, u) => n + u.length, 0);
  return [
    `${opts.entries} chat updates by ${opts.authors} authors (${bytes.toLocaleString('en-US')} bytes), median of ${opts.reps}:`,
    '',
    table(['path', 'ms per compaction', 'µs per input', 'vs before'], rows),
  ].join('\n');
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { entries: { type: 'string' }, authors: { type: 'string' }, reps: { type: 'string' } },
  });
  const d = DEFAULT_COMPACTION_MERGE;
  process.stdout.write(
    runCompactionMergeBench({
      entries: Number(values.entries ?? d.entries),
      authors: Number(values.authors ?? d.authors),
      reps: Number(values.reps ?? d.reps),
    }) + '\n',
  );
}
