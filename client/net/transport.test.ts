import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HEALTHY_AFTER_MS, jitterDelayMs, jitterWindowMs, Transport, type TransportSocket } from './transport.js';

/** A scripted stand-in for the DOM WebSocket: the test opens, feeds and closes it. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 0;
  binaryType = 'blob';
  bufferedAmount = 0;
  protocol = '';
  extensions = '';
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((e: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }
  send(d: unknown): void {
    this.sent.push(d);
  }
  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code: 1005, reason: '', wasClean: true });
  }
  // test controls
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(bytes: number[]): void {
    this.onmessage?.({ data: new Uint8Array(bytes).buffer });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '', wasClean: false });
  }
}

const Impl = FakeSocket as unknown as typeof WebSocket;
const make = (t: Transport, url = 'ws://relay/sync/r'): TransportSocket =>
  new t.WebSocket(url) as unknown as TransportSocket;

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('NET-1 jitter', () => {
  it('the window doubles with consecutive failures and is capped', () => {
    expect([0, 1, 2, 3, 4, 10].map((f) => jitterWindowMs(f, 1000, 8000))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(jitterDelayMs(2, () => 0.5, 1000, 8000)).toBe(2000);
    expect(jitterDelayMs(0, () => 0, 1000, 8000)).toBe(0);
    expect(jitterDelayMs(0, () => 0.999, 1000, 8000)).toBeLessThan(1000);
  });

  it('the first attempt is immediate; a reconnect after a dropped healthy connection waits 0–1 s', async () => {
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0.5 });
    make(t);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.instances).toHaveLength(1);
    FakeSocket.instances[0]!.open();
    FakeSocket.instances[0]!.receive([1, 2]);
    await vi.advanceTimersByTimeAsync(HEALTHY_AFTER_MS);
    FakeSocket.instances[0]!.drop();
    expect(t.failures).toBe(0);
    make(t);
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('a relay that accepts, answers and closes at once counts as a failure', async () => {
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0.99 });
    make(t);
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.instances[0]!.open();
    FakeSocket.instances[0]!.receive([1]);
    await vi.advanceTimersByTimeAsync(100);
    FakeSocket.instances[0]!.drop(4529);
    expect(t.failures).toBe(1);
  });

  it('attempts that fail without a frame widen the window; connectNow() skips the jitter once', async () => {
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0.99 });
    make(t);
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.instances[0]!.drop();
    expect(t.failures).toBe(1);
    make(t);
    await vi.advanceTimersByTimeAsync(1900);
    expect(FakeSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.instances[1]!.drop();
    expect(t.failures).toBe(2);
    t.connectNow();
    make(t);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.instances).toHaveLength(3);
  });

  it('different random draws spread a reconnect storm over the window', () => {
    let seed = 1;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const delays = Array.from({ length: 200 }, () => jitterDelayMs(0, random, 1000, 8000));
    const buckets = new Set(delays.map((d) => Math.floor(d / 100)));
    expect(buckets.size).toBe(10);
  });
});

describe('WebSocket compatibility', () => {
  it('forwards open, binary messages, errors and close; sets binaryType on the real socket', async () => {
    const t = new Transport({ WebSocketImpl: Impl });
    const s = make(t);
    s.binaryType = 'arraybuffer';
    const events: string[] = [];
    s.onopen = () => events.push('open');
    s.onmessage = (e) => events.push(`message:${[...new Uint8Array((e as { data: ArrayBuffer }).data)].join(',')}`);
    s.onclose = (e) => events.push(`close:${(e as { code: number }).code}`);
    s.addEventListener('message', () => events.push('listener'));
    expect(s.readyState).toBe(0);
    expect(() => s.send(new Uint8Array([1]))).toThrow(/connecting/);
    await vi.advanceTimersByTimeAsync(0);
    const real = FakeSocket.instances[0]!;
    expect(real.binaryType).toBe('arraybuffer');
    real.open();
    expect(s.readyState).toBe(1);
    real.receive([7, 8]);
    s.send(new Uint8Array([9]));
    expect(real.sent).toHaveLength(1);
    real.drop(4400);
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual(['open', 'message:7,8', 'listener', 'close:4400']);
    expect(s.readyState).toBe(3);
  });

  it('close() during the jitter delay creates no real socket and reports a close', async () => {
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0.5 });
    t.failures = 3;
    t.connectNow();
    make(t); // immediate
    await vi.advanceTimersByTimeAsync(0);
    const s = make(t); // jittered
    const closes: number[] = [];
    s.onclose = (e) => closes.push((e as { code: number }).code);
    s.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(closes).toEqual([1006]);
  });

  it('a throwing handler does not break the socket', async () => {
    const t = new Transport({ WebSocketImpl: Impl });
    const s = make(t);
    const seen: number[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    s.onmessage = () => {
      throw new Error('handler bug');
    };
    s.addEventListener('message', () => seen.push(1));
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.instances[0]!.open();
    FakeSocket.instances[0]!.receive([1]);
    expect(seen).toEqual([1]);
    expect(s.readyState).toBe(1);
    spy.mockRestore();
  });
});

describe('hooks (the network lab seam)', () => {
  it('outgoing and incoming hooks can drop, duplicate and delay frames', async () => {
    const t = new Transport({ WebSocketImpl: Impl });
    const got: number[][] = [];
    t.hooks = {
      outgoing: (d, forward) => {
        if (d[0] === 0) return; // drop
        forward(d);
        forward(d); // duplicate
      },
      incoming: (d, forward) => {
        setTimeout(() => forward(d), 50); // latency
      },
    };
    const s = make(t);
    s.onmessage = (e) => got.push([...new Uint8Array((e as { data: ArrayBuffer }).data)]);
    await vi.advanceTimersByTimeAsync(0);
    const real = FakeSocket.instances[0]!;
    real.open();
    s.send(new Uint8Array([0]));
    s.send(new Uint8Array([5]));
    expect(real.sent).toHaveLength(2);
    real.receive([3]);
    expect(got).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(got).toEqual([[3]]);
    // Frames a hook forwards after the socket closed are dropped.
    real.receive([4]);
    real.drop();
    await vi.advanceTimersByTimeAsync(50);
    expect(got).toEqual([[3]]);
  });

  it('partition() drops open sockets and refuses new attempts until heal()', async () => {
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0 });
    const s = make(t);
    const closes: number[] = [];
    s.onclose = (e) => closes.push((e as { code: number }).code);
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.instances[0]!.open();
    t.partition();
    await vi.advanceTimersByTimeAsync(0);
    expect(closes).toEqual([1006]);
    const s2 = make(t);
    s2.onclose = (e) => closes.push((e as { code: number }).code);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(closes).toEqual([1006, 1006]);
    t.heal();
    make(t);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('LAB-1: heal() starts an attempt waiting out the jitter the partition grew, at once (the connect delay still applies)', async () => {
    let delay = 0;
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0.99, hooks: { connectDelayMs: () => delay } });
    t.partition();
    for (let i = 0; i < 4; i++) {
      make(t);
      await vi.advanceTimersByTimeAsync(8000);
    }
    expect(FakeSocket.instances).toHaveLength(0);
    expect(jitterWindowMs(t.failures, t.jitterBaseMs, t.jitterMaxMs)).toBe(8000);
    make(t); // waits ~7.9 s of jitter
    await vi.advanceTimersByTimeAsync(100);
    t.heal();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.instances).toHaveLength(1);

    t.partition();
    make(t);
    await vi.advanceTimersByTimeAsync(100);
    delay = 300;
    t.heal();
    await vi.advanceTimersByTimeAsync(299);
    expect(FakeSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('STATUS-2: while the browser reports no network attempts fail as a lost network; back up, a waiting one starts at once; a partition stays', async () => {
    const t = new Transport({ WebSocketImpl: Impl, random: () => 0.99 });
    t.setNetworkDown(true);
    const closes: number[] = [];
    for (let i = 0; i < 3; i++) {
      make(t).onclose = (e) => closes.push((e as { code: number }).code);
      await vi.advanceTimersByTimeAsync(8000);
    }
    expect(FakeSocket.instances).toHaveLength(0);
    expect(closes).toEqual([1006, 1006, 1006]);
    make(t); // waits out the jitter the failures grew
    await vi.advanceTimersByTimeAsync(100);
    t.setNetworkDown(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.instances).toHaveLength(1);

    // The browser's network coming back does not heal a lab partition.
    t.partition();
    t.setNetworkDown(true);
    t.setNetworkDown(false);
    make(t);
    await vi.advanceTimersByTimeAsync(8000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('connectDelayMs adds latency to the handshake', async () => {
    const t = new Transport({ WebSocketImpl: Impl, hooks: { connectDelayMs: () => 300 } });
    make(t);
    await vi.advanceTimersByTimeAsync(299);
    expect(FakeSocket.instances).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
