// doctor's judges, without I/O: for each check, facts of a cluster set up right
// (pass) and of one set up wrong (fail, with the fix to apply).
import { describe, expect, it } from 'vitest';
import { crdCheck } from '../../runtime/doctor/checks/crd.js';
import { l7ProxyDisabledCheck, vniCheck, vtepEnabledCheck, type CiliumConfigFacts } from '../../runtime/doctor/checks/cilium-config.js';
import { leaseCheck, type LeaseFreshFacts } from '../../runtime/doctor/checks/lease.js';
import { pointsAtLeaderCheck, vtepReadyCheck, type PointsAtLeaderFacts, type ReadyFacts } from '../../runtime/doctor/checks/vtep-config.js';
import { ciliumNodesCheck, type NodesFacts } from '../../runtime/doctor/checks/cilium-nodes.js';
import { routesCheck, type RoutesFacts } from '../../runtime/doctor/checks/aws-routes.js';
import { sourceDestCheck, type EniFacts } from '../../runtime/doctor/checks/aws-eni.js';
import { iamCheck, type IamFacts } from '../../runtime/doctor/checks/aws-iam.js';
import { securityGroupsCheck, type SecurityGroupsFacts } from '../../runtime/doctor/checks/aws-security-groups.js';
import { gatewayPodsCheck } from '../../runtime/doctor/checks/gateway-pods.js';
import { awsNodeSnatCheck } from '../../runtime/doctor/checks/aws-node.js';
import { remotePodNetworksCheck, type RemotePodNetworksFacts } from '../../runtime/doctor/checks/aws-remote-pod-networks.js';
import { splitDoctorArgs } from '../../runtime/doctor/cli.js';
import { exitCode, renderText } from '../../runtime/doctor/report.js';

const CM: CiliumConfigFacts = { data: { 'enable-vtep': 'true', 'enable-l7-proxy': 'false', 'enable-ipv6': 'false' }, vni: 2 };

describe('doctor judges', () => {
  it('kube.crd', () => {
    expect(crdCheck.judge({ name: 'ciliumvtepconfigs.cilium.io', present: true, served: ['v2'] }).status).toBe('pass');
    const v = crdCheck.judge({ name: 'ciliumvtepconfigs.cilium.io', present: false, served: [] });
    expect(v).toMatchObject({ status: 'fail', saw: 'CRD ciliumvtepconfigs.cilium.io not found' });
    expect(v.fix).toContain('Cilium 1.19');
    expect(crdCheck.judge({ name: 'x', present: true, served: ['v2alpha1'] }).status).toBe('fail');
  });

  it('cilium.vtep-enabled', () => {
    expect(vtepEnabledCheck.judge(CM).status).toBe('pass');
    const v = vtepEnabledCheck.judge({ ...CM, data: { ...CM.data, 'enable-vtep': 'false' } });
    expect(v).toMatchObject({ status: 'fail', saw: 'enable-vtep is "false"' });
    expect(v.fix).toContain('vtep.enabled=true');
    expect(vtepEnabledCheck.judge({ ...CM, data: undefined })).toMatchObject({ status: 'fail', saw: 'ConfigMap kube-system/cilium-config not found' });
  });

  it('cilium.l7-proxy-disabled (absent means on, Cilium’s default)', () => {
    expect(l7ProxyDisabledCheck.judge(CM).status).toBe('pass');
    const v = l7ProxyDisabledCheck.judge({ ...CM, data: { 'enable-vtep': 'true' } });
    expect(v).toMatchObject({ status: 'fail', saw: 'enable-l7-proxy is absent' });
    expect(v.fix).toContain('l7Proxy=false');
  });

  it('cilium.vni: 9 on dual-stack, 2 otherwise', () => {
    expect(vniCheck.judge(CM).status).toBe('pass');
    expect(vniCheck.judge({ data: { 'enable-ipv6': 'true' }, vni: 9 }).status).toBe('pass');
    const dual = vniCheck.judge({ data: { 'enable-ipv6': 'true' }, vni: 2 });
    expect(dual).toMatchObject({ status: 'fail', saw: 'enable-ipv6 is "true", VXLAN_VNI is 2' });
    expect(dual.fix).toContain('VXLAN_VNI=9');
    expect(vniCheck.judge({ data: {}, vni: 9 }).fix).toContain('VXLAN_VNI=2');
  });

  it('lease.fresh', () => {
    const now = 1_800_000_000_000;
    const ok: LeaseFreshFacts = { namespace: 'gw', name: 'hybrid-gateway-leader', exists: true, holder: 'gw-a', renewedAtMs: now - 1000, durationMs: 3000, nowMs: now };
    expect(leaseCheck.judge(ok)).toMatchObject({ status: 'pass', saw: 'Lease gw/hybrid-gateway-leader held by gw-a, renewed 1.0 s ago (duration 3.0 s)' });
    expect(leaseCheck.judge({ ...ok, renewedAtMs: now - 4000 }).status).toBe('warn');
    const stale = leaseCheck.judge({ ...ok, renewedAtMs: now - 60_000 });
    expect(stale.status).toBe('fail');
    expect(stale.fix).toContain('stopped renewing');
    expect(leaseCheck.judge({ ...ok, holder: '' })).toMatchObject({ status: 'fail', saw: 'Lease gw/hybrid-gateway-leader has no holder (released)' });
    expect(leaseCheck.judge({ ...ok, exists: false }).fix).toContain('No gateway is leading');
  });

  it('vtep.points-at-leader', () => {
    const ok: PointsAtLeaderFacts = {
      holder: 'gw-a', holderPodFound: true, holderHostIP: '198.51.100.10', exists: true,
      endpoints: [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.10', cidr: '198.51.100.0/24', mac: '02:00:00:00:00:01' }],
      vpcCIDRs: ['198.51.100.0/24'], owner: 'gw/hybrid-gateway-leader', ownerKey: 'gw/hybrid-gateway-leader',
    };
    expect(pointsAtLeaderCheck.judge(ok)).toMatchObject({ status: 'pass', saw: 'CiliumVTEPConfig hybrid-gateway endpoints 198.51.100.0/24 → 198.51.100.10; leader gw-a on 198.51.100.10' });
    const elsewhere = pointsAtLeaderCheck.judge({ ...ok, holderHostIP: '198.51.100.11' });
    expect(elsewhere.status).toBe('fail');
    expect(elsewhere.saw).toContain('1 endpoint(s) point elsewhere');
    expect(elsewhere.fix).toContain('The leader writes it');
    expect(pointsAtLeaderCheck.judge({ ...ok, vpcCIDRs: ['198.51.100.0/24', '203.0.113.0/24'] }).saw).toContain('VPC CIDR(s) 203.0.113.0/24 missing');
    expect(pointsAtLeaderCheck.judge({ ...ok, exists: false, endpoints: undefined }).status).toBe('fail');
    expect(pointsAtLeaderCheck.judge({ ...ok, holderPodFound: false, holderHostIP: undefined }).status).toBe('fail');
    expect(pointsAtLeaderCheck.judge({ ...ok, owner: 'other/lease' }).status).toBe('warn');
  });

  it('vtep.ready', () => {
    const ok: ReadyFacts = { exists: true, generation: 2, ready: { status: 'True', reason: 'Synced', message: 'All endpoints synced to BPF map', observedGeneration: 2 } };
    expect(vtepReadyCheck.judge(ok).status).toBe('pass');
    const old = vtepReadyCheck.judge({ ...ok, generation: 3 });
    expect(old).toMatchObject({ status: 'fail', saw: 'Ready=True (Synced: All endpoints synced to BPF map), observedGeneration 2, generation 3' });
    expect(old.fix).toContain('older spec');
    const notReady = vtepReadyCheck.judge({ ...ok, ready: { status: 'False', reason: 'SyncFailed', message: 'Some endpoints failed to sync', observedGeneration: 2 } });
    expect(notReady.status).toBe('fail');
    expect(notReady.fix).toContain('Some endpoints failed to sync');
    expect(vtepReadyCheck.judge({ ...ok, ready: undefined }).saw).toContain('no Ready condition');
  });

  it('nodes.admissible: the gateway’s admission, with the reason', () => {
    const node = (name: string, ip: string, cidr: string) => ({ metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs: [cidr] } } });
    const f: NodesFacts = { nodes: [node('h1', '192.0.2.1', '198.18.0.0/24')], vpcCIDRs: ['198.51.100.0/24'], podCIDRs: ['198.18.0.0/16'], gatewayAddresses: ['198.51.100.10'] };
    expect(ciliumNodesCheck.judge(f)).toMatchObject({ status: 'pass', saw: '1 hybrid CiliumNode(s), all admitted' });
    const bad = ciliumNodesCheck.judge({ ...f, nodes: [...f.nodes, node('h2', '192.0.2.2', '203.0.113.0/24')] });
    expect(bad.status).toBe('fail');
    expect(bad.saw).toBe('1 of 2 hybrid CiliumNode(s) refused: h2: pod-cidr-outside-pod-cidrs (pod CIDR 203.0.113.0/24 is not inside POD_CIDRS (198.18.0.0/16))');
    expect(bad.fix).toContain('inside POD_CIDRS (198.18.0.0/16)');
    expect(ciliumNodesCheck.judge({ ...f, nodes: [node('h3', '198.51.100.20', '198.18.1.0/24')] }).saw).toContain('internal-ip-in-vpc');
    expect(ciliumNodesCheck.judge({ ...f, nodes: [] }).status).toBe('warn');
  });
});

describe('doctor judges: gateway pods and aws-node', () => {
  it('gateway.pods', () => {
    const p = (name: string, node: string, ready = true) => ({ name, hostIP: '198.51.100.10', nodeName: node, ready });
    expect(gatewayPodsCheck.judge({ namespace: 'gw', pods: [p('a', 'n1'), p('b', 'n2')] }).status).toBe('pass');
    expect(gatewayPodsCheck.judge({ namespace: 'gw', pods: [p('a', 'n1'), p('b', 'n2', false)] }).status).toBe('fail');
    expect(gatewayPodsCheck.judge({ namespace: 'gw', pods: [p('a', 'n1'), p('b', 'n1')] }).fix).toContain('one node');
    expect(gatewayPodsCheck.judge({ namespace: 'gw', pods: [] })).toMatchObject({ status: 'fail', saw: 'no gateway pod in namespace gw' });
  });

  it('aws-node.snat-excluded: every POD_CIDR inside an excluded CIDR, or external SNAT', () => {
    const f = { present: true, env: { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: '198.18.0.0/15, 203.0.113.0/24' }, podCIDRs: ['198.18.0.0/16', '198.19.0.0/16'] };
    expect(awsNodeSnatCheck.judge(f).status).toBe('pass');
    const bad = awsNodeSnatCheck.judge({ ...f, env: {} });
    expect(bad).toMatchObject({ status: 'fail', saw: 'AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS is not set: 198.18.0.0/16, 198.19.0.0/16 not excluded' });
    expect(bad.fix).toContain('AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS=198.18.0.0/16,198.19.0.0/16');
    expect(awsNodeSnatCheck.judge({ ...f, env: { AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' } }).status).toBe('pass');
    expect(awsNodeSnatCheck.judge({ ...f, present: false }).status).toBe('warn');
  });
});

describe('doctor judges: AWS', () => {
  const ENI = 'eni-0a00000000000000a';
  it('aws.routes', () => {
    const ok: RoutesFacts = { holder: 'gw-a', leaderEni: ENI, podCIDRs: ['198.18.0.0/16'], tables: [{ id: 'rtb-0000000a', routes: new Map([['198.18.0.0/16', { target: ENI, active: true }]]) }] };
    expect(routesCheck.judge(ok).status).toBe('pass');
    const bad = routesCheck.judge({
      ...ok,
      podCIDRs: ['198.18.0.0/16', '198.19.0.0/16'],
      tables: [...ok.tables, { id: 'rtb-0000000b', routes: new Map([['198.18.0.0/16', { target: ENI, active: false }]]) }, { id: 'rtb-0000000c', routes: 'The routeTable ID does not exist' }],
    });
    expect(bad.status).toBe('fail');
    expect(bad.saw).toBe(
      `3 table(s) × 2 POD_CIDR(s), leader gw-a on ${ENI}: rtb-0000000a: no route for 198.19.0.0/16; rtb-0000000b: 198.18.0.0/16 → ${ENI} is a blackhole; rtb-0000000b: no route for 198.19.0.0/16; rtb-0000000c: The routeTable ID does not exist`,
    );
    expect(routesCheck.judge({ ...ok, leaderEni: undefined }).fix).toContain('Fix lease.fresh');
  });

  it('aws.source-dest-check', () => {
    const g = (pod: string, on: boolean | undefined) => ({ pod, hostIP: '198.51.100.10', eni: ENI, sourceDestCheck: on });
    const ok: EniFacts = { gateways: [g('gw-a', false), g('gw-b', false)] };
    expect(sourceDestCheck.judge(ok).status).toBe('pass');
    const on = sourceDestCheck.judge({ gateways: [g('gw-a', false), g('gw-b', true)] });
    expect(on.status).toBe('fail');
    expect(on.fix).toContain('--no-source-dest-check');
    expect(sourceDestCheck.judge({ gateways: [g('gw-a', false)] }).status).toBe('warn');
    expect(sourceDestCheck.judge({ gateways: [] }).status).toBe('fail');
  });

  it('aws.security-groups: UDP 8472 (or all traffic) from a CIDR holding each hybrid node', () => {
    const gw = (rules: SecurityGroupsFacts['gateways'][number]['groups'][number]['rules']) => ({ pod: 'gw-a', eni: ENI, groups: [{ id: 'sg-0000000a', rules }] });
    const ok: SecurityGroupsFacts = { gateways: [gw([{ protocol: 'udp', fromPort: 8000, toPort: 9000, cidrs: ['192.0.2.0/24'] }])], nodeIPs: ['192.0.2.1', '192.0.2.2'] };
    expect(securityGroupsCheck.judge(ok).status).toBe('pass');
    expect(securityGroupsCheck.judge({ ...ok, gateways: [gw([{ protocol: '-1', fromPort: undefined, toPort: undefined, cidrs: ['192.0.2.0/24'] }])] }).status).toBe('pass');
    const tcp = securityGroupsCheck.judge({ ...ok, gateways: [gw([{ protocol: 'tcp', fromPort: 8472, toPort: 8472, cidrs: ['192.0.2.0/24'] }])] });
    expect(tcp).toMatchObject({ status: 'fail', saw: `1 gateway ENI(s), 2 hybrid node(s): gw-a ${ENI} (sg-0000000a) refuses 192.0.2.1, 192.0.2.2` });
    expect(tcp.fix).toContain('--group-id sg-0000000a');
    expect(securityGroupsCheck.judge({ ...ok, nodeIPs: [] }).status).toBe('warn');
  });

  it('aws.iam', () => {
    const ok: IamFacts = { routeTable: 'rtb-0000000a', cidr: '198.18.0.0/16', eni: ENI, answers: { ReplaceRoute: 'allowed', CreateRoute: 'allowed' } };
    expect(iamCheck.judge(ok).status).toBe('pass');
    const denied = iamCheck.judge({ ...ok, answers: { ReplaceRoute: 'allowed', CreateRoute: 'denied' } });
    expect(denied.status).toBe('fail');
    expect(denied.fix).toContain('Allow ec2:CreateRoute');
    expect(iamCheck.judge({ ...ok, answers: { ReplaceRoute: { error: 'InvalidParameterValue: x' }, CreateRoute: 'allowed' } }).saw).toContain('ReplaceRoute InvalidParameterValue: x');
  });
});

describe('doctor judges: the EKS cluster', () => {
  const judge = (f: RemotePodNetworksFacts) => remotePodNetworksCheck.judge(f);
  const ok: RemotePodNetworksFacts = {
    clusterName: 'prod',
    region: 'us-west-2',
    podCIDRs: ['10.250.0.0/16', '10.251.4.0/24'],
    answer: { kind: 'found', remoteNodeNetworks: ['10.80.0.0/16'], remotePodNetworks: ['10.250.0.0/16', '10.251.0.0/16'] },
  };

  it('aws.remotePodNetworks: passes when each POD_CIDR is a remote pod network or inside one', () => {
    expect(judge(ok)).toEqual({
      status: 'pass',
      saw: 'EKS cluster prod (us-west-2): remote pod networks 10.250.0.0/16, 10.251.0.0/16; POD_CIDRS 10.250.0.0/16, 10.251.4.0/24: every POD_CIDR inside them',
      fix: '',
    });
  });

  it('aws.remotePodNetworks: fails naming the POD_CIDRs outside, with the update command keeping the current list', () => {
    const v = judge({ ...ok, podCIDRs: ['10.250.0.0/16', '10.252.0.0/16', '172.20.0.0/16'] });
    expect(v.status).toBe('fail');
    expect(v.saw).toBe('EKS cluster prod (us-west-2): remote pod networks 10.250.0.0/16, 10.251.0.0/16; POD_CIDRS 10.250.0.0/16, 10.252.0.0/16, 172.20.0.0/16: 10.252.0.0/16, 172.20.0.0/16 not inside them');
    expect(v.fix).toContain(
      `aws eks update-cluster-config --name prod --region us-west-2 --remote-network-config '{"remotePodNetworks":[{"cidrs":["10.250.0.0/16","10.251.0.0/16","10.252.0.0/16","172.20.0.0/16"]}]}'`,
    );
    expect(v.fix).toContain('remoteNodeNetworks, left out, stays as it is');
    expect(v.fix).not.toContain('RFC-1918');
    const none = judge({ ...ok, answer: { kind: 'found', remoteNodeNetworks: ['10.80.0.0/16'], remotePodNetworks: [] } });
    expect(none.saw).toBe('EKS cluster prod (us-west-2): remote pod networks none; POD_CIDRS 10.250.0.0/16, 10.251.4.0/24: 10.250.0.0/16, 10.251.4.0/24 not inside them');
    expect(none.fix).toContain(`'{"remotePodNetworks":[{"cidrs":["10.250.0.0/16","10.251.4.0/24"]}]}'`);
  });

  it('aws.remotePodNetworks: says when EKS would refuse the missing CIDR (not RFC 1918)', () => {
    const v = judge({ ...ok, podCIDRs: ['10.250.0.0/16', '198.19.0.0/16'] });
    expect(v.status).toBe('fail');
    expect(v.fix).toContain('EKS takes only RFC-1918 ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) as remote networks, and 198.19.0.0/16 is outside them');
  });

  it('aws.remotePodNetworks: Hybrid Nodes not enabled (no remote node networks)', () => {
    const v = judge({ ...ok, answer: { kind: 'found', remoteNodeNetworks: [], remotePodNetworks: [] } });
    expect(v).toMatchObject({ status: 'fail', saw: 'EKS cluster prod (us-west-2) has no remote node networks: EKS Hybrid Nodes is not enabled on it' });
    expect(v.fix).toContain(`--remote-network-config '{"remoteNodeNetworks":[{"cidrs":["<remote node CIDR>"]}],"remotePodNetworks":[{"cidrs":["10.250.0.0/16","10.251.4.0/24"]}]}'`);
  });

  it('aws.remotePodNetworks: an unknown cluster fails naming it; a denied DescribeCluster names eks:DescribeCluster', () => {
    const missing = judge({ ...ok, answer: { kind: 'not-found' } });
    expect(missing).toMatchObject({ status: 'fail', saw: 'EKS cluster prod (us-west-2) not found (ResourceNotFoundException)' });
    expect(missing.fix).toContain('`aws eks list-clusters --region us-west-2`');
    const message = 'User: arn:aws:sts::123456789012:assumed-role/gw/x is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:us-west-2:123456789012:cluster/prod';
    const denied = judge({ ...ok, answer: { kind: 'denied', message } });
    expect(denied).toMatchObject({ status: 'fail', saw: `EKS cluster prod (us-west-2): DescribeCluster denied (AccessDeniedException): ${message}` });
    expect(denied.fix).toContain('Allow eks:DescribeCluster on arn:aws:eks:us-west-2:123456789012:cluster/prod');
    expect(denied.fix).not.toContain('explicit Deny');
    expect(judge({ ...ok, answer: { kind: 'denied', message: `${message} with an explicit deny` } }).fix).toContain('An explicit Deny refuses it');
    expect(judge({ ...ok, answer: { kind: 'denied', message: 'Access denied' } }).fix).toContain('Allow eks:DescribeCluster on arn:aws:eks:us-west-2:<account>:cluster/prod');
  });

  it('aws.remotePodNetworks: warns when no cluster name is configured', () => {
    expect(judge({ clusterName: '', region: undefined, podCIDRs: ['10.250.0.0/16'], answer: undefined })).toEqual({
      status: 'warn',
      saw: 'cluster name not configured',
      fix: 'Set --cluster-name / CLUSTER_NAME (chart value clusterName) to check the remote pod networks',
    });
  });
});

describe('doctor options and report', () => {
  it('--output text|json, anything else names the value', () => {
    expect(splitDoctorArgs(['--output', 'json', '--debug'])).toEqual({ output: 'json', rest: ['--debug'] });
    expect(splitDoctorArgs(['--output=text'])).toEqual({ output: 'text', rest: [] });
    expect(splitDoctorArgs(['-o', 'json'])).toEqual({ output: 'json', rest: [] });
    expect(splitDoctorArgs(['--output', 'yaml'])).toEqual({ error: 'invalid --output "yaml": want text or json' });
    expect(splitDoctorArgs(['--output'])).toEqual({ error: 'invalid --output "": want text or json' });
  });

  it('exit 1 only when a check failed; text names status, check, saw and fix', () => {
    const r = (status: 'pass' | 'warn' | 'fail') => ({ checks: [{ name: 'x.y', title: 'T', status, saw: 'S', fix: status === 'pass' ? '' : 'F' }], summary: { pass: 0, warn: 0, fail: 0, [status]: 1 } });
    expect(exitCode(r('pass'))).toBe(0);
    expect(exitCode(r('warn'))).toBe(0);
    expect(exitCode(r('fail'))).toBe(1);
    expect(renderText(r('fail'))).toBe('FAIL  x.y  T\n      saw: S\n      fix: F\n\n0 passed, 0 warned, 1 failed\n');
  });
});
