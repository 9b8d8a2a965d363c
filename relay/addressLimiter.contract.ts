/**
 * The acceptance suite every `AddressLimiter` must pass (CLOSE-7 across relays, REDIS-11; see
 * relay/addressLimiter.ts). Call `addressLimiterContract` once per implementation; each test gets
 * fresh shared state with the limits it asks for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UpgradeRefusal } from '../shared/protocol.js';
import { observeFor, waitFor } from '../shared/testing/waitFor.js';
import type { AddressAdmission, AddressLimiter, AddressLimits } from './addressLimiter.js';

export interface AddressLimiterHarness {
  /** A new relay's limiter on the shared count. */
  relay(): Promise<AddressLimiter>;
  /** The relay dies: no goodbye. */
  kill(limiter: AddressLimiter): Promise<void>;
  /** The relays' heartbeat period (REDIS_HEARTBEAT_MS). */
  readonly heartbeatMs: number;
  cleanup(): Promise<void>;
}

const TOO_MANY_CONNECTIONS = { refusal: UpgradeRefusal.TooManyConnectionsPerIp };
const TOO_MANY_UPGRADES = { refusal: UpgradeRefusal.TooManyUpgradesPerIp };

/** The admission's slot, or a failed expectation naming the refusal. */
const admitted = (a: AddressAdmission): (() => Promise<void>) => {
  if (a.refusal) throw new Error(`expected an admission, got ${a.refusal.reason}`);
  return a.release;
};

export function addressLimiterContract(
  name: string,
  make: (limits: AddressLimits) => Promise<AddressLimiterHarness>,
): void {
  describe(`AddressLimiter contract: ${name}`, () => {
    let h: AddressLimiterHarness | undefined;
    const start = async (limits: AddressLimits): Promise<AddressLimiterHarness> => (h = await make(limits));

    afterEach(async () => {
      await h?.cleanup();
      h = undefined;
    });

    it('REDIS-11: an address holds at most maxConnections across relays; the next is refused on each; a release admits one', async () => {
      const h = await start({ maxConnections: 3, maxUpgradesPerMinute: 0 });
      const [a, b] = [await h.relay(), await h.relay()];
      const held = [admitted(await a.admit('198.51.100.1')), admitted(await b.admit('198.51.100.1'))];
      held.push(admitted(await a.admit('198.51.100.1')));
      expect(await a.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
      // Another address has its own count.
      admitted(await b.admit('198.51.100.2'));
      await held[1]!(); // b's
      admitted(await a.admit('198.51.100.1'));
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
    });

    it('REDIS-11: a release gives its slot back once, however often it is called', async () => {
      const h = await start({ maxConnections: 2, maxUpgradesPerMinute: 0 });
      const a = await h.relay();
      const first = admitted(await a.admit('198.51.100.1'));
      admitted(await a.admit('198.51.100.1'));
      await first();
      await first();
      admitted(await a.admit('198.51.100.1'));
      expect(await a.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
    });

    it('REDIS-11: an address makes at most maxUpgradesPerMinute attempts across relays; those refused for connections count', async () => {
      const h = await start({ maxConnections: 1, maxUpgradesPerMinute: 4 });
      const [a, b] = [await h.relay(), await h.relay()];
      admitted(await a.admit('198.51.100.1'));
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
      expect(await a.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
      expect(await a.admit('198.51.100.1')).toEqual(TOO_MANY_UPGRADES);
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_UPGRADES);
      admitted(await b.admit('198.51.100.2'));
    });

    it('REDIS-11: the attempt budget refills at maxUpgradesPerMinute a minute', async () => {
      // 600 a minute: one every 100 ms once the burst is spent.
      const h = await start({ maxConnections: 0, maxUpgradesPerMinute: 600 });
      const [a, b] = [await h.relay(), await h.relay()];
      let refused = false;
      for (let i = 0; !refused; i++) {
        // The burst, and the little refilled meanwhile: far fewer than twice the burst.
        if (i === 1200) throw new Error('1,200 attempts and none refused');
        const admission = await (i % 2 ? a : b).admit('198.51.100.1');
        if (admission.refusal) {
          expect(admission).toEqual(TOO_MANY_UPGRADES);
          refused = true;
        }
      }
      let again: AddressAdmission | undefined;
      await waitFor(async () => !(again = await a.admit('198.51.100.1')).refusal, 'a refilled attempt');
      expect(again?.refusal).toBeNull();
    });

    it('REDIS-11: a relay that leaves gives back every slot it held; the others keep theirs', async () => {
      const h = await start({ maxConnections: 3, maxUpgradesPerMinute: 0 });
      const [a, b] = [await h.relay(), await h.relay()];
      admitted(await a.admit('198.51.100.1'));
      admitted(await a.admit('198.51.100.1'));
      admitted(await b.admit('198.51.100.1'));
      await a.close();
      admitted(await b.admit('198.51.100.1'));
      admitted(await b.admit('198.51.100.1'));
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
    });

    it('REDIS-11: a relay that dies gives back its slots (within three heartbeats), the others keep theirs', async () => {
      const h = await start({ maxConnections: 3, maxUpgradesPerMinute: 0 });
      const [a, b] = [await h.relay(), await h.relay()];
      admitted(await a.admit('198.51.100.1'));
      admitted(await a.admit('198.51.100.1'));
      admitted(await b.admit('198.51.100.1'));
      await h.kill(a);
      // Polled by admissions: a refused one takes no slot (and no attempt is limited).
      let freed = 0;
      await waitFor(async () => {
        if (!(await b.admit('198.51.100.1')).refusal) freed++;
        return freed === 2;
      }, "the dead relay's two slots");
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
    });

    it('REDIS-11: a live relay keeps its slots past the dead-relay bound (its heartbeats renew them)', async () => {
      const h = await start({ maxConnections: 2, maxUpgradesPerMinute: 0 });
      const [a, b] = [await h.relay(), await h.relay()];
      admitted(await a.admit('198.51.100.1'));
      admitted(await b.admit('198.51.100.1'));
      await h.kill(await h.relay()); // a relay dying next to them changes nothing for the live ones
      await observeFor(h.heartbeatMs * 6);
      expect(await a.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
      expect(await b.admit('198.51.100.1')).toEqual(TOO_MANY_CONNECTIONS);
    });

    it('REDIS-11: a closed limiter admits without counting (the relay is leaving and refuses by itself)', async () => {
      const h = await start({ maxConnections: 1, maxUpgradesPerMinute: 0 });
      const a = await h.relay();
      await a.close();
      admitted(await a.admit('198.51.100.1'));
      admitted(await a.admit('198.51.100.1'));
    });
  });
}
