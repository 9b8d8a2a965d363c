/**
 * REDIS-11 on real relay processes: two relays on one real Redis count CLOSE-7's websockets and
 * upgrade attempts per client address together, so a load balancer spreading one address over
 * them gives it MAX_CONNECTIONS_PER_IP and MAX_UPGRADES_PER_IP_PER_MINUTE in all, not per relay.
 *
 * As in relay/integration/perIpLimits.test.ts, the clients connect from 127.0.0.1 and TRUST_PROXY
 * is READER (127.0.0.2), so 127.0.0.1 is counted like any address (and no header from it is
 * believed); `/healthz` is read from READER.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { UpgradeRefusal } from '../../shared/protocol.js';
import { connectRedis } from '../redisConnection.js';
import { startScaleOut, type ScaleOut } from '../testing/scaleOut.js';
import { healthz, waitFor } from './clients.js';

const READER = '127.0.0.2';
/**
 * The relays' environment where 127.0.0.1 is counted. A 1 s heartbeat rather than the test bed's
 * 200 ms: an upgrade waits for Redis at most one heartbeat and is then let through uncounted
 * (fail-open, REDIS-11), and under a full test run on two cores Redis once took longer than 200 ms,
 * so an attempt these tests expect refused was admitted. A killed relay's slots then come free
 * within 3 s.
 */
const COUNTED = { TRUST_PROXY: READER, REDIS_HEARTBEAT_MS: '1000' };

let bed: ScaleOut | undefined;
const sockets: WebSocket[] = [];
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && bed)
    for (const r of bed.relays) if (r) console.error(`--- relay :${r.port}\n${r.stderr().slice(-6000)}`);
  for (const ws of sockets.splice(0)) ws.terminate();
  await bed?.cleanup();
  bed = undefined;
});

type Refusal = { readonly status: number; readonly body: string };

/** One upgrade attempt: the open socket (closed by the test or afterEach), or the refusal. */
const attempt = (url: string): Promise<WebSocket | Refusal> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      sockets.push(ws);
      resolve(ws);
    });
    ws.on('error', reject);
  });

const open = async (url: string): Promise<WebSocket> => {
  const result = await attempt(url);
  if (result instanceof WebSocket) return result;
  throw new Error(`refused: ${result.status} ${result.body}`);
};

const refusalOf = (r: { status: number; reason: string }): Refusal => ({ status: r.status, body: r.reason });
const TOO_MANY_CONNECTIONS = refusalOf(UpgradeRefusal.TooManyConnectionsPerIp);
const TOO_MANY_UPGRADES = refusalOf(UpgradeRefusal.TooManyUpgradesPerIp);

/** Attempts at `url` until one opens (a refused attempt holds nothing; attempts are not limited). */
const openWhenFree = async (url: string, what: string): Promise<WebSocket> => {
  let ws: WebSocket | undefined;
  await waitFor(async () => {
    const result = await attempt(url);
    if (result instanceof WebSocket) ws = result;
    else expect(result).toEqual(TOO_MANY_CONNECTIONS);
    return ws !== undefined;
  }, what);
  return ws!;
};

describe('scale-out: per-IP limits across relays (REDIS-11)', () => {
  it('REDIS-11: MAX_CONNECTIONS_PER_IP holds across two relays: the (N+1)th is refused on either, a close admits one, a killed relay’s slots come free', async () => {
    bed = await startScaleOut({
      relays: 2,
      env: { MAX_CONNECTIONS_PER_IP: '3', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', ...COUNTED },
    });
    const [zero, one] = bed.wsUrls().map((u) => `${u}/shared-count`) as [string, string];
    await open(zero);
    const onOne = [await open(one), await open(one)];
    expect(await attempt(zero)).toEqual(TOO_MANY_CONNECTIONS);
    expect(await attempt(one)).toEqual(TOO_MANY_CONNECTIONS);

    // One closes at relay 1: relay 0 admits one more, and the address is full again.
    onOne[0]!.close();
    await openWhenFree(zero, 'a slot freed by the close at the other relay');
    expect(await attempt(one)).toEqual(TOO_MANY_CONNECTIONS);
    expect(await attempt(zero)).toEqual(TOO_MANY_CONNECTIONS);

    // Relay 0 (two of the three) dies without a goodbye: its slots come free within its heartbeats.
    await bed.killRelay(0);
    await openWhenFree(one, 'the first slot of the killed relay');
    await openWhenFree(one, 'the second slot of the killed relay');
    expect(await attempt(one)).toEqual(TOO_MANY_CONNECTIONS);
    expect((await healthz(bed.relays[1]!, READER)).body.connections).toBe(3);
  });

  it('REDIS-11: MAX_UPGRADES_PER_IP_PER_MINUTE holds across two relays, and a relay restarted with a fresh count of its own still refuses', async () => {
    // Two a minute: the next is refilled 30 s after the first, longer than this test takes.
    bed = await startScaleOut({
      relays: 2,
      env: { MAX_CONNECTIONS_PER_IP: '0', MAX_UPGRADES_PER_IP_PER_MINUTE: '2', ...COUNTED },
    });
    const [zero, one] = bed.wsUrls().map((u) => `${u}/shared-budget`) as [string, string];
    await open(zero);
    await open(one);
    expect(await attempt(zero)).toEqual(TOO_MANY_UPGRADES);
    expect(await attempt(one)).toEqual(TOO_MANY_UPGRADES);
    await bed.killRelay(0);
    await bed.restartRelay(0);
    expect(await attempt(zero)).toEqual(TOO_MANY_UPGRADES);
  });

  it('REDIS-11: without TRUST_PROXY loopback clients are not counted, on any relay, and cost no Redis call', async () => {
    bed = await startScaleOut({ relays: 2, env: { MAX_CONNECTIONS_PER_IP: '1', MAX_UPGRADES_PER_IP_PER_MINUTE: '1' } });
    const [zero, one] = bed.wsUrls().map((u) => `${u}/loopback`) as [string, string];
    for (const url of [zero, zero, one, one]) await open(url);
    const admin = await connectRedis(bed.redis.url, 'converge-test-admin', false);
    try {
      expect(await admin.keys('*{a:*')).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });

  it('REDIS-11: with Redis down a counted address gets the same 503 as any, and gets in once Redis is back', async () => {
    bed = await startScaleOut({
      relays: 2,
      env: { MAX_CONNECTIONS_PER_IP: '2', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', ...COUNTED },
    });
    const [zero, one] = bed.wsUrls().map((u) => `${u}/redis-down`) as [string, string];
    await open(one);
    await bed.redis.kill();
    await waitFor(async () => (await healthz(bed!.relays[0]!, READER)).body.backplane === 'down', 'relay 0 down');
    expect(await attempt(zero)).toEqual(refusalOf(UpgradeRefusal.StorageUnavailable));
    await bed.redis.restart();
    // Relay 1 closed its socket when Redis went away (REDIS-5); the release it could not send is
    // a slot with no renewal, free within three heartbeats.
    // A relay's Redis connections come back one by one; /healthz says up only once all of them
    // are (HEALTH-1), so from then on no upgrade fails its room's load.
    for (const [i, relay] of bed.relays.entries()) {
      await waitFor(async () => (await healthz(relay!, READER)).body.backplane === 'up', `relay ${i} up`);
    }
    await open(zero);
    await openWhenFree(one, 'the slot whose release was lost with Redis');
    expect(await attempt(zero)).toEqual(TOO_MANY_CONNECTIONS);
  });
});
