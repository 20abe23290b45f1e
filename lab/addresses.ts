// The lab's fixed address plan and names (198.18.0.0/15 and TEST-NETs only).
//   198.51.100.0/24  control link: router .1, control namespace .2 (stand-ins)
//   198.18.0.0/24    VPC subnet (bridge in the router): router .1, gw-a .11, gw-b .12
//   198.18.1.0/24    VPC pod subnet: router .1, vpc pod .10
//   192.0.2.0/30     "on-prem link": router .1, on-prem router .2
//   203.0.113.0/24   hybrid site (bridge in the on-prem router): .1, hybrid node i at .(10+i)
//   198.19.i.0/24    pod CIDR of hybrid node i (its pod at .10)
// VPC_CIDR 198.18.0.0/16 (what hybrid pods reach through the gateway),
// POD_CIDRS 198.19.0.0/16 (what the VPC route tables send to the gateway).
// The EKS cluster (the EKS stand-in's, for doctor): remote node network the
// hybrid site 203.0.113.0/24, remote pod network POD_CIDRS. Real EKS takes only
// RFC-1918 ranges there; the stand-in models DescribeCluster, not that check.

export const REGION = 'us-west-2';
export const VPC_ID = 'vpc-0123456789abcdef0';
export const SUBNET_ID = 'subnet-0123456789abcdef0';
export const VPC_CIDR = '198.18.0.0/16';
export const POD_CIDRS = '198.19.0.0/16';
export const ROUTE_TABLE_IDS = ['rtb-0a1a1a1a1a1a1a1a1', 'rtb-0b2b2b2b2b2b2b2b2'] as const;
/** The lab's EKS cluster as the EKS stand-in serves it. */
export const EKS_CLUSTER = { name: 'ehlab', remoteNodeNetworks: ['203.0.113.0/24'], remotePodNetworks: [POD_CIDRS] } as const;
/** The gateways' security group (on both ENIs): VXLAN from the hybrid site. */
export const GATEWAY_SECURITY_GROUP = 'sg-0a1a1a1a1a1a1a1a1';
export const LEASE_NAME = 'hybrid-gateway-leader';
export const LEASE_NAMESPACE = 'kube-system';
export const CONTROL_IP = '198.51.100.2';
export const ROUTER_CONTROL_IP = '198.51.100.1';
export const ROUTER_VPC_IP = '198.18.0.1';
export const ROUTER_POD_IP = '198.18.1.1';
export const VPC_POD_IP = '198.18.1.10';
export const ROUTER_ONPREM_IP = '192.0.2.1';
export const ONPREM_IP = '192.0.2.2';
export const SITE_GATEWAY_IP = '203.0.113.1';
export const ECHO_PORT = 7000;

export const GATEWAYS = [
  { name: 'gw-a', instanceId: 'i-0aaaaaaaaaaaaaaa1', eni: 'eni-0aaaaaaaaaaaaaaa1', mac: '0a:00:00:00:00:0a', ip: '198.18.0.11', accessKeyId: 'AKIDLABGATEWAYA00001' },
  { name: 'gw-b', instanceId: 'i-0bbbbbbbbbbbbbbb2', eni: 'eni-0bbbbbbbbbbbbbbb2', mac: '0a:00:00:00:00:0b', ip: '198.18.0.12', accessKeyId: 'AKIDLABGATEWAYB00002' },
] as const;
export type GatewayName = (typeof GATEWAYS)[number]['name'];
export const GATEWAY_NAMES: readonly GatewayName[] = GATEWAYS.map((g) => g.name);

export function gateway(name: GatewayName): (typeof GATEWAYS)[number] {
  return GATEWAYS.find((g) => g.name === name)!;
}

export interface HybridNodeAddresses {
  readonly index: number;
  readonly name: string;
  readonly ip: string;
  readonly podCidr: string;
  readonly podGatewayIp: string;
  readonly podIp: string;
}

/** Hybrid node i (1..200). */
export function hybridNode(index: number): HybridNodeAddresses {
  if (!Number.isInteger(index) || index < 1 || index > 200) throw new Error(`hybrid node index ${index}: use 1..200`);
  return {
    index,
    name: `hyb-${index}`,
    ip: `203.0.113.${10 + index}`,
    podCidr: `198.19.${index}.0/24`,
    podGatewayIp: `198.19.${index}.1`,
    podIp: `198.19.${index}.10`,
  };
}

/** 02:00:a:b:c:d for IPv4 a.b.c.d: the MAC the gateway uses for a hybrid node (its Cilium vxlan device's MAC). */
export function nodeMacFor(ip: string): string {
  return ['02', '00', ...ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/** A CiliumNode as Cilium registers a hybrid node. */
export function ciliumNode(name: string, ip: string, podCidrs: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNode',
    metadata: { name, labels: { 'eks.amazonaws.com/compute-type': 'hybrid' } },
    spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs: [...podCidrs] } },
  };
}
