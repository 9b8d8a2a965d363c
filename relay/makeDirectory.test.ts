import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { makeDirectory } from './makeDirectory.js';

let root: string | null = null;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = null;
});

it('makes every missing level of a directory, and accepts one that exists', () => {
  root = mkdtempSync(join(tmpdir(), 'converge-mkdir-'));
  const dir = join(root, 'a', 'b', 'c');
  makeDirectory(dir);
  expect(statSync(dir).isDirectory()).toBe(true);
  makeDirectory(dir);
  expect(statSync(dir).isDirectory()).toBe(true);
});

it('fails with the reason where a level cannot be made (a file in the way)', () => {
  root = mkdtempSync(join(tmpdir(), 'converge-mkdir-'));
  writeFileSync(join(root, 'file'), '');
  expect(() => makeDirectory(join(root!, 'file', 'data'))).toThrow(/ENOTDIR/);
});

it.runIf(process.platform === 'linux')(
  'fails where a parent refuses creation with ENOENT (/proc), where recursive mkdirSync never returns',
  () => {
    expect(() => makeDirectory('/proc/converge-data/db')).toThrow(/ENOENT.*\/proc\/converge-data/);
  },
);
