/**
 * CLOSE-7 on real relay processes: websockets and upgrade attempts per client address, the
 * address from a trusted proxy's `X-Forwarded-For`, and bookkeeping that shrinks back as
 * connections close (`converge_tracked_addresses`).
 *
 * The tests connect from 127.0.0.1, which is not counted while TRUST_PROXY is empty; where they
 * need it counted, they set TRUST_PROXY to READER (127.0.0.2), the address they read `/metrics`
 * and `/healthz` from: the relay then counts 127.0.0.1 like any address and believes no header
 * from it, and the reader's own sockets (a trusted proxy's) are not counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UpgradeRefusal } from '../../shared/protocol.js';
import { SOCKET_HEADROOM_PER_IP } from '../perIpLimits.js';
import { startRelay } from '../testing/relayProcess.js';
import { Harness, healthz, metric, refusal, synced, waitFor, type RawClient } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

const expectedRefusal = (r: { status: number; reason: string }): { status: number; body: string } => ({
  status: r.status,
  body: r.reason,
});
const refused = (reason: string): string => `converge_upgrades_refused_total{reason="${reason}"}`;
const TRACKED = 'converge_tracked_addresses';
const READER = '127.0.0.2';

/**
 * Raw sockets to `url` from the local address `from` (default 127.0.0.1), each with
 * `X-Forwarded-For: forwardedFor` (none when undefined); resolves once all opened.
 */
const openAll = async (url: string, n: number, forwardedFor?: string, from?: string): Promise<RawClient[]> => {
  const raws = Array.from({ length: n }, () =>
    h.raw(url, forwardedFor === undefined ? undefined : { 'X-Forwarded-For': forwardedFor }, from),
  );
  await Promise.all(raws.map((r) => r.opened));
  return raws;
};

describe('per-IP limits (CLOSE-7)', () => {
  it('CLOSE-7: the (N+1)th websocket from one address is refused with 429 and a reason, the first N keep working, and a close admits a new one', async () => {
    const relay = await h.relay({
      env: { MAX_CONNECTIONS_PER_IP: '3', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', TRUST_PROXY: READER },
    });
    const clients = [0, 1, 2].map(() => h.client(relay.wsUrl, 'per-ip'));
    for (const c of clients) await synced(c);
    expect(await refusal(relay.wsUrl + '/per-ip')).toEqual(expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp));
    // Refused before the room is looked at, and a header from a peer that is no trusted proxy is ignored.
    expect(await refusal(relay.wsUrl + '/another-room', { 'X-Forwarded-For': '198.51.100.7' })).toEqual(
      expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp),
    );
    expect(await metric(relay, refused('too-many-connections-per-ip'), READER)).toBe(2);
    expect(await metric(relay, TRACKED, READER)).toBe(1);

    // The admitted ones are untouched: an edit reaches the others and is acked.
    const [a, b, c] = clients as [(typeof clients)[0], (typeof clients)[0], (typeof clients)[0]];
    a.doc.getText('text').insert(0, 'still here');
    await waitFor(() => a.allOwnEditsAcked() && b.text() === 'still here' && c.text() === 'still here', 'delivered');
    expect(clients.every((x) => x.closes.length === 0)).toBe(true);

    // One closes: its count is released and the next upgrade from the address gets in.
    a.destroy();
    await waitFor(async () => (await healthz(relay, READER)).body.connections === 2, 'the close seen');
    const d = h.client(relay.wsUrl, 'per-ip');
    await synced(d);
    expect(d.text()).toBe('still here');
    expect(await refusal(relay.wsUrl + '/per-ip')).toEqual(expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp));

    // All closed: the address's entry is gone.
    for (const x of [b, c, d]) x.destroy();
    await waitFor(async () => (await metric(relay, TRACKED, READER)) === 0, 'no address tracked');
  });

  it('CLOSE-7: refused and failed upgrades give their place back', async () => {
    const relay = await h.relay({
      env: { MAX_CONNECTIONS_PER_IP: '2', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', TRUST_PROXY: READER },
    });
    // Each is counted on arrival and refused later (bad path, bad room name, or by ws for a
    // handshake without Sec-WebSocket-Key after the relay admitted it): none may keep its place.
    const keyless = (): Promise<number | undefined> =>
      new Promise((resolve, reject) => {
        const headers = { Connection: 'Upgrade', Upgrade: 'websocket' };
        const req = request(`${relay.url}/sync/keyless`, { headers });
        req.on('response', (res) => resolve(res.statusCode));
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < 3; i++) {
      expect((await refusal(`${relay.url.replace('http', 'ws')}/elsewhere`)).status).toBe(404);
      expect((await refusal(`${relay.wsUrl}/.hidden`)).status).toBe(400);
      expect(await keyless()).toBe(400);
    }
    const raws = await openAll(relay.wsUrl + '/room', 2);
    expect(await refusal(relay.wsUrl + '/room')).toEqual(expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp));
    for (const r of raws) r.ws.close();
    await waitFor(async () => (await metric(relay, TRACKED, READER)) === 0, 'no address tracked');
    await openAll(relay.wsUrl + '/room', 2);
  });

  it('CLOSE-7: without TRUST_PROXY, loopback clients are not counted and X-Forwarded-For is ignored', async () => {
    const relay = await h.relay({ env: { MAX_CONNECTIONS_PER_IP: '2', MAX_UPGRADES_PER_IP_PER_MINUTE: '1' } });
    // Were the header believed, the third would be refused (and the second by the attempt limit).
    await openAll(relay.wsUrl + '/loopback', 4, '198.51.100.7');
    await openAll(relay.wsUrl + '/loopback', 2);
    expect((await healthz(relay, READER)).body.connections).toBe(6);
    expect(await metric(relay, TRACKED, READER)).toBe(0);
  });

  it('CLOSE-7: behind a trusted proxy, each address of X-Forwarded-For (its last hop) is counted apart', async () => {
    const relay = await h.relay({
      env: { MAX_CONNECTIONS_PER_IP: '2', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', TRUST_PROXY: `127.0.0.1,${READER}` },
    });
    const url = relay.wsUrl + '/proxied';
    const one = await openAll(url, 2, '198.51.100.1');
    // Earlier hops are whatever the client sent; the last one is what the proxy saw.
    expect(await refusal(url, { 'X-Forwarded-For': '203.0.113.5, 198.51.100.1' })).toEqual(
      expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp),
    );
    const two = await openAll(url, 2, '203.0.113.5, 198.51.100.2');
    // An IPv6 client counts as its /64.
    const v6 = [...(await openAll(url, 1, '2001:db8:1:2::1')), ...(await openAll(url, 1, '2001:db8:1:2::2'))];
    expect(await refusal(url, { 'X-Forwarded-For': '2001:db8:1:2:ffff::3' })).toEqual(
      expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp),
    );
    // No header from the proxy: counted as the proxy.
    const bare = await openAll(url, 2);
    expect(await refusal(url)).toEqual(expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp));
    expect(await metric(relay, TRACKED, READER)).toBe(4);
    expect(await metric(relay, refused('too-many-connections-per-ip'), READER)).toBe(3);

    for (const r of one) r.ws.close();
    await waitFor(async () => (await metric(relay, TRACKED, READER)) === 3, 'the first address released');
    await openAll(url, 2, '198.51.100.1');
    for (const r of [...two, ...v6, ...bare]) r.ws.close();
    await waitFor(async () => (await metric(relay, TRACKED, READER)) === 1, 'only the first address still tracked');
  });

  it('CLOSE-7: TRUST_PROXY as a range: from any peer in it the last X-Forwarded-For hop is counted, from a neighbour outside it the header is ignored', async () => {
    // 127.0.0.0/29 is 127.0.0.0–127.0.0.7: READER and the proxies below are in it, 127.0.0.8 is not.
    const relay = await h.relay({
      env: { MAX_CONNECTIONS_PER_IP: '2', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', TRUST_PROXY: '127.0.0.0/29' },
    });
    const url = relay.wsUrl + '/ranged';
    const tooMany = expectedRefusal(UpgradeRefusal.TooManyConnectionsPerIp);
    // One client through two proxies of the range (127.0.0.7 is its last address): counted once, as itself.
    await openAll(url, 1, '198.51.100.1', READER);
    await openAll(url, 1, '203.0.113.5, 198.51.100.1', '127.0.0.7');
    expect(await refusal(url, { 'X-Forwarded-For': '198.51.100.1' }, READER)).toEqual(tooMany);
    // Another client through the same proxy is counted apart; the proxy itself is not counted.
    await openAll(url, 2, '198.51.100.2', READER);
    // Past the range, the header is the sender's word: the peer counts as itself, whatever it claims.
    await openAll(url, 1, '198.51.100.3', '127.0.0.8');
    await openAll(url, 1, '198.51.100.4', '127.0.0.8');
    expect(await refusal(url, { 'X-Forwarded-For': '198.51.100.5' }, '127.0.0.8')).toEqual(tooMany);
    expect(await metric(relay, refused('too-many-connections-per-ip'), READER)).toBe(2);
    // 198.51.100.1, 198.51.100.2 and 127.0.0.8: no proxy of the range.
    expect(await metric(relay, TRACKED, READER)).toBe(3);
  });

  it('CLOSE-7: a relay with a TRUST_PROXY entry it cannot read does not start, and says which entry', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'converge-relay-'));
    try {
      await expect(startRelay({ dataDir, env: { TRUST_PROXY: '127.0.0.0/8, 172.17.0.1/16' } })).rejects.toThrow(
        /exited with 2 before listening:\nconverge: TRUST_PROXY entry "172\.17\.0\.1\/16" has host bits set/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('CLOSE-7: an address makes at most MAX_UPGRADES_PER_IP_PER_MINUTE upgrade attempts; others are unaffected', async () => {
    // One attempt a minute: the refill takes as long as the test may run (vitest's 60 s), so it
    // cannot come in between.
    const relay = await h.relay({
      env: { MAX_CONNECTIONS_PER_IP: '0', MAX_UPGRADES_PER_IP_PER_MINUTE: '1', TRUST_PROXY: `127.0.0.1,${READER}` },
    });
    const url = relay.wsUrl + '/attempts';
    const [first] = await openAll(url, 1, '198.51.100.1');
    first!.ws.close();
    await waitFor(async () => (await healthz(relay, READER)).body.connections === 0, 'closed');
    // Reconnecting does not start afresh: the address used its attempt.
    expect(await refusal(url, { 'X-Forwarded-For': '198.51.100.1' })).toEqual(
      expectedRefusal(UpgradeRefusal.TooManyUpgradesPerIp),
    );
    await openAll(url, 1, '198.51.100.2');
    expect(await metric(relay, refused('too-many-upgrades-per-ip'), READER)).toBe(1);
    // Kept for a minute after their last attempt, connected or not.
    expect(await metric(relay, TRACKED, READER)).toBe(2);
  });

  it('CLOSE-7: one address holds at most MAX_CONNECTIONS_PER_IP + 32 TCP connections, upgraded or not; others still get in', async () => {
    const relay = await h.relay({
      env: { MAX_CONNECTIONS_PER_IP: '2', MAX_UPGRADES_PER_IP_PER_MINUTE: '0', TRUST_PROXY: READER },
    });
    const port = Number(new URL(relay.url).port);
    const open = (from: string): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
        s.once('error', reject);
      });
    const idle: Socket[] = [];
    try {
      // Silent sockets (CLOSE-6 would keep 2 + 256 of them): this address gets its share only.
      for (let i = 0; i < 2 + SOCKET_HEADROOM_PER_IP; i++) idle.push(await open('127.0.0.1'));
      const extra = await open('127.0.0.1');
      let closed = false;
      extra.on('error', () => undefined);
      extra.once('close', () => (closed = true));
      await waitFor(() => closed, 'the socket beyond the address’s share closed');
      expect(idle.filter((s) => s.destroyed || s.readableEnded)).toEqual([]);
      expect(await metric(relay, 'converge_sockets_refused_total', READER)).toBe(1);
      // Another address is not affected.
      const other = await open('127.0.0.3');
      idle.push(other);
      expect((await healthz(relay, '127.0.0.3')).status).toBe(200);
      // A socket gone makes room: a stock client from the address gets in.
      for (const s of idle.splice(0, 1)) s.destroy();
      await synced(h.client(relay.wsUrl, 'after-the-share'));
    } finally {
      for (const s of idle) s.destroy();
    }
    // Only the client's websocket is left: 127.0.0.1 is tracked, nothing else.
    await waitFor(async () => (await metric(relay, TRACKED, READER)) === 1, 'the sockets released');
  });
});
