/**
 * Playwright fixtures for the e2e tests.
 *
 * - `relay`: a real relay process (relay/main.ts via `startRelay()`) on a free port with its own
 *   temp data dir, started for each test and stopped (SIGTERM, must exit 0: CLOSE-4) after it.
 * - `openStockClient(room)`: a page in a fresh browser context, on the relay's origin, running
 *   the STOCK y-websocket provider (e2e/browser/stockClient.ts, bundled once per worker with
 *   esbuild). Each client gets its own context on purpose: pages of one context share a
 *   BroadcastChannel, over which y-websocket syncs same-origin tabs directly, so two tabs of
 *   one context would converge even with the relay forwarding nothing.
 * - `openOnRelayOrigin(page, relay)`: puts a page on the relay's origin without loading
 *   whatever the relay serves at `/` (placeholder today, the real client later).
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as base, type BrowserContext, type Page } from '@playwright/test';
import { build } from 'esbuild';
import { startRelay, type RelayProcess } from '../relay/testing/relayProcess.js';
import type { StockClient, StockClientGlobals } from './browser/stockClient.js';

export { expect } from '@playwright/test';
export type { RelayProcess };

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Navigates `page` to the relay's origin without running whatever the relay serves at `/`
 * (a placeholder today, the real client later): `/healthz` is a JSON document on every build.
 * It must be a page the relay itself served: Chromium's Local Network Access checks block
 * websockets to 127.0.0.1 from a page Playwright fulfilled (`page.route`), which counts as public.
 */
export const openOnRelayOrigin = async (page: Page, relay: RelayProcess): Promise<void> => {
  const response = await page.goto(relay.url + '/healthz');
  if (response?.status() !== 200) throw new Error(`GET /healthz answered ${response?.status()}`);
};

/** One stock-client page, driven from the test. */
export interface StockPeer {
  readonly page: Page;
  append(text: string): Promise<void>;
  text(): Promise<string>;
  status(): Promise<ReturnType<StockClient['status']>>;
  disconnect(): Promise<void>;
  connect(): Promise<void>;
  /** Resolves once the stock provider says `synced` (it got the relay's SyncStep2). */
  waitSynced(): Promise<void>;
}

type G = StockClientGlobals;

// The arrow functions below run in the page: they can only use what the page has.
const stockPeer = (page: Page): StockPeer => ({
  page,
  append: (text) => page.evaluate((t) => (globalThis as unknown as G).stockClient!.append(t), text),
  text: () => page.evaluate(() => (globalThis as unknown as G).stockClient!.text()),
  status: () => page.evaluate(() => (globalThis as unknown as G).stockClient!.status()),
  disconnect: () => page.evaluate(() => (globalThis as unknown as G).stockClient!.disconnect()),
  connect: () => page.evaluate(() => (globalThis as unknown as G).stockClient!.connect()),
  waitSynced: async () => {
    await page.waitForFunction(() => (globalThis as unknown as G).stockClient?.status().synced === true);
  },
});

interface TestFixtures {
  relay: RelayProcess;
  openStockClient: (room: string) => Promise<StockPeer>;
}

interface WorkerFixtures {
  stockClientBundle: string;
}

const STOP_TIMEOUT_MS = 10_000;

export const test = base.extend<TestFixtures, WorkerFixtures>({
  stockClientBundle: [
    // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form.
    async ({}, use) => {
      const result = await build({
        entryPoints: [join(here, 'browser', 'stockClient.ts')],
        bundle: true,
        write: false,
        format: 'iife',
        platform: 'browser',
        target: 'es2022',
        logLevel: 'silent',
      });
      await use(result.outputFiles[0]!.text);
    },
    { scope: 'worker' },
  ],

  // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form.
  relay: async ({}, use, testInfo) => {
    const relay = await startRelay();
    let exitCode: number | null | 'timeout' = null;
    try {
      await use(relay);
    } finally {
      let timer: NodeJS.Timeout | undefined;
      exitCode = await Promise.race([
        relay.stop(),
        new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), STOP_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (exitCode === 'timeout') await relay.kill();
      if (testInfo.status !== testInfo.expectedStatus || exitCode !== 0) {
        await testInfo.attach('relay-stderr.log', { body: relay.stderr(), contentType: 'text/plain' });
      }
      await rm(relay.dataDir, { recursive: true, force: true });
    }
    if (exitCode !== 0) throw new Error(`CLOSE-4: relay did not exit 0 on SIGTERM (got ${exitCode})`);
  },

  openStockClient: async ({ browser, relay, stockClientBundle }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (room) => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await openOnRelayOrigin(page, relay);
      await page.addScriptTag({ content: stockClientBundle });
      await page.evaluate(([url, r]) => (globalThis as unknown as G).startClient(url, r), [relay.wsUrl, room] as const);
      return stockPeer(page);
    });
    // Closed before the relay stops (teardown runs in reverse dependency order).
    await Promise.all(contexts.map((c) => c.close()));
  },
});
