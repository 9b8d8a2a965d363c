/**
 * Fixtures for the app's e2e tests (e2e/app.spec.ts), on top of e2e/fixtures.ts (one relay per
 * test). The relay serves the BUILT client from dist/: the worker fixture `builtApp` builds it
 * once (scripts/ensureBuild.mjs: only when dist/ is missing or older than the sources), under a
 * lock so that parallel workers do not build over each other.
 *
 * `openUser(name)` gives each user their own browser context (own IndexedDB, localStorage and
 * service worker), with the page on the relay's origin and the name typed in the lobby's "Your
 * name", as a person does: rooms then open without asking for one (PRES-5). With
 * `{ network: true }` the context's websockets go through `routeWebSocket`, so a test can cut
 * the user's connection to the relay (`user.cut()`) and restore it (`user.restore()`):
 * Playwright's `setOffline` does not close open websockets.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page, WebSocketRoute } from '@playwright/test';
import { expect, test as base, type RelayProcess } from './fixtures.js';

export { expect };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Outside the repo (nothing to clean up in the tree), one per checkout.
const LOCK = join(tmpdir(), `converge-build-lock-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
const LOCK_STALE_MS = 5 * 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Builds the client unless dist/ is fresh; one worker at a time (mkdir is atomic). */
const ensureBuilt = async (): Promise<void> => {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another worker is building; a lock left by a killed run goes stale.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      await sleep(200);
    }
  }
  try {
    // Once per run: a worker starting later must not rebuild dist/ under tests already running
    // (sources edited meanwhile wait for the next run). Workers share the runner as parent.
    const stamp = `${LOCK}.run-${process.ppid}`;
    if (existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 60 * 60_000) return;
    const result = spawnSync(process.execPath, [join(root, 'scripts', 'ensureBuild.mjs')], {
      cwd: root,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`building the client failed:\n${result.stdout}\n${result.stderr}`);
    writeFileSync(stamp, '');
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
};

/** A user: one browser profile (context) with one page, on the relay's origin. */
export interface AppUser {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Opens a room by URL (like following a shared link). */
  gotoRoom(room: string): Promise<void>;
  /** The composer's textarea. */
  composer(): Locator;
  /** Types `text` and sends it with Enter. */
  send(text: string): Promise<void>;
  /** The message whose own text (not a reply quote) contains `text`. */
  message(text: string): Locator;
  /** The texts of every message in the log, in display order (the log renders them all when few). */
  messageTexts(): Promise<string[]>;
  log(): Locator;
  connection(): Locator;
  /** The app's own "Go offline" toggle. */
  offlineToggle(): Locator;
  /** Closes this user's websockets and refuses new ones (needs `{ network: true }`). */
  cut(): Promise<void>;
  /** Like `cut`, but closing with the relay's close `code` and `reason` (e.g. a fatal 44xx). */
  closeWith(code: number, reason: string): Promise<void>;
  /** Lets websockets through again. */
  restore(): void;
  /** Opens another tab in the same profile. */
  newTab(): Promise<Page>;
}

export interface OpenUserOptions {
  /** Route websockets through Playwright so the test can cut them. */
  readonly network?: boolean;
  /** Another relay than the test's (e.g. one the test restarts). */
  readonly relay?: RelayProcess;
  /** Runs this user's clock (Date.now and timers in the page) this far ahead of the real one. */
  readonly clockAheadMs?: number;
}

/**
 * An IndexedDB request as a function run in the page sees it (e2e code is typed without the DOM):
 * for tests that read the app's database over a connection of their own.
 */
export interface IdbRequest<T> {
  readonly result: T;
  readonly error: Error | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

/** Locators shared by tabs: every helper takes the page it works on. */
/** What this device's database holds of `room` (committed IndexedDB transactions): whether an update holds `text`, and the read mark. */
const onDevice = (page: Page, room: string, text: string): Promise<{ holds: boolean; readId: string | null }> =>
  page.evaluate(
    async ({ room, text }) => {
      interface Db {
        transaction(stores: string[]): {
          objectStore(name: string): {
            index(name: string): { getAll(key: string): IdbRequest<{ update: Uint8Array }[]> };
            get(key: string): IdbRequest<{ meta?: { lastReadMessageId?: string } } | undefined>;
          };
        };
        close(): void;
      }
      const settled = <T>(r: IdbRequest<T>): Promise<T> =>
        new Promise((resolve, reject) => {
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
        });
      const idb = (globalThis as unknown as { indexedDB: { open(name: string): IdbRequest<Db> } }).indexedDB;
      const db = await settled(idb.open('converge'));
      try {
        const tx = db.transaction(['updates', 'rooms']);
        const [rows, record] = await Promise.all([
          settled(tx.objectStore('updates').index('room').getAll(room)),
          settled(tx.objectStore('rooms').get(room)),
        ]);
        const wanted = Array.from(new TextEncoder().encode(text));
        const holds = (bytes: Uint8Array): boolean => {
          for (let i = 0; i + wanted.length <= bytes.length; i++)
            if (wanted.every((b, k) => bytes[i + k] === b)) return true;
          return false;
        };
        return { holds: rows.some((row) => holds(row.update)), readId: record?.meta?.lastReadMessageId ?? null };
      } finally {
        db.close();
      }
    },
    { room, text },
  );

/**
 * Runs in the page: the document says it is `hidden` (or visible), and with `announce` tells its
 * listeners as the browser does. Self-contained: Playwright sends it to the page as source.
 */
const showAs = ({ hidden, announce }: { hidden: boolean; announce: boolean }): void => {
  Object.defineProperty(document, 'visibilityState', {
    get: () => (hidden ? 'hidden' : 'visible'),
    configurable: true,
  });
  Object.defineProperty(document, 'hidden', { get: () => hidden, configurable: true });
  if (announce) document.dispatchEvent(new Event('visibilitychange'));
};

export const ui = {
  composer: (page: Page): Locator => page.getByRole('textbox', { name: 'Message', exact: true }),
  log: (page: Page): Locator => page.getByRole('log', { name: 'Messages' }),
  /** The header's connection status, all of it (LIVE-2: only its state is a live region). */
  connection: (page: Page): Locator => page.locator('.room-header .connection'),
  message: (page: Page, text: string): Locator =>
    page.getByRole('article').filter({ has: page.locator('.message-text', { hasText: text }) }),
  messageTexts: (page: Page): Promise<string[]> =>
    page.getByRole('log', { name: 'Messages' }).locator('article .message-text').allInnerTexts(),
  /** The page as if another tab or window were in front of it (hidden), or in front again. */
  setHidden: (page: Page, hidden: boolean): Promise<void> => page.evaluate(showAs, { hidden, announce: true }),
  /** The page's next loads hidden from their first script on, as a tab opened in the background. */
  startHidden: async (page: Page): Promise<void> => {
    await page.addInitScript(showAs, { hidden: true, announce: false });
  },
  /** PRES-5: the question a room asks a profile that never chose a name, before it opens. */
  namePrompt: (page: Page): Locator => page.getByRole('form', { name: 'What name should people in this room see?' }),
  /** Answers the name question as a person does: types over the suggestion, then Enter. */
  chooseName: async (page: Page, name: string): Promise<void> => {
    const field = ui.namePrompt(page).getByLabel('Your name');
    await expect(field).toBeFocused();
    await page.keyboard.type(name);
    await expect(field).toHaveValue(name);
    await page.keyboard.press('Enter');
    await expect(ui.composer(page)).toBeVisible();
  },
  send: async (page: Page, text: string): Promise<void> => {
    const box = ui.composer(page);
    await box.fill(text);
    await box.press('Enter');
    await expect(box).toHaveValue('');
  },
  /**
   * Whether this device's database holds `text` in one of `room`'s stored updates (a committed
   * IndexedDB transaction: what a reload finds). The header's "nothing pending" says only that the
   * relay has a message: its ack can come before the device's own write is done (the message then
   * shows "Storing…", STATE-1), so a test that waits for the header and then reloads offline polls
   * this first. Yjs keeps a message's text as its UTF-8 bytes.
   */
  storedOnDevice: async (page: Page, room: string, text: string): Promise<boolean> =>
    (await onDevice(page, room, text)).holds,
  /** The id of the message `room`'s stored read mark names (UNREAD-1), as committed on this device; null when none. */
  readMarkOnDevice: async (page: Page, room: string): Promise<string | null> => (await onDevice(page, room, '')).readId,
  /**
   * Holds a write transaction over the device's room records from `page` (any page of the app's
   * origin), as a long write of another tab would: every other page's write to a room's meta or
   * updates waits behind it. Resolves once it holds them, with the function that lets them go
   * (resolving when that transaction has completed). IndexedDB commits a transaction with no request
   * pending, so it keeps one pending until let go.
   */
  holdRoomRecords: async (page: Page): Promise<() => Promise<void>> => {
    await page.evaluate(async () => {
      interface Tx {
        objectStore(name: string): { get(key: string): IdbRequest<unknown> };
        oncomplete: (() => void) | null;
        onerror: (() => void) | null;
        onabort: (() => void) | null;
      }
      const open = (globalThis as unknown as { indexedDB: { open(name: string): IdbRequest<unknown> } }).indexedDB.open(
        'converge',
      );
      const db = await new Promise<{ transaction(s: string[], mode: 'readwrite'): Tx }>((resolve, reject) => {
        open.onsuccess = () => resolve(open.result as { transaction(s: string[], mode: 'readwrite'): Tx });
        open.onerror = () => reject(open.error ?? new Error('IndexedDB open failed'));
      });
      const g = globalThis as unknown as { letGo?: boolean; heldDone?: Promise<void> };
      const tx = db.transaction(['rooms'], 'readwrite');
      g.heldDone = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(new Error('the held transaction failed'));
        tx.onabort = () => reject(new Error('the held transaction was aborted'));
      });
      await new Promise<void>((held) => {
        const spin = (): void => {
          tx.objectStore('rooms').get('').onsuccess = () => {
            held();
            if (!g.letGo) spin();
          };
        };
        spin();
      });
    });
    return () =>
      page.evaluate(async () => {
        const g = globalThis as unknown as { letGo?: boolean; heldDone?: Promise<void> };
        g.letGo = true;
        await g.heldDone;
      });
  },
};

/** Scrolls the message log to a fraction of its height (0 = top, 1 = bottom). */
export const scrollLog = async (log: Locator, fraction: number): Promise<void> => {
  await log.evaluate((el, f) => {
    const box = el as unknown as { scrollTop: number; scrollHeight: number; clientHeight: number };
    box.scrollTop = Math.round((box.scrollHeight - box.clientHeight) * f);
  }, fraction);
};

/** SEC-1: what the browser refused under the page's content security policy, in this worker's current test. */
const cspViolations: string[] = [];

/** SEC-1: the violations reported so far, taken (a test that provokes one on purpose). */
export const takeCspViolations = (): string[] => cspViolations.splice(0);

const makeUser = async (
  browser: Browser,
  relay: RelayProcess,
  name: string,
  opts: OpenUserOptions,
): Promise<AppUser> => {
  const context = await browser.newContext();
  // SEC-1: the app must work within its content security policy; anything it refuses is a bug.
  context.on('console', (msg) => {
    if (msg.type() === 'error' && msg.text().includes('Content Security Policy')) cspViolations.push(msg.text());
  });
  if (opts.clockAheadMs) await context.clock.install({ time: Date.now() + opts.clockAheadMs });
  /** Each routed socket's page side, with its server side. */
  const open = new Map<WebSocketRoute, WebSocketRoute>();
  let blocked: { code: number; reason: string } | null = null;
  if (opts.network) {
    await context.routeWebSocket(/\/sync\//, (ws) => {
      if (blocked) {
        void ws.close(blocked).catch(() => undefined);
        return;
      }
      const server = ws.connectToServer();
      open.set(ws, server);
      // A close handler turns Playwright's forwarding of closes off (its docs): forwarded here, so
      // a socket the page closes (a reconnect, a Lab partition) closes at the relay too, as in a
      // browser, and one the relay closes closes in the page.
      ws.onClose((code, reason) => {
        open.delete(ws);
        void server.close({ code, reason }).catch(() => undefined);
      });
      server.onClose((code, reason) => {
        open.delete(ws);
        void ws.close({ code, reason }).catch(() => undefined);
      });
    });
  }
  const page = await context.newPage();
  await page.goto(relay.url + '/');
  const nameField = page.getByLabel('Your name');
  await nameField.fill(name);
  await nameField.press('Enter');
  await expect(page.getByText('Saved.')).toBeVisible();
  const user: AppUser = {
    name,
    context,
    page,
    gotoRoom: async (room) => {
      await page.goto(`${relay.url}/r/${room}`);
      await expect(ui.composer(page)).toBeVisible();
    },
    composer: () => ui.composer(page),
    send: (text) => ui.send(page, text),
    message: (text) => ui.message(page, text),
    messageTexts: () => ui.messageTexts(page),
    log: () => ui.log(page),
    connection: () => ui.connection(page),
    offlineToggle: () => page.getByRole('button', { name: 'Go offline' }),
    cut: () => user.closeWith(4000, 'network cut by the test'),
    closeWith: async (code, reason) => {
      if (!opts.network) throw new Error('cutting needs openUser(name, { network: true })');
      blocked = { code, reason };
      // Both ends, as a network that went away: the page gets the test's code, the relay its socket closed.
      const routes = [...open];
      open.clear();
      await Promise.all(
        routes.map(([page, server]) =>
          Promise.all([page.close({ code, reason }), server.close({ code, reason }).catch(() => undefined)]),
        ),
      );
    },
    restore: () => {
      blocked = null;
    },
    newTab: async () => {
      const tab = await context.newPage();
      await tab.goto(page.url());
      return tab;
    },
  };
  return user;
};

interface AppFixtures {
  /** A user with their own browser profile, on the test's relay (or `opts.relay`). */
  openUser: (name: string, opts?: OpenUserOptions) => Promise<AppUser>;
  /** A room name unique to the test. */
  room: string;
}

/** Alice and Bob, each with their own browser profile, both in `room` (the usual two-user start). */
export const aliceAndBobIn = async (openUser: AppFixtures['openUser'], room: string): Promise<[AppUser, AppUser]> => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  await b.gotoRoom(room);
  return [a, b];
};

interface AppWorkerFixtures {
  builtApp: void;
}

export const test = base.extend<AppFixtures, AppWorkerFixtures>({
  builtApp: [
    // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form.
    async ({}, use) => {
      await ensureBuilt();
      await use();
    },
    { scope: 'worker', auto: true, timeout: 180_000 },
  ],

  // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring form.
  room: async ({}, use, testInfo) => {
    const slug = testInfo.title.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40);
    await use(`${slug}-${testInfo.workerIndex}-${Date.now().toString(36)}`);
  },

  openUser: async ({ browser, relay }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (name, opts = {}) => {
      const user = await makeUser(browser, opts.relay ?? relay, name, opts);
      contexts.push(user.context);
      return user;
    });
    // Closed before the relay stops (teardown runs in reverse dependency order).
    await Promise.all(contexts.map((c) => c.close()));
    expect(cspViolations.splice(0), 'SEC-1: no content security policy violations').toEqual([]);
  },
});
