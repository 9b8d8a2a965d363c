#!/usr/bin/env node
/**
 * `npm run test:e2e`: finds a Chromium, then runs `playwright test` with it (extra arguments
 * are passed through, e.g. `npm run test:e2e -- -g SYNC-1`). Playwright cannot download its
 * own browsers everywhere, so this looks, in order, at:
 *   1. $CHROMIUM_PATH (must exist: a CHROMIUM_PATH that points nowhere is an error);
 *   2. /usr/bin/chromium, /usr/bin/chromium-browser (Debian/Ubuntu packages);
 *   3. the browser `npx playwright install chromium` downloaded, if it is on disk.
 * The path found is handed to playwright.config.ts as $CHROMIUM_PATH.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants } from 'node:os';
import process from 'node:process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const GUIDANCE = `The e2e tests need a Chromium. Get one of these:
  - Debian/Ubuntu:  sudo apt-get install chromium
  - elsewhere:      npx playwright install chromium
  - or point at an existing Chrome/Chromium:  CHROMIUM_PATH=/path/to/chrome npm run test:e2e`;

/** @param {string} path */
const isExecutableFile = (path) => {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** @returns {Promise<{ path: string; source: string } | { error: string }>} */
const findChromium = async () => {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (isExecutableFile(fromEnv)) return { path: fromEnv, source: 'CHROMIUM_PATH' };
    return { error: `CHROMIUM_PATH=${fromEnv} is not an executable file.` };
  }
  for (const path of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (isExecutableFile(path)) return { path, source: 'system package' };
  }
  try {
    const { chromium } = await import('playwright-core');
    const path = chromium.executablePath();
    if (path && isExecutableFile(path)) return { path, source: "Playwright's downloaded browser" };
  } catch {
    // playwright-core missing or no browser registry for this platform: fall through.
  }
  return {
    error:
      "No Chromium found: looked at $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser and Playwright's own download.",
  };
};

const found = await findChromium();
if ('error' in found) {
  process.stderr.write(`e2e: ${found.error}\n\n${GUIDANCE}\n`);
  process.exit(1);
}

process.stdout.write(`e2e: using Chromium at ${found.path} (${found.source})\n`);
const cli = require.resolve('@playwright/test/cli');
const child = spawn(process.execPath, [cli, 'test', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, CHROMIUM_PATH: found.path },
});
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
});
