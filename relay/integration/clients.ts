/**
 * Helpers for the integration tests: stock y-websocket providers, raw `ws` clients for hostile
 * input, a polling `waitFor`, and a `Harness` that owns every relay process, provider and socket
 * a test creates so `afterEach(() => h.cleanup())` stops them all (and removes the data dirs).
 *
 * Providers are created with `disableBc: true`: every provider in this process shares one
 * BroadcastChannel namespace, and with it on, two providers of the same room would sync through
 * the channel instead of through the relay, which would make every test here meaningless.
 */
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { WebsocketProvider } from 'y-websocket';
import { MessageType, SyncType, readAckPayload } from '../../shared/protocol.js';
import { startRelay, type RelayProcess, type StartOptions } from '../testing/relayProcess.js';

import { waitFor } from '../../shared/testing/waitFor.js';

export { waitFor };

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A stock `WebsocketProvider` on a real Y.Doc, plus what the test wants to observe about it. */
export interface StockClient {
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  /** Highest acked clock per Yjs client id (from the relay's Ack frames, ACK-1/ACK-2). */
  readonly acked: Map<number, number>;
  /** Every Ack frame received, in order. */
  readonly ackFrames: Array<Map<number, number>>;
  /** Every 'connection-close' the provider emitted; `null` = closed locally (disconnect, watchdog). */
  readonly closes: Array<CloseInfo | null>;
  /** Every 'status' the provider emitted, in order. */
  readonly statuses: string[];
  /** The room's shared text (`doc.getText('text')`). */
  text(): string;
  /** True when the relay acked every struct this doc created. */
  allOwnEditsAcked(): boolean;
  destroy(): void;
}

export interface StockClientOptions {
  readonly doc?: Y.Doc;
  readonly connect?: boolean;
  /** URL query parameters (the stock provider's `params`), e.g. WATCH-1's mode. */
  readonly params?: Record<string, string>;
  /** The websocket class the provider uses (default `ws`'s), e.g. one that trusts a test certificate. */
  readonly webSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
}

/**
 * In Node each stock provider adds a process 'exit' listener until it is destroyed (y-websocket
 * removes its awareness state on exit). A test of 18 clients (six rooms on three relays) is not a
 * leak: Node's default of 10 printed a MaxListenersExceededWarning in every full run.
 */
const MAX_LIVE_STOCK_CLIENTS = 32;

export const stockClient = (wsUrl: string, room: string, opts: StockClientOptions = {}): StockClient => {
  process.setMaxListeners(Math.max(process.getMaxListeners(), MAX_LIVE_STOCK_CLIENTS + 10));
  const doc = opts.doc ?? new Y.Doc();
  const provider = new WebsocketProvider(wsUrl, room, doc, {
    WebSocketPolyfill: (opts.webSocket ?? WebSocket) as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    connect: false, // connect below, once every listener is attached
    ...(opts.params ? { params: opts.params } : {}),
  });
  const acked = new Map<number, number>();
  const ackFrames: Array<Map<number, number>> = [];
  const closes: Array<CloseInfo | null> = [];
  const statuses: string[] = [];
  // The stock provider copies the module's handler table per instance: this touches only ours.
  provider.messageHandlers[MessageType.Ack] = (_encoder, decoder: decoding.Decoder) => {
    const clocks = readAckPayload(decoder);
    ackFrames.push(clocks);
    for (const [client, clock] of clocks) acked.set(client, Math.max(acked.get(client) ?? 0, clock));
  };
  provider.on('connection-close', (event) => {
    // A DOM CloseEvent in the provider's types (not in this project's libs); `ws`'s CloseEvent here.
    const e = event as unknown as CloseInfo | null;
    closes.push(e ? { code: e.code, reason: e.reason } : null);
  });
  provider.on('status', ({ status }) => {
    statuses.push(status);
  });
  if (opts.connect ?? true) provider.connect();
  let destroyed = false;
  return {
    doc,
    provider,
    acked,
    ackFrames,
    closes,
    statuses,
    text: () => doc.getText('text').toJSON(),
    allOwnEditsAcked: () => (acked.get(doc.clientID) ?? 0) >= Y.getState(doc.store, doc.clientID),
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      provider.destroy();
      doc.destroy(); // also destroys the provider's Awareness (and its 3 s timer)
    },
  };
};

/** Resolves once the provider finished its handshake (got the relay's SyncStep2). */
export const synced = (c: StockClient, timeout = 10_000): Promise<void> =>
  waitFor(() => c.provider.synced, { timeout, message: 'provider synced' });

/**
 * Stops y-protocols' renewal of `c`'s local awareness state (every 15 s), so that a state the
 * relay dropped comes back only through the relay (AWR-8), never by waiting.
 */
export const stopAwarenessRenewal = (c: StockClient): void =>
  clearInterval((c.provider.awareness as unknown as { _checkInterval: ReturnType<typeof setInterval> })._checkInterval);

/** A raw `ws` client: records every frame the relay sends and how the socket closed. */
export interface RawClient {
  readonly ws: WebSocket;
  readonly frames: Uint8Array[];
  /** Resolves when the socket opened; rejects if it closed or failed first. */
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason (1006 when the TCP connection just dropped). */
  readonly closed: Promise<CloseInfo>;
}

/**
 * `headers`: extra request headers of the upgrade (e.g. CLOSE-7's `X-Forwarded-For`); `from`: the
 * local address to connect from (127.0.0.0/8 is all this host's).
 */
export const rawClient = (url: string, headers?: Record<string, string>, from?: string): RawClient => {
  const ws = new WebSocket(url, { headers, localAddress: from });
  const frames: Uint8Array[] = [];
  ws.on('message', (data: Buffer) => frames.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  // Errors (e.g. ECONNRESET after the relay drops us) are expected here; 'close' follows them.
  ws.on('error', () => {});
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    void closed.then((c) => reject(new Error(`socket closed before opening: ${c.code} ${c.reason}`)));
  });
  // Callers that only look at `closed` must not see an unhandled rejection from `opened`.
  opened.catch(() => {});
  return { ws, frames, opened, closed };
};

/**
 * Tries a websocket upgrade (from the local address `from` when given); resolves with the HTTP
 * status and body of a refusal (rejects if it opened).
 */
export const refusal = (
  url: string,
  headers?: Record<string, string>,
  from?: string,
): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, localAddress: from });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error(`upgrade to ${url} was accepted`));
    });
    ws.on('error', reject);
  });

/** The outer type and, for sync frames, the inner type of a frame the relay sent. */
export const frameKind = (frame: Uint8Array): { outer: number; inner?: number } => {
  const d = decoding.createDecoder(frame);
  const outer = decoding.readVarUint(d);
  return outer === MessageType.Sync ? { outer, inner: decoding.readVarUint(d) } : { outer };
};

/** The update carried by a SyncStep2 or Update frame. */
export const frameUpdate = (frame: Uint8Array): Uint8Array => {
  const d = decoding.createDecoder(frame);
  decoding.readVarUint(d);
  const inner = decoding.readVarUint(d);
  if (inner !== SyncType.Step2 && inner !== SyncType.Update) throw new Error(`not an update frame: ${inner}`);
  return decoding.readVarUint8Array(d);
};

export const isAlive = (relay: RelayProcess): boolean =>
  relay.child.exitCode === null && relay.child.signalCode === null;

/**
 * GET `path` on the relay on a socket of its own, closed after the reply (no pooled keep-alive
 * socket stays counted by CLOSE-7), from the local address `from` when given (127.0.0.0/8 is all
 * this host's).
 */
const get = (relay: RelayProcess, path: string, from?: string): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const req = request(relay.url + path, { agent: false, localAddress: from }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

/** The value of `series` (a name plus its exact label set) in the relay's `/metrics`; 0 when absent. */
export const metric = async (relay: RelayProcess, series: string, from?: string): Promise<number> => {
  const { text } = await get(relay, '/metrics', from);
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

export const healthz = async (
  relay: RelayProcess,
  from?: string,
): Promise<{ status: number; body: Record<string, unknown> }> => {
  const { status, text } = await get(relay, '/healthz', from);
  return { status, body: JSON.parse(text) as Record<string, unknown> };
};

/**
 * Owns everything a test starts. `cleanup()` destroys providers, terminates raw sockets,
 * SIGKILLs relays still running and removes their data directories.
 */
export class Harness {
  private readonly relays: RelayProcess[] = [];
  private readonly clients: StockClient[] = [];
  private readonly raws: RawClient[] = [];
  private readonly dataDirs = new Set<string>();

  async relay(opts: StartOptions = {}): Promise<RelayProcess> {
    const r = await startRelay(opts);
    this.relays.push(r);
    this.dataDirs.add(r.dataDir);
    return r;
  }

  client(wsUrl: string, room: string, opts: StockClientOptions = {}): StockClient {
    const c = stockClient(wsUrl, room, opts);
    this.clients.push(c);
    return c;
  }

  raw(url: string, headers?: Record<string, string>, from?: string): RawClient {
    const r = rawClient(url, headers, from);
    this.raws.push(r);
    return r;
  }

  /** Pass `failed` to print the relays' logs (JSON lines) and the clients' state before stopping them. */
  async cleanup(failed = false): Promise<void> {
    if (failed) {
      for (const r of this.relays)
        console.error(`--- relay :${r.port} (${r.dataDir}) stderr ---\n${r.stderr().slice(-8000)}`);
      for (const c of this.clients) {
        const p = c.provider;
        console.error(
          `--- client ${c.doc.clientID} ${p.url}: connected=${p.wsconnected} synced=${p.synced}`,
          `statuses=${JSON.stringify(c.statuses)} closes=${JSON.stringify(c.closes)} acked=${JSON.stringify([...c.acked])}`,
        );
      }
    }
    for (const c of this.clients.splice(0)) c.destroy();
    for (const r of this.raws.splice(0)) r.ws.terminate();
    await Promise.all(this.relays.splice(0).map((r) => (isAlive(r) ? r.kill() : Promise.resolve())));
    for (const dir of this.dataDirs) rmSync(dir, { recursive: true, force: true });
    this.dataDirs.clear();
  }
}
