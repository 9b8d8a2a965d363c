/**
 * Starts the real relay (`relay/main.ts`) as a child process on a free port, for integration
 * tests, e2e tests and benchmarks. Resolves once it printed its URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RelayProcess {
  readonly url: string; // http://127.0.0.1:PORT
  readonly wsUrl: string; // ws://127.0.0.1:PORT/sync
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far (JSON log lines). */
  stderr(): string;
  /** SIGKILL: no flush, no goodbye. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Stops it if still running and removes its data directory. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  readonly dataDir?: string;
  /** Fixed port (to restart on the same one); default 0 = any free port. */
  readonly port?: number;
  readonly env?: Record<string, string>;
  /** Another checkout of this repository to run the relay from (the bench's `--baseline`); default this one. */
  readonly root?: string;
}

export const startRelay = (opts: StartOptions = {}): Promise<RelayProcess> => {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'converge-relay-'));
  const from = opts.root ?? root;
  const child = spawn(process.execPath, ['--import', 'tsx', join(from, 'relay', 'main.ts')], {
    cwd: from,
    env: { ...process.env, PORT: String(opts.port ?? 0), DATA_DIR: dataDir, LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let running = true;
  const exited = new Promise<number | null>((res) =>
    child.once('exit', (code) => {
      running = false;
      res(code);
    }),
  );
  const stop = async (): Promise<number | null> => {
    if (running) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /http:\/\/([^\s:]+|\[[^\]]+\]):(\d+)/.exec(out);
      if (!m) return;
      child.stdout.off('data', onData);
      const port = Number(m[2]);
      resolve({
        url: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}/sync`,
        port,
        dataDir,
        child,
        stderr: () => err,
        kill: async () => {
          if (running) child.kill('SIGKILL');
          await exited;
        },
        stop,
        cleanup: async () => {
          await stop();
          rmSync(dataDir, { recursive: true, force: true });
        },
      });
    };
    child.stdout.on('data', onData);
    void exited.then((code) => reject(new Error(`relay exited with ${code} before listening:\n${err}`)));
  });
};
