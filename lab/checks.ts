// Checks the lab makes beyond failover, each judged from the real tools and
// the stand-ins' own records (never the gateway's metrics or code):
//
// - checkMtu(): MTUs as the kernel reports them, TCP bulk transfers both ways
//   between the VPC pod and a hybrid pod (node:net through the gateway), one
//   of them with the hybrid pod's segments larger than the VXLAN path so that
//   TCP depends on path-MTU discovery through the gateway, and an oversize
//   datagram with DF set from the VPC pod (`ping -M do`): the ICMP
//   "fragmentation needed" the VPC pod gets, and the PMTU its kernel keeps
//   (`ip route get`).
// - measureIdleCost(): what the leader costs while nothing changes: its EC2
//   calls (the EC2 stand-in's call log, by access key) and its Kubernetes
//   writes (the API stand-in's request log, by client address) over two
//   drift periods, with the Cilium stand-ins refreshing status meanwhile.
// - checkShardWriters(): the single-writer check per shard (shard-writers.ts)
//   over the EC2 stand-in's route log and the Kubernetes stand-in's
//   CiliumVTEPConfig log; with one shard, the one Lease.
//
// Used by the lab command (main.ts, the report) and test/lab/realistic.test.ts.
import { ECHO_PORT, GATEWAYS, LEASE_NAME, POD_CIDRS, VPC_CIDR, VPC_POD_IP, gateway, type GatewayName } from './addresses.js';
import { now, VXLAN_DEVICE, type HybridNode, type Lab } from './lab.js';
import type { TcpBulkReport } from './probe-worker.js';
import { judgeShardWriters, type ShardWriterCheck } from './shard-writers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The gateway re-asserts its routes and CiliumVTEPConfig this often (runtime's drift repair, README). */
export const DRIFT_PERIOD_MS = 30_000;
/** Bytes each way per TCP bulk transfer. */
export const TCP_BULK_BYTES = 4 * 1024 * 1024;

// ------------------------------------------------------------------ MTU

export interface TcpBulkResult extends TcpBulkReport {
  /** "vpc-pod → pod-1" (the side that connects and sends first; the echo comes back the same way). */
  readonly flow: string;
  readonly variant: 'cilium-pod' | 'mss-above-path';
  /** Both directions together, Mbit/s. */
  readonly mbitPerS: number;
  /** ICMP destination-unreachable messages the leader sent during the transfer (/proc/net/snmp of its namespace). */
  readonly gatewayIcmpUnreachSent: number;
  /** The PMTU the VPC pod's kernel keeps for the hybrid pod afterwards (`ip route get`), if any. */
  readonly vpcPodPmtu: number | undefined;
}

export interface IcmpCheck {
  /** Size of the datagram sent with DF (IP header included). */
  readonly packetBytes: number;
  /** ping's line naming the ICMP error, e.g. "From 198.18.0.11 icmp_seq=1 Frag needed and DF set (mtu = 1450)". */
  readonly pingLine: string | undefined;
  /** The MTU that ICMP message named, and who sent it. */
  readonly mtuSeen: number | undefined;
  readonly from: string | undefined;
  /** The PMTU exception the VPC pod's kernel recorded (`ip route get <hybrid pod>`), before (none expected) and after. */
  readonly kernelPmtuBefore: number | undefined;
  readonly kernelPmtuAfter: number | undefined;
}

export interface MtuReport {
  readonly profile: string;
  readonly leader: GatewayName;
  /** MTUs as `ip link` / `ip route` show them. */
  readonly links: Record<string, number | undefined>;
  readonly hybridPodRouteMtu: number | undefined;
  readonly tcp: TcpBulkResult[];
  readonly icmp: IcmpCheck;
}

async function linkMtu(lab: Lab, ns: string, dev: string): Promise<number | undefined> {
  const l = await lab.run.ipJson<Array<{ mtu?: number }>>(ns, ['link', 'show', dev]).catch(() => []);
  return l[0]?.mtu;
}

/** The PMTU exception the kernel holds toward dst, if any (the "mtu N" of `ip route get`, cached route). */
export async function kernelPmtu(lab: Lab, ns: string, dst: string): Promise<number | undefined> {
  const out = await lab.run.ip(ns, ['route', 'get', dst]);
  const m = /\bcache\b[^\n]*\bmtu (\d+)/.exec(out) ?? /\n\s+cache[\s\S]*?\bmtu (\d+)/.exec(out);
  return m === null ? undefined : Number(m[1]);
}

/** ICMP destination-unreachable messages sent by a namespace (Icmp OutDestUnreachs of its /proc/net/snmp). */
export async function icmpUnreachSent(lab: Lab, ns: string): Promise<number> {
  const snmp = (await lab.run.exec(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const names = snmp[0]?.split(/\s+/) ?? [];
  const values = snmp[1]?.split(/\s+/) ?? [];
  const i = names.indexOf('OutDestUnreachs');
  return i < 0 ? NaN : Number(values[i]);
}

/**
 * Forgets learnt path MTUs in the VPC pod and the hybrid pods (`ip route flush
 * cache` writes net.ipv4.route.flush, which drops the PMTU exceptions), so each
 * check starts from the MTUs of the links: a PMTU a hybrid pod learnt earlier
 * toward the VPC pod would otherwise lower the MSS it advertises, and hide
 * whether the gateway answers "fragmentation needed".
 */
async function flushPmtu(lab: Lab): Promise<void> {
  await lab.run.ip(lab.ns.vpcPod, ['route', 'flush', 'cache']);
  for (const n of lab.hybrid.values()) await lab.run.ip(n.podNs, ['route', 'flush', 'cache']);
}

async function tcpBulk(lab: Lab, variant: TcpBulkResult['variant'], node: HybridNode, fromVpc: boolean, leader: GatewayName, bytes: number): Promise<TcpBulkResult> {
  const gwNs = lab.ns.gw[leader];
  const before = await icmpUnreachSent(lab, gwNs);
  const r = await (fromVpc ? lab.vpcProbe : node.probe).request({ cmd: 'tcpBulk', to: fromVpc ? node.podIp : VPC_POD_IP, port: ECHO_PORT, bytes, timeoutMs: 60_000 });
  if (!r.ok) throw new Error(`tcpBulk: ${String(r.error)}`);
  const v = r.value as TcpBulkReport;
  const after = await icmpUnreachSent(lab, gwNs);
  return {
    ...v,
    flow: fromVpc ? `vpc-pod → pod-${node.index}` : `pod-${node.index} → vpc-pod`,
    variant,
    mbitPerS: v.ok ? (2 * v.bytes * 8) / (v.ms * 1000) : 0,
    gatewayIcmpUnreachSent: after - before,
    vpcPodPmtu: await kernelPmtu(lab, lab.ns.vpcPod, node.podIp),
  };
}

/** MTUs as the kernel shows them along the path VPC pod → leader → hybrid node → its pod. */
export async function observedMtus(lab: Lab, leader: GatewayName, node: HybridNode): Promise<{ links: Record<string, number | undefined>; hybridPodRouteMtu: number | undefined }> {
  const gwNs = lab.ns.gw[leader];
  const links: Record<string, number | undefined> = {
    'vpc-pod eth0': await linkMtu(lab, lab.ns.vpcPod, 'eth0'),
    'router vpc0': await linkMtu(lab, lab.ns.router, 'vpc0'),
    [`${leader} eth0`]: await linkMtu(lab, gwNs, 'eth0'),
    [`${leader} ${VXLAN_DEVICE}`]: await linkMtu(lab, gwNs, VXLAN_DEVICE),
    'router r-onprem': await linkMtu(lab, lab.ns.router, 'r-onprem'),
    'onprem site0': await linkMtu(lab, lab.ns.onprem, 'site0'),
    [`${node.name} eth0`]: await linkMtu(lab, node.nodeNs, 'eth0'),
    [`${node.name} cilium_vxlan`]: await linkMtu(lab, node.nodeNs, 'cilium_vxlan'),
    [`pod-${node.index} eth0`]: await linkMtu(lab, node.podNs, 'eth0'),
  };
  const podRoute = await lab.run.ip(node.podNs, ['route', 'show', 'default']);
  const m = /\bmtu (\d+)/.exec(podRoute);
  return { links, hybridPodRouteMtu: m === null ? undefined : Number(m[1]) };
}

/**
 * TCP bulk transfers through the leader: VPC pod → hybrid pod and hybrid pod →
 * VPC pod (each echoed back, so bytes cross both ways) with the hybrid pod as
 * Cilium sizes it (its routes at the route MTU: its MSS fits the path), then
 * VPC pod → hybrid pod with the hybrid pod's route MTU lifted: its MSS then
 * exceeds what hybrid_vxlan0 carries, and TCP only gets through if the gateway
 * answers "fragmentation needed" and the VPC pod adapts (path-MTU discovery).
 */
export async function checkTcpBulk(lab: Lab, node: HybridNode, bytes = TCP_BULK_BYTES): Promise<TcpBulkResult[]> {
  const leader = await lab.waitConverged(60_000);
  const tcp: TcpBulkResult[] = [];
  await flushPmtu(lab);
  tcp.push(await tcpBulk(lab, 'cilium-pod', node, true, leader, bytes));
  tcp.push(await tcpBulk(lab, 'cilium-pod', node, false, leader, bytes));
  // The hybrid pod's MSS above the path: as a pod is sized when Cilium's base MTU is larger than
  // the path (a jumbo on-prem NIC behind a 1500-byte VPN), or in the ideal profile as it is.
  const lifted = lab.podRouteMtu().length > 0;
  if (lifted) await lab.run.ip(node.podNs, ['route', 'replace', 'default', 'via', node.podGatewayIp]);
  try {
    await flushPmtu(lab);
    tcp.push(await tcpBulk(lab, 'mss-above-path', node, true, leader, bytes));
  } finally {
    if (lifted) await lab.run.ip(node.podNs, ['route', 'replace', 'default', 'via', node.podGatewayIp, ...lab.podRouteMtu()]);
  }
  return tcp;
}

/** A 1500-byte datagram with DF set from the VPC pod to a hybrid pod (iputils `ping -M do`). */
export async function checkFragNeeded(lab: Lab, node: HybridNode, packetBytes = 1500): Promise<IcmpCheck> {
  await lab.waitConverged(60_000);
  await flushPmtu(lab);
  const kernelPmtuBefore = await kernelPmtu(lab, lab.ns.vpcPod, node.podIp);
  // -M do sets DF; -s is the ICMP payload (IP 20 + ICMP 8 bytes on top).
  const ping = await lab.run.exec(lab.ns.vpcPod, ['ping', '-M', 'do', '-s', String(packetBytes - 28), '-c', '1', '-W', '2', '-n', node.podIp], { allowFail: true });
  const pingLine = `${ping.stdout}\n${ping.stderr}`
    .split('\n')
    .find((l) => /frag needed|mtu/i.test(l))
    ?.trim();
  const m = /^From (\S+) .*\(mtu = (\d+)\)/i.exec(pingLine ?? '');
  return {
    packetBytes,
    pingLine,
    from: m?.[1],
    mtuSeen: m === null ? undefined : Number(m[2]),
    kernelPmtuBefore,
    kernelPmtuAfter: await kernelPmtu(lab, lab.ns.vpcPod, node.podIp),
  };
}

/** All MTU checks (report of the lab command): links, TCP bulk (first hybrid node), DF datagram (second). */
export async function checkMtu(lab: Lab, opts: { bytes?: number } = {}): Promise<MtuReport> {
  const leader = await lab.waitConverged(60_000);
  const nodes = [...lab.hybrid.values()].filter((n) => n.registered).sort((a, b) => a.index - b.index);
  const tcpNode = nodes[0];
  const icmpNode = nodes[1] ?? nodes[0];
  if (tcpNode === undefined || icmpNode === undefined) throw new Error('checkMtu: no registered hybrid node');
  const { links, hybridPodRouteMtu } = await observedMtus(lab, leader, tcpNode);
  const tcp = await checkTcpBulk(lab, tcpNode, opts.bytes);
  const icmp = await checkFragNeeded(lab, icmpNode);
  return { profile: lab.profile.name, leader, links, hybridPodRouteMtu, tcp, icmp };
}

// ------------------------------------------------------------------ idle cost

export interface IdleCost {
  readonly profile: string;
  readonly leader: GatewayName;
  readonly windowMs: number;
  readonly driftPeriodMs: number;
  /** The leader's EC2 calls in the window, by action. */
  readonly ec2Calls: Record<string, number>;
  /** Groups of the leader's Describe* calls less than 5 s apart: one per drift pass. */
  readonly describeRounds: number;
  /** CreateRoute / ReplaceRoute / DeleteRoute by the leader. */
  readonly routeWrites: number;
  /** EC2 answers RequestLimitExceeded (any client). */
  readonly throttled: number;
  /** EC2 calls of the standby in the window. */
  readonly standbyEc2Calls: number;
  /** The leader's writes (POST/PUT/PATCH/DELETE) on ciliumvtepconfigs, the main resource (not /status). */
  readonly crWrites: number;
  /** The leader's other Kubernetes writes, by resource (its Lease renewals…). */
  readonly otherKubeWrites: Record<string, number>;
  /** /status writes of CiliumVTEPConfig by the Cilium stand-ins (their refresh) in the window. */
  readonly ciliumStatusWrites: number;
  /** How far the CR's lastSyncTime moved over the window (the refresh happened). */
  readonly lastSyncAdvancedMs: number | undefined;
  /** The CR's metadata.generation before and after (spec untouched: equal). */
  readonly generation: { readonly before: number | undefined; readonly after: number | undefined };
  /** The Lease holder did not change during the window. */
  readonly sameLeader: boolean;
}

interface Ec2LogEntry {
  readonly action: string;
  readonly atMs: number;
  readonly accessKeyId?: string;
  readonly status?: number;
  readonly code?: string;
}

interface KubeLogEntry {
  readonly method: string;
  readonly path: string;
  readonly watch: boolean;
  readonly status: number;
  readonly atMs: number;
  readonly remoteAddress?: string;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const VTEP_PATH = /^\/apis\/cilium\.io\/v2\/ciliumvtepconfigs(\/[^/]+)?$/;
const VTEP_STATUS_PATH = /^\/apis\/cilium\.io\/v2\/ciliumvtepconfigs\/[^/]+\/status$/;

function resourceOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const i = parts.indexOf('namespaces');
  const rest = i >= 0 ? parts.slice(i + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
  return rest[0] ?? path;
}

async function vtepSnapshot(lab: Lab): Promise<{ generation?: number; lastSync?: number }> {
  const o = await lab.ask<{ metadata?: { generation?: number }; status?: { endpointStatuses?: Array<{ lastSyncTime?: string }> } } | null>({
    op: 'get',
    plural: 'ciliumvtepconfigs',
    name: 'hybrid-gateway',
  });
  const times = (o?.status?.endpointStatuses ?? []).map((e) => Date.parse(e.lastSyncTime ?? '')).filter((t) => Number.isFinite(t));
  return { generation: o?.metadata?.generation, lastSync: times.length > 0 ? Math.max(...times) : undefined };
}

/**
 * Waits for a converged lab and for the leader's first passes to be over, then
 * counts over `periods` drift periods (default 2) what the leader asked of EC2
 * and of the Kubernetes API while nothing changed.
 */
export async function measureIdleCost(lab: Lab, opts: { periods?: number; settleMs?: number } = {}): Promise<IdleCost> {
  const periods = opts.periods ?? 2;
  const windowMs = periods * DRIFT_PERIOD_MS;
  const leader = await lab.waitConverged(60_000);
  // The passes right after winning the lease (and a converge after a hand-over) are not idle.
  await sleep(opts.settleMs ?? 3000);
  const lease0 = await lab.lease();
  const snap0 = await vtepSnapshot(lab);
  const t0 = now();
  await sleep(windowMs);
  const t1 = now();
  const lease1 = await lab.lease();
  const snap1 = await vtepSnapshot(lab);
  const inWindow = <T extends { atMs: number }>(xs: readonly T[]): T[] => xs.filter((x) => x.atMs >= t0 && x.atMs < t1);
  const g = gateway(leader);
  const standby = GATEWAYS.find((x) => x.name !== leader)!;
  const ec2 = inWindow(await lab.ask<Ec2LogEntry[]>({ op: 'ec2CallLog' }));
  const mine = ec2.filter((c) => c.accessKeyId === g.accessKeyId);
  const ec2Calls: Record<string, number> = {};
  for (const c of mine) ec2Calls[c.action] = (ec2Calls[c.action] ?? 0) + 1;
  let describeRounds = 0;
  let lastDescribe = -Infinity;
  for (const c of mine.filter((x) => x.action.startsWith('Describe')).sort((a, b) => a.atMs - b.atMs)) {
    if (c.atMs - lastDescribe > 5000) describeRounds += 1;
    lastDescribe = c.atMs;
  }
  const kube = inWindow(await lab.ask<KubeLogEntry[]>({ op: 'kubeRequests' })).filter((r) => !r.watch && WRITE_METHODS.has(r.method));
  const byLeader = kube.filter((r) => r.remoteAddress === g.ip);
  const hybridIps = new Set([...lab.hybrid.values()].map((n) => n.ip));
  const otherKubeWrites: Record<string, number> = {};
  for (const r of byLeader.filter((x) => !VTEP_PATH.test(x.path))) {
    const k = `${r.method} ${resourceOf(r.path)}`;
    otherKubeWrites[k] = (otherKubeWrites[k] ?? 0) + 1;
  }
  return {
    profile: lab.profile.name,
    leader,
    windowMs: t1 - t0,
    driftPeriodMs: DRIFT_PERIOD_MS,
    ec2Calls,
    describeRounds,
    routeWrites: mine.filter((c) => ['CreateRoute', 'ReplaceRoute', 'DeleteRoute'].includes(c.action)).length,
    throttled: ec2.filter((c) => c.code === 'RequestLimitExceeded').length,
    standbyEc2Calls: ec2.filter((c) => c.accessKeyId === standby.accessKeyId).length,
    crWrites: byLeader.filter((r) => VTEP_PATH.test(r.path)).length,
    otherKubeWrites,
    ciliumStatusWrites: kube.filter((r) => VTEP_STATUS_PATH.test(r.path) && r.remoteAddress !== undefined && hybridIps.has(r.remoteAddress)).length,
    lastSyncAdvancedMs: snap0.lastSync !== undefined && snap1.lastSync !== undefined ? snap1.lastSync - snap0.lastSync : undefined,
    generation: { before: snap0.generation, after: snap1.generation },
    sameLeader: lease0.holder === leader && lease1.holder === leader && lease0.transitions === lease1.transitions,
  };
}

// ------------------------------------------------------------------ single writer per shard

/** Every route and endpoint write so far came from the holder of its shard's Lease (shard-writers.ts). */
export async function checkShardWriters(lab: Lab): Promise<ShardWriterCheck> {
  return judgeShardWriters({
    shards: lab.shards,
    leaderElectionId: LEASE_NAME,
    podCidr: POD_CIDRS,
    vpcCidr: VPC_CIDR,
    gateways: GATEWAYS,
    routeLog: await lab.routeLog(),
    vtepLog: await lab.vtepLog(),
  });
}
