/**
 * CLOSE-7: the address an upgrade is counted under by the per-IP limits (./perIpLimits.ts).
 *
 * - It is the TCP peer's address, or, when the peer is one of the trusted proxies (TRUST_PROXY),
 *   the address its `X-Forwarded-For` says that proxy saw (the last hop), and while that hop is a
 *   trusted proxy too (a CDN in front of nginx, both listed), the hop before it: the nearest
 *   address no trusted proxy stands for. Hops before that were written by whoever sent the
 *   request and prove nothing; from any other peer the header is ignored, so a client cannot pick
 *   its own address. An unreadable hop ends the walk at the trusted address after it.
 * - While no proxy is trusted, loopback peers are not counted (null): a reverse proxy on the same
 *   host makes every client 127.0.0.1, and one count for all of them would cap the whole relay at
 *   MAX_CONNECTIONS_PER_IP. Only processes on the relay's own host have a loopback address.
 * - An IPv6 address counts as its /64: a host is usually given a whole /64 and picks addresses in
 *   it at will, as one IPv4 NAT address stands for all of a LAN.
 * - IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack listener reports) is the IPv4 address.
 * - TRUST_PROXY entries are addresses or CIDR ranges (`addressRange`): proxies sit in a subnet
 *   (a Docker bridge, a Kubernetes pod range, a load balancer pool) whose members come and go.
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

/**
 * A TRUST_PROXY entry: the addresses whose first `prefix` bits are `network`'s. A single address
 * is its /32 or /128. IPv4 peers, IPv4-mapped ones included, match IPv4 ranges only, as they are
 * counted as IPv4.
 */
export interface AddressRange {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
}

const widthOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

/** A canonical address (`canonicalAddress`) as its family and number. */
const numbered = (canonical: string): { family: 4 | 6; value: bigint } =>
  canonical.includes(':')
    ? { family: 6, value: canonical.split(':').reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) }
    : { family: 4, value: canonical.split('.').reduce((n, o) => (n << 8n) | BigInt(o), 0n) };

/** The canonical spelling of `value`, for the error that suggests a range's network. */
const spelled = (family: 4 | 6, value: bigint): string =>
  family === 4
    ? [24n, 16n, 8n, 0n].map((s) => (value >> s) & 0xffn).join('.')
    : Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');

/**
 * The range an `address` or `address/prefix` entry stands for, or why it stands for none. An
 * entry with host bits set (`10.0.0.1/8`) is refused rather than read as its network: it is as
 * likely a single address with a stray prefix (an interface's `ip addr` line pasted), and a
 * guess here would widen whom the relay believes. `::ffff:a.b.c.d/n` is the IPv4 range /(n − 96).
 */
export const addressRange = (entry: string): AddressRange | string => {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const canonical = canonicalAddress(address);
  if (canonical === null) return 'is not an IP address or CIDR range';
  const { family, value } = numbered(canonical);
  const width = widthOf(family);
  if (slash < 0) return { family, network: value, prefix: width };
  const prefixText = entry.slice(slash + 1);
  // Written as IPv4-mapped IPv6 but canonical as IPv4: its prefix counts the 96 bits of `::ffff:`.
  const mapped = family === 4 && address.includes(':');
  const written = mapped ? 128 : width;
  if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > written) {
    return `has a prefix length that is not 0–${written}`;
  }
  const prefix = Number(prefixText) - (mapped ? 96 : 0);
  if (prefix < 0) return 'covers more than IPv4-mapped addresses: list IPv4 and IPv6 ranges apart';
  const hostBits = (1n << BigInt(width - prefix)) - 1n;
  if ((value & hostBits) !== 0n) {
    return `has host bits set (the range is ${spelled(family, value & ~hostBits)}/${prefix}; one address is /${width})`;
  }
  return { family, network: value, prefix };
};

/** True when the canonical address `canonical` is in one of `ranges`. */
export const inRanges = (canonical: string, ranges: readonly AddressRange[]): boolean => {
  const { family, value } = numbered(canonical);
  return ranges.some((r) => {
    if (r.family !== family) return false;
    const hostWidth = BigInt(widthOf(family) - r.prefix);
    return value >> hostWidth === r.network >> hostWidth;
  });
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

/**
 * Walking an `X-Forwarded-For` header (Node joins repeated headers with ", ") from its last hop:
 * the first address that is not a trusted proxy, else the last trusted one read (`from`, the peer,
 * when the header is missing or its last hop unreadable).
 */
const forwardedClient = (
  from: string,
  header: string | readonly string[] | undefined,
  trustedProxies: readonly AddressRange[],
): string => {
  if (header === undefined) return from;
  const hops = (typeof header === 'string' ? header : header.join(',')).split(',');
  let nearest = from;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = canonicalAddress(withoutPort(hops[i]!));
    if (hop === null) return nearest;
    if (!inRanges(hop, trustedProxies)) return hop;
    nearest = hop;
  }
  return nearest;
};

/** The key the per-IP limits count this upgrade under, or null when it is not counted. */
export const clientAddress = (
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trustedProxies: readonly AddressRange[],
): string | null => {
  const from = peer === undefined ? null : canonicalAddress(peer);
  // No peer address: the socket is gone already, and the upgrade will fail anyway.
  if (from === null) return null;
  if (trustedProxies.length === 0) return isLoopback(from) ? null : countedAs(from);
  // A trusted proxy that sent no usable header is counted as itself.
  return countedAs(inRanges(from, trustedProxies) ? forwardedClient(from, forwardedFor, trustedProxies) : from);
};
