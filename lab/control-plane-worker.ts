// The control plane as a child process with an IPC channel, for a process
// outside the control namespace (tests, the lab command) to start and query:
//   ip netns exec <ctl> node --import tsx lab/control-plane-worker.ts '<ControlPlaneOptions JSON>'
// Sends {ready, kubeUrl, kubeconfig, ec2Url, imds: {instanceId: url}} once
// listening; answers {id, op, ...} requests with {id, ok, value | error}.
import { startControlPlane, type ControlPlaneOptions } from './control-plane.js';
import type { FaultConfig, KObj } from './kube-apiserver/index.js';

type Request =
  | { id: number; op: 'get'; plural: string; name: string; namespace?: string }
  | { id: number; op: 'list'; plural: string; namespace?: string }
  | { id: number; op: 'put'; plural: string; body: KObj }
  | { id: number; op: 'remove'; plural: string; name: string; namespace?: string }
  | { id: number; op: 'routes' }
  | { id: number; op: 'ec2Calls' }
  | { id: number; op: 'spans' }
  | { id: number; op: 'kubeFault'; config: FaultConfig }
  | { id: number; op: 'kubeOutage'; ms: number };

const opts = JSON.parse(process.argv[2] ?? '{}') as ControlPlaneOptions;
const cp = await startControlPlane(opts);

process.on('message', (raw: unknown) => {
  const req = raw as Request;
  try {
    let value: unknown;
    switch (req.op) {
      case 'get':
        value = cp.kube.store.find(req.plural, req.name, req.namespace) ?? null;
        break;
      case 'list':
        value = cp.kube.store.all(req.plural, req.namespace);
        break;
      case 'put':
        value = cp.kube.store.put(req.plural, req.body);
        break;
      case 'remove':
        value = cp.kube.store.remove(req.plural, req.name, req.namespace);
        break;
      case 'routes':
        value = cp.routes();
        break;
      case 'spans':
        value = cp.otlp.spans;
        break;
      case 'ec2Calls':
        value = cp.ec2.calls.map((c) => ({ action: c.action, status: c.status, code: c.code }));
        break;
      case 'kubeFault':
        cp.kube.faults.set(req.config);
        value = null;
        break;
      case 'kubeOutage':
        cp.kube.faults.outage(req.ms);
        value = null;
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
process.on('SIGINT', stop);
process.on('disconnect', stop);
process.send?.({
  ready: true,
  kubeUrl: cp.kube.url,
  kubeconfig: cp.kube.kubeconfigPath,
  ec2Url: cp.ec2.url,
  otlpUrl: cp.otlp.url,
  imds: Object.fromEntries(opts.gateways.map((g) => [g.instanceId, cp.ec2.imdsUrl(g.instanceId)])),
});
