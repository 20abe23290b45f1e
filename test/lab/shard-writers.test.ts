// The lab's own reading of the shard split (lab/shards.ts) and the per-shard
// single-writer judge (lab/shard-writers.ts), on made-up logs.
import { describe, expect, it } from 'vitest';
import type { RouteWrite, VtepWrite } from '../../lab/control-plane-worker.js';
import { judgeShardWriters } from '../../lab/shard-writers.js';
import { labHybridIndex, labShardEndpoints, labShardLease, labShardOf, labShardPrefixes, labSplit, labVpcPod } from '../../lab/shards.js';

describe('the lab’s split', () => {
  it('cuts each CIDR into halves for 2 shards, shard 0 the lower', () => {
    expect(labShardPrefixes('198.19.0.0/16', 2, 0)).toEqual(['198.19.0.0/17']);
    expect(labShardPrefixes('198.19.0.0/16', 2, 1)).toEqual(['198.19.128.0/17']);
    expect(labShardEndpoints('198.18.0.0/16', 2, 1)).toEqual([{ name: 'vpc-gateway-1-0', cidr: '198.18.128.0/17' }]);
    expect(labShardLease('hybrid-gateway-leader', 2, 1)).toBe('hybrid-gateway-leader-1');
  });

  it('rounds 3 shards up to 4 parts, part 3 to shard 0', () => {
    expect(labSplit('198.19.0.0/16', 3).map((p) => [p.cidr, p.shard])).toEqual([
      ['198.19.0.0/18', 0],
      ['198.19.64.0/18', 1],
      ['198.19.128.0/18', 2],
      ['198.19.192.0/18', 0],
    ]);
    expect(labShardEndpoints('198.18.0.0/16', 3, 0).map((e) => e.name)).toEqual(['vpc-gateway-0-0', 'vpc-gateway-0-1']);
  });

  it('keeps one shard as it is', () => {
    expect(labShardPrefixes('198.19.0.0/16', 1, 0)).toEqual(['198.19.0.0/16']);
    expect(labShardEndpoints('198.18.0.0/16', 1, 0)).toEqual([{ name: 'vpc-gateway', cidr: '198.18.0.0/16' }]);
    expect(labShardLease('hybrid-gateway-leader', 1, 0)).toBe('hybrid-gateway-leader');
  });

  it('places addresses and prefixes; a prefix spanning parts belongs to none', () => {
    expect(labShardOf('198.19.1.10', '198.19.0.0/16', 2)).toBe(0);
    expect(labShardOf('198.19.129.0/24', '198.19.0.0/16', 2)).toBe(1);
    expect(labShardOf('198.19.0.0/16', '198.19.0.0/16', 2)).toBeUndefined();
    expect(labShardOf('198.20.0.1', '198.19.0.0/16', 2)).toBeUndefined();
  });

  it('puts a VPC pod and a hybrid node on every shard', () => {
    expect(labVpcPod('198.18.0.0/16', 2, 0)).toMatchObject({ name: 'vpc-pod', ip: '198.18.1.10', routerIp: '198.18.1.1' });
    expect(labVpcPod('198.18.0.0/16', 2, 1)).toMatchObject({ name: 'vpc-pod-1', ip: '198.18.129.10', subnet: '198.18.129.0/24' });
    expect([0, 1, 2].map((m) => labHybridIndex('198.19.0.0/16', 2, m))).toEqual([1, 129, 2]);
    expect([0, 1].map((m) => labHybridIndex('198.19.0.0/16', 1, m))).toEqual([1, 2]);
  });
});

const GWS = [
  { name: 'gw-a', eni: 'eni-a', ip: '198.18.0.11', accessKeyId: 'KA' },
  { name: 'gw-b', eni: 'eni-b', ip: '198.18.0.12', accessKeyId: 'KB' },
];
const L0 = 'lead-0';
const L1 = 'lead-1';
const leases = (h0: string, h1: string, valid = true) => ({ [L0]: { holder: h0, valid }, [L1]: { holder: h1, valid } });

function route(cidr: string, by: 'gw-a' | 'gw-b', l: ReturnType<typeof leases>): RouteWrite {
  const g = GWS.find((x) => x.name === by)!;
  return { atMs: 0, routeTableId: 'rtb-1', cidr, eni: g.eni, accessKeyId: g.accessKeyId, seq: 1, holder: undefined, leaseValid: false, leases: l };
}

function vtep(by: 'gw-a' | 'gw-b', eps: Array<[string, string, string]>, l: ReturnType<typeof leases>): VtepWrite {
  const g = GWS.find((x) => x.name === by)!;
  return { atMs: 0, config: 'hybrid-gateway', type: 'MODIFIED', remoteAddress: g.ip, method: 'PATCH', set: eps.map(([name, cidr, tep]) => ({ name, cidr, tunnelEndpoint: tep, mac: '02:00:00:00:00:01' })), removed: [], leases: l };
}

const judge = (routeLog: RouteWrite[], vtepLog: VtepWrite[]) =>
  judgeShardWriters({ shards: 2, leaderElectionId: 'lead', podCidr: '198.19.0.0/16', vpcCidr: '198.18.0.0/16', gateways: GWS, routeLog, vtepLog });

describe('the per-shard single-writer judge', () => {
  it('accepts each shard written by its own holder, both at once', () => {
    const r = judge(
      [route('198.19.0.0/17', 'gw-a', leases('gw-a', 'gw-b')), route('198.19.128.0/17', 'gw-b', leases('gw-a', 'gw-b'))],
      [vtep('gw-a', [['vpc-gateway-0-0', '198.18.0.0/17', '198.18.0.11']], leases('gw-a', 'gw-b')), vtep('gw-b', [['vpc-gateway-1-0', '198.18.128.0/17', '198.18.0.12']], leases('gw-a', 'gw-b'))],
    );
    expect(r.violations).toEqual([]);
    expect(r.perShard.map((s) => [s.routeWrites, s.endpointWrites, s.writers])).toEqual([
      [1, 1, { 'gw-a': 2 }],
      [1, 1, { 'gw-b': 2 }],
    ]);
  });

  it('refuses a write of a shard by the holder of the other shard', () => {
    const r = judge([route('198.19.0.0/17', 'gw-b', leases('gw-a', 'gw-b'))], [vtep('gw-b', [['vpc-gateway-0-0', '198.18.0.0/17', '198.18.0.12']], leases('gw-a', 'gw-b'))]);
    expect(r.violations).toHaveLength(2);
    expect(r.violations[0]).toContain('shard 0: gw-b wrote rtb-1 198.19.0.0/17 while Lease lead-0 named gw-a');
    expect(r.violations[1]).toContain('shard 0: gw-b wrote endpoint vpc-gateway-0-0');
  });

  it('refuses writes after the holder’s lease ran out, a route wider than a shard, an endpoint pointing elsewhere or misnamed', () => {
    const r = judge(
      [route('198.19.128.0/17', 'gw-b', leases('gw-a', 'gw-b', false)), route('198.19.0.0/16', 'gw-a', leases('gw-a', 'gw-a'))],
      [vtep('gw-a', [['vpc-gateway-0-0', '198.18.0.0/17', '198.18.0.12']], leases('gw-a', 'gw-b')), vtep('gw-b', [['vpc-gateway-0-0', '198.18.128.0/17', '198.18.0.12']], leases('gw-a', 'gw-b'))],
    );
    expect(r.violations).toHaveLength(4);
    expect(r.violations[0]).toContain('had run out');
    expect(r.violations[1]).toContain('belongs to no shard');
    expect(r.violations[2]).toContain('pointing at 198.18.0.12, not itself');
    expect(r.violations[3]).toContain("under a name not the shard's (vpc-gateway-1-0)");
  });

  it('refuses an endpoint change that did not come from a gateway', () => {
    const w = { ...vtep('gw-a', [['vpc-gateway-0-0', '198.18.0.0/17', '198.18.0.11']], leases('gw-a', 'gw-b')), remoteAddress: undefined };
    expect(judge([], [w]).violations[0]).toContain('from outside the API, no gateway');
  });
});
