/**
 * Scale-out test bed: one real redis-server (or a real Redis Cluster) and N real relay processes
 * (`relay/main.ts`) configured for it (`REDIS_URL`, fast heartbeats), each on its own port. Relays
 * can be killed with SIGKILL and restarted on the same port; Redis can be killed and restarted on
 * its AOF. For the multi-relay integration tests and the scale-out benchmark.
 */
import { rmSync } from 'node:fs';
import { startRelay, type RelayProcess } from './relayProcess.js';
import { startRedis, type RedisServer } from './redisServer.js';

/** What the bed needs of its Redis: a single server (the default) or a cluster. */
export interface ScaleOutRedis {
  readonly url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ScaleOut<R extends ScaleOutRedis = RedisServer> {
  readonly redis: R;
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

export interface ScaleOutOptions<R extends ScaleOutRedis = RedisServer> {
  readonly relays?: number;
  /** Starts the bed's Redis (default: one redis-server); the bed stops it in cleanup. */
  readonly redis?: () => Promise<R>;
  /** More environment for every relay. */
  readonly env?: Record<string, string>;
}

export const startScaleOut = async <R extends ScaleOutRedis = RedisServer>(
  opts: ScaleOutOptions<R> = {},
): Promise<ScaleOut<R>> => {
  const redis = await (opts.redis ?? (startRedis as unknown as () => Promise<R>))();
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
