/**
 * The relay's HTTP surface (CLOSE-3): /healthz, /config.json (NET-3, UP-2), the page at /, and
 * upgrades refused with an HTTP status and reason before any websocket exists.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import {
  ConnectionMode,
  MessageType,
  PROTOCOL_VERSION,
  UpgradeRefusal,
  encodeSyncUpdate,
  readPublishedLimits,
} from '../../shared/protocol.js';
import { Harness, frameKind, healthz, metric, refusal, synced, waitFor, type RawClient } from './clients.js';
import { HTTP_SOCKET_HEADROOM } from '../server.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

describe('HTTP', () => {
  it('NET-3, UP-2: GET /config.json lists RELAY_URLS ([] when unset) and the per-connection limits', async () => {
    const defaults = {
      maxBytesPerSecond: 2 * 1024 * 1024,
      byteBurst: 16 * 1024 * 1024,
      maxMessagesPerSecond: 200,
      messageBurst: 1000,
      maxFrameBytes: 8 * 1024 * 1024,
      maxClientsPerUpdate: 32_768,
      maxStructBytes: 1_048_512,
    };
    const plain = await h.relay();
    expect(await (await fetch(plain.url + '/config.json')).json()).toEqual({ relays: [], limits: defaults });
    const listed = await h.relay({
      env: { RELAY_URLS: 'ws://10.0.0.1:8787,wss://b.example.org', MAX_BYTES_PER_SEC: '100000', MSG_BURST: '50' },
    });
    const res = await fetch(listed.url + '/config.json');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { relays: unknown; limits: unknown };
    expect(body).toEqual({
      relays: ['ws://10.0.0.1:8787', 'wss://b.example.org'],
      limits: { ...defaults, maxBytesPerSecond: 100_000, messageBurst: 50 },
    });
    // What the client reads as valid limits (UP-2).
    expect(readPublishedLimits(body.limits)).toEqual(body.limits);
  });

  it('GET /healthz returns 200 JSON with roomsLoaded, connections, version and protocol', async () => {
    const relay = await h.relay();
    const res = await fetch(relay.url + '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      ok: true,
      roomsLoaded: 0,
      connections: 0,
      protocol: PROTOCOL_VERSION,
      backplane: 'off',
    });
    expect(body.version).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);

    const a = h.client(relay.wsUrl, 'health-room');
    await synced(a);
    await waitFor(async () => {
      const { body: b } = await healthz(relay);
      return b.connections === 1 && b.roomsLoaded === 1;
    });
    a.destroy();
    await waitFor(async () => (await healthz(relay)).body.connections === 0);
  });

  it('GET / returns a page; other methods are refused', async () => {
    const relay = await h.relay();
    const res = await fetch(relay.url + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/<html/i);
    expect((await fetch(relay.url + '/healthz', { method: 'POST' })).status).toBe(405);
  });

  it('SEC-1: pages carry a content security policy that allows only this origin and the RELAY_URLS relays, and no framing', async () => {
    const relay = await h.relay({ env: { RELAY_URLS: 'ws://10.0.0.1:8787,wss://b.example.org' } });
    // The built app's page, or the placeholder where dist/ is not built (e2e checks the app's routes).
    {
      const res = await fetch(relay.url + '/');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      const csp = res.headers.get('content-security-policy')!.split('; ');
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("connect-src 'self' ws://10.0.0.1:8787 wss://b.example.org");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
    }
  });

  it('SEC-3: with METRICS_TOKEN set, /metrics answers only its bearer, /healthz stays open, and the token is never logged', async () => {
    const token = 'metrics-reader-7f3a9c2e';
    const relay = await h.relay({ env: { METRICS_TOKEN: token, LOG_LEVEL: 'debug' } });
    const asked = async (authorization?: string): Promise<Response> =>
      fetch(relay.url + '/metrics', authorization ? { headers: { authorization } } : {});
    for (const wrong of [undefined, 'Bearer metrics-reader-7f3a9c2', `Bearer ${token}x`, `Basic ${token}`, token]) {
      const res = await asked(wrong);
      expect(res.status, String(wrong)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await res.text()).toBe('');
    }
    const res = await asked(`Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^converge_connections /m);
    expect((await fetch(relay.url + '/healthz')).status).toBe(200);
    expect(relay.stderr()).not.toContain(token);
    // Without the setting, /metrics is as public as the app (SEC-2).
    const open = await h.relay();
    expect((await fetch(open.url + '/metrics')).status).toBe(200);
  });

  it('a plain GET of the websocket endpoint is 426 Upgrade Required with what it is, not the app page', async () => {
    const relay = await h.relay();
    for (const path of ['/sync/some-room', '/sync']) {
      const res = await fetch(relay.url + path);
      expect(res.status).toBe(426);
      expect(res.headers.get('upgrade')).toBe('websocket');
      expect(await res.text()).toBe(
        'upgrade-required: /sync/<room> is the websocket endpoint; open the app at /r/<room>',
      );
    }
  });

  it('CLOSE-3: upgrades to a bad room name or a bad path are refused with an HTTP status and reason', async () => {
    const relay = await h.relay();
    const cases: Array<[path: string, expected: { status: number; reason: string }]> = [
      ['/sync/bad%20name', UpgradeRefusal.BadRoomName],
      ['/sync/', UpgradeRefusal.BadRoomName],
      ['/sync/.hidden', UpgradeRefusal.BadRoomName],
      ['/sync/a/b', UpgradeRefusal.BadRoomName],
      ['/sync/' + 'x'.repeat(129), UpgradeRefusal.BadRoomName],
      ['/other', UpgradeRefusal.BadPath],
      ['/sync', UpgradeRefusal.BadPath],
      ['/', UpgradeRefusal.BadPath],
    ];
    for (const [path, expected] of cases) {
      const r = await refusal(`ws://127.0.0.1:${relay.port}${path}`);
      expect({ path, ...r }).toEqual({ path, status: expected.status, body: expected.reason });
    }
    // Query parameters (the stock client's place for tokens) are not part of the room name.
    const ok = new WebSocket(`${relay.wsUrl}/${'x'.repeat(128)}?token=abc`);
    await new Promise<void>((resolve, reject) => {
      ok.on('open', () => resolve());
      ok.on('error', reject);
    });
    ok.terminate();
    expect((await healthz(relay)).status).toBe(200);
  });

  it('WATCH-2: a mode other than one mode=awareness is refused at the upgrade with 400 bad-mode; the stock client still opens with mode=awareness or none', async () => {
    const relay = await h.relay();
    for (const query of [
      'mode=full',
      'mode=',
      'mode=Awareness',
      'mode=awareness&mode=awareness',
      'mode=awareness&mode=full',
      'token=abc&mode=sync',
    ]) {
      const r = await refusal(`${relay.wsUrl}/watch-2?${query}`);
      expect({ query, ...r }).toEqual({ query, status: 400, body: UpgradeRefusal.BadMode.reason });
    }
    const writer = h.client(relay.wsUrl, 'watch-2');
    await synced(writer);
    writer.doc.getText('text').insert(0, 'the room');
    await waitFor(() => writer.allOwnEditsAcked(), 'the room holds data');
    const reader = h.client(relay.wsUrl, 'watch-2', { params: { token: 'abc' } });
    await waitFor(() => reader.text() === 'the room', 'a client with no mode gets the room');
    const watcher = h.client(relay.wsUrl, 'watch-2', {
      params: { [ConnectionMode.param]: ConnectionMode.awarenessOnly },
    });
    await synced(watcher);
    // A stock client asking for a mode the relay does not know is never served the room as a full
    // connection: every attempt is refused before a websocket exists (it retries, as for a bad room name).
    const unknown = h.client(relay.wsUrl, 'watch-2', { params: { [ConnectionMode.param]: 'full' } });
    await waitFor(() => unknown.closes.length >= 2, 'two refused attempts');
    expect(unknown.statuses).not.toContain('connected');
    expect(unknown.provider.synced).toBe(false);
    expect(unknown.text()).toBe('');
    expect(watcher.text()).toBe('');
  });

  /** `n` upgrades to distinct rooms started at once; resolves with the sockets that opened. */
  const burst = async (wsUrl: string, prefix: string, n: number): Promise<RawClient[]> => {
    const raws = Array.from({ length: n }, (_, i) => h.raw(`${wsUrl}/${prefix}-${i}`));
    const outcomes = await Promise.allSettled(raws.map((r) => r.opened));
    return raws.filter((_, i) => outcomes[i]!.status === 'fulfilled');
  };

  it('CLOSE-3: a burst of upgrades to new rooms admits no more than MAX_ROOMS, and the rooms it stored count', async () => {
    const relay = await h.relay({ env: { MAX_ROOMS: '3' } });
    // Admitted, then refused by ws (no Sec-WebSocket-Key): such a handshake must free its place.
    for (let i = 0; i < 5; i++) {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const headers = { Connection: 'Upgrade', Upgrade: 'websocket' };
        const req = request(`${relay.url}/sync/keyless-${i}`, { headers });
        req.on('response', (res) => resolve(res.statusCode));
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(400);
    }
    const opened = await burst(relay.wsUrl, 'burst', 20);
    expect(opened).toHaveLength(3);
    // Each admitted room stores an update (acked = on disk); the relay then holds its maximum.
    for (const [i, raw] of opened.entries()) {
      const doc = new Y.Doc();
      doc.getText('t').insert(0, `room ${i}`);
      const before = raw.frames.length;
      raw.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)));
      await waitFor(() => raw.frames.slice(before).some((f) => frameKind(f).outer === MessageType.Ack), 'the ack');
    }
    const r = await refusal(`${relay.wsUrl}/one-more`);
    expect(r).toEqual({ status: UpgradeRefusal.TooManyRooms.status, body: UpgradeRefusal.TooManyRooms.reason });
  });

  it('CLOSE-3: a burst of upgrades admits no more than MAX_CONNECTIONS', async () => {
    const relay = await h.relay({ env: { MAX_CONNECTIONS: '4' } });
    const opened = await burst(relay.wsUrl, 'conn', 100);
    expect(opened).toHaveLength(4);
    expect((await healthz(relay)).body.connections).toBe(4);
    const r = await refusal(`${relay.wsUrl}/conn-0`);
    expect(r).toEqual({
      status: UpgradeRefusal.TooManyConnections.status,
      body: UpgradeRefusal.TooManyConnections.reason,
    });
  });

  it('CLOSE-6: connections that never upgrade are capped at MAX_CONNECTIONS + 256; one more is closed at once, counted and logged', async () => {
    const relay = await h.relay({ env: { MAX_CONNECTIONS: '2' } });
    const port = Number(new URL(relay.url).port);
    const idle: Socket[] = [];
    try {
      const open = (): Promise<Socket> =>
        new Promise((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
      for (let i = 0; i < 2 + HTTP_SOCKET_HEADROOM; i++) idle.push(await open());
      // Each of them silent; the server holds them all (accepted in order, none closed).
      const extra = await open();
      let closed = false;
      extra.on('error', () => undefined);
      extra.once('close', () => (closed = true));
      await waitFor(() => closed, 'the connection beyond the cap closed');
      expect(idle.filter((s) => s.destroyed || s.readableEnded)).toEqual([]);
      // Room again once some go: a stock client gets in, and the operator can see what happened.
      // Each is ended and its own 'close' awaited: that comes after the server's FIN, so the server has
      // let go of it before anything new connects (a destroy raced the stock client's connect, which
      // was then dropped too).
      await Promise.all(
        idle.splice(0, 8).map((s) => new Promise<void>((resolve) => (s.once('close', () => resolve()), s.end()))),
      );
      await synced(h.client(relay.wsUrl, 'after-the-cap'));
      expect(await metric(relay, 'converge_sockets_dropped_total')).toBe(1);
      expect(relay.stderr()).toContain(`"event":"sockets-full","maxSockets":${2 + HTTP_SOCKET_HEADROOM}`);
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});
