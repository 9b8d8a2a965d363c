/** CLOSE-7: which address an upgrade is counted under (relay/clientAddress.ts). */
import { describe, expect, it } from 'vitest';
import { canonicalAddress, clientAddress } from './clientAddress.js';

const none: ReadonlySet<string> = new Set();
const trusting = (...proxies: string[]): ReadonlySet<string> => new Set(proxies.map((p) => canonicalAddress(p)!));

describe('canonicalAddress', () => {
  it('spells each address one way, and refuses what is not an IP address', () => {
    expect(canonicalAddress(' 10.0.0.1 ')).toBe('10.0.0.1');
    expect(canonicalAddress('::1')).toBe('0:0:0:0:0:0:0:1');
    expect(canonicalAddress('0:0:0:0:0:0:0:1')).toBe('0:0:0:0:0:0:0:1');
    expect(canonicalAddress('2001:DB8::a:0:1')).toBe('2001:db8:0:0:0:a:0:1');
    expect(canonicalAddress('1::2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7');
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80:0:0:0:0:0:0:1');
    expect(canonicalAddress('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0:0:0:c000:221');
    // IPv4-mapped IPv6, as a dual-stack listener reports an IPv4 peer.
    expect(canonicalAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('::ffff:c000:201')).toBe('192.0.2.1');
    for (const bad of ['', 'unknown', 'proxy.example.org', '10.0.0.0/8', '1.2.3.4:80', '[::1]', '01.2.3.4']) {
      expect(canonicalAddress(bad), bad).toBeNull();
    }
  });
});

describe('clientAddress', () => {
  it('CLOSE-7: without trusted proxies the peer is counted, loopback is not, and X-Forwarded-For is ignored', () => {
    expect(clientAddress('192.0.2.1', undefined, none)).toBe('192.0.2.1');
    expect(clientAddress('::ffff:192.0.2.1', '198.51.100.7', none)).toBe('192.0.2.1');
    expect(clientAddress('127.0.0.1', '198.51.100.7', none)).toBeNull();
    expect(clientAddress('127.8.9.10', undefined, none)).toBeNull();
    expect(clientAddress('::1', undefined, none)).toBeNull();
    expect(clientAddress('::ffff:127.0.0.1', undefined, none)).toBeNull();
    expect(clientAddress(undefined, '198.51.100.7', none)).toBeNull();
  });

  it('CLOSE-7: an IPv6 client is counted as its /64', () => {
    const a = clientAddress('2001:db8:1:2:aaaa::1', undefined, none);
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8:1:2:bbbb:cccc:dddd:eeee', undefined, none)).toBe(a);
    expect(clientAddress('2001:db8:1:3::1', undefined, none)).not.toBe(a);
  });

  it('CLOSE-7: from a trusted proxy, the last hop of X-Forwarded-For is counted; other hops are the sender’s word', () => {
    const proxies = trusting('127.0.0.1', '::1');
    expect(clientAddress('127.0.0.1', '198.51.100.7', proxies)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:127.0.0.1', '203.0.113.9, 198.51.100.7', proxies)).toBe('198.51.100.7');
    expect(clientAddress('::1', ['203.0.113.9', '198.51.100.8'], proxies)).toBe('198.51.100.8');
    expect(clientAddress('127.0.0.1', '2001:db8:1:2::9', proxies)).toBe('2001:db8:1:2::/64');
    // A port some load balancers add, and IPv6 in brackets, are the address alone.
    expect(clientAddress('127.0.0.1', '198.51.100.7:51234', proxies)).toBe('198.51.100.7');
    expect(clientAddress('127.0.0.1', '[2001:db8:1:2::9]:443', proxies)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('127.0.0.1', ' [2001:db8:1:3::9] ', proxies)).toBe('2001:db8:1:3::/64');
    expect(clientAddress('127.0.0.1', '198.51.100.7:99999999', proxies)).toBe('127.0.0.1');
    // No usable header: counted as the proxy itself (loopback is counted once a proxy is trusted).
    expect(clientAddress('127.0.0.1', undefined, proxies)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.7, unknown', proxies)).toBe('127.0.0.1');
    // Not a trusted proxy: the header is ignored, loopback included.
    expect(clientAddress('192.0.2.1', '198.51.100.7', proxies)).toBe('192.0.2.1');
    expect(clientAddress('127.0.0.2', '198.51.100.7', proxies)).toBe('127.0.0.2');
  });
});
