// IPv4 addresses and CIDR blocks as the gateway uses them: strict dotted quads,
// canonical networks (no host bits), and interval arithmetic for overlap checks.
// Parsing is delegated to ipaddr.js; only the interval view is ours.
import ipaddr from 'ipaddr.js';

export interface Cidr {
  /** Canonical text, e.g. "198.18.0.0/16". */
  readonly text: string;
  /** First address as an unsigned 32-bit integer. */
  readonly first: number;
  /** Last address as an unsigned 32-bit integer. */
  readonly last: number;
  readonly prefix: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function isIPv6(text: string): boolean {
  return ipaddr.IPv6.isValid(text);
}

export function ipv4ToInt(text: string): number {
  const [a, b, c, d] = ipaddr.IPv4.parse(text).octets as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function intToIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseIPv4(text: string): Parsed<string> {
  const t = text.trim();
  if (!isIPv4(t)) return { ok: false, error: `"${text}" is not an IPv4 address` };
  return { ok: true, value: t };
}

/**
 * Parses an IPv4 CIDR. A block with host bits set ("10.0.0.1/16") is refused
 * with the canonical form suggested: the kernel and EC2 both reject it.
 */
export function parseCidr(text: string): Parsed<Cidr> {
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0 || !isIPv4(t.slice(0, slash)) || !/^(3[0-2]|[12]?\d)$/.test(t.slice(slash + 1))) {
    return { ok: false, error: `"${text}" is not an IPv4 CIDR (want a.b.c.d/n)` };
  }
  const prefix = Number(t.slice(slash + 1));
  const base = ipv4ToInt(t.slice(0, slash));
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = (base & mask) >>> 0;
  if (first !== base) {
    return { ok: false, error: `"${text}" has host bits set (did you mean ${intToIPv4(first)}/${prefix}?)` };
  }
  const last = (first | (~mask >>> 0)) >>> 0;
  return { ok: true, value: { text: `${intToIPv4(first)}/${prefix}`, first, last, prefix } };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function containsIp(cidr: Cidr, ip: string): boolean {
  const n = ipv4ToInt(ip);
  return n >= cidr.first && n <= cidr.last;
}

/**
 * Pairs of overlapping blocks in a list, found by sorting on the first address
 * (O(n log n), so 5,000 nodes' CIDRs are checked in milliseconds).
 */
export function findOverlaps<T>(items: readonly T[], cidrOf: (item: T) => Cidr): Array<[T, T]> {
  const sorted = [...items].sort((x, y) => cidrOf(x).first - cidrOf(y).first || cidrOf(y).last - cidrOf(x).last);
  const pairs: Array<[T, T]> = [];
  let widest: T | undefined;
  for (const item of sorted) {
    if (widest !== undefined && cidrOf(item).first <= cidrOf(widest).last) {
      pairs.push([widest, item]);
      if (cidrOf(item).last > cidrOf(widest).last) widest = item;
    } else {
      widest = item;
    }
  }
  return pairs;
}

/** The VTEP MAC of a hybrid node: 02:00 then the four address bytes (locally administered). */
export function vtepMacForNode(ip: string): string {
  const octets = ipaddr.IPv4.parse(ip).octets;
  return ['02', '00', ...octets.map((o) => o.toString(16).padStart(2, '0'))].join(':');
}
