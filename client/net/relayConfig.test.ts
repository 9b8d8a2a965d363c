import { describe, expect, it } from 'vitest';
import type { PublishedLimits } from '../../shared/protocol.js';
import { MemoryStorage } from '../ui/memoryStorage.js';
import { NO_RELAY_CONFIG, RelayConfigSource, fetchRelayConfig, limitsKey, readRelayConfig } from './relayConfig.js';

const limits = {
  maxBytesPerSecond: 1000,
  byteBurst: 100_000,
  maxMessagesPerSecond: 10,
  messageBurst: 20,
  maxFrameBytes: 4096,
  maxClientsPerUpdate: 16,
  maxStructBytes: 4032,
};

describe('relay config (NET-3, UP-2)', () => {
  it('UP-2: keeps valid relays and limits; a part that does not validate reads as none', () => {
    expect(readRelayConfig({ relays: ['ws://a:1', 'http://b'], limits })).toEqual({ relays: ['ws://a:1'], limits });
    // An older relay: no limits.
    expect(readRelayConfig({ relays: [] })).toEqual(NO_RELAY_CONFIG);
    expect(readRelayConfig({ relays: ['wss://c'], limits: { ...limits, byteBurst: -1 } })).toEqual({
      relays: ['wss://c'],
      limits: null,
    });
    for (const junk of [null, 'x', 42, []]) expect(readRelayConfig(junk)).toEqual(NO_RELAY_CONFIG);
  });

  it('UP-2: a failed fetch, an error status or a body that is not JSON is no config', async () => {
    const answer =
      (status: number, body: string): typeof fetch =>
      () =>
        Promise.resolve(new Response(body, { status }));
    expect(await fetchRelayConfig('', answer(200, JSON.stringify({ relays: [], limits })))).toEqual({
      relays: [],
      limits,
    });
    expect(await fetchRelayConfig('', answer(404, 'not found'))).toEqual(NO_RELAY_CONFIG);
    expect(await fetchRelayConfig('', answer(200, '<html>'))).toEqual(NO_RELAY_CONFIG);
    expect(await fetchRelayConfig('', () => Promise.reject(new TypeError('offline')))).toEqual(NO_RELAY_CONFIG);
  });
});

describe('kept relay limits (STRUCT-2, STRUCT-3)', () => {
  const answering =
    (config: () => unknown): typeof fetch =>
    () =>
      Promise.resolve(new Response(JSON.stringify(config())));
  const offline: typeof fetch = () => Promise.reject(new TypeError('offline'));

  it('STRUCT-2: the limits fetched are kept for that relay, and a page started offline has them', async () => {
    const storage = new MemoryStorage();
    const online = new RelayConfigSource(
      storage,
      'http://relay:1',
      '',
      answering(() => ({ relays: [], limits })),
    );
    expect(online.current.limits).toBeNull();
    await online.refresh();
    expect(online.current.limits).toEqual(limits);
    // The next page, started offline: the kept limits, though its fetch fails.
    const restarted = new RelayConfigSource(storage, 'http://relay:1', '', offline);
    expect(restarted.current.limits).toEqual(limits);
    await restarted.refresh();
    expect(restarted.current.limits).toEqual(limits);
    expect(restarted.fresh).toBe(false);
    // Another relay's are its own.
    expect(new RelayConfigSource(storage, 'http://other:2', '', offline).current.limits).toBeNull();
  });

  it('STRUCT-2: an answer replaces the kept limits, with none when the relay publishes none', async () => {
    const storage = new MemoryStorage();
    let published: unknown = limits;
    const source = new RelayConfigSource(
      storage,
      'http://relay:1',
      '',
      answering(() => ({ limits: published })),
    );
    await source.refresh();
    published = { ...limits, maxStructBytes: 2000 };
    await source.refresh();
    expect(new RelayConfigSource(storage, 'http://relay:1', '', offline).current.limits?.maxStructBytes).toBe(2000);
    published = undefined; // an older relay again
    await source.refresh();
    expect(source.current.limits).toBeNull();
    expect(new RelayConfigSource(storage, 'http://relay:1', '', offline).current.limits).toBeNull();
  });

  it('STRUCT-2: kept limits are validated when read back', () => {
    const storage = new MemoryStorage();
    for (const junk of ['{', '42', JSON.stringify({ ...limits, maxStructBytes: -5 })]) {
      storage.setItem(limitsKey('http://relay:1'), junk);
      expect(new RelayConfigSource(storage, 'http://relay:1', '', offline).current.limits).toBeNull();
    }
  });

  it('STRUCT-3: fetched again until one answers, and on demand (the network came back) after that', async () => {
    let up = false;
    let fetches = 0;
    const fetchImpl: typeof fetch = (input, init) => {
      fetches++;
      return up ? answering(() => ({ limits }))(input, init) : offline(input, init);
    };
    const source = new RelayConfigSource(new MemoryStorage(), 'http://relay:1', '', fetchImpl);
    const changes: Array<PublishedLimits | null> = [];
    source.subscribe(() => changes.push(source.current.limits));
    await source.refreshUnlessFresh();
    await source.refreshUnlessFresh();
    expect(fetches).toBe(2);
    expect(changes).toEqual([]);
    up = true;
    await source.refreshUnlessFresh();
    expect(changes).toEqual([limits]);
    await source.refreshUnlessFresh();
    expect(fetches).toBe(3);
    await source.refresh();
    expect(fetches).toBe(4);
    // The same limits again: no change to tell.
    expect(changes).toEqual([limits]);
  });
  it('STRUCT-3: fetched anew when the network comes back, also while a fetch started before it is in flight', async () => {
    let up = false;
    let release: () => void = () => undefined;
    const fetchImpl: typeof fetch = (input, init) => {
      if (up) return answering(() => ({ limits }))(input, init);
      // Started offline: fails, but only later (a fetch waiting on a dead network).
      return new Promise<void>((r) => (release = r)).then(() => offline(input, init));
    };
    const source = new RelayConfigSource(new MemoryStorage(), 'http://relay:1', '', fetchImpl);
    const stale = source.refresh();
    up = true; // the network is back while that fetch hangs
    const anew = source.refreshAnew();
    release();
    await Promise.all([stale, anew]);
    expect(source.current.limits).toEqual(limits);
  });
});
