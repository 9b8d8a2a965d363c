/// <reference lib="dom" />
/**
 * The client's network transport: a WebSocket-compatible class handed to the stock
 * `WebsocketProvider` as its `WebSocketPolyfill`, wrapping the real implementation.
 *
 * Why: the stock provider reconnects with exponential backoff but no jitter, and resets it on
 * every successful sync, so when a relay restarts every client of every room comes back within
 * the same ~200 ms. NET-1: each (re)connection attempt after the first is delayed by a random
 * jitter, uniform in [0, min(jitterBaseMs · 2^failures, jitterMaxMs)), where `failures` counts
 * consecutive connections that were not healthy: closed before receiving a frame, or less than
 * `HEALTHY_AFTER_MS` after opening (a relay that accepts and then closes at once, e.g. when
 * rate-limiting, must not be hammered either). The session's first connection and an explicit
 * user action (`connectNow()`) are not delayed.
 *
 * NET-3 failover: given the origins of several relays (`relays`, e.g. from the relay's
 * `/config.json`), each attempt goes to one of them — the first to a random one so clients spread
 * out, every later attempt to the next in the list — keeping the path (`/sync/<room>`) and query
 * the provider asked for. A dead or Redis-less relay therefore costs one failed attempt (with the
 * NET-1 jitter) and the client lands on another; correctness needs nothing more, since every relay
 * answers from the shared log and never over-claims (SYNC-3). Without a list, or behind a load
 * balancer (one URL), the URL is used as given.
 *
 * Hooks are the seam for the network lab (fault injection: partition, latency, drop, duplicate,
 * reorder): `refuseConnect` fails attempts as if the network were down, `connectDelayMs` adds
 * latency to the handshake, and `outgoing`/`incoming` see every frame with a `forward` callback
 * that may be called later, never, or several times. `partition()`/`heal()` cut and restore
 * every socket of this transport. Frames forwarded after their socket closed are dropped.
 *
 * STATUS-2: `setNetworkDown(true)` (the browser reports no network) fails new attempts as a lost
 * network until `setNetworkDown(false)`, which starts a waiting attempt at once. It is apart from
 * the lab's partition, so the browser's `online` event never heals a partition.
 *
 * Browser code: no Node APIs. `ws` (Node) works as the real implementation in tests.
 */

type Listener = (event: unknown) => void;
type EventName = 'open' | 'message' | 'error' | 'close';

/** One frame, and the function that delivers it (call it zero, one or more times, now or later). */
export type FrameHook = (data: Uint8Array, forward: (data: Uint8Array) => void) => void;

export interface TransportHooks {
  /** Extra delay before the real socket is created (e.g. simulated latency). */
  readonly connectDelayMs?: (attempt: number) => number;
  /** When it returns true, the attempt fails as if the network were down (close code 1006). */
  readonly refuseConnect?: (url: string) => boolean;
  /** Every frame the app sends. Default: forward at once. */
  readonly outgoing?: FrameHook;
  /** Every binary frame the socket receives. Default: forward at once. */
  readonly incoming?: FrameHook;
}

/** What the wrapper needs from a WebSocket implementation (the DOM one, or `ws` in Node). */
export type WebSocketLike = typeof WebSocket;

export interface TransportOptions {
  /** The real implementation; default `globalThis.WebSocket`. */
  readonly WebSocketImpl?: WebSocketLike;
  /** Uniform random in [0, 1). Default Math.random (jitter needs no cryptographic quality). */
  readonly random?: () => number;
  /** Jitter window after a healthy connection dropped (NET-1). Default 1000 ms. */
  readonly jitterBaseMs?: number;
  /** Largest jitter window. Default 8000 ms. */
  readonly jitterMaxMs?: number;
  readonly hooks?: TransportHooks;
  /**
   * NET-3: the `ws://`/`wss://` origins of the relays to fail over between, read at every attempt
   * (the list may arrive after the first connection). Empty: the provider's URL as given.
   */
  readonly relays?: () => readonly string[];
}

/** NET-3: `url` with its origin replaced by `origin` (path and query kept). */
export const withOrigin = (url: string, origin: string): string => {
  const u = new URL(url);
  const o = new URL(origin);
  return `${o.protocol}//${o.host}${u.pathname}${u.search}`;
};

/** Keeps only well-formed `ws://`/`wss://` origins (the list comes over the network). */
export const relayOrigins = (list: unknown): string[] =>
  Array.isArray(list) ? list.filter((u): u is string => typeof u === 'string' && /^wss?:\/\/[^\s/?#]+$/.test(u)) : [];

export const DEFAULT_JITTER_BASE_MS = 1000;
export const DEFAULT_JITTER_MAX_MS = 8000;
/** A connection open at least this long (and that received a frame) resets `failures` when it closes. */
export const HEALTHY_AFTER_MS = 3000;

/** NET-1: the jitter window for an attempt after `failures` consecutive failed attempts. */
export const jitterWindowMs = (failures: number, baseMs: number, maxMs: number): number =>
  Math.min(baseMs * 2 ** Math.min(Math.max(failures, 0), 30), maxMs);

/** NET-1: the delay before an attempt; `random` is uniform in [0, 1). */
export const jitterDelayMs = (failures: number, random: () => number, baseMs: number, maxMs: number): number =>
  Math.floor(random() * jitterWindowMs(failures, baseMs, maxMs));

const toBytes = (data: unknown): Uint8Array | null => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // `ws` delivers fragmented messages as an array of Buffers when binaryType is 'fragments'.
  if (Array.isArray(data) && data.every((d) => ArrayBuffer.isView(d))) {
    const parts = data;
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
      at += p.byteLength;
    }
    return out;
  }
  return null;
};

const reportError = (e: unknown): void => {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (report) report(e);
  else console.error(e);
};

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
};

/**
 * Owns the jitter state (shared by every socket it creates: the provider makes a new socket per
 * attempt) and the hooks. `Transport.WebSocket` is the class to give the provider.
 */
export class Transport {
  /** Pass this as the provider's `WebSocketPolyfill`. */
  readonly WebSocket: WebSocketLike;
  /** Consecutive connections that were not healthy (NET-1). */
  failures = 0;
  /** Attempts started, for tests and the lab. */
  attempts = 0;
  hooks: TransportHooks;
  private skipJitter = true;
  private partitioned = false;
  private networkDown = false;
  private readonly sockets = new Set<TransportSocket>();
  readonly random: () => number;
  readonly jitterBaseMs: number;
  readonly jitterMaxMs: number;
  readonly impl: WebSocketLike | undefined;
  private readonly relays: () => readonly string[];
  /** Index into the relay list of the next attempt; -1 until the first (random) pick. */
  private relayIndex = -1;

  constructor(opts: TransportOptions = {}) {
    this.relays = opts.relays ?? (() => []);
    this.impl = opts.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketLike }).WebSocket;
    this.random = opts.random ?? Math.random;
    this.jitterBaseMs = opts.jitterBaseMs ?? DEFAULT_JITTER_BASE_MS;
    this.jitterMaxMs = opts.jitterMaxMs ?? DEFAULT_JITTER_MAX_MS;
    this.hooks = opts.hooks ?? {};
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const transport = this;
    class BoundSocket extends TransportSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(transport, url, protocols);
      }
    }
    this.WebSocket = BoundSocket as unknown as WebSocketLike;
  }

  /** The next attempt starts without jitter (the user asked to connect). */
  connectNow(): void {
    this.skipJitter = true;
  }

  /** Closes every open socket (code 1006, as a lost network) and fails new attempts until `heal()`. */
  partition(): void {
    this.partitioned = true;
    for (const s of [...this.sockets]) s.fail();
  }

  /**
   * The network is back. An attempt still waiting out its NET-1 jitter (a window the partition's
   * refused attempts grew to 8 s) starts now, as one the user asked for: healing reconnects at
   * once, so a heal's time to converge is the sync's, not a leftover random wait.
   */
  heal(): void {
    this.partitioned = false;
    for (const s of this.sockets) s.startSoon();
  }

  /**
   * NET-4: the user asked to retry: the next attempt has no jitter, and one waiting out its jitter
   * starts now (a partition or a lost network still fails it, as they fail any attempt).
   */
  retryNow(): void {
    this.skipJitter = true;
    for (const s of this.sockets) s.startSoon();
  }

  /** STATUS-2: see the header. Open sockets are left to the caller (the session closes them). */
  setNetworkDown(down: boolean): void {
    if (this.networkDown === down) return;
    this.networkDown = down;
    if (!down) for (const s of this.sockets) s.startSoon();
  }

  get isPartitioned(): boolean {
    return this.partitioned;
  }

  /** @internal The delay before the real socket of a new attempt is created. */
  nextDelay(): number {
    this.attempts++;
    const extra = this.connectDelay();
    if (this.skipJitter) {
      this.skipJitter = false;
      return extra;
    }
    return extra + jitterDelayMs(this.failures, this.random, this.jitterBaseMs, this.jitterMaxMs);
  }

  /** @internal The hooks' added handshake latency for the latest attempt (no jitter). */
  connectDelay(): number {
    return Math.max(0, this.hooks.connectDelayMs?.(this.attempts) ?? 0);
  }

  /** @internal NET-3: the URL an attempt connects to. */
  target(url: string): string {
    const list = this.relays();
    if (list.length === 0) return url;
    this.relayIndex = this.relayIndex < 0 ? Math.floor(this.random() * list.length) : this.relayIndex + 1;
    return withOrigin(url, list[this.relayIndex % list.length]!);
  }

  /** @internal */
  refuses(url: string): boolean {
    return this.partitioned || this.networkDown || (this.hooks.refuseConnect?.(url) ?? false);
  }

  /** @internal */
  track(s: TransportSocket, live: boolean): void {
    if (live) this.sockets.add(s);
    else this.sockets.delete(s);
  }
}

/** A WebSocket look-alike (the subset the stock provider and browsers' apps use). */
export class TransportSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly url: string;
  readyState = 0;
  onopen: Listener | null = null;
  onmessage: Listener | null = null;
  onerror: Listener | null = null;
  onclose: Listener | null = null;

  private real: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private type: BinaryType = 'blob';
  private gotFrame = false;
  private openedAt = 0;
  private readonly listeners = new Map<EventName, Set<Listener>>();

  constructor(
    private readonly transport: Transport,
    url: string | URL,
    private readonly protocols?: string | string[],
  ) {
    this.url = String(url);
    transport.track(this, true);
    this.timer = setTimeout(() => this.start(), transport.nextDelay());
  }

  get binaryType(): BinaryType {
    return this.type;
  }

  set binaryType(t: BinaryType) {
    this.type = t;
    if (this.real) this.real.binaryType = t;
  }

  get bufferedAmount(): number {
    return this.real?.bufferedAmount ?? 0;
  }

  get protocol(): string {
    return this.real?.protocol ?? '';
  }

  get extensions(): string {
    return this.real?.extensions ?? '';
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.readyState === this.CONNECTING) throw new Error('InvalidStateError: the socket is still connecting');
    if (this.readyState !== this.OPEN || !this.real) return; // like the DOM: sends after close are discarded
    const hook = this.transport.hooks.outgoing;
    const bytes = hook ? toBytes(data) : null;
    if (!hook || !bytes) {
      this.real.send(data);
      return;
    }
    const real = this.real;
    hook(bytes, (frame) => {
      if (this.real === real && this.readyState === this.OPEN) real.send(frame);
    });
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === this.CLOSING || this.readyState === this.CLOSED) return;
    if (!this.real) {
      // Closed before the real socket exists (during the jitter delay): as the DOM does for a
      // socket closed while connecting, report a failed connection.
      this.finish(1006, '', false);
      return;
    }
    this.readyState = this.CLOSING;
    try {
      this.real.close(code, reason);
    } catch {
      this.finish(1006, '', false);
    }
  }

  addEventListener(type: EventName, listener: Listener): void {
    const set = this.listeners.get(type) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(type, set);
  }

  removeEventListener(type: EventName, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  /** @internal Waiting to start: restart the wait with no jitter (the connect delay hook still applies). */
  startSoon(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), this.transport.connectDelay());
  }

  /** @internal The network went away under this socket (partition). */
  fail(): void {
    if (this.readyState === this.CLOSED) return;
    this.emit('error', { type: 'error', target: this });
    this.finish(1006, 'network partition', false);
  }

  private start(): void {
    this.timer = null;
    if (this.readyState !== this.CONNECTING) return;
    const Impl = this.transport.impl;
    if (this.transport.refuses(this.url) || !Impl) {
      this.emit('error', { type: 'error', target: this });
      this.finish(1006, '', false);
      return;
    }
    let real: WebSocket;
    try {
      real = new Impl(this.transport.target(this.url), this.protocols);
    } catch {
      this.emit('error', { type: 'error', target: this });
      this.finish(1006, '', false);
      return;
    }
    this.real = real;
    real.binaryType = this.type;
    real.onopen = () => {
      if (this.real !== real || this.readyState !== this.CONNECTING) return;
      this.readyState = this.OPEN;
      this.openedAt = Date.now();
      this.emit('open', { type: 'open', target: this });
    };
    real.onmessage = (ev: MessageEvent) => {
      if (this.real !== real || this.readyState !== this.OPEN) return;
      this.gotFrame = true;
      const hook = this.transport.hooks.incoming;
      const bytes = hook ? toBytes(ev.data) : null;
      if (!hook || !bytes) {
        this.emit('message', { type: 'message', data: ev.data as unknown, target: this });
        return;
      }
      hook(bytes, (frame) => {
        if (this.real === real && this.readyState === this.OPEN) {
          this.emit('message', { type: 'message', data: toArrayBuffer(frame), target: this });
        }
      });
    };
    real.onerror = () => {
      if (this.real !== real) return;
      this.emit('error', { type: 'error', target: this });
    };
    real.onclose = (ev: CloseEvent) => {
      if (this.real !== real) return;
      this.finish(ev.code, ev.reason, ev.wasClean);
    };
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === this.CLOSED) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const real = this.real;
    this.real = null;
    if (real) {
      real.onopen = null;
      real.onmessage = null;
      real.onclose = null;
      // A late error event from a socket we let go must not become an unhandled error in Node.
      real.onerror = () => {};
      if (real.readyState === real.CONNECTING || real.readyState === real.OPEN) {
        try {
          real.close();
        } catch {
          // ignore: it is going away either way
        }
      }
    }
    this.readyState = this.CLOSED;
    if (this.gotFrame && Date.now() - this.openedAt >= HEALTHY_AFTER_MS) this.transport.failures = 0;
    else this.transport.failures++;
    this.transport.track(this, false);
    // Asynchronously, as the DOM does: a caller of close() sees the state change first.
    queueMicrotask(() => this.emit('close', { type: 'close', code, reason, wasClean, target: this }));
  }

  private emit(type: EventName, event: unknown): void {
    const prop =
      type === 'open'
        ? this.onopen
        : type === 'message'
          ? this.onmessage
          : type === 'error'
            ? this.onerror
            : this.onclose;
    for (const l of [prop, ...(this.listeners.get(type) ?? [])]) {
      if (!l) continue;
      try {
        l.call(this, event);
      } catch (e) {
        // As in the DOM, a throwing handler is reported and does not affect the socket (with
        // `ws` in Node it would otherwise escape into the socket's stream and crash the process).
        reportError(e);
      }
    }
  }
}
