/**
 * The set-ups the AddressLimiter contract suite runs against (relay/addressLimiter.contract.ts):
 * relays in one process on one `InProcessAddressLimits`, or relays' `RedisAddressLimiter`s on one
 * real redis-server or a real Redis Cluster, renewing every 200 ms.
 */
import type { AddressLimiterHarness } from '../addressLimiter.contract.js';
import { InProcessAddressLimits, type AddressLimits } from '../addressLimiter.js';
import { RedisAddressLimiter } from '../redisAddressLimiter.js';

export const HEARTBEAT_MS = 200;
/**
 * How long an upgrade waits for Redis before it is let through uncounted (REDIS-11's fail-open;
 * by default one heartbeat). The contract is about counting, so Redis gets far longer than it
 * needs: under a full test run on two cores a 200 ms wait once ran out and admitted an address
 * that was full. The fail-open itself is tested with a stalled Redis (addressLimiter.test.ts).
 */
const ADMIT_TIMEOUT_MS = 5_000;

export const inProcessLimiterHarness = (limits: AddressLimits): AddressLimiterHarness => {
  const shared = new InProcessAddressLimits(limits);
  return {
    heartbeatMs: HEARTBEAT_MS,
    relay: () => Promise.resolve(shared.connect()),
    // In one process a relay's count dies with it: what it held is free at once.
    kill: (limiter) => limiter.close(),
    cleanup: () => Promise.resolve(),
  };
};

/** `release`: what cleanup does with the Redis (stop it, or leave a shared cluster running). */
export const redisLimiterHarness = (
  url: string,
  cluster: boolean,
  limits: AddressLimits,
  release: () => Promise<void>,
): AddressLimiterHarness => {
  const limiters: RedisAddressLimiter[] = [];
  return {
    heartbeatMs: HEARTBEAT_MS,
    relay: async () => {
      const relayId = `relay-${limiters.length}`;
      const limiter = await RedisAddressLimiter.connect({
        url,
        cluster,
        relayId,
        heartbeatMs: HEARTBEAT_MS,
        timeoutMs: ADMIT_TIMEOUT_MS,
        ...limits,
      });
      limiters.push(limiter);
      return limiter;
    },
    kill: (limiter) => (limiter as RedisAddressLimiter).crash(),
    cleanup: async () => {
      for (const l of limiters) await l.crash();
      await release();
    },
  };
};
