// The lab's Cilium stand-in on a hybrid node (runs inside the node's
// namespace, started by NetnsRun.spawnNode with its options as JSON in argv[2]):
// - a vxlan device (VNI 2, UDP 8472, learning off, local = the node's IP, MTU
//   as the profile says: Cilium's device MTU) whose MAC is 02:00:<node IP bytes>, the MAC the gateways' FDB/neighbour entries
//   use for this node;
// - the VTEP agent of cilium-vtep.ts: its own list+watch of CiliumVTEPConfig
//   objects (lab/kube-http.ts, not the gateway's client), the map of entries
//   keyed by CIDR, and status written back through the /status subresource as
//   Cilium's agent does (conditions Ready/Synced with observedGeneration,
//   endpointCount, endpointStatuses with lastSyncTime);
// - the map realised in the kernel: per entry a route `<cidr> via
//   <tunnelEndpoint> dev <vxlan> onlink` (the kernel's longest-prefix match is
//   the BPF LPM trie's), a permanent neighbour `<tunnelEndpoint> lladdr <mac>`
//   and an FDB entry `<mac> dst <tunnelEndpoint>`. Cilium does this in BPF
//   beside the node's own routing; here a host route keeps the tunnel endpoint
//   itself on the underlay (`<tunnelEndpoint>/32 via <underlay gateway> dev <nic>`).
// Entries that went away are removed (new ones first). Each applied state is
// reported to the parent over IPC: {applied: {endpoints, atMs}}; the `applied`
// command answers the current endpoints. Plain `ip`/`bridge` commands.
// Nothing here comes from effects/ or runtime/.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nodeMacFor } from './addresses.js';
import { VtepAgent, type VtepDataplane, type VtepEndpoint, type VtepEntry } from './cilium-vtep.js';
import { readKubeconfig } from './kube-http.js';

const execFileP = promisify(execFile);

export interface CiliumAgentOptions {
  readonly nodeIp: string;
  readonly nic: string;
  readonly underlayGateway: string;
  readonly kubeconfig: string;
  readonly device?: string;
  readonly vni?: number;
  readonly port?: number;
  /** Status refresh period (default 10 s, an assumption: see lab/README.md); 0 turns it off. */
  readonly statusRefreshMs?: number;
  /**
   * MTU of the vxlan device (default 1450). Cilium gives its tunnel device the device MTU, the
   * base MTU it detects from the node's NIC (pkg/datapath/loader setupTunnelDevice(…, DeviceMTU)):
   * the lab's realistic profile passes the node's 1500. See lab/README.md.
   */
  readonly mtu?: number;
}

export interface AgentApplied {
  readonly endpoints: VtepEndpoint[];
  readonly atMs: number;
}

async function sh(cmd: string, args: string[], allowFail = false): Promise<void> {
  try {
    await execFileP(cmd, args);
  } catch (err) {
    if (!allowFail) throw err;
  }
}

/** The map in the kernel of the node's namespace. */
class KernelDataplane implements VtepDataplane {
  private applied: readonly VtepEntry[] = [];

  constructor(
    private readonly opts: CiliumAgentOptions,
    private readonly dev: string,
  ) {}

  async setup(): Promise<void> {
    const { opts, dev } = this;
    await sh('ip', ['link', 'del', dev], true);
    // Not bound to the NIC (no `dev`), as Cilium's cilium_vxlan is a flow-based device without a
    // lower device: the kernel then does not cap its MTU at the NIC's − 50, so it can take the
    // device MTU Cilium gives it (the realistic profile's 1500 on a 1500-byte node).
    await sh('ip', ['link', 'add', dev, 'type', 'vxlan', 'id', String(opts.vni ?? 2), 'dstport', String(opts.port ?? 8472), 'local', opts.nodeIp, 'nolearning']);
    await sh('ip', ['link', 'set', dev, 'address', nodeMacFor(opts.nodeIp), 'mtu', String(opts.mtu ?? 1450), 'up']);
  }

  async apply(want: readonly VtepEntry[]): Promise<void> {
    const { opts, dev } = this;
    // New neighbours/FDB first, then the routes switch, then old entries go.
    for (const { endpoint: e } of want) {
      await sh('ip', ['route', 'replace', `${e.tunnelEndpoint}/32`, 'via', opts.underlayGateway, 'dev', opts.nic]);
      await sh('ip', ['neigh', 'replace', e.tunnelEndpoint, 'lladdr', e.mac, 'dev', dev, 'nud', 'permanent']);
      await sh('bridge', ['fdb', 'replace', e.mac, 'dev', dev, 'dst', e.tunnelEndpoint, 'self', 'permanent']);
    }
    for (const e of want) await sh('ip', ['route', 'replace', e.key, 'via', e.endpoint.tunnelEndpoint, 'dev', dev, 'onlink']);
    for (const old of this.applied) {
      const o = old.endpoint;
      if (!want.some((e) => e.key === old.key)) await sh('ip', ['route', 'del', old.key, 'dev', dev], true);
      if (!want.some((e) => e.endpoint.tunnelEndpoint === o.tunnelEndpoint)) {
        await sh('ip', ['neigh', 'del', o.tunnelEndpoint, 'dev', dev], true);
        await sh('ip', ['route', 'del', `${o.tunnelEndpoint}/32`, 'dev', opts.nic], true);
      }
      if (!want.some((e) => e.endpoint.mac.toLowerCase() === o.mac.toLowerCase() && e.endpoint.tunnelEndpoint === o.tunnelEndpoint)) {
        await sh('bridge', ['fdb', 'del', o.mac, 'dev', dev, 'dst', o.tunnelEndpoint, 'self'], true);
      }
    }
    this.applied = [...want];
  }
}

const opts = JSON.parse(process.argv[2] ?? '{}') as CiliumAgentOptions;
const dataplane = new KernelDataplane(opts, opts.device ?? 'cilium_vxlan');
await dataplane.setup();
const agent = new VtepAgent({
  kube: readKubeconfig(opts.kubeconfig),
  dataplane,
  statusRefreshMs: opts.statusRefreshMs,
  onApplied: (endpoints, atMs) => process.send?.({ applied: { endpoints, atMs } satisfies AgentApplied }),
  log: (msg) => process.stderr.write(`${msg}\n`),
}).start();

const stop = (): void => {
  void agent.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
process.on('message', (raw: unknown) => {
  const m = raw as { id: number; cmd: string };
  if (m.cmd === 'applied') process.send?.({ id: m.id, ok: true, value: agent.appliedEndpoints });
  else process.send?.({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
});
process.send?.({ ready: true });
