/**
 * `makeDirectory(dir)`: `mkdirSync(dir, { recursive: true })` without its endless loop. Node 20's
 * recursive mkdir retries a parent that refuses creation with ENOENT forever (`DATA_DIR=/proc/x`
 * spun a core with no output until killed); made one level at a time, the refusal is an error
 * that names the directory.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const makeDirectory = (dir: string): void => {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d);) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      // Made meanwhile (another process, another store of this one): what was wanted.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
};
