// Which POD_CIDRs an EKS cluster's remote pod networks leave out (doctor's
// aws.remotePodNetworks), and which CIDRs EKS refuses as remote networks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intToIPv4 } from '../../machines/domain/ipv4.js';
import { outsideRfc1918, podCidrsOutside } from '../../machines/domain/remote-networks.js';

describe('POD_CIDRS against the remote pod networks', () => {
  it('equal to or inside one network is covered; straddling or outside is not', () => {
    const networks = ['10.80.0.0/16', '10.90.0.0/24'];
    expect(podCidrsOutside(['10.80.0.0/16'], networks)).toEqual([]);
    expect(podCidrsOutside(['10.80.4.0/22', '10.90.0.128/25'], networks)).toEqual([]);
    expect(podCidrsOutside(['10.80.0.0/15'], networks)).toEqual(['10.80.0.0/15']); // wider than the network
    expect(podCidrsOutside(['10.90.0.0/23'], networks)).toEqual(['10.90.0.0/23']); // half outside
    expect(podCidrsOutside(['10.91.0.0/16', '10.80.1.0/24', '172.16.0.0/12'], networks)).toEqual(['10.91.0.0/16', '172.16.0.0/12']);
  });

  it('no remote pod networks: every POD_CIDR is outside', () => {
    expect(podCidrsOutside(['10.80.0.0/16', '10.81.0.0/16'], [])).toEqual(['10.80.0.0/16', '10.81.0.0/16']);
  });

  it('a network that does not parse covers nothing; a POD_CIDR that does not parse is outside', () => {
    expect(podCidrsOutside(['10.80.0.0/16'], ['10.80.0.0'])).toEqual(['10.80.0.0/16']);
    expect(podCidrsOutside(['10.80.0.0'], ['0.0.0.0/0'])).toEqual(['10.80.0.0']);
  });

  it('a block inside a network is covered, one sharing none of its addresses is not (property)', () => {
    const block = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 32 })).map(([a, p]) => {
      const mask = (0xffffffff << (32 - p)) >>> 0;
      return { first: (a & mask) >>> 0, prefix: p, text: `${intToIPv4((a & mask) >>> 0)}/${p}` };
    });
    fc.assert(
      fc.property(block, fc.integer({ min: 0, max: 31 }), (outer, extra) => {
        const prefix = Math.min(32, outer.prefix + extra);
        const inner = `${intToIPv4(outer.first)}/${prefix}`;
        expect(podCidrsOutside([inner], [outer.text])).toEqual([]);
        // The block just past the network's end (when there is one) shares no address with it.
        const next = outer.first + 2 ** (32 - outer.prefix);
        if (next <= 0xffffffff) expect(podCidrsOutside([`${intToIPv4(next)}/32`], [outer.text])).toHaveLength(1);
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });
});

describe('remote networks EKS takes (RFC 1918 only)', () => {
  it('10/8, 172.16/12 and 192.168/16 are taken; anything else, or straddling, is named', () => {
    expect(outsideRfc1918(['10.250.0.0/16', '172.31.0.0/16', '192.168.100.0/24'])).toEqual([]);
    expect(outsideRfc1918(['198.19.0.0/16', '100.64.0.0/10', '172.32.0.0/16', '192.168.0.0/15'])).toEqual(['198.19.0.0/16', '100.64.0.0/10', '172.32.0.0/16', '192.168.0.0/15']);
  });
});
