/**
 * CLOSE-7: the address an upgrade is counted under by the per-IP limits (./perIpLimits.ts).
 *
 * - It is the TCP peer's address, or, when the peer is one of the trusted proxies (TRUST_PROXY),
 *   the last hop of its `X-Forwarded-For`: the address that proxy saw. Earlier hops were written
 *   by whoever sent the request and prove nothing; from any other peer the header is ignored, so
 *   a client cannot pick its own address.
 * - While no proxy is trusted, loopback peers are not counted (null): a reverse proxy on the same
 *   host makes every client 127.0.0.1, and one count for all of them would cap the whole relay at
 *   MAX_CONNECTIONS_PER_IP. Only processes on the relay's own host have a loopback address.
 * - An IPv6 address counts as its /64: a host is usually given a whole /64 and picks addresses in
 *   it at will, as one IPv4 NAT address stands for all of a LAN.
 * - IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack listener reports) is the IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The eight 16-bit groups of a valid IPv6 address (its zone id dropped). */
const ipv6Groups = (address: string): number[] => {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const plain = address.split('%', 1)[0]!;
  const gap = plain.indexOf('::');
  if (gap < 0) return groups(plain);
  const head = groups(plain.slice(0, gap));
  const tail = groups(plain.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
};

/**
 * One spelling per address (IPv4 dotted, IPv6 as eight lower-case hex groups, IPv4-mapped IPv6
 * as IPv4), or null when `text` is not an IP address.
 */
export const canonicalAddress = (text: string): string | null => {
  const t = text.trim();
  if (isIPv4(t)) return t;
  if (!isIPv6(t)) return null;
  const g = ipv6Groups(t);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  }
  return g.map((x) => x.toString(16)).join(':');
};

const isLoopback = (canonical: string): boolean => canonical.startsWith('127.') || canonical === '0:0:0:0:0:0:0:1';

/** The key a canonical address is counted under: IPv4 itself, IPv6 its /64. */
const countedAs = (canonical: string): string =>
  canonical.includes(':') ? canonical.split(':').slice(0, 4).join(':') + '::/64' : canonical;

/** `[v6]`, `[v6]:port` and `v4:port` (some load balancers add the client's port) as the address alone. */
const withoutPort = (hop: string): string => {
  const t = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(t);
  if (bracketed) return bracketed[1]!;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(t);
  return v4 ? v4[1]! : t;
};

/** The last address of an `X-Forwarded-For` header (Node joins repeated headers with ", "). */
const lastHop = (header: string | readonly string[] | undefined): string | null => {
  if (header === undefined) return null;
  const hops = (typeof header === 'string' ? header : header.join(',')).split(',');
  return canonicalAddress(withoutPort(hops[hops.length - 1]!));
};

/**
 * The key the per-IP limits count this upgrade under, or null when it is not counted.
 * `trustedProxies` holds canonical addresses (`canonicalAddress`).
 */
export const clientAddress = (
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trustedProxies: ReadonlySet<string>,
): string | null => {
  const from = peer === undefined ? null : canonicalAddress(peer);
  // No peer address: the socket is gone already, and the upgrade will fail anyway.
  if (from === null) return null;
  if (trustedProxies.size === 0) return isLoopback(from) ? null : countedAs(from);
  // A trusted proxy that sent no usable header is counted as itself.
  const forwarded = trustedProxies.has(from) ? lastHop(forwardedFor) : null;
  return countedAs(forwarded ?? from);
};
