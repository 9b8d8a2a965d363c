/**
 * Scale-out test bed: one real redis-server and N real relay processes (`relay/main.ts`)
 * configured for it (`REDIS_URL`, fast heartbeats), each on its own port. Relays can be killed
 * with SIGKILL and restarted on the same port; Redis can be killed and restarted on its AOF.
 * For the multi-relay integration tests and the scale-out benchmark.
 */
import { rmSync } from 'node:fs';
import { startRelay, type RelayProcess } from './relayProcess.js';
import { startRedis, type RedisServer } from './redisServer.js';

export interface ScaleOut {
  readonly redis: RedisServer;
  /** The relay processes by index; null while killed. */
  readonly relays: ReadonlyArray<RelayProcess | null>;
  /** ws://127.0.0.1:PORT/sync of every relay slot (stable across restarts). */
  wsUrls(): string[];
  /** SIGKILL relay `i`: no flush, no goodbye (its presence must be reaped by the others). */
  killRelay(i: number): Promise<void>;
  /** Starts relay `i` again on its port. */
  restartRelay(i: number): Promise<RelayProcess>;
  cleanup(): Promise<void>;
}

export interface ScaleOutOptions {
  readonly relays?: number;
  /** More environment for every relay. */
  readonly env?: Record<string, string>;
}

export const startScaleOut = async (opts: ScaleOutOptions = {}): Promise<ScaleOut> => {
  const redis = await startRedis();
  const env = (): Record<string, string> => ({ REDIS_URL: redis.url, REDIS_HEARTBEAT_MS: '200', ...opts.env });
  const relays: (RelayProcess | null)[] = [];
  const ports: number[] = [];
  const dataDirs: string[] = [];
  try {
    for (let i = 0; i < (opts.relays ?? 3); i++) {
      const relay = await startRelay({ env: env() });
      relays.push(relay);
      ports.push(relay.port);
      dataDirs.push(relay.dataDir);
    }
  } catch (err) {
    for (const r of relays) await r?.cleanup();
    await redis.cleanup();
    throw err;
  }
  return {
    redis,
    relays,
    wsUrls: () => ports.map((port) => `ws://127.0.0.1:${port}/sync`),
    killRelay: async (i) => {
      await relays[i]?.kill();
      relays[i] = null;
    },
    restartRelay: async (i) => {
      if (relays[i]) throw new Error(`relay ${i} is running`);
      const relay = await startRelay({ port: ports[i]!, dataDir: dataDirs[i]!, env: env() });
      relays[i] = relay;
      return relay;
    },
    cleanup: async () => {
      for (const [i, r] of relays.entries()) {
        if (r) await r.cleanup();
        else rmSync(dataDirs[i]!, { recursive: true, force: true });
      }
      await redis.cleanup();
    },
  };
};
