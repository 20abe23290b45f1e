import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vtepSpecFromCiliumNode, type CiliumNode } from '../../machines/domain/cilium-node.js';
import type { AdmissionPolicy } from '../../machines/domain/admission.js';
import { desiredVteps } from '../../machines/domain/desired-state.js';
import { findOverlaps, intToIPv4, ipv4ToInt, overlaps, parseCidr, vtepMacForNode, type Cidr } from '../../machines/domain/ipv4.js';

const cidr = (t: string): Cidr => {
  const p = parseCidr(t);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};
const VPC = [cidr('198.18.0.0/16')];
/** VPC 198.18.0.0/16 (gateway 198.18.0.10), hybrid pods in 203.0.113.0/24 and 100.64.0.0/16. */
const POLICY: AdmissionPolicy = { vpcCidrs: VPC, podCidrs: [cidr('203.0.113.0/24'), cidr('100.64.0.0/16')], gatewayAddresses: new Set([ipv4ToInt('198.18.0.10')]) };

function node(name: string, ip: string | undefined, podCIDRs: unknown, extra: Partial<CiliumNode['metadata']> = {}): CiliumNode {
  return {
    metadata: { name, ...extra },
    spec: {
      addresses: ip === undefined ? [] : [{ type: 'InternalIP', ip }],
      ipam: { podCIDRs: podCIDRs as string[] },
    },
  };
}

const arbCidr = fc.tuple(fc.nat({ max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([n, prefix]) => {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return cidr(`${intToIPv4((n & mask) >>> 0)}/${prefix}`);
});

describe('IPv4 and CIDR helpers', () => {
  it('the hybrid node MAC is 02:00 and the four address bytes', () => {
    expect(vtepMacForNode('10.0.1.5')).toBe('02:00:0a:00:01:05');
    expect(vtepMacForNode('198.19.255.1')).toBe('02:00:c6:13:ff:01');
  });

  it('MACs are locally administered unicast and distinct per IP', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
        const ma = vtepMacForNode(intToIPv4(a));
        expect(ma).toMatch(/^02:00(:[0-9a-f]{2}){4}$/);
        expect(ma === vtepMacForNode(intToIPv4(b))).toBe(a === b);
      }),
    );
  });

  it('int ⇄ dotted quad round-trips', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (n) => {
        expect(ipv4ToInt(intToIPv4(n))).toBe(n);
      }),
    );
  });

  it('overlap is symmetric and agrees with a brute-force check on small blocks', () => {
    fc.assert(
      fc.property(arbCidr, arbCidr, (a, b) => {
        expect(overlaps(a, b)).toBe(overlaps(b, a));
        const brute = Math.max(a.first, b.first) <= Math.min(a.last, b.last);
        expect(overlaps(a, b)).toBe(brute);
      }),
    );
  });

  it('findOverlaps flags every block that overlaps an earlier one', () => {
    fc.assert(
      fc.property(fc.array(arbCidr, { maxLength: 12 }), (blocks) => {
        const pairs = findOverlaps(blocks, (c) => c);
        const anyOverlap = blocks.some((a, i) => blocks.some((b, j) => i < j && overlaps(a, b)));
        expect(pairs.length > 0).toBe(anyOverlap);
        for (const [x, y] of pairs) expect(overlaps(x, y)).toBe(true);
      }),
    );
  });

  it('refuses host bits and malformed text', () => {
    expect(parseCidr('198.18.0.1/16')).toEqual({ ok: false, error: '"198.18.0.1/16" has host bits set (did you mean 198.18.0.0/16?)' });
    for (const bad of ['198.18.0.0/33', '198.18.0/16', '198.18.0.0/', 'x/8', '198.18.0.0/08', '2001:db8::/32']) {
      expect(parseCidr(bad).ok, bad).toBe(false);
    }
  });
});

describe('CiliumNode → VTEP spec', () => {
  it('takes the InternalIP and ALL IPv4 pod CIDRs, sorted and deduplicated', () => {
    const r = vtepSpecFromCiliumNode(node('hyb-1', '192.0.2.10', ['203.0.113.64/26', '203.0.113.0/26', 'fd00::/64', '203.0.113.0/26']), POLICY);
    expect(r).toEqual({
      ok: true,
      spec: { name: 'hyb-1', nodeIP: '192.0.2.10', mac: '02:00:c0:00:02:0a', podCIDRs: ['203.0.113.0/26', '203.0.113.64/26'] },
      ip: 0xc000020a,
      blocks: [cidr('203.0.113.0/26'), cidr('203.0.113.64/26')],
    });
  });

  it('prefers the IPv4 InternalIP of a dual-stack node', () => {
    const n: CiliumNode = {
      metadata: { name: 'dual' },
      spec: {
        addresses: [
          { type: 'InternalIP', ip: '2001:db8::5' },
          { type: 'ExternalIP', ip: '203.0.113.99' },
          { type: 'InternalIP', ip: '192.0.2.5' },
        ],
        ipam: { podCIDRs: ['203.0.113.0/26'] },
      },
    };
    const r = vtepSpecFromCiliumNode(n, POLICY);
    expect(r.ok && r.spec.nodeIP).toBe('192.0.2.5');
  });

  it.each<[string, CiliumNode, string]>([
    ['no name', { spec: {} }, 'missing-name'],
    ['no addresses', node('n', undefined, ['203.0.113.0/26']), 'missing-internal-ip'],
    ['ExternalIP only', { metadata: { name: 'n' }, spec: { addresses: [{ type: 'ExternalIP', ip: '192.0.2.1' }], ipam: { podCIDRs: ['203.0.113.0/26'] } } }, 'missing-internal-ip'],
    ['IPv6-only InternalIP', node('n', '2001:db8::1', ['203.0.113.0/26']), 'ipv6-only-internal-ip'],
    ['garbage InternalIP', node('n', 'not-an-ip', ['203.0.113.0/26']), 'invalid-internal-ip'],
    ['no pod CIDRs', node('n', '192.0.2.1', []), 'missing-pod-cidrs'],
    ['pod CIDRs not a list', node('n', '192.0.2.1', 'x'), 'missing-pod-cidrs'],
    ['IPv6 pod CIDRs only', node('n', '192.0.2.1', ['fd00::/64']), 'missing-pod-cidrs'],
    ['bad pod CIDR', node('n', '192.0.2.1', ['203.0.113.0/26', '203.0.113.1/26']), 'invalid-pod-cidr'],
    ['non-string pod CIDR', node('n', '192.0.2.1', [42]), 'invalid-pod-cidr'],
    ['overlapping pod CIDRs', node('n', '192.0.2.1', ['203.0.113.0/24', '203.0.113.128/25']), 'overlapping-pod-cidrs'],
    ['pod CIDR inside the VPC', node('n', '192.0.2.1', ['198.18.5.0/24']), 'pod-cidr-in-vpc'],
  ])('%s → skipped (%s), never thrown', (_label, n, reason) => {
    const r = vtepSpecFromCiliumNode(n, POLICY);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.skip.reason).toBe(reason);
      expect(r.skip.detail.length).toBeGreaterThan(5);
    }
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(() => vtepSpecFromCiliumNode(value as CiliumNode, POLICY)).not.toThrow();
        expect(() => desiredVteps([value as CiliumNode], POLICY)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});

describe('desired state across nodes', () => {
  it('the older node keeps a contested pod CIDR; the newer is skipped with the reason', () => {
    const older = node('b-old', '192.0.2.1', ['203.0.113.0/25'], { creationTimestamp: '2026-01-01T00:00:00Z' });
    const newer = node('a-new', '192.0.2.2', ['203.0.113.64/26'], { creationTimestamp: '2026-02-01T00:00:00Z' });
    const { vteps, skipped } = desiredVteps([newer, older], POLICY);
    expect([...vteps.keys()]).toEqual(['b-old']);
    expect(skipped).toEqual([
      { name: 'a-new', reason: 'pod-cidr-claimed-by-other-node', detail: 'pod CIDR 203.0.113.64/26 overlaps 203.0.113.0/25 of node b-old' },
    ]);
  });

  it('two nodes with one InternalIP: the older keeps it', () => {
    const { vteps, skipped } = desiredVteps(
      [node('x', '192.0.2.1', ['203.0.113.0/26'], { creationTimestamp: '2026-03-01T00:00:00Z' }), node('y', '192.0.2.1', ['203.0.113.64/26'], { creationTimestamp: '2026-01-01T00:00:00Z' })],
      POLICY,
    );
    expect([...vteps.keys()]).toEqual(['y']);
    expect(skipped.map((s) => [s.name, s.reason])).toEqual([['x', 'internal-ip-claimed-by-other-node']]);
  });

  it('property: accepted nodes never share a pod CIDR range or an IP, and every input node is accounted for', () => {
    const arbNode = fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/),
      ip: fc.integer({ min: 1, max: 6 }).map((i) => `192.0.2.${i}`),
      cidrs: fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 26, max: 28 })), { minLength: 1, maxLength: 3 }),
      ts: fc.integer({ min: 1, max: 9 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(arbNode, { selector: (n) => n.name, maxLength: 8 }), (specs) => {
        const nodes = specs.map((s) =>
          node(
            s.name,
            s.ip,
            s.cidrs.map(([slot, prefix]) => {
              const size = 2 ** (32 - prefix);
              const base = (ipv4ToInt('203.0.113.0') + ((slot * 16) % 256)) & ~(size - 1);
              return `${intToIPv4(base >>> 0)}/${prefix}`;
            }),
            { creationTimestamp: `2026-01-0${s.ts}T00:00:00Z` },
          ),
        );
        const { vteps, skipped } = desiredVteps(nodes, POLICY);
        expect(vteps.size + skipped.length).toBe(nodes.length);
        const accepted = [...vteps.values()];
        expect(new Set(accepted.map((v) => v.nodeIP)).size).toBe(accepted.length);
        const blocks = accepted.flatMap((v) => v.podCIDRs.map((c) => ({ owner: v.name, c: cidr(c) })));
        for (const [i, x] of blocks.entries())
          for (const y of blocks.slice(i + 1)) if (x.owner !== y.owner) expect(overlaps(x.c, y.c), `${x.c.text} vs ${y.c.text}`).toBe(false);
      }),
    );
  });

  it('5,000 valid nodes are computed without skips', () => {
    const nodes = Array.from({ length: 5000 }, (_, i) => node(`hyb-${i}`, intToIPv4(ipv4ToInt('198.19.0.1') + i), [`${intToIPv4(ipv4ToInt('203.0.113.0') * 0 + (ipv4ToInt('100.64.0.0') + i * 8))}/29`]));
    const { vteps, skipped } = desiredVteps(nodes, POLICY);
    expect(skipped).toEqual([]);
    expect(vteps.size).toBe(5000);
  });
});
