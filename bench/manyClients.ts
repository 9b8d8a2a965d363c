/**
 * Updates of many Yjs clients (VAL-11, RATE-1): what one frame costs the relay's room logic
 * (`RoomCore.receive`: validation, the clock ranges it keeps, the persist and broadcast effects)
 * against the anchor of the same number of bytes from one client (a text insert).
 *
 *   npm run bench -- --only clients        (or standalone:)
 *   npx tsx bench/manyClients.ts [--reps 3]
 *
 * Each size is measured in this process on a fresh room (median of `--reps`), warmed up once.
 * Sizes: 1,000 clients, the default cap (`Limits.maxClientsPerUpdate`), and 200,000 clients (what
 * an 8 MiB frame could hold several times over before the cap; refused by a relay with the
 * default settings, measured here with the cap lifted).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as Y from 'yjs';
import { RoomCore, type RoomCoreLimits } from '../relay/roomCore.js';
import { defaultRoomCoreLimits } from '../relay/testing/roomCoreLimits.js';
import { encodeSyncUpdate, Limits } from '../shared/protocol.js';
import { fmt, median, table } from './stats.js';
import { manyClientsUpdate } from '../shared/testing/updateModel.js';

export interface ManyClientsOptions {
  readonly reps: number;
}

export const DEFAULT_MANY_CLIENTS: ManyClientsOptions = { reps: 3 };

const LIMITS: RoomCoreLimits = { ...defaultRoomCoreLimits, maxClientsPerUpdate: Number.MAX_SAFE_INTEGER };

/** One client's text inserts, about `bytes` bytes in all (4 KiB each: one struct must fit a frame, VAL-10). */
const oneClientUpdate = (bytes: number): Uint8Array => {
  const doc = new Y.Doc();
  doc.clientID = 7;
  const text = doc.getText('t');
  // Each insert at the start: a new struct (yjs joins only an insert that continues the last one).
  for (let left = bytes; left > 0; left -= 4096) text.insert(0, 'x'.repeat(Math.min(4096, left)));
  return Y.encodeStateAsUpdate(doc);
};

/** ms for a fresh room with two connections to take `update` from one of them. */
const receiveMs = (update: Uint8Array): number => {
  const core = new RoomCore('bench', { segments: [], log: [] }, LIMITS);
  core.join(1);
  core.join(2);
  const frame = encodeSyncUpdate(update);
  const t = performance.now();
  const effects = core.receive(1, frame);
  const ms = performance.now() - t;
  if (effects.some((e) => e.type === 'close')) throw new Error('the room refused the update');
  return ms;
};

export const runManyClientsBench = (opts: ManyClientsOptions = DEFAULT_MANY_CLIENTS): string => {
  const rows: string[][] = [];
  receiveMs(manyClientsUpdate(1000, 0, 1_000_000)); // warm-up
  for (const n of [1000, Limits.maxClientsPerUpdate, 200_000]) {
    const many = manyClientsUpdate(n, 0, 1_000_000);
    const one = oneClientUpdate(many.length);
    const manyMs = median(Array.from({ length: opts.reps }, () => receiveMs(many)));
    const oneMs = median(Array.from({ length: opts.reps }, () => receiveMs(one)));
    rows.push([
      n.toLocaleString('en-US'),
      fmt(many.length / 1024, 0),
      fmt(manyMs, 1),
      fmt((manyMs * 1000) / n, 2),
      fmt(oneMs, 2),
      `${fmt(manyMs / oneMs, 0)}×`,
    ]);
  }
  return [
    `One update into a fresh room (RoomCore.receive), median of ${opts.reps}; the anchor is one client's update of the same size:`,
    '',
    table(['clients', 'KiB', 'ms (many clients)', 'µs per client', 'ms (one client, anchor)', 'ratio'], rows),
  ].join('\n');
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { reps: { type: 'string' } } });
  process.stdout.write(runManyClientsBench({ reps: Number(values.reps ?? DEFAULT_MANY_CLIENTS.reps) }) + '\n');
}
