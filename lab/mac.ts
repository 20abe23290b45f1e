// MAC addresses the lab expects, derived here from the documented rules, not
// from the gateway's code (effects/), so a mistake the two share can show.
//
// - gatewayDeviceMac(ip): the MAC of a gateway's hybrid_vxlan0, which the
//   leader advertises in CiliumVTEPConfig. The rule (README "Data plane",
//   ARCHITECTURE.md, the reference's derivation): SHA-256 of the 16-byte
//   IPv4-mapped IPv6 address ::ffff:a.b.c.d, the first 6 bytes, then
//   mac[0] = (mac[0] & 0xfe) | 0x02 (multicast bit cleared, locally
//   administered bit set). Documented examples: 10.0.1.5 → 4a:88:b7:ac:5f:b5,
//   172.31.41.35 → b6:ef:fc:21:39:ab (only hashed here, never sent anywhere).
// - nodeMacFor(ip) in addresses.ts: 02:00:a:b:c:d, a hybrid node's MAC.
import { createHash } from 'node:crypto';

function octets(ip: string): number[] {
  const parts = ip.split('.');
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : NaN));
  if (parts.length !== 4 || bytes.some((b) => !(b >= 0 && b <= 255))) throw new Error(`${ip}: not a dotted-quad IPv4 address`);
  return bytes;
}

/** The 16-byte IPv4-mapped IPv6 form of an IPv4 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2). */
export function ipv4Mapped(ip: string): Buffer {
  const b = Buffer.alloc(16);
  b[10] = 0xff;
  b[11] = 0xff;
  octets(ip).forEach((o, i) => (b[12 + i] = o));
  return b;
}

/** The documented MAC of hybrid_vxlan0 on the gateway whose NODE_IP is ip. */
export function gatewayDeviceMac(ip: string): string {
  const mac = [...createHash('sha256').update(ipv4Mapped(ip)).digest().subarray(0, 6)];
  mac[0] = (mac[0]! & 0xfe) | 0x02;
  return mac.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
