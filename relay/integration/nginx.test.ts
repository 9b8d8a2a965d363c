/**
 * DEPLOY-1: the reverse proxy the README documents (docs/deploy/nginx.conf) run as it is in a real
 * nginx with TLS, in front of a relay that trusts it (`TRUST_PROXY=127.0.0.1`, as the file says):
 * the plain-HTTP server redirects; the app's files keep their validators and encodings (STATIC-1);
 * stock y-websocket clients sync over wss:// and get their acks, big frames included; and each
 * client's own address reaches CLOSE-7's per-address limit, not nginx's.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_PATH, UpgradeRefusal } from '../../shared/protocol.js';
import { startNginxProxy, type NginxProxy } from '../testing/nginxProxy.js';
import { startStaticRelay, type StaticRelay } from '../testing/staticRelay.js';
import { Harness, synced, waitFor } from './clients.js';

const INDEX = '<!doctype html><title>app shell</title>';
const SCRIPT = Array.from({ length: 2000 }, (_, i) => `export const v${i} = ${i};`).join('\n');
/** Client addresses on loopback other than nginx's own (127.0.0.1, which the relay trusts). */
const ADA = '127.0.0.3';
const BOB = '127.0.0.4';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

let site: string;
let relay: StaticRelay;
let proxy: NginxProxy;
const h = new Harness();

/** A GET with exactly these headers, over the proxy's TLS (or plain HTTP for `http://`). */
const get = (url: string, headers: Record<string, string> = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const done = (res: import('node:http').IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    const req = url.startsWith('https:')
      ? httpsRequest(url, { headers, ca: proxy.ca }, done)
      : request(url, { headers }, done);
    req.on('error', reject);
    req.end();
  });

/** The websocket class a stock provider uses to reach the proxy from `from`, trusting its certificate. */
const socketFrom = (from: string): new (url: string, protocols?: string | string[]) => WebSocket =>
  class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { ca: proxy.ca, localAddress: from });
    }
  };

/** Opens a websocket to `room` through the proxy from `from`; resolves with the refusal, or null once it opened. */
const upgrade = (room: string, from: string): Promise<{ status: number; body: string } | null> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl()}/${room}`, { ca: proxy.ca, localAddress: from });
    ws.on('open', () => {
      ws.close();
      resolve(null);
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    ws.on('error', reject);
  });

const wsUrl = (): string => proxy.httpsUrl.replace(/^https:/, 'wss:') + SYNC_PATH;

beforeAll(async () => {
  site = mkdtempSync(join(tmpdir(), 'converge-nginx-site-'));
  writeFileSync(join(site, 'index.html'), INDEX);
  mkdirSync(join(site, 'assets'));
  writeFileSync(join(site, 'assets', 'index-ABC.js'), SCRIPT);
  relay = await startStaticRelay(site, {
    TRUST_PROXY: '127.0.0.1',
    MAX_CONNECTIONS_PER_IP: '2',
    MAX_UPGRADES_PER_IP_PER_MINUTE: '0',
  });
  proxy = await startNginxProxy(Number(new URL(relay.url).port));
});

afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

afterAll(async () => {
  await proxy?.stop();
  await relay?.close();
  rmSync(site, { recursive: true, force: true });
});

describe('DEPLOY-1: the documented nginx configuration', () => {
  it('DEPLOY-1: plain HTTP is redirected to HTTPS', async () => {
    const res = await get(`${proxy.httpUrl}/r/some-room`);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('https://127.0.0.1/r/some-room');
  });

  it("DEPLOY-1: the app's files come over TLS with the relay's validators and compression", async () => {
    const page = await get(`${proxy.httpsUrl}/r/some-room`);
    expect(page.status).toBe(200);
    expect(page.body.toString()).toBe(INDEX);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000');
    const direct = await fetch(`${relay.url}/assets/index-ABC.js`, { headers: { 'Accept-Encoding': 'br' } });
    const script = await get(`${proxy.httpsUrl}/assets/index-ABC.js`, { 'Accept-Encoding': 'br' });
    expect(script.status).toBe(200);
    expect(script.headers['content-encoding']).toBe('br');
    expect(script.headers.etag).toBe(direct.headers.get('etag'));
    expect(brotliDecompressSync(script.body).toString()).toBe(SCRIPT);
    // A re-check naming the current version costs no body.
    const again = await get(`${proxy.httpsUrl}/assets/index-ABC.js`, {
      'Accept-Encoding': 'br',
      'If-None-Match': script.headers.etag!,
    });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('DEPLOY-1: stock clients sync over wss:// and get their acks, a frame of most of a MiB included', async () => {
    const ada = h.client(wsUrl(), 'through-nginx', { webSocket: socketFrom(ADA) });
    const bob = h.client(wsUrl(), 'through-nginx', { webSocket: socketFrom(BOB) });
    await synced(ada);
    await synced(bob);
    ada.doc.getText('text').insert(0, 'hello through nginx');
    await waitFor(() => bob.text() === 'hello through nginx', 'Bob has Ada’s edit');
    await waitFor(() => ada.allOwnEditsAcked(), 'Ada’s edit acked');
    const big = 'x'.repeat(900 * 1024);
    bob.doc.getText('text').insert(0, big);
    await waitFor(() => ada.text().length === big.length + 'hello through nginx'.length, 'Ada has Bob’s big edit');
    await waitFor(() => bob.allOwnEditsAcked(), 'Bob’s big edit acked');
  });

  it("DEPLOY-1: CLOSE-7 counts each client's own address, from nginx's X-Forwarded-For", async () => {
    // MAX_CONNECTIONS_PER_IP is 2: Ada's third socket is refused with the reason, Bob (another
    // address behind the same nginx) still gets in. Without the header, all of them would share
    // nginx's address, which the relay trusts and does not count.
    const first = h.client(wsUrl(), 'per-address', { webSocket: socketFrom(ADA) });
    const second = h.client(wsUrl(), 'per-address', { webSocket: socketFrom(ADA) });
    await synced(first);
    await synced(second);
    expect(await upgrade('per-address', ADA)).toEqual({
      status: UpgradeRefusal.TooManyConnectionsPerIp.status,
      body: UpgradeRefusal.TooManyConnectionsPerIp.reason,
    });
    expect(await upgrade('per-address', BOB)).toBeNull();
  });
});
