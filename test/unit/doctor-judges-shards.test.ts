// doctor's judges with SHARDS = N above 1, without I/O: facts of a sharded
// installation set up right (pass) and with one thing broken (fail or warn,
// naming the shard, with the fix). The unsharded facts are doctor-judges.test.ts'.
import { describe, expect, it } from 'vitest';
import { leaseCheck, type LeaseFreshFacts } from '../../runtime/doctor/checks/lease.js';
import { pointsAtLeaderCheck, type ShardedPointsAtLeaderFacts } from '../../runtime/doctor/checks/vtep-config.js';
import { routesCheck, type ShardedRoutesFacts } from '../../runtime/doctor/checks/aws-routes.js';

const now = 1_800_000_000_000;
const lease = (k: number, holder: string, ageMs = 1000): LeaseFreshFacts => ({ namespace: 'gw', name: `hgl-${k}`, exists: true, holder, renewedAtMs: now - ageMs, durationMs: 3000, nowMs: now });

describe('doctor judges with shards', () => {
  it('lease.fresh: every shard Lease held and fresh; the ones that are not are named with their fix', () => {
    const ok = { shardLeases: [lease(0, 'gw-a'), lease(1, 'gw-b')] };
    expect(leaseCheck.judge(ok)).toEqual({
      status: 'pass',
      saw: 'Lease gw/hgl-0 held by gw-a, renewed 1.0 s ago (duration 3.0 s); Lease gw/hgl-1 held by gw-b, renewed 1.0 s ago (duration 3.0 s)',
      fix: '',
    });
    const stale = leaseCheck.judge({ shardLeases: [lease(0, 'gw-a'), lease(1, 'gw-b', 60_000)] });
    expect(stale.status).toBe('fail');
    expect(stale.saw).toBe('1 of 2 shard Leases not held and fresh (gw/hgl-1): Lease gw/hgl-0 held by gw-a, renewed 1.0 s ago (duration 3.0 s); Lease gw/hgl-1 held by gw-b, renewed 60.0 s ago (duration 3.0 s)');
    expect(stale.fix).toMatch(/^gw\/hgl-1: The holder stopped renewing: check pod gw-b/);
    // Two shards with the same trouble share one fix naming both; a missing one says SHARDS must match.
    const none = leaseCheck.judge({ shardLeases: [{ ...lease(0, ''), exists: false }, lease(1, '')] });
    expect(none.saw).toBe('2 of 2 shard Leases not held and fresh (gw/hgl-0, gw/hgl-1): Lease gw/hgl-0 not found; Lease gw/hgl-1 has no holder (released)');
    expect(none.fix).toMatch(/^gw\/hgl-0, gw\/hgl-1: No gateway is leading: /);
    expect(none.fix).toContain("A shard Lease that does not exist: SHARDS (2) must be the running gateways' (chart value shards)");
    const late = leaseCheck.judge({ shardLeases: [lease(0, 'gw-a', 4000), lease(1, 'gw-b')] });
    expect(late).toMatchObject({ status: 'warn', saw: expect.stringMatching(/^1 of 2 shard Leases renewed late \(gw\/hgl-0\): /) });
    expect(late.fix).toMatch(/^gw\/hgl-0: Renewed just over one duration ago/);
  });

  it("vtep.points-at-leader: each shard's endpoints present, pointing at its own Lease holder", () => {
    const A = '198.51.100.10';
    const B = '198.51.100.11';
    const ep = (name: string, cidr: string, tunnelEndpoint: string) => ({ name, cidr, tunnelEndpoint, mac: '02:00:00:00:00:01' });
    const ok: ShardedPointsAtLeaderFacts = {
      exists: true,
      endpoints: [ep('vpc-gateway-0-0', '198.51.100.0/25', A), ep('vpc-gateway-1-0', '198.51.100.128/25', B)],
      shards: [
        { shard: 0, lease: 'gw/hgl-0', holder: 'gw-a', holderPodFound: true, holderHostIP: A, expected: [{ name: 'vpc-gateway-0-0', cidr: '198.51.100.0/25' }] },
        { shard: 1, lease: 'gw/hgl-1', holder: 'gw-b', holderPodFound: true, holderHostIP: B, expected: [{ name: 'vpc-gateway-1-0', cidr: '198.51.100.128/25' }] },
      ],
      owner: 'gw/hgl-0',
      ownerKey: 'gw/hgl-0',
    };
    const saw = `CiliumVTEPConfig hybrid-gateway endpoints vpc-gateway-0-0 198.51.100.0/25 → ${A}, vpc-gateway-1-0 198.51.100.128/25 → ${B}; shard 0 leader gw-a on ${A}, shard 1 leader gw-b on ${B}`;
    expect(pointsAtLeaderCheck.judge(ok)).toEqual({ status: 'pass', saw, fix: '' });

    const [s0, s1] = ok.shards as [ShardedPointsAtLeaderFacts['shards'][number], ShardedPointsAtLeaderFacts['shards'][number]];
    const moved = pointsAtLeaderCheck.judge({ ...ok, shards: [s0, { ...s1, holder: 'gw-a', holderHostIP: A }] });
    expect(moved.status).toBe('fail');
    expect(moved.saw).toContain(`: vpc-gateway-1-0 → ${B}, not shard 1's leader gw-a on ${A}`);
    expect(moved.fix).toContain("Each shard's leader applies its own endpoints");

    const missing = pointsAtLeaderCheck.judge({ ...ok, endpoints: [ok.endpoints![0]!] });
    expect(missing.saw).toMatch(/: vpc-gateway-1-0 \(198\.51\.100\.128\/25\) missing$/);
    expect(pointsAtLeaderCheck.judge({ ...ok, endpoints: [ok.endpoints![0]!, ep('vpc-gateway-1-0', '198.51.100.0/24', B)] }).saw).toMatch(/: vpc-gateway-1-0 is 198\.51\.100\.0\/24, not 198\.51\.100\.128\/25$/);

    const leaderless = pointsAtLeaderCheck.judge({ ...ok, shards: [s0, { ...s1, holder: '', holderPodFound: false, holderHostIP: undefined }] });
    expect(leaderless).toMatchObject({ status: 'fail', saw: expect.stringContaining('shard 1 has no Lease holder'), fix: "Fix lease.fresh first: with no leader nobody keeps shard 1's endpoints" });
    const podless = pointsAtLeaderCheck.judge({ ...ok, shards: [s0, { ...s1, holderPodFound: false, holderHostIP: undefined }] });
    expect(podless.status).toBe('fail');
    expect(podless.saw).toContain("shard 1's Lease gw/hgl-1 names gw-b, not a running pod");

    const left = pointsAtLeaderCheck.judge({ ...ok, endpoints: [ep('vpc-gateway', '198.51.100.0/24', A), ...ok.endpoints!] });
    expect(left.status).toBe('warn');
    expect(left.saw).toBe(`CiliumVTEPConfig hybrid-gateway endpoints vpc-gateway 198.51.100.0/24 → ${A}, ${saw.slice('CiliumVTEPConfig hybrid-gateway endpoints '.length)}; endpoint(s) vpc-gateway left from an earlier run (no shard writes them)`);
    expect(left.fix).toContain('Delete the CiliumVTEPConfig once (kubectl delete ciliumvtepconfig hybrid-gateway): the shard leaders re-apply their own endpoints');

    expect(pointsAtLeaderCheck.judge({ ...ok, owner: 'other/lease' }).status).toBe('warn');
    expect(pointsAtLeaderCheck.judge({ ...ok, exists: false, endpoints: undefined })).toMatchObject({ status: 'fail', saw: 'CiliumVTEPConfig hybrid-gateway not found' });
  });

  it("aws.routes: each shard's prefixes in every table, on that shard's leader's ENI", () => {
    const A = 'eni-0a00000000000000a';
    const B = 'eni-0b00000000000000b';
    const table = (id: string, routes: Array<[string, string, boolean?]>) => ({ id, routes: new Map(routes.map(([c, target, active = true]) => [c, { target, active }])) });
    const ok: ShardedRoutesFacts = {
      shards: [
        { shard: 0, holder: 'gw-a', leaderEni: A, podPrefixes: ['198.18.0.0/17'] },
        { shard: 1, holder: 'gw-b', leaderEni: B, podPrefixes: ['198.18.128.0/17'] },
      ],
      tables: [table('rtb-0000000a', [['198.18.0.0/17', A], ['198.18.128.0/17', B]])],
    };
    const scope = `1 table(s) × 2 shard prefix(es), shard 0 198.18.0.0/17 → gw-a on ${A}; shard 1 198.18.128.0/17 → gw-b on ${B}`;
    expect(routesCheck.judge(ok)).toEqual({ status: 'pass', saw: `${scope}: every route active and on its shard's leader`, fix: '' });
    const wrong = routesCheck.judge({ ...ok, tables: [table('rtb-0000000a', [['198.18.0.0/17', A], ['198.18.128.0/17', A]])] });
    expect(wrong).toMatchObject({ status: 'fail', saw: `${scope}: rtb-0000000a: 198.18.128.0/17 → ${A}, not ${B} (shard 1's leader gw-b)` });
    expect(wrong.fix).toContain("Each shard's leader points these routes at its ENI");
    // The whole POD_CIDR, as an unsharded gateway routed it, stands in for no shard prefix.
    const unsharded = routesCheck.judge({ ...ok, tables: [table('rtb-0000000a', [['198.18.0.0/16', A], ['198.18.0.0/17', A, false]])] });
    expect(unsharded.saw).toBe(`${scope}: rtb-0000000a: 198.18.0.0/17 → ${A} is a blackhole (shard 0); rtb-0000000a: no route for 198.18.128.0/17 (shard 1)`);
    const leaderless = routesCheck.judge({ ...ok, shards: [ok.shards[0]!, { ...ok.shards[1]!, holder: '', leaderEni: undefined }] });
    expect(leaderless.status).toBe('fail');
    expect(leaderless.saw).toBe(`1 table(s) × 2 shard prefix(es), shard 0 198.18.0.0/17 → gw-a on ${A}; shard 1 198.18.128.0/17 → no leader: shard 1: no leader ENI (Lease holder "")`);
    expect(leaderless.fix).toBe("Fix lease.fresh and vtep.points-at-leader first: each shard's routes must point at its leader");
  });
});
