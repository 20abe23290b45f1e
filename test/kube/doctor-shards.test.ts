// doctor against the stand-ins set up for SHARDS=2 (test/kube/doctor-lab.ts):
// shard Leases `<id>-0`/`<id>-1` held by the two gateways, each shard's
// endpoints applied by its leader, each shard's POD_CIDR half routed to its
// leader's ENI. Set up right, every check passes; one thing broken fails (or
// warns) that check alone, naming the shard, with the fix.
import { afterEach, describe, expect, it } from 'vitest';
import { ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import type { VtepAgent } from '../../lab/cilium-vtep.js';
import { leaseKey } from '../../machines/domain/ownership.js';
import { doctorContext } from '../../runtime/doctor/cli.js';
import { CHECKS } from '../../runtime/doctor/registry.js';
import { runChecks, type DoctorReport } from '../../runtime/doctor/report.js';
import {
  applyShardEndpoints,
  doctorConfig,
  hybridNode,
  LEADER,
  LEASE,
  NS,
  putLease,
  ROUTE_TABLE,
  seedHealthy,
  SHARD_LEADERS,
  SHARDED_ROUTES,
  shardLease,
  STANDBY,
  startAws,
  stopAws,
  waitCurrentReady,
  type AwsLab,
} from './doctor-lab.js';
import { startLab, type Lab } from './helpers.js';

let lab: Lab | undefined;
let agent: VtepAgent | undefined;
let aws: AwsLab | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await stopAws(aws);
  aws = undefined;
  await lab?.server.close();
  lab = undefined;
});

async function doctor(l: Lab, env: Record<string, string> = {}): Promise<DoctorReport> {
  const { ec2, eks } = aws!;
  return runChecks(CHECKS, doctorContext(doctorConfig(l, { SHARDS: '2', ...env }), l.newClients(), { ec2: () => Promise.resolve(ec2), eks: () => Promise.resolve(eks) }));
}

async function sharded(): Promise<Lab> {
  lab = await startLab();
  agent = await seedHealthy(lab, { shards: 2 });
  aws = await startAws(SHARDED_ROUTES);
  return lab;
}

function onlyNonPass(r: DoctorReport, name: string, status: 'fail' | 'warn' = 'fail') {
  const bad = r.checks.filter((c) => c.status !== 'pass');
  expect(bad.map((c) => `${c.name} ${c.status}`)).toEqual([`${name} ${status}`]);
  return bad[0]!;
}

const check = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name)!;
const EPS = `vpc-gateway-0-0 198.51.100.0/25 → ${LEADER.hostIP}, vpc-gateway-1-0 198.51.100.128/25 → ${STANDBY.hostIP}`;
const LEADERS = `shard 0 leader gw-a on ${LEADER.hostIP}, shard 1 leader gw-b on ${STANDBY.hostIP}`;

describe('doctor with SHARDS=2 against the stand-ins', () => {
  it('a sharded cluster set up right passes every check, each shard judged against its own Lease holder', async () => {
    const r = await doctor(await sharded());
    expect(r.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(check(r, 'lease.fresh').saw).toMatch(/^Lease gw\/hybrid-gateway-leader-0 held by gw-a, renewed \d+\.\d s ago \(duration 15\.0 s\); Lease gw\/hybrid-gateway-leader-1 held by gw-b, renewed \d+\.\d s ago \(duration 15\.0 s\)$/);
    expect(check(r, 'vtep.points-at-leader').saw).toBe(`CiliumVTEPConfig hybrid-gateway endpoints ${EPS}; ${LEADERS}`);
    expect(check(r, 'aws.routes').saw).toBe(
      `1 table(s) × 2 shard prefix(es), shard 0 198.18.0.0/17 → gw-a on ${LEADER.eni}; shard 1 198.18.128.0/17 → gw-b on ${STANDBY.eni}: every route active and on its shard's leader`,
    );
    expect(check(r, 'aws.iam').saw).toBe(`DryRun on ${ROUTE_TABLE} 198.18.0.0/17 → ${LEADER.eni}: ReplaceRoute allowed, CreateRoute allowed`);
    expect(check(r, 'aws.source-dest-check').saw).toBe(`gw-a ${LEADER.hostIP} ${LEADER.eni} check off; gw-b ${STANDBY.hostIP} ${STANDBY.eni} check off`);
  });

  it('lease.fresh fails naming the shard Lease whose holder stopped renewing', async () => {
    const l = await sharded();
    putLease(l, STANDBY.pod, Date.now() - 60_000, shardLease(1));
    const f = onlyNonPass(await doctor(l), 'lease.fresh');
    expect(f.saw).toMatch(/^1 of 2 shard Leases not held and fresh \(gw\/hybrid-gateway-leader-1\): Lease gw\/hybrid-gateway-leader-0 held by gw-a, renewed \d+\.\d s ago \(duration 15\.0 s\); Lease gw\/hybrid-gateway-leader-1 held by gw-b, renewed 6\d\.\d s ago/);
    expect(f.fix).toBe(
      'gw/hybrid-gateway-leader-1: The holder stopped renewing: check pod gw-b (kubectl logs, events) and its access to the API server; a standby takes over once the Lease expires',
    );
  });

  it('lease.fresh fails on a missing shard Lease, saying SHARDS must be the gateways’', async () => {
    const l = await sharded();
    l.server.store.remove('leases', shardLease(1), NS);
    const f = check(await doctor(l), 'lease.fresh');
    expect(f.status).toBe('fail');
    expect(f.saw).toContain('(gw/hybrid-gateway-leader-1): ');
    expect(f.saw).toContain('Lease gw/hybrid-gateway-leader-1 not found');
    expect(f.fix).toContain("SHARDS (2) must be the running gateways' (chart value shards)");
  });

  it("vtep.points-at-leader fails when a shard's endpoint points at another gateway than its Lease holder", async () => {
    const l = await sharded();
    // Shard 1's endpoints applied with the leader's node IP (shard 1's Lease is the standby's).
    await applyShardEndpoints(l, [LEADER, LEADER]);
    await waitCurrentReady(l);
    const f = onlyNonPass(await doctor(l), 'vtep.points-at-leader');
    expect(f.saw).toBe(
      `CiliumVTEPConfig hybrid-gateway endpoints vpc-gateway-0-0 198.51.100.0/25 → ${LEADER.hostIP}, vpc-gateway-1-0 198.51.100.128/25 → ${LEADER.hostIP}; ${LEADERS}: vpc-gateway-1-0 → ${LEADER.hostIP}, not shard 1's leader gw-b on ${STANDBY.hostIP}`,
    );
    expect(f.fix).toContain("Each shard's leader applies its own endpoints");
  });

  it('vtep.points-at-leader warns on the unsharded endpoint an earlier run left, and passes once the object is re-applied', async () => {
    lab = await startLab();
    const l = lab;
    // An unsharded gateway wrote vpc-gateway (PUT); then the shard leaders took over.
    agent = await seedHealthy(l);
    SHARD_LEADERS.forEach((p, k) => putLease(l, p.pod, Date.now(), shardLease(k)));
    await applyShardEndpoints(l, SHARD_LEADERS, leaseKey(NS, LEASE));
    await waitCurrentReady(l);
    aws = await startAws(SHARDED_ROUTES);
    const w = onlyNonPass(await doctor(l), 'vtep.points-at-leader', 'warn');
    expect(w.saw).toBe(`CiliumVTEPConfig hybrid-gateway endpoints vpc-gateway 198.51.100.0/24 → ${LEADER.hostIP}, ${EPS}; ${LEADERS}; endpoint(s) vpc-gateway left from an earlier run (no shard writes them)`);
    expect(w.fix).toContain('Delete the CiliumVTEPConfig once (kubectl delete ciliumvtepconfig hybrid-gateway): the shard leaders re-apply');
    // The fix: delete it once; the shard leaders apply their endpoints again.
    l.server.store.remove('ciliumvtepconfigs', 'hybrid-gateway');
    await applyShardEndpoints(l);
    await waitCurrentReady(l);
    expect((await doctor(l)).checks.filter((c) => c.status !== 'pass')).toEqual([]);
  });

  it("aws.routes fails when a shard's prefix points at another shard leader's ENI", async () => {
    const l = await sharded();
    await aws!.ec2.send(new ReplaceRouteCommand({ RouteTableId: ROUTE_TABLE, DestinationCidrBlock: '198.18.128.0/17', NetworkInterfaceId: LEADER.eni }));
    const f = onlyNonPass(await doctor(l), 'aws.routes');
    expect(f.saw).toBe(
      `1 table(s) × 2 shard prefix(es), shard 0 198.18.0.0/17 → gw-a on ${LEADER.eni}; shard 1 198.18.128.0/17 → gw-b on ${STANDBY.eni}: ${ROUTE_TABLE}: 198.18.128.0/17 → ${LEADER.eni}, not ${STANDBY.eni} (shard 1's leader gw-b)`,
    );
    expect(f.fix).toContain("Each shard's leader points these routes at its ENI");
  });

  it('aws.routes fails when a shard prefix has no route (the unsharded POD_CIDR route does not count)', async () => {
    lab = await startLab();
    agent = await seedHealthy(lab, { shards: 2 });
    aws = await startAws([{ destinationCidrBlock: '198.18.0.0/16', networkInterfaceId: LEADER.eni }, SHARDED_ROUTES[0]!]);
    const f = onlyNonPass(await doctor(lab), 'aws.routes');
    expect(f.saw).toContain(`: ${ROUTE_TABLE}: no route for 198.18.128.0/17 (shard 1)`);
  });

  it('gateway.pods counts the holder of every shard Lease, labelled or not', async () => {
    const l = await sharded();
    // gw-b, shard 1's holder, without the chart's labels (not found by the label selector).
    const b = l.server.store.find('pods', STANDBY.pod, NS)!;
    l.server.store.put('pods', { ...b, metadata: { ...b.metadata, labels: {} } });
    const f = onlyNonPass(await doctor(l), 'gateway.pods');
    expect(f.saw).toBe('gw-a Ready on ip-198-51-100-10; gw-b not Ready on no node');
  });

  it("nodes.admissible counts every shard leader's address as the gateway's", async () => {
    const l = await sharded();
    l.server.store.put('ciliumnodes', hybridNode('hybrid-3', STANDBY.hostIP, '198.18.3.0/24'));
    // (aws.security-groups refuses it too: it is outside the hybrid nodes' network.)
    const f = check(await doctor(l), 'nodes.admissible');
    expect(f.status).toBe('fail');
    expect(f.saw).toBe(`1 of 3 hybrid CiliumNode(s) refused: hybrid-3: internal-ip-is-gateway-address (InternalIP ${STANDBY.hostIP} is an address of this gateway)`);
  });
});
