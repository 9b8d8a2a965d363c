/**
 * A real `redis-server` for tests and benchmarks: one process on a free loopback port, its data in
 * a temporary directory, with the persistence Converge requires (AOF on, `appendfsync always`, no
 * RDB snapshots). It can be stopped, killed with SIGKILL and restarted on the same directory and
 * port, so tests can check what survives a Redis crash.
 *
 * There is no fallback and no skip: when `redis-server` is missing, `startRedis` rejects with a
 * message naming the package to install. `REDIS_SERVER` overrides the binary's path.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '../../shared/testing/waitFor.js';
import { freePort } from './freePort.js';

export const REDIS_SERVER_MISSING =
  'redis-server not found: install it (Debian/Ubuntu: `sudo apt-get install redis-server`; ' +
  'macOS: `brew install redis`) or set REDIS_SERVER to its path';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Whether the process is running. */
  running(): boolean;
  /** The running process's pid (for CPU readings in benchmarks); undefined when stopped. */
  pid(): number | undefined;
  /** SIGKILL: no shutdown save, no goodbye. What `appendfsync always` wrote survives. */
  kill(): Promise<void>;
  /** SIGTERM (Redis flushes the AOF and exits cleanly). */
  stop(): Promise<void>;
  /** Starts again on the same port and directory (after `kill` or `stop`). */
  restart(): Promise<void>;
  /** Stops it if running and removes its directory. */
  cleanup(): Promise<void>;
}

const binary = (): string => process.env.REDIS_SERVER ?? 'redis-server';

/** Throws `REDIS_SERVER_MISSING` unless the binary runs. */
export const assertRedisServerInstalled = (): void => {
  const probe = spawnSync(binary(), ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(REDIS_SERVER_MISSING);
};

export interface StartRedisOptions {
  /** More `redis-server` arguments (e.g. `['--rename-command', 'CONFIG', '']`). */
  readonly extraArgs?: readonly string[];
  /**
   * A cluster-mode node (relay/testing/redisCluster.ts forms the cluster): its bus port is a
   * second free port, its cluster state file lives in its directory (kept across restarts).
   */
  readonly clusterNode?: boolean;
  /** How long to wait for the server to answer PING before giving up on it (default 20 s). */
  readonly readyTimeoutMs?: number;
}

const args = (port: number, dir: string, extra: readonly string[]): string[] => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--dir',
  dir,
  '--appendonly',
  'yes',
  '--appendfsync',
  'always',
  // No RDB snapshots: the AOF is the only persistence, as in production for Converge.
  '--save',
  '',
  '--daemonize',
  'no',
  '--protected-mode',
  'yes',
  '--loglevel',
  'warning',
  ...extra,
];

export const startRedis = async (options: StartRedisOptions = {}): Promise<RedisServer> => {
  assertRedisServerInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'converge-redis-'));
  let port = await freePort();
  let busPort = options.clusterNode ? await freePort() : 0;
  const extra = (): string[] => [
    ...(options.extraArgs ?? []),
    ...(options.clusterNode
      ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort)]
      : []),
    ...(options.clusterNode ? ['--cluster-node-timeout', '2000'] : []),
  ];
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const launch = async (): Promise<void> => {
    const proc = spawn(binary(), args(port, dir, extra()), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        if (child === proc) child = null;
        resolve();
      }),
    );
    try {
      await waitUntilReady(port, exited, () => output, options.readyTimeoutMs ?? 20_000);
    } catch (error) {
      // A server that runs but never answers (bound elsewhere by `extraArgs`, say) must not
      // outlive the test that gave up on it.
      proc.kill('SIGKILL');
      await exited;
      throw error;
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (!child) return;
    child.kill(sig);
    await exited;
  };

  // The ports were free when picked, but another process can take one before redis-server binds
  // it (every client connection of a parallel test takes an ephemeral port): a start that failed
  // to bind picks new ones, a few times. Restarts keep the ports (clients and nodes.conf name them).
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt === 5 || !output.includes('Address already in use')) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
      output = '';
      rmSync(join(dir, 'nodes.conf'), { force: true }); // it may name the ports given up
      port = await freePort();
      if (options.clusterNode) busPort = await freePort();
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    running: () => child !== null,
    pid: () => child?.pid,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    restart: async () => {
      if (child) throw new Error('redis-server is still running');
      output = '';
      await launch();
    },
    cleanup: async () => {
      await signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/**
 * Polls PING until the server answers (it loads the AOF first) or the process exits. A server
 * started with `--requirepass` answers NOAUTH: it is up, and the test brings the password.
 */
const waitUntilReady = async (
  port: number,
  exited: Promise<void>,
  output: () => string,
  timeout: number,
): Promise<void> => {
  let dead = false;
  void exited.then(() => (dead = true));
  const answers = async (): Promise<boolean> => {
    if (dead) throw new Error(`redis-server exited while starting:\n${output()}`);
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // ioredis opens with HELLO; a server that wants a password refuses it with NOAUTH, reported
    // only as an 'error' event (connect itself rejects with "Connection is closed.").
    let refusal = '';
    client.on('error', (error: Error) => (refusal = error.message));
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return refusal.startsWith('NOAUTH'); // else not listening yet, or loading the AOF (-LOADING)
    } finally {
      client.disconnect();
    }
  };
  await waitFor(answers, { timeout, interval: 10, message: `redis-server on port ${port} ready` });
};
