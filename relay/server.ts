/**
 * The socket layer: an HTTP server with `/healthz`, the built client (from `dist/`, when
 * present) and websocket upgrades at `/sync/<room>`, wired to a `Relay`. Everything about
 * rooms and frames lives in relay.ts/roomCore.ts; this file only translates sockets.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import {
  CloseReason,
  type CloseReasonInfo,
  ConnectionMode,
  PROTOCOL_VERSION,
  RELAY_CONFIG_PATH,
  SYNC_PATH,
  type PublishedLimits,
  UpgradeRefusal,
  isValidRoomName,
} from '../shared/protocol.js';
import type { Relay } from './relay.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { Backplane } from './backplane.js';
import type { StoreWorkerHealth } from './workerRoomStore.js';
import { binaryFrame } from './binaryFrame.js';
import { canonicalAddress, clientAddress, inRanges, type AddressRange } from './clientAddress.js';
import { LogThrottle } from './logThrottle.js';
import { matchesEtag, StaticFiles } from './staticFiles.js';
import type { PerIpLimits } from './perIpLimits.js';
import type { AddressLimiter } from './addressLimiter.js';
import type { RedisReadiness } from './redisConnection.js';

/** The version `/healthz` reports: package.json's, so a release cannot report another. */
export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface ServerOptions {
  readonly relay: Relay;
  readonly log: Logger;
  readonly maxFrameBytes: number;
  /** CLOSE-6: the websockets the relay admits (MAX_CONNECTIONS); sockets are capped a little above it. */
  readonly maxConnections?: number;
  /** Directory of the built client; served when it exists. */
  readonly staticDir: string;
  /** Interval of websocket pings; a socket that missed one pong is terminated (no ghosts). */
  readonly heartbeatMs?: number;
  /** Serves `GET /metrics` (Prometheus text) and counts connections, frames and closes. */
  readonly metrics?: RelayMetrics;
  /** SEC-3: when set, `GET /metrics` answers only a request with `Authorization: Bearer <this>`. */
  readonly metricsToken?: string;
  /** Scale-out mode: its status is reported by `/healthz`. */
  readonly backplane?: Backplane;
  /**
   * Scale-out mode, HEALTH-1: every part holding a Redis connection (the backplane's two
   * included); `/healthz` reports the backplane up only while all of them are ready.
   */
  readonly redisConnections?: readonly RedisReadiness[];
  /** Scale-out mode, REDIS-10: whether Redis is durable now, reported by `/healthz` (HEALTH-1). */
  readonly redisDurability?: { durable(): boolean };
  /** The store's worker thread (merges only in scale-out mode): its status is reported by `/healthz` (STORE-5). */
  readonly storeWorker?: { health(): StoreWorkerHealth };
  /** Relay origins for client failover, served at `/config.json` ([] = only this relay). */
  readonly relayUrls?: readonly string[];
  /** UP-2: the per-connection allowance clients pace big uploads by, served at `/config.json`. */
  readonly publishedLimits?: PublishedLimits;
  /** CLOSE-7: connections and upgrade attempts per client address (MAX_CONNECTIONS_PER_IP, …), in this process. */
  readonly perIpLimits?: PerIpLimits;
  /**
   * REDIS-11: the same limits counted across every relay (scale-out mode), checked after
   * `perIpLimits` passed, for the addresses it counts.
   */
  readonly sharedPerIpLimits?: AddressLimiter;
  /** CLOSE-7: reverse proxies whose `X-Forwarded-For` names the client (TRUST_PROXY). */
  readonly trustProxy?: readonly AddressRange[];
}

/**
 * CLOSE-6: TCP connections the server keeps beyond the websockets `maxConnections` admits: page
 * and asset loads, and upgrades still in their handshake. Without a cap, connections that never
 * upgrade (or never finish their headers) were bounded by nothing but the process's file
 * descriptors, which SQLite needs too.
 */
export const HTTP_SOCKET_HEADROOM = 256;
/** CLOSE-6: a connection that has not sent its request headers by then is dropped. */
const HEADERS_TIMEOUT_MS = 10_000;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * SEC-1: the app's pages may load only what this origin serves, connect only to this origin and
 * the `RELAY_URLS` relays (NET-3 failover), and may not be framed (no clickjacking of Delete or
 * Rename). A second line behind CHAT-2's text-only rendering: an injected script would not run.
 */
export const contentSecurityPolicy = (relayUrls: readonly string[]): string =>
  [
    "default-src 'self'",
    `connect-src 'self'${relayUrls.map((u) => ' ' + new URL(u).origin).join('')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

/** SEC-1: the headers every page and static file is served with. */
const securityHeaders = (relayUrls: readonly string[]): Readonly<Record<string, string>> => ({
  'Content-Security-Policy': contentSecurityPolicy(relayUrls),
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
});

/** Payloads up to this size are framed once and shared by all recipients; larger ones go through `ws.send` (no copy). */
const PREFRAME_MAX_BYTES = 64 * 1024;

const PLACEHOLDER = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Converge relay</title>
<h1>Converge relay is up</h1><p>No client build found in <code>dist/</code>. Websocket endpoint: <code>${SYNC_PATH}/&lt;room&gt;</code>. Health: <a href="/healthz">/healthz</a>.</p></html>`;

export const createRelayServer = (opts: ServerOptions): Server => {
  const { relay, log, metrics, perIpLimits, sharedPerIpLimits } = opts;
  const refusalLog = new LogThrottle();
  const trustedProxies = opts.trustProxy ?? [];
  // perMessageDeflate stays off: the pre-framed sends below rely on ws never queueing a frame.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false });
  const alive = new WeakMap<WebSocket, boolean>();
  // A broadcast hands the same payload object to every connection of the room in a row, so a
  // one-entry cache frames it once (binaryFrame.ts) instead of once per recipient.
  let lastPayload: Uint8Array | null = null;
  let lastFramed: Buffer = Buffer.alloc(0);
  const framed = (payload: Uint8Array): Buffer => {
    if (payload !== lastPayload) {
      lastFramed = binaryFrame(payload);
      lastPayload = payload;
    }
    return lastFramed;
  };

  // SEC-1's headers depend only on the settings: built once, not per request.
  const pageHeaders = securityHeaders(opts.relayUrls ?? []);
  const staticFiles = new StaticFiles();
  const server = createServer((req, res) => {
    handleHttp(req, res, opts, pageHeaders, staticFiles).catch((err: unknown) => {
      log.error('http-error', { error: String(err) });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  // Node closes a connection beyond maxConnections as soon as it is accepted. That means the relay
  // is full: counted, and logged at warn (throttled, as anybody can cause it).
  if (opts.maxConnections !== undefined) {
    const maxSockets = opts.maxConnections + HTTP_SOCKET_HEADROOM;
    server.maxConnections = maxSockets;
    server.on('drop', () => {
      metrics?.socketDropped();
      const line = refusalLog.allow('sockets-full');
      if (line) log.warn('sockets-full', { maxSockets, ...(line.suppressed ? line : {}) });
    });
  }
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  // CLOSE-7: sockets per peer address, from accept (a trusted proxy's carry everybody's: not counted).
  if (perIpLimits) {
    server.on('connection', (socket: Socket) => {
      const peer = canonicalAddress(socket.remoteAddress ?? '');
      const address =
        peer === null || inRanges(peer, trustedProxies) ? null : clientAddress(peer, undefined, trustedProxies);
      if (!perIpLimits.socketOpened(address)) {
        metrics?.socketRefused();
        socket.destroy();
        return;
      }
      socket.once('close', () => perIpLimits.socketClosed(address));
    });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // CLOSE-7: checked first, so every attempt counts (a bad path too) and costs no store call.
    const address =
      perIpLimits || sharedPerIpLimits
        ? clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies)
        : null;
    const perIpRefusal = perIpLimits?.admit(address) ?? null;
    // The address's connection count holds this upgrade until it is refused, fails or closes.
    let counted = perIpLimits !== undefined && perIpRefusal === null;
    // REDIS-11: the shared count's slot, once it admitted this upgrade.
    let releaseShared: (() => Promise<void>) | null = null;
    const uncount = (): void => {
      void releaseShared?.();
      releaseShared = null;
      if (!counted) return;
      counted = false;
      perIpLimits!.release(address);
    };
    const refuse = (r: { status: number; reason: string }): void => {
      uncount();
      const token = r.reason.split(':')[0]!;
      // Anybody can cause these at will: throttled per reason (the metric counts them all).
      const line = refusalLog.allow(token);
      if (line) log.info('upgrade-refused', { status: r.status, reason: token, ...(line.suppressed ? line : {}) });
      metrics?.refused(token);
      socket.end(
        `HTTP/1.1 ${r.status} ${r.reason.split(':')[0]}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(r.reason)}\r\nConnection: close\r\n\r\n${r.reason}`,
      );
    };
    if (perIpRefusal) return refuse(perIpRefusal);
    const upgrade = (): void => {
      const [path = '', query = ''] = (req.url ?? '').split('?', 2);
      if (!path.startsWith(SYNC_PATH + '/')) return refuse(UpgradeRefusal.BadPath);
      const room = path.slice(SYNC_PATH.length + 1);
      if (!isValidRoomName(room)) return refuse(UpgradeRefusal.BadRoomName);
      // WATCH-2: no mode is a full connection, one mode=awareness an observer; anything else is a
      // mode this relay does not know, and serving it as a full connection would send a room to a
      // client that asked for something else.
      const modes = new URLSearchParams(query).getAll(ConnectionMode.param);
      if (modes.length > 1 || (modes.length === 1 && modes[0] !== ConnectionMode.awarenessOnly)) {
        return refuse(UpgradeRefusal.BadMode);
      }
      const awarenessOnly = modes.length === 1;
      // REDIS-10: while Redis is not durable every commit is refused. A full connection admitted
      // now would upload, be closed with 4503 and, its open having reset the stock client's
      // backoff, come straight back: refused here, it backs off. An observer (WATCH-1) stores
      // nothing and is admitted.
      if (!awarenessOnly && opts.redisDurability && !opts.redisDurability.durable()) {
        return refuse(UpgradeRefusal.StorageUnavailable);
      }
      relay
        .admit(room)
        .then((refusal) => {
          if (refusal) return refuse(refusal);
          let opened = false;
          wss.handleUpgrade(req, socket, head, (ws) => {
            opened = true;
            ws.on('close', uncount);
            onSocket(ws, socket, room, awarenessOnly);
          });
          // ws calls back at once or never (a bad handshake, a client that hung up): free the admission.
          if (!opened) {
            relay.cancelAdmission(room);
            uncount();
          }
        })
        .catch((err: unknown) => {
          // admit fails only when a store call does (STORE-5: the store worker restarting or down).
          log.error('admit-failed', { room, error: String(err) });
          refuse(UpgradeRefusal.StorageUnavailable);
        });
    };
    if (!sharedPerIpLimits || address === null) return upgrade();
    // One round trip; it never rejects (fail-open, relay/redisAddressLimiter.ts). A bad path
    // counts here too: the budget counts attempts, whatever they ask for.
    void sharedPerIpLimits.admit(address).then((admission) => {
      if (admission.refusal) return refuse(admission.refusal);
      releaseShared = admission.release;
      // The client hung up while Redis answered: no room load for it.
      if (socket.destroyed) return uncount();
      upgrade();
    });
  });

  /** `socket`: the connection ws took over in handleUpgrade (pre-framed sends are written to it). */
  const onSocket = (ws: WebSocket, socket: Duplex, room: string, awarenessOnly: boolean): void => {
    // On a framing error ws closes with the RFC code (1002, 1007, 1009) before telling us.
    // Those codes are "retryable" to the stock client, which would resend the same bad frame
    // forever; translate them to our closed set's fatal codes.
    // The reason is logged and counted as the client gets it (an oversize frame is frame-too-large).
    const rfcClose = ws.close.bind(ws);
    let framingClose: CloseReasonInfo | null = null;
    ws.close = (code?: number, data?: string | Buffer): void => {
      const mapped =
        code === 1009 ? CloseReason.FrameTooLarge : code === 1002 || code === 1007 ? CloseReason.ProtocolError : null;
      if (mapped && framingClose === null) {
        framingClose = mapped;
        metrics?.closed(mapped.reason);
      }
      if (mapped) rfcClose(mapped.code, mapped.reason);
      else rfcClose(code, data);
    };
    metrics?.connectionOpened();
    const id = relay.open(
      room,
      {
        send: (frame) => {
          metrics?.frameOut(frame);
          if (frame.length > PREFRAME_MAX_BYTES) return ws.send(frame, { binary: true });
          // Written straight to the socket, in order with ws's own writes: without permessage-deflate
          // ws's Sender never queues (send, ping and close write to this socket at once), and
          // ws.bufferedAmount is this socket's writable length, so the slow-consumer check counts these
          // bytes. Once ws is closing nothing more goes out, as ws.send would drop it too.
          // relay/integration/broadcast.test.ts checks order, bytes, closes and slow consumers.
          if (ws.readyState === WebSocket.OPEN) socket.write(framed(frame));
        },
        close: (code, reason) => {
          metrics?.closed(reason);
          rfcClose(code, reason);
        },
        bufferedAmount: () => ws.bufferedAmount,
      },
      { awarenessOnly },
    );
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) metrics?.frameIn(data);
      relay.receive(id, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), isBinary);
    });
    ws.on('error', (err: Error & { code?: string }) =>
      relay.socketFailed(id, framingClose ?? CloseReason.ProtocolError, err.code ?? err.message),
    );
    ws.on('close', () => relay.closed(id));
  };

  const heartbeat = setInterval(() => {
    // CLOSE-7: entries kept only by an attempt over a minute old go here (and on their release).
    perIpLimits?.sweep();
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, opts.heartbeatMs ?? 30_000);
  heartbeat.unref();
  server.on('close', () => clearInterval(heartbeat));
  return server;
};

const handleHttp = async (
  req: IncomingMessage,
  res: ServerResponse,
  opts: ServerOptions,
  pageHeaders: Readonly<Record<string, string>>,
  staticFiles: StaticFiles,
): Promise<void> => {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === SYNC_PATH || path.startsWith(SYNC_PATH + '/')) {
    // A browser or curl at the websocket endpoint: say what it is, not the app's page with 200.
    res
      .writeHead(426, { 'Content-Type': MIME['.txt'], Upgrade: 'websocket', Connection: 'Upgrade' })
      .end(`upgrade-required: ${SYNC_PATH}/<room> is the websocket endpoint; open the app at /r/<room>`);
    return;
  }
  if (path === '/healthz') {
    const s = opts.relay.stats();
    // HEALTH-1: the backplane's status follows its command connection; after an outage the
    // others (its subscriber, the store's, the limiter's) reconnect one by one, each on its own
    // backoff, and an upgrade meanwhile could still fail its room's load with 503. Up only once
    // every one is ready, so a load balancer sends traffic when the relay admits it.
    const redisReady = (opts.redisConnections ?? []).every((c) => c.redisReady());
    const backplane = opts.backplane ? (opts.backplane.status() === 'up' && redisReady ? 'up' : 'down') : 'off';
    const storeWorker = opts.storeWorker ? opts.storeWorker.health().status : 'off';
    // HEALTH-1: not ok while nothing can be stored (a load balancer or a monitor should know). In
    // scale-out mode the worker only merges: Redis stores, and the backplane's status says so.
    const workerStores = !opts.backplane;
    const workerDown = storeWorker === 'down' || storeWorker === 'hung' || storeWorker === 'restarting';
    // REDIS-10 refuses every commit while a node is not durable, traffic or not.
    const redisDurability = opts.redisDurability ? (opts.redisDurability.durable() ? 'ok' : 'weakened') : 'off';
    const ok =
      s.storage === 'ok' && backplane !== 'down' && redisDurability !== 'weakened' && !(workerStores && workerDown);
    const body = JSON.stringify({
      ok,
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      roomsLoaded: s.roomsLoaded,
      connections: s.connections,
      storage: s.storage,
      backplane,
      redisDurability,
      storeWorker,
    });
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(body);
    return;
  }
  if (path === '/metrics' && opts.metrics) {
    if (opts.metricsToken && !bearerMatches(req.headers.authorization, opts.metricsToken)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="metrics"', 'Cache-Control': 'no-store' }).end();
      return;
    }
    const text = await opts.metrics.render();
    res.writeHead(200, { 'Content-Type': opts.metrics.contentType, 'Cache-Control': 'no-store' }).end(text);
    return;
  }
  if (path === RELAY_CONFIG_PATH) {
    // NET-3: the relays a client may fail over between; [] = stay on the origin that served the page.
    // UP-2: what this relay charges a connection, so that a client paces a big upload within it.
    const body = JSON.stringify({ relays: opts.relayUrls ?? [], limits: opts.publishedLimits ?? null });
    res.writeHead(200, { 'Content-Type': MIME['.json'], 'Cache-Control': 'no-store' }).end(body);
    return;
  }
  const root = resolve(opts.staticDir);
  const index = join(root, 'index.html');
  if (!(await isFile(index))) {
    if (path === '/') res.writeHead(200, { 'Content-Type': MIME['.html'], ...pageHeaders }).end(PLACEHOLDER);
    else res.writeHead(404, { 'Content-Type': MIME['.txt'] }).end('not found');
    return;
  }
  let file: string;
  try {
    file = resolve(root, '.' + normalize(decodeURIComponent(path)));
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(404).end();
    return;
  }
  if (!(await isFile(file))) {
    // A file that is not there (an old build's hashed asset, a mistyped icon) is a 404: served the
    // app's page instead, a script would fail as HTML, and a service worker could cache it as one.
    if (path.startsWith('/assets/') || /^\/[^/]*\.[^/]*$/.test(path)) {
      res.writeHead(404, { 'Content-Type': MIME['.txt'], 'Cache-Control': 'no-store' }).end('not found');
      return;
    }
    // Client-side routes (/r/<room>, /lab/<room>, anything else the app answers "not found" to)
    // get the app shell.
    file = index;
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  const immutable = file.includes(`${sep}assets${sep}`);
  // STATIC-1: a validator on every file, and text compressed when the browser takes it.
  const sent = await staticFiles.body(file, type, req.headers['accept-encoding']);
  const headers: Record<string, string> = {
    'Content-Type': type,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ETag: sent.etag,
    ...(sent.varies ? { Vary: 'Accept-Encoding' } : {}),
    ...(sent.encoding !== 'identity' ? { 'Content-Encoding': sent.encoding } : {}),
    ...pageHeaders,
  };
  if (matchesEtag(req.headers['if-none-match'], sent.etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : await sent.body());
};

/**
 * SEC-3: compares digests of equal length in constant time, so the answer's timing tells nothing
 * about how much of a guessed token was right.
 */
const bearerMatches = (header: string | undefined, token: string): boolean => {
  const given = /^Bearer (\S+)$/i.exec(header ?? '')?.[1];
  if (given === undefined) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
};

const isFile = async (p: string): Promise<boolean> => {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
};
