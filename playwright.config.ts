/**
 * Playwright e2e config. Run through `npm run test:e2e` (e2e/run.mjs), which finds a Chromium
 * and passes its path as $CHROMIUM_PATH; without it Playwright uses its own downloaded browser.
 * Every test starts its own relay (e2e/fixtures.ts): there is no shared web server here.
 */
import { chromiumArgs } from './e2e/chromiumArgs.js';
import { defineConfig, devices } from '@playwright/test';

const isCI = !!process.env.CI;
const executablePath = process.env.CHROMIUM_PATH || undefined;

const args = chromiumArgs();

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  fullyParallel: true,
  forbidOnly: isCI,
  retries: 0,
  workers: 2,
  // Per test. Many tests drive several browsers, relays that restart, reloads and lobby refreshes;
  // with two workers on two shared cores (CI's machine) the default 30 s ran out for one of them
  // or another in full runs, each time with every condition met so far. Conditions keep their own
  // polls (expect: 10 s unless a step says otherwise); this only bounds a test as a whole.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // 'list' prints one line per test without a TTY too; the summary reporter ends the run with
  // a plain "e2e: N passed, N failed" line that CI logs can be read by.
  reporter: [['list', { printSteps: false }], ['./e2e/summaryReporter.ts']],
  use: {
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: { ...(executablePath ? { executablePath } : {}), args },
      },
    },
  ],
});
