// The MAC of hybrid_vxlan0, derived from NODE_IP exactly as the reference
// gateway does, so a recreated device (or the other gateway's reference build)
// keeps the MAC that CiliumVTEPConfig advertises: SHA-256 of the 16-byte
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), first six bytes, then the
// multicast bit cleared and the locally-administered bit set.
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { badInput } from './errors.js';

export function deviceMacBytes(nodeIP: string): Buffer {
  if (!ipaddr.IPv4.isValidFourPartDecimal(nodeIP)) throw badInput('derive device MAC', `"${nodeIP}" is not an IPv4 address`);
  const mapped = Buffer.alloc(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  Buffer.from(ipaddr.IPv4.parse(nodeIP).octets).copy(mapped, 12);
  const mac = createHash('sha256').update(mapped).digest().subarray(0, 6);
  mac[0] = (mac[0]! & 0xfe) | 0x02;
  return Buffer.from(mac);
}

/** "aa:bb:cc:dd:ee:ff" (lower case) for NODE_IP. */
export function deviceMacFor(nodeIP: string): string {
  return [...deviceMacBytes(nodeIP)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
