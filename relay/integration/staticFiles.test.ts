/**
 * How the relay serves the built client (relay/server.ts), with a small stand-in for dist/: files
 * that exist, the app shell for client-side routes, and a 404 for a file that is not there (an old
 * build's hashed asset must not come back as the app's HTML, which a script tag or a service
 * worker would take for JavaScript).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { silentLogger } from '../log.js';
import { MemoryRoomStore } from '../memoryRoomStore.js';
import { Relay } from '../relay.js';
import { createRelayServer } from '../server.js';

const INDEX = '<!doctype html><title>app shell</title>';
let site: string;
let server: Server;
let relay: Relay;
let url: string;

beforeAll(async () => {
  site = mkdtempSync(join(tmpdir(), 'converge-static-'));
  writeFileSync(join(site, 'index.html'), INDEX);
  writeFileSync(join(site, 'sw.js'), 'self.x = 1;');
  mkdirSync(join(site, 'assets'));
  writeFileSync(join(site, 'assets', 'index-NEW.js'), 'export {};');
  const config = loadConfig({}, []);
  relay = new Relay({
    store: new MemoryRoomStore(),
    limits: config.limits,
    commitDelayMs: config.commitDelayMs,
    idleUnloadMs: config.idleUnloadMs,
    compaction: { minLogEntries: 256, targetBytes: 128 * 1024 },
    log: silentLogger,
  });
  server = createRelayServer({ relay, log: silentLogger, maxFrameBytes: config.limits.maxFrameBytes, staticDir: site });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await relay.shutdown();
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
    'answers a missing file %s with 404, not the app shell',
    async (path) => {
      const res = await fetch(url + path);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('not found');
    },
  );
});
