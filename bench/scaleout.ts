/**
 * Scale-out benchmark (issue 5): the same offered load — R rooms × C clients, each client sending
 * chat updates at a fixed rate (open loop) and receiving every update of its room — against
 *
 *   embedded   one relay on SQLite (the default mode);
 *   redis×1    one relay in scale-out mode on one Redis (AOF, appendfsync always);
 *   redis×3    three relays on that one Redis, each room's clients spread over the three;
 *   cluster×3  three relays on a Redis Cluster of three masters (REDIS-1), clients spread alike.
 *
 * Runs are interleaved (embedded, redis×1, redis×3, cluster×3, then again) so slow drifts of the machine hit
 * every setup alike. Reported per run: delivered updates/s inside the window, delivery latency
 * (client-measured send → receive, every receiver) and ack latency (send → the ack covering it)
 * p50/p99, relay CPU (summed over the relay processes) and Redis CPU (from /proc, summed over the
 * cluster's nodes) as % of one core
 * and µs per delivery. On a 2-core machine three relays cannot deliver more than one: the
 * comparison is CPU per delivery and latency at equal load (see docs/benchmarks.md).
 *
 * Standalone: `npx tsx bench/scaleout.ts [--rooms 10] [--clients 6] [--rate 5] [--window 10]
 * [--rounds 2]` prints a Markdown report.
 */
import { performance } from 'node:perf_hooks';
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { startRelay, type RelayProcess } from '../relay/testing/relayProcess.js';
import { startRedisCluster } from '../relay/testing/redisCluster.js';
import { startRedis, type RedisServer } from '../relay/testing/redisServer.js';
import { makeSenderScript, type SenderScript } from './chat.js';
import { CONVERGE_BENCH_ENV } from './servers.js';
import { cpuMs, foreignLoad, machineInfo, sleep, waitMachineQuiet } from './proc.js';
import { Samples, fmt, fmtInt, median, table } from './stats.js';
import {
  Kind,
  STEP1_EMPTY,
  STEP2_EMPTY,
  ackPairs,
  closeSocket,
  firstStructKey,
  frameKind,
  newSender,
  openSocket,
  type Sender,
} from './wire.js';

export type ScaleoutSetup = 'embedded' | 'redis×1' | 'redis×3' | 'cluster×3';
export const SCALEOUT_SETUPS: readonly ScaleoutSetup[] = ['embedded', 'redis×1', 'redis×3', 'cluster×3'];

export interface ScaleoutOptions {
  readonly rooms: number;
  readonly clients: number;
  /** Updates per second sent by each client. */
  readonly rate: number;
  readonly warmupS: number;
  readonly windowS: number;
  readonly drainS: number;
  readonly rounds: number;
  /** Default: all four. */
  readonly setups?: readonly ScaleoutSetup[];
}

export const DEFAULT_SCALEOUT: ScaleoutOptions = {
  rooms: 10,
  clients: 6,
  rate: 5,
  warmupS: 3,
  windowS: 10,
  drainS: 10,
  rounds: 2,
};

export interface ScaleoutResult {
  readonly setup: ScaleoutSetup;
  readonly round: number;
  readonly deliveredPerS: number;
  readonly latency: { count: number; p50: number; p99: number; max: number };
  readonly ackLatency: { count: number; p50: number; p99: number; max: number };
  /** Relay processes' CPU over the window, % of one core (summed). */
  readonly relayCpuPct: number;
  readonly relayUsPerDelivery: number;
  /** Redis's CPU over the window, % of one core (0 for embedded). */
  readonly redisCpuPct: number;
  readonly redisUsPerDelivery: number;
  /** Upper bound of the p99 of one group commit (SQLite transaction or Redis publish), from `/metrics`' buckets, ms. */
  readonly commitP99Ms: number;
  readonly generatorCpuPct: number;
  readonly otherCpuPct: number;
  /** Window deliveries or acks still missing after the drain; server-initiated closes. */
  readonly lost: number;
  readonly unacked: number;
  readonly closes: number;
}

interface Bed {
  readonly relays: RelayProcess[];
  /** redis-server processes (none for embedded, three for the cluster). */
  readonly redisPids: number[];
  stop(): Promise<void>;
}

const startBed = async (setup: ScaleoutSetup): Promise<Bed> => {
  const env = { ...CONVERGE_BENCH_ENV, LOG_LEVEL: 'warn' };
  const redis = setup === 'embedded' ? null : setup === 'cluster×3' ? await startRedisCluster() : await startRedis();
  const servers: RedisServer[] = redis === null ? [] : 'nodes' in redis ? [...redis.nodes] : [redis];
  const n = setup === 'redis×1' || setup === 'embedded' ? 1 : 3;
  const relays: RelayProcess[] = [];
  for (let i = 0; i < n; i++) relays.push(await startRelay({ env: redis ? { ...env, REDIS_URL: redis.url } : env }));
  return {
    relays,
    redisPids: servers.map((s) => s.pid()!),
    stop: async () => {
      for (const r of relays) {
        await r.stop();
        rmSync(r.dataDir, { recursive: true, force: true });
      }
      await redis?.cleanup();
    },
  };
};

/** `converge_commit_seconds` buckets (le → cumulative count of successful commits), summed over relays. */
const commitBuckets = async (relays: readonly RelayProcess[]): Promise<Map<number, number>> => {
  const out = new Map<number, number>();
  for (const r of relays) {
    const text = await (await fetch(`${r.url}/metrics`)).text();
    for (const m of text.matchAll(/^converge_commit_seconds_bucket\{([^}]*)\} (\d+)$/gm)) {
      const labels = m[1]!;
      const le = /le="([^"]+)"/.exec(labels)?.[1];
      if (!labels.includes('outcome="ok"') || le === undefined) continue;
      const bound = le === '+Inf' ? Infinity : Number(le);
      out.set(bound, (out.get(bound) ?? 0) + Number(m[2]));
    }
  }
  return out;
};

/** The smallest bucket bound covering 99 % of the commits between two scrapes, ms. */
const p99Bound = (before: Map<number, number>, after: Map<number, number>): number => {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const le of les) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= 0.99 * total) return le * 1000;
  return NaN;
};

const scriptsFor = (o: ScaleoutOptions): SenderScript[][] => {
  const count = Math.ceil((o.warmupS + o.windowS + 2) * o.rate) + 5;
  return Array.from({ length: o.rooms }, (_, r) =>
    Array.from({ length: o.clients }, (_, c) => makeSenderScript(1 + r * o.clients + c, count, 7919 * (r + 1) + c)),
  );
};

export const runScaleout = async (
  setup: ScaleoutSetup,
  o: ScaleoutOptions,
  scripts: SenderScript[][],
  round: number,
): Promise<ScaleoutResult> => {
  await waitMachineQuiet([], { maxPct: 15, timeoutMs: 120_000 });
  const bed = await startBed(setup);
  const track = new Map<number, { t: number; win: boolean; left: number }>();
  const latency = new Samples();
  const ackLatency = new Samples();
  const senders: Sender[] = [];
  let inWindow = false;
  let windowDeliveries = 0;
  let pendingDeliveries = 0;
  let pendingAcks = 0;
  let closes = 0;
  let stopping = false;
  try {
    await Promise.all(
      scripts.flatMap((roomScripts, r) =>
        roomScripts.map(async (script, c) => {
          const s = newSender(script);
          senders.push(s);
          let synced!: () => void;
          const isSynced = new Promise<void>((res) => (synced = res));
          // Each room's clients are spread over the relays.
          const relay = bed.relays[c % bed.relays.length]!;
          s.ws = await openSocket(`${relay.wsUrl}/scaleout-${r}`, {
            onOpen: (ws) => ws.send(STEP1_EMPTY),
            onFrame: (f, ws) => {
              const kind = frameKind(f);
              const now = performance.now();
              if (kind === Kind.Update) {
                const key = firstStructKey(f);
                const tr = track.get(key);
                if (!tr) return;
                if (inWindow) windowDeliveries++;
                if (tr.win) {
                  latency.push(now - tr.t);
                  pendingDeliveries--;
                }
                if (--tr.left === 0) track.delete(key);
              } else if (kind === Kind.Ack) {
                for (const [client, clock] of ackPairs(f)) {
                  if (client !== script.client) continue;
                  while (s.acked < s.sent && script.clockAfter[s.acked]! <= clock) {
                    if (s.inWindow[s.acked]) {
                      ackLatency.push(now - s.sentAt[s.acked]!);
                      pendingAcks--;
                    }
                    s.acked++;
                  }
                }
              } else if (kind === Kind.Step1) ws.send(STEP2_EMPTY);
              else if (kind === Kind.Step2) synced();
            },
            onClose: () => {
              if (!stopping) closes++;
            },
          });
          await isSynced;
        }),
      ),
    );
    const start = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = (now - start) / 1000;
      for (const s of senders) {
        const due = Math.min(s.script.frames.length, Math.floor(elapsed * o.rate + s.phase));
        while (s.sent < due) {
          const i = s.sent++;
          track.set(s.script.keys[i]!, { t: now, win: inWindow, left: o.clients });
          s.sentAt[i] = now;
          if (inWindow) {
            s.inWindow[i] = 1;
            pendingDeliveries += o.clients;
            pendingAcks++;
          }
          s.ws!.send(s.script.frames[i]!);
        }
      }
    }, 5);
    await sleep(o.warmupS * 1000);
    const relayPids = bed.relays.map((r) => r.child.pid!);
    const cpu = (): { relays: number; redis: number } => ({
      relays: relayPids.reduce((sum, pid) => sum + cpuMs(pid), 0),
      redis: bed.redisPids.reduce((sum, pid) => sum + cpuMs(pid), 0),
    });
    const commits0 = await commitBuckets(bed.relays);
    const cpu0 = cpu();
    const gen0 = process.cpuUsage();
    const other = foreignLoad([...relayPids, ...bed.redisPids]);
    const t0 = performance.now();
    inWindow = true;
    await sleep(o.windowS * 1000);
    inWindow = false;
    const t1 = performance.now();
    const cpu1 = cpu();
    const gen1 = process.cpuUsage(gen0);
    const otherCpuPct = other();
    const commits1 = await commitBuckets(bed.relays);
    clearInterval(timer);
    const drainEnd = performance.now() + o.drainS * 1000;
    while ((pendingDeliveries > 0 || pendingAcks > 0) && performance.now() < drainEnd) await sleep(50);
    const windowMs = t1 - t0;
    const relayMs = cpu1.relays - cpu0.relays;
    const redisMs = cpu1.redis - cpu0.redis;
    return {
      setup,
      round,
      deliveredPerS: windowDeliveries / (windowMs / 1000),
      latency: latency.summary(),
      ackLatency: ackLatency.summary(),
      relayCpuPct: (relayMs / windowMs) * 100,
      relayUsPerDelivery: (relayMs * 1000) / windowDeliveries,
      redisCpuPct: (redisMs / windowMs) * 100,
      redisUsPerDelivery: (redisMs * 1000) / windowDeliveries,
      commitP99Ms: p99Bound(commits0, commits1),
      generatorCpuPct: ((gen1.user + gen1.system) / 1000 / windowMs) * 100,
      otherCpuPct,
      lost: pendingDeliveries,
      unacked: pendingAcks,
      closes,
    };
  } finally {
    stopping = true;
    await Promise.all(senders.map((s) => (s.ws ? closeSocket(s.ws) : Promise.resolve())));
    await bed.stop();
  }
};

/** Runs every setup `rounds` times, interleaved, and returns the Markdown report. */
export const runScaleoutBench = async (
  o: ScaleoutOptions = DEFAULT_SCALEOUT,
  progress: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<{ results: ScaleoutResult[]; markdown: string }> => {
  const scripts = scriptsFor(o);
  const results: ScaleoutResult[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const setup of o.setups ?? SCALEOUT_SETUPS) {
      progress(`scaleout ${setup} round ${round + 1}/${o.rounds}…`);
      results.push(await runScaleout(setup, o, scripts, round));
    }
  }
  const offered = o.rooms * o.clients * o.rate * o.clients;
  const rows = results.map((r) => [
    `${r.setup} r${r.round + 1}`,
    fmtInt(r.deliveredPerS),
    fmt(r.latency.p50),
    fmt(r.latency.p99),
    fmt(r.ackLatency.p50),
    fmt(r.ackLatency.p99),
    `≤ ${fmt(r.commitP99Ms)}`,
    fmt(r.relayCpuPct, 0),
    fmt(r.relayUsPerDelivery, 0),
    fmt(r.redisCpuPct, 0),
    fmt(r.redisUsPerDelivery, 0),
    fmt(r.generatorCpuPct, 0),
    fmt(r.otherCpuPct, 0),
    `${r.lost}/${r.unacked}/${r.closes}`,
  ]);
  const med = (setup: ScaleoutSetup, f: (r: ScaleoutResult) => number): number =>
    median(results.filter((r) => r.setup === setup).map(f));
  const summary = (o.setups ?? SCALEOUT_SETUPS).map((s) => [
    s,
    fmtInt(med(s, (r) => r.deliveredPerS)),
    fmt(med(s, (r) => r.latency.p99)),
    fmt(med(s, (r) => r.ackLatency.p99)),
    `≤ ${fmt(med(s, (r) => r.commitP99Ms))}`,
    fmt(
      med(s, (r) => r.relayUsPerDelivery),
      0,
    ),
    fmt(
      med(s, (r) => r.redisUsPerDelivery),
      0,
    ),
    fmt(
      med(s, (r) => r.relayUsPerDelivery + r.redisUsPerDelivery),
      0,
    ),
  ]);
  const m = machineInfo();
  const markdown = [
    `Load: ${o.rooms} rooms × ${o.clients} clients × ${o.rate} updates/s each = ${fmtInt(offered)} deliveries/s offered; ` +
      `window ${o.windowS} s after ${o.warmupS} s warm-up, ${o.rounds} interleaved rounds. ` +
      `Machine: ${m.cpuModel}, ${m.cores} cores, ${fmt(m.memGiB)} GiB, Node ${m.node}, ${m.kernel}, ${m.date}.`,
    '',
    table(
      [
        'run',
        'delivered/s',
        'p50 ms',
        'p99 ms',
        'ack p50',
        'ack p99',
        'commit p99',
        'relay CPU %',
        'relay µs/dlv',
        'Redis CPU %',
        'Redis µs/dlv',
        'gen CPU %',
        'other %',
        'lost/unacked/closed',
      ],
      rows,
    ),
    '',
    'Medians over the rounds:',
    '',
    table(
      ['setup', 'delivered/s', 'p99 ms', 'ack p99 ms', 'commit p99 ms', 'relay µs/dlv', 'Redis µs/dlv', 'total µs/dlv'],
      summary,
    ),
  ].join('\n');
  return { results, markdown };
};

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const d = DEFAULT_SCALEOUT;
  const o: ScaleoutOptions = {
    rooms: flag('rooms', d.rooms),
    clients: flag('clients', d.clients),
    rate: flag('rate', d.rate),
    warmupS: flag('warmup', d.warmupS),
    windowS: flag('window', d.windowS),
    drainS: d.drainS,
    rounds: flag('rounds', d.rounds),
    setups: process.argv.includes('--setups')
      ? (process.argv[process.argv.indexOf('--setups') + 1]!.split(',') as ScaleoutSetup[])
      : undefined,
  };
  const { markdown } = await runScaleoutBench(o);
  process.stdout.write(markdown + '\n');
}
