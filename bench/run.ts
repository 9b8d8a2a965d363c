/**
 * `npm run bench [-- options]`: Converge against the reference y-websocket server
 * (@y/websocket-server 0.1.1, in-memory), side by side in one session, runs of the two systems
 * interleaved, plus the client benchmark. Scenarios (see each module's header for the method):
 *
 *   fanout   rooms × clients × updates/s: delivered updates/s, delivery latency p50/p99,
 *            server CPU per delivery, server RSS (bench/fanout.ts)
 *   catchup  a 20,000-message room: time to SyncStep2 for a fresh and a 1 %-behind client,
 *            largest frame (bench/catchup.ts)
 *   memory   1,000 rooms × 2,000 messages loaded, then idle: server RSS (bench/memory.ts)
 *   merge    a compaction of 256 chat updates: CPU per input of the relay's concatenation
 *            (CONCAT-1) against Y.mergeUpdates (bench/compactionMerge.ts)
 *   clients  one update of 1,000 / 32,768 / 200,000 one-struct Yjs clients into a room (VAL-11,
 *            RATE-1) against one client's update of the same size (bench/manyClients.ts)
 *   lobby    the lobby's refresh of a 100,000-message room that missed 10 messages: main-thread
 *            time of the catch-up against the full background session, and the lobby's first
 *            count of a 10,000 and a 100,000-message room after a page load, replay against the
 *            persisted summary (LOBBY-2) (bench/lobbyRefresh.ts)
 *   download the built app's bytes on the wire: a first visit and the re-check at each load, against
 *            the relay before STATIC-1 (no compression, no validators) (bench/download.ts)
 *   client   headless Chromium, IndexedDB seeded with 10,000 and 100,000 messages: time to the first
 *            messages painted, time for a sent message to appear, bytes per message; y-indexeddb
 *            side by side (bench/client.ts)
 *
 * No pass/fail: it prints Markdown tables (and writes the raw numbers as JSON under
 * bench/results/, which git ignores). Never part of `npm test`. `--quick` takes about 3.5 minutes
 * for a smoke test; the default run about 8 minutes on 2 cores (docs/benchmarks.md).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCatchup, type CatchupResult, type CatchupSample } from './catchup.js';
import {
  levelName,
  makeFanoutScripts,
  offeredDeliveries,
  QUIET_PCT,
  runFanout,
  type FanoutLevel,
  type FanoutResult,
} from './fanout.js';
import { runMemory, type MemoryResult } from './memory.js';
import { runScaleoutBench } from './scaleout.js';
import { DEFAULT_LOBBY_REFRESH, runLobbyRefreshBench } from './lobbyRefresh.js';
import { DEFAULT_COMPACTION_MERGE, runCompactionMergeBench } from './compactionMerge.js';
import { DEFAULT_MANY_CLIENTS, runManyClientsBench } from './manyClients.js';
import { machineInfo } from './proc.js';
import { baseline, convergeOverrides, type SystemName } from './servers.js';
import { fmt, fmtBytes, fmtInt, median, ratio, table } from './stats.js';
import { formatClientReport, runClientBench } from './client.js';
import { runDownloadBench } from './download.js';

const HELP = `npm run bench -- [options]

  --only LIST          scenarios to run, comma-separated: fanout,catchup,memory,merge,clients,lobby,download,client,scaleout (default: all)
  --quick              smaller relay and client scenarios (about 3.5 minutes: scaleout keeps its full scale); explicit
                       options still win. scaleout needs redis-server and client needs Chromium: --only skips them
  --levels LIST        fan-out levels ROOMSxCLIENTSxRATE (default 10x10x5,20x10x10)
  --rounds N           fan-out runs per system and level, interleaved (default 2)
  --retries N          fan-out: repeat a run disturbed by other programs (> 15 % of a core) up to N times (default 2)
  --warmup S           fan-out warm-up seconds before the window (default 3)
  --window S           fan-out measurement window, seconds (default 12)
  --drain S            fan-out wait for late deliveries after the window (default 3)
  --baseline DIR       fan-out only: run the relay of another checkout of this repository (DIR, e.g. a git worktree of an
                       older commit, with node_modules) in the reference's slot, labelled "baseline": a before/after
                       of the relay in one run
  --floor              fan-out: also run the floor (bench/floorServer.ts: ws receiving and sending, nothing
                       else), which splits each system's CPU per delivery into sockets and everything else
  --messages N         catch-up room size in messages (default 20000)
  --behind N           messages the "behind" client lacks (default 1 % of --messages)
  --reps N             catch-up joins per system and client kind, warm room (default 7)
  --cold-reps N        catch-up joins per client kind on Converge's cold room (default 3)
  --rooms N            memory: rooms (default 1000)
  --room-messages N    memory: messages per room (default 2000)
  --reference-heap-mb N  memory: the reference's --max-old-space-size (default 12288; 0 = Node's default,
                       with which it dies of heap exhaustion at ~900 of the default 1,000 rooms)
  --converge-env LIST  extra Converge settings for every Converge run, e.g. COMMIT_DELAY_MS=10,IDLE_UNLOAD_MS=5000
                       (experiments only: the reported comparison uses the defaults)
  --cpu-profile        fan-out: profile each server over its window (bench/results/*.cpuprofile; open in
                       Chrome DevTools). The profiler costs CPU: do not compare those runs' numbers.
  --json FILE          where to write the raw results (default bench/results/bench-<date>.json)
  --help`;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    levels: { type: 'string' },
    rounds: { type: 'string' },
    retries: { type: 'string' },
    warmup: { type: 'string' },
    window: { type: 'string' },
    drain: { type: 'string' },
    messages: { type: 'string' },
    behind: { type: 'string' },
    reps: { type: 'string' },
    'cold-reps': { type: 'string' },
    rooms: { type: 'string' },
    'room-messages': { type: 'string' },
    'reference-heap-mb': { type: 'string' },
    json: { type: 'string' },
    'converge-env': { type: 'string' },
    'cpu-profile': { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    baseline: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const quick = args.quick;
const num = (v: string | undefined, full: number, small: number, name: string): number => {
  if (v === undefined) return quick ? small : full;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${v}"`);
  return n;
};

const parseLevels = (s: string): FanoutLevel[] =>
  s.split(',').map((part) => {
    const m = /^(\d+)x(\d+)x(\d+(?:\.\d+)?)$/.exec(part.trim());
    if (!m) throw new Error(`--levels: "${part}" is not ROOMSxCLIENTSxRATE`);
    return { rooms: Number(m[1]), clients: Number(m[2]), rate: Number(m[3]) };
  });

const scenarios = new Set(
  (args.only ?? 'fanout,catchup,memory,merge,clients,lobby,download,client,scaleout').split(',').map((s) => s.trim()),
);
for (const s of scenarios) {
  if (!['fanout', 'catchup', 'memory', 'merge', 'clients', 'lobby', 'download', 'client', 'scaleout'].includes(s))
    throw new Error(`--only: unknown scenario "${s}"`);
}
const levels = parseLevels(args.levels ?? (quick ? '10x10x5' : '10x10x5,20x10x10'));
const timing = {
  warmupS: num(args.warmup, 3, 1, 'warmup'),
  windowS: num(args.window, 12, 4, 'window'),
  drainS: num(args.drain, 3, 2, 'drain'),
};
const rounds = num(args.rounds, 2, 1, 'rounds');
const retries = num(args.retries, 2, 0, 'retries');
const messages = num(args.messages, 20_000, 5_000, 'messages');
const catchupOpts = {
  messages,
  behind: num(args.behind, Math.round(messages / 100), Math.round(messages / 100), 'behind'),
  reps: num(args.reps, 7, 2, 'reps'),
  coldReps: num(args['cold-reps'], 3, 1, 'cold-reps'),
  idleUnloadMs: 1000,
};
const memoryOpts = {
  rooms: num(args.rooms, 1000, 50, 'rooms'),
  messagesPerRoom: num(args['room-messages'], 2000, 500, 'room-messages'),
  idleUnloadMs: 2000,
  settleS: quick ? 1 : 3,
  forceGc: true,
  referenceHeapMiB: num(args['reference-heap-mb'], 12288, 12288, 'reference-heap-mb'),
};

for (const pair of (args['converge-env'] ?? '').split(',').filter((p) => p.trim() !== '')) {
  const m = /^\s*([A-Z_]+)=(.*)$/.exec(pair);
  if (!m) throw new Error(`--converge-env: "${pair}" is not KEY=VALUE`);
  convergeOverrides[m[1]!] = m[2]!.trim();
}

if (args.baseline !== undefined) {
  if ([...scenarios].some((s) => s !== 'fanout')) throw new Error('--baseline: only with --only fanout');
  if (!existsSync(join(args.baseline, 'relay', 'main.ts'))) {
    throw new Error(`--baseline: ${args.baseline} is not a checkout of this repository (no relay/main.ts)`);
  }
  baseline.dir = resolve(args.baseline);
}
/** How a system is labelled in the tables: with --baseline, the reference's slot runs the older relay. */
const label = (system: SystemName): string => (system === 'reference' && baseline.dir ? 'baseline' : system);

const here = dirname(fileURLToPath(import.meta.url));
const started = Date.now();
const machine = machineInfo();
const out: string[] = [];
const print = (s = ''): void => {
  console.log(s);
  out.push(s);
};
const problems: string[] = [];

print(`# Converge vs @y/websocket-server 0.1.1 (in-memory)`);
print();
print(`- date: ${machine.date}`);
print(
  `- machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memGiB.toFixed(1)} GiB RAM, ${machine.kernel}`,
);
print(`- node: ${machine.node}; CLK_TCK ${machine.clkTck} (server CPU resolution ${1000 / machine.clkTck} ms)`);
print(`- command: npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`);
print(
  `- Converge: default COMMIT_DELAY_MS (acks after fsync), rate limits raised; reference: no persistence. ` +
    `Load generator: this process (shares the ${machine.cores} cores with the server under test).`,
);
if (Object.keys(convergeOverrides).length > 0) {
  print(`- **Converge overrides (not the defaults):** ${JSON.stringify(convergeOverrides)}`);
}
if (baseline.dir) {
  print(`- **Baseline:** the reference's slot runs the relay of ${baseline.dir}, not the reference server.`);
}

// --- fan-out -----------------------------------------------------------------------------
const fanoutResults: FanoutResult[] = [];
if (scenarios.has('fanout')) {
  print();
  print(`## Fan-out`);
  print();
  print(
    `Warm-up ${timing.warmupS} s, window ${timing.windowS} s, ${rounds} round(s) per system and level, ` +
      `alternating which system goes first. Deliveries include the echo to the sender (both servers send it). ` +
      `Each run waits until other programs use < ${QUIET_PCT} % of a core; "other CPU %" is what they used during the ` +
      `window (a run over ${QUIET_PCT} % is repeated up to ${retries} times, the least disturbed one kept).`,
  );
  for (const level of levels) {
    const scripts = makeFanoutScripts(level, timing);
    for (let round = 0; round < rounds; round++) {
      // Each system goes first in turn (with the floor: a rotation of the three).
      const systems: SystemName[] = args.floor ? ['reference', 'converge', 'floor'] : ['reference', 'converge'];
      const order = systems.map((_, i) => systems[(i + round) % systems.length]!);
      for (const system of order) {
        process.stderr.write(`fanout ${levelName(level)} ${system} round ${round + 1}/${rounds}…\n`);
        const profileFile = args['cpu-profile']
          ? join(here, 'results', `${system}-${levelName(level).replace(/[×/]/g, '_')}-r${round + 1}.cpuprofile`)
          : undefined;
        if (profileFile) mkdirSync(dirname(profileFile), { recursive: true });
        let r = await runFanout(system, level, scripts, timing, round + 1, profileFile);
        // Other programs on the machine (it is shared) make a run meaningless: run it again.
        for (let attempt = 1; attempt <= retries && r.otherCpuPct > QUIET_PCT; attempt++) {
          process.stderr.write(`  disturbed (other programs used ${fmt(r.otherCpuPct, 0)} % CPU): again…\n`);
          const again = await runFanout(system, level, scripts, timing, round + 1, profileFile);
          if (again.otherCpuPct < r.otherCpuPct) r = again;
        }
        fanoutResults.push(r);
        if (r.otherCpuPct > QUIET_PCT) {
          problems.push(
            `fanout ${levelName(level)} ${system} r${round + 1}: other programs used ${fmt(r.otherCpuPct, 0)} % CPU during the window (numbers disturbed)`,
          );
        }
        if (r.lost > 0) problems.push(`fanout ${levelName(level)} ${system} r${round + 1}: ${r.lost} deliveries lost`);
        if (r.unexpected > 0) {
          problems.push(`fanout ${levelName(level)} ${system} r${round + 1}: ${r.unexpected} unexpected update frames`);
        }
        if (r.unacked > 0)
          problems.push(`fanout ${levelName(level)} ${system} r${round + 1}: ${r.unacked} updates never acked`);
        if (r.closes.length > 0) {
          problems.push(
            `fanout ${levelName(level)} ${system} r${round + 1}: server closed sockets: ${summarise(r.closes)}`,
          );
        }
        addComplaints(`fanout ${levelName(level)} ${system} r${round + 1}`, r.complaints);
      }
    }
  }
  print();
  print(
    table(
      [
        'level',
        'system',
        'round',
        'deliveries/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'server CPU % (sys)',
        'CPU µs/delivery',
        'RSS MiB',
        'ack p50 ms',
        'ack p99 ms',
        'generator CPU %',
        'other CPU %',
        'lost',
      ],
      fanoutResults.map((r) => [
        levelName(r.level),
        label(r.system),
        String(r.round),
        fmtInt(r.deliveredPerS),
        fmt(r.latency.p50, 2),
        fmt(r.latency.p99),
        fmt(r.latency.max),
        `${fmt(r.serverCpuPct)} (${fmt(r.serverSysPct)})`,
        fmt(r.cpuUsPerDelivery),
        fmt(r.rssMiB, 0),
        fmt(r.ackLatency?.p50, 1),
        fmt(r.ackLatency?.p99, 1),
        fmt(r.generatorCpuPct),
        fmt(r.otherCpuPct, 0),
        String(r.lost),
      ]),
    ),
  );
  print();
  print(
    `Summary (median over rounds; ratio = Converge / reference; target from the issue` +
      (args.floor ? `; floor: ws receiving and sending only, and its ratio to the reference` : '') +
      `):`,
  );
  print();
  const rows: string[][] = [];
  for (const level of levels) {
    const of = (system: SystemName, f: (r: FanoutResult) => number): number =>
      median(fanoutResults.filter((r) => r.level === level && r.system === system).map(f));
    const row = (metric: string, f: (r: FanoutResult) => number, digits: number, target: string): void => {
      const ref = of('reference', f);
      const conv = of('converge', f);
      const f2 = (v: number): string => (digits === 0 ? fmtInt(v) : fmt(v, digits));
      const floor = args.floor ? [f2(of('floor', f)), ratio(of('floor', f), ref)] : [];
      rows.push([levelName(level), metric, f2(ref), f2(conv), ratio(conv, ref), baseline.dir ? '' : target, ...floor]);
    };
    const blank = args.floor ? ['', ''] : [];
    rows.push([levelName(level), 'offered deliveries/s', fmtInt(offeredDeliveries(level)), '', '', '', ...blank]);
    row('delivered deliveries/s', (r) => r.deliveredPerS, 0, '');
    row('server CPU µs/delivery', (r) => r.cpuUsPerDelivery, 1, '≤ 0.67×');
    row('latency p50 ms', (r) => r.latency.p50, 2, '');
    row('latency p99 ms', (r) => r.latency.p99, 1, '≤ 1.00×');
    row('server RSS MiB', (r) => r.rssMiB, 0, '');
  }
  const floorColumns = args.floor ? ['floor', 'floor ratio'] : [];
  print(table(['level', 'metric', label('reference'), 'converge', 'ratio', 'target', ...floorColumns], rows));
}

// --- catch-up ----------------------------------------------------------------------------
let catchup: CatchupResult | null = null;
if (scenarios.has('catchup')) {
  process.stderr.write(`catch-up: ${catchupOpts.messages} messages…\n`);
  catchup = await runCatchup(catchupOpts);
  print();
  print(`## Catch-up`);
  print();
  print(
    `Room: ${fmtInt(catchup.messages)} chat messages, ${fmtBytes(catchup.roomBytes)} V1, loaded one Update per message ` +
      `(reference ${fmt(catchup.loads[0]!.ms / 1000, 1)} s, Converge ${fmt(catchup.loads[1]!.ms / 1000, 1)} s). ` +
      `"behind" lacks the last ${fmtInt(catchup.behind)} messages. Time = SyncStep1 sent → SyncStep2 received. ` +
      `Converge cold = room unloaded, read back from SQLite (IDLE_UNLOAD_MS=${catchupOpts.idleUnloadMs} for this server).`,
  );
  print();
  const groups: Array<[SystemName, 'warm' | 'cold', 'fresh' | 'behind']> = [
    ['reference', 'warm', 'fresh'],
    ['converge', 'warm', 'fresh'],
    ['converge', 'cold', 'fresh'],
    ['reference', 'warm', 'behind'],
    ['converge', 'warm', 'behind'],
    ['converge', 'cold', 'behind'],
  ];
  const pick = (s: SystemName, room: string, client: string): CatchupSample[] =>
    catchup!.samples.filter((x) => x.system === s && x.room === room && x.client === client);
  print(
    table(
      [
        'client',
        'system',
        'room',
        'joins',
        'median ms',
        'min ms',
        'max ms',
        'largest frame',
        'frames',
        'bytes',
        'complete',
      ],
      groups
        .map(([system, room, client]) => ({ system, room, client, xs: pick(system, room, client) }))
        .filter((g) => g.xs.length > 0)
        .map(({ system, room, client, xs }) => [
          client,
          system,
          room,
          String(xs.length),
          fmt(median(xs.map((x) => x.ms)), 1),
          fmt(Math.min(...xs.map((x) => x.ms)), 1),
          fmt(Math.max(...xs.map((x) => x.ms)), 1),
          fmtBytes(Math.max(...xs.map((x) => x.maxFrame))),
          String(median(xs.map((x) => x.frames))),
          fmtBytes(median(xs.map((x) => x.bytes))),
          `${xs.filter((x) => x.complete).length}/${xs.length}`,
        ]),
    ),
  );
  print();
  const rows: string[][] = [];
  for (const client of ['fresh', 'behind'] as const) {
    const ref = median(pick('reference', 'warm', client).map((x) => x.ms));
    const warm = median(pick('converge', 'warm', client).map((x) => x.ms));
    const cold = median(pick('converge', 'cold', client).map((x) => x.ms));
    rows.push([client, fmt(ref, 1), fmt(warm, 1), ratio(warm, ref), fmt(cold, 1), ratio(cold, ref)]);
  }
  print(table(['client', 'reference ms', 'Converge warm ms', 'ratio', 'Converge cold ms', 'ratio (cold)'], rows));
  const biggest = Math.max(0, ...catchup.samples.filter((x) => x.system === 'converge').map((x) => x.maxFrame));
  print();
  print(`Largest frame Converge sent: ${fmtBytes(biggest)} (target: never over 1 MiB).`);
  for (const s of catchup.samples) {
    if (!s.complete) problems.push(`catch-up ${s.system} ${s.room} ${s.client}: client did not get every message`);
  }
  for (const l of catchup.loads) {
    if (l.closes.length > 0) problems.push(`catch-up load ${l.system}: sockets closed: ${summarise(l.closes)}`);
  }
  for (const [system, lines] of Object.entries(catchup.complaints)) addComplaints(`catch-up ${system}`, lines);
}

// --- memory ------------------------------------------------------------------------------
const memoryResults: MemoryResult[] = [];
if (scenarios.has('memory')) {
  for (const system of ['reference', 'converge'] as const) {
    process.stderr.write(`memory ${system}: ${memoryOpts.rooms} rooms × ${memoryOpts.messagesPerRoom} messages…\n`);
    const r = await runMemory(system, memoryOpts);
    memoryResults.push(r);
    if (r.crashed) {
      problems.push(`memory ${system}: the server died after ${r.uploadedRooms} of ${r.rooms} rooms: ${r.crashed}`);
    }
    if (r.closes.length > 0) problems.push(`memory ${system}: server closed sockets: ${summarise(r.closes)}`);
    if (r.roomsLoadedAfter !== null && r.roomsLoadedAfter > 0) {
      problems.push(`memory ${system}: ${r.roomsLoadedAfter} rooms still loaded after the idle period`);
    }
    addComplaints(`memory ${system}`, r.complaints);
  }
  const m = memoryResults[0]!;
  print();
  print(`## Memory`);
  print();
  print(
    `${fmtInt(m.rooms)} rooms × ${fmtInt(m.messagesPerRoom)} messages (${fmtBytes(m.roomBytes)} V1 per room), each ` +
      `uploaded by one client (its SyncStep2), 8 at a time. "loaded": every client still connected. "idle": clients ` +
      `gone; for Converge after every room was unloaded (IDLE_UNLOAD_MS=${memoryOpts.idleUnloadMs}); the reference ` +
      `keeps in-memory rooms forever. "idle after GC": the same once a full GC ran in the server (forced through its ` +
      `inspector), i.e. without the garbage V8 had not collected yet. The reference runs with ` +
      (memoryOpts.referenceHeapMiB > 0
        ? `--max-old-space-size=${memoryOpts.referenceHeapMiB} (Node's default heap limit is too small for it).`
        : `Node's default heap limit.`),
  );
  print();
  print(
    table(
      [
        'system',
        'rooms loaded',
        'load s',
        'RSS empty MiB',
        'RSS loaded MiB',
        'MiB/room',
        'RSS idle MiB',
        'idle after GC MiB',
        'JS heap / buffers after GC MiB',
        'peak MiB',
      ],
      memoryResults.map((r) => [
        r.system,
        r.crashed ? `${r.uploadedRooms} (died)` : String(r.uploadedRooms),
        fmt(r.loadS, 1),
        fmt(r.emptyMiB, 0),
        fmt(r.loadedMiB, 0),
        fmt((r.loadedMiB - r.emptyMiB) / Math.max(1, r.uploadedRooms), 2),
        fmt(r.idleMiB, 0),
        fmt(r.afterGcMiB, 0),
        r.afterGcNode ? `${fmt(r.afterGcNode.heapUsedMiB, 0)} / ${fmt(r.afterGcNode.arrayBuffersMiB, 0)}` : '–',
        fmt(r.peakMiB, 0),
      ]),
    ),
  );
  const ref = memoryResults.find((r) => r.system === 'reference');
  const conv = memoryResults.find((r) => r.system === 'converge');
  if (ref && conv && !ref.crashed && !conv.crashed) {
    print();
    print(
      table(
        ['Converge / reference', 'ratio', 'target'],
        [
          ['RSS loaded', ratio(conv.loadedMiB, ref.loadedMiB), '≤ 0.20×'],
          [
            'RSS per room loaded (minus empty)',
            ratio(conv.loadedMiB - conv.emptyMiB, ref.loadedMiB - ref.emptyMiB),
            '',
          ],
          ['RSS idle (Converge unloaded)', ratio(conv.idleMiB, ref.idleMiB), '≤ 0.20×'],
          ['RSS idle after GC', ratio(conv.afterGcMiB ?? NaN, ref.afterGcMiB ?? NaN), ''],
        ],
      ),
    );
  }
}

// --- client: opening a room from IndexedDB (bench/client.ts) ---------------------------------
let clientResult: Awaited<ReturnType<typeof runClientBench>> | null = null;
if (scenarios.has('merge')) {
  process.stderr.write('merge: compaction merges, concatenation against Y.mergeUpdates…\n');
  print();
  print('## Compaction merges (CONCAT-1)');
  print();
  print(runCompactionMergeBench(args.quick ? { ...DEFAULT_COMPACTION_MERGE, reps: 10 } : DEFAULT_COMPACTION_MERGE));
}

if (scenarios.has('clients')) {
  process.stderr.write('clients: updates of many Yjs clients against one client’s update…\n');
  print();
  print('## Updates of many Yjs clients (VAL-11, RATE-1)');
  print();
  print(runManyClientsBench(args.quick ? { reps: 1 } : DEFAULT_MANY_CLIENTS));
}

if (scenarios.has('lobby')) {
  process.stderr.write('lobby: a big room refreshed by the catch-up and by the full session…\n');
  print();
  print('## Lobby refresh (SYNC-C1)');
  print();
  print(await runLobbyRefreshBench(args.quick ? { messages: 10_000, missed: 10, reps: 2 } : DEFAULT_LOBBY_REFRESH));
}

if (scenarios.has('download')) {
  process.stderr.write('download: the built app, compressed and revalidated against before…\n');
  print();
  print('## Downloading the app (STATIC-1)');
  print();
  print(await runDownloadBench(join(here, '..', 'dist')));
}

if (scenarios.has('client')) {
  process.stderr.write('client: seeding IndexedDB and opening rooms in Chromium…\n');
  clientResult = await runClientBench(args.quick ? { sizes: [2000, 10_000], reps: 3, sends: 3 } : {});
  print();
  print(formatClientReport(clientResult));
}

// --- scale-out: one relay vs three relays on one Redis vs embedded (bench/scaleout.ts) -----------
if (scenarios.has('scaleout')) {
  process.stderr.write('scaleout: relays on a real redis-server…\n');
  print();
  print('## Scale-out');
  print();
  print((await runScaleoutBench()).markdown);
}

print();
print(`## Problems seen`);
print();
if (problems.length === 0) print('None: no lost or unexpected deliveries, no server-initiated closes, no error logs.');
else for (const p of problems) print(`- ${p}`);
print();
print(`Total time: ${fmt((Date.now() - started) / 1000, 0)} s`);

const jsonPath =
  args.json ?? join(here, 'results', `bench-${machine.date.replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z')}.json`);
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(
  jsonPath,
  JSON.stringify(
    {
      machine,
      argv: process.argv.slice(2),
      timing,
      rounds,
      catchupOpts,
      memoryOpts,
      fanoutResults,
      catchup,
      memoryResults,
      clientResult,
      problems,
      report: out.join('\n'),
    },
    null,
    2,
  ),
);
process.stderr.write(`raw results: ${jsonPath}\n`);

/** Server log lines as problems: the first few (a crash prints a long native stack). */
function addComplaints(where: string, lines: readonly string[]): void {
  for (const l of lines.slice(0, 6)) problems.push(`${where} log: ${l.slice(0, 300)}`);
  if (lines.length > 6) problems.push(`${where} log: … ${lines.length - 6} more lines (see the JSON results)`);
}

/** "4422 invalid-update ×3, 4508 slow-consumer ×1" */
function summarise(lines: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => `${l} ×${n}`).join(', ');
}
