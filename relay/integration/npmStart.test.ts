/**
 * `npm start` as a person or a container runs it: the real npm, the real start script. A signal
 * sent to npm must reach the relay (README: SIGTERM/SIGINT stop it gracefully). With a shell
 * between npm and the relay (`a && b` in the script), npm and the shell exited on SIGTERM and the
 * relay kept running, holding the port.
 * A signal that arrives while `npm start` builds the client must stop the build: the build ran
 * under spawnSync, so the start script died at once and left the build running, orphaned.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
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

/**
 * A copy of the repository without dist/, so that `npm start` in it builds the client (the
 * checkout's own dist/ is left alone). node_modules is a directory of the copy's own, its entries
 * linked to the checkout's: vite writes temporary files in node_modules/.vite-temp.
 */
const copyWithoutBuild = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'converge-npm-start-build-'));
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'vite.config.ts']) {
    cpSync(join(root, entry), join(dir, entry));
  }
  for (const entry of ['scripts', 'client', 'shared', 'relay']) {
    cpSync(join(root, entry), join(dir, entry), { recursive: true });
  }
  mkdirSync(join(dir, 'node_modules'));
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (!entry.startsWith('.')) symlinkSync(join(root, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  return dir;
};

/**
 * The command lines of the live processes in process group `pgid` (Linux /proc). A zombie (ended,
 * not yet reaped by its parent) is not live.
 */
const liveInGroup = (pgid: number): string[] => {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // After the command name (which may hold spaces and parentheses): state, ppid, pgrp, …
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      found.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
    } catch {
      // the process ended while being read
    }
  }
  return found;
};

const isBuildProcess = (cmdline: string): boolean => /ensureBuild\.mjs|vite\.js build/.test(cmdline);

let dataDir: string | null = null;
let copyDir: string | null = null;
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
  if (copyDir !== null) rmSync(copyDir, { recursive: true, force: true });
  copyDir = null;
});

/**
 * Runs `npm start` in `cwd` on a free port, in a process group of its own (afterEach kills it),
 * collecting its output. `exited`: the signal that ended npm, else its exit code.
 */
const startNpm = (
  cwd: string,
  relayDataDir: string,
  skipBuild: boolean,
): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<NodeJS.Signals | number | null> } => {
  const child = spawn('npm', ['start', '--', '--port', '0', '--data-dir', relayDataDir], {
    cwd,
    env: { ...process.env, SKIP_CLIENT_BUILD: skipBuild ? '1' : '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  npm = child;
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, sig) => resolve(sig ?? code)),
  );
  return { child, out: () => out, err: () => err, exited };
};

describe('npm start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s sent to npm stops the relay gracefully, and npm exits 0',
    async (signal) => {
      dataDir = mkdtempSync(join(tmpdir(), 'converge-npm-start-'));
      const { child, out, err, exited } = startNpm(root, dataDir, true);
      await waitFor(() => /listening on (http:\/\/\S+)/.test(out()), 'the relay prints its URL', 30_000);
      const url = /listening on (http:\/\/\S+)/.exec(out())![1]!;
      expect(await answers(url)).toBe(true);

      child.kill(signal);
      expect(await exited).toBe(0);
      expect(err()).toContain(`"event":"shutdown","signal":"${signal}"`);
      await waitFor(async () => !(await answers(url)), 'the port is closed', 10_000);
    },
    60_000,
  );

  it.each([
    ['SIGTERM sent to npm', 'SIGTERM', 'npm'],
    ['SIGINT sent to npm', 'SIGINT', 'npm'],
    // A terminal's Ctrl-C: every process of the foreground group gets it, the build's included.
    ['SIGINT sent to the whole process group (Ctrl-C)', 'SIGINT', 'group'],
  ] as const)(
    '%s during the client build stops the build; npm ends by the signal without starting the relay',
    async (_name, signal, target) => {
      const copy = copyWithoutBuild();
      copyDir = copy;
      const relayDataDir = join(copy, 'data');
      const { child, out, err, exited } = startNpm(copy, relayDataDir, false);
      const pgid = child.pid!;
      // The pipes close once every process that shares them has ended and all they wrote is read.
      const outputRead = Promise.all([once(child.stdout!, 'close'), once(child.stderr!, 'close')]);
      await waitFor(() => out().includes('converge: building the client'), 'ensureBuild starts the build', 60_000);
      await waitFor(
        () => liveInGroup(pgid).some((cmd) => cmd.includes('vite.js build')),
        'the vite build runs',
        60_000,
      );

      process.kill(target === 'group' ? -pgid : pgid, signal);
      expect(await exited).toBe(signal);
      // npm has reaped the start script, which waits for the build to have exited.
      expect(liveInGroup(pgid).filter(isBuildProcess)).toEqual([]);
      await waitFor(() => liveInGroup(pgid).length === 0, 'every process npm started has ended', 60_000);
      await outputRead;

      const interrupted = `converge: start interrupted by ${signal} during the client build; the relay was not started.`;
      expect(
        err()
          .split('\n')
          .filter((line) => line.startsWith('converge:')),
      ).toEqual([interrupted]);
      expect(out()).not.toContain('listening on');
      // The relay creates its data directory first thing.
      expect(existsSync(relayDataDir)).toBe(false);
    },
    180_000,
  );
});
