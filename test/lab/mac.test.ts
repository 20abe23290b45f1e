// The lab's own derivation of a gateway's hybrid_vxlan0 MAC (lab/mac.ts),
// checked against the documented rule and its examples (README, ARCHITECTURE:
// SHA-256 of ::ffff:a.b.c.d, first 6 bytes, multicast bit cleared, locally
// administered bit set), then against the gateway's own derivation: if the two
// ever differ, the documented examples say which one is wrong. No root, no
// traffic (the addresses below are only hashed).
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceMacFor } from '../../effects/netlink/index.js';
import { gatewayDeviceMac, ipv4Mapped } from '../../lab/mac.js';

describe('lab/mac.ts: the gateway device MAC from the documented rule', () => {
  it('gives the documented examples: 10.0.1.5 → 4a:88:b7:ac:5f:b5, 172.31.41.35 → b6:ef:fc:21:39:ab', () => {
    expect(gatewayDeviceMac('10.0.1.5')).toBe('4a:88:b7:ac:5f:b5');
    expect(gatewayDeviceMac('172.31.41.35')).toBe('b6:ef:fc:21:39:ab');
  });

  it('hashes the 16-byte IPv4-mapped form and only touches the two low bits of the first byte', () => {
    expect(ipv4Mapped('10.0.1.5').toString('hex')).toBe('00000000000000000000ffff0a000105');
    // The raw digest of 10.0.1.5 starts 0x49: multicast bit set, local bit clear; the rule turns it into 0x4a.
    const raw = createHash('sha256').update(ipv4Mapped('10.0.1.5')).digest();
    expect(raw.subarray(0, 6).toString('hex')).toBe('4988b7ac5fb5');
    expect(() => gatewayDeviceMac('10.0.1.256')).toThrow(/not a dotted-quad/);
    expect(() => gatewayDeviceMac('010.0.1.5')).toThrow(/not a dotted-quad/);
  });

  it('is always a unicast, locally administered MAC', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const first = parseInt(gatewayDeviceMac(ip).slice(0, 2), 16);
        expect(first & 0x01).toBe(0);
        expect(first & 0x02).toBe(0x02);
      }),
    );
  });

  it('agrees with the gateway’s derivation (effects/netlink deviceMacFor)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(deviceMacFor(ip).toLowerCase()).toBe(gatewayDeviceMac(ip));
      }),
    );
  });
});
