/** CLOSE-7: which address an upgrade is counted under (relay/clientAddress.ts). */
import { describe, expect, it } from 'vitest';
import { addressRange, canonicalAddress, clientAddress, inRanges, type AddressRange } from './clientAddress.js';

const range = (entry: string): AddressRange => {
  const r = addressRange(entry);
  if (typeof r === 'string') throw new Error(`${entry} ${r}`);
  return r;
};
const none: readonly AddressRange[] = [];
const trusting = (...proxies: string[]): readonly AddressRange[] => proxies.map(range);

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

  it('CLOSE-7: behind a chain of trusted proxies (a CDN, then nginx), the nearest hop no trusted proxy stands for is counted', () => {
    const proxies = trusting('127.0.0.1', '203.0.113.0/24');
    // client 198.51.100.7 → CDN edge 203.0.113.5 → nginx on the relay's host.
    expect(clientAddress('127.0.0.1', '198.51.100.7, 203.0.113.5', proxies)).toBe('198.51.100.7');
    // What the client wrote itself, before the CDN's hop, still counts for nothing.
    expect(clientAddress('127.0.0.1', '10.9.9.9, 198.51.100.7, 203.0.113.5', proxies)).toBe('198.51.100.7');
    expect(clientAddress('127.0.0.1', ['10.9.9.9, 198.51.100.8', '203.0.113.5'], proxies)).toBe('198.51.100.8');
    // Every hop a trusted proxy: the earliest of them.
    expect(clientAddress('127.0.0.1', '203.0.113.7, 203.0.113.5', proxies)).toBe('203.0.113.7');
    // An unreadable hop stops the walk at the trusted one after it.
    expect(clientAddress('127.0.0.1', '198.51.100.7, unknown, 203.0.113.5', proxies)).toBe('203.0.113.5');
    // The CDN's range not listed: its edge is the client, as before.
    expect(clientAddress('127.0.0.1', '198.51.100.7, 203.0.113.5', trusting('127.0.0.1'))).toBe('203.0.113.5');
  });
});

describe('addressRange and inRanges', () => {
  it.each([
    // IPv4: the range's own edges in, the neighbours on either side out.
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '9.255.255.255', false],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['172.16.0.0/12', '172.31.255.254', true],
    ['172.16.0.0/12', '172.32.0.1', false],
    ['127.0.0.0/29', '127.0.0.7', true],
    ['127.0.0.0/29', '127.0.0.8', false],
    ['192.0.2.7/32', '192.0.2.7', true],
    ['192.0.2.7/32', '192.0.2.6', false],
    ['192.0.2.7', '192.0.2.7', true],
    ['192.0.2.7', '192.0.2.8', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    // IPv4-mapped IPv6, as a dual-stack listener reports an IPv4 peer, is matched as IPv4.
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:a01:203', true],
    ['10.0.0.0/8', '::ffff:11.1.2.3', false],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::ffff:10.0.0.0/104', '11.1.2.3', false],
    ['::ffff:0.0.0.0/96', '203.0.113.1', true],
    ['::ffff:10.1.2.3', '10.1.2.3', true],
    // IPv6: spelled any way, matched by bits.
    ['fd00::/8', 'fd12:3456::1', true],
    ['fd00::/8', 'FDFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF', true],
    ['fd00::/8', 'fc00::1', false],
    ['fd00::/8', 'fe00::', false],
    ['2001:db8:0:1::/64', '2001:db8:0:1:ffff:ffff:ffff:ffff', true],
    ['2001:db8:0:1::/64', '2001:db8:0:2::', false],
    ['2001:db8::1/128', '2001:0db8:0:0:0:0:0:1', true],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['::1', '::1', true],
    ['::/0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    // An IPv4 peer is IPv4, whatever an IPv6 range spans.
    ['::/0', '::ffff:10.1.2.3', false],
    ['::/0', '10.1.2.3', false],
  ])('CLOSE-7: %s holds %s: %s', (entry, peer, expected) => {
    expect(inRanges(canonicalAddress(peer)!, [range(entry)])).toBe(expected);
  });

  it('CLOSE-7: a peer is trusted when any of the ranges holds it, IPv4 and IPv6 mixed', () => {
    const ranges = trusting('10.0.0.0/8', 'fd00::/8', '192.0.2.7');
    for (const peer of ['10.9.9.9', '::ffff:10.9.9.9', 'fd00::9', '192.0.2.7']) {
      expect(inRanges(canonicalAddress(peer)!, ranges), peer).toBe(true);
    }
    for (const peer of ['11.0.0.0', 'fe00::', '192.0.2.8', '::ffff:192.0.2.8']) {
      expect(inRanges(canonicalAddress(peer)!, ranges), peer).toBe(false);
    }
    expect(inRanges('10.0.0.1', none)).toBe(false);
  });

  it.each([
    ['proxy.example.org', /is not an IP address or CIDR range/],
    ['10.0.0.0/', /prefix length that is not 0–32/],
    ['10.0.0.0/33', /prefix length that is not 0–32/],
    ['10.0.0.0/-1', /prefix length that is not 0–32/],
    ['10.0.0.0/08', /prefix length that is not 0–32/],
    ['10.0.0.0/8/8', /prefix length that is not 0–32/],
    ['10.0.0.0/ 8', /prefix length that is not 0–32/],
    ['fd00::/129', /prefix length that is not 0–128/],
    ['::ffff:10.0.0.0/129', /prefix length that is not 0–128/],
    ['::ffff:0.0.0.0/95', /covers more than IPv4-mapped addresses/],
    ['10.0.0.0.0/8', /is not an IP address/],
    ['/8', /is not an IP address/],
    ['10/8', /is not an IP address/],
    // Host bits set: refused, naming the range it would be and how to write one address.
    ['10.0.0.1/8', /host bits set \(the range is 10\.0\.0\.0\/8; one address is \/32\)/],
    ['172.17.0.1/16', /the range is 172\.17\.0\.0\/16/],
    ['fd00::1/8', /host bits set \(the range is fd00:0:0:0:0:0:0:0\/8; one address is \/128\)/],
    ['::ffff:10.0.0.1/104', /the range is 10\.0\.0\.0\/8/],
    ['0.0.0.1/0', /the range is 0\.0\.0\.0\/0/],
  ])('CLOSE-7: refuses %s, saying why', (entry, why) => {
    const r = addressRange(entry);
    expect(typeof r, entry).toBe('string');
    expect(r).toMatch(why);
  });

  it('CLOSE-7: a single address is its /32 or /128', () => {
    expect(addressRange('192.0.2.1')).toEqual({ family: 4, network: 0xc0000201n, prefix: 32 });
    expect(addressRange('::ffff:192.0.2.1')).toEqual({ family: 4, network: 0xc0000201n, prefix: 32 });
    expect(addressRange('::1')).toEqual({ family: 6, network: 1n, prefix: 128 });
    expect(addressRange('0.0.0.0/0')).toEqual({ family: 4, network: 0n, prefix: 0 });
  });
});

describe('clientAddress behind a range (CLOSE-7)', () => {
  it('CLOSE-7: from any peer of a trusted range the last hop is counted; from a neighbour the header is ignored', () => {
    const proxies = trusting('172.16.0.0/12', 'fd00::/8');
    expect(clientAddress('172.17.0.2', '198.51.100.7', proxies)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:172.31.255.255', '203.0.113.9, 198.51.100.8', proxies)).toBe('198.51.100.8');
    expect(clientAddress('fd00:1::5', '[2001:db8:1:2::9]:443', proxies)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('172.32.0.1', '198.51.100.7', proxies)).toBe('172.32.0.1');
    expect(clientAddress('fe00::1', '198.51.100.7', proxies)).toBe('fe00:0:0:0::/64');
    // No usable header: counted as the proxy itself; and loopback counts once any range is trusted.
    expect(clientAddress('172.17.0.2', undefined, proxies)).toBe('172.17.0.2');
    expect(clientAddress('127.0.0.1', '198.51.100.7', proxies)).toBe('127.0.0.1');
  });
});
