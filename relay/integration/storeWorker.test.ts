/**
 * STORE-5 at the relay level: the store's worker thread dies under stock y-websocket clients.
 * The relay runs in this process (the real `Relay`, `createRelayServer` on a free port,
 * `WorkerRoomStore` on real SQLite in a real thread) because the test kills that thread through
 * the test-only `workerForTests`; the last test checks the wiring of the real relay process.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CloseReason, MessageType } from '../../shared/protocol.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { RelayMetrics } from '../metrics.js';
import { Relay } from '../relay.js';
import { createRelayServer } from '../server.js';
import { ROOM_STORE_FILE_NAME } from '../sqliteRoomStore.js';
import { WorkerRoomStore } from '../workerRoomStore.js';
import { Harness, healthz, synced, waitFor, type StockClient } from './clients.js';

/** The value of the sample `series` in a text exposition, or undefined. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

interface InProcessRelay {
  readonly url: string;
  readonly wsUrl: string;
  readonly file: string;
  readonly store: WorkerRoomStore;
  readonly relay: Relay;
  readonly metrics: RelayMetrics;
  readonly logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** What relay/main.ts builds in embedded mode, with a short restart backoff and small compactions. */
const startInProcess = async (dataDir: string): Promise<InProcessRelay> => {
  const config = loadConfig({ DATA_DIR: dataDir }, []);
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger('info', (l) => logs.push(JSON.parse(l) as Record<string, unknown>));
  const metrics: RelayMetrics = new RelayMetrics({ defaultMetrics: false, stats: () => relay.stats() });
  const store = await WorkerRoomStore.openDataDir(dataDir, {}, { log, metrics, backoffMs: { initial: 20, max: 200 } });
  const relay = new Relay({
    store,
    merger: store,
    limits: config.limits,
    commitDelayMs: config.commitDelayMs,
    idleUnloadMs: config.idleUnloadMs,
    // Small, so compaction steps are in flight in the worker too.
    compaction: { minLogEntries: 8, targetBytes: 2048 },
    log,
    metrics,
  });
  const server: Server = createRelayServer({
    relay,
    log,
    maxFrameBytes: config.limits.maxFrameBytes,
    staticDir: join(dataDir, 'no-client-build'),
    metrics,
    storeWorker: store,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/sync`,
    file: join(dataDir, ROOM_STORE_FILE_NAME),
    store,
    relay,
    metrics,
    logs,
    stop: async () => {
      server.close();
      await relay.shutdown();
      server.closeAllConnections();
    },
  };
};

/**
 * Ack-driven traffic: while `on`, each ack a client receives makes it append the next line, so
 * updates are always on their way to the relay (and a commit often in flight in the worker).
 */
const keepTyping = (c: StockClient, prefix: string): { on: boolean; lines: number } => {
  const state = { on: true, lines: 0 };
  const handleAck = c.provider.messageHandlers[MessageType.Ack]!;
  c.provider.messageHandlers[MessageType.Ack] = (...args) => {
    handleAck(...args);
    if (state.on) type(c, `${prefix}${state.lines++}\n`);
  };
  return state;
};

const type = (c: StockClient, line: string): void => {
  const t = c.doc.getText('text');
  t.insert(t.length, line);
};

/**
 * Every close the client saw is the retryable storage-unavailable (4503), or 1006 for a reconnect
 * the relay refused with 503 before the upgrade (the socket never opened): none is fatal.
 */
const expectOnlyRetryableCloses = (c: StockClient): void => {
  for (const e of c.closes) {
    if (e) expect([CloseReason.StorageUnavailable.code, 1006]).toContain(e.code);
  }
};

/** `/healthz`'s `storeWorker`. */
const storeWorkerStatus = async (url: string): Promise<unknown> =>
  ((await (await fetch(url + '/healthz')).json()) as { storeWorker?: unknown }).storeWorker;

/** The doc the store holds for `room`. */
const storedDoc = async (store: WorkerRoomStore, room: string): Promise<Y.Doc> => {
  const stored = await store.load(room);
  const doc = new Y.Doc();
  for (const s of stored.segments) Y.applyUpdate(doc, s.update);
  for (const l of stored.log) Y.applyUpdate(doc, l.update);
  return doc;
};

/** Every struct of `clientID` below `clock` is in `doc` (with nothing pending). */
const holds = (doc: Y.Doc, clientID: number, clock: number): boolean =>
  Y.getState(doc.store, clientID) >= clock && doc.store.pendingStructs === null;

/** Moves a WAL database (WAL files first, the main file last). */
const moveDatabase = (from: string, to: string): void => {
  for (const suffix of ['-wal', '-shm', '']) if (existsSync(from + suffix)) renameSync(from + suffix, to + suffix);
};

const h = new Harness();
let running: InProcessRelay | null = null;
let dir: string | null = null;

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && running) {
    console.error(running.logs.map((l) => JSON.stringify(l)).join('\n'));
  }
  await h.cleanup(ctx.task.result?.state === 'fail');
  await running?.stop();
  running = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe('the relay when its store worker dies (STORE-5)', () => {
  it('STORE-5: killed mid-traffic with the database unreachable: retryable closes, 503s and /healthz down; once it is back clients reconnect, converge, and everything acked is stored', async () => {
    dir = mkdtempSync(join(tmpdir(), 'converge-store-worker-'));
    const r = (running = await startInProcess(dir));
    const a1 = h.client(r.wsUrl, 'a');
    const a2 = h.client(r.wsUrl, 'a');
    const b1 = h.client(r.wsUrl, 'b');
    const clients = [a1, a2, b1];
    for (const c of clients) await synced(c);
    expect(await storeWorkerStatus(r.url)).toBe('up');

    const typing = clients.map((c, i) => keepTyping(c, `c${i}-`));
    for (const [i, c] of clients.entries()) type(c, `c${i}-start\n`);
    await waitFor(() => typing.every((t) => t.lines >= 20), 'traffic under way');

    // The database becomes unreachable (moved away while open), then the thread is killed: no
    // restart can succeed until the files are back, whatever the timing.
    const saved = join(dir, 'saved');
    moveDatabase(r.file, saved);
    const worker = r.store.workerForTests!;
    const ackedAtKill = clients.map((c) => c.acked.get(c.doc.clientID) ?? 0);
    await worker.terminate();
    // Sent after the death: its commit cannot succeed, so every room is dropped with 4503.
    for (const [i, c] of clients.entries()) type(c, `c${i}-after-the-death\n`);
    await waitFor(
      () => clients.every((c) => c.closes.some((e) => e?.code === CloseReason.StorageUnavailable.code)),
      'every client closed with storage-unavailable (4503, retryable)',
    );
    for (const c of clients) expectOnlyRetryableCloses(c);
    await waitFor(async () => (await storeWorkerStatus(r.url)) === 'down', '/healthz down');
    expect((await fetch(r.url + '/healthz')).status).toBe(503); // HEALTH-1
    expect(r.store.health().error).toMatch(/is gone/);
    // Reconnects are refused before the upgrade while the store cannot answer.
    await waitFor(
      async () =>
        (sample(await r.metrics.render(), 'converge_upgrades_refused_total{reason="storage-unavailable"}') ?? 0) > 0,
      'an upgrade refused with storage-unavailable',
    );
    expect(sample(await r.metrics.render(), 'converge_store_worker_up')).toBe(0);
    for (const t of typing) t.on = false;
    for (const [i, c] of clients.entries()) type(c, `c${i}-offline\n`);

    moveDatabase(saved, r.file);
    await waitFor(() => r.store.health().status === 'up', 'the store worker restarted', 20_000);
    await waitFor(
      () => clients.every((c) => c.provider.synced && c.allOwnEditsAcked()),
      'every client reconnected and every edit acked',
      20_000,
    );
    await waitFor(() => a1.text() === a2.text(), 'room a converged');
    for (const [i, c] of clients.entries()) {
      expect(c.text()).toContain(`c${i}-after-the-death\n`);
      expect(c.text()).toContain(`c${i}-offline\n`);
    }

    // What was acked before the death is stored, and now everything each client made is.
    const stored = { a: await storedDoc(r.store, 'a'), b: await storedDoc(r.store, 'b') };
    for (const [i, c] of clients.entries()) {
      const doc = c === b1 ? stored.b : stored.a;
      expect(ackedAtKill[i]).toBeGreaterThan(0);
      expect(holds(doc, c.doc.clientID, ackedAtKill[i]!)).toBe(true);
      expect(holds(doc, c.doc.clientID, Y.getState(c.doc.store, c.doc.clientID))).toBe(true);
    }
    expect(stored.a.getText('text').toJSON()).toBe(a1.text());
    expect(stored.b.getText('text').toJSON()).toBe(b1.text());

    // The relay keeps serving: a newcomer gets the whole room; /healthz and /metrics say so.
    const late = h.client(r.wsUrl, 'a');
    await synced(late);
    expect(late.text()).toBe(a1.text());
    expect(await storeWorkerStatus(r.url)).toBe('up');
    expect((await fetch(r.url + '/healthz')).status).toBe(200);
    const text = await r.metrics.render();
    expect(sample(text, 'converge_store_worker_restarts_total{outcome="ok"}')).toBe(1);
    expect(sample(text, 'converge_store_worker_restarts_total{outcome="failed"}')).toBeGreaterThan(0);
    expect(sample(text, 'converge_store_worker_up')).toBe(1);
    const events = r.logs.map((l) => l.event);
    expect(events).toContain('store-worker-died');
    expect(events).toContain('store-worker-start-failed');
    expect(events).toContain('store-worker-restarted');
    expect(events).toContain('append-failed');
  });

  it('STORE-5: killed mid-traffic and restarted at once: every close is retryable, clients converge, nothing acked is lost', async () => {
    dir = mkdtempSync(join(tmpdir(), 'converge-store-worker-'));
    const r = (running = await startInProcess(dir));
    const clients = [h.client(r.wsUrl, 'x'), h.client(r.wsUrl, 'x'), h.client(r.wsUrl, 'y')];
    for (const c of clients) await synced(c);
    const typing = clients.map((c, i) => keepTyping(c, `c${i}-`));
    for (const [i, c] of clients.entries()) type(c, `c${i}-start\n`);

    for (let kill = 1; kill <= 3; kill++) {
      const before = typing.map((t) => t.lines);
      await waitFor(() => typing.every((t, i) => t.lines >= before[i]! + 10), `traffic before kill ${kill}`);
      const ackedAtKill = clients.map((c) => c.acked.get(c.doc.clientID) ?? 0);
      await r.store.workerForTests!.terminate();
      await waitFor(() => r.store.health().restarts === kill, `restart ${kill}`, 20_000);
      // Traffic resumes: rooms that lost a commit were dropped and their clients reconnected.
      const resumed = typing.map((t) => t.lines);
      await waitFor(() => typing.every((t, i) => t.lines > resumed[i]!), `traffic after restart ${kill}`, 20_000);
      for (const [i, c] of clients.entries()) {
        const doc = await storedDoc(r.store, i < 2 ? 'x' : 'y');
        expect(holds(doc, c.doc.clientID, ackedAtKill[i]!)).toBe(true);
      }
    }
    for (const t of typing) t.on = false;
    await waitFor(() => clients.every((c) => c.allOwnEditsAcked()), 'everything acked', 20_000);
    await waitFor(() => clients[0]!.text() === clients[1]!.text(), 'room x converged');
    for (const c of clients) expectOnlyRetryableCloses(c);
    expect((await storedDoc(r.store, 'x')).getText('text').toJSON()).toBe(clients[0]!.text());
    expect((await storedDoc(r.store, 'y')).getText('text').toJSON()).toBe(clients[2]!.text());
    expect(r.logs.filter((l) => l.event === 'store-worker-died')).toHaveLength(3);
  });

  it('STORE-5: the relay process reports its store worker on /healthz and /metrics', async () => {
    const relay = await h.relay();
    expect((await healthz(relay)).body).toMatchObject({ storeWorker: 'up', backplane: 'off' });
    const text = await (await fetch(relay.url + '/metrics')).text();
    expect(sample(text, 'converge_store_worker_up')).toBe(1);
  });
});
