// The control plane of the scale benchmark and the intake test (runs in its control namespace, started
// by NetnsRun.spawnNode): the lab's Kubernetes and EC2/IMDS stand-ins, with
// CiliumNodes written straight into the stand-in's store (as if thousands of
// Cilium agents had registered before the gateway starts) and two logs the
// benchmark judges the gateway by: when each CiliumNode list request was
// answered, and every write of the leader-election Lease.
//
// IPC requests {id, op, ...} → {id, ok, value | error}:
//   putNodes {nodes: [{name, ip, podCidrs}], expireWatches?}  create or replace, returns the epoch ms of the first write;
//            with expireWatches, in the same step the history is compacted and every watch dropped, so
//            watchers re-list (410) instead of receiving the writes as events
//   listRequests                               CiliumNode list requests answered (epoch ms, status)
//   leaseWrites                                every Lease change: epoch ms, holder, renewTime
//   count                                      CiliumNodes in the store
import { startControlPlane, type ControlPlaneOptions } from '../control-plane.js';
import type { KObj } from '../kube-apiserver/index.js';

export interface ScaleNode {
  readonly name: string;
  readonly ip: string;
  readonly podCidrs: readonly string[];
}

export interface LeaseWrite {
  readonly atMs: number;
  readonly holder: string | undefined;
  readonly renewTime: string | undefined;
  readonly transitions: number;
}

interface Options extends ControlPlaneOptions {
  readonly leaseName: string;
  readonly leaseNamespace: string;
}

type Request =
  | { id: number; op: 'putNodes'; nodes: ScaleNode[]; expireWatches?: boolean }
  | { id: number; op: 'listRequests' }
  | { id: number; op: 'leaseWrites' }
  | { id: number; op: 'count' };

const epoch = (): number => performance.timeOrigin + performance.now();
const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const cp = await startControlPlane(opts);

const leaseWrites: LeaseWrite[] = [];
cp.kube.store.subscribe((e) => {
  if (e.def.plural !== 'leases' || e.object.metadata?.name !== opts.leaseName || e.object.metadata?.namespace !== opts.leaseNamespace) return;
  const spec = (e.object as { spec?: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number } }).spec;
  leaseWrites.push({ atMs: epoch(), holder: spec?.holderIdentity || undefined, renewTime: spec?.renewTime, transitions: spec?.leaseTransitions ?? 0 });
});

function ciliumNode(n: ScaleNode): KObj {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNode',
    metadata: { name: n.name, labels: { 'eks.amazonaws.com/compute-type': 'hybrid', 'kubernetes.io/hostname': n.name } },
    spec: {
      addresses: [{ type: 'InternalIP', ip: n.ip }],
      ipam: { podCIDRs: [...n.podCidrs] },
      encryption: {},
      eni: {},
      health: { ipv4: n.podCidrs[0]?.replace(/\.\d+\/\d+$/, '.1') },
    },
  };
}

process.on('message', (raw: unknown) => {
  const req = raw as Request;
  try {
    let value: unknown;
    switch (req.op) {
      case 'putNodes': {
        const at = epoch();
        for (const n of req.nodes) cp.kube.store.put('ciliumnodes', ciliumNode(n));
        if (req.expireWatches === true) {
          cp.kube.store.compact();
          cp.kube.faults.dropWatches();
        }
        value = at;
        break;
      }
      case 'listRequests':
        value = cp.kube.requests
          .filter((r) => r.method === 'GET' && !r.watch && r.resource === 'ciliumnodes' && r.name === undefined)
          .map((r) => ({ atMs: r.atMs, status: r.status }));
        break;
      case 'leaseWrites':
        value = leaseWrites;
        break;
      case 'count':
        value = cp.kube.store.all('ciliumnodes').length;
        break;
    }
    process.send?.({ id: req.id, ok: true, value });
  } catch (err) {
    process.send?.({ id: req.id, ok: false, error: (err as Error).message });
  }
});

const stop = (): void => {
  void cp.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
process.send?.({
  ready: true,
  kubeconfig: cp.kube.kubeconfigPath,
  ec2Url: cp.ec2.url,
  otlpUrl: cp.otlp.url,
  imds: Object.fromEntries(opts.gateways.map((g) => [g.instanceId, cp.ec2.imdsUrl(g.instanceId)])),
});
