// gateway.pods: two gateway pods are Ready, on different nodes, so a node's
// loss leaves a standby to take over.
import { fail, pass, type Check } from '../check.js';
import { GATEWAY_POD_SELECTOR, readGatewayPods, type GatewayPod } from '../reads.js';

export interface GatewayPodsFacts {
  readonly namespace: string;
  readonly pods: readonly GatewayPod[];
}

export const gatewayPodsCheck: Check<GatewayPodsFacts> = {
  name: 'gateway.pods',
  title: 'two gateway pods are Ready, on different nodes',
  reads: `Pods in the Lease's namespace labelled ${GATEWAY_POD_SELECTOR} (Ready condition, spec.nodeName)`,
  async gather(ctx) {
    return { namespace: ctx.namespace, pods: await readGatewayPods(ctx) };
  },
  judge(f) {
    const saw = f.pods.length === 0 ? `no gateway pod in namespace ${f.namespace}` : f.pods.map((p) => `${p.name} ${p.ready ? 'Ready' : 'not Ready'} on ${p.nodeName ?? 'no node'}`).join('; ');
    const ready = f.pods.filter((p) => p.ready);
    const nodes = new Set(ready.map((p) => p.nodeName ?? ''));
    if (ready.length < 2) {
      return fail(saw, `Two gateways (leader and standby) must run: check the Deployment (kubectl -n ${f.namespace} describe deploy), the gateway nodes (the chart's nodeSelector / NodePool) and the pods' events; /readyz says why a pod is not Ready`);
    }
    if (nodes.size < 2) return fail(saw, 'Both gateways run on one node: losing it loses both. Keep the chart\'s pod anti-affinity and give it two gateway nodes');
    return pass(saw);
  },
};
