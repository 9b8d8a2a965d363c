/**
 * CLOSE-7: limits per client address (./clientAddress.ts says which address an upgrade counts
 * under). Every other limit is per connection (RATE-1, AWR-7, …) and starts afresh when a client
 * reconnects, and MAX_CONNECTIONS is one pool for everybody: without these, one address could
 * hold every websocket of the relay and reset its allowances by reconnecting.
 *
 * - `maxConnections`: websockets one address may hold, counted from the upgrade's admission (so a
 *   burst of concurrent upgrades cannot all pass on the same count, as in CLOSE-3) until the
 *   socket closes or the upgrade fails.
 * - `maxUpgradesPerMinute`: upgrade attempts one address may make, refused or not: a token bucket
 *   holding that many, refilled at that many per minute.
 * - TCP connections one peer may hold: `maxConnections` + `SOCKET_HEADROOM_PER_IP`, counted from
 *   accept to close, whatever they carry (a websocket, page loads, nothing yet: CLOSE-6's idle
 *   sockets). Without it one address could take every socket CLOSE-6 allows and lock everybody
 *   out without ever upgrading. Not for a trusted proxy's own sockets (they carry everybody's).
 *
 * Memory: an address has an entry only while it holds a connection or attempted an upgrade less
 * than a minute ago (after a minute its bucket is full again, the same as a new one). An entry is
 * dropped on its last `release` when nothing else keeps it, else by `sweep`. Addresses are cheap
 * to an attacker with IPv6 (a /48 holds 65,536 /64s), so entries are also capped at
 * `MAX_TRACKED_ADDRESSES`: at the cap, the oldest entries kept only by attempts are forgotten
 * (those addresses start afresh, as they would a minute later) down to 90 % of it. Entries that
 * hold connections or sockets are never forgotten; there are at most as many as the server's
 * sockets (CLOSE-6), far below the cap.
 *
 * All of this is per process. In scale-out mode the relay checks these counts first, then the
 * websockets and attempts again across every relay on the Redis (./redisAddressLimiter.ts,
 * REDIS-11); sockets stay per process.
 */
import { UpgradeRefusal } from '../shared/protocol.js';
import { TokenBucket } from './tokenBucket.js';

type Refusal = (typeof UpgradeRefusal)[keyof typeof UpgradeRefusal];

const MINUTE_MS = 60_000;

/** About 30 MB of bookkeeping at most. */
export const MAX_TRACKED_ADDRESSES = 100_000;

/** Sockets one address may hold beyond its websockets: a browser's page and asset loads (about 6 per origin) in a few tabs. */
export const SOCKET_HEADROOM_PER_IP = 32;

export interface PerIpLimitsOptions {
  /** Websockets one address may hold (0 = no limit). */
  readonly maxConnections: number;
  /** Upgrade attempts one address may make per minute (0 = no limit). */
  readonly maxUpgradesPerMinute: number;
  /** Entries kept at most (`MAX_TRACKED_ADDRESSES` unless a test sets a smaller one). */
  readonly maxEntries?: number;
  /** Milliseconds; `Date.now` unless a test drives the clock. */
  readonly now?: () => number;
}

interface Entry {
  connections: number;
  sockets: number;
  /** null when attempts are not limited. */
  readonly attempts: TokenBucket | null;
  lastAttemptAt: number;
}

export class PerIpLimits {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly opts: PerIpLimitsOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Addresses with an entry (for `/metrics`: the bookkeeping stays bounded). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * An upgrade attempt from `address` (null = not counted, see clientAddress.ts). null = allowed:
   * the address then holds one more connection until `release(address)`.
   */
  admit(address: string | null): Refusal | null {
    const { maxConnections, maxUpgradesPerMinute } = this.opts;
    if (address === null || (maxConnections === 0 && maxUpgradesPerMinute === 0)) return null;
    const now = this.now();
    const entry = this.entryFor(address, now);
    entry.lastAttemptAt = now;
    if (entry.attempts && !entry.attempts.take(1, now)) return UpgradeRefusal.TooManyUpgradesPerIp;
    if (maxConnections !== 0 && entry.connections >= maxConnections) return UpgradeRefusal.TooManyConnectionsPerIp;
    entry.connections++;
    return null;
  }

  /** The connection `admit` allowed has closed, or its upgrade failed. Call once per allowed `admit`. */
  release(address: string | null): void {
    this.decrement(address, 'connections');
  }

  /**
   * A TCP connection from peer `address` was accepted (null = not counted). false: over
   * `maxConnections` + `SOCKET_HEADROOM_PER_IP`, to be closed at once; true: counted until
   * `socketClosed(address)`.
   */
  socketOpened(address: string | null): boolean {
    const { maxConnections } = this.opts;
    if (address === null || maxConnections === 0) return true;
    const entry = this.entryFor(address, this.now());
    if (entry.sockets >= maxConnections + SOCKET_HEADROOM_PER_IP) return false;
    entry.sockets++;
    return true;
  }

  /** Call once per `socketOpened` that returned true, when that socket closes. */
  socketClosed(address: string | null): void {
    this.decrement(address, 'sockets');
  }

  /** Never below 0: a release with nothing held must not make room beyond the limit. */
  private decrement(address: string | null, count: 'connections' | 'sockets'): void {
    const entry = address === null ? undefined : this.entries.get(address);
    if (!entry || entry[count] === 0) return;
    entry[count]--;
    this.dropIfIdle(address!, entry, this.now());
  }

  /** Drops the entries nothing keeps any more (attempts older than a minute, no connection). */
  sweep(): void {
    const now = this.now();
    for (const [address, entry] of this.entries) this.dropIfIdle(address, entry, now);
  }

  private entryFor(address: string, now: number): Entry {
    let entry = this.entries.get(address);
    if (!entry) {
      if (this.entries.size >= (this.opts.maxEntries ?? MAX_TRACKED_ADDRESSES)) this.forgetOldest();
      const max = this.opts.maxUpgradesPerMinute;
      // No attempt yet (-Infinity): nothing but its connections and sockets keeps the entry.
      entry = {
        connections: 0,
        sockets: 0,
        attempts: max === 0 ? null : new TokenBucket(max / 60, max, now),
        lastAttemptAt: -Infinity,
      };
      this.entries.set(address, entry);
    }
    return entry;
  }

  /** At the cap: the oldest entries kept only by attempts go, down to 90 % of it (Maps iterate oldest first). */
  private forgetOldest(): void {
    const target = Math.floor((this.opts.maxEntries ?? MAX_TRACKED_ADDRESSES) * 0.9);
    for (const [address, entry] of this.entries) {
      if (this.entries.size <= target) return;
      if (entry.connections === 0 && entry.sockets === 0) this.entries.delete(address);
    }
  }

  private dropIfIdle(address: string, entry: Entry, now: number): void {
    if (entry.connections > 0 || entry.sockets > 0) return;
    if (entry.attempts && now - entry.lastAttemptAt < MINUTE_MS) return;
    this.entries.delete(address);
  }
}
