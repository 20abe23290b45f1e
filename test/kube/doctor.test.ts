// doctor's Kubernetes checks against the lab's stand-ins: a cluster set up
// right passes every check; breaking one thing fails that check alone, with
// what it saw and the fix.
import { afterEach, describe, expect, it } from 'vitest';
import { ModifyNetworkInterfaceAttributeCommand, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import type { VtepAgent } from '../../lab/cilium-vtep.js';
import { doctorContext } from '../../runtime/doctor/cli.js';
import { CHECKS } from '../../runtime/doctor/registry.js';
import { runChecks, type DoctorReport } from '../../runtime/doctor/report.js';
import {
  CLUSTER,
  doctorConfig,
  GATEWAY_SG,
  hybridNode,
  LEADER,
  putAwsNode,
  putCiliumConfig,
  putGatewayPod,
  putLease,
  ROUTE_TABLE,
  seedHealthy,
  STANDBY,
  startAws,
  stopAws,
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
  return runChecks(CHECKS, doctorContext(doctorConfig(l, env), l.newClients(), { ec2: () => Promise.resolve(ec2), eks: () => Promise.resolve(eks) }));
}

async function healthy(): Promise<Lab> {
  lab = await startLab();
  agent = await seedHealthy(lab);
  aws = await startAws();
  return lab;
}

/** The one failing check, and every other check passing. */
function onlyFailure(r: DoctorReport, name: string) {
  const failed = r.checks.filter((c) => c.status !== 'pass');
  expect(failed.map((c) => c.name)).toEqual([name]);
  expect(failed[0]!.status).toBe('fail');
  return failed[0]!;
}

describe('doctor against the stand-ins', () => {
  it('a cluster set up right passes every check', async () => {
    const r = await doctor(await healthy());
    expect(r.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(r.summary).toEqual({ pass: CHECKS.length, warn: 0, fail: 0 });
    expect(r.checks.find((c) => c.name === 'vtep.points-at-leader')!.saw).toBe('CiliumVTEPConfig hybrid-gateway endpoints 198.51.100.0/24 → 198.51.100.10; leader gw-a on 198.51.100.10');
    expect(r.checks.find((c) => c.name === 'nodes.admissible')!.saw).toBe('2 hybrid CiliumNode(s), all admitted');
    expect(r.checks.find((c) => c.name === 'aws.remotePodNetworks')!.saw).toBe(`EKS cluster ${CLUSTER} (us-west-2): remote pod networks 198.18.0.0/16; POD_CIDRS 198.18.0.0/16: every POD_CIDR inside them`);
  });

  it('kube.crd fails without the CRD object', async () => {
    const l = await healthy();
    l.server.store.remove('customresourcedefinitions', 'ciliumvtepconfigs.cilium.io');
    const f = onlyFailure(await doctor(l), 'kube.crd');
    expect(f.saw).toBe('CRD ciliumvtepconfigs.cilium.io not found');
    expect(f.fix).toContain('Install Cilium 1.19 or later with its CRDs');
  });

  it('cilium.vtep-enabled fails when enable-vtep is not "true"', async () => {
    const l = await healthy();
    putCiliumConfig(l, { 'enable-vtep': 'false', 'enable-l7-proxy': 'false' });
    const f = onlyFailure(await doctor(l), 'cilium.vtep-enabled');
    expect(f.saw).toBe('enable-vtep is "false"');
    expect(f.fix).toContain('vtep.enabled=true');
  });

  it('cilium.l7-proxy-disabled fails when enable-l7-proxy is absent (Cilium turns it on)', async () => {
    const l = await healthy();
    putCiliumConfig(l, { 'enable-vtep': 'true' });
    const f = onlyFailure(await doctor(l), 'cilium.l7-proxy-disabled');
    expect(f.saw).toBe('enable-l7-proxy is absent');
    expect(f.fix).toContain('l7Proxy=false');
  });

  it('cilium.vni fails on a dual-stack cluster with VNI 2, passes with 9', async () => {
    const l = await healthy();
    putCiliumConfig(l, { 'enable-vtep': 'true', 'enable-l7-proxy': 'false', 'enable-ipv6': 'true' });
    const f = onlyFailure(await doctor(l), 'cilium.vni');
    expect(f.saw).toBe('enable-ipv6 is "true", VXLAN_VNI is 2');
    expect(f.fix).toContain('Set VXLAN_VNI=9');
    expect((await doctor(l, { VXLAN_VNI: '9' })).summary.fail).toBe(0);
  });

  it('lease.fresh fails when the holder stopped renewing', async () => {
    const l = await healthy();
    putLease(l, LEADER.pod, Date.now() - 60_000);
    const f = onlyFailure(await doctor(l), 'lease.fresh');
    expect(f.saw).toMatch(/^Lease gw\/hybrid-gateway-leader held by gw-a, renewed 6\d\.\d s ago \(duration 15\.0 s\)$/);
    expect(f.fix).toContain('The holder stopped renewing');
  });

  it('vtep.points-at-leader fails when the Lease holder is not the node the endpoints name', async () => {
    const l = await healthy();
    putLease(l, STANDBY.pod, Date.now());
    // The routes still name the old leader too: aws.routes fails with it.
    const r = await doctor(l);
    expect(r.checks.filter((c) => c.status !== 'pass').map((c) => c.name)).toEqual(['vtep.points-at-leader', 'aws.routes']);
    const f = r.checks.find((c) => c.name === 'vtep.points-at-leader')!;
    expect(f.saw).toBe(`CiliumVTEPConfig hybrid-gateway endpoints 198.51.100.0/24 → ${LEADER.hostIP}; leader gw-b on ${STANDBY.hostIP}: 1 endpoint(s) point elsewhere`);
    expect(f.fix).toContain('The leader writes it on election');
  });

  it('vtep.ready fails while Cilium has not reported on the current generation', async () => {
    const l = await healthy();
    await agent!.stop();
    agent = undefined;
    const cur = l.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!;
    const spec = cur.spec as { endpoints: Array<Record<string, string>> };
    l.server.store.put('ciliumvtepconfigs', { ...cur, spec: { ...spec, endpoints: spec.endpoints.map((e) => ({ ...e, mac: '02:00:c6:33:64:0b' })) } });
    const f = onlyFailure(await doctor(l), 'vtep.ready');
    expect(f.saw).toBe('Ready=True (Synced: All endpoints synced to BPF map), observedGeneration 1, generation 2');
    expect(f.fix).toContain('The Ready condition is about an older spec');
  });

  it('nodes.admissible fails naming the refused node and the reason', async () => {
    const l = await healthy();
    l.server.store.put('ciliumnodes', hybridNode('hybrid-3', '192.0.2.3', '203.0.113.0/24'));
    const f = onlyFailure(await doctor(l), 'nodes.admissible');
    expect(f.saw).toBe('1 of 3 hybrid CiliumNode(s) refused: hybrid-3: pod-cidr-outside-pod-cidrs (pod CIDR 203.0.113.0/24 is not inside POD_CIDRS (198.18.0.0/16))');
    expect(f.fix).toContain("Fix the node's Cilium IPAM pool or the gateway's POD_CIDRS");
  });

  it('gateway.pods fails with one Ready pod, and with both on one node', async () => {
    const l = await healthy();
    putGatewayPod(l, STANDBY, false);
    const f = onlyFailure(await doctor(l), 'gateway.pods');
    expect(f.saw).toBe('gw-a Ready on ip-198-51-100-10; gw-b not Ready on ip-198-51-100-11');
    expect(f.fix).toContain('Two gateways (leader and standby) must run');
    putGatewayPod(l, STANDBY, true, 'ip-198-51-100-10');
    const same = onlyFailure(await doctor(l), 'gateway.pods');
    expect(same.fix).toContain('Both gateways run on one node');
  });

  it('aws-node.snat-excluded fails when a POD_CIDR is SNATed, naming the command', async () => {
    const l = await healthy();
    putAwsNode(l, { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: '203.0.113.0/24' });
    const f = onlyFailure(await doctor(l), 'aws-node.snat-excluded');
    expect(f.saw).toBe('AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS is "203.0.113.0/24": 198.18.0.0/16 not excluded');
    expect(f.fix).toContain('kubectl -n kube-system set env daemonset/aws-node AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS=203.0.113.0/24,198.18.0.0/16');
    putAwsNode(l, { AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' });
    expect((await doctor(l)).summary.fail).toBe(0);
  });

  it('aws.routes fails when a POD_CIDR route points elsewhere or is missing', async () => {
    const l = await healthy();
    await aws!.ec2.send(new ReplaceRouteCommand({ RouteTableId: ROUTE_TABLE, DestinationCidrBlock: '198.18.0.0/16', NetworkInterfaceId: STANDBY.eni }));
    const f = onlyFailure(await doctor(l), 'aws.routes');
    expect(f.saw).toBe(`1 table(s) × 1 POD_CIDR(s), leader gw-a on ${LEADER.eni}: ${ROUTE_TABLE}: 198.18.0.0/16 → ${STANDBY.eni}, not ${LEADER.eni}`);
    expect(f.fix).toContain('ec2:ReplaceRoute, ec2:CreateRoute');
    const missing = onlyFailure(await doctor(l, { ROUTE_TABLE_IDS: `${ROUTE_TABLE},rtb-0fffffffffffffff0` }), 'aws.routes');
    expect(missing.saw).toContain('rtb-0fffffffffffffff0: ');
    expect(missing.fix).toContain('ROUTE_TABLE_IDS typo');
  });

  it('aws.routes fails on a blackhole', async () => {
    const l = await healthy();
    aws!.standIn.state.routeTables.get(ROUTE_TABLE)!.routes.get('198.18.0.0/16')!.state = 'blackhole';
    const f = onlyFailure(await doctor(l), 'aws.routes');
    expect(f.saw).toContain(`198.18.0.0/16 → ${LEADER.eni} is a blackhole`);
  });

  it('aws.source-dest-check fails when a gateway ENI has the check on, naming the command', async () => {
    const l = await healthy();
    await aws!.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: STANDBY.eni, SourceDestCheck: { Value: true } }));
    const f = onlyFailure(await doctor(l), 'aws.source-dest-check');
    expect(f.saw).toBe(`gw-a ${LEADER.hostIP} ${LEADER.eni} check off; gw-b ${STANDBY.hostIP} ${STANDBY.eni} check ON`);
    expect(f.fix).toContain(`aws ec2 modify-network-interface-attribute --network-interface-id ${STANDBY.eni} --no-source-dest-check`);
  });

  it('aws.security-groups fails when a hybrid node is outside the UDP 8472 rule', async () => {
    const l = await healthy();
    aws!.standIn.state.securityGroups.get(GATEWAY_SG)!.ingress = [{ protocol: 'udp', fromPort: 8472, toPort: 8472, cidrs: ['192.0.2.1/32'] }];
    const f = onlyFailure(await doctor(l), 'aws.security-groups');
    expect(f.saw).toBe(`2 gateway ENI(s), 2 hybrid node(s): gw-a ${LEADER.eni} (${GATEWAY_SG}) refuses 192.0.2.2; gw-b ${STANDBY.eni} (${GATEWAY_SG}) refuses 192.0.2.2`);
    expect(f.fix).toContain(`aws ec2 authorize-security-group-ingress --group-id ${GATEWAY_SG}`);
    aws!.standIn.state.securityGroups.get(GATEWAY_SG)!.ingress = [{ protocol: '-1', cidrs: ['192.0.2.0/24'] }];
    expect((await doctor(l)).summary.fail).toBe(0);
  });

  it('aws.iam fails when EC2 answers the DryRun with UnauthorizedOperation', async () => {
    const l = await healthy();
    const ok = (await doctor(l)).checks.find((c) => c.name === 'aws.iam')!;
    expect(ok.saw).toBe(`DryRun on ${ROUTE_TABLE} 198.18.0.0/16 → ${LEADER.eni}: ReplaceRoute allowed, CreateRoute allowed`);
    aws!.standIn.faults.deny(['ReplaceRoute']);
    const f = onlyFailure(await doctor(l), 'aws.iam');
    expect(f.saw).toBe(`DryRun on ${ROUTE_TABLE} 198.18.0.0/16 → ${LEADER.eni}: ReplaceRoute denied, CreateRoute allowed`);
    expect(f.fix).toContain('Allow ec2:ReplaceRoute on the route tables');
    // Nothing was written: every route call was a DryRun.
    expect(aws!.standIn.calls.filter((c) => c.action.endsWith('Route')).every((c) => c.params.DryRun === 'true')).toBe(true);
  });

  it('aws.remotePodNetworks fails naming a POD_CIDR outside the remote pod networks, with the command', async () => {
    const l = await healthy();
    aws!.eksStandIn.clusters.get(CLUSTER)!.remotePodNetworks = ['198.18.0.0/17'];
    const f = onlyFailure(await doctor(l), 'aws.remotePodNetworks');
    expect(f.saw).toBe(`EKS cluster ${CLUSTER} (us-west-2): remote pod networks 198.18.0.0/17; POD_CIDRS 198.18.0.0/16: 198.18.0.0/16 not inside them`);
    expect(f.fix).toContain(`aws eks update-cluster-config --name ${CLUSTER} --region us-west-2 --remote-network-config '{"remotePodNetworks":[{"cidrs":["198.18.0.0/17","198.18.0.0/16"]}]}'`);
    // The lab's addresses are TEST-NET and benchmarking ranges, which real EKS would not take.
    expect(f.fix).toContain('198.18.0.0/16 is outside them');
  });

  it('aws.remotePodNetworks fails on an unknown cluster, naming it, and on a missing eks:DescribeCluster', async () => {
    const l = await healthy();
    const missing = onlyFailure(await doctor(l, { CLUSTER_NAME: 'other-cluster' }), 'aws.remotePodNetworks');
    expect(missing.saw).toBe('EKS cluster other-cluster (us-west-2) not found (ResourceNotFoundException)');
    expect(missing.fix).toContain('Set --cluster-name / CLUSTER_NAME');
    aws!.eksStandIn.deny(['DescribeCluster']);
    const denied = onlyFailure(await doctor(l), 'aws.remotePodNetworks');
    expect(denied.saw).toBe(
      `EKS cluster ${CLUSTER} (us-west-2): DescribeCluster denied (AccessDeniedException): User: arn:aws:iam::123456789012:user/lab is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:us-west-2:123456789012:cluster/${CLUSTER}`,
    );
    expect(denied.fix).toContain(`Allow eks:DescribeCluster on arn:aws:eks:us-west-2:123456789012:cluster/${CLUSTER}`);
  });

  it('aws.remotePodNetworks warns, asking EKS nothing, without a cluster name', async () => {
    const l = await healthy();
    const before = aws!.eksStandIn.calls.length;
    const r = await doctor(l, { CLUSTER_NAME: '' });
    expect(r.checks.filter((c) => c.status !== 'pass')).toEqual([
      expect.objectContaining({ name: 'aws.remotePodNetworks', status: 'warn', saw: 'cluster name not configured', fix: 'Set --cluster-name / CLUSTER_NAME (chart value clusterName) to check the remote pod networks' }),
    ]);
    expect(aws!.eksStandIn.calls.length).toBe(before);
  });

  it('a check whose read fails fails itself, saying what it could not read', async () => {
    const l = await healthy();
    l.server.faults.set({ errorRate: 1, errorStatus: 503 });
    const r = await doctor(l);
    // Every check but the EKS one reads the API server.
    expect(r.checks.filter((c) => c.status !== 'fail').map((c) => c.name)).toEqual(['aws.remotePodNetworks']);
    expect(r.summary.fail).toBe(CHECKS.length - 1);
    expect(r.checks[0]!.saw).toMatch(/^could not read apiextensions\.k8s\.io\/v1 CustomResourceDefinition/);
    expect(r.checks[0]!.fix).toContain('may get and list what this check reads');
    expect(r.checks[0]!.fix).toContain('--set doctor.rbac=true');
  });
});
