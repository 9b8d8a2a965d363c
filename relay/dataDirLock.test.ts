/**
 * STORE-8: one relay per data directory, with a lock the kernel drops when its holder dies.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import { DataDirBusyError, lockDataDir } from './dataDirLock.js';

let root: string | null = null;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = null;
});

it('STORE-8: a second lock on a directory is refused, naming it, until the first is released', () => {
  root = mkdtempSync(join(tmpdir(), 'converge-lock-'));
  const dir = join(root, 'data');
  const first = lockDataDir(dir);
  // The lock is one file: no journal left beside it while it is held.
  expect(readdirSync(dir)).toEqual(['relay.lock']);
  expect(() => lockDataDir(dir)).toThrow(DataDirBusyError);
  expect(() => lockDataDir(dir)).toThrow(`DATA_DIR ${dir} is in use by another relay`);
  // Another directory is another lock.
  lockDataDir(join(root, 'other')).release();
  first.release();
  lockDataDir(dir).release();
});

it('STORE-8: a lock held by another process refuses this one, and is free once that process is SIGKILLed', async () => {
  root = mkdtempSync(join(tmpdir(), 'converge-lock-'));
  const dir = root;
  const holder = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import(${JSON.stringify(new URL('./dataDirLock.ts', import.meta.url).href)}).then((m) => {
        m.lockDataDir(${JSON.stringify(dir)});
        process.stdout.write('locked\\n');
        setInterval(() => {}, 1000);
      });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  try {
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('locked'), 'the other process holds the lock', 30_000);
    expect(() => lockDataDir(dir)).toThrow(DataDirBusyError);
  } finally {
    holder.kill('SIGKILL');
    await exited;
  }
  // No stale lock: nothing to clean up after a crash.
  lockDataDir(dir).release();
});
