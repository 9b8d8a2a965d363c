/** CLOSE-7: the per-address counts of relay/perIpLimits.ts, on a clock the test drives. */
import { describe, expect, it } from 'vitest';
import { UpgradeRefusal } from '../shared/protocol.js';
import { PerIpLimits, SOCKET_HEADROOM_PER_IP } from './perIpLimits.js';

const clock = (): { now: () => number; advance: (ms: number) => void } => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
};

describe('PerIpLimits', () => {
  it('CLOSE-7: an address holds at most maxConnections; a release admits the next one; addresses count apart', () => {
    const limits = new PerIpLimits({ maxConnections: 2, maxUpgradesPerMinute: 0 });
    expect(limits.admit('192.0.2.1')).toBeNull();
    expect(limits.admit('192.0.2.1')).toBeNull();
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyConnectionsPerIp);
    expect(limits.admit('192.0.2.2')).toBeNull();
    limits.release('192.0.2.1');
    expect(limits.admit('192.0.2.1')).toBeNull();
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyConnectionsPerIp);
  });

  it('CLOSE-7: an entry lives only while its address holds a connection', () => {
    const limits = new PerIpLimits({ maxConnections: 2, maxUpgradesPerMinute: 0 });
    for (let i = 0; i < 100; i++) expect(limits.admit(`10.0.${i >> 8}.${i & 255}`)).toBeNull();
    expect(limits.admit('10.0.0.0')).toBeNull();
    expect(limits.size).toBe(100);
    for (let i = 0; i < 100; i++) limits.release(`10.0.${i >> 8}.${i & 255}`);
    expect(limits.size).toBe(1);
    limits.release('10.0.0.0');
    expect(limits.size).toBe(0);
    // A release with nothing held changes nothing (never a negative count that would admit more).
    limits.release('10.0.0.0');
    limits.release(null);
    expect(limits.admit('10.0.0.0')).toBeNull();
    expect(limits.admit('10.0.0.0')).toBeNull();
    expect(limits.admit('10.0.0.0')).toBe(UpgradeRefusal.TooManyConnectionsPerIp);
  });

  it('CLOSE-7: uncounted upgrades (null) and limits of 0 are always admitted and keep no entry', () => {
    const limits = new PerIpLimits({ maxConnections: 1, maxUpgradesPerMinute: 1 });
    for (let i = 0; i < 5; i++) expect(limits.admit(null)).toBeNull();
    expect(limits.size).toBe(0);
    const off = new PerIpLimits({ maxConnections: 0, maxUpgradesPerMinute: 0 });
    for (let i = 0; i < 5; i++) expect(off.admit('192.0.2.1')).toBeNull();
    expect(off.size).toBe(0);
  });

  it('CLOSE-7: an address makes at most maxUpgradesPerMinute attempts a minute, refilled evenly', () => {
    const c = clock();
    const limits = new PerIpLimits({ maxConnections: 0, maxUpgradesPerMinute: 3, now: c.now });
    for (let i = 0; i < 3; i++) {
      expect(limits.admit('192.0.2.1')).toBeNull();
      limits.release('192.0.2.1');
    }
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyUpgradesPerIp);
    expect(limits.admit('192.0.2.2')).toBeNull();
    // Refilled evenly: one attempt per 20 s.
    c.advance(19_999);
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyUpgradesPerIp);
    c.advance(1);
    expect(limits.admit('192.0.2.1')).toBeNull();
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyUpgradesPerIp);
  });

  it('CLOSE-7: an attempt refused for the connection limit uses up an attempt too', () => {
    const limits = new PerIpLimits({ maxConnections: 1, maxUpgradesPerMinute: 2, now: clock().now });
    expect(limits.admit('192.0.2.1')).toBeNull();
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyConnectionsPerIp);
    limits.release('192.0.2.1');
    expect(limits.admit('192.0.2.1')).toBe(UpgradeRefusal.TooManyUpgradesPerIp);
  });

  it('CLOSE-7: an entry kept by recent attempts is swept a minute after the last one', () => {
    const c = clock();
    const limits = new PerIpLimits({ maxConnections: 4, maxUpgradesPerMinute: 10, now: c.now });
    expect(limits.admit('192.0.2.1')).toBeNull();
    expect(limits.admit('192.0.2.2')).toBeNull();
    limits.release('192.0.2.1');
    limits.release('192.0.2.2');
    expect(limits.size).toBe(2);
    c.advance(30_000);
    expect(limits.admit('192.0.2.2')).toBeNull(); // held: never swept while connected
    c.advance(30_000);
    limits.sweep();
    expect(limits.size).toBe(1);
    c.advance(60_000);
    limits.sweep();
    expect(limits.size).toBe(1);
    // Its last release, a minute after its last attempt, drops it at once.
    limits.release('192.0.2.2');
    expect(limits.size).toBe(0);
    // A fresh entry starts with a full allowance, as the dropped one had again.
    for (let i = 0; i < 4; i++) expect(limits.admit('192.0.2.1')).toBeNull();
  });

  it('CLOSE-7: an address holds at most maxConnections + SOCKET_HEADROOM_PER_IP sockets, upgraded or not; entries kept by sockets go with them', () => {
    const limits = new PerIpLimits({ maxConnections: 2, maxUpgradesPerMinute: 10, now: clock().now });
    const cap = 2 + SOCKET_HEADROOM_PER_IP;
    for (let i = 0; i < cap; i++) expect(limits.socketOpened('192.0.2.1')).toBe(true);
    expect(limits.socketOpened('192.0.2.1')).toBe(false);
    expect(limits.socketOpened('192.0.2.2')).toBe(true);
    // Sockets and websockets count apart: a held socket does not use up an upgrade.
    expect(limits.admit('192.0.2.1')).toBeNull();
    limits.socketClosed('192.0.2.1');
    expect(limits.socketOpened('192.0.2.1')).toBe(true);
    expect(limits.size).toBe(2);
    // An address that only opened sockets (no attempt) is dropped with its last one.
    limits.socketClosed('192.0.2.2');
    expect(limits.size).toBe(1);
    // Closing more than was opened never makes room beyond the cap.
    limits.socketClosed('192.0.2.2');
    for (let i = 0; i < cap; i++) expect(limits.socketOpened('192.0.2.2')).toBe(true);
    expect(limits.socketOpened('192.0.2.2')).toBe(false);
    // Uncounted peers (null) and no connection limit: always accepted, no entry.
    const off = new PerIpLimits({ maxConnections: 0, maxUpgradesPerMinute: 10 });
    for (let i = 0; i < 1000; i++) expect(off.socketOpened('192.0.2.1') && limits.socketOpened(null)).toBe(true);
    expect(off.size).toBe(0);
  });

  it('CLOSE-7: at most maxEntries addresses are tracked; the oldest kept only by attempts are forgotten first', () => {
    const limits = new PerIpLimits({ maxConnections: 2, maxUpgradesPerMinute: 1, maxEntries: 100, now: clock().now });
    // Two addresses holding a connection, then many that only tried (their one attempt used up).
    expect(limits.admit('198.51.100.1')).toBeNull();
    expect(limits.socketOpened('198.51.100.2')).toBe(true);
    const tried = (i: number): string => `2001:db8:${i.toString(16)}::/64`;
    for (let i = 0; i < 1_000; i++) {
      expect(limits.admit(tried(i))).toBeNull();
      limits.release(tried(i)); // closed at once: the entry stays for its attempt
      expect(limits.size).toBeLessThanOrEqual(100);
    }
    // The holders are kept; the newest of the others are still limited, the oldest start afresh.
    expect(limits.admit('198.51.100.1')).toBe(UpgradeRefusal.TooManyUpgradesPerIp);
    expect(limits.socketOpened('198.51.100.2')).toBe(true);
    expect(limits.admit(tried(999))).toBe(UpgradeRefusal.TooManyUpgradesPerIp);
    expect(limits.admit(tried(0))).toBeNull();
  });
});
