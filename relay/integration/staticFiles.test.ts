/**
 * How the relay serves the built client (relay/server.ts), with a small stand-in for dist/: files
 * that exist, the app shell for client-side routes, and a 404 for a file that is not there (an old
 * build's hashed asset must not come back as the app's HTML, which a script tag or a service
 * worker would take for JavaScript).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticRelay, type StaticRelay } from '../testing/staticRelay.js';

const INDEX = '<!doctype html><title>app shell</title>';
const BIG = Array.from({ length: 2000 }, (_, i) => `export const v${i} = ${i};`).join('\n');

/** A GET with exactly these headers (fetch adds its own Accept-Encoding and decompresses). */
const get = (
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
  new Promise((resolve, reject) => {
    const req = request(url + path, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
let site: string;
let relay: StaticRelay;
let url: string;

beforeAll(async () => {
  site = mkdtempSync(join(tmpdir(), 'converge-static-'));
  writeFileSync(join(site, 'index.html'), INDEX);
  writeFileSync(join(site, 'sw.js'), 'self.x = 1;');
  mkdirSync(join(site, 'assets'));
  writeFileSync(join(site, 'assets', 'index-NEW.js'), 'export {};');
  writeFileSync(join(site, 'assets', 'big-NEW.js'), BIG);
  relay = await startStaticRelay(site);
  url = relay.url;
});

afterAll(async () => {
  await relay.close();
  rmSync(site, { recursive: true, force: true });
});

describe('static files', () => {
  it.each(['/', '/r/some-room', '/r/room.with.dots', '/lab/some-room', '/no/such/page'])(
    'answers the client-side route %s with the app shell',
    async (path) => {
      const res = await fetch(url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(await res.text()).toBe(INDEX);
    },
  );

  it('serves files that exist, hashed assets as immutable', async () => {
    const asset = await fetch(url + '/assets/index-NEW.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const sw = await fetch(url + '/sw.js');
    expect(sw.status).toBe(200);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
  });

  it.each(['/assets/index-OLD.js', '/assets/nested/x.css', '/favicon.ico', '/workbox-0ld.js'])(
    'UPD-3: answers a missing file %s with 404, not the app shell',
    async (path) => {
      const res = await fetch(url + path);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('not found');
    },
  );

  it('STATIC-1: a file is answered 304 while its ETag is current, and in full once it changed', async () => {
    const first = await get('/sw.js');
    expect(first.status).toBe(200);
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await get('/sw.js', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(etag);
    expect(again.headers['cache-control']).toBe('no-cache');
    // The app shell on a route is the index file: it has a validator too.
    const shell = await get('/r/some-room');
    expect((await get('/r/other-room', { 'if-none-match': shell.headers.etag! })).status).toBe(304);
    // A new build: another size, so another version.
    writeFileSync(join(site, 'sw.js'), 'self.x = 2; // rebuilt');
    const changed = await get('/sw.js', { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.toString()).toBe('self.x = 2; // rebuilt');
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('STATIC-1: text files go as Brotli or gzip when accepted, each with its own ETag; small ones as they are', async () => {
    const raw = readFileSync(join(site, 'assets', 'big-NEW.js'));
    const br = await get('/assets/big-NEW.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.headers['cache-control']).toContain('immutable');
    expect(br.body.length).toBeLessThan(raw.length / 3);
    expect(brotliDecompressSync(br.body).equals(raw)).toBe(true);
    const gz = await get('/assets/big-NEW.js', { 'accept-encoding': 'br;q=0, gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(raw)).toBe(true);
    const plain = await get('/assets/big-NEW.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(plain.body.equals(raw)).toBe(true);
    expect(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size).toBe(3);
    // A Brotli ETag revalidates the Brotli copy only.
    expect(
      (await get('/assets/big-NEW.js', { 'accept-encoding': 'br', 'if-none-match': br.headers.etag! })).status,
    ).toBe(304);
    expect((await get('/assets/big-NEW.js', { 'if-none-match': br.headers.etag! })).status).toBe(200);
    // Under a kilobyte: sent as it is, whatever the browser accepts.
    const small = await get('/sw.js', { 'accept-encoding': 'br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.headers.vary).toBeUndefined();
    // HEAD: the same headers, no body.
    const head = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const req = request(
        url + '/assets/big-NEW.js',
        { method: 'HEAD', headers: { 'accept-encoding': 'br' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(head.etag).toBe(br.headers.etag);
    expect(head['content-encoding']).toBe('br');
  });
});
