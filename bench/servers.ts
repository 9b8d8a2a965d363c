/**
 * The two systems under test, started the same way: each is its own child process on a free
 * loopback port, so its CPU time and memory can be read from /proc without counting the load
 * generator.
 *
 * - reference: `@y/websocket-server` 0.1.1's own bin (src/server.js), in-memory (no
 *   YPERSISTENCE, no CALLBACK_URL): one Y.Doc per room, kept forever, nothing written to disk.
 * - converge: relay/main.ts through relay/testing/relayProcess.ts, SQLite in a fresh temp
 *   DATA_DIR, default COMMIT_DELAY_MS (acks after fsync), rate limits raised so the load
 *   generator is never throttled.
 * - floor (fan-out only, `--floor`): bench/floorServer.ts, `ws` receiving and sending and nothing
 *   else: what the sockets alone cost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRelay } from '../relay/testing/relayProcess.js';
import { SYNC_PATH } from '../shared/protocol.js';
import WebSocket from 'ws';
import { cpuMs, cpuTimes, memInfo, sleep, type MemInfo } from './proc.js';

export type SystemName = 'reference' | 'converge' | 'floor';

export interface BenchServer {
  readonly name: SystemName;
  readonly pid: number;
  /** Websocket URL of a room, as the stock client would build it. */
  roomUrl(room: string): string;
  cpuMs(): number;
  cpuTimes(): { userMs: number; systemMs: number };
  mem(): MemInfo;
  /** Rooms held in memory (Converge's /healthz); null when the server cannot tell. */
  roomsLoaded(): Promise<number | null>;
  /** What the server wrote to stderr (errors, Converge's close log lines). */
  stderr(): string;
  /** Forces a full garbage collection in the server process and reads its heap (see `forceGc`). */
  gc(): Promise<NodeMemory>;
  /** Starts a CPU profile of the server (`--cpu-profile`); resolves to a function that stops it. */
  profile(): Promise<() => Promise<unknown>>;
  /** How the process ended (exit code or signal), or null while it runs. */
  exited(): string | null;
  stop(): Promise<void>;
}

/** Environment that keeps Converge from throttling the generator (everything else: defaults). */
export const CONVERGE_BENCH_ENV: Record<string, string> = {
  MAX_MSGS_PER_SEC: '1000000',
  MSG_BURST: '1000000',
  MAX_BYTES_PER_SEC: '1000000000',
  BYTE_BURST: '1000000000',
  MAX_CONNECTIONS: '100000',
  MAX_ROOMS: '1000000',
};

/**
 * Both servers start with `--inspect-port=0`, which does nothing until the process gets SIGUSR1:
 * then Node opens its inspector on a free loopback port and prints the URL on stderr. `forceGc`
 * uses that to run one full GC in the server (DevTools' HeapProfiler.collectGarbage), so memory
 * can be read without the garbage a busy V8 heap carries (memory scenario), and `--cpu-profile`
 * uses it to profile a fan-out window.
 */
const inspectable = (extra = ''): string => `${process.env.NODE_OPTIONS ?? ''} --inspect-port=0 ${extra}`.trim();

const watchExit = (child: ChildProcess): (() => string | null) => {
  let how: string | null = null;
  child.once('exit', (code, signal) => (how = signal ? `killed by ${signal}` : `exit code ${code}`));
  return () => how;
};

/** What `process.memoryUsage()` says inside the server, MiB. */
export interface NodeMemory {
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  /** Memory of ArrayBuffers and Buffers (outside the JS heap), included in `external`. */
  readonly arrayBuffersMiB: number;
  readonly externalMiB: number;
}

interface Inspector {
  call(method: string, params?: object): Promise<unknown>;
  close(): void;
}

/** Opens the server's inspector (SIGUSR1 the first time) and returns a DevTools protocol session. */
const openInspector = async (pid: number, stderr: () => string): Promise<Inspector> => {
  const find = (): string | undefined => /Debugger listening on (ws:\/\/\S+)/.exec(stderr())?.[1];
  if (!find()) process.kill(pid, 'SIGUSR1');
  const end = Date.now() + 10_000;
  while (!find() && Date.now() < end) await sleep(50);
  const url = find();
  if (!url) throw new Error(`no inspector URL from process ${pid}`);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const replies = new Map<number, (result: unknown) => void>();
  ws.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown };
    if (msg.id !== undefined) replies.get(msg.id)?.(msg.result);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => resolve());
  });
  ws.on('error', () => undefined);
  let nextId = 1;
  return {
    call: (method, params = {}) =>
      new Promise((resolve) => {
        const id = nextId++;
        replies.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
};

/**
 * Runs one full GC in the server, then reads its `process.memoryUsage()` (so RSS that stays
 * high after a GC can be told apart: live JS objects, buffers, or memory the allocator keeps).
 */
export const forceGc = async (pid: number, stderr: () => string): Promise<NodeMemory> => {
  const inspector = await openInspector(pid, stderr);
  try {
    await inspector.call('HeapProfiler.collectGarbage');
    const r = (await inspector.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    const m = JSON.parse(r.result.value) as Record<string, number>;
    const mib = (k: string): number => (m[k] ?? NaN) / 1024 / 1024;
    return {
      heapUsedMiB: mib('heapUsed'),
      heapTotalMiB: mib('heapTotal'),
      arrayBuffersMiB: mib('arrayBuffers'),
      externalMiB: mib('external'),
    };
  } finally {
    inspector.close();
  }
};

/** Starts the V8 CPU profiler in the server; the returned function stops it and gives the profile. */
export const startCpuProfile = async (pid: number, stderr: () => string): Promise<() => Promise<unknown>> => {
  const inspector = await openInspector(pid, stderr);
  await inspector.call('Profiler.enable');
  await inspector.call('Profiler.setSamplingInterval', { interval: 250 });
  await inspector.call('Profiler.start');
  return async () => {
    const { profile } = (await inspector.call('Profiler.stop')) as { profile: unknown };
    inspector.close();
    return profile;
  };
};

/** Extra Converge settings from `--converge-env` (experiments); they win over everything above. */
export const convergeOverrides: Record<string, string> = {};

/**
 * `--baseline DIR`: another checkout of this repository (e.g. `git worktree add DIR <commit>`
 * with its own node_modules) whose relay runs in the reference's slot, for a before/after of the
 * relay in one run (fan-out only).
 */
export const baseline: { dir: string | null } = { dir: null };

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });

const referenceBin = join(
  dirname(createRequire(import.meta.url).resolve('@y/websocket-server/package.json')),
  'src',
  'server.js',
);

/** `nodeOptions`: extra Node flags, e.g. `--max-old-space-size=12288` (the memory scenario's). */
export const startReference = (nodeOptions = ''): Promise<BenchServer> =>
  startPlainServer('reference', [referenceBin], nodeOptions);

const floorBin = join(dirname(fileURLToPath(import.meta.url)), 'floorServer.ts');

/** The fan-out floor (bench/floorServer.ts). */
export const startFloor = (): Promise<BenchServer> => startPlainServer('floor', ['--import', 'tsx', floorBin]);

/** A server that takes PORT from the environment, prints "running at" and serves rooms at `/<room>`. */
const startPlainServer = async (
  name: 'reference' | 'floor',
  argv: readonly string[],
  nodeOptions = '',
): Promise<BenchServer> => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    NODE_OPTIONS: inspectable(nodeOptions),
  };
  delete env.YPERSISTENCE;
  delete env.CALLBACK_URL;
  const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = watchExit(child);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (!out.includes('running at')) return;
      child.stdout.off('data', onData);
      resolve();
    };
    child.stdout.on('data', onData);
    void exit.then((code) => reject(new Error(`${name} server exited with ${code}:\n${err}`)));
  });
  const pid = child.pid!;
  return {
    name,
    pid,
    // The reference takes the whole path (minus the leading '/') as the document name; so does the floor.
    roomUrl: (room) => `ws://127.0.0.1:${port}/${room}`,
    cpuMs: () => cpuMs(pid),
    cpuTimes: () => cpuTimes(pid),
    mem: () => memInfo(pid),
    roomsLoaded: () => Promise.resolve(null),
    stderr: () => err,
    gc: () => forceGc(pid, () => err),
    profile: () => startCpuProfile(pid, () => err),
    exited,
    stop: async () => {
      if (exited() === null) child.kill('SIGTERM');
      await exit;
    },
  };
};

export const startConverge = async (
  env: Record<string, string> = {},
  root?: string,
  name: SystemName = 'converge',
): Promise<BenchServer> => {
  const relay = await startRelay({
    env: { ...CONVERGE_BENCH_ENV, NODE_OPTIONS: inspectable(), ...env, ...convergeOverrides },
    ...(root ? { root } : {}),
  });
  const pid = relay.child.pid!;
  const exited = watchExit(relay.child);
  return {
    name,
    pid,
    roomUrl: (room) => `ws://127.0.0.1:${relay.port}${SYNC_PATH}/${room}`,
    cpuMs: () => cpuMs(pid),
    cpuTimes: () => cpuTimes(pid),
    mem: () => memInfo(pid),
    roomsLoaded: async () => {
      const res = await fetch(`${relay.url}/healthz`);
      const body = (await res.json()) as { roomsLoaded: number };
      return body.roomsLoaded;
    },
    stderr: () => relay.stderr(),
    gc: () => forceGc(pid, () => relay.stderr()),
    profile: () => startCpuProfile(pid, () => relay.stderr()),
    exited,
    stop: async () => {
      if (exited() === null) await relay.stop();
      rmSync(relay.dataDir, { recursive: true, force: true });
    },
  };
};

export interface StartOptions {
  /** Converge settings (environment). */
  readonly converge?: Record<string, string>;
  /** Extra Node flags for the reference. */
  readonly referenceNodeOptions?: string;
}

export const startServer = (name: SystemName, opts: StartOptions = {}): Promise<BenchServer> =>
  name === 'reference'
    ? baseline.dir
      ? startConverge(opts.converge, baseline.dir, 'reference')
      : startReference(opts.referenceNodeOptions)
    : name === 'floor'
      ? startFloor()
      : startConverge(opts.converge);

/** Lines of Converge's JSON log (or the reference's stderr) worth reporting: warnings, errors, closes. */
export const serverComplaints = (server: BenchServer): string[] =>
  server
    .stderr()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => !/^(Debugger (listening on|ending on|attached)|For help, see:)/.test(l))
    .filter((l) => !/"level":"(debug|info)"/.test(l) || /"event":"close"/.test(l))
    // going-away: the relay closing what was still open when the bench stopped it (SIGTERM).
    .filter((l) => !/"reason":"going-away"/.test(l));
