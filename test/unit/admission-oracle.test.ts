// The fuzz test's own admission oracle (test/support/admission-oracle.ts) on
// the README's rules, one case each: the oracle is what judges the gateway's
// kernel in test/runtime/hostile-nodes.test.ts, so it gets checked on its own.
import { describe, expect, it } from 'vitest';
import { AmbiguousCase, countsFit, judge, judgeNode, macOf, ipv4, type OraclePolicy, type StoredNode } from '../support/admission-oracle.js';

const POLICY: OraclePolicy = { vpc: ['198.18.0.0/16'], podCidrs: ['198.19.0.0/17', '198.19.128.0/17'], gatewayAddresses: ['198.18.10.11', '198.19.250.1', '127.0.0.1'] };
const LABELS = { 'eks.amazonaws.com/compute-type': 'hybrid' };

function n(name: string, ip: unknown, podCIDRs: unknown, created = '2026-12-01T00:00:00Z'): StoredNode {
  return { metadata: { name, creationTimestamp: created, labels: LABELS }, spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs } } };
}
const reasons = (node: StoredNode): string[] => {
  const j = judgeNode(node, POLICY);
  return j.ok ? ['admitted'] : [...j.reasons].sort();
};

describe('the fuzz test’s admission oracle', () => {
  it('admits a well-formed node, IPv6 pod CIDRs ignored, garbage InternalIPs beside a usable one ignored', () => {
    expect(reasons(n('a', '203.0.113.10', ['198.19.1.0/24', '2001:db8::/64']))).toEqual(['admitted']);
    const extra: StoredNode = { metadata: { name: 'a', labels: LABELS }, spec: { addresses: [{ type: 'InternalIP', ip: 'x' }, { type: 'InternalIP', ip: '203.0.113.10' }], ipam: { podCIDRs: ['198.19.1.0/24'] } } };
    expect(reasons(extra)).toEqual(['admitted']);
  });

  it.each<[string, StoredNode, string[]]>([
    ['no InternalIP', { metadata: { name: 'a', labels: LABELS }, spec: { ipam: { podCIDRs: ['198.19.1.0/24'] } } }, ['invalid-internal-ip', 'ipv6-only-internal-ip', 'missing-internal-ip']],
    ['IPv6 only', n('a', '2001:db8::1', ['198.19.1.0/24']), ['invalid-internal-ip', 'ipv6-only-internal-ip', 'missing-internal-ip']],
    ['a leading zero', n('a', '203.0.113.010', ['198.19.1.0/24']), ['invalid-internal-ip', 'ipv6-only-internal-ip', 'missing-internal-ip']],
    ['a number', n('a', 3405803786, ['198.19.1.0/24']), ['invalid-internal-ip', 'ipv6-only-internal-ip', 'missing-internal-ip']],
    ['broadcast', n('a', '255.255.255.255', ['198.19.1.0/24']), ['internal-ip-special']],
    ['IMDS', n('a', '169.254.169.254', ['198.19.1.0/24']), ['internal-ip-special']],
    ['the gateway', n('a', '198.18.10.11', ['198.19.1.0/24']), ['internal-ip-in-vpc', 'internal-ip-is-gateway-address']],
    ['loopback, also a gateway address', n('a', '127.0.0.1', ['198.19.1.0/24']), ['internal-ip-is-gateway-address', 'internal-ip-special']],
    ['in POD_CIDRS', n('a', '198.19.9.9', ['198.19.1.0/24']), ['internal-ip-in-pod-cidrs']],
    ['no pod CIDRs', n('a', '203.0.113.10', []), ['missing-pod-cidrs']],
    ['only IPv6 pod CIDRs', n('a', '203.0.113.10', ['2001:db8::/64']), ['missing-pod-cidrs']],
    ['host bits', n('a', '203.0.113.10', ['198.19.1.1/24']), ['invalid-pod-cidr']],
    ['a number as a pod CIDR', n('a', '203.0.113.10', [42]), ['invalid-pod-cidr']],
    ['33 pod CIDRs', n('a', '203.0.113.10', Array.from({ length: 33 }, (_, i) => `198.19.5.${i}/32`)), ['too-many-pod-cidrs']],
    ['two of its own overlapping', n('a', '203.0.113.10', ['198.19.0.0/23', '198.19.1.0/24']), ['overlapping-pod-cidrs']],
    ['0.0.0.0/1 (127.0.0.1 in it)', n('a', '203.0.113.10', ['0.0.0.0/1']), ['pod-cidr-contains-gateway-address', 'pod-cidr-outside-pod-cidrs', 'pod-cidr-special']],
    ['the gateway subnet', n('a', '203.0.113.10', ['198.18.10.0/24']), ['pod-cidr-contains-gateway-address', 'pod-cidr-in-vpc', 'pod-cidr-outside-pod-cidrs']],
    ['the management address', n('a', '203.0.113.10', ['198.19.250.0/24']), ['pod-cidr-contains-gateway-address']],
    ['across both POD_CIDRS', n('a', '203.0.113.10', ['198.19.0.0/16']), ['pod-cidr-contains-gateway-address', 'pod-cidr-outside-pod-cidrs']],
  ])('%s', (_what, node, want) => {
    expect(reasons(node)).toEqual(want);
  });

  it('the older node keeps a claim: creationTimestamp, then name', () => {
    const v = judge(
      [
        n('b', '203.0.113.10', ['198.19.1.0/24'], '2026-12-01T00:00:01Z'),
        n('a', '203.0.113.10', ['198.19.2.0/24'], '2026-12-01T00:00:01Z'),
        n('c', '203.0.113.11', ['198.19.2.0/25'], '2026-12-01T00:00:00Z'),
        { metadata: { name: 'other', labels: { 'eks.amazonaws.com/compute-type': 'ec2' } }, spec: {} },
      ],
      POLICY,
    );
    // c is oldest and takes 198.19.2.0/25; a (same second as b, first by name) overlaps it; b then holds the IP.
    expect([...v.admitted.keys()].sort()).toEqual(['b', 'c']);
    expect([...v.refused.get('a')!]).toEqual(['pod-cidr-claimed-by-other-node']);
    expect(v.ignored).toEqual(['other']);
    expect(v.admitted.get('b')).toEqual({ name: 'b', ip: '203.0.113.10', mac: '02:00:cb:00:71:0a', cidrs: ['198.19.1.0/24'] });
  });

  it('a refused node only claims nothing', () => {
    const v = judge([n('a', '203.0.113.10', ['127.0.0.0/8'], '2026-12-01T00:00:00Z'), n('b', '203.0.113.10', ['198.19.1.0/24'], '2026-12-01T00:00:05Z')], POLICY);
    expect([...v.admitted.keys()]).toEqual(['b']);
  });

  it('refuses to judge what the README leaves open', () => {
    expect(() => judgeNode({ metadata: { name: 'a' }, spec: { addresses: [{ type: 'InternalIP', ip: '203.0.113.10' }, { type: 'InternalIP', ip: '203.0.113.11' }], ipam: { podCIDRs: ['198.19.1.0/24'] } } }, POLICY)).toThrow(AmbiguousCase);
    expect(() => judgeNode(n('a', '203.0.113.10', ['198.19.1.0/24', '198.19.1.0/24']), POLICY)).toThrow(AmbiguousCase);
    expect(() => judgeNode(n('a', '203.0.113.10', [' 198.19.1.0/24']), POLICY)).toThrow(AmbiguousCase);
  });

  it('MACs and addresses as the README writes them', () => {
    expect(macOf(ipv4('203.0.113.10')!)).toBe('02:00:cb:00:71:0a');
    expect(ipv4('0.0.0.0')).toBe(0);
    expect(ipv4('1.2.3')).toBeUndefined();
  });

  it('fits per-reason counts to refused nodes only when each node can take one of its reasons', () => {
    const refused = new Map([
      ['a', new Set(['internal-ip-special', 'pod-cidr-special'] as const)],
      ['b', new Set(['internal-ip-special'] as const)],
    ]);
    expect(countsFit(refused, new Map([['internal-ip-special', 1], ['pod-cidr-special', 1]]))).toBe(true);
    expect(countsFit(refused, new Map([['internal-ip-special', 2]]))).toBe(true);
    expect(countsFit(refused, new Map([['pod-cidr-special', 2]]))).toBe(false);
    expect(countsFit(refused, new Map([['internal-ip-special', 1]]))).toBe(false);
  });
});
