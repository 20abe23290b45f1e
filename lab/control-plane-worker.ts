// The control plane as a child process with an IPC channel, for a process
// outside the control namespace (tests, the lab command) to start and query:
//   ip netns exec <ctl> node --import tsx lab/control-plane-worker.ts '<ControlPlaneOptions JSON>'
// Sends {ready, kubeUrl, kubeconfig, ec2Url, eksUrl (with `eksCluster`), imds: {instanceId: url}} once
// listening; answers {id, op, ...} requests with {id, ok, value | error}.
// With `vpcRouter: {ns, routeTableId}` in the options, every route change of
// that table is applied to the VPC router namespace's kernel routes
// (`ip -n <ns> route replace <cidr> via <eni private ip>`), and every route
// write is logged with the request that made it (access key, call seq) and
// the Lease holder at that instant (op routeLog).
// `ec2Profile: 'realistic' | 'ideal'` (default LAB_EC2_PROFILE, else ideal) and
// `ec2Behaviour: {…overrides}` choose how EC2 behaves (lab/README.md). With a
// propagation delay (realistic), EC2 answers a route write at once and the
// router's kernel route follows after the delay (routerDueMs / routerAppliedMs
// in the route log); without one (ideal), the API answers once it followed.
// The Kubernetes stand-in's record: every change of the lab Lease's holder
// (op leaseLog), and what its faults injected since a time (op kubeFaultReport:
// counts, and every delayed request with the wait it had).
// op httpGet {url, timeoutMs}: the status of one GET from the control namespace
// (the lab's kubelet stand-in probes the gateways' /readyz this way: no process
// per probe).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startControlPlane, type ControlPlaneOptions } from './control-plane.js';
import { httpGet } from './http-probe.js';
import { createPropagator, type RequestOrigin, type ScriptedFailure, type ThrottleSpec } from './ec2/index.js';
import { requestOrigin, type DelayRecord, type FaultConfig, type KObj } from './kube-apiserver/index.js';

const execFileP = promisify(execFile);

/** One route create/replace/delete as the EC2 stand-in applied it. */
export interface RouteWrite {
  /** Epoch ms when the stand-in applied it. */
  readonly atMs: number;
  readonly routeTableId: string;
  readonly cidr: string;
  /** Target ENI (the writer's own: a gateway points routes at itself); null when deleted. */
  readonly eni: string | null;
  /** SigV4 access key of the request that wrote it (each lab gateway has its own). */
  readonly accessKeyId: string | undefined;
  /** That request's place in the EC2 call log (op ec2CallLog). */
  readonly seq: number;
  /** Lease holder at that instant, and whether the lease was still within its duration. */
  readonly holder: string | undefined;
  readonly leaseValid: boolean;
  /** Every tracked Lease (option trackedLeases) at that instant, by name. */
  readonly leases?: Record<string, LeaseState>;
  /** Epoch ms when the route was due to take effect in the VPC router (atMs + the drawn propagation delay). */
  routerDueMs?: number;
  /** Epoch ms when the VPC router's kernel route followed (when this table drives it). */
  routerAppliedMs?: number;
  routerError?: string;
}

/** A Lease's holder at an instant, and whether its lease was still within its duration. */
export interface LeaseState {
  readonly holder: string | undefined;
  readonly valid: boolean;
}

/** One committed change of a CiliumVTEPConfig's spec.endpoints (op vtepLog). */
export interface VtepWrite {
  /** Epoch ms of the commit. */
  readonly atMs: number;
  readonly config: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The client that sent the write (each lab gateway has its own address); undefined when not through the API. */
  readonly remoteAddress: string | undefined;
  readonly method: string | undefined;
  /** Endpoints added or changed (any of name, tunnelEndpoint, cidr, mac), as they are after the write. */
  readonly set: Array<{ name: string; tunnelEndpoint: string; cidr: string; mac: string }>;
  /** Endpoints the write removed, as they were. */
  readonly removed: Array<{ name: string; tunnelEndpoint: string; cidr: string; mac: string }>;
  readonly leases: Record<string, LeaseState>;
}

/** One EC2 API call as the stand-in received it (op ec2CallLog). */
export interface Ec2CallRecord {
  readonly seq: number;
  readonly action: string;
  /** Epoch ms of its arrival, before any injected delay (late delivery included). */
  readonly atMs: number;
  readonly accessKeyId: string | undefined;
  readonly remoteAddress: string | undefined;
  readonly routeTableId: string | undefined;
  readonly cidr: string | undefined;
  /** NetworkInterfaceId of the request (a route write's target). */
  readonly eni: string | undefined;
  /** HTTP status sent; undefined while the call is still being handled. */
  readonly status: number | undefined;
  readonly code: string | undefined;
  /** Late delivery it waited (ms), if any. */
  readonly lateMs: number | undefined;
}

export type Ec2FaultRequest =
  | { kind: 'failNext'; count: number; failure: ScriptedFailure }
  | { kind: 'fail'; failure: ScriptedFailure; probability?: number }
  | { kind: 'tokenBuckets'; spec: boolean | ThrottleSpec }
  | { kind: 'latency'; ms: number; actions?: string[] }
  /** Matching requests (e.g. one gateway's route writes) reach EC2 ms late, then are applied (Faults.lateDelivery). */
  | { kind: 'lateDelivery'; ms: number; actions?: string[]; from?: RequestOrigin; count?: number }
  | { kind: 'reset' };

interface LabExtras {
  readonly vpcRouter?: { readonly ns: string; readonly routeTableId: string };
  readonly leaseName?: string;
  readonly leaseNamespace?: string;
  /** Leases whose holders the route and VTEP logs record (default: leaseName). */
  readonly trackedLeases?: readonly string[];
}

/** A change of the lab Lease's holder as the Kubernetes stand-in committed it ('' = released). */
export interface LeaseHolderChange {
  /** The Lease's name (one of the tracked Leases). */
  readonly lease: string;
  /** Epoch ms of the commit. */
  readonly atMs: number;
  readonly holder: string;
  /** The holder before ('' = none or released; undefined = the Lease did not exist). */
  readonly previous: string | undefined;
  readonly leaseTransitions: number | undefined;
}

/** What the Kubernetes stand-in's faults injected: counts so far, and the requests delayed since a time. */
export interface KubeFaultReport {
  readonly injected: { errors: number; conflicts: number; outageRefusals: number; droppedWatches: number; delayed: number; errorsByResource: Record<string, number> };
  readonly delays: DelayRecord[];
}

type Request =
  | { id: number; op: 'get'; plural: string; name: string; namespace?: string }
  | { id: number; op: 'list'; plural: string; namespace?: string }
  | { id: number; op: 'put'; plural: string; body: KObj }
  /** An object as it could sit in etcd without passing today's CRD validation (older schema, etcd write). */
  | { id: number; op: 'inject'; plural: string; body: KObj }
  | { id: number; op: 'remove'; plural: string; name: string; namespace?: string }
  | { id: number; op: 'routes' }
  | { id: number; op: 'ec2Calls' }
  | { id: number; op: 'spans' }
  | { id: number; op: 'kubeFault'; config: FaultConfig }
  | { id: number; op: 'kubeFaultReport'; sinceMs?: number }
  | { id: number; op: 'leaseLog' }
  | { id: number; op: 'kubeOutage'; ms: number }
  | { id: number; op: 'kubeEndOutage' }
  | { id: number; op: 'dropWatches' }
  | { id: number; op: 'compact' }
  /**
   * In one step: a write no lab watcher sees (an Event), compaction, and every watch dropped. Each
   * watcher's last resourceVersion is then older than the oldest one kept, so its resume gets 410
   * (with `compact` alone, a watcher whose bookmark already carried the newest version resumes
   * legitimately: that is not expired).
   */
  | { id: number; op: 'expireWatches' }
  | { id: number; op: 'ec2Fault'; fault: Ec2FaultRequest }
  | { id: number; op: 'ec2CallLog' }
  | { id: number; op: 'routeLog' }
  | { id: number; op: 'vtepLog' }
  | { id: number; op: 'ec2Behaviour' }
  | { id: number; op: 'otlpRequests' }
  | { id: number; op: 'kubeRequests' }
  | { id: number; op: 'writeKubeconfig'; path: string }
  | { id: number; op: 'httpGet'; url: string; timeoutMs: number };

const opts = JSON.parse(process.argv[2] ?? '{}') as ControlPlaneOptions & LabExtras;
const cp = await startControlPlane(opts);
const routeLog: RouteWrite[] = [];
const epochOf = (perfNow: number): number => performance.timeOrigin + perfNow;

const LEASE_NAME = opts.leaseName ?? 'hybrid-gateway-leader';
const LEASE_NS = opts.leaseNamespace ?? 'kube-system';
const tracked = new Set(opts.trackedLeases ?? [LEASE_NAME]);

function leaseState(name: string, now: number): LeaseState {
  const lease = cp.kube.store.find('leases', name, LEASE_NS) as { spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } } | undefined;
  const holder = lease?.spec?.holderIdentity || undefined;
  const renew = Date.parse(lease?.spec?.renewTime ?? '');
  const valid = holder !== undefined && Number.isFinite(renew) && now <= renew + (lease?.spec?.leaseDurationSeconds ?? 0) * 1000;
  return { holder, valid };
}

function leaseAt(now: number): LeaseState {
  return leaseState(LEASE_NAME, now);
}

function trackedAt(now: number): Record<string, LeaseState> {
  return Object.fromEntries([...tracked].map((n) => [n, leaseState(n, now)]));
}

// Every change of a tracked Lease's holder, as committed (a renewal by the same holder is not one).
const leaseLog: LeaseHolderChange[] = [];
cp.kube.store.subscribe((e) => {
  if (e.def.plural !== 'leases') return;
  const md = e.object.metadata;
  if (md?.name === undefined || !tracked.has(md.name) || md.namespace !== LEASE_NS) return;
  const spec = (o: KObj | undefined): { holderIdentity?: string; leaseTransitions?: number } | undefined =>
    o === undefined ? undefined : ((o as { spec?: { holderIdentity?: string; leaseTransitions?: number } }).spec ?? {});
  const previous = e.type === 'ADDED' ? undefined : (spec(e.prev)?.holderIdentity ?? '');
  const holder = e.type === 'DELETED' ? '' : (spec(e.object)?.holderIdentity ?? '');
  if (holder === previous) return;
  leaseLog.push({ lease: md.name, atMs: epochOf(e.at), holder, previous, leaseTransitions: spec(e.object)?.leaseTransitions });
  if (leaseLog.length > 20_000) leaseLog.splice(0, leaseLog.length - 20_000);
});

// Every change of a CiliumVTEPConfig's endpoints, with the client that made it (status writes change none).
type Ep = VtepWrite['set'][number];
const endpointsOf = (o: KObj | undefined): Ep[] => {
  const eps = (o as { spec?: { endpoints?: unknown } } | undefined)?.spec?.endpoints;
  if (!Array.isArray(eps)) return [];
  return eps.map((raw: unknown) => {
    const x = (raw ?? {}) as Record<string, unknown>;
    return { name: String(x.name), tunnelEndpoint: String(x.tunnelEndpoint), cidr: String(x.cidr), mac: String(x.mac) };
  });
};
const vtepLog: VtepWrite[] = [];
cp.kube.store.subscribe((e) => {
  if (e.def.plural !== 'ciliumvtepconfigs') return;
  const before = e.type === 'ADDED' ? [] : endpointsOf(e.prev);
  const after = e.type === 'DELETED' ? [] : endpointsOf(e.object);
  const same = (a: Ep, b: Ep): boolean => a.name === b.name && a.tunnelEndpoint === b.tunnelEndpoint && a.cidr === b.cidr && a.mac.toLowerCase() === b.mac.toLowerCase();
  const set = after.filter((a) => !before.some((b) => same(a, b)));
  const removed = before.filter((b) => !after.some((a) => a.name === b.name));
  if (set.length === 0 && removed.length === 0) return;
  const origin = requestOrigin.getStore();
  const atMs = epochOf(e.at);
  vtepLog.push({ atMs, config: String(e.object.metadata?.name), type: e.type, remoteAddress: origin?.remoteAddress, method: origin?.method, set, removed, leases: trackedAt(Date.now()) });
  if (vtepLog.length > 20_000) vtepLog.splice(0, vtepLog.length - 20_000);
});

// The router's kernel routes follow the table in write order per CIDR, each
// after the profile's propagation delay.
const routerPropagation = cp.ec2.behaviour.propagation;
const propagator = createPropagator({
  delay: routerPropagation,
  apply: async (change) => {
    const router = opts.vpcRouter;
    if (router === undefined) return;
    const args =
      change.target === null
        ? ['-n', router.ns, 'route', 'del', change.cidr]
        : change.target.kind === 'interface'
          ? ['-n', router.ns, 'route', 'replace', change.cidr, 'via', change.target.privateIp]
          : undefined;
    if (args !== undefined) await execFileP('ip', args);
  },
});
cp.ec2.onRouteChange((change, call) => {
  const now = Date.now();
  const { holder, valid } = leaseAt(now);
  const entry: RouteWrite = {
    atMs: now,
    routeTableId: change.routeTableId,
    cidr: change.cidr,
    eni: change.target === null ? null : change.target.kind === 'interface' ? change.target.networkInterfaceId : change.target.gatewayId,
    accessKeyId: call.accessKeyId,
    seq: call.seq,
    holder,
    leaseValid: valid,
    ...(opts.trackedLeases !== undefined ? { leases: trackedAt(now) } : {}),
  };
  routeLog.push(entry);
  if (routeLog.length > 20_000) routeLog.splice(0, routeLog.length - 20_000);
  const router = opts.vpcRouter;
  if (router === undefined || router.routeTableId !== change.routeTableId) return;
  if (change.target !== null && change.target.kind !== 'interface') return; // gateway targets: not modelled in the router
  const scheduled = propagator.schedule(change, now);
  entry.routerDueMs = scheduled.dueMs;
  const applied = scheduled.done.then((r) => {
    if (r.appliedMs !== undefined) entry.routerAppliedMs = r.appliedMs;
    if (r.error !== undefined) entry.routerError = r.error;
  });
  // Ideal: the API answers once the router follows. Realistic: EC2 answers on
  // acceptance and the data plane follows after the propagation delay.
  return routerPropagation === false ? applied : undefined;
});

process.on('message', (raw: unknown) => {
  const req = raw as Request;
  if (req.op === 'httpGet') {
    void httpGet(req.url, req.timeoutMs).then((r) => process.send?.({ id: req.id, ok: true, value: r.status }));
    return;
  }
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
      case 'inject':
        value = cp.kube.store.inject(req.plural, req.body);
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
      case 'kubeFaultReport': {
        const f = cp.kube.faults;
        const since = req.sinceMs ?? 0;
        value = { injected: { ...f.injected, errorsByResource: { ...f.injected.errorsByResource } }, delays: f.delays.filter((d) => d.atMs >= since) } satisfies KubeFaultReport;
        break;
      }
      case 'leaseLog':
        value = leaseLog;
        break;
      case 'kubeOutage':
        cp.kube.faults.outage(req.ms);
        value = null;
        break;
      case 'kubeEndOutage':
        cp.kube.faults.endOutage();
        value = null;
        break;
      case 'dropWatches':
        value = cp.kube.faults.dropWatches();
        break;
      case 'compact':
        cp.kube.store.compact();
        value = null;
        break;
      case 'expireWatches': {
        const marker = cp.kube.store.put('events', {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `lab-expire-watches.${Date.now().toString(16)}`, namespace: 'default' },
          involvedObject: { kind: 'Namespace', name: 'default' },
          reason: 'LabExpireWatches',
          message: 'history compacted and watches dropped by the lab',
          type: 'Normal',
        });
        cp.kube.store.compact();
        value = { dropped: cp.kube.faults.dropWatches(), oldestResourceVersion: cp.kube.store.oldestWatchableResourceVersion, marker: marker.metadata?.resourceVersion };
        break;
      }
      case 'ec2Fault': {
        const f = req.fault;
        if (f.kind === 'failNext') cp.ec2.faults.failNext(f.count, f.failure);
        else if (f.kind === 'fail') cp.ec2.faults.fail(f.failure, f.probability ?? 1);
        else if (f.kind === 'tokenBuckets') cp.ec2.faults.tokenBuckets(f.spec);
        else if (f.kind === 'latency') cp.ec2.faults.latency(f.ms, f.actions);
        else if (f.kind === 'lateDelivery') cp.ec2.faults.lateDelivery(f);
        else cp.ec2.faults.reset();
        value = null;
        break;
      }
      case 'ec2CallLog':
        value = cp.ec2.calls.map((c): Ec2CallRecord => ({
          seq: c.seq,
          action: c.action,
          atMs: epochOf(c.arrivedAt),
          accessKeyId: c.accessKeyId,
          remoteAddress: c.remoteAddress,
          routeTableId: c.params.RouteTableId,
          cidr: c.params.DestinationCidrBlock,
          eni: c.params.NetworkInterfaceId,
          status: c.status,
          code: c.code,
          lateMs: c.lateMs,
        }));
        break;
      case 'routeLog':
        value = routeLog;
        break;
      case 'vtepLog':
        value = vtepLog;
        break;
      case 'ec2Behaviour':
        value = { profile: cp.ec2.profile, ...cp.ec2.behaviour };
        break;
      case 'kubeRequests':
        value = cp.kube.requests.map((r) => ({ seq: r.seq, method: r.method, path: r.path, watch: r.watch, status: r.status, atMs: r.atMs, remoteAddress: r.remoteAddress, query: r.query }));
        break;
      case 'otlpRequests':
        value = cp.otlp.requests;
        break;
      case 'writeKubeconfig':
        value = cp.kube.writeKubeconfig(req.path);
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
  ...(cp.eks !== undefined ? { eksUrl: cp.eks.url } : {}),
  otlpUrl: cp.otlp.url,
  ec2Profile: cp.ec2.profile,
  imds: Object.fromEntries(opts.gateways.map((g) => [g.instanceId, cp.ec2.imdsUrl(g.instanceId)])),
});
