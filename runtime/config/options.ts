// The gateway's options: one table drives parsing, env fallback and --help.
// Names, env vars and defaults follow the reference's configuration table.
import { optionRows } from './common.js';

export interface OptionSpec {
  /** Long flag without dashes. */
  readonly flag: string;
  /** Environment variable read when the flag is absent (flags win). */
  readonly env?: string;
  readonly valueName: string;
  readonly defaultValue?: string;
  readonly required?: boolean;
  readonly boolean?: boolean;
  readonly help: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'node-ip', env: 'NODE_IP', valueName: 'ip', required: true, help: 'Gateway node IP address (set from the downward API status.hostIP)' },
  { flag: 'vpc-cidr', env: 'VPC_CIDR', valueName: 'cidrs', required: true, help: 'Cluster VPC CIDR; a comma-separated list for several (at most 8)' },
  { flag: 'pod-cidrs', env: 'POD_CIDRS', valueName: 'cidrs', required: true, help: 'Comma-separated hybrid pod CIDRs (e.g. 10.250.0.0/16,10.251.0.0/16)' },
  { flag: 'leader-election-id', env: 'LEADER_ELECTION_ID', valueName: 'name', defaultValue: 'hybrid-gateway-leader', help: 'Leader election Lease name' },
  { flag: 'route-table-ids', env: 'ROUTE_TABLE_IDS', valueName: 'ids', required: true, help: 'Comma-separated VPC route table IDs to program (rtb-…)' },
  { flag: 'aws-region', env: 'AWS_REGION', valueName: 'region', help: 'AWS region (auto-detected from IMDS placement/region if not set)' },
  { flag: 'aws-instance-id', env: 'AWS_INSTANCE_ID', valueName: 'id', help: 'EC2 instance ID (auto-detected from IMDS if not set)' },
  {
    flag: 'cluster-name',
    env: 'CLUSTER_NAME',
    valueName: 'name',
    help: "Name of the EKS cluster. Only doctor reads it (aws.remotePodNetworks: the cluster's remote pod networks hold every POD_CIDR); unset, that check warns",
  },
  { flag: 'debug', env: 'DEBUG', valueName: 'bool', defaultValue: 'false', boolean: true, help: 'Enable debug logging' },
  {
    flag: 'take-ownership',
    env: 'TAKE_OWNERSHIP',
    valueName: 'bool',
    defaultValue: 'false',
    boolean: true,
    help: "Write the cluster-wide CiliumVTEPConfig even when its owner annotation names another installation's Lease that is still held (moving the gateway to a new release or namespace)",
  },
  {
    flag: 'shards',
    env: 'SHARDS',
    valueName: 'n',
    defaultValue: '1',
    help: 'Split the traffic across this many shards (1–8), each led by its own gateway: every POD_CIDR and VPC CIDR is cut into 2^ceil(log2 n) parts, part j to shard j mod n. 1: one leader for everything',
  },
  {
    flag: 'node-pod-cidr-mask-size',
    env: 'NODE_POD_CIDR_MASK_SIZE',
    valueName: 'bits',
    defaultValue: '24',
    help: "Prefix length of each hybrid node's pod CIDR (Cilium's cluster-pool-ipv4-mask-size, 1–32); with --shards above 1 no POD_CIDR part may be longer",
  },
  { flag: 'leader-election-lease-duration', valueName: 'duration', defaultValue: '3s', help: 'Lease duration (CLI only)' },
  { flag: 'leader-election-renew-deadline', valueName: 'duration', defaultValue: '2s', help: 'Renew deadline: a leader that cannot renew within it stops leader writes and steps down (CLI only)' },
  { flag: 'leader-election-retry-period', valueName: 'duration', defaultValue: '1s', help: 'Retry period between acquire/renew attempts (CLI only)' },
  { flag: 'leader-election-namespace', env: 'POD_NAMESPACE', valueName: 'namespace', help: "Namespace of the Lease (default: the pod's own namespace, else \"default\")" },
  { flag: 'pod-name', env: 'POD_NAME', valueName: 'name', help: 'This pod’s name: the Lease holder identity and Event target (default: hostname)' },
  { flag: 'pod-uid', env: 'POD_UID', valueName: 'uid', help: 'This pod’s UID (downward API metadata.uid): its Events name it, so kubectl describe pod lists them (default: none)' },
  { flag: 'node-name', env: 'NODE_NAME', valueName: 'name', help: 'This node’s name, for the info metric and Events' },
  { flag: 'vxlan-vni', env: 'VXLAN_VNI', valueName: 'vni', defaultValue: '2', help: "VXLAN VNI; must equal Cilium's WORLD identity: 2 on single-stack clusters, 9 on dual-stack" },
  {
    flag: 'vxlan-mtu',
    env: 'VXLAN_MTU',
    valueName: 'bytes',
    defaultValue: '1450',
    help: 'MTU of hybrid_vxlan0: the on-premises path MTU minus 50 (VXLAN over IPv4); 1450 fits a 1500-byte VPN path. The NIC holding NODE_IP needs at least this + 50',
  },
  { flag: 'metrics-bind-address', env: 'METRICS_BIND_ADDRESS', valueName: 'addr', defaultValue: ':10080', help: 'Address of the Prometheus /metrics endpoint ("0" disables it)' },
  { flag: 'health-probe-bind-address', env: 'HEALTH_PROBE_BIND_ADDRESS', valueName: 'addr', defaultValue: ':8088', help: 'Address of /healthz and /readyz ("0" disables it)' },
  { flag: 'kubeconfig', env: 'KUBECONFIG', valueName: 'path', help: 'kubeconfig file (default: in-cluster service account)' },
  {
    flag: 'statechart-inspector',
    env: 'STATECHART_INSPECTOR',
    valueName: 'ws-url',
    help: 'Send live statechart inspection events to this Stately inspector relay (e.g. ws://127.0.0.1:8080); off when unset',
  },
];

export function helpText(program = 'eks-hybrid-gateway'): string {
  return [
    `Usage: ${program} [flags]`,
    `       ${program} cleanup [flags]    (uninstall: delete this installation's routes and CiliumVTEPConfig; see cleanup --help)`,
    '',
    'VXLAN gateway between an EKS VPC and EKS Hybrid Nodes running Cilium with VTEP.',
    'Every option may be given as a flag or, where named, as an environment variable; flags win.',
    '',
    ...optionRows(OPTIONS),
    `  ${'--help'.padEnd(46)} Show this help`,
    '',
  ].join('\n');
}
