/**
 * CLOSE-7 / REDIS-11: the per-address limits (websockets held, upgrade attempts a minute) as one
 * count shared by every relay that serves the same clients. Two implementations pass one contract
 * suite (relay/addressLimiter.contract.ts): `InProcessAddressLimits` (relays in one process share
 * the per-process bookkeeping, relay/perIpLimits.ts: tests) and `RedisAddressLimiter` (scale-out
 * mode: every relay on one Redis).
 *
 * The contract:
 * - `admit` takes one attempt from the address's budget, refused or not, as CLOSE-7 counts them
 *   (none when the budget is empty: that refusal is `TooManyUpgradesPerIp`); then, unless the
 *   address holds `maxConnections` already across all relays (`TooManyConnectionsPerIp`), one
 *   connection slot, held until its `release`. The refusals are CLOSE-7's, so a client sees the
 *   same 429 whichever relay refused it, and whichever limit (per-process or shared).
 * - `release` gives the slot back once, however often it is called; once it resolved, an
 *   attempt at any relay finds the slot free.
 * - A relay that leaves (`close`) gives back every slot it holds at once; one that dies gives
 *   them back within three heartbeats (Redis: REDIS_HEARTBEAT_MS, as presence, REDIS-6).
 * - `admit` never rejects: when the shared count cannot be reached it admits (fail-open, see
 *   RedisAddressLimiter), since the relay's per-process limit has already been checked.
 *
 * The relay keeps its per-process `PerIpLimits` as the first check (no round trip; it protects
 * the process, and counts TCP sockets, which are this process's own); this one comes second, and
 * only for counted addresses (clientAddress.ts: loopback without TRUST_PROXY never reaches it).
 */
import type { UpgradeRefusal } from '../shared/protocol.js';
import { PerIpLimits } from './perIpLimits.js';

export type AddressRefusal = (typeof UpgradeRefusal)[keyof typeof UpgradeRefusal];

export type AddressAdmission =
  | { readonly refusal: AddressRefusal }
  | {
      readonly refusal: null;
      /**
       * The connection closed or its upgrade failed: its slot is free again. Idempotent. Resolves
       * once the shared count has it (or could not be told: then it learns it from a heartbeat);
       * never rejects.
       */
      readonly release: () => Promise<void>;
    };

export interface AddressLimiter {
  /** An upgrade attempt from the counted address `address` (never null: see clientAddress.ts). */
  admit(address: string): Promise<AddressAdmission>;
  /** Leaves: gives back every slot this relay holds. Later attempts are admitted uncounted. */
  close(): Promise<void>;
}

export interface AddressLimits {
  /** Websockets one address may hold across all relays (0 = no limit). */
  readonly maxConnections: number;
  /** Upgrade attempts one address may make a minute across all relays (0 = no limit). */
  readonly maxUpgradesPerMinute: number;
}

/** An admission that holds nothing (a limiter that is closed, or has nothing to count). */
export const UNCOUNTED: AddressAdmission = { refusal: null, release: () => Promise.resolve() };

/**
 * Several relays in one process sharing one `PerIpLimits`: one process is one count. For tests
 * (the contract suite's reference); a relay process uses its `PerIpLimits` directly.
 */
export class InProcessAddressLimits {
  private readonly limits: PerIpLimits;

  constructor(limits: AddressLimits & { readonly now?: () => number }) {
    this.limits = new PerIpLimits(limits);
  }

  /** A relay's limiter on the shared count. */
  connect(): AddressLimiter {
    const limits = this.limits;
    const held = new Set<{ address: string }>();
    let closed = false;
    return {
      admit: (address) => {
        if (closed) return Promise.resolve(UNCOUNTED);
        const refusal = limits.admit(address);
        if (refusal) return Promise.resolve({ refusal });
        const slot = { address };
        held.add(slot);
        return Promise.resolve({
          refusal: null,
          release: () => {
            if (held.delete(slot)) limits.release(address);
            return Promise.resolve();
          },
        });
      },
      close: () => {
        closed = true;
        for (const slot of held) limits.release(slot.address);
        held.clear();
        return Promise.resolve();
      },
    };
  }
}
