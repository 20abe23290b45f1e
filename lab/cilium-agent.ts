// The lab's Cilium stand-in on a hybrid node (runs inside the node's
// namespace, started by NetnsRun.spawnNode with its options as JSON in argv[2]):
// - a vxlan device (VNI 2, UDP 8472, learning off) on the node's NIC whose
//   MAC is 02:00:<node IP bytes>, the MAC the gateways' FDB/neighbour entries
//   use for this node;
// - an agent that list-watches CiliumVTEPConfig objects through the
//   Kubernetes stand-in (the project's ListWatch) and points each endpoint's
//   CIDR at its tunnelEndpoint/mac, as Cilium's VTEP integration does:
//   route `<cidr> via <tunnelEndpoint> dev <vxlan> onlink`, permanent
//   neighbour `<tunnelEndpoint> lladdr <mac>`, FDB `<mac> dst <tunnelEndpoint>`.
//   Cilium does this in BPF, beside the node's own routing; here the kernel
//   routes it, so a host route keeps the tunnel endpoint itself on the
//   underlay (`<tunnelEndpoint>/32 via <underlay gateway> dev <nic>`).
// Entries of endpoints that went away are removed. Each applied state is
// reported to the parent over IPC: {applied: {endpoints, atMs}}.
// Not the hot path: plain `ip`/`bridge` commands.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nodeMacFor } from './addresses.js';
import { ListWatch, customObjectsTarget, kubeClients, loadKubeConfig, readEndpoints, type KubeObject, type VtepEndpoint } from '../effects/kube/index.js';

const execFileP = promisify(execFile);

export interface CiliumAgentOptions {
  readonly nodeIp: string;
  readonly nic: string;
  readonly underlayGateway: string;
  readonly kubeconfig: string;
  readonly device?: string;
  readonly vni?: number;
  readonly port?: number;
}

export interface AgentApplied {
  readonly endpoints: VtepEndpoint[];
  readonly atMs: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as CiliumAgentOptions;
const dev = opts.device ?? 'cilium_vxlan';
const now = (): number => performance.timeOrigin + performance.now();

async function sh(cmd: string, args: string[], allowFail = false): Promise<void> {
  try {
    await execFileP(cmd, args);
  } catch (err) {
    if (!allowFail) throw err;
  }
}

async function setupDevice(): Promise<void> {
  await sh('ip', ['link', 'del', dev], true);
  await sh('ip', ['link', 'add', dev, 'type', 'vxlan', 'id', String(opts.vni ?? 2), 'dstport', String(opts.port ?? 8472), 'local', opts.nodeIp, 'dev', opts.nic, 'nolearning']);
  await sh('ip', ['link', 'set', dev, 'address', nodeMacFor(opts.nodeIp), 'mtu', '1450', 'up']);
}

let applied: VtepEndpoint[] = [];
let chain: Promise<void> = Promise.resolve();

async function apply(want: VtepEndpoint[]): Promise<void> {
  // New neighbours/FDB first, then the routes switch, then old entries go.
  for (const e of want) {
    await sh('ip', ['route', 'replace', `${e.tunnelEndpoint}/32`, 'via', opts.underlayGateway, 'dev', opts.nic]);
    await sh('ip', ['neigh', 'replace', e.tunnelEndpoint, 'lladdr', e.mac, 'dev', dev, 'nud', 'permanent']);
    await sh('bridge', ['fdb', 'replace', e.mac, 'dev', dev, 'dst', e.tunnelEndpoint, 'self', 'permanent']);
  }
  for (const e of want) await sh('ip', ['route', 'replace', e.cidr, 'via', e.tunnelEndpoint, 'dev', dev, 'onlink']);
  for (const old of applied) {
    if (!want.some((e) => e.cidr === old.cidr)) await sh('ip', ['route', 'del', old.cidr, 'dev', dev], true);
    if (!want.some((e) => e.tunnelEndpoint === old.tunnelEndpoint)) {
      await sh('ip', ['neigh', 'del', old.tunnelEndpoint, 'dev', dev], true);
      await sh('ip', ['route', 'del', `${old.tunnelEndpoint}/32`, 'dev', opts.nic], true);
    }
    if (!want.some((e) => e.mac === old.mac && e.tunnelEndpoint === old.tunnelEndpoint)) {
      await sh('bridge', ['fdb', 'del', old.mac, 'dev', dev, 'dst', old.tunnelEndpoint, 'self'], true);
    }
  }
  applied = want;
  process.send?.({ applied: { endpoints: want, atMs: now() } satisfies AgentApplied });
}

const key = (eps: VtepEndpoint[]): string => JSON.stringify([...eps].sort((a, b) => a.cidr.localeCompare(b.cidr)));

function converge(all: KubeObject[]): void {
  const want: VtepEndpoint[] = [];
  for (const o of all) {
    const eps = readEndpoints(o);
    // A malformed object is ignored, as Cilium rejects it.
    if (eps !== undefined) want.push(...eps);
  }
  chain = chain.then(async () => {
    if (key(want) === key(applied)) return;
    try {
      await apply(want);
    } catch (err) {
      process.stderr.write(`cilium stand-in: applying ${key(want)} failed: ${(err as Error).message}\n`);
    }
  });
}

await setupDevice();
const clients = kubeClients(loadKubeConfig(opts.kubeconfig));
const cache = new Map<string, KubeObject>();
const watch = new ListWatch(
  clients,
  customObjectsTarget(clients, { group: 'cilium.io', version: 'v2', plural: 'ciliumvtepconfigs' }),
  {
    onSynced: (all) => {
      cache.clear();
      for (const o of all) cache.set(o.metadata?.name ?? '', o);
      converge([...cache.values()]);
    },
    onUpsert: (o) => {
      cache.set(o.metadata?.name ?? '', o);
      converge([...cache.values()]);
    },
    onDelete: (o) => {
      cache.delete(o.metadata?.name ?? '');
      converge([...cache.values()]);
    },
  },
  { initialBackoffMs: 100, maxBackoffMs: 1000 },
).start();

const stop = (): void => {
  void watch.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
process.on('message', (raw: unknown) => {
  const m = raw as { id: number; cmd: string };
  if (m.cmd === 'applied') process.send?.({ id: m.id, ok: true, value: applied });
  else process.send?.({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
});
process.send?.({ ready: true });
