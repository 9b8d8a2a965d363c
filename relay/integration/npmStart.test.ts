/**
 * `npm start` as a person or a container runs it: the real npm, the real start script. A signal
 * sent to npm must reach the relay (README: SIGTERM/SIGINT stop it gracefully). With a shell
 * between npm and the relay (`a && b` in the script), npm and the shell exited on SIGTERM and the
 * relay kept running, holding the port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../shared/testing/waitFor.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const answers = async (url: string): Promise<boolean> => {
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
};

let dataDir: string | null = null;
let npm: ChildProcess | null = null;
afterEach(() => {
  // npm runs in a process group of its own: a relay left running (the failure this test looks
  // for) goes with the group.
  if (npm?.pid !== undefined) {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }
  npm = null;
  if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

describe('npm start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s sent to npm stops the relay gracefully, and npm exits 0',
    async (signal) => {
      dataDir = mkdtempSync(join(tmpdir(), 'converge-npm-start-'));
      const child = spawn('npm', ['start', '--', '--port', '0', '--data-dir', dataDir], {
        cwd: root,
        env: { ...process.env, SKIP_CLIENT_BUILD: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      npm = child;
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await waitFor(() => /listening on (http:\/\/\S+)/.test(out), 'the relay prints its URL', 30_000);
      const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
      expect(await answers(url)).toBe(true);

      child.kill(signal);
      expect(await exited).toBe(0);
      expect(err).toContain(`"event":"shutdown","signal":"${signal}"`);
      await waitFor(async () => !(await answers(url)), 'the port is closed', 10_000);
    },
    60_000,
  );
});
