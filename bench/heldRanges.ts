/**
 * Ranges held past a gap (DEDUPE-2, DEDUPE-3): what one update costs the relay's room logic
 * (`RoomCore.receive`) when it covers, with one struct per client, ranges a writer planted
 * before (a struct at every other clock of a client, past the gap at clock 0): DEDUPE-2 cuts it
 * around each of them.
 *
 *   npx tsx bench/heldRanges.ts [--reps 9]
 *
 * Each size is measured in this process on a fresh room (median and fastest of `--reps`, at most 3
 * for the largest), after a warm-up. Sizes:
 * the default limit (`Limits.maxHeldRangesPerUpdate`, the most one update may reach) in one client
 * and spread over 8, then 10,000 and 100,000 ranges (a 1 MB planting frame; an 8 MiB frame holds
 * about 900,000), measured with the limit lifted: what one frame cost before DEDUPE-3.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as Y from 'yjs';
import { RoomCore } from '../relay/roomCore.js';
import { defaultRoomCoreLimits } from '../relay/testing/roomCoreLimits.js';
import { encodeSyncUpdate, Limits } from '../shared/protocol.js';
import { fmt, median } from './stats.js';

/** `Y.mergeUpdates` pairwise, level by level: merging 100,000 updates at once takes minutes. */
const mergeAll = (updates: readonly Uint8Array[]): Uint8Array => {
  let level = [...updates];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? Y.mergeUpdates([level[i]!, level[i + 1]!]) : level[i]!);
    level = next;
  }
  return level[0]!;
};

/** Client `id` types 2n + 1 letters one at a time: the letters at odd clocks (n ranges past a gap), and the whole. */
const history = (id: number, n: number): { plant: Uint8Array; full: Uint8Array } => {
  const d = new Y.Doc();
  d.clientID = id;
  const each: Uint8Array[] = [];
  d.on('update', (u: Uint8Array) => each.push(u));
  for (let i = 0; i < 2 * n + 1; i++) d.getText('t').insert(i, 'x');
  return { plant: mergeAll(each.filter((_, i) => i % 2 === 1)), full: Y.encodeStateAsUpdate(d) };
};

/** Milliseconds of `receive` for the covering update, once per rep, each on a fresh room holding the plant. */
const measure = (ranges: number, clients: number, reps: number): number[] => {
  const hs = Array.from({ length: clients }, (_, i) => history(1000 + i, ranges / clients));
  const plant = encodeSyncUpdate(Y.mergeUpdates(hs.map((h) => h.plant)));
  const cover = encodeSyncUpdate(Y.mergeUpdates(hs.map((h) => h.full)));
  const limits = { ...defaultRoomCoreLimits, maxHeldRangesPerUpdate: Number.MAX_SAFE_INTEGER };
  const out: number[] = [];
  for (let rep = 0; rep <= reps; rep++) {
    const core = new RoomCore('bench', { segments: [], log: [] }, limits);
    core.join(1);
    core.receive(1, plant);
    const t = performance.now();
    core.receive(1, cover);
    if (rep > 0) out.push(performance.now() - t); // the first is a warm-up
  }
  return out;
};

const { values } = parseArgs({ options: { reps: { type: 'string', default: '9' } } });
const reps = Number(values.reps);
console.log('| ranges held past a gap | clients | covering update: median ms | fastest ms |');
console.log('| ---: | ---: | ---: | ---: |');
for (const [ranges, clients] of [
  [Limits.maxHeldRangesPerUpdate, 1],
  [Limits.maxHeldRangesPerUpdate, 8],
  [10_000, 1],
  [100_000, 1],
] as const) {
  const ms = measure(ranges, clients, ranges > 10_000 ? Math.min(reps, 3) : reps);
  console.log(`| ${ranges.toLocaleString('en')} | ${clients} | ${fmt(median(ms))} | ${fmt(Math.min(...ms))} |`);
}
