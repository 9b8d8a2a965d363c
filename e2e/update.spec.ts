/**
 * The "new version available" prompt (PWA update), end to end.
 *
 * The relay's own HTTP server (relay/server.ts, in this process, memory store) serves a copy of
 * dist/ from a temp dir, so the test can replace the deployed files while a user has the app
 * open, which is what deploying a new build does. Version B is version A with a marker in
 * index.html and, in sw.js, a new precache revision for index.html: exactly the two files a
 * rebuild changes when only the shell changed (hashed assets keep their names).
 *
 * What a user must see: the open app keeps running version A and offers "A new version is
 * available"; it never reloads by itself (a draft being typed must not vanish); "Later" hides the
 * offer; "Reload" switches to B, and the draft is still there.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page, WebSocketRoute } from '@playwright/test';
import { startStaticRelay } from '../relay/testing/staticRelay.js';
import { CloseReason } from '../shared/protocol.js';
import { expect, test, ui } from './appFixtures.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MARKER = 'converge-e2e-build';

/** Turns the deployed copy of version A into version B (see the header). */
const deployVersionB = (site: string): void => {
  const indexPath = join(site, 'index.html');
  const index = readFileSync(indexPath, 'utf8');
  if (!index.includes('</head>')) throw new Error('dist/index.html has no </head>');
  writeFileSync(indexPath, index.replace('</head>', `<meta name="${MARKER}" content="B"></head>`));
  const swPath = join(site, 'sw.js');
  const sw = readFileSync(swPath, 'utf8');
  const revision = /\{url:"index\.html",revision:"([0-9a-f]+)"\}/.exec(sw);
  if (!revision) throw new Error('dist/sw.js does not precache index.html with a revision');
  writeFileSync(swPath, sw.replace(revision[0], `{url:"index.html",revision:"${revision[1]}b"}`));
};

const GOING_AWAY = CloseReason.GoingAway;

const buildMarker = (page: Page): Promise<string | null> =>
  page.evaluate((name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? null, MARKER);

/** A relay in this process serving a copy of dist/ that the test can redeploy (see the header). */
const serveCopyOfDist = async (): Promise<{ site: string; url: string; close: () => Promise<void> }> => {
  const site = mkdtempSync(join(tmpdir(), 'converge-update-'));
  cpSync(join(root, 'dist'), site, { recursive: true });
  const relay = await startStaticRelay(site);
  return {
    site,
    url: relay.url,
    close: async () => {
      await relay.close();
      rmSync(site, { recursive: true, force: true });
    },
  };
};

/** Version A installed and controlling the page: what a returning user has. */
const controlled = (page: Page): Promise<void> =>
  expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { timeout: 20_000 }).toBe(true);

test('the app offers a new version, keeps running the old one until asked, and keeps the draft', async ({
  browser,
  room,
}) => {
  const { site, url, close } = await serveCopyOfDist();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}/r/${room}`);
    await ui.chooseName(page, 'Una');
    await controlled(page);
    await ui.composer(page).fill('a draft typed before the update');
    expect(await buildMarker(page)).toBeNull();

    deployVersionB(site);
    // The user comes back to the app: the browser checks sw.js on navigation and installs B,
    // which waits. The page is still version A, served by A's worker.
    await page.reload();
    const prompt = page.getByRole('alert').filter({ hasText: 'A new version is available' });
    await expect(prompt).toBeVisible({ timeout: 20_000 });
    expect(await buildMarker(page)).toBeNull();
    await expect(ui.composer(page)).toHaveValue('a draft typed before the update');

    // "Later" hides the offer and changes nothing.
    await prompt.getByRole('button', { name: 'Later' }).click();
    await expect(prompt).toHaveCount(0);
    expect(await buildMarker(page)).toBeNull();

    // Coming back again offers it again; "Reload" switches to B and the draft survives.
    await page.reload();
    await expect(prompt).toBeVisible({ timeout: 20_000 });
    await prompt.getByRole('button', { name: 'Reload' }).click();
    await expect.poll(() => buildMarker(page).catch(() => null), { timeout: 20_000 }).toBe('B');
    await expect(ui.composer(page)).toHaveValue('a draft typed before the update');
    await expect(prompt).toHaveCount(0);
  } finally {
    await context.close();
    await close();
  }
});

test('UPD-1: "Reload" in one tab reloads that tab only; another tab says a new version runs and reloads when asked', async ({
  browser,
  room,
}) => {
  const { site, url, close } = await serveCopyOfDist();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}/r/${room}`);
    await ui.chooseName(page, 'Una');
    await controlled(page);
    const other = await context.newPage();
    await other.goto(`${url}/r/${room}`);
    await controlled(other);
    // What a reload would lose: state that lives only in this page.
    await other.evaluate(() => ((window as unknown as { notReloaded?: boolean }).notReloaded = true));

    deployVersionB(site);
    await page.reload();
    const prompt = page.getByRole('alert').filter({ hasText: 'A new version is available' });
    await expect(prompt).toBeVisible({ timeout: 20_000 });
    await prompt.getByRole('button', { name: 'Reload' }).click();
    await expect.poll(() => buildMarker(page).catch(() => null), { timeout: 20_000 }).toBe('B');

    // The other tab is now controlled by B's worker (the point where it used to reload): it says
    // so and keeps running, its page state intact.
    const elsewhere = other.getByRole('alert').filter({ hasText: 'A new version is running in another tab' });
    await expect(elsewhere).toBeVisible({ timeout: 20_000 });
    expect(await other.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await buildMarker(other)).toBeNull();
    await elsewhere.getByRole('button', { name: 'Reload' }).click();
    await expect.poll(() => buildMarker(other).catch(() => null), { timeout: 20_000 }).toBe('B');
  } finally {
    await context.close();
    await close();
  }
});

test('UPD-4: a tab open in a room finds a new version when its connection to the relay comes back', async ({
  browser,
  room,
}) => {
  const { site, url, close } = await serveCopyOfDist();
  const context = await browser.newContext();
  // The page's sockets, so the test can close them as a relay that restarts does (1001, going-away).
  const sockets: WebSocketRoute[] = [];
  await context.routeWebSocket(/\/sync\//, (ws) => {
    ws.connectToServer();
    sockets.push(ws);
  });
  try {
    const page = await context.newPage();
    await page.goto(`${url}/r/${room}`);
    await ui.chooseName(page, 'Una');
    await controlled(page);
    await expect(ui.connection(page)).toContainText('Online');
    deployVersionB(site);
    // The relay "restarts" soon after the page loaded: no `online` event, the tab stays shown.
    const closing = sockets.splice(0);
    expect(closing.length).toBeGreaterThan(0);
    for (const ws of closing) await ws.close({ code: GOING_AWAY.code, reason: GOING_AWAY.reason });
    await expect.poll(() => sockets.length, { timeout: 20_000 }).toBeGreaterThan(0);
    await expect(ui.connection(page)).toContainText('Online');
    const prompt = page.getByRole('alert').filter({ hasText: 'A new version is available' });
    await expect(prompt).toBeVisible({ timeout: 20_000 });
    expect(await buildMarker(page)).toBeNull();
  } finally {
    await context.close();
    await close();
  }
});
