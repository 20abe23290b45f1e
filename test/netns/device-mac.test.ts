// The device MAC derivation (pure): the reference's vectors, and its shape.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deviceMacFor, NetlinkError } from '../../effects/netlink/index.js';

describe('deviceMacFor', () => {
  it('matches the reference gateway for 10.0.1.5 and 172.31.41.35', () => {
    expect(deviceMacFor('10.0.1.5')).toBe('4a:88:b7:ac:5f:b5');
    expect(deviceMacFor('172.31.41.35')).toBe('b6:ef:fc:21:39:ab');
  });

  it('is always a locally administered unicast MAC, stable per address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const mac = deviceMacFor(ip);
        expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        const first = parseInt(mac.slice(0, 2), 16);
        expect(first & 0x01).toBe(0);
        expect(first & 0x02).toBe(2);
        expect(deviceMacFor(ip)).toBe(mac);
      }),
    );
  });

  it('refuses what is not an IPv4 address', () => {
    for (const bad of ['', '10.0.1', '10.0.1.256', '::1', ' 10.0.1.5']) {
      expect(() => deviceMacFor(bad)).toThrow(NetlinkError);
    }
  });
});
