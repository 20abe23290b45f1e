// The gateway process: the statecharts of machines/ given their effects.
//
//   CiliumNode informer → DesiredFeed (pure core) → fleet machine → vtep actors → netlink
//   Lease / CiliumVTEPConfig watches, timers  → gateway machine → leader work → EC2, Kubernetes
//
// Every pod programs the data plane; only the leader state invokes the route
// table and CiliumVTEPConfig writers, and leaving it aborts them (their
// AbortSignals fence the adapters) before anything else happens.
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { createActor, fromPromise, waitFor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { AdmissionPolicy } from '../machines/domain/admission.js';
import { ipv4ToInt, parseCidr, type Cidr } from '../machines/domain/ipv4.js';
import { fleetMachine } from '../machines/fleet.machine.js';
import { gatewayMachine, type GatewayEvent, type LeaseOutcome, type OwnershipOutcome, type RouteTablesInput, type VtepConfigInput } from '../machines/gateway.machine.js';
import { leaseKey, ownershipVerdict, parseLeaseKey } from '../machines/domain/ownership.js';
import { lateWriteCheckMs, releaseTimeoutMs, renewRetryMs, TIMINGS } from '../machines/timings.js';
import { vtepMachine } from '../machines/vtep.machine.js';
import {
  checkSourceDestCheck,
  createEc2Client,
  discoverInstanceIdentity,
  ensureRoutes,
  type InstanceIdentity,
} from '../effects/aws/index.js';
import {
  backoffDelay,
  ciliumNodeRef,
  EventRecorder,
  kubeClients,
  leaseWatchActor,
  LeaseLock,
  loadKubeConfig,
  ownerOf,
  podRef,
  readOtherLease,
  startCiliumNodeInformer,
  vtepSpecEquals,
  vtepWatchActor,
  VtepConfigClient,
  type CiliumNodeInformer,
  type VtepEndpoint,
} from '../effects/kube/index.js';
import { nodesTouched, openDataPlane, programVtepActor, reconcileKernelActor, removeVtepActor, type DeviceInfo, type RulePlan } from '../effects/netlink/index.js';
import type { GatewayConfig } from './config/parse.js';
import type { Logger } from './logging.js';
import { createMetrics, type GatewayStateName, type ScrapeStats } from './metrics.js';
import type { LiveInspector } from './inspector.js';
import { FailoverTrace, startTracing, transitionTracer, type TransitionRecord } from './tracing.js';
import { DesiredFeed } from './wiring/desired-feed.js';

export const VXLAN_DEVICE = 'hybrid_vxlan0';

export interface GatewayDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Start-up met a configuration this host cannot satisfy (the statechart's `failed`): the process should exit 1. */
  readonly onFailed?: (reason: string) => void;
}

export interface GatewayRuntime {
  readonly metrics: ReturnType<typeof createMetrics>;
  readiness(): { vxlanUp: boolean; informerSynced: boolean; dataPlaneConverged: boolean };
  /** Hybrid nodes whose entries the kernel refused and that are not programmed since (sorted by name). */
  refusedNodes(): Array<{ node: string; reason: string }>;
  readonly gateway: Actor<typeof gatewayMachine>;
  /** SIGTERM path: step down (release the lease), stop watching; the data plane stays. */
  stop(): Promise<void>;
}

/** Every IPv4 address on this host's interfaces (the pod runs in the host's network namespace). */
function localIPv4Addresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

/** The Lease's namespace: flag/env, else the pod's service-account namespace, else "default". */
function leaseNamespace(config: GatewayConfig): string {
  if (config.leaderElectionNamespace) return config.leaderElectionNamespace;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

/** CiliumVTEPConfig endpoints: one per VPC CIDR, named as the reference names them. */
export function vtepEndpoints(config: GatewayConfig, mac: string): VtepEndpoint[] {
  return config.vpcCIDRs.map((cidr, i) => ({
    name: config.vpcCIDRs.length === 1 ? 'vpc-gateway' : `vpc-gateway-${i}`,
    tunnelEndpoint: config.nodeIP,
    cidr,
    mac,
  }));
}

/**
 * The wait before the next lease attempt: the retry period, or less when the
 * holder's lease (as judged locally) expires sooner — a standby then tries
 * right after the expiry instead of up to a period later. An expiry already
 * past says nothing new: a failed attempt then waits the full period.
 */
export function retryDelay(retryPeriodMs: number, leaseExpiresAt: number | undefined, now: number): number {
  const untilExpiry = leaseExpiresAt === undefined ? Infinity : leaseExpiresAt - now + TIMINGS.expiryMarginMs;
  return untilExpiry > 0 ? Math.min(retryPeriodMs, untilExpiry) : retryPeriodMs;
}

function gatewayStateName(value: unknown): GatewayStateName {
  if (typeof value === 'string') return value as GatewayStateName;
  const v = value as Record<string, unknown>;
  if ('electing' in v) return v.electing as GatewayStateName;
  return Object.keys(v)[0] as GatewayStateName;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function startGateway(config: GatewayConfig, deps: GatewayDeps): GatewayRuntime {
  const log = deps.logger;
  const identity = config.podName ?? hostname();
  const namespace = leaseNamespace(config);
  const cidrs = (list: readonly string[]): Cidr[] =>
    list.map((c) => {
      const p = parseCidr(c);
      if (!p.ok) throw new Error(p.error); // validated by config already
      return p.value;
    });
  const vpcCidrs = cidrs(config.vpcCIDRs);
  // The gateway's own addresses, as the host has them at start: no CiliumNode may claim or cover them.
  const gatewayAddresses = new Set([config.nodeIP, ...localIPv4Addresses()].map(ipv4ToInt));
  const policy: AdmissionPolicy = { vpcCidrs, podCidrs: cidrs(config.podCIDRs), gatewayAddresses };

  const tracing = startTracing(deps.env, { 'k8s.pod.name': identity, 'k8s.namespace.name': namespace, 'k8s.node.name': config.nodeName ?? '', 'host.ip': config.nodeIP });
  const failover = new FailoverTrace(tracing.tracer);

  const clients = kubeClients(loadKubeConfig(config.kubeconfig));
  const lock = new LeaseLock({ clients, namespace, name: config.leaderElectionID, identity, leaseDurationMs: config.leaseDurationMs });
  // The owner annotation this installation writes on the cluster-wide CiliumVTEPConfig.
  const ownerKey = leaseKey(namespace, config.leaderElectionID);
  const vtepConfig = new VtepConfigClient({ clients });
  const events = new EventRecorder({ clients, host: config.nodeName ?? identity, onError: (err) => log.debug({ err }, 'event not recorded') });
  // The pod's uid comes from the downward API (POD_UID): kubectl describe pod lists Events by it, and no pod read is needed.
  const self = podRef(namespace, identity, config.podUid);

  const dp = openDataPlane();
  let device: DeviceInfo | undefined;
  let cloud: { id: InstanceIdentity; ec2: EC2Client } | undefined;
  let informerSynced = false;
  let converged = false;
  let leaderSince: number | undefined;

  const scrape = async (): Promise<ScrapeStats> => {
    if (!device) return {};
    const s = await dp.stats(device);
    return {
      vxlan: { ...s.vxlan, up: s.vxlanUp, fdbEntries: s.fdbEntries, routeCount: s.routeCount },
      primary: { ...s.primary, name: s.primary.name },
    };
  };
  const metrics = createMetrics(
    { nodeIP: config.nodeIP, nodeName: config.nodeName ?? '', vxlanInterface: VXLAN_DEVICE, vpcCIDRs: config.vpcCIDRs, podCIDRs: config.podCIDRs },
    scrape,
  );
  const endpoints = (): VtepEndpoint[] => vtepEndpoints(config, device?.mac ?? '');

  // ── the data plane: fleet of vtep actors ───────────────────────────────────
  const getDevice = (): DeviceInfo | undefined => device;
  const vtep = vtepMachine.provide({
    actors: { programVtep: programVtepActor(dp, getDevice), removeVtep: removeVtepActor(dp, getDevice) },
    actions: {
      announceProgrammed: ({ context }) => {
        metrics.vtepAdd.inc();
        log.debug({ node: context.desired.name, nodeIP: context.desired.nodeIP, podCIDRs: context.desired.podCIDRs }, 'vtep programmed');
      },
      announceProgramFailed: ({ context }) => {
        metrics.vtepAddErrors.inc();
        log.warn({ node: context.desired.name, attempt: context.attempts, error: context.lastError }, 'vtep programming failed');
      },
      announceRemoved: ({ context }) => {
        metrics.vtepRemove.inc();
        log.debug({ node: context.desired.name }, 'vtep removed');
      },
      announceRemoveFailed: ({ context }) => {
        metrics.vtepRemoveErrors.inc();
        log.warn({ node: context.desired.name, attempt: context.attempts, error: context.lastError }, 'vtep removal failed');
      },
      announceStalled: ({ context }) => {
        // The fleet lists the node as refused (log line, Event, gauge: below).
        log.error({ node: context.desired.name, error: context.lastError }, 'vtep programming gave up; the next sweep retries');
      },
    },
    delays: { vtepRetryDelay: ({ context }) => backoffDelay(context.attempts, 200, 30_000) },
  });
  const fleetLogic = fleetMachine.provide({
    actors: {
      vtep,
      reconcileKernel: reconcileKernelActor(dp, getDevice, (r) => {
        const n = nodesTouched(r);
        metrics.vtepAdd.inc(n.programmed);
        metrics.vtepRemove.inc(n.removed);
        if (r.added.length + r.removed.length + r.fixed.length + r.failed.length > 0) {
          log.info({ added: r.added.length, removed: r.removed.length, fixed: r.fixed.length, failed: r.failed.length, unchanged: r.unchanged }, 'data plane reconciled');
        }
      }),
    },
    actions: {
      announceConverged: ({ context }) => {
        converged = true;
        // An unconverged gateway does not compete for the lease (the statechart's mayCompete).
        gateway.send({ type: 'DATAPLANE.CONVERGED' });
        if (context.refused.length > 0) log.warn({ nodes: context.refused }, 'the kernel refused the entries of some nodes; they are retried one by one');
      },
      announceConvergeFailed: ({ context }) => log.warn({ failures: context.convergeFailures }, 'bulk reconcile failed; retrying'),
    },
    delays: {
      resyncPeriod: TIMINGS.resyncMs,
      convergeRetryDelay: ({ context }) => backoffDelay(context.convergeFailures, 500, 30_000),
    },
  });

  const onTransition = (t: TransitionRecord): void => {
    log.debug({ machine: t.machine, from: t.from, to: t.to, event: t.event, node: t.node }, 'transition');
    if (t.machine !== 'gateway') return;
    metrics.setGatewayState(gatewayStateName(t.value));
    if (t.event === 'LEASE.FREE') failover.leaseFreeSeen();
  };
  const traced = transitionTracer(tracing.tracer, failover, onTransition);
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
  const fleet = createActor(fleetLogic, { input: {}, inspect });
  // Refused nodes: a gauge, and a Warning Event when a node is newly refused (not on every sweep).
  let refusedBefore = fleet.getSnapshot().context.refusedNodes;
  fleet.subscribe((snap) => {
    metrics.hybridNodesConfigured.set(snap.context.programmed.size);
    const refused = snap.context.refusedNodes;
    if (refused === refusedBefore) return;
    metrics.nodesRefused.set(refused.size);
    for (const [name, reason] of refused) {
      if (refusedBefore.get(name) === reason) continue;
      log.warn({ node: name, reason }, 'the kernel refused this node’s entries; the others are forwarded, and it is retried on every sweep');
      void events.record(ciliumNodeRef(name), 'Warning', 'VtepRefused', `the kernel refused the entries of ${name}: ${reason}`);
    }
    refusedBefore = refused;
  });

  const feed = new DesiredFeed({
    policy,
    send: (e) => {
      if (e.type === 'NODES.CHANGED') log.debug({ upserts: e.upserts.length, removes: e.removes.length }, 'desired set changed');
      else if (e.type === 'NODES.SYNCED') log.debug({ nodes: e.vteps.length }, 'desired set listed');
      fleet.send(e);
    },
    onSkipped: (fresh, byReason) => {
      metrics.nodesSkipped.reset();
      for (const [reason, count] of byReason) metrics.nodesSkipped.set({ reason }, count);
      for (const s of fresh) {
        metrics.nodesSkippedTotal.inc({ reason: s.reason });
        log.warn({ node: s.name, reason: s.reason, detail: s.detail }, 'CiliumNode skipped');
        const uid = informer?.get(s.name)?.metadata?.uid;
        void events.record(ciliumNodeRef(s.name, uid), 'Warning', 'MalformedCiliumNode', `skipped by the hybrid gateway (${s.reason}): ${s.detail}`);
      }
    },
  });

  const logRules = (plan: RulePlan, what: string): void => {
    const changed = plan.add.length + plan.remove.length > 0;
    const fields = { table: dp.routeTable, added: plan.add.length, removed: plan.remove.length, kept: plan.unchanged };
    if (what === 'policy rules ready') log.info(fields, what);
    else if (changed) log.warn(fields, what);
  };

  // ── the lifecycle: gateway machine ─────────────────────────────────────────
  // Leader writes in flight (route tables, CiliumVTEPConfig): stepping down waits for them to settle.
  const inFlight = new Set<Promise<unknown>>();
  const tracked = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.then(
      () => inFlight.delete(p),
      () => inFlight.delete(p),
    );
    return p;
  };
  const lease = { leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs };

  const gatewayLogic = gatewayMachine.provide({
    actors: {
      ensureDevice: fromPromise(async ({ signal }) => {
        device = await dp.ensureDevice({ name: VXLAN_DEVICE, vni: config.vxlanVNI, mtu: config.vxlanMTU, nodeIP: config.nodeIP, signal });
        log.info({ device: device.name, action: device.action, changes: device.changes, mtu: device.mtu, mac: device.mac, underlay: device.underlay.name }, 'vxlan device ready');
        logRules(await dp.ensureRules(config.podCIDRs, { signal }), 'policy rules ready');
        fleet.send({ type: 'DATAPLANE.READY' });
      }),
      checkForwarding: fromPromise(async () => {
        if (!(await dp.ipForwardEnabled())) throw new Error('net.ipv4.ip_forward is 0 on this node: the gateway cannot forward (set it to 1)');
      }),
      discoverCloud: fromPromise(async ({ signal }) => {
        if (cloud) return;
        const id = await discoverInstanceIdentity({ nodeIP: config.nodeIP, region: config.awsRegion, instanceId: config.awsInstanceID, signal });
        const ec2 = createEc2Client({ region: id.region });
        cloud = { id, ec2 };
        log.info({ instanceId: id.instanceId, region: id.region, eni: id.networkInterfaceId }, 'instance identity');
        checkSourceDestCheck(ec2, id.networkInterfaceId, { signal })
          .then((r) => {
            if (!r.canForward) log.error({ eni: id.networkInterfaceId }, r.message);
          })
          .catch((err: unknown) => log.warn({ err }, 'source/destination check could not be read'));
      }),
      watchLease: leaseWatchActor<GatewayEvent>(lock),
      tryAcquireLease: fromPromise<LeaseOutcome>(async ({ signal }) => {
        const startedAt = Date.now();
        const attempt = await lock.tryAcquireOrRenew(signal);
        failover.acquireAttempt(startedAt, attempt.held, { 'lease.holder': identity, 'lease.transitions': attempt.leaseTransitions ?? 0 });
        if (attempt.error) log.debug({ err: attempt.error }, 'lease acquire attempt failed');
        return attempt;
      }),
      renewLease: fromPromise<LeaseOutcome>(async ({ signal }) => {
        const attempt = await lock.tryAcquireOrRenew(signal);
        if (!attempt.held || attempt.error) log.warn({ outcome: attempt.outcome, err: attempt.error?.message }, 'lease renewal did not go through; retrying within the renew deadline');
        return attempt;
      }),
      // The first notice is the object as the previous leader left it: the leader work starting
      // with this state writes it anyway, so only later edits and deletes ask for a re-assert.
      watchLeaderObjects: vtepWatchActor<GatewayEvent>(
        vtepConfig,
        (obj) =>
          device !== undefined && vtepSpecEquals(obj, endpoints()) && ownerOf(obj) === ownerKey
            ? undefined
            : { type: 'LEADER.REASSERT', reason: obj === undefined ? 'CiliumVTEPConfig deleted' : 'CiliumVTEPConfig differs or names another owner' },
        { skipInitial: true },
      ),
      programRouteTables: fromPromise<void, RouteTablesInput>(({ input, signal }) => {
        const c = cloud;
        if (!c) return Promise.reject(new Error('instance identity is not known yet'));
        const { strategy } = input;
        return tracked(
          failover.span('routeTables.repoint', { 'aws.strategy': strategy, 'aws.eni': c.id.networkInterfaceId }, () =>
            Promise.all(
              config.routeTableIDs.map((table) =>
                failover.span(`routeTable ${table}`, { 'aws.route_table_id': table }, async () => {
                  const r = await ensureRoutes({
                    ec2: c.ec2,
                    routeTableIds: [table],
                    cidrs: config.podCIDRs,
                    networkInterfaceId: c.id.networkInterfaceId,
                    strategy,
                    signal,
                    writeGuard: () => lock.isHeld(),
                    checkSourceDestCheck: false,
                    onRouteUpdate: (u) => {
                      if (u.action === 'unchanged' && !u.error) return;
                      if (u.error) metrics.routeTableUpdateErrors.inc();
                      else metrics.routeTableUpdate.inc();
                      metrics.routeTableUpdateDuration.observe(u.durationMs / 1000);
                    },
                  });
                  if (!r.ok) {
                    const failed = r.tables.flatMap((t) => [t.error, ...t.routes.map((x) => x.error)]).find((e) => e !== undefined);
                    throw failed ?? new Error(`route table ${table} not converged`);
                  }
                }),
              ),
            ).then(() => undefined),
          ),
        );
      }),
      checkOwnership: fromPromise<OwnershipOutcome>(({ signal }) =>
        failover.span('vtepConfig.ownership', {}, async () => {
          const cur = await vtepConfig.get(signal);
          const currentOwner = cur === undefined ? undefined : ownerOf(cur) || undefined;
          const ref = currentOwner === undefined || currentOwner === ownerKey ? undefined : parseLeaseKey(currentOwner);
          const other = ref === undefined ? undefined : await readOtherLease(clients, ref, { signal });
          const verdict = ownershipVerdict(currentOwner, ownerKey, other, Date.now(), config.takeOwnership);
          if (verdict.write && verdict.why !== 'ours' && currentOwner !== undefined) {
            log.warn({ owner: currentOwner, why: verdict.why }, 'CiliumVTEPConfig owned by another Lease: taking it over');
          }
          return { write: verdict.write, why: verdict.why, currentOwner };
        }),
      ),
      writeVtepConfig: fromPromise<void, VtepConfigInput>(({ signal, input }) =>
        tracked(
          failover.span('vtepConfig.write', { 'cilium.vtep.endpoints': config.vpcCIDRs.length }, async () => {
            // Fenced twice: by leaving the leader state, and by the lease lapsing locally.
            const r = await vtepConfig.upsert(endpoints(), AbortSignal.any([signal, lock.heldSignal()]), { key: ownerKey, replaceable: input.replaceableOwner });
            if (r.action !== 'unchanged') log.info({ action: r.action }, 'CiliumVTEPConfig written');
          }),
        ),
      ),
      settleWrites: fromPromise(async () => {
        await Promise.allSettled([...inFlight]);
      }),
      releaseLease: fromPromise(async ({ signal }) => {
        await lock.release(signal);
      }),
    },
    actions: {
      announceLeader: () => {
        leaderSince = Date.now();
        metrics.leaderIsActive.set(1);
        log.info({ identity }, 'became leader');
        void events.record(self, 'Normal', 'LeaderElected', `${identity} on ${config.nodeIP} leads; repointing routes and CiliumVTEPConfig`);
      },
      announceLeaderReady: () => {
        if (leaderSince !== undefined) metrics.leaderSetupDuration.observe((Date.now() - leaderSince) / 1000);
        leaderSince = undefined;
        const ms = failover.leaderReady();
        if (ms !== undefined) {
          metrics.failoverDuration.observe(ms / 1000);
          log.info({ failoverMs: ms }, 'leader ready: route tables and CiliumVTEPConfig point here');
        }
      },
      // The fence: the lock stops holding (every write path checks it and its signal aborts).
      fence: () => lock.fence(),
      announceNotLeader: ({ context }) => {
        leaderSince = undefined;
        metrics.leaderIsActive.set(0);
        failover.end(context.stepDownCause ?? 'left leader');
        log.warn({ cause: context.stepDownCause, lastError: context.lastError }, 'no longer leader; leader writes stopped');
        void events.record(self, 'Normal', 'LeadershipLost', `${identity} stopped leading (${context.stepDownCause ?? 'unknown'})`);
      },
      announceStandby: () => {},
      announceInitRetry: ({ context }) => log.warn({ attempt: context.initAttempts, error: context.lastError }, 'start-up step failed; retrying'),
      announceWorkRetry: ({ context }) =>
        log.warn({ routeAttempts: context.routeAttempts, vtepConfigAttempts: context.vtepAttempts, error: context.lastError }, 'leader work failed; retrying'),
      announceStopped: () => log.info('gateway stopped'),
      announceFailed: ({ context }) => {
        const reason = context.lastError ?? 'start-up failed';
        log.fatal({ error: reason }, 'the configuration does not fit this host; not retrying');
        deps.onFailed?.(reason);
      },
      announceOwnershipConflict: ({ context }) => {
        metrics.vtepConfigOwnerConflict.set(1);
        const why = context.lastError ?? 'owned by another installation';
        log.error({ why, ownerLease: ownerKey }, 'CiliumVTEPConfig belongs to another installation: no route or CiliumVTEPConfig writes (uninstall one, or set --take-ownership)');
        void events.record(self, 'Warning', 'OwnershipConflict', `${identity} leads Lease ${ownerKey} but writes nothing shared: CiliumVTEPConfig ${vtepConfig.name} ${why}`);
      },
      announceOwnershipResolved: () => {
        metrics.vtepConfigOwnerConflict.set(0);
      },
    },
    delays: {
      standbyRetryPeriod: ({ context }) => retryDelay(config.retryPeriodMs, context.leaseExpiresAt, performance.now()),
      renewInterval: config.retryPeriodMs,
      renewRetryDelay: renewRetryMs(lease),
      // Counted from when the last successful renewal was sent (monotonic clock), as client-go does.
      renewDeadline: ({ context }) =>
        context.lastRenewAt === undefined ? config.renewDeadlineMs : Math.max(0, context.lastRenewAt + config.renewDeadlineMs - performance.now()),
      initRetryDelay: ({ context }) => backoffDelay(context.initAttempts, TIMINGS.initRetryBaseMs, TIMINGS.initRetryMaxMs),
      routeTablesRetryDelay: ({ context }) => backoffDelay(context.routeAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs),
      vtepConfigRetryDelay: ({ context }) => backoffDelay(context.vtepAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs),
      lateWriteCheckDelay: lateWriteCheckMs(lease),
      driftRepairPeriod: TIMINGS.driftRepairMs,
      dataPlaneGrace: TIMINGS.dataPlaneGraceMs,
      settleTimeout: TIMINGS.settleTimeoutMs,
      releaseTimeout: releaseTimeoutMs(lease),
    },
  });
  const gateway = createActor(gatewayLogic, { inspect });
  gateway.subscribe({
    error: (err) => log.fatal({ err }, 'gateway statechart failed'),
  });

  // ── start: once tracing and the inspector are loaded, so the first transitions are seen ──
  let informer: CiliumNodeInformer | undefined;
  const startInformer = (): CiliumNodeInformer => startCiliumNodeInformer(clients, {
    synced: (all) => {
      feed.resync(all);
      informerSynced = true;
    },
    upsert: (node) => feed.upsert(node),
    delete: (node) => feed.remove(node),
    malformed: (_raw, why) => {
      metrics.nodesSkippedTotal.inc({ reason: 'missing-name' });
      log.warn({ why }, 'unkeyable CiliumNode skipped');
    },
    error: (err, info) => log.warn({ err, ...info }, 'CiliumNode list/watch failed; retrying'),
  });
  let stopping = false;
  let running = false;
  const started = Promise.all([tracing.ready, liveReady])
    .catch((err: unknown) => log.error({ err }, 'tracing or the inspector could not be loaded; going on without'))
    .then(() => {
      if (stopping) return;
      running = true;
      fleet.start();
      gateway.start();
      informer = startInformer();
    });

  // The device and the rules may be deleted or changed by hand: check them, and sweep the kernel again if the device was recreated.
  const deviceCheck = setInterval(() => {
    if (!device) return;
    dp.ensureRules(config.podCIDRs)
      .then((plan) => logRules(plan, 'policy rules repaired'))
      .catch((err: unknown) => log.error({ err: errorText(err) }, 'policy rule check failed'));
    dp.ensureDevice({ name: VXLAN_DEVICE, vni: config.vxlanVNI, mtu: config.vxlanMTU, nodeIP: config.nodeIP })
      .then((d) => {
        device = d;
        if (d.action !== 'adopted') {
          log.warn({ action: d.action, changes: d.changes }, 'vxlan device repaired');
          fleet.send({ type: 'RESYNC' });
        }
      })
      .catch((err: unknown) => log.error({ err: errorText(err) }, 'vxlan device check failed'));
  }, TIMINGS.deviceCheckMs);
  deviceCheck.unref();

  return {
    metrics,
    gateway,
    readiness: () => ({ vxlanUp: device?.up === true, informerSynced, dataPlaneConverged: converged }),
    refusedNodes: () =>
      [...fleet.getSnapshot().context.refusedNodes]
        .map(([node, reason]) => ({ node, reason }))
        .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)),
    async stop() {
      stopping = true;
      await started;
      clearInterval(deviceCheck);
      if (running) {
        gateway.send({ type: 'SHUTDOWN' });
        await waitFor(gateway, (s) => s.status === 'done', { timeout: Math.max(1000, config.renewDeadlineMs + 500) }).catch(() =>
          log.warn('step-down did not finish in time'),
        );
      }
      gateway.stop();
      await informer?.stop();
      fleet.stop();
      live?.stop();
      await Promise.allSettled([events.flush(), tracing.shutdown()]);
      await dp.close();
      // The device and its entries stay: a restarted gateway adopts them and traffic keeps flowing meanwhile.
    },
  };
}
