// The EC2 stand-in's own IPv4 parsing (the lab does not borrow the gateway's
// machines/domain code, so a parsing bug the two share can show).
// - ipv4Number("198.18.0.1") → the address as an unsigned 32-bit number, or
//   undefined unless it is a dotted quad of decimal octets 0..255 without
//   leading zeros.
// - canonicalCidr("198.18.0.0/16") → "198.18.0.0/16", or undefined unless it is
//   such an address, "/", a prefix 0..32 without leading zeros, and no host
//   bits set: what the stand-in accepts as DestinationCidrBlock (and VPC CIDR).
//   Surrounding white space is ignored, as before.

const OCTET = /^(0|[1-9]\d{0,2})$/;
const PREFIX = /^(0|[1-9]|[12]\d|3[0-2])$/;

export function ipv4Number(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function ipv4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function canonicalCidr(text: string): string | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0) return undefined;
  const base = ipv4Number(t.slice(0, slash));
  const len = t.slice(slash + 1);
  if (base === undefined || !PREFIX.test(len)) return undefined;
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if (((base & mask) >>> 0) !== base) return undefined;
  return `${ipv4Text(base)}/${prefix}`;
}
