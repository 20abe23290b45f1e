// Shared setup for test/kube: a stand-in API server on 127.0.0.1 and
// client-node clients pointed at it through the kubeconfig it wrote.
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeClients, loadKubeConfig, type KubeClients } from '../../effects/kube/index.js';
import { startKubeApiServer, type KubeApiServer, type KubeApiServerOptions } from '../../lab/kube-apiserver/index.js';

export interface Lab {
  server: KubeApiServer;
  clients: KubeClients;
  /** Fresh clients (another "process"). */
  newClients(): KubeClients;
}

export async function startLab(opts: KubeApiServerOptions = {}): Promise<Lab> {
  const server = await startKubeApiServer(opts);
  const newClients = (): KubeClients => kubeClients(loadKubeConfig(server.kubeconfigPath));
  return { server, clients: newClients(), newClients };
}

/** Polls `cond` every few ms until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A small seeded PRNG (mulberry32) so a failing randomized run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const HYBRID = { 'eks.amazonaws.com/compute-type': 'hybrid' };

export function ciliumNode(name: string, i: number, labels: Record<string, string> = HYBRID): Record<string, unknown> {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNode',
    metadata: { name, labels },
    spec: {
      addresses: [{ type: 'InternalIP', ip: `198.19.${(i >> 8) & 255}.${i & 255}` }],
      ipam: { podCIDRs: [`198.18.${(i >> 5) & 255}.${(i & 31) * 8}/29`] },
    },
  };
}
