// The composition root: the gateway statechart (machines/) given its effects,
// one module per concern (runtime/wiring/): init stages and the device
// watchdog, the data plane (fleet and vtep actors), the Lease, the leader's
// work, and what each observability hook does.
//
//   CiliumNode informer → DesiredFeed (pure core) → gateway machine → fleet → vtep actors → netlink
//   Lease / CiliumVTEPConfig watches, timers       → gateway machine → leader work → EC2, Kubernetes
//
// Every pod programs the data plane; only the leader state invokes the route
// table and CiliumVTEPConfig writers, and leaving it runs the fence and aborts
// them before anything else happens.
import { hostname } from 'node:os';
import { createActor, waitFor, type Actor, type ActorRefFrom, type InspectionEvent, type Observer } from 'xstate';
import type { AdmissionPolicy } from '../machines/domain/admission.js';
import { ipv4ToInt, parseCidr, type Cidr } from '../machines/domain/ipv4.js';
import { leaseKey } from '../machines/domain/ownership.js';
import type { fleetMachine } from '../machines/fleet.machine.js';
import { shardId, type gatewayMachine } from '../machines/gateway.machine.js';
import { TIMINGS } from '../machines/timings.js';
import { createEc2Client, discoverInstanceIdentity } from '../effects/aws/index.js';
import {
  ciliumNodeRef,
  EVENT_REASONS,
  EventRecorder,
  kubeClients,
  LeaseLock,
  loadKubeConfig,
  MemberLease,
  podRef,
  startCiliumNodeInformer,
  VtepConfigClient,
  type CiliumNodeInformer,
} from '../effects/kube/index.js';
import { openDataPlane } from '../effects/netlink/index.js';
import type { GatewayConfig } from './config/parse.js';
import type { LiveInspector } from './inspector.js';
import type { Logger } from './logging.js';
import { failingChecks, type ReadinessChecks } from './health.js';
import { createMetrics, gatewayStateName, type ScrapeStats } from './metrics.js';
import { FailoverTrace, startTracing, transitionTracer, type TransitionRecord } from './tracing.js';
import { DesiredFeed } from './wiring/desired-feed.js';
import { eniRecord, HostFacts, leaseNamespace, localIPv4Addresses, VXLAN_DEVICE } from './wiring/host.js';
import { provideGatewayMachine } from './wiring/gateway-logic.js';
import { ofShard } from './wiring/lease.js';
import { shardWork } from './wiring/shards.js';
import type { ClockPort } from './wiring/ports.js';

export { VXLAN_DEVICE } from './wiring/host.js';

export interface GatewayDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Start-up met a configuration this host cannot satisfy (the statechart's `failed`): the process should exit 1. */
  readonly onFailed?: (reason: string) => void;
}

export interface GatewayRuntime {
  readonly metrics: ReturnType<typeof createMetrics>;
  readiness(): ReadinessChecks;
  /** Hybrid nodes whose entries the kernel refused and that are not programmed since (sorted by name). */
  refusedNodes(): Array<{ node: string; reason: string }>;
  readonly gateway: Actor<typeof gatewayMachine>;
  /** SIGTERM path: step down (release the lease), stop watching; the data plane stays. */
  stop(): Promise<void>;
}

function cidrs(list: readonly string[]): Cidr[] {
  return list.map((c) => {
    const p = parseCidr(c);
    if (!p.ok) throw new Error(p.error); // validated by config already
    return p.value;
  });
}

export function startGateway(config: GatewayConfig, deps: GatewayDeps): GatewayRuntime {
  const log = deps.logger;
  const identity = config.podName ?? hostname();
  const namespace = leaseNamespace(config);
  // The gateway's own addresses, as the host has them at start: no CiliumNode may claim or cover them.
  const gatewayAddresses = new Set([config.nodeIP, ...localIPv4Addresses()].map(ipv4ToInt));
  const policy: AdmissionPolicy = { vpcCidrs: cidrs(config.vpcCIDRs), podCidrs: cidrs(config.podCIDRs), gatewayAddresses };

  const tracing = startTracing(deps.env, { 'k8s.pod.name': identity, 'k8s.namespace.name': namespace, 'k8s.node.name': config.nodeName ?? '', 'host.ip': config.nodeIP });
  const clients = kubeClients(loadKubeConfig(config.kubeconfig));
  const host = new HostFacts();
  // Each shard: its Lease, its failover trace, what it points at its leader.
  const work = shardWork(config, namespace);
  const failovers = work.map(() => new FailoverTrace(tracing.tracer));
  const locks = work.map((w) => new LeaseLock({ clients, namespace, name: w.leaseName, identity, leaseDurationMs: config.leaseDurationMs, annotate: eniRecord(host) }));
  const ownerKey = leaseKey(namespace, ofShard(work, 0).leaseName);
  // With more than one shard: this gateway's member Lease (joined once its data plane converged).
  const member =
    work.length === 1 ? undefined : new MemberLease({ clients, namespace, leaderElectionID: config.leaderElectionID, identity, podUid: config.podUid, leaseDurationMs: config.leaseDurationMs });
  const vtepConfig = new VtepConfigClient({ clients });
  const events = new EventRecorder({ clients, host: config.nodeName ?? identity, onError: (err) => log.debug({ err }, 'event not recorded') });
  // The pod's uid comes from the downward API (POD_UID): kubectl describe pod lists Events by it, and no pod read is needed.
  const self = podRef(namespace, identity, config.podUid);
  const dp = openDataPlane();

  const scrape = async (): Promise<ScrapeStats> => {
    if (!host.device) return {};
    const s = await dp.stats(host.device);
    return { vxlan: { ...s.vxlan, up: s.vxlanUp, fdbEntries: s.fdbEntries, routeCount: s.routeCount }, primary: { ...s.primary, name: s.primary.name } };
  };
  const metrics = createMetrics(
    { nodeIP: config.nodeIP, nodeName: config.nodeName ?? '', vxlanInterface: VXLAN_DEVICE, vpcCIDRs: config.vpcCIDRs, podCIDRs: config.podCIDRs },
    scrape,
  );

  // Every transition of every actor is a span (under its shard's failover, if one is open); the
  // root's and the shards' also set the state gauge.
  let rootValue: unknown = 'initialising';
  const shardValues: unknown[] = [];
  const shardOf = (actorId: string): number | undefined => {
    const k = work.findIndex((w) => shardId(w.shard) === actorId);
    return k < 0 ? undefined : k;
  };
  const onTransition = (t: TransitionRecord): void => {
    log.debug({ machine: t.machine, actor: t.actorId || undefined, from: t.from, to: t.to, event: t.event, node: t.node }, 'transition');
    if (t.machine === 'gateway') rootValue = t.value;
    else if (t.machine === 'shard') {
      const k = shardOf(t.actorId);
      if (k === undefined) return;
      shardValues[k] = t.value;
      if (t.event === 'LEASE.FREE') ofShard(failovers, k).leaseFreeSeen();
    } else return;
    metrics.setGatewayState(gatewayStateName(rootValue, shardValues));
  };
  // With one shard its failover is the whole gateway's (the data plane's transitions nest under it too).
  const traced = transitionTracer(tracing.tracer, (actorId) => (failovers.length === 1 ? failovers[0] : failovers[shardOf(actorId) ?? -1]), onTransition);
  // Optional: the same inspection events, live, to a Stately inspector relay (loaded only when asked for).
  let live: LiveInspector | undefined;
  const liveReady =
    config.statechartInspector === undefined
      ? Promise.resolve()
      : import('./inspector.js').then((m) => {
          live = m.createLiveInspector({ enabled: true, url: config.statechartInspector });
        });
  const inspect: Observer<InspectionEvent> = {
    next: (ev) => {
      traced.next?.(ev);
      live?.inspect.next?.(ev);
    },
  };

  const clock: ClockPort = {
    now: () => performance.now(),
    every: (ms, fn) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
  const gatewayLogic = provideGatewayMachine({
    config,
    identity,
    namespace,
    self,
    ownerKey,
    host,
    adapters: {
      dp,
      locks,
      member,
      vtepConfig,
      clients,
      events,
      cloud: { discover: discoverInstanceIdentity, ec2: (region) => createEc2Client({ region }) },
      clock,
      random: Math.random,
    },
    work,
    failovers,
    metrics,
    log,
    onFailed: deps.onFailed,
  });
  const gateway = createActor(gatewayLogic, { inspect, input: { shards: work.length } });
  gateway.subscribe({ error: (err) => log.fatal({ err }, 'gateway statechart failed') });
  const fleetRef = (): ActorRefFrom<typeof fleetMachine> | undefined => gateway.getSnapshot().children.fleet;

  // Refused nodes: a gauge, and a Warning Event when a node is newly refused (not on every sweep).
  const watchFleet = (fleet: ActorRefFrom<typeof fleetMachine>): void => {
    let refusedBefore = fleet.getSnapshot().context.refusedNodes;
    fleet.subscribe((snap) => {
      metrics.hybridNodesConfigured.set(snap.context.programmed.size);
      const refused = snap.context.refusedNodes;
      if (refused === refusedBefore) return;
      metrics.nodesRefused.set(refused.size);
      for (const [name, reason] of refused) {
        if (refusedBefore.get(name) === reason) continue;
        log.warn({ node: name, reason }, 'the kernel refused this node’s entries; the others are forwarded, and it is retried on every sweep');
        void events.record(ciliumNodeRef(name), 'Warning', EVENT_REASONS.vtepRefused, `the kernel refused the entries of ${name}: ${reason}`);
      }
      refusedBefore = refused;
    });
  };

  let informer: CiliumNodeInformer | undefined;
  const feed = new DesiredFeed({
    policy,
    send: (e) => {
      if (e.type === 'NODES.CHANGED') log.debug({ upserts: e.upserts.length, removes: e.removes.length }, 'desired set changed');
      else if (e.type === 'NODES.SYNCED') log.debug({ nodes: e.vteps.length }, 'desired set listed');
      gateway.send(e);
    },
    onSkipped: (fresh, byReason) => {
      metrics.nodesSkipped.reset();
      for (const [reason, count] of byReason) metrics.nodesSkipped.set({ reason }, count);
      for (const s of fresh) {
        metrics.nodesSkippedTotal.inc({ reason: s.reason });
        log.warn({ node: s.name, reason: s.reason, detail: s.detail }, 'CiliumNode skipped');
        const uid = informer?.get(s.name)?.metadata?.uid;
        void events.record(ciliumNodeRef(s.name, uid), 'Warning', EVENT_REASONS.malformedCiliumNode, `skipped by the hybrid gateway (${s.reason}): ${s.detail}`);
      }
    },
  });
  const startInformer = (): CiliumNodeInformer =>
    startCiliumNodeInformer(clients, {
      synced: (all) => {
        feed.resync(all);
        host.informerSynced = true;
      },
      upsert: (node) => feed.upsert(node),
      delete: (node) => feed.remove(node),
      malformed: (_raw, why) => {
        metrics.nodesSkippedTotal.inc({ reason: 'missing-name' });
        log.warn({ why }, 'unkeyable CiliumNode skipped');
      },
      error: (err, info) => log.warn({ err, ...info }, 'CiliumNode list/watch failed; retrying'),
    });

  // Start once tracing and the inspector are loaded, so the first transitions are seen.
  let stopping = false;
  let running = false;
  const started = Promise.all([tracing.ready, liveReady])
    .catch((err: unknown) => log.error({ err }, 'tracing or the inspector could not be loaded; going on without'))
    .then(() => {
      if (stopping) return;
      running = true;
      gateway.start();
      const fleet = fleetRef();
      if (fleet) watchFleet(fleet);
      informer = startInformer();
    });

  const readiness = (): ReadinessChecks => ({
    vxlanUp: host.device?.up === true,
    informerSynced: host.informerSynced,
    dataPlaneConverged: host.converged,
  });
  // hybrid_gateway_ready: the same checks /readyz answers with, for alerting on a pod that stays unready.
  metrics.readinessFrom(() => failingChecks(readiness()).length === 0);

  return {
    metrics,
    gateway,
    readiness,
    refusedNodes: () =>
      [...(fleetRef()?.getSnapshot().context.refusedNodes ?? [])]
        .map(([node, reason]) => ({ node, reason }))
        .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)),
    async stop() {
      stopping = true;
      await started;
      if (running) {
        gateway.send({ type: 'SHUTDOWN' });
        // Leaving the membership (bounded by the settle timeout), then the shards in parallel.
        await waitFor(gateway, (s) => s.status === 'done', { timeout: Math.max(1000, config.renewDeadlineMs + 2 * TIMINGS.settleTimeoutMs + 500) }).catch(() =>
          log.warn('step-down did not finish in time'),
        );
      }
      gateway.stop();
      await informer?.stop();
      live?.stop();
      await Promise.allSettled([events.flush(), tracing.shutdown()]);
      await dp.close();
      // The device and its entries stay: a restarted gateway adopts them and traffic keeps flowing meanwhile.
    },
  };
}
