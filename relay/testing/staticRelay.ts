/**
 * A relay in this process (memory store, silent; limits, per-address limits and trusted proxies
 * from `env` as the relay's own configuration reads them, defaults otherwise) whose HTTP server
 * serves `staticDir` on a free loopback port: for tests and benchmarks of how the built client is
 * served (STATIC-1, UPD-*, DEPLOY-1), where a relay process of its own would add nothing but
 * start-up time.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../config.js';
import { silentLogger } from '../log.js';
import { MemoryRoomStore } from '../memoryRoomStore.js';
import { PerIpLimits } from '../perIpLimits.js';
import { Relay } from '../relay.js';
import { createRelayServer } from '../server.js';

export interface StaticRelay {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly server: Server;
  readonly close: () => Promise<void>;
}

export const startStaticRelay = async (staticDir: string, env: Record<string, string> = {}): Promise<StaticRelay> => {
  const config = loadConfig(env, []);
  const relay = new Relay({
    store: new MemoryRoomStore(),
    limits: config.limits,
    commitDelayMs: config.commitDelayMs,
    idleUnloadMs: config.idleUnloadMs,
    compaction: { minLogEntries: 256, targetBytes: 128 * 1024 },
    log: silentLogger,
  });
  const server = createRelayServer({
    relay,
    log: silentLogger,
    maxFrameBytes: config.limits.maxFrameBytes,
    staticDir,
    perIpLimits: new PerIpLimits({
      maxConnections: config.maxConnectionsPerIp,
      maxUpgradesPerMinute: config.maxUpgradesPerIpPerMinute,
    }),
    trustProxy: config.trustProxy,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await relay.shutdown();
    },
  };
};
