// The lab: a VPC and a hybrid site in network namespaces on one Linux host,
// with the real gateway processes, the Kubernetes/EC2/IMDS stand-ins and a
// Cilium stand-in on every hybrid node (address plan: addresses.ts).
//
//  ctl ──(198.51.100/24)── router ──bridge vpc0 (198.18.0/24)── gw-a, gw-b
//                            │ └──(198.18.1/24)── vpc-pod
//                            └──"on-prem link" (192.0.2.0/30)── onprem ──bridge site0 (203.0.113/24)── hyb-i ── pod-i
//
// The router's route to the hybrid pod CIDRs follows the EC2 stand-in's first
// route table (the control-plane worker applies each route change to it).
// Traffic VPC pod ⇄ hybrid pods crosses the real kernel VXLAN path through
// the leading gateway. Used by the lab command (main.ts), the failover
// benchmark and the tests in test/lab.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import {
  CONTROL_IP,
  ECHO_PORT,
  EKS_CLUSTER,
  GATEWAYS,
  GATEWAY_NAMES,
  GATEWAY_SECURITY_GROUP,
  LEASE_NAME,
  LEASE_NAMESPACE,
  ONPREM_IP,
  POD_CIDRS,
  REGION,
  ROUTER_CONTROL_IP,
  ROUTER_ONPREM_IP,
  ROUTER_POD_IP,
  ROUTER_VPC_IP,
  ROUTE_TABLE_IDS,
  SITE_GATEWAY_IP,
  SUBNET_ID,
  VPC_CIDR,
  VPC_ID,
  VPC_POD_IP,
  ciliumNode,
  gateway,
  hybridNode,
  nodeMacFor,
  type GatewayName,
  type HybridNodeAddresses,
} from './addresses.js';
import type { AgentApplied } from './cilium-agent.js';
import type { Ec2CallRecord, Ec2FaultRequest, KubeFaultReport, LeaseHolderChange, RouteWrite, VtepWrite } from './control-plane-worker.js';
import { IpcPeer, type Reply } from './ipc.js';
import type { FaultConfig } from './kube-apiserver/index.js';
import { KubeletStandIn } from './kubelet.js';
import { gatewayDeviceMac } from './mac.js';
import { stderrTail, type NetnsRun } from './netns.js';
import type { FlowReport } from './probe-worker.js';
import type { ReceivedSpan } from './otlp-receiver.js';
import { resolveLabProfile, type LabProfile, type LabProfileName } from './profile.js';
import { LAB_MAX_SHARDS, labHybridIndex, labShardEndpoints, labShardLease, labShardOf, labShardPrefixes, labVpcPod, type LabVpcPod } from './shards.js';

export interface ControlInfo {
  readonly kubeUrl: string;
  readonly kubeconfig: string;
  readonly ec2Url: string;
  /** The EKS stand-in (the lab always gives the control plane its cluster). */
  readonly eksUrl: string;
  readonly otlpUrl: string;
  readonly imds: Record<string, string>;
}

export interface HybridNode extends HybridNodeAddresses {
  readonly nodeNs: string;
  readonly podNs: string;
  readonly agent: IpcPeer;
  /** Every state the Cilium stand-in applied, oldest first. */
  readonly agentLog: AgentApplied[];
  readonly probe: IpcPeer;
  /** Whether the lab registered its CiliumNode (and so expects its entries on the gateways). */
  registered: boolean;
}

export interface LabOptions {
  readonly run: NetnsRun;
  /** Hybrid nodes brought up at start (default 2; with shards, one per shard). */
  readonly hybridNodes?: number;
  /**
   * The gateways' --shards (SHARDS; default 1, the lab as it always was). With more, the lab adds a
   * VPC pod per shard and places hybrid nodes on every shard (lab/shards.ts), pairs each hybrid pod
   * with its shard's VPC pod, and judges every shard's Lease, routes and endpoints.
   */
  readonly shards?: number;
  /** Extra gateway flags (e.g. lease timings). */
  readonly gatewayArgs?: readonly string[];
  /** Every line a gateway writes on stdout (its JSON log), with the gateway's name; every start is followed. */
  readonly onGatewayLine?: (name: GatewayName, line: string) => void;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** Probe interval per flow (default 10 ms). */
  readonly probeIntervalMs?: number;
  /** How real the lab is (lab/profile.ts): default LAB_PROFILE, else 'realistic'. */
  readonly profile?: LabProfileName;
  /**
   * Run the gateways as the image does (a built script, its node flags and ENV: the
   * benchmarks' bench/image.ts reads them from the Dockerfile) instead of `tsx runtime/main.ts`.
   */
  readonly gatewayEntry?: GatewayEntry;
}

/** How a gateway process is started when not through tsx: `node <nodeArgs> <script>` with `env` added. */
export interface GatewayEntry {
  readonly script: string;
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface GatewayProcess {
  child: ChildProcess | undefined;
  /** Frozen with SIGSTOP (not yet SIGCONT). */
  stopped: boolean;
  /** Links down (node lost). */
  down: boolean;
  /** The pod UID (POD_UID, as the downward API gives it) of every start, oldest first: each start stands for a new pod. */
  podUids: string[];
}

export interface ConvergeReport {
  readonly ok: boolean;
  /** The leader (with shards: shard 0's). */
  readonly leader: GatewayName | undefined;
  /** With shards: each shard's leader, by shard. */
  readonly leaders?: GatewayName[];
  readonly problems: string[];
}

/** A VPC pod of the lab (one per shard) with its probe. */
export interface VpcPod extends LabVpcPod {
  readonly ns: string;
  readonly probe: IpcPeer;
}

/** What the lab knows of a running flow: who sends it where, and which shard carries it both ways. */
export interface FlowInfo {
  readonly probe: IpcPeer;
  readonly to: string;
  /** The hybrid node whose pod is one end. */
  readonly node: string;
  /** The VPC pod at the other end. */
  readonly vpcPod: string;
  /** Sent from the VPC pod (cloud → hybrid first) or from the hybrid pod. */
  readonly direction: 'toHybrid' | 'toVpc';
  /** The shard of the hybrid pod's address (cloud → hybrid leg, by route table) and of the VPC pod's (hybrid → cloud, by VTEP endpoint). */
  readonly podShard: number;
  readonly vpcShard: number;
}

/** hybrid_vxlan0's kernel counters in a gateway's namespace (`ip -s link`). */
export interface VxlanCounters {
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export const VXLAN_DEVICE = 'hybrid_vxlan0';
export const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until probe returns a value (not undefined); rejects after timeoutMs with the last error. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

export class Lab {
  readonly ns = { ctl: '', router: '', vpcPod: '', onprem: '', gw: {} as Record<GatewayName, string> };
  readonly gateways: Record<GatewayName, GatewayProcess> = {
    'gw-a': { child: undefined, stopped: false, down: false, podUids: [] },
    'gw-b': { child: undefined, stopped: false, down: false, podUids: [] },
  };
  readonly hybrid = new Map<string, HybridNode>();
  ctl!: IpcPeer;
  info!: ControlInfo;
  vpcProbe!: IpcPeer;
  /** The gateway pods' kubelet stand-in (their Pod objects, Ready from /readyz). */
  kubelet!: KubeletStandIn;
  /** The profile in force (MTUs, the stand-ins' behaviour). */
  readonly profile: LabProfile;
  private readonly flows = new Map<string, FlowInfo>();
  /** The gateways' --shards. */
  readonly shards: number;
  /** One VPC pod per shard; [0] is the lab's VPC pod (vpcProbe). */
  readonly vpcPods: VpcPod[] = [];
  private readonly log: (line: string) => void;

  private constructor(readonly opts: LabOptions) {
    this.log = opts.log ?? (() => undefined);
    this.profile = resolveLabProfile(opts.profile);
    this.shards = opts.shards ?? 1;
    if (!Number.isInteger(this.shards) || this.shards < 1 || this.shards > LAB_MAX_SHARDS) throw new Error(`lab shards ${this.shards}: the lab runs 1 to ${LAB_MAX_SHARDS}`);
  }

  /** Shard k's Lease name. */
  shardLeaseName(k: number): string {
    return labShardLease(LEASE_NAME, this.shards, k);
  }

  get run(): NetnsRun {
    return this.opts.run;
  }

  /** Builds the namespaces, the control plane, the VPC pod and the hybrid nodes (gateways not started). */
  static async create(opts: LabOptions): Promise<Lab> {
    const lab = new Lab(opts);
    await lab.build(opts.hybridNodes ?? (lab.shards === 1 ? 2 : lab.shards));
    return lab;
  }

  private async build(hybridNodes: number): Promise<void> {
    const run = this.run;
    const mtu = this.profile.mtu;
    this.log(`creating namespaces and links (profile ${this.profile.name}: VPC MTU ${mtu.vpc}, on-prem ${mtu.onprem})`);
    const [ctl, router, vpcPod, onprem, gwa, gwb] = await Promise.all(['ctl', 'router', 'vpc-pod', 'onprem', 'gw-a', 'gw-b'].map((n) => run.ns(n)));
    Object.assign(this.ns, { ctl, router, vpcPod, onprem });
    this.ns.gw = { 'gw-a': gwa!, 'gw-b': gwb! };
    await run.sysctl(router!, 'net.ipv4.ip_forward', '1');
    await run.sysctl(onprem!, 'net.ipv4.ip_forward', '1');
    // Control link.
    await run.veth({ ns: router!, ifname: 'r-ctl', addr: `${ROUTER_CONTROL_IP}/24`, mtu: mtu.control }, { ns: ctl!, ifname: 'eth0', addr: `${CONTROL_IP}/24`, mtu: mtu.control });
    await run.ip(ctl!, ['route', 'add', 'default', 'via', ROUTER_CONTROL_IP]);
    // VPC subnet: a bridge in the router with the gateways on it.
    await run.ip(router!, ['link', 'add', 'vpc0', 'type', 'bridge']);
    await run.ip(router!, ['addr', 'add', `${ROUTER_VPC_IP}/24`, 'dev', 'vpc0']);
    await run.ip(router!, ['link', 'set', 'vpc0', 'up']);
    for (const g of GATEWAYS) {
      const port = `p-${g.name}`;
      await run.veth({ ns: router!, ifname: port, mtu: mtu.vpc }, { ns: this.ns.gw[g.name], ifname: 'eth0', addr: `${g.ip}/24`, mtu: mtu.vpc });
      await run.ip(router!, ['link', 'set', port, 'master', 'vpc0']);
      await this.gatewayNetwork(g.name);
    }
    // Set after the ports joined: an explicit MTU stays (the bridge no longer follows its ports).
    await run.ip(router!, ['link', 'set', 'vpc0', 'mtu', String(mtu.vpc)]);
    // VPC pod subnet.
    await run.veth({ ns: router!, ifname: 'r-pod', addr: `${ROUTER_POD_IP}/24`, mtu: mtu.vpc }, { ns: vpcPod!, ifname: 'eth0', addr: `${VPC_POD_IP}/24`, mtu: mtu.vpc });
    await run.ip(vpcPod!, ['route', 'add', 'default', 'via', ROUTER_POD_IP]);
    // On-prem link and the hybrid site's bridge.
    await run.veth({ ns: router!, ifname: 'r-onprem', addr: `${ROUTER_ONPREM_IP}/30`, mtu: mtu.onprem }, { ns: onprem!, ifname: 'eth0', addr: `${ONPREM_IP}/30`, mtu: mtu.onprem });
    await run.ip(router!, ['route', 'add', '203.0.113.0/24', 'via', ONPREM_IP]);
    await run.ip(onprem!, ['route', 'add', 'default', 'via', ROUTER_ONPREM_IP]);
    await run.ip(onprem!, ['link', 'add', 'site0', 'mtu', String(mtu.onprem), 'type', 'bridge']);
    await run.ip(onprem!, ['addr', 'add', `${SITE_GATEWAY_IP}/24`, 'dev', 'site0']);
    await run.ip(onprem!, ['link', 'set', 'site0', 'up']);
    for (const n of [router!, onprem!]) await run.sysctl(n, 'net.ipv4.conf.all.send_redirects', '0');

    this.log('starting the control plane (Kubernetes API, EC2/IMDS, EKS, OTLP receiver)');
    const child = run.spawnNode(ctl!, 'lab/control-plane-worker.ts', [
      JSON.stringify({
        host: CONTROL_IP,
        region: REGION,
        vpcId: VPC_ID,
        vpcCidr: VPC_CIDR,
        subnetId: SUBNET_ID,
        routeTableIds: ROUTE_TABLE_IDS,
        gateways: GATEWAYS.map((g) => ({ name: g.name, instanceId: g.instanceId, eni: g.eni, mac: g.mac, ip: g.ip })),
        vpcRouter: { ns: router!, routeTableId: ROUTE_TABLE_IDS[0] },
        leaseName: LEASE_NAME,
        leaseNamespace: LEASE_NAMESPACE,
        ...(this.shards > 1 ? { trackedLeases: Array.from({ length: this.shards }, (_, k) => this.shardLeaseName(k)) } : {}),
        ec2Profile: this.profile.ec2Profile,
        kubeCrdDefaults: this.profile.kubeCrdDefaults,
        eksCluster: EKS_CLUSTER,
        installation: { podCidrs: [POD_CIDRS], remoteNodeNetworks: EKS_CLUSTER.remoteNodeNetworks, securityGroupId: GATEWAY_SECURITY_GROUP },
      }),
    ]);
    const ready = new Promise<ControlInfo>((resolve) => child.once('message', (m) => resolve(m as ControlInfo)));
    this.ctl = new IpcPeer(child, 'control plane');
    await this.ctl.ready;
    this.info = await ready;
    this.kubelet = new KubeletStandIn({
      put: (plural, body) => this.ask({ op: 'put', plural, body }),
      // The chart's probe: httpGet /readyz on the health port, timeoutSeconds 2 (from the control namespace, across the router).
      probe: async (name) => (await this.ask<number>({ op: 'httpGet', url: `http://${gateway(name as GatewayName).ip}:8088/readyz`, timeoutMs: 2000 })) === 200,
    });

    this.log('starting the VPC pod probe');
    this.vpcProbe = new IpcPeer(run.spawnNode(vpcPod!, 'lab/probe-worker.ts'), 'VPC pod probe');
    await this.vpcProbe.ready;
    await this.must(this.vpcProbe, { cmd: 'echo', bind: VPC_POD_IP, port: ECHO_PORT });
    await this.must(this.vpcProbe, { cmd: 'tcpEcho', bind: VPC_POD_IP, port: ECHO_PORT });
    this.vpcPods.push({ ...labVpcPod(VPC_CIDR, this.shards, 0), ns: vpcPod!, probe: this.vpcProbe });
    for (let k = 1; k < this.shards; k++) await this.addVpcPod(k);

    this.log(`bringing up ${hybridNodes} hybrid node(s) with the Cilium stand-in`);
    await Promise.all(Array.from({ length: hybridNodes }, (_, i) => this.addHybridNode(labHybridIndex(POD_CIDRS, this.shards, i))));
  }

  /** Shard k's VPC pod (k ≥ 1): its own subnet on the router, a UDP and TCP echo. */
  private async addVpcPod(k: number): Promise<void> {
    const p = labVpcPod(VPC_CIDR, this.shards, k);
    const mtu = this.profile.mtu;
    const ns = await this.run.ns(p.name);
    const len = p.subnet.split('/')[1];
    await this.run.veth({ ns: this.ns.router, ifname: `r-pod-${k}`, addr: `${p.routerIp}/${len}`, mtu: mtu.vpc }, { ns, ifname: 'eth0', addr: `${p.ip}/${len}`, mtu: mtu.vpc });
    await this.run.ip(ns, ['route', 'add', 'default', 'via', p.routerIp]);
    const probe = new IpcPeer(this.run.spawnNode(ns, 'lab/probe-worker.ts'), `probe in ${p.name}`);
    await probe.ready;
    await this.must(probe, { cmd: 'echo', bind: p.ip, port: ECHO_PORT });
    await this.must(probe, { cmd: 'tcpEcho', bind: p.ip, port: ECHO_PORT });
    this.vpcPods.push({ ...p, ns, probe });
  }

  /** The VPC pod a hybrid node's flows go to: the one of its pod CIDR's shard (the lab's VPC pod with one shard). */
  vpcPodFor(node: HybridNodeAddresses): VpcPod {
    const k = labShardOf(node.podCidr, POD_CIDRS, this.shards) ?? 0;
    return this.vpcPods.find((p) => p.shard === k) ?? this.vpcPods[0]!;
  }

  /** (Re)configures a gateway namespace's network: forwarding, default route, no redirects. */
  private async gatewayNetwork(name: GatewayName): Promise<void> {
    const ns = this.ns.gw[name];
    await this.run.sysctl(ns, 'net.ipv4.ip_forward', '1');
    await this.run.sysctl(ns, 'net.ipv4.conf.all.send_redirects', '0');
    await this.run.ip(ns, ['route', 'replace', 'default', 'via', ROUTER_VPC_IP]);
  }

  private async must(peer: IpcPeer, body: Record<string, unknown>): Promise<unknown> {
    const r = await peer.request(body);
    if (!r.ok) throw new Error(`${String(body.cmd ?? body.op)}: ${String(r.error)}`);
    return r.value;
  }

  /** A control-plane request (see control-plane-worker.ts); rejects on an error reply. */
  async ask<T>(body: Record<string, unknown>): Promise<T> {
    const r: Reply = await this.ctl.request(body);
    if (!r.ok) throw new Error(`control plane ${String(body.op)}: ${String(r.error)}`);
    return r.value as T;
  }

  ec2Fault(fault: Ec2FaultRequest): Promise<void> {
    return this.ask({ op: 'ec2Fault', fault });
  }

  /** Replaces the Kubernetes stand-in's fault configuration ({} stops injecting). Plain data only: `match` cannot cross IPC. */
  kubeFault(config: Omit<FaultConfig, 'match'>): Promise<void> {
    return this.ask({ op: 'kubeFault', config });
  }

  /** What the Kubernetes stand-in's faults injected: counts so far, and the requests delayed since sinceMs (epoch ms). */
  kubeFaultReport(sinceMs = 0): Promise<KubeFaultReport> {
    return this.ask<KubeFaultReport>({ op: 'kubeFaultReport', sinceMs });
  }

  /** Every change of the Lease's holder the Kubernetes stand-in committed, oldest first. */
  leaseLog(): Promise<LeaseHolderChange[]> {
    return this.ask<LeaseHolderChange[]>({ op: 'leaseLog' });
  }

  // ------------------------------------------------------------ hybrid site

  /**
   * Brings up hybrid node i: its namespace on the site bridge, the Cilium
   * stand-in (vxlan device + agent), a pod behind it with a probe. Registers
   * its CiliumNode unless register is false.
   */
  async addHybridNode(index: number, register = true): Promise<HybridNode> {
    const a = hybridNode(index);
    const run = this.run;
    const [nodeNs, podNs] = await Promise.all([run.ns(a.name), run.ns(`pod-${index}`)]);
    const port = `p-${a.name}`;
    const mtu = this.profile.mtu;
    await run.veth({ ns: this.ns.onprem, ifname: port, mtu: mtu.onprem }, { ns: nodeNs, ifname: 'eth0', addr: `${a.ip}/24`, mtu: mtu.onprem });
    await run.ip(this.ns.onprem, ['link', 'set', port, 'master', 'site0']);
    await run.ip(nodeNs, ['route', 'add', 'default', 'via', SITE_GATEWAY_IP]);
    await run.sysctl(nodeNs, 'net.ipv4.ip_forward', '1');
    await run.veth({ ns: nodeNs, ifname: 'eth1', addr: `${a.podGatewayIp}/24`, mtu: mtu.hybridPodDevice }, { ns: podNs, ifname: 'eth0', addr: `${a.podIp}/24`, mtu: mtu.hybridPodDevice });
    await run.ip(podNs, ['route', 'add', 'default', 'via', a.podGatewayIp, ...this.podRouteMtu()]);
    const { agent, agentLog } = this.spawnAgent(nodeNs, a.name, a.ip);
    const probe = new IpcPeer(run.spawnNode(podNs, 'lab/probe-worker.ts'), `probe in pod-${index}`);
    await Promise.all([agent.ready, probe.ready]);
    await this.must(probe, { cmd: 'echo', bind: a.podIp, port: ECHO_PORT });
    await this.must(probe, { cmd: 'tcpEcho', bind: a.podIp, port: ECHO_PORT });
    const node: HybridNode = { ...a, nodeNs: nodeNs, podNs: podNs, agent, agentLog, probe, registered: false };
    this.hybrid.set(a.name, node);
    if (register) await this.registerHybridNode(a.name);
    return node;
  }

  /** Puts the node's CiliumNode into the Kubernetes stand-in. */
  async registerHybridNode(name: string, ip?: string): Promise<void> {
    const n = this.hybridOrThrow(name);
    await this.ask({ op: 'put', plural: 'ciliumnodes', body: ciliumNode(n.name, ip ?? n.ip, [n.podCidr]) });
    n.registered = true;
  }

  /** Deletes the node's CiliumNode (its namespaces stay until teardown). */
  async unregisterHybridNode(name: string): Promise<void> {
    const n = this.hybridOrThrow(name);
    await this.ask({ op: 'remove', plural: 'ciliumnodes', name: n.name });
    n.registered = false;
  }

  /** Moves a hybrid node to another underlay IP (203.0.113.x): its NIC, its vxlan device and its CiliumNode. */
  async changeHybridNodeIp(name: string, newIp: string): Promise<HybridNode> {
    const n = this.hybridOrThrow(name);
    await n.agent.stop();
    await this.run.ip(n.nodeNs, ['addr', 'del', `${n.ip}/24`, 'dev', 'eth0']);
    await this.run.ip(n.nodeNs, ['addr', 'add', `${newIp}/24`, 'dev', 'eth0']);
    await this.run.ip(n.nodeNs, ['route', 'replace', 'default', 'via', SITE_GATEWAY_IP]);
    const { agent, agentLog } = this.spawnAgent(n.nodeNs, n.name, newIp);
    await agent.ready;
    const moved: HybridNode = { ...n, ip: newIp, agent, agentLog };
    this.hybrid.set(n.name, moved);
    await this.ask({ op: 'put', plural: 'ciliumnodes', body: ciliumNode(n.name, newIp, [n.podCidr]) });
    moved.registered = true;
    return moved;
  }

  /** `mtu <route MTU>` for a hybrid pod's routes, as Cilium's CNI sets them (none in the ideal profile). */
  podRouteMtu(): string[] {
    const m = this.profile.mtu.hybridPodRoute;
    return m === undefined ? [] : ['mtu', String(m)];
  }

  /** Starts the Cilium stand-in on a hybrid node (its vxlan device at the profile's MTU, status refresh of the profile). */
  private spawnAgent(nodeNs: string, name: string, nodeIp: string): { agent: IpcPeer; agentLog: AgentApplied[] } {
    const agentLog: AgentApplied[] = [];
    const agentChild = this.run.spawnNode(nodeNs, 'lab/cilium-agent.ts', [
      JSON.stringify({
        nodeIp,
        nic: 'eth0',
        underlayGateway: SITE_GATEWAY_IP,
        kubeconfig: this.info.kubeconfig,
        mtu: this.profile.mtu.ciliumVxlan,
        statusRefreshMs: this.profile.ciliumStatusRefreshMs,
      }),
    ]);
    agentChild.on('message', (m: unknown) => {
      const applied = (m as { applied?: AgentApplied }).applied;
      if (applied !== undefined) agentLog.push(applied);
    });
    return { agent: new IpcPeer(agentChild, `Cilium stand-in on ${name}`), agentLog };
  }

  private hybridOrThrow(name: string): HybridNode {
    const n = this.hybrid.get(name);
    if (n === undefined) throw new Error(`no hybrid node ${name} in this lab`);
    return n;
  }

  // ------------------------------------------------------------ gateways

  gatewayEnv(name: GatewayName): Record<string, string> {
    const g = gateway(name);
    return {
      ...(this.shards > 1 ? { SHARDS: String(this.shards) } : {}),
      NODE_IP: g.ip,
      VPC_CIDR,
      POD_CIDRS,
      ROUTE_TABLE_IDS: ROUTE_TABLE_IDS.join(','),
      POD_NAME: g.name,
      POD_NAMESPACE: LEASE_NAMESPACE,
      NODE_NAME: `node-${g.name}`,
      KUBECONFIG: this.info.kubeconfig,
      AWS_ENDPOINT_URL_EC2: this.info.ec2Url,
      // For doctor run with a gateway's environment (the gateway never calls EKS).
      AWS_ENDPOINT_URL_EKS: this.info.eksUrl,
      CLUSTER_NAME: EKS_CLUSTER.name,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: this.info.imds[g.instanceId]!,
      AWS_ACCESS_KEY_ID: g.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'lab-secret',
      METRICS_BIND_ADDRESS: `${g.ip}:10080`,
      HEALTH_PROBE_BIND_ADDRESS: `${g.ip}:8088`,
      OTEL_EXPORTER_OTLP_ENDPOINT: this.info.otlpUrl,
      OTEL_SERVICE_NAME: `gateway-${g.name}`,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
  }

  /** Starts the real gateway process in its namespace (`node --import tsx runtime/main.ts`, or the image's entry point). */
  startGateway(name: GatewayName): ChildProcess {
    const gp = this.gateways[name];
    if (gp.child !== undefined && gp.child.exitCode === null && gp.child.signalCode === null) throw new Error(`${name} is running already`);
    const podUid = randomUUID();
    const entry = this.opts.gatewayEntry;
    const own = this.gatewayEnv(name);
    const env = { ...(entry?.env ?? {}), ...own, POD_UID: podUid };
    const child =
      entry === undefined
        ? this.run.spawnNode(this.ns.gw[name], 'runtime/main.ts', this.opts.gatewayArgs ?? [], env)
        : this.run.spawnNode(this.ns.gw[name], entry.script, this.opts.gatewayArgs ?? [], env, { compiled: true, nodeArgs: [...entry.nodeArgs] });
    gp.podUids.push(podUid);
    // The pod the downward API describes to this process.
    const pod = { namespace: own.POD_NAMESPACE!, name: own.POD_NAME!, nodeName: own.NODE_NAME!, hostIP: own.NODE_IP! };
    this.kubelet.started(pod);
    child.once('exit', () => {
      if (gp.child === child) this.kubelet.exited(pod.name);
    });
    const onLine = this.opts.onGatewayLine;
    if (onLine !== undefined && child.stdout !== null) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (l) => onLine(name, l));
    gp.child = child;
    gp.stopped = false;
    return child;
  }

  running(name: GatewayName): boolean {
    const c = this.gateways[name].child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Sends a signal; for SIGTERM/SIGKILL resolves with the exit code once the process is gone. */
  async signalGateway(name: GatewayName, signal: 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT', exitTimeoutMs = 8000): Promise<number | null | undefined> {
    const gp = this.gateways[name];
    const c = gp.child;
    if (c === undefined || !this.running(name)) return undefined;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      // The process is `ip netns exec` exec'ing node: same pid.
      c.kill(signal);
      gp.stopped = signal === 'SIGSTOP';
      return undefined;
    }
    const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
    if (gp.stopped && signal === 'SIGTERM') c.kill('SIGCONT');
    c.kill(signal);
    gp.stopped = false;
    const code = await Promise.race([exited, sleep(exitTimeoutMs).then(() => 'late' as const)]);
    if (code === 'late') {
      c.kill('SIGKILL');
      return exited;
    }
    return code;
  }

  /** An EC2 instance loss: every link of the gateway's namespace down, then kill -9. Returns the event time. */
  async nodeLoss(name: GatewayName): Promise<number> {
    const ns = this.ns.gw[name];
    const t0 = now();
    await this.run.ip(ns, ['link', 'set', 'eth0', 'down']);
    const killed = this.signalGateway(name, 'SIGKILL');
    await this.run.ip(ns, ['link', 'set', VXLAN_DEVICE, 'down']).catch(() => undefined);
    this.gateways[name].down = true;
    this.kubelet.exited(name);
    await killed;
    return t0;
  }

  /** Brings a lost node back: links up, its network again, the gateway restarted. */
  async restoreNode(name: GatewayName): Promise<void> {
    const ns = this.ns.gw[name];
    await this.run.ip(ns, ['link', 'set', 'eth0', 'up']);
    await this.gatewayNetwork(name);
    this.gateways[name].down = false;
    this.startGateway(name);
    await this.waitReady(name);
  }

  /** GETs a path of a gateway's health or metrics server, from inside its namespace. */
  async gatewayHttp(name: GatewayName, port: number, path: string): Promise<{ status: number; body: string }> {
    const g = gateway(name);
    const script = `require('http').get('http://${g.ip}:${port}${path}',{timeout:2000},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{process.stdout.write(JSON.stringify({status:r.statusCode,body:b}))})}).on('error',e=>{process.stdout.write(JSON.stringify({status:0,body:String(e)}))})`;
    const out = await this.run.exec(this.ns.gw[name], [process.execPath, '-e', script], { timeoutMs: 10_000 });
    return JSON.parse(out.stdout) as { status: number; body: string };
  }

  async waitReady(name: GatewayName, timeoutMs = 30_000): Promise<void> {
    await until(
      `${name} /readyz`,
      async () => {
        if (!this.running(name)) throw new Error(`${name} exited: ${stderrTail(this.gateways[name].child!)}`);
        return (await this.gatewayHttp(name, 8088, '/readyz')).status === 200 ? true : undefined;
      },
      timeoutMs,
      200,
    );
  }

  // ------------------------------------------------------------ observation

  async lease(): Promise<{ holder: string | undefined; renewMs: number; transitions: number }> {
    const l = await this.ask<{ spec?: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number } } | null>({
      op: 'get',
      plural: 'leases',
      name: LEASE_NAME,
      namespace: LEASE_NAMESPACE,
    });
    return { holder: l?.spec?.holderIdentity || undefined, renewMs: Date.parse(l?.spec?.renewTime ?? ''), transitions: l?.spec?.leaseTransitions ?? 0 };
  }

  /** What the VTEP endpoint of a leading gateway must be. */
  static vtepEndpointFor(name: GatewayName): { name: string; tunnelEndpoint: string; cidr: string; mac: string } {
    const g = gateway(name);
    return { name: 'vpc-gateway', tunnelEndpoint: g.ip, cidr: VPC_CIDR, mac: gatewayDeviceMac(g.ip) };
  }

  /** The gateway the lease, every route table and CiliumVTEPConfig agree on, if they do. */
  async leaderEverywhere(): Promise<GatewayName | undefined> {
    const { holder } = await this.lease();
    const g = GATEWAYS.find((x) => x.name === holder);
    if (g === undefined) return undefined;
    const routes = await this.ask<Record<string, Record<string, string>>>({ op: 'routes' });
    for (const t of ROUTE_TABLE_IDS) if (routes[t]?.[POD_CIDRS] !== g.eni) return undefined;
    const vtep = await this.ask<{ spec?: { endpoints?: unknown[] } } | null>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' });
    if (JSON.stringify(vtep?.spec?.endpoints) !== JSON.stringify([Lab.vtepEndpointFor(g.name)])) return undefined;
    return g.name;
  }

  /** The gateway's hybrid_vxlan0 entries: routes "cidr via ip", FDB "mac dst ip", permanent neighbours "ip mac". */
  async kernelEntries(name: GatewayName): Promise<{ routes: string[]; fdb: string[]; neigh: string[] }> {
    const ns = this.ns.gw[name];
    const routes = await this.run.ipJson<Array<{ dst: string; gateway?: string }>>(ns, ['-4', 'route', 'show', 'table', 'all', 'dev', VXLAN_DEVICE]);
    const fdb = await this.run.bridgeJson<Array<{ mac: string; dst?: string }>>(ns, ['fdb', 'show', 'dev', VXLAN_DEVICE]);
    const neigh = await this.run.ipJson<Array<{ dst: string; lladdr?: string; state?: string[] }>>(ns, ['neigh', 'show', 'dev', VXLAN_DEVICE]);
    return {
      routes: routes.map((r) => `${r.dst} via ${r.gateway ?? '?'}`).sort(),
      fdb: fdb.filter((f) => f.dst !== undefined).map((f) => `${f.mac} dst ${f.dst}`).sort(),
      neigh: neigh.filter((n) => n.state?.includes('PERMANENT')).map((n) => `${n.dst} ${n.lladdr ?? '?'}`).sort(),
    };
  }

  /** The entries every gateway must hold: one set per registered hybrid node. */
  desiredEntries(): { routes: string[]; fdb: string[]; neigh: string[] } {
    const nodes = [...this.hybrid.values()].filter((n) => n.registered);
    return {
      routes: nodes.map((n) => `${n.podCidr} via ${n.ip}`).sort(),
      fdb: nodes.map((n) => `${nodeMacFor(n.ip)} dst ${n.ip}`).sort(),
      neigh: nodes.map((n) => `${n.ip} ${nodeMacFor(n.ip)}`).sort(),
    };
  }

  /** One probe each way between the VPC pod (with shards: of the node's shard) and a hybrid pod. */
  async reachable(node: HybridNode, timeoutMs = 500): Promise<{ toHybrid: boolean; toVpc: boolean }> {
    const vpc = this.vpcPodFor(node);
    const [a, b] = await Promise.all([
      this.must(vpc.probe, { cmd: 'once', to: node.podIp, port: ECHO_PORT, timeoutMs }),
      this.must(node.probe, { cmd: 'once', to: vpc.ip, port: ECHO_PORT, timeoutMs }),
    ]);
    return { toHybrid: a === true, toVpc: b === true };
  }

  /**
   * The whole lab agrees: one leader (lease, route tables, CiliumVTEPConfig),
   * the VPC router and every Cilium stand-in point at it, every running
   * gateway holds exactly the desired kernel entries, traffic flows both ways
   * to every registered hybrid pod.
   */
  async converged(checkTraffic = true): Promise<ConvergeReport> {
    if (this.shards > 1) return this.convergedShards(checkTraffic);
    const problems: string[] = [];
    const leader = await this.leaderEverywhere();
    if (leader === undefined) problems.push(`no single leader (lease ${JSON.stringify(await this.lease())}, routes ${JSON.stringify(await this.ask({ op: 'routes' }))})`);
    else {
      if (!this.running(leader) || this.gateways[leader].stopped || this.gateways[leader].down) problems.push(`leader ${leader} is not a live gateway`);
      const want = gateway(leader).ip;
      const rr = await this.run.ipJson<Array<{ dst: string; gateway?: string }>>(this.ns.router, ['route', 'show', POD_CIDRS]);
      if (rr[0]?.gateway !== want) problems.push(`VPC router sends ${POD_CIDRS} via ${rr[0]?.gateway ?? 'nothing'}, not ${want}`);
      const ep = JSON.stringify([Lab.vtepEndpointFor(leader)]);
      for (const n of this.hybrid.values()) {
        const last = n.agentLog.at(-1);
        if (JSON.stringify(last?.endpoints) !== ep) problems.push(`Cilium stand-in on ${n.name} applied ${JSON.stringify(last?.endpoints)}`);
      }
    }
    await this.checkKernelAndTraffic(problems, checkTraffic);
    return { ok: problems.length === 0, leader, problems };
  }

  /** Every running gateway holds exactly the desired kernel entries; then (when asked and all else is fine) traffic flows both ways to every registered hybrid pod. */
  private async checkKernelAndTraffic(problems: string[], checkTraffic: boolean): Promise<void> {
    const want = this.desiredEntries();
    for (const name of GATEWAY_NAMES) {
      if (!this.running(name) || this.gateways[name].down) continue;
      const got = await this.kernelEntries(name);
      for (const k of ['routes', 'fdb', 'neigh'] as const) {
        if (got[k].join() !== want[k].join()) problems.push(`${name} ${k}: ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
      }
    }
    if (checkTraffic && problems.length === 0) {
      for (const n of this.hybrid.values()) {
        if (!n.registered) continue;
        const r = await this.reachable(n);
        if (!r.toHybrid || !r.toVpc) problems.push(`traffic ${n.name}: VPC→hybrid ${r.toHybrid}, hybrid→VPC ${r.toVpc}`);
      }
    }
  }

  // ------------------------------------------------------------ shards (--shards > 1)

  /** Shard k's Lease: holder, renew time, transitions. */
  async shardLease(k: number): Promise<{ holder: string | undefined; renewMs: number; transitions: number }> {
    const l = await this.ask<{ spec?: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number } } | null>({
      op: 'get',
      plural: 'leases',
      name: this.shardLeaseName(k),
      namespace: LEASE_NAMESPACE,
    });
    return { holder: l?.spec?.holderIdentity || undefined, renewMs: Date.parse(l?.spec?.renewTime ?? ''), transitions: l?.spec?.leaseTransitions ?? 0 };
  }

  /** Shard k's POD_CIDR prefixes and endpoint names, as the lab reads the documented split. */
  shardPrefixes(k: number): string[] {
    return labShardPrefixes(POD_CIDRS, this.shards, k);
  }

  shardEndpointNames(k: number): string[] {
    return labShardEndpoints(VPC_CIDR, this.shards, k).map((e) => e.name);
  }

  /** Every shard's Lease holder, by shard. */
  async shardHolders(): Promise<Array<string | undefined>> {
    return Promise.all(Array.from({ length: this.shards }, (_, k) => this.shardLease(k).then((l) => l.holder)));
  }

  /** The CiliumVTEPConfig endpoints (sorted by name) the given shard leaders must have written. */
  expectedEndpoints(leaders: readonly GatewayName[]): Array<{ name: string; tunnelEndpoint: string; cidr: string; mac: string }> {
    return leaders
      .flatMap((g, k) => labShardEndpoints(VPC_CIDR, this.shards, k).map((e) => ({ name: e.name, tunnelEndpoint: gateway(g).ip, cidr: e.cidr, mac: gatewayDeviceMac(gateway(g).ip) })))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Each shard's leader as the shard's Lease, every route table (the shard's POD_CIDR halves) and
   * CiliumVTEPConfig (the shard's endpoints) agree on it, by shard; undefined unless all shards agree.
   */
  async leadersEverywhere(): Promise<GatewayName[] | undefined> {
    const holders = await this.shardHolders();
    const leaders = holders.map((h) => GATEWAYS.find((x) => x.name === h)?.name);
    if (leaders.some((l) => l === undefined)) return undefined;
    const ls = leaders as GatewayName[];
    const routes = await this.ask<Record<string, Record<string, string>>>({ op: 'routes' });
    for (const [k, g] of ls.entries()) {
      for (const prefix of labShardPrefixes(POD_CIDRS, this.shards, k)) for (const t of ROUTE_TABLE_IDS) if (routes[t]?.[prefix] !== gateway(g).eni) return undefined;
    }
    const vtep = await this.ask<{ spec?: { endpoints?: Array<Record<string, unknown>> } } | null>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' });
    if (!sameEndpoints(vtep?.spec?.endpoints ?? [], this.expectedEndpoints(ls))) return undefined;
    return ls;
  }

  /**
   * converged() with shards: every shard has one leader everywhere (Lease, route tables, endpoints),
   * a live gateway; the VPC router sends each shard's prefixes to its leader; every Cilium stand-in
   * applied every shard's endpoint; kernel entries and traffic as with one shard.
   */
  private async convergedShards(checkTraffic: boolean): Promise<ConvergeReport> {
    const problems: string[] = [];
    const leaders = await this.leadersEverywhere();
    if (leaders === undefined) problems.push(`shards not each led everywhere (Leases ${JSON.stringify(await this.shardHolders())}, routes ${JSON.stringify(await this.ask({ op: 'routes' }))})`);
    else {
      for (const [k, g] of leaders.entries()) {
        if (!this.running(g) || this.gateways[g].stopped || this.gateways[g].down) problems.push(`shard ${k}'s leader ${g} is not a live gateway`);
        for (const prefix of labShardPrefixes(POD_CIDRS, this.shards, k)) {
          const rr = await this.run.ipJson<Array<{ dst: string; gateway?: string }>>(this.ns.router, ['route', 'show', prefix]);
          if (rr[0]?.gateway !== gateway(g).ip) problems.push(`VPC router sends ${prefix} (shard ${k}) via ${rr[0]?.gateway ?? 'nothing'}, not ${g}`);
        }
      }
      const want = this.expectedEndpoints(leaders);
      for (const n of this.hybrid.values()) {
        const last = n.agentLog.at(-1);
        if (!sameEndpoints(last?.endpoints ?? [], want)) problems.push(`Cilium stand-in on ${n.name} applied ${JSON.stringify(last?.endpoints)}`);
      }
    }
    await this.checkKernelAndTraffic(problems, checkTraffic);
    return { ok: problems.length === 0, leader: leaders?.[0], ...(leaders !== undefined ? { leaders } : {}), problems };
  }

  /** Converged with the shards spread: as many distinct leaders as there are live gateways (up to the shard count). */
  async waitBalanced(timeoutMs = 60_000): Promise<GatewayName[]> {
    let last: ConvergeReport | undefined;
    try {
      return await until(
        'every gateway to lead its shard',
        async () => {
          last = await this.converged();
          const live = GATEWAY_NAMES.filter((g) => this.running(g) && !this.gateways[g].down && !this.gateways[g].stopped).length;
          const leaders = last.leaders ?? (last.leader !== undefined ? [last.leader] : []);
          if (last.ok && new Set(leaders).size < Math.min(live, this.shards)) last = { ...last, ok: false, problems: [`shards led by ${JSON.stringify(leaders)}: not spread over ${live} live gateways`] };
          return last.ok ? leaders : undefined;
        },
        timeoutMs,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last check: ${last?.problems.join('; ') ?? 'none'}`, { cause: err });
    }
  }

  /** hybrid_vxlan0's rx/tx counters in a gateway's namespace. */
  async vxlanCounters(name: GatewayName): Promise<VxlanCounters> {
    const l = await this.run.ipJson<Array<{ stats64?: { rx?: { packets?: number; bytes?: number }; tx?: { packets?: number; bytes?: number } } }>>(this.ns.gw[name], ['-s', 'link', 'show', VXLAN_DEVICE]);
    const st = l[0]?.stats64;
    return { rxPackets: st?.rx?.packets ?? 0, txPackets: st?.tx?.packets ?? 0, rxBytes: st?.rx?.bytes ?? 0, txBytes: st?.tx?.bytes ?? 0 };
  }

  /**
   * Which gateway a flow's packets cross, as the kernels decide now: the VPC router's route to the
   * hybrid pod (cloud → hybrid, the route table) and the hybrid node's route to the VPC pod (hybrid
   * → cloud, the Cilium stand-in's VTEP entries, longest prefix).
   */
  async flowCarriers(flow: string): Promise<{ toHybrid: GatewayName | undefined; toVpc: GatewayName | undefined }> {
    const f = this.flowInfo(flow);
    const node = this.hybridOrThrow(f.node);
    const vpc = this.vpcPods.find((p) => p.name === f.vpcPod)!;
    const via = async (ns: string, dst: string): Promise<GatewayName | undefined> => {
      const r = await this.run.ipJson<Array<{ gateway?: string }>>(ns, ['route', 'get', dst]).catch(() => []);
      return GATEWAYS.find((g) => g.ip === r[0]?.gateway)?.name;
    };
    return { toHybrid: await via(this.ns.router, node.podIp), toVpc: await via(node.nodeNs, vpc.ip) };
  }

  /** hybrid_gateway_shard_leader{shard} of a gateway, by shard (empty when its metrics do not answer). */
  async shardLeaderMetric(name: GatewayName): Promise<Record<string, number>> {
    const r = await this.gatewayHttp(name, 10080, '/metrics').catch(() => ({ status: 0, body: '' }));
    const out: Record<string, number> = {};
    if (r.status !== 200) return out;
    for (const m of r.body.matchAll(/^hybrid_gateway_shard_leader\{shard="(\d+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  }

  async waitConverged(timeoutMs = 30_000): Promise<GatewayName> {
    let last: ConvergeReport | undefined;
    try {
      return await until(
        'the lab to converge',
        async () => {
          last = await this.converged();
          return last.ok ? last.leader : undefined;
        },
        timeoutMs,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last check: ${last?.problems.join('; ') ?? 'none'}`, { cause: err });
    }
  }

  // ------------------------------------------------------------ traffic

  /**
   * Starts the two flows of a hybrid node: VPC pod → its pod, its pod → VPC pod. With shards the VPC
   * pod is the one of the node's shard (flows `vpc-pod-1→hyb-129`…), so both legs of a probe's round
   * trip cross that shard's leader.
   */
  async startTraffic(node: HybridNode): Promise<string[]> {
    const interval = this.opts.probeIntervalMs ?? 10;
    const vpc = this.vpcPodFor(node);
    const out = this.shards === 1 ? `vpc→${node.name}` : `${vpc.name}→${node.name}`;
    const back = this.shards === 1 ? `${node.name}→vpc` : `${node.name}→${vpc.name}`;
    await this.must(vpc.probe, { cmd: 'flow', flow: out, to: node.podIp, port: ECHO_PORT, intervalMs: interval, timeoutMs: 500 });
    await this.must(node.probe, { cmd: 'flow', flow: back, to: vpc.ip, port: ECHO_PORT, intervalMs: interval, timeoutMs: 500 });
    const shards = { podShard: labShardOf(node.podIp, POD_CIDRS, this.shards) ?? 0, vpcShard: labShardOf(vpc.ip, VPC_CIDR, this.shards) ?? 0 };
    this.flows.set(out, { probe: vpc.probe, to: node.podIp, node: node.name, vpcPod: vpc.name, direction: 'toHybrid', ...shards });
    this.flows.set(back, { probe: node.probe, to: vpc.ip, node: node.name, vpcPod: vpc.name, direction: 'toVpc', ...shards });
    return [out, back];
  }

  async stopTraffic(node: HybridNode): Promise<void> {
    for (const [f, fl] of [...this.flows]) {
      if (fl.node !== node.name) continue;
      await this.must(fl.probe, { cmd: 'stopFlow', flow: f });
      this.flows.delete(f);
    }
  }

  flowNames(): string[] {
    return [...this.flows.keys()];
  }

  flowInfo(flow: string): FlowInfo {
    const f = this.flows.get(flow);
    if (f === undefined) throw new Error(`no flow ${flow}`);
    return f;
  }

  async flowReport(flow: string, sinceMs = 0): Promise<FlowReport> {
    const f = this.flows.get(flow);
    if (f === undefined) throw new Error(`no flow ${flow}`);
    return (await this.must(f.probe, { cmd: 'windows', flow, sinceMs })) as FlowReport;
  }

  async flowReports(sinceMs = 0): Promise<Record<string, FlowReport>> {
    const out: Record<string, FlowReport> = {};
    for (const f of this.flows.keys()) out[f] = await this.flowReport(f, sinceMs);
    return out;
  }

  // ------------------------------------------------------------ control-plane records

  spans(): Promise<ReceivedSpan[]> {
    return this.ask<ReceivedSpan[]>({ op: 'spans' });
  }

  routeLog(): Promise<RouteWrite[]> {
    return this.ask<RouteWrite[]>({ op: 'routeLog' });
  }

  /** Every change of a CiliumVTEPConfig's endpoints, with its writer and the tracked Leases then. */
  vtepLog(): Promise<VtepWrite[]> {
    return this.ask<VtepWrite[]>({ op: 'vtepLog' });
  }

  /** Every EC2 API call the stand-in received, in arrival order. */
  ec2CallLog(): Promise<Ec2CallRecord[]> {
    return this.ask<Ec2CallRecord[]>({ op: 'ec2CallLog' });
  }

  async teardown(): Promise<void> {
    await this.kubelet?.stop();
    // Frozen gateways cannot handle SIGTERM: wake them so teardown's SIGTERM works.
    for (const name of GATEWAY_NAMES) if (this.gateways[name].stopped) this.gateways[name].child?.kill('SIGCONT');
    await this.run.teardown();
  }
}

/** The four endpoint fields, as read from an object of the API or from a Cilium stand-in's log. */
type EndpointLike = { readonly [K in 'name' | 'tunnelEndpoint' | 'cidr' | 'mac']?: unknown };

/** Two endpoint lists hold the same endpoints (order aside; MACs case-insensitive). */
function sameEndpoints(a: readonly EndpointLike[], b: readonly EndpointLike[]): boolean {
  const key = (xs: readonly EndpointLike[]): string => JSON.stringify(xs.map((e) => [String(e.name), String(e.tunnelEndpoint), String(e.cidr), String(e.mac).toLowerCase()]).sort());
  return key(a) === key(b);
}
