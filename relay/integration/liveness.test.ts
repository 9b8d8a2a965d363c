/**
 * FWD-2: a lone stock client is not dropped by its own 30-second silence watchdog. The stock
 * y-websocket client closes its socket when it received nothing for 30 s; it renews its own
 * awareness every 15 s, and the relay echoes that renewal back to the sender, which is the only
 * traffic a lone client gets.
 *
 * This test legitimately takes ~36 s: what it checks is that nothing happens while time passes
 * beyond the 30 s watchdog (the watchdog checks every 3 s, so a relay that does not echo would
 * have the socket closed between 30 and 33 s after the handshake). It lives in its own file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Harness, healthz, synced } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

const OBSERVE_MS = 36_000;

describe('liveness', () => {
  it(
    'FWD-2: a lone stock client stays connected past the 30 s silence timeout (the relay echoes its awareness renewal)',
    { timeout: OBSERVE_MS + 20_000 },
    async () => {
      const relay = await h.relay();
      const lone = h.client(relay.wsUrl, 'lonely');
      await synced(lone);
      let renewals = 0;
      lone.provider.awareness.on('update', () => renewals++);
      let received = 0;
      (lone.provider.ws as unknown as WebSocket).on('message', () => received++);

      // Observing time pass is the point of this test: no condition to poll for.
      await new Promise((r) => setTimeout(r, OBSERVE_MS));

      expect(lone.closes).toEqual([]);
      expect(lone.statuses).toEqual(['connecting', 'connected']);
      expect(lone.provider.wsconnected).toBe(true);
      expect(lone.provider.wsUnsuccessfulReconnects).toBe(0);
      // It renewed its state twice (every 15 s) and got each renewal echoed back; the relay
      // kept the one connection.
      expect(renewals).toBeGreaterThanOrEqual(2);
      expect(received).toBeGreaterThanOrEqual(2);
      const { status, body } = await healthz(relay);
      expect(status).toBe(200);
      expect(body.connections).toBe(1);
    },
  );
});
