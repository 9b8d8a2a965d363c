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
  timeout: 30_000,
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
