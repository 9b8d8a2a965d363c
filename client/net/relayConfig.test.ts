import { describe, expect, it } from 'vitest';
import { NO_RELAY_CONFIG, fetchRelayConfig, readRelayConfig } from './relayConfig.js';

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
