// The admission rules for CiliumNodes (machines/domain/admission.ts): each
// rule with a hostile node of the kind a compromised or misconfigured Cilium
// agent could write, and a property over the whole rule set: whatever the
// core accepts, no route it makes can capture an address the gateway needs
// (its own addresses, the VPC, IMDS and the other special ranges, a hybrid
// node's underlay address).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_POD_CIDRS_PER_NODE, SPECIAL_RANGES, type AdmissionPolicy } from '../../machines/domain/admission.js';
import { vtepSpecFromCiliumNode, type CiliumNode } from '../../machines/domain/cilium-node.js';
import { desiredVteps } from '../../machines/domain/desired-state.js';
import { intToIPv4, ipv4ToInt, overlaps, parseCidr, type Cidr } from '../../machines/domain/ipv4.js';

const cidr = (t: string): Cidr => {
  const p = parseCidr(t);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};

// The gateway: VPC 198.18.0.0/16 with NODE_IP 198.18.0.10, a second local address 192.0.2.77 (say, a
// management interface); hybrid pods in 198.19.0.0/17, hybrid nodes on 203.0.113.0/24.
const GATEWAY = ['198.18.0.10', '192.0.2.77'];
const POLICY: AdmissionPolicy = {
  vpcCidrs: [cidr('198.18.0.0/16')],
  podCidrs: [cidr('198.19.0.0/17')],
  gatewayAddresses: new Set(GATEWAY.map(ipv4ToInt)),
};

function node(name: string, ip: string, podCIDRs: string[]): CiliumNode {
  return { metadata: { name }, spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs } } };
}

describe('admission rules', () => {
  it('admits a well-formed hybrid node', () => {
    const r = vtepSpecFromCiliumNode(node('hyb-1', '203.0.113.5', ['198.19.4.0/24']), POLICY);
    expect(r.ok).toBe(true);
  });

  it.each<[string, CiliumNode, string, RegExp]>([
    ['a pod CIDR outside POD_CIDRS', node('n', '203.0.113.5', ['198.19.200.0/24']), 'pod-cidr-outside-pod-cidrs', /198\.19\.200\.0\/24 is not inside POD_CIDRS \(198\.19\.0\.0\/17\)/],
    ['IMDS as a pod CIDR', node('n', '203.0.113.5', ['169.254.169.254/32']), 'pod-cidr-special', /link-local/],
    ['half the Internet (0.0.0.0/1)', node('n', '203.0.113.5', ['0.0.0.0/1']), 'pod-cidr-special', /"this network"/],
    ['multicast as a pod CIDR', node('n', '203.0.113.5', ['224.0.0.0/4']), 'pod-cidr-special', /multicast/],
    ['loopback as a pod CIDR', node('n', '203.0.113.5', ['127.0.0.0/8']), 'pod-cidr-special', /loopback/],
    ['the gateway management subnet as a pod CIDR', node('n', '203.0.113.5', ['192.0.2.0/24']), 'pod-cidr-contains-gateway-address', /contains 192\.0\.2\.77/],
    ['the hybrid underlay as a pod CIDR', node('n', '203.0.113.5', ['203.0.113.0/24']), 'pod-cidr-outside-pod-cidrs', /203\.0\.113\.0\/24/],
    ['the VPC as a pod CIDR', node('n', '203.0.113.5', ['198.18.0.0/24']), 'pod-cidr-in-vpc', /VPC CIDR 198\.18\.0\.0\/16/],
    ['InternalIP = NODE_IP', node('n', '198.18.0.10', ['198.19.4.0/24']), 'internal-ip-is-gateway-address', /198\.18\.0\.10 is an address of this gateway/],
    ['InternalIP = another local address of the gateway', node('n', '192.0.2.77', ['198.19.4.0/24']), 'internal-ip-is-gateway-address', /192\.0\.2\.77/],
    ['InternalIP inside the VPC', node('n', '198.18.7.7', ['198.19.4.0/24']), 'internal-ip-in-vpc', /inside the VPC CIDR 198\.18\.0\.0\/16/],
    ['InternalIP inside POD_CIDRS', node('n', '198.19.4.1', ['198.19.4.0/24']), 'internal-ip-in-pod-cidrs', /inside POD_CIDRS 198\.19\.0\.0\/17/],
    ['InternalIP 127.0.0.1', node('n', '127.0.0.1', ['198.19.4.0/24']), 'internal-ip-special', /loopback/],
    ['InternalIP 0.0.0.0', node('n', '0.0.0.0', ['198.19.4.0/24']), 'internal-ip-special', /"this network"/],
    ['InternalIP 224.0.0.1', node('n', '224.0.0.1', ['198.19.4.0/24']), 'internal-ip-special', /multicast/],
    ['InternalIP 255.255.255.255', node('n', '255.255.255.255', ['198.19.4.0/24']), 'internal-ip-special', /broadcast/],
    ['InternalIP link-local', node('n', '169.254.169.254', ['198.19.4.0/24']), 'internal-ip-special', /link-local/],
    [
      `more than ${MAX_POD_CIDRS_PER_NODE} pod CIDRs`,
      node('n', '203.0.113.5', Array.from({ length: MAX_POD_CIDRS_PER_NODE + 1 }, (_, i) => `198.19.${i}.0/24`)),
      'too-many-pod-cidrs',
      /33 entries; at most 32/,
    ],
  ])('refuses %s (%s)', (_label, n, reason, detail) => {
    const r = vtepSpecFromCiliumNode(n, POLICY);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.skip.reason).toBe(reason);
      expect(r.skip.detail).toMatch(detail);
    }
  });

  it(`takes exactly ${MAX_POD_CIDRS_PER_NODE} pod CIDRs`, () => {
    const r = vtepSpecFromCiliumNode(node('n', '203.0.113.5', Array.from({ length: MAX_POD_CIDRS_PER_NODE }, (_, i) => `198.19.${i}.0/24`)), POLICY);
    expect(r.ok && r.spec.podCIDRs.length).toBe(MAX_POD_CIDRS_PER_NODE);
  });

  it('admits nothing when POD_CIDRS is empty', () => {
    const r = vtepSpecFromCiliumNode(node('n', '203.0.113.5', ['198.19.4.0/24']), { ...POLICY, podCidrs: [] });
    expect(!r.ok && r.skip.reason).toBe('pod-cidr-outside-pod-cidrs');
  });
});

// Addresses a hostile node would pick: the gateway's, the VPC's, IMDS, special ranges, the pod and node
// networks, their edges, and anything at all.
const INTERESTING = [
  ...GATEWAY,
  '198.18.0.0', '198.18.255.255', '198.18.0.1', '169.254.169.254', '169.254.0.1', '0.0.0.0', '127.0.0.1', '224.0.0.1', '239.255.255.250', '255.255.255.255',
  '198.19.0.0', '198.19.4.1', '198.19.127.255', '198.19.128.0', '203.0.113.1', '203.0.113.5', '203.0.113.254', '192.0.2.1',
].map(ipv4ToInt);
const arbAddress = fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 0xffffffff }), fc.integer({ min: 0xc6130000, max: 0xc613ffff }));
const arbBlock = fc.tuple(arbAddress, fc.integer({ min: 0, max: 32 })).map(([a, prefix]) => {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${intToIPv4((a & mask) >>> 0)}/${prefix}`;
});
// Mostly plausible nodes (underlay in 203.0.113.0/24, pod blocks in 198.19.0.0/17), so that many are admitted
// and the hostile ones compete with them.
const arbPlausibleIp = fc.integer({ min: 0xcb007100, max: 0xcb0071ff });
const arbPlausibleBlock = fc.tuple(fc.integer({ min: 0xc6130000, max: 0xc6137fff }), fc.integer({ min: 22, max: 30 })).map(([a, prefix]) => {
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return `${intToIPv4((a & mask) >>> 0)}/${prefix}`;
});
const arbNode = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/),
  ip: fc.oneof({ weight: 2, arbitrary: arbPlausibleIp }, { weight: 1, arbitrary: arbAddress }).map(intToIPv4),
  cidrs: fc.array(fc.oneof({ weight: 3, arbitrary: arbPlausibleBlock }, { weight: 1, arbitrary: arbBlock }), { minLength: 0, maxLength: 4 }),
});

describe('property: nothing admitted can capture an address the gateway needs', () => {
  it('holds over random hostile node sets', () => {
    let admitted = 0;
    fc.assert(
      fc.property(fc.uniqueArray(arbNode, { selector: (n) => n.name, maxLength: 10 }), (specs) => {
        const { vteps } = desiredVteps(
          specs.map((s) => node(s.name, s.ip, s.cidrs)),
          POLICY,
        );
        const accepted = [...vteps.values()];
        admitted += accepted.length;
        const nodeIPs = accepted.map((v) => ipv4ToInt(v.nodeIP));
        for (const v of accepted) {
          const ip = ipv4ToInt(v.nodeIP);
          // The tunnel endpoint is a plain unicast host on the hybrid side.
          expect(POLICY.gatewayAddresses.has(ip)).toBe(false);
          for (const r of [...SPECIAL_RANGES.map((x) => x.cidr), ...POLICY.vpcCidrs, ...POLICY.podCidrs]) expect(ip >= r.first && ip <= r.last, `${v.nodeIP} in ${r.text}`).toBe(false);
          for (const text of v.podCIDRs) {
            const c = cidr(text);
            // Inside the hybrid pod network…
            expect(POLICY.podCidrs.some((p) => p.first <= c.first && c.last <= p.last), `${text} inside POD_CIDRS`).toBe(true);
            // …so clear of the VPC, the special ranges, the gateway's addresses and every tunnel endpoint.
            for (const r of [...SPECIAL_RANGES.map((x) => x.cidr), ...POLICY.vpcCidrs]) expect(overlaps(r, c), `${text} vs ${r.text}`).toBe(false);
            for (const a of [...POLICY.gatewayAddresses, ...nodeIPs]) expect(a >= c.first && a <= c.last, `${text} contains ${intToIPv4(a)}`).toBe(false);
          }
        }
      }),
      { numRuns: 2000 },
    );
    // Not vacuous: the generator makes admissible nodes too.
    expect(admitted).toBeGreaterThan(500);
  });
});
