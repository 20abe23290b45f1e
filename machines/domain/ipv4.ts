// IPv4 addresses and CIDR blocks as the gateway uses them: strict dotted quads,
// canonical networks (no host bits), and interval arithmetic for overlap checks.
// IPv4 parsing is written here: it runs several times per CiliumNode, and
// ipaddr.js's general parser (octal, hex, 1–4 parts, then a strictness check)
// was the largest single cost of taking in thousands of nodes. It accepts
// exactly the four-part decimals ipaddr.js's isValidFourPartDecimal accepts
// (a property test checks the two agree); IPv6 stays with ipaddr.js.
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

const DOT = 46;
const ZERO = 48;

/** The address as an unsigned 32-bit integer, or -1 unless `text` is a strict dotted quad (no leading zeros): the one IPv4 → int of the gateway's code. */
export function ipv4Value(text: string): number {
  const len = text.length;
  if (len < 7 || len > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= len; i++) {
    const c = i === len ? DOT : text.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      continue;
    }
    const d = c - ZERO;
    if (d < 0 || d > 9) return -1;
    if (digits > 0 && part === 0) return -1; // a leading zero ("01")
    part = part * 10 + d;
    digits++;
    if (digits > 3) return -1;
  }
  return parts === 4 ? value : -1;
}

export function isIPv4(text: string): boolean {
  return ipv4Value(text) >= 0;
}

export function isIPv6(text: string): boolean {
  return ipaddr.IPv6.isValid(text);
}

export function ipv4ToInt(text: string): number {
  const n = ipv4Value(text);
  if (n < 0) throw new Error(`"${text}" is not an IPv4 address`);
  return n;
}

/** An unsigned 32-bit address as a dotted quad: the one int → IPv4 of the gateway's code (effects/ use it too). */
export function intToIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
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
  const base = slash < 0 ? -1 : ipv4Value(t.slice(0, slash));
  if (base < 0 || !/^(3[0-2]|[12]?\d)$/.test(t.slice(slash + 1))) {
    return { ok: false, error: `"${text}" is not an IPv4 CIDR (want a.b.c.d/n)` };
  }
  const prefix = Number(t.slice(slash + 1));
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
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function vtepMacForNode(ip: string): string {
  const n = ipv4ToInt(ip);
  return `02:00:${HEX[n >>> 24]}:${HEX[(n >>> 16) & 255]}:${HEX[(n >>> 8) & 255]}:${HEX[n & 255]}`;
}
