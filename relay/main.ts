/**
 * `npm start`: the relay, serving the built client from dist/ when present.
 * Prints one line with the URL; SIGTERM/SIGINT commit everything pending, close sockets with
 * going-away, and exit 0 (1 when a commit failed on the way, CLOSE-4).
 */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { configHelp, ConfigError, loadConfig, publishedLimits, wantsHelp } from './config.js';
import { createLogger } from './log.js';
import { Relay, type RelayStats } from './relay.js';
import { createRelayServer } from './server.js';
import { WorkerRoomStore } from './workerRoomStore.js';
import type { RoomStore } from './roomStore.js';
import { RelayMetrics } from './metrics.js';
import { openScaleOutStorage } from './scaleOutStorage.js';
import { PerIpLimits } from './perIpLimits.js';
import { COMPACTION } from './storeCompactor.js';
import { lockDataDir } from './dataDirLock.js';
import { storeFileBytes } from './sqliteRoomStore.js';

const here = dirname(fileURLToPath(import.meta.url));

const main = async (): Promise<void> => {
  if (wantsHelp(process.argv.slice(2))) {
    process.stdout.write(configHelp());
    return;
  }
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`converge: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  for (const warning of config.warnings) log.warn('config', { warning });
  const perIpLimits = new PerIpLimits({
    maxConnections: config.maxConnectionsPerIp,
    maxUpgradesPerMinute: config.maxUpgradesPerIpPerMinute,
  });
  const metrics: RelayMetrics = new RelayMetrics({
    stats: (): RelayStats => relay.stats(),
    trackedAddresses: () => perIpLimits.size,
    roomsStored: () => (store ? store.roomCount() : Promise.resolve(0)),
    ...(config.redisUrl ? {} : { storeBytes: () => storeFileBytes(config.dataDir) }),
  });
  // Scale-out mode (REDIS_URL): Redis is the store, the backplane and the compaction lease.
  const scaleOut = config.redisUrl ? await openScaleOutStorage(config, log, metrics) : null;
  // Embedded: the SQLite store and the compaction merges run in a worker thread, so the event
  // loop never waits on the disk. Scale-out: a worker for the merges only (STORE-4).
  // Both are supervised (STORE-5): a thread that dies is restarted, logged and counted; one
  // that stops answering is terminated and restarted (STORE-6).
  const supervision = { log, metrics, callTimeoutMs: config.storeCallTimeoutMs };
  // STORE-8: a second relay on this directory stops here, saying why. Held until the process
  // ends (kept referenced: a collected handle would close and drop the lock).
  const dataDirLock = scaleOut ? null : lockDataDir(config.dataDir);
  const worker = scaleOut
    ? null
    : await WorkerRoomStore.openDataDir(
        config.dataDir,
        config.maxDbBytes === 0 ? {} : { maxBytes: config.maxDbBytes },
        supervision,
      );
  const store: RoomStore | null = scaleOut?.store ?? worker;
  if (!store) throw new Error('no store');
  const merger = worker ?? (await WorkerRoomStore.openMergeOnly(supervision));
  const relay = new Relay({
    backplane: scaleOut?.backplane,
    storeCompaction: scaleOut?.storeCompaction,
    metrics,
    store,
    merger,
    limits: config.limits,
    commitDelayMs: config.commitDelayMs,
    idleUnloadMs: config.idleUnloadMs,
    compaction: COMPACTION,
    bufferBudgetCheckMs: 250,
    log,
  });
  const server = createRelayServer({
    relay,
    log,
    maxFrameBytes: config.limits.maxFrameBytes,
    maxConnections: config.limits.maxConnections,
    staticDir: join(here, '..', 'dist'),
    metrics,
    metricsToken: config.metricsToken,
    backplane: scaleOut?.backplane,
    redisConnections: scaleOut?.connections,
    redisDurability: scaleOut?.durability,
    storeWorker: merger,
    relayUrls: config.relayUrls,
    publishedLimits: publishedLimits(config.limits),
    perIpLimits,
    sharedPerIpLimits: scaleOut?.addressLimiter ?? undefined,
    trustProxy: config.trustProxy,
  });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
    process.stdout.write(
      `Converge relay listening on http://${shownHost}:${port} (${scaleOut ? `rooms in Redis, prefix ${config.redisPrefix}` : `data in ${resolve(config.dataDir)}`})\n`,
    );
  });
  server.on('error', (err) => {
    log.error('listen-failed', { error: String(err) });
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutdown', { signal });
    server.close();
    relay
      .shutdown()
      // REDIS-11: this relay's connections stop counting at once, not three heartbeats later.
      .then(() => scaleOut?.addressLimiter?.close())
      .then(() => {
        server.closeAllConnections();
        dataDirLock?.release();
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error('shutdown-failed', { error: String(err) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
};

main().catch((err: unknown) => {
  // Startup failures (Redis unreachable, REDIS-2 durability refused, STORE-8 data directory in use): one line, exit 1.
  process.stderr.write(`converge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
