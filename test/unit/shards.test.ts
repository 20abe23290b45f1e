// The shard split (machines/domain/shards.ts): N = 1 is today's plan, N > 1 cuts
// every CIDR into 2^ceil(log2 N) parts dealt out round-robin, every address of a
// POD_CIDR lands in exactly one shard, and the limits are refused by name.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4ToInt, intToIPv4, parseCidr } from '../../machines/domain/ipv4.js';
import { partsPerCidr, shardPlan, splitCidr, validateSharding } from '../../machines/domain/shards.js';
import type { GatewayConfig } from '../../runtime/config/parse.js';
import { shardWork } from '../../runtime/wiring/shards.js';

/** The one shard's endpoints with this MAC, as the leader writes them. */
const vtepEndpoints = (config: GatewayConfig, mac: string) => shardWork(config, 'kube-system')[0]!.endpoints(mac);

const cidr = (text: string) => {
  const p = parseCidr(text);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};

describe('partsPerCidr and splitCidr', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 4],
    [4, 4],
    [5, 8],
    [8, 8],
  ])('%d shards → %d parts', (n, p) => expect(partsPerCidr(n)).toBe(p));

  it('splits into equal, adjacent, canonical blocks covering the whole CIDR', () => {
    expect(splitCidr(cidr('10.250.0.0/16'), 4).map((c) => c.text)).toEqual(['10.250.0.0/18', '10.250.64.0/18', '10.250.128.0/18', '10.250.192.0/18']);
    expect(splitCidr(cidr('0.0.0.0/0'), 2).map((c) => [c.text, c.first, c.last])).toEqual([
      ['0.0.0.0/1', 0, 0x7fffffff],
      ['128.0.0.0/1', 0x80000000, 0xffffffff],
    ]);
    expect(splitCidr(cidr('198.51.100.7/32'), 1).map((c) => c.text)).toEqual(['198.51.100.7/32']);
  });

  it('refuses a split past /32 and a part count that is no power of two', () => {
    expect(() => splitCidr(cidr('198.51.100.6/31'), 4)).toThrow('/33 is longer than /32');
    expect(() => splitCidr(cidr('10.0.0.0/8'), 3)).toThrow('not a power of two');
  });
});

describe('shardPlan', () => {
  it('N = 1: POD_CIDRS exactly as given, endpoints vpc-gateway (one VPC CIDR)', () => {
    expect(shardPlan(['10.250.0.0/16', '10.251.0.0/16'], ['10.0.0.0/16'], 1)).toEqual([
      { shard: 0, podPrefixes: ['10.250.0.0/16', '10.251.0.0/16'], endpoints: [{ name: 'vpc-gateway', cidr: '10.0.0.0/16' }] },
    ]);
  });

  it('N = 1: endpoints vpc-gateway-<i> for several VPC CIDRs, in order', () => {
    expect(shardPlan(['10.250.0.0/16'], ['10.0.0.0/16', '100.64.0.0/16', '10.1.0.0/16'], 1)[0]!.endpoints).toEqual([
      { name: 'vpc-gateway-0', cidr: '10.0.0.0/16' },
      { name: 'vpc-gateway-1', cidr: '100.64.0.0/16' },
      { name: 'vpc-gateway-2', cidr: '10.1.0.0/16' },
    ]);
  });

  it("N = 1: the gateway's CiliumVTEPConfig endpoints (runtime/wiring/shards.ts) are today's", () => {
    const config = (vpcCIDRs: string[]) => ({ nodeIP: '198.18.0.10', vpcCIDRs, podCIDRs: ['198.19.0.0/16'], shards: 1 }) as unknown as GatewayConfig;
    const mac = '02:aa:bb:cc:dd:ee';
    expect(vtepEndpoints(config(['198.18.0.0/16']), mac)).toEqual([{ name: 'vpc-gateway', tunnelEndpoint: '198.18.0.10', cidr: '198.18.0.0/16', mac }]);
    expect(vtepEndpoints(config(['198.18.0.0/16', '203.0.113.0/24']), mac)).toEqual([
      { name: 'vpc-gateway-0', tunnelEndpoint: '198.18.0.10', cidr: '198.18.0.0/16', mac },
      { name: 'vpc-gateway-1', tunnelEndpoint: '198.18.0.10', cidr: '203.0.113.0/24', mac },
    ]);
  });

  it('N = 2 of 10.250.0.0/16: 10.250.0.0/17 and 10.250.128.0/17, one VPC half each', () => {
    expect(shardPlan(['10.250.0.0/16'], ['10.0.0.0/16'], 2)).toEqual([
      { shard: 0, podPrefixes: ['10.250.0.0/17'], endpoints: [{ name: 'vpc-gateway-0-0', cidr: '10.0.0.0/17' }] },
      { shard: 1, podPrefixes: ['10.250.128.0/17'], endpoints: [{ name: 'vpc-gateway-1-0', cidr: '10.0.128.0/17' }] },
    ]);
  });

  it('N = 3: four parts, shard 0 gets parts 0 and 3; endpoints numbered within each shard, VPC CIDR order then part order', () => {
    const plan = shardPlan(['10.250.0.0/16'], ['10.0.0.0/16', '100.64.0.0/20'], 3);
    expect(plan.map((s) => s.podPrefixes)).toEqual([['10.250.0.0/18', '10.250.192.0/18'], ['10.250.64.0/18'], ['10.250.128.0/18']]);
    expect(plan[0]!.endpoints).toEqual([
      { name: 'vpc-gateway-0-0', cidr: '10.0.0.0/18' },
      { name: 'vpc-gateway-0-1', cidr: '10.0.192.0/18' },
      { name: 'vpc-gateway-0-2', cidr: '100.64.0.0/22' },
      { name: 'vpc-gateway-0-3', cidr: '100.64.12.0/22' },
    ]);
    expect(plan[1]!.endpoints).toEqual([
      { name: 'vpc-gateway-1-0', cidr: '10.0.64.0/18' },
      { name: 'vpc-gateway-1-1', cidr: '100.64.4.0/22' },
    ]);
    expect(plan[2]!.endpoints.map((e) => e.name)).toEqual(['vpc-gateway-2-0', 'vpc-gateway-2-1']);
  });

  it('endpoint names are unique across shards and valid Cilium endpoint names (DNS labels)', () => {
    for (let n = 1; n <= 8; n++) {
      const names = shardPlan(['10.250.0.0/16'], ['10.0.0.0/16'], n).flatMap((s) => s.endpoints.map((e) => e.name));
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('property: every address of a POD_CIDR (and of a VPC CIDR) falls in exactly one shard', () => {
    // Random disjoint POD_CIDRs: distinct /8 bases, random lengths; a shard count 1..8.
    const arb = fc.record({
      bases: fc.uniqueArray(fc.integer({ min: 1, max: 223 }), { minLength: 1, maxLength: 3 }),
      lengths: fc.array(fc.integer({ min: 8, max: 24 }), { minLength: 3, maxLength: 3 }),
      shards: fc.integer({ min: 1, max: 8 }),
      offsets: fc.array(fc.integer({ min: 0, max: 2 ** 24 - 1 }), { minLength: 20, maxLength: 20 }),
    });
    fc.assert(
      fc.property(arb, ({ bases, lengths, shards, offsets }) => {
        const pods = bases.map((b, i) => cidr(`${b}.0.0.0/${lengths[i]!}`));
        const plan = shardPlan(
          pods.map((c) => c.text),
          [pods[0]!.text],
          shards,
        );
        const owners = (ip: number, pick: (s: (typeof plan)[number]) => readonly string[]) =>
          plan.filter((s) => pick(s).some((p) => ip >= cidr(p).first && ip <= cidr(p).last)).map((s) => s.shard);
        for (const pod of pods) {
          const size = pod.last - pod.first + 1;
          for (const off of [0, size - 1, ...offsets.map((o) => o % size)]) {
            const ip = pod.first + off;
            expect(owners(ip, (s) => s.podPrefixes), intToIPv4(ip)).toHaveLength(1);
          }
        }
        const vpc = pods[0]!;
        for (const off of offsets) expect(owners(vpc.first + (off % (vpc.last - vpc.first + 1)), (s) => s.endpoints.map((e) => e.cidr))).toHaveLength(1);
        // Nothing outside the POD_CIDRS is routed.
        for (const s of plan) for (const p of s.podPrefixes) expect(pods.some((c) => cidr(p).first >= c.first && cidr(p).last <= c.last)).toBe(true);
        // Shards get equal shares when N is a power of two.
        if (partsPerCidr(shards) === shards) for (const s of plan) expect(s.podPrefixes).toHaveLength(pods.length);
      }),
      { numRuns: 200 },
    );
  });

  it('an address maps to the shard of its part: (address − base) ÷ part size, mod N', () => {
    const plan = shardPlan(['10.250.0.0/16'], ['10.0.0.0/16'], 3);
    const shardOf = (ip: string) => plan.find((s) => s.podPrefixes.some((p) => ipv4ToInt(ip) >= cidr(p).first && ipv4ToInt(ip) <= cidr(p).last))?.shard;
    expect(['10.250.0.1', '10.250.63.255', '10.250.64.0', '10.250.128.9', '10.250.200.1'].map(shardOf)).toEqual([0, 0, 1, 2, 0]);
  });
});

describe('validateSharding', () => {
  const ok = { podCidrs: ['10.250.0.0/16'], vpcCidrs: ['10.0.0.0/16'], shards: 2, nodePodCidrMaskSize: 24 };

  it('accepts splits that stay at or above the node pod CIDR size', () => {
    expect(validateSharding(ok)).toEqual([]);
    expect(validateSharding({ ...ok, podCidrs: ['10.250.0.0/21'], shards: 8 })).toEqual([]); // /24 parts, /24 nodes
  });

  it('shards = 1 is never judged (today: no split, no mask consulted)', () => {
    expect(validateSharding({ ...ok, podCidrs: ['10.250.0.0/26'], vpcCidrs: Array.from({ length: 8 }, (_, i) => `10.${i}.0.0/16`), shards: 1 })).toEqual([]);
  });

  it('a POD_CIDR part longer than the node pod CIDR mask size, naming the CIDR, the part and the mask', () => {
    expect(validateSharding({ ...ok, podCidrs: ['10.250.0.0/16', '10.251.0.0/22'], shards: 8 })).toEqual([
      "pod CIDR 10.251.0.0/22 split into 8 parts gives /25 prefixes, longer than the hybrid nodes' pod CIDR size /24 (NODE_POD_CIDR_MASK_SIZE): the split must stay at or above each hybrid node's pod CIDR size",
    ]);
    expect(validateSharding({ ...ok, podCidrs: ['10.250.0.0/24'], shards: 3, nodePodCidrMaskSize: 25 })).toEqual([
      "pod CIDR 10.250.0.0/24 split into 4 parts (3 shards round up to a power of two) gives /26 prefixes, longer than the hybrid nodes' pod CIDR size /25 (NODE_POD_CIDR_MASK_SIZE): the split must stay at or above each hybrid node's pod CIDR size",
    ]);
  });

  it('a part longer than /32 (POD_CIDR or VPC CIDR)', () => {
    expect(validateSharding({ ...ok, podCidrs: ['198.51.100.0/31'], vpcCidrs: ['203.0.113.8/32'], shards: 4, nodePodCidrMaskSize: 32 })).toEqual([
      'pod CIDR 198.51.100.0/31 cannot be split into 4 parts: /33 is longer than /32',
      'VPC CIDR 203.0.113.8/32 cannot be split into 4 parts: /34 is longer than /32',
    ]);
  });

  it("VPC CIDRs × parts above Cilium's 8 endpoints", () => {
    const three = ['10.0.0.0/16', '10.1.0.0/16', '10.2.0.0/16'];
    expect(validateSharding({ ...ok, vpcCidrs: three, shards: 2 })).toEqual([]);
    expect(validateSharding({ ...ok, vpcCidrs: three, shards: 3 })).toEqual([
      '3 VPC CIDRs × 4 parts (3 shards round up to a power of two) = 12 CiliumVTEPConfig endpoints; Cilium takes at most 8',
    ]);
    expect(validateSharding({ ...ok, vpcCidrs: ['10.0.0.0/16'], shards: 8 })).toEqual([]);
    expect(validateSharding({ ...ok, vpcCidrs: ['10.0.0.0/16', '10.1.0.0/16'], shards: 8 })).toEqual([
      '2 VPC CIDRs × 8 parts = 16 CiliumVTEPConfig endpoints; Cilium takes at most 8',
    ]);
  });

  it('a shard count outside 1..8, and a CIDR that does not parse', () => {
    for (const shards of [0, 9, 2.5]) expect(validateSharding({ ...ok, shards })).toEqual([`shards ${shards}: want an integer from 1 to 8`]);
    expect(validateSharding({ ...ok, podCidrs: ['10.250.0.1/16'] })).toEqual(['"10.250.0.1/16" has host bits set (did you mean 10.250.0.0/16?)']);
  });

  it('property: whatever validateSharding accepts, shardPlan plans without throwing and within 8 endpoints', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 3 }), (shards, len, mask, nVpc) => {
        const base = (n: number) => intToIPv4((n * 2 ** 24) >>> 0);
        const pod = len === 0 ? '0.0.0.0/0' : `${base(100)}/${Math.max(len, 8)}`;
        const vpcs = Array.from({ length: nVpc }, (_, i) => `${base(10 + i)}/${Math.max(len, 8)}`);
        const input = { podCidrs: [pod], vpcCidrs: vpcs, shards, nodePodCidrMaskSize: mask };
        if (validateSharding(input).length > 0) return;
        const plan = shardPlan(input.podCidrs, input.vpcCidrs, shards);
        expect(plan).toHaveLength(shards);
        expect(plan.flatMap((s) => s.endpoints).length).toBeLessThanOrEqual(8);
      }),
    );
  });
});
