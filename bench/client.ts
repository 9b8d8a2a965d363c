/**
 * Client benchmark: opening a big room from the device, in headless Chromium, Converge's app
 * side by side with y-indexeddb (the stock Yjs persistence) on the same Y.Doc content.
 *
 *   npx tsx bench/client.ts [--quick] [--sizes 10000,100000] [--reps N] [--sends N] [--json FILE]
 *
 * Per room size (default 10,000 and 100,000 chat messages; `--quick`: 2,000 and 10,000):
 *
 * 1. The room is made in Node with the app's chat model (shared/chat/chatRoom.ts, as the e2e
 *    test of a 10,000-message room does), then uploaded to a real relay (`startRelay()`, default
 *    settings; frames < 8 MiB, paced under its byte rate), so that the app reopens a room the
 *    relay already holds, as a returning user does.
 * 2. Every system gets its own on-disk Chromium profile (`launchPersistentContext`: a normal
 *    context is off-the-record and keeps IndexedDB in memory). A page on the relay's origin
 *    runs bench/clientPage/page.ts (bundled with esbuild), which seeds IndexedDB with ONE
 *    compacted update (`Y.encodeStateAsUpdate`), what a room holds after compaction (STORE-C2):
 *    - Converge: through the app's own `IdbRoomUpdateStore.append` (same schema, same rows);
 *    - y-indexeddb: `Y.applyUpdate` in one transaction on a doc bound to `IndexeddbPersistence`.
 * 3. Raw loads, interleaved, each in a freshly loaded page: Converge as `RoomSession` loads
 *    (open, `store.load`, `buildDoc` = validate + apply); y-indexeddb until `whenSynced` (and the
 *    part of it in its apply transaction); the app's own `RoomSession.open` and first `view()`.
 *    The first `ChatRoom.messages()` on a loaded doc is timed apart (outside the load time).
 *    The report sets the app's "Opening the room…" → first article against `RoomSession.open` +
 *    `view()`; the difference is the room screen's render (and its `getMeta`, scheduling).
 * 4. First messages painted (Converge only: y-indexeddb has no UI): the built app (dist/, served
 *    by the relay, service worker installed by a first visit to the lobby) is navigated to
 *    `/r/<room>`; an init script records `performance.now()` (0 = navigation start) when the
 *    first `article` appears in the role=log list, and after the next frame (rAF, then a task):
 *    "painted". One unmeasured first open, then `--reps` measured ones (median reported).
 *    Marks on the way: DOMContentLoaded (app bundle run), "Opening the room…" shown (store open,
 *    room screen mounted, session opening).
 * 5. Send: Enter in the "Message" textbox until the article with that text is in the list
 *    (then the next frame), and until it shows Saved (the relay's ack); the next send starts
 *    once the previous one is Saved (at most SAVED_TIMEOUT_MS later).
 * 6. Storage per message: the stored update bytes (Converge: the store's own counters;
 *    y-indexeddb: the values of its `updates` store after seeding and all the loads, which each
 *    add a row), and `navigator.storage.estimate().usage` before/after seeding (disk as Chromium
 *    accounts it: LevelDB plus blob files).
 *
 * It also times, in Node, `buildDoc` and `ChatRoom.messages()` for each size, as a hint of where
 * the time goes outside the browser. Prints Markdown tables; writes the raw numbers as JSON
 * under bench/results/ (git ignores it). Wire it into another runner with `runClientBench()` and
 * `formatClientReport()`.
 */
import { chromiumArgs } from '../e2e/chromiumArgs.js';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext, type JSHandle, type Page } from '@playwright/test';
import { build } from 'esbuild';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { buildDoc } from '../client/sync/roomSession.js';
import { startRelay, type RelayProcess } from '../relay/testing/relayProcess.js';
import { ChatRoom, type Identity } from '../shared/chat/chatRoom.js';
import { HybridClock } from '../shared/chat/hlc.js';
import { newId } from '../shared/ids.js';
import {
  decodeAck,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  Limits,
  MessageType,
  SyncType,
} from '../shared/protocol.js';
import { Prng } from '../shared/testing/prng.js';
import type {
  BaselineLoad,
  ClientBenchGlobals,
  ClientBenchPage,
  ConvergeLoad,
  SessionOpen,
  StoredSummary,
} from './clientPage/page.js';
import { machineInfo, sleep, type MachineInfo } from './proc.js';
import { fmt, fmtInt, median, table } from './stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The issue's targets for "first messages painted", by room size. */
export const CLIENT_TARGETS_MS: Readonly<Record<number, number>> = { 10_000: 500, 100_000: 2_000 };

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_ARGS = chromiumArgs();

export interface ClientBenchOptions {
  /** Room sizes in messages. Default 10,000 and 100,000. */
  readonly sizes?: readonly number[];
  /** Measured opens (and raw loads per system) per size. Default 5. */
  readonly reps?: number;
  /** Measured sends per size. Default 5. */
  readonly sends?: number;
  /** Default $CHROMIUM_PATH, else /usr/bin/chromium. */
  readonly chromiumPath?: string;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

/** Milliseconds since navigation start (the page's `performance.now()`). */
export interface PaintSample {
  readonly domContentLoaded: number;
  /** "Opening the room…" in the DOM: the store is open and the room screen mounted. */
  readonly opening: number;
  /** The first `article` in the message log is in the DOM. */
  readonly article: number;
  /** After the next frame (rAF, then a task): the first messages are on screen. */
  readonly painted: number;
}

export interface SendSample {
  /** Enter keydown → the article is in the DOM. */
  readonly domMs: number;
  /** Enter keydown → after the next frame. */
  readonly paintedMs: number;
  /** Enter keydown → the message shows Saved (the relay's ack); null: not within SAVED_TIMEOUT_MS. */
  readonly savedMs: number | null;
}

export interface ClientSizeResult {
  readonly messages: number;
  /** The room's compacted update (`Y.encodeStateAsUpdate`). */
  readonly updateBytes: number;
  readonly converge: {
    readonly stored: StoredSummary;
    readonly usageDelta: number;
    readonly loads: ConvergeLoad[];
    /** `RoomSession.open` and its first `view()` in a bare page. */
    readonly sessions: SessionOpen[];
    /** The first open in the profile (service worker installed, room never opened). */
    readonly firstOpen: PaintSample;
    readonly opens: PaintSample[];
    readonly sends: SendSample[];
  };
  readonly baseline: {
    /** After seeding. */
    readonly stored: StoredSummary;
    /** After every load (y-indexeddb writes a row on each load). */
    readonly storedAfterLoads: StoredSummary;
    readonly usageDelta: number;
    readonly loads: BaselineLoad[];
  };
  /** The same work in Node (tsx), medians of 3. */
  readonly node: { readonly buildDocMs: number; readonly applyOnlyMs: number; readonly messagesMs: number };
}

export interface ClientBenchResult {
  readonly machine: MachineInfo;
  /** The code measured: HEAD and the uncommitted files under client/ and shared/ (tests excluded). */
  readonly code: { readonly commit: string; readonly modified: string[] };
  readonly chromium: string;
  readonly reps: number;
  readonly sends: number;
  readonly sizes: ClientSizeResult[];
}

// ---------------------------------------------------------------- the room

interface RoomData {
  readonly messages: number;
  /** One update per `CHUNK_MESSAGES` messages: what is uploaded to the relay (each frame < 8 MiB). */
  readonly chunks: Uint8Array[];
  /** The whole room as one update: what IndexedDB holds after compaction. */
  readonly full: Uint8Array;
  readonly stateVector: Map<number, number>;
  /** Text of the newest message. */
  readonly lastText: string;
}

const CHUNK_MESSAGES = 5_000;

const WORDS = (
  'the a room chat message offline sync lunch meeting slides review merge draft notes ok thanks see you ' +
  'later cool idea plan tomorrow yes no maybe train late coffee doc link sent fixed build deploy'
).split(' ');

const nodeRandom = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));

/** A room of `n` messages by 4 authors, ~30 s apart, 20–90 characters each. */
const makeRoom = (n: number, seed: number): RoomData => {
  const rng = new Prng(seed);
  const start = Date.now() - n * 30_000;
  let i = 0;
  const doc = new Y.Doc();
  const chat = new ChatRoom(doc, new HybridClock('bench-seed', () => start + i * 30_000), nodeRandom);
  const authors: Identity[] = ['Ann', 'Ben', 'Chloé', 'Dev'].map((name) => ({ id: newId(nodeRandom), name }));
  const chunks: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => chunks.push(u));
  let lastText = '';
  while (i < n) {
    doc.transact(() => {
      for (const end = Math.min(n, i + CHUNK_MESSAGES); i < end; i++) {
        let text = `#${i}`;
        const len = rng.int(20, 90);
        while (text.length < len) text += ' ' + WORDS[rng.int(0, WORDS.length - 1)]!;
        chat.send(authors[rng.int(0, authors.length - 1)]!, text);
        lastText = text;
      }
    });
  }
  const full = Y.encodeStateAsUpdate(doc);
  const stateVector = Y.decodeStateVector(Y.encodeStateVector(doc));
  doc.destroy();
  return { messages: n, chunks, full, stateVector, lastText };
};

/** Median of 3 runs of `f`, which returns the time it measured (so it can leave its setup out). */
const median3 = (f: () => number): number => median([f(), f(), f()]);

const timed = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

const nodeHints = (room: RoomData): ClientSizeResult['node'] => {
  const buildDocMs = median3(() => timed(() => buildDoc([room.full]).doc.destroy()));
  const applyOnlyMs = median3(() => {
    const doc = new Y.Doc();
    const ms = timed(() => Y.applyUpdate(doc, room.full));
    doc.destroy();
    return ms;
  });
  // The first call on a fresh ChatRoom: what opening a room pays (later calls may be cached).
  const messagesMs = median3(() => {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, room.full);
    const chat = new ChatRoom(doc, new HybridClock('bench', () => Date.now()), nodeRandom);
    let count = 0;
    const ms = timed(() => (count = chat.messages().length));
    doc.destroy();
    if (count !== room.messages) throw new Error(`Node: ${count} messages, not ${room.messages}`);
    return ms;
  });
  return { buildDocMs, applyOnlyMs, messagesMs };
};

// ---------------------------------------------------------------- the relay

/** The relay's default per-connection byte budget (relay/config.ts), with a margin. */
const RELAY_BYTES_PER_S = 1.5 * 1024 * 1024;
const RELAY_BYTE_BURST = 12 * 1024 * 1024;

/** Uploads the room to the relay as Update frames (paced under its byte rate) and waits for the acks. */
const seedRelay = async (relay: RelayProcess, room: string, data: RoomData): Promise<void> => {
  const ws = new WebSocket(`${relay.wsUrl}/${room}`);
  ws.binaryType = 'nodebuffer';
  const acked = new Map<number, number>();
  let closed: string | null = null;
  let onProgress: () => void = () => undefined;
  let synced!: () => void;
  const isSynced = new Promise<void>((r) => (synced = r));
  ws.on('message', (raw: Buffer) => {
    const f = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    if (f[0] === MessageType.Sync && f[1] === SyncType.Step1) ws.send(encodeSyncStep2(new Uint8Array([0, 0])));
    else if (f[0] === MessageType.Sync && f[1] === SyncType.Step2) synced();
    else if (f[0] === MessageType.Ack) {
      for (const [client, clock] of decodeAck(f)) acked.set(client, Math.max(clock, acked.get(client) ?? 0));
      onProgress();
    }
  });
  ws.on('close', (code, reason) => {
    closed = `${code} ${reason.toString()}`;
    onProgress();
    synced();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(encodeSyncStep1(new Uint8Array([0])));
  await isSynced;
  let tokens = RELAY_BYTE_BURST;
  let last = performance.now();
  for (const chunk of data.chunks) {
    const frame = encodeSyncUpdate(chunk);
    if (frame.length > Limits.maxFrameBytes) throw new Error(`seed frame of ${frame.length} bytes is too large`);
    const now = performance.now();
    tokens = Math.min(RELAY_BYTE_BURST, tokens + ((now - last) / 1000) * RELAY_BYTES_PER_S);
    last = now;
    if (tokens < frame.length) {
      await sleep(((frame.length - tokens) / RELAY_BYTES_PER_S) * 1000);
      tokens = frame.length;
      last = performance.now();
    }
    tokens -= frame.length;
    if (closed !== null) break;
    ws.send(frame);
  }
  const done = (): boolean => [...data.stateVector].every(([client, clock]) => (acked.get(client) ?? 0) >= clock);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay did not ack the seeded room within 120 s')), 120_000);
    onProgress = () => {
      if (closed !== null) reject(new Error(`the relay closed the seeding socket: ${closed}`));
      else if (done()) resolve();
      else return;
      clearTimeout(timer);
    };
    onProgress();
  });
  ws.close();
};

// ---------------------------------------------------------------- the browser

/**
 * Runs in every page of the app's profile before the app's scripts: records when the first
 * messages are in the DOM and painted (`__cbMarks`), and arms the send measurement
 * (`__cbArmSend(text)` → `__cbSend`). A string, so that no bundler helper leaks into the page.
 */
const INIT_SCRIPT = `(() => {
  const marks = {};
  window.__cbMarks = marks;
  const observer = new MutationObserver(() => {
    if (marks.opening === undefined && document.querySelector('.room-layout main[aria-busy="true"]')) {
      marks.opening = performance.now();
    }
    if (marks.article === undefined && document.querySelector('[role="log"] article')) {
      marks.article = performance.now();
      if (marks.opening === undefined) marks.opening = marks.article;
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => { marks.painted = performance.now(); }, 0));
    }
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['aria-busy'] });
  window.__cbArmSend = (text) => {
    let t0;
    let resolveSaved;
    const onKey = (e) => { if (e.key === 'Enter' && t0 === undefined) t0 = performance.now(); };
    const article = () => [...document.querySelectorAll('[role="log"] article')].find(
      (a) => a.querySelector('.message-text')?.textContent === text,
    );
    document.addEventListener('keydown', onKey, true);
    window.__cbSaved = new Promise((resolve) => { resolveSaved = resolve; });
    window.__cbSend = new Promise((resolve) => {
      let shown = false;
      const watch = new MutationObserver(() => {
        if (t0 === undefined) return;
        const a = article();
        if (!a) return;
        if (!shown) {
          shown = true;
          document.removeEventListener('keydown', onKey, true);
          const domMs = performance.now() - t0;
          requestAnimationFrame(() => setTimeout(() => resolve({ domMs, paintedMs: performance.now() - t0 }), 0));
        }
        if (/Saved|Seen/.test(a.textContent ?? '')) {
          watch.disconnect();
          resolveSaved(performance.now() - t0);
        }
      });
      watch.observe(document.body, { childList: true, subtree: true, characterData: true });
    });
  };
})();`;

interface PageGlobals extends ClientBenchGlobals {
  __cbMarks?: Partial<PaintSample>;
  __cbArmSend?: (text: string) => void;
  __cbSend?: Promise<Pick<SendSample, 'domMs' | 'paintedMs'>>;
  __cbSaved?: Promise<number>;
}

type G = PageGlobals;

const bundlePage = async (): Promise<string> => {
  const result = await build({
    entryPoints: [join(root, 'bench', 'clientPage', 'page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
};

/** Builds dist/ unless it is fresh (scripts/ensureBuild.mjs, as `npm start` and the e2e tests do). */
const ensureBuilt = (): void => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'ensureBuild.mjs')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the client failed:\n${r.stdout}\n${r.stderr}`);
};

interface Profile {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

const openProfile = async (chromiumPath: string): Promise<Profile> => {
  const dir = mkdtempSync(join(tmpdir(), 'converge-client-bench-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/**
 * A freshly loaded `/healthz` page (never answered by the service worker) running the bench
 * bundle; resolves with a handle on its `clientBench`.
 */
const rawPage = async (page: Page, relay: RelayProcess, bundle: string): Promise<JSHandle<ClientBenchPage>> => {
  const response = await page.goto(relay.url + '/healthz');
  if (response?.status() !== 200) throw new Error(`GET /healthz answered ${response?.status()}`);
  await page.addScriptTag({ content: bundle });
  return page.evaluateHandle(() => (globalThis as unknown as G).clientBench!);
};

/** Seeds with `seed(url)` in the page, serving the room's update at `url` through Playwright. */
const withServedUpdate = async <T>(
  page: Page,
  relay: RelayProcess,
  update: Uint8Array,
  seed: (url: string) => Promise<T>,
): Promise<T> => {
  const url = `${relay.url}/__client-bench/room.bin`;
  const body = Buffer.from(update.buffer, update.byteOffset, update.byteLength);
  await page.route(url, (route) => route.fulfill({ status: 200, body, contentType: 'application/octet-stream' }));
  try {
    return await seed(url);
  } finally {
    await page.unroute(url);
  }
};

const PAINT_TIMEOUT_MS = 180_000;

const composer = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });

/** Waits until the app says Online, then a moment more (meta writes, the first sync). */
const settle = async (page: Page): Promise<void> => {
  await page
    .getByRole('status')
    .filter({ hasText: /Online/ })
    .first()
    .waitFor({ timeout: 60_000 });
  await sleep(500);
};

const openRoom = async (page: Page, url: string): Promise<PaintSample> => {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => (globalThis as unknown as G).__cbMarks?.painted !== undefined, undefined, {
    timeout: PAINT_TIMEOUT_MS,
    polling: 50,
  });
  return page.evaluate(() => {
    const m = (globalThis as unknown as G).__cbMarks!;
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
    return {
      domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN,
      opening: m.opening ?? NaN,
      article: m.article!,
      painted: m.painted!,
    };
  });
};

/** How long a send waits for its Saved before the next one starts anyway. */
const SAVED_TIMEOUT_MS = 15_000;

const sendOne = async (page: Page, text: string): Promise<SendSample> => {
  const box = composer(page);
  await box.fill(text);
  await page.evaluate((t) => (globalThis as unknown as G).__cbArmSend!(t), text);
  await box.press('Enter');
  const shown = await page.evaluate(() => (globalThis as unknown as G).__cbSend!);
  // The next send starts once this one is stored and acked (or after SAVED_TIMEOUT_MS).
  const savedMs = await page.evaluate(
    (timeout) =>
      Promise.race([
        (globalThis as unknown as G).__cbSaved!,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), timeout)),
      ]),
    SAVED_TIMEOUT_MS,
  );
  await sleep(300);
  return { ...shown, savedMs };
};

const codeState = (): ClientBenchResult['code'] => {
  const git = (...args: string[]): string => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout ?? '';
  const modified = git('status', '--porcelain', '--', 'client', 'shared')
    .split('\n')
    .map((line) => line.slice(3).trim())
    .filter((file) => file !== '' && !/\.test\.tsx?$/.test(file));
  return { commit: git('rev-parse', '--short', 'HEAD').trim() || 'unknown', modified };
};

const chromiumVersion = (path: string): string => {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return (r.stdout || 'unknown').trim();
};

// ---------------------------------------------------------------- the run

export const runClientBench = async (opts: ClientBenchOptions = {}): Promise<ClientBenchResult> => {
  const sizes = opts.sizes ?? [10_000, 100_000];
  const reps = opts.reps ?? 5;
  const sendCount = opts.sends ?? 5;
  const chromiumPath = opts.chromiumPath ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  const log = opts.log ?? ((line: string) => process.stderr.write(`client bench: ${line}\n`));

  const code = codeState();
  ensureBuilt();
  const bundle = await bundlePage();
  const relay = await startRelay();
  const results: ClientSizeResult[] = [];
  try {
    for (const [s, n] of sizes.entries()) {
      const room = `bench-${n}-${Date.now().toString(36)}`;
      log(`${fmtInt(n)} messages: making the room`);
      const data = makeRoom(n, 1 + s);
      const node = nodeHints(data);
      log(`${fmtInt(n)} messages: ${(data.full.length / 1024 / 1024).toFixed(1)} MiB; uploading to the relay`);
      await seedRelay(relay, room, data);

      const conv = await openProfile(chromiumPath);
      const base = await openProfile(chromiumPath);
      try {
        // Seeding.
        let cb = await rawPage(conv.page, relay, bundle);
        const convUsage0 = await cb.evaluate((b) => b.usage());
        const convStored = await withServedUpdate(conv.page, relay, data.full, (url) =>
          cb.evaluate((b, [r, u]) => b.convergeSeed(r, u), [room, url] as const),
        );
        const convUsage1 = await cb.evaluate((b) => b.usage());
        let bb = await rawPage(base.page, relay, bundle);
        const baseUsage0 = await bb.evaluate((b) => b.usage());
        const baseStored = await withServedUpdate(base.page, relay, data.full, (url) =>
          bb.evaluate((b, [r, u]) => b.baselineSeed(r, u), [room, url] as const),
        );
        const baseUsage1 = await bb.evaluate((b) => b.usage());

        // Raw loads, interleaved, each in a fresh page load.
        log(`${fmtInt(n)} messages: raw loads (Converge store, RoomSession, y-indexeddb) ×${reps}`);
        const convLoads: ConvergeLoad[] = [];
        const sessions: SessionOpen[] = [];
        const baseLoads: BaselineLoad[] = [];
        for (let k = 0; k < reps; k++) {
          cb = await rawPage(conv.page, relay, bundle);
          convLoads.push(await cb.evaluate((b, r) => b.convergeLoad(r), room));
          bb = await rawPage(base.page, relay, bundle);
          baseLoads.push(await bb.evaluate((b, r) => b.baselineLoad(r), room));
          cb = await rawPage(conv.page, relay, bundle);
          sessions.push(await cb.evaluate((b, [r, u]) => b.sessionOpen(r, u), [room, relay.wsUrl] as const));
        }
        for (const l of [...convLoads, ...baseLoads, ...sessions]) {
          if (l.messages !== n) throw new Error(`a load found ${l.messages} messages, not ${n}`);
        }
        const baseStoredAfter = await bb.evaluate((b, r) => b.baselineStored(r), room);
        await base.close();

        // The app: the lobby once (name, service worker), then the room.
        log(`${fmtInt(n)} messages: app opens ×${reps + 1}, sends ×${sendCount}`);
        const page = conv.page;
        await page.addInitScript(INIT_SCRIPT);
        await page.goto(relay.url + '/');
        await page.getByLabel('Your name').fill('Bench');
        await page.evaluate(async () => {
          await navigator.serviceWorker.ready;
        });
        const roomUrl = `${relay.url}/r/${room}`;
        const firstOpen = await openRoom(page, roomUrl);
        await page.locator('[role="log"] .message-text', { hasText: data.lastText }).first().waitFor();
        await settle(page);
        const opens: PaintSample[] = [];
        for (let k = 0; k < reps; k++) {
          opens.push(await openRoom(page, roomUrl));
          await settle(page);
        }
        const sends: SendSample[] = [];
        for (let k = 0; k < sendCount; k++) sends.push(await sendOne(page, `bench send ${k} ${room}`));

        results.push({
          messages: n,
          updateBytes: data.full.length,
          converge: {
            stored: convStored,
            usageDelta: convUsage1 - convUsage0,
            loads: convLoads,
            sessions,
            firstOpen,
            opens,
            sends,
          },
          baseline: {
            stored: baseStored,
            storedAfterLoads: baseStoredAfter,
            usageDelta: baseUsage1 - baseUsage0,
            loads: baseLoads,
          },
          node,
        });
      } finally {
        await Promise.allSettled([conv.close(), base.close()]);
      }
    }
  } finally {
    await relay.cleanup();
  }
  return {
    machine: machineInfo(),
    code,
    chromium: chromiumVersion(chromiumPath),
    reps,
    sends: sendCount,
    sizes: results,
  };
};

// ---------------------------------------------------------------- the report

const med = <T>(xs: readonly T[], f: (x: T) => number): number => median(xs.map(f));
const ms = (v: number): string => `${fmtInt(v)} ms`;

const vsTarget = (measured: number, target: number | undefined): string => {
  if (target === undefined) return '–';
  if (measured <= target) return `meets (${fmt(measured / target, 2)}× of target)`;
  return `misses by ${fmtInt(measured - target)} ms (${fmt(measured / target, 1)}×)`;
};

export const formatClientReport = (r: ClientBenchResult): string => {
  const rows = r.sizes;
  const out: string[] = [];
  out.push(
    `### Client: opening a room from IndexedDB (headless ${r.chromium}; medians of ${r.reps} opens/loads)`,
    '',
    `Code measured: ${r.code.commit}${r.code.modified.length > 0 ? ` + uncommitted ${r.code.modified.join(', ')}` : ''}.`,
    '',
    table(
      [
        'Messages',
        'Converge: first messages painted (range)',
        'Target',
        'Converge vs target',
        'Converge: IDB → Y.Doc',
        'y-indexeddb: IDB → Y.Doc (whenSynced)',
      ],
      rows.map((s) => {
        const painted = s.converge.opens.map((o) => o.painted);
        const target = CLIENT_TARGETS_MS[s.messages];
        return [
          fmtInt(s.messages),
          `${ms(median(painted))} (${fmtInt(Math.min(...painted))}–${fmtInt(Math.max(...painted))})`,
          target === undefined ? '–' : `≤ ${fmtInt(target)} ms`,
          vsTarget(median(painted), target),
          ms(med(s.converge.loads, (l) => l.openMs + l.readMs + l.buildMs)),
          ms(med(s.baseline.loads, (l) => l.syncedMs)),
        ];
      }),
    ),
    '',
    'Where Converge’s time goes, in the app (ms since navigation start, medians; "first open" is the first visit to the room after the service worker was installed):',
    '',
    table(
      ['Messages', 'DOMContentLoaded', '"Opening the room…"', 'first article in DOM', 'painted', 'first open: painted'],
      rows.map((s) => [
        fmtInt(s.messages),
        fmtInt(med(s.converge.opens, (o) => o.domContentLoaded)),
        fmtInt(med(s.converge.opens, (o) => o.opening)),
        fmtInt(med(s.converge.opens, (o) => o.article)),
        fmtInt(med(s.converge.opens, (o) => o.painted)),
        fmtInt(s.converge.firstOpen.painted),
      ]),
    ),
    '',
    'The app’s room opening ("Opening the room…" → first article) against its parts run in a bare page (ms, medians; the rest is the room screen’s React render, its `getMeta`, scheduling):',
    '',
    table(
      ['Messages', '"Opening" → article', 'RoomSession.open', 'first view()', 'rest'],
      rows.map((s) => {
        const opening = med(s.converge.opens, (o) => o.article - o.opening);
        const open = med(s.converge.sessions, (x) => x.openMs);
        const view = med(s.converge.sessions, (x) => x.viewMs);
        return [fmtInt(s.messages), fmtInt(opening), fmtInt(open), fmtInt(view), fmtInt(opening - open - view)];
      }),
    ),
    '',
    'Raw loads in a bare page (ms, medians): Converge’s store and `buildDoc` as `RoomSession.open` runs them, y-indexeddb to `whenSynced`, and the first `ChatRoom.messages()` on the loaded doc (`RoomSession` needs it on open: not part of the load columns); the same in Node (tsx):',
    '',
    table(
      [
        'Messages',
        'Converge: open DB',
        'read rows',
        'validate + apply',
        'y-indexeddb: whenSynced (of which apply)',
        'ChatRoom.messages()',
        'Node: buildDoc',
        'Node: applyUpdate only',
        'Node: messages()',
      ],
      rows.map((s) => [
        fmtInt(s.messages),
        fmt(med(s.converge.loads, (l) => l.openMs)),
        fmt(med(s.converge.loads, (l) => l.readMs)),
        fmt(med(s.converge.loads, (l) => l.buildMs)),
        `${fmt(med(s.baseline.loads, (l) => l.syncedMs))} (apply ${fmt(med(s.baseline.loads, (l) => l.applyMs))})`,
        fmt(med([...s.converge.loads, ...s.baseline.loads], (l) => l.messagesMs)),
        fmt(s.node.buildDocMs),
        fmt(s.node.applyOnlyMs),
        fmt(s.node.messagesMs),
      ]),
    ),
    '',
    `Sending: Enter in the composer until the message is in the list (median and worst of ${r.sends}):`,
    '',
    table(
      ['Messages', 'in DOM (median)', 'painted (median)', 'painted (worst)', 'Saved (relay ack, median)'],
      rows.map((s) => {
        const saved = s.converge.sends.flatMap((x) => (x.savedMs === null ? [] : [x.savedMs]));
        const missing = s.converge.sends.length - saved.length;
        return [
          fmtInt(s.messages),
          ms(med(s.converge.sends, (x) => x.domMs)),
          ms(med(s.converge.sends, (x) => x.paintedMs)),
          ms(Math.max(...s.converge.sends.map((x) => x.paintedMs))),
          (saved.length > 0 ? ms(median(saved)) : '–') +
            (missing > 0 ? ` (${missing} not Saved within ${SAVED_TIMEOUT_MS / 1000} s)` : ''),
        ];
      }),
    ),
    '',
    'Storage per message: stored update bytes (Converge: the store’s own counters; y-indexeddb: its `updates` values, after its seeding write and the loads, each of which adds a row) and disk as `navigator.storage.estimate()` counts it (usage growth from seeding):',
    '',
    table(
      [
        'Messages',
        'update (Y.encodeStateAsUpdate)',
        'Converge: stored',
        'Converge: disk (estimate)',
        'y-indexeddb: stored',
        'y-indexeddb: disk (estimate)',
      ],
      rows.map((s) => {
        const per = (bytes: number): string => `${fmt(bytes / s.messages)} B`;
        return [
          fmtInt(s.messages),
          per(s.updateBytes),
          `${per(s.converge.stored.bytes)} (${s.converge.stored.rows} row)`,
          per(s.converge.usageDelta),
          `${per(s.baseline.storedAfterLoads.bytes)} (${s.baseline.storedAfterLoads.rows} rows)`,
          per(s.baseline.usageDelta),
        ];
      }),
    ),
  );
  return out.join('\n');
};

// ---------------------------------------------------------------- command line

const HELP = `npx tsx bench/client.ts [options]

  --quick          2,000 and 10,000 messages, 3 opens/loads and 3 sends (< 1 minute)
  --sizes LIST     room sizes in messages, comma-separated (default 10000,100000)
  --reps N         measured opens and raw loads per size and system (default 5; quick 3)
  --sends N        measured sends per size (default 5; quick 3)
  --json FILE      where to write the raw results (default bench/results/client-<date>.json)
  --help

Chromium: $CHROMIUM_PATH, else ${DEFAULT_CHROMIUM}.`;

const main = async (): Promise<void> => {
  const { values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      reps: { type: 'string' },
      sends: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (args.help) {
    console.log(HELP);
    return;
  }
  const count = (v: string | undefined, full: number, quick: number, name: string): number => {
    if (v === undefined) return args.quick ? quick : full;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  const sizes = (args.sizes ?? (args.quick ? '2000,10000' : '10000,100000')).split(',').map((v) => {
    const n = Number(v.trim());
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--sizes: "${v}" is not a positive integer`);
    return n;
  });
  const t0 = performance.now();
  const result = await runClientBench({
    sizes,
    reps: count(args.reps, 5, 3, 'reps'),
    sends: count(args.sends, 5, 3, 'sends'),
  });
  const m = result.machine;
  console.log(
    `${m.cpuModel}, ${m.cores} cores, ${m.memGiB.toFixed(1)} GiB, Node ${m.node}, ${m.kernel}; ${result.chromium}\n`,
  );
  console.log(formatClientReport(result));
  const file =
    args.json ?? join(root, 'bench', 'results', `client-${m.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nRaw results: ${file} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
