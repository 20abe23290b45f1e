// Flags + environment → a validated GatewayConfig, or every problem found, each
// on one line naming the option and the bad value. Pure: argv and env are
// passed in, nothing exits here (main turns ConfigError into exit code 2).
import { parseArgs } from 'node:util';
import { specialRangeOf } from '../../machines/domain/admission.js';
import { overlaps, parseCidr, parseIPv4, containsIp, type Cidr } from '../../machines/domain/ipv4.js';
import { MAX_SHARDS, MAX_VTEP_ENDPOINTS, validateSharding } from '../../machines/domain/shards.js';
import { parseDuration } from './duration.js';
import { DNS_LABEL, DNS_SUBDOMAIN, EKS_CLUSTER_NAME, GO_BOOL, normaliseArgv, rawValues, REGION, ROUTE_TABLE_ID, splitList, type Env } from './common.js';
import { OPTIONS, helpText } from './options.js';

export { MAX_VTEP_ENDPOINTS }; // Cilium's VTEP map holds at most 8 entries.

export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

export interface GatewayConfig {
  readonly nodeIP: string;
  readonly vpcCIDRs: readonly string[];
  readonly podCIDRs: readonly string[];
  readonly leaderElectionID: string;
  readonly leaderElectionNamespace: string | undefined;
  readonly routeTableIDs: readonly string[];
  readonly awsRegion: string | undefined;
  readonly awsInstanceID: string | undefined;
  /** The EKS cluster's name, '' when not set; only doctor reads it (the gateway needs no EKS API). */
  readonly clusterName: string;
  readonly debug: boolean;
  /** Write the CiliumVTEPConfig even when another installation's live Lease owns it. */
  readonly takeOwnership: boolean;
  /** Shards the traffic is split across (machines/domain/shards.ts); 1 = one leader, today's objects. */
  readonly shards: number;
  /** Prefix length of a hybrid node's pod CIDR: no POD_CIDR part may be longer (consulted only when shards > 1). */
  readonly nodePodCidrMaskSize: number;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly podName: string | undefined;
  /** The pod's UID (downward API), for the involvedObject of the pod's Events. */
  readonly podUid: string | undefined;
  readonly nodeName: string | undefined;
  readonly vxlanVNI: number;
  /** MTU of hybrid_vxlan0 (the wrapped packets are this + 50 bytes). */
  readonly vxlanMTU: number;
  /** null when disabled with "0". */
  readonly metricsBindAddress: BindAddress | null;
  readonly healthProbeBindAddress: BindAddress | null;
  readonly kubeconfig: string | undefined;
  /** WebSocket URL of a Stately inspector relay; undefined = off. */
  readonly statechartInspector: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export type ParseOutcome = { kind: 'help'; text: string } | { kind: 'config'; config: GatewayConfig };

// client-go refuses a retry period whose jittered value reaches the renew deadline.
const JITTER_FACTOR = 1.2;
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function parseBind(text: string): BindAddress | null | string {
  if (text.trim() === '0') return null;
  const m = /^(.*):(\d{1,5})$/.exec(text.trim());
  if (!m) return 'want host:port or :port, or "0" to disable';
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range`;
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  if (host !== '' && host !== 'localhost' && parseIPv4(host).ok === false && !host.includes(':')) return `host "${host}" is not an IP address`;
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export interface ParseOptions {
  /** Required options the caller does without (doctor: --node-ip, which only the data plane needs); absent, they parse as empty. */
  readonly optional?: readonly string[];
}

export function parseConfig(argv: readonly string[], env: Env, parseOpts: ParseOptions = {}): ParseOutcome {
  const problems: string[] = [];
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: normaliseArgv(argv, OPTIONS),
      options: {
        ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values;
  } catch (err) {
    throw new ConfigError([(err as Error).message.split('\n')[0] ?? String(err)]);
  }
  if (values.help === true) return { kind: 'help', text: helpText() };

  const raw = rawValues(OPTIONS, values, env, problems, parseOpts.optional ?? []);
  const get = (flag: string): { value: string; from: string } | undefined => raw.get(flag);
  const bad = (flag: string, reason: string): void => {
    const r = raw.get(flag);
    problems.push(`invalid ${r?.from ?? `--${flag}`} "${r?.value ?? ''}": ${reason}`);
  };

  // Addresses and CIDRs.
  let nodeIP = '';
  const nodeRaw = get('node-ip');
  if (nodeRaw) {
    const p = parseIPv4(nodeRaw.value);
    if (p.ok) nodeIP = p.value;
    else bad('node-ip', 'not an IPv4 address');
  }
  const cidrList = (flag: string, what: string): Cidr[] => {
    const r = get(flag);
    if (!r) return [];
    const items = splitList(r.value);
    if (items.length === 0) {
      bad(flag, `no ${what} given`);
      return [];
    }
    const out: Cidr[] = [];
    for (const item of items) {
      const p = parseCidr(item);
      if (p.ok) out.push(p.value);
      else bad(flag, p.error);
    }
    return out;
  };
  const vpc = cidrList('vpc-cidr', 'VPC CIDR');
  const pods = cidrList('pod-cidrs', 'pod CIDR');
  if (vpc.length > MAX_VTEP_ENDPOINTS) bad('vpc-cidr', `${vpc.length} VPC CIDRs given; Cilium's VTEP map takes at most ${MAX_VTEP_ENDPOINTS}`);
  vpc.forEach((a, i) =>
    vpc.slice(i + 1).forEach((b) => {
      if (overlaps(a, b)) bad('vpc-cidr', `VPC CIDRs ${a.text} and ${b.text} overlap`);
    }),
  );
  pods.forEach((a, i) => {
    pods.slice(i + 1).forEach((b) => {
      if (overlaps(a, b)) bad('pod-cidrs', `pod CIDRs ${a.text} and ${b.text} overlap`);
    });
    for (const v of vpc) if (overlaps(a, v)) bad('pod-cidrs', `pod CIDR ${a.text} overlaps the VPC CIDR ${v.text}`);
    const special = specialRangeOf(a);
    if (special !== undefined) bad('pod-cidrs', `pod CIDR ${a.text} overlaps ${special}: no hybrid pod may have such an address`);
    if (nodeIP !== '' && containsIp(a, nodeIP)) bad('pod-cidrs', `pod CIDR ${a.text} contains the node IP ${nodeIP}`);
  });

  // Route tables.
  const routeTableIDs: string[] = [];
  const rt = get('route-table-ids');
  if (rt) {
    const ids = splitList(rt.value);
    if (ids.length === 0) bad('route-table-ids', 'the route table list is empty');
    for (const id of ids) {
      if (!ROUTE_TABLE_ID.test(id)) bad('route-table-ids', `"${id}" is not a route table ID (want rtb- and 8 or 17 hex digits)`);
      else if (!routeTableIDs.includes(id)) routeTableIDs.push(id);
    }
  }

  // Names and identifiers.
  const leaderElectionID = get('leader-election-id')?.value.trim() ?? '';
  if (!DNS_SUBDOMAIN.test(leaderElectionID)) bad('leader-election-id', 'not a valid Kubernetes object name (lowercase DNS subdomain)');
  const ns = get('leader-election-namespace')?.value.trim();
  if (ns !== undefined && !DNS_LABEL.test(ns)) bad('leader-election-namespace', 'not a valid namespace name');
  const region = get('aws-region')?.value.trim();
  if (region !== undefined && !REGION.test(region)) bad('aws-region', 'not an AWS region name (e.g. us-west-2)');
  const instance = get('aws-instance-id')?.value.trim();
  if (instance !== undefined && !INSTANCE_ID.test(instance)) bad('aws-instance-id', 'not an EC2 instance ID (want i- and 8 or 17 hex digits)');
  const clusterName = get('cluster-name')?.value.trim() ?? '';
  if (clusterName !== '' && !EKS_CLUSTER_NAME.test(clusterName)) bad('cluster-name', 'not an EKS cluster name (1–100 letters, digits, "-" and "_", starting with a letter or digit)');

  const debugRaw = get('debug')?.value.trim() ?? 'false';
  const debug = GO_BOOL[debugRaw];
  if (debug === undefined) bad('debug', 'not a boolean (true/false/1/0)');

  const takeRaw = get('take-ownership')?.value.trim() ?? 'false';
  const takeOwnership = GO_BOOL[takeRaw];
  if (takeOwnership === undefined) bad('take-ownership', 'not a boolean (true/false/1/0)');

  const vniRaw = get('vxlan-vni')?.value.trim() ?? '2';
  const vni = /^\d+$/.test(vniRaw) ? Number(vniRaw) : NaN;
  if (!(vni >= 1 && vni <= 16_777_215)) bad('vxlan-vni', 'not a VNI (an integer from 1 to 16777215)');

  // 68 is IPv4's minimum MTU; 65485 + 50 is the largest MTU a Linux link can have.
  const mtuRaw = get('vxlan-mtu')?.value.trim() ?? '1450';
  const mtu = /^\d+$/.test(mtuRaw) ? Number(mtuRaw) : NaN;
  if (!(mtu >= 68 && mtu <= 65_485)) bad('vxlan-mtu', 'not an MTU (an integer from 68 to 65485)');

  // Sharding: the split is judged only when there is one (shards = 1 is today's plan).
  const shardsRaw = get('shards')?.value.trim() ?? '1';
  const shards = /^\d+$/.test(shardsRaw) ? Number(shardsRaw) : NaN;
  const shardsOk = shards >= 1 && shards <= MAX_SHARDS;
  if (!shardsOk) bad('shards', `not a shard count (an integer from 1 to ${MAX_SHARDS})`);
  const maskRaw = get('node-pod-cidr-mask-size')?.value.trim() ?? '24';
  const nodePodCidrMaskSize = /^\d+$/.test(maskRaw) ? Number(maskRaw) : NaN;
  const maskOk = nodePodCidrMaskSize >= 1 && nodePodCidrMaskSize <= 32;
  if (!maskOk) bad('node-pod-cidr-mask-size', 'not a prefix length (an integer from 1 to 32)');
  if (shardsOk && maskOk && shards > 1) {
    const input = { podCidrs: pods.map((c) => c.text), vpcCidrs: vpc.map((c) => c.text), shards, nodePodCidrMaskSize };
    for (const problem of validateSharding(input)) bad('shards', problem);
  }

  // Leader election timings.
  const duration = (flag: string): number => {
    const ms = parseDuration(get(flag)?.value ?? '');
    if (ms === undefined || ms <= 0) {
      bad(flag, ms === undefined ? 'not a duration (e.g. "3s", "500ms", "1m30s")' : 'must be greater than zero');
      return NaN;
    }
    return ms;
  };
  const leaseDurationMs = duration('leader-election-lease-duration');
  const renewDeadlineMs = duration('leader-election-renew-deadline');
  const retryPeriodMs = duration('leader-election-retry-period');
  if (renewDeadlineMs >= leaseDurationMs) bad('leader-election-renew-deadline', `must be below the lease duration (${get('leader-election-lease-duration')?.value})`);
  if (retryPeriodMs * JITTER_FACTOR >= renewDeadlineMs)
    bad('leader-election-retry-period', `must stay below the renew deadline (${get('leader-election-renew-deadline')?.value}) with 1.2× jitter`);

  const bind = (flag: string): BindAddress | null => {
    const r = get(flag);
    const b = parseBind(r?.value ?? '0');
    if (typeof b === 'string') {
      bad(flag, b);
      return null;
    }
    return b;
  };
  const inspectorRaw = get('statechart-inspector')?.value.trim();
  if (inspectorRaw !== undefined && !/^wss?:\/\/[^\s/]+(\/\S*)?$/.test(inspectorRaw)) bad('statechart-inspector', 'not a ws:// or wss:// URL');
  const metricsBindAddress = bind('metrics-bind-address');
  const healthProbeBindAddress = bind('health-probe-bind-address');

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kind: 'config',
    config: {
      nodeIP,
      vpcCIDRs: vpc.map((c) => c.text),
      podCIDRs: pods.map((c) => c.text),
      leaderElectionID,
      leaderElectionNamespace: ns,
      routeTableIDs,
      awsRegion: region,
      awsInstanceID: instance,
      clusterName,
      debug: debug === true,
      takeOwnership: takeOwnership === true,
      shards,
      nodePodCidrMaskSize,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      podName: get('pod-name')?.value.trim(),
      podUid: get('pod-uid')?.value.trim() || undefined,
      nodeName: get('node-name')?.value.trim(),
      vxlanVNI: vni,
      vxlanMTU: mtu,
      metricsBindAddress,
      healthProbeBindAddress,
      kubeconfig: get('kubeconfig')?.value,
      statechartInspector: inspectorRaw,
    },
  };
}
