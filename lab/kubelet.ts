// The lab's kubelet stand-in for the gateway pods: the Pod object each gateway
// process stands for, in the Lease namespace, as the chart's Deployment and a
// kubelet leave it (hostNetwork: hostIP = podIP = the node's IP), with its
// Ready condition following a readiness probe on the gateway's own /readyz at
// the chart's period and failure threshold (templates/deployment.yaml:
// periodSeconds 5, failureThreshold 2; success threshold 1). A container that
// exits is not Ready at once (the kubelet sees the exit, not a probe) and the
// pod stays, as a Deployment pod's container restarts in place; the next start
// probes again. Writes go straight into the Kubernetes stand-in's store (the
// `put` given), never through the gateways' API, so the gateways' requests are
// unchanged. Nothing here comes from effects/ or runtime/.
import type { KObj } from './kube-apiserver/index.js';

/** The chart's pod template labels (eks-hybrid-nodes-gateway.labels, release "hybrid-gateway"). */
export const GATEWAY_POD_LABELS = {
  'app.kubernetes.io/name': 'eks-hybrid-nodes-gateway',
  'app.kubernetes.io/instance': 'hybrid-gateway',
  'app.kubernetes.io/component': 'gateway',
  'app.kubernetes.io/part-of': 'eks-hybrid-nodes-gateway',
  'app.kubernetes.io/managed-by': 'Helm',
} as const;

/** The chart's readinessProbe. */
export const READINESS = { periodMs: 5000, failureThreshold: 2 } as const;

export interface KubeletPod {
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly hostIP: string;
}

export interface KubeletOptions {
  /** Writes an object into the Kubernetes stand-in. */
  readonly put: (plural: string, body: KObj) => Promise<unknown>;
  /** One readiness probe: true when /readyz answered 200 within the probe's timeout. */
  readonly probe: (name: string) => Promise<boolean>;
  readonly periodMs?: number;
  readonly failureThreshold?: number;
}

interface PodState {
  readonly pod: KubeletPod;
  running: boolean;
  ready: boolean;
  failures: number;
  restarts: number;
  /** Serialises the writes of one pod so the last state wins. */
  writing: Promise<void>;
}

export class KubeletStandIn {
  readonly #pods = new Map<string, PodState>();
  readonly #periodMs: number;
  readonly #threshold: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly opts: KubeletOptions) {
    this.#periodMs = opts.periodMs ?? READINESS.periodMs;
    this.#threshold = opts.failureThreshold ?? READINESS.failureThreshold;
  }

  /** The gateway's container (re)started: the pod Running, not Ready until a probe passes. */
  started(pod: KubeletPod): void {
    const prev = this.#pods.get(pod.name);
    const s: PodState = prev ?? { pod, running: false, ready: false, failures: 0, restarts: -1, writing: Promise.resolve() };
    s.running = true;
    s.ready = false;
    s.failures = 0;
    s.restarts += 1;
    this.#pods.set(pod.name, s);
    this.#write(s);
    this.#timer ??= setInterval(() => void this.#probeAll(), this.#periodMs);
    this.#timer.unref();
  }

  /** The container exited (or its node was lost): not Ready at once; the pod stays. */
  exited(name: string): void {
    const s = this.#pods.get(name);
    if (s === undefined || !s.running) return;
    s.running = false;
    s.ready = false;
    this.#write(s);
  }

  /** Stops probing (teardown); waits for writes under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#pods.values()].map((s) => s.writing));
  }

  async #probeAll(): Promise<void> {
    await Promise.all(
      [...this.#pods.values()].filter((s) => s.running).map(async (s) => {
        const ok = await this.opts.probe(s.pod.name).catch(() => false);
        if (!s.running || this.#stopped) return;
        s.failures = ok ? 0 : s.failures + 1;
        const ready = ok ? true : s.failures >= this.#threshold ? false : s.ready;
        if (ready === s.ready) return;
        s.ready = ready;
        this.#write(s);
      }),
    );
  }

  #write(s: PodState): void {
    if (this.#stopped) return;
    const body = podObject(s.pod, s.running, s.ready, Math.max(0, s.restarts));
    s.writing = s.writing.then(() => this.opts.put('pods', body).then(() => undefined, () => undefined));
  }
}

/** The Pod as the API shows it: Running with the gateway container, Ready as probed. */
export function podObject(pod: KubeletPod, running: boolean, ready: boolean, restartCount: number): KObj {
  const status = ready ? 'True' : 'False';
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: pod.namespace, name: pod.name, labels: { ...GATEWAY_POD_LABELS } },
    spec: { nodeName: pod.nodeName, hostNetwork: true, containers: [{ name: 'gateway', image: 'eks-hybrid-nodes-gateway' }] },
    status: {
      phase: 'Running',
      hostIP: pod.hostIP,
      hostIPs: [{ ip: pod.hostIP }],
      podIP: pod.hostIP,
      podIPs: [{ ip: pod.hostIP }],
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'PodScheduled', status: 'True' },
        { type: 'ContainersReady', status, lastTransitionTime: at },
        { type: 'Ready', status, lastTransitionTime: at },
      ],
      containerStatuses: [
        {
          name: 'gateway',
          ready,
          started: running,
          restartCount,
          image: 'eks-hybrid-nodes-gateway',
          state: running ? { running: { startedAt: at } } : { terminated: { reason: 'Error', finishedAt: at } },
        },
      ],
    },
  };
}
