// A cluster as doctor expects it, on the lab's Kubernetes stand-in: the CRD
// object, cilium-config, the leader's Lease and Pod, the CiliumVTEPConfig as
// the gateway's own client writes it (owner annotation included), Cilium's
// status from the lab's Cilium stand-in, and two admissible hybrid CiliumNodes.
// On the EC2 stand-in: both gateways' instances (source/destination check off)
// and a route table sending POD_CIDRS to the leader's ENI. On the EKS
// stand-in: the cluster (CLUSTER_NAME) with the hybrid nodes' and pods'
// networks as its remote node and pod networks.
// Sharded (SHARDS=2, seedHealthy's `shards`): shard Leases `<id>-0` held by the
// leader and `<id>-1` by the standby, each shard's endpoints applied by its
// leader as the gateway applies them, each shard's POD_CIDR half routed to its
// leader's ENI (startAws(SHARDED_ROUTES)).
// Addresses: VPC 198.51.100.0/24, hybrid pods 198.18.0.0/16, hybrid nodes 192.0.2.0/24.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
import { createEc2Client } from '../../effects/aws/index.js';
import { createEksClient } from '../../effects/aws/eks-client.js';
import { startEc2StandIn, type Ec2StandIn } from '../../lab/ec2/index.js';
import { startEksStandIn, type EksStandIn } from '../../lab/eks/index.js';
import { formatMicroTime, VtepConfigClient } from '../../effects/kube/index.js';
import { crdObject } from '../../lab/kube-apiserver/index.js';
import { VtepAgent } from '../../lab/cilium-vtep.js';
import { readKubeconfig } from '../../lab/kube-http.js';
import { leaseKey } from '../../machines/domain/ownership.js';
import { parseConfig, type GatewayConfig } from '../../runtime/config/parse.js';
import { shardWork } from '../../runtime/wiring/shards.js';
import { HYBRID, waitFor, type Lab } from './helpers.js';

export const NS = 'gw';
export const LEASE = 'hybrid-gateway-leader';
export const LEADER = { pod: 'gw-a', hostIP: '198.51.100.10', eni: 'eni-0a00000000000000a', instanceId: 'i-0aaaaaaaaaaaaaaa1' };
export const STANDBY = { pod: 'gw-b', hostIP: '198.51.100.11', eni: 'eni-0b00000000000000b', instanceId: 'i-0bbbbbbbbbbbbbbb2' };
export const ROUTE_TABLE = 'rtb-0123456789abcdef0';
export const GATEWAY_SG = 'sg-0123456789abcdef0';
export const REGION = 'us-west-2';
export const CREDENTIALS = { accessKeyId: 'AKIDLABTEST0000000000', secretAccessKey: 'lab-secret-key-not-real' } as const;
export const CLUSTER = 'doctor-lab';
/** The cluster's remoteNetworkConfig: the hybrid nodes' network and POD_CIDRS. */
export const REMOTE_NODE_NETWORKS = ['192.0.2.0/24'];
export const REMOTE_POD_NETWORKS = ['198.18.0.0/16'];
const VPC = 'vpc-0123456789abcdef0';
/** The leader of shard k with SHARDS=2: the leader leads shard 0, the standby shard 1 (placement's one each). */
export const SHARD_LEADERS = [LEADER, STANDBY] as const;
/** Each shard's half of POD_CIDRS (198.18.0.0/16), as shard k's leader routes it. */
export const SHARD_POD_PREFIXES = ['198.18.0.0/17', '198.18.128.0/17'] as const;
export const SHARDED_ROUTES = SHARD_POD_PREFIXES.map((destinationCidrBlock, k) => ({ destinationCidrBlock, networkInterfaceId: SHARD_LEADERS[k]!.eni }));
/** The chart's pod labels (runtime/doctor/reads.ts GATEWAY_POD_SELECTOR). */
const POD_LABELS = { 'app.kubernetes.io/component': 'gateway', 'app.kubernetes.io/part-of': 'eks-hybrid-nodes-gateway' };

// Never let the SDK fall back to the real IMDS (169.254.169.254) for credentials.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export interface AwsLab {
  readonly standIn: Ec2StandIn;
  readonly ec2: EC2Client;
  readonly eksStandIn: EksStandIn;
  readonly eks: EKSClient;
}

/** The EC2 stand-in with both gateways and one route table as the leader (or, given SHARDED_ROUTES, the shard leaders) leaves it, and the EKS stand-in with the cluster. */
export async function startAws(routes: Array<{ destinationCidrBlock: string; networkInterfaceId: string }> = [{ destinationCidrBlock: '198.18.0.0/16', networkInterfaceId: LEADER.eni }]): Promise<AwsLab> {
  const standIn = await startEc2StandIn({
    instances: [LEADER, STANDBY].map((g, i) => ({
      instanceId: g.instanceId, region: REGION, az: 'us-west-2a', eni: g.eni, mac: `02:00:c6:33:64:0${i + 1}`, privateIp: g.hostIP,
      subnetId: 'subnet-0aaaa11110000000a', vpcId: VPC, sourceDestCheck: false, securityGroupIds: [GATEWAY_SG],
    })),
    // VXLAN from the hybrid nodes' network (192.0.2.0/24), and what a node group's group also has.
    securityGroups: [{ groupId: GATEWAY_SG, groupName: 'gateway', vpcId: VPC, ingress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrs: ['198.51.100.0/24'] }, { protocol: 'udp', fromPort: 8472, toPort: 8472, cidrs: ['192.0.2.0/24'] }] }],
    routeTables: [{ routeTableId: ROUTE_TABLE, vpcId: VPC, vpcCidr: '198.51.100.0/24', routes }],
  });
  const eksStandIn = await startEksStandIn({ region: REGION, clusters: [{ name: CLUSTER, remoteNodeNetworks: REMOTE_NODE_NETWORKS, remotePodNetworks: REMOTE_POD_NETWORKS }] });
  return {
    standIn,
    ec2: createEc2Client({ region: REGION, endpoint: standIn.url, credentials: CREDENTIALS }),
    eksStandIn,
    eks: createEksClient({ region: REGION, endpoint: eksStandIn.url, credentials: CREDENTIALS }),
  };
}

export async function stopAws(aws: AwsLab | undefined): Promise<void> {
  aws?.ec2.destroy();
  aws?.eks.destroy();
  await Promise.all([aws?.standIn.close(), aws?.eksStandIn.close()]);
}

/** The gateway's environment as the chart sets it, less NODE_IP (doctor does without); the AWS endpoints when given. */
export function doctorEnv(lab: Lab, extra: Record<string, string> = {}, aws?: AwsLab): Record<string, string> {
  return {
    VPC_CIDR: '198.51.100.0/24',
    POD_CIDRS: '198.18.0.0/16',
    ROUTE_TABLE_IDS: ROUTE_TABLE,
    POD_NAMESPACE: NS,
    KUBECONFIG: lab.server.kubeconfigPath,
    AWS_REGION: REGION,
    CLUSTER_NAME: CLUSTER,
    ...(aws !== undefined
      ? { AWS_ENDPOINT_URL_EC2: aws.standIn.url, AWS_ENDPOINT_URL_EKS: aws.eksStandIn.url, AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' }
      : {}),
    ...extra,
  };
}

export function doctorConfig(lab: Lab, extra: Record<string, string> = {}): GatewayConfig {
  const out = parseConfig([], doctorEnv(lab, extra), { optional: ['node-ip'] });
  if (out.kind !== 'config') throw new Error('help?');
  return out.config;
}

/** A 15 s Lease (longer than the gateway's 3 s default): the CLI test's processes take seconds to start. */
export function putLease(lab: Lab, holder: string, renewedAtMs: number, name = LEASE): void {
  const t = formatMicroTime(renewedAtMs * 1000);
  lab.server.store.put('leases', { metadata: { namespace: NS, name }, spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: t, renewTime: t, leaseTransitions: 0 } });
}

export function putCiliumConfig(lab: Lab, data: Record<string, string>): void {
  lab.server.store.put('configmaps', { metadata: { namespace: 'kube-system', name: 'cilium-config' }, data });
}

export function hybridNode(name: string, ip: string, podCIDR: string): Record<string, unknown> {
  return { apiVersion: 'cilium.io/v2', kind: 'CiliumNode', metadata: { name, labels: HYBRID }, spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs: [podCIDR] } } };
}

/** A gateway pod as the chart's Deployment runs it: on its own node (named after its host IP), Ready or not. */
export function putGatewayPod(lab: Lab, p: { pod: string; hostIP: string }, ready: boolean, nodeName = `ip-${p.hostIP.replace(/\./g, '-')}`): void {
  lab.server.store.put('pods', {
    metadata: { namespace: NS, name: p.pod, labels: POD_LABELS },
    spec: { nodeName, containers: [{ name: 'gateway', image: 'gateway' }] },
    status: { phase: 'Running', hostIP: p.hostIP, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
}

/** The VPC CNI's DaemonSet with the given env on its aws-node container. */
export function putAwsNode(lab: Lab, env: Record<string, string>): void {
  lab.server.store.put('daemonsets', {
    metadata: { namespace: 'kube-system', name: 'aws-node' },
    spec: { selector: { matchLabels: { 'k8s-app': 'aws-node' } }, template: { spec: { containers: [{ name: 'aws-node', image: 'amazon-k8s-cni', env: Object.entries(env).map(([name, value]) => ({ name, value })) }] } } },
  });
}

/** The MAC a gateway's hybrid_vxlan0 has in the stand-ins (only Cilium's stand-in reads it). */
const gatewayMac = (p: { hostIP: string }): string => (p.hostIP === STANDBY.hostIP ? '02:00:c6:33:64:0b' : '02:00:c6:33:64:0a');

/** Shard k's Lease name with SHARDS=2. */
export const shardLease = (k: number): string => `${LEASE}-${k}`;

/** Each shard's endpoints, applied by its leader with the gateway's own client, field manager and owner key. */
export async function applyShardEndpoints(lab: Lab, leaders: ReadonlyArray<{ hostIP: string }> = SHARD_LEADERS, replaceable?: string): Promise<void> {
  const vtep = new VtepConfigClient({ clients: lab.clients });
  for (const w of shardWork({ ...doctorConfig(lab, { SHARDS: '2' }), nodeIP: '' }, NS)) {
    const leader = leaders[w.shard]!;
    const endpoints = w.endpoints(gatewayMac(leader)).map((e) => ({ ...e, tunnelEndpoint: leader.hostIP }));
    await vtep.applyEndpoints(w.fieldManager!, endpoints, new AbortController().signal, { key: leaseKey(NS, shardLease(0)), replaceable });
  }
}

/**
 * Seeds a healthy cluster; returns the Cilium stand-in (stop it in afterEach). `shards: 2`: the
 * shard Leases and each shard's endpoints instead of the one Lease and the PUT-written endpoint.
 */
export async function seedHealthy(lab: Lab, opts: { shards?: 1 | 2 } = {}): Promise<VtepAgent> {
  const s = lab.server.store;
  s.put('customresourcedefinitions', crdObject('ciliumvtepconfigs.cilium.io.json'));
  putCiliumConfig(lab, { 'enable-vtep': 'true', 'enable-l7-proxy': 'false', 'enable-ipv6': 'false' });
  for (const p of [LEADER, STANDBY]) putGatewayPod(lab, p, true);
  putAwsNode(lab, { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: '198.18.0.0/16' });
  if (opts.shards === 2) {
    SHARD_LEADERS.forEach((p, k) => putLease(lab, p.pod, Date.now(), shardLease(k)));
    await applyShardEndpoints(lab);
  } else {
    putLease(lab, LEADER.pod, Date.now());
    const config = doctorConfig(lab);
    await new VtepConfigClient({ clients: lab.clients }).upsert(shardWork({ ...config, nodeIP: LEADER.hostIP }, NS)[0]!.endpoints('02:00:c6:33:64:0a'), new AbortController().signal, {
      key: leaseKey(NS, LEASE),
    });
  }
  s.put('ciliumnodes', hybridNode('hybrid-1', '192.0.2.1', '198.18.1.0/24'));
  s.put('ciliumnodes', hybridNode('hybrid-2', '192.0.2.2', '198.18.2.0/24'));
  const agent = new VtepAgent({ kube: readKubeconfig(lab.server.kubeconfigPath), dataplane: { apply: () => Promise.resolve() }, statusRefreshMs: 0 }).start();
  await waitFor(() => {
    const st = s.find('ciliumvtepconfigs', 'hybrid-gateway')?.status as { conditions?: Array<{ type: string; status: string }> } | undefined;
    return st?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  }, 'Ready from the Cilium stand-in');
  return agent;
}

/** Until the Cilium stand-in reports Ready on the CiliumVTEPConfig's current generation (after a rewrite). */
export async function waitCurrentReady(lab: Lab): Promise<void> {
  await waitFor(() => {
    const cur = lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway');
    const st = cur?.status as { conditions?: Array<{ type: string; status: string; observedGeneration?: number }> } | undefined;
    return st?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === cur?.metadata?.generation) === true;
  }, 'Ready for the current generation from the Cilium stand-in');
}
