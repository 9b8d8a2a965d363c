#!/usr/bin/env node
/**
 * `npm start` runs this first: builds the browser app (`vite build` → dist/) when dist/ is
 * missing or older than the client's sources, so the relay always serves the current app.
 * Sources: client/ (tests excluded), shared/ (the client bundles it), vite.config.ts and
 * package-lock.json (dependency changes). Set SKIP_CLIENT_BUILD=1 to skip the check.
 * A SIGTERM or SIGINT during the build is passed on to vite; once vite has exited this process
 * ends by the same signal, saying nothing: start.mjs, which runs this, says it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { exitBySignal, runNode } from './runChild.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const builtIndex = join(root, 'dist', 'index.html');

/** @param {string} name */
const isSource = (name) => !/\.test\.tsx?$/.test(name) && !name.startsWith('.');

/**
 * Newest modification time (ms) of the files under `path`, 0 when it does not exist.
 * @param {string} path
 * @returns {number}
 */
const newest = (path) => {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (!isSource(entry.name) || entry.name === 'node_modules') continue;
    max = Math.max(max, newest(join(path, entry.name)));
  }
  return max;
};

/** @returns {string | null} why a build is needed, or null when dist/ is fresh */
const staleReason = () => {
  if (!existsSync(builtIndex)) return 'dist/ has no build';
  const built = statSync(builtIndex).mtimeMs;
  for (const source of ['client', 'shared', 'vite.config.ts', 'package-lock.json']) {
    if (newest(join(root, source)) > built) return `${source} changed since the last build`;
  }
  return null;
};

if (process.env.SKIP_CLIENT_BUILD === '1') process.exit(0);
const reason = staleReason();
if (reason === null) process.exit(0);

let viteBin;
try {
  const pkgPath = createRequire(import.meta.url).resolve('vite/package.json');
  viteBin = join(dirname(pkgPath), 'bin', 'vite.js');
} catch {
  process.stderr.write(
    `converge: ${reason}, and vite is not installed (npm install --include=dev): serving without the app.\n`,
  );
  process.exit(0);
}
process.stdout.write(`converge: building the client (${reason})…\n`);
const result = await runNode([viteBin, 'build', '--logLevel', 'warn'], { cwd: root });
if (result.interrupted) exitBySignal(result.interrupted);
else if (result.code !== 0) {
  const why = result.error ? result.error.message : 'see above';
  process.stderr.write(`converge: the client build failed (${why}).\n`);
  process.exit(result.code ?? 1);
}
