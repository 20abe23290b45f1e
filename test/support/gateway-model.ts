// The gateway statechart as a timed model: the machine production builds
// (provideGatewayMachine, over adapter doubles that are never called here),
// its timers at the delays it resolves, and what the adapters and the fleet
// hold beside it. The test's replays (gateway-replay.ts) drive the same
// machine, built the same way, through the adapters.
//
// An event is offered only when it can happen: an actor's outcome while it
// runs, a watch's notice while the watch is open, the fleet's convergence
// while its bulk reconcile waits at the data plane, SIGTERM at any time. Time
// passes only as a wait for one timer: the timers due before it must leave the
// machine as it was (a renewal that the API answers at once, a standby whose
// next attempt may not compete yet, the fleet's periodic sweep); otherwise the
// wait cannot happen from here.
import { trace } from '@opentelemetry/api';
import { pino } from 'pino';
import type { EventObject, SnapshotFrom } from 'xstate';
import { podRef } from '../../effects/kube/index.js';
import { leaseKey } from '../../machines/domain/ownership.js';
import { parseConfig, type GatewayConfig } from '../../runtime/config/parse.js';
import { createMetrics, type GatewayMetrics } from '../../runtime/metrics.js';
import { FailoverTrace } from '../../runtime/tracing.js';
import { provideGatewayMachine, type GatewayLogic } from '../../runtime/wiring/gateway-logic.js';
import { HostFacts } from '../../runtime/wiring/host.js';
import { shardWork } from '../../runtime/wiring/shards.js';
import type { GatewayAdapters } from '../../runtime/wiring/ports.js';
import { adapterDoubles, IDENTITY } from './gateway-adapters.js';
import { addTimer, applyTimed, initialTimed, type ModelClock, type Timed } from './model-timeline.js';

export type GatewaySnapshot = SnapshotFrom<GatewayLogic>;

export interface Env {
  /** The fleet's bulk reconcile is waiting at the data plane: its completion is DATAPLANE.CONVERGED. */
  readonly fleetPending: boolean;
  /** Writes aborted on leaving `leader` that have not come back: stepping down waits for them. */
  readonly lingering: boolean;
  /** How the wait that led here passed (empty for other events): each instant, and whether a renewal was answered then. */
  readonly ticks: ReadonlyArray<{ at: number; renew: boolean }>;
}
export type GatewayModelState = Timed<GatewaySnapshot, Env>;
/** A model event: the machine's event, or a wait for the timer with scheduling number `timer`. */
export type GatewayModelEvent = EventObject & { timer?: number; [payload: string]: unknown };

const BASE_ENV = { NODE_IP: '198.51.100.10', VPC_CIDR: '198.51.100.0/24', POD_CIDRS: '198.18.0.0/16', ROUTE_TABLE_IDS: 'rtb-0123456789abcdef0' };

/** Production's configuration from a minimal environment: the flags' defaults (lease 3 s / 2 s / 1 s…). */
export function modelConfig(): GatewayConfig {
  const out = parseConfig([], BASE_ENV);
  if (out.kind !== 'config') throw new Error('no config');
  return out.config;
}

let sharedMetrics: GatewayMetrics | undefined;
const silent = pino({ level: 'silent' });

/** The gateway machine as startGateway provides it, over `adapters`. */
export function buildGateway(adapters: GatewayAdapters): { logic: GatewayLogic; host: HostFacts } {
  const config = modelConfig();
  const host = new HostFacts();
  // One registry for the file: the metrics only observe.
  sharedMetrics ??= createMetrics({ nodeIP: config.nodeIP, nodeName: '', vxlanInterface: 'hybrid_vxlan0', vpcCIDRs: config.vpcCIDRs, podCIDRs: config.podCIDRs }, () => Promise.resolve({}));
  const logic = provideGatewayMachine({
    config,
    identity: IDENTITY,
    self: podRef('kube-system', IDENTITY),
    ownerKey: leaseKey('kube-system', config.leaderElectionID),
    host,
    adapters,
    work: shardWork(config),
    failovers: [new FailoverTrace(trace.getTracer('gateway-model'))],
    metrics: sharedMetrics,
    log: silent,
  });
  return { logic, host };
}

// Counters (attempts, timestamps) are not states; flags that change behaviour are.
export const serializeState = (s: GatewaySnapshot): string => {
  const c = s.context;
  return `${JSON.stringify(s.value)}|${[c.shuttingDown, c.routesReassertPending, c.dataPlaneConverged || c.dataPlaneGraceOver, c.routesInPlace && c.vtepConfigInPlace, c.leaderReadyAnnounced].map(Number).join('')}`;
};

const failure = (message: string, code?: string): Error => Object.assign(new Error(message), code === undefined ? {} : { code });
const lease = {
  held: { held: true, outcome: 'renewed', holder: IDENTITY },
  other: { held: false, outcome: 'held-by-other', holder: 'gw-b' },
  inconclusive: { held: false, outcome: 'error', error: new Error('503') },
} as const;

/** The outcomes each running actor may have (the replay makes the adapters produce them). */
export function actorOutcomes(now: number): Record<string, GatewayModelEvent[]> {
  const done = (id: string, output?: unknown): GatewayModelEvent => ({ type: `xstate.done.actor.${id}`, output });
  const error = (id: string, e: Error): GatewayModelEvent => ({ type: `xstate.error.actor.${id}`, error: e });
  const attempts = (id: string): GatewayModelEvent[] => [
    done(id, { ...lease.held, renewedAt: now }),
    done(id, lease.other),
    done(id, lease.inconclusive),
    error(id, failure('the lease attempt threw')),
  ];
  return {
    // A transient failure (retried) and a configuration this host cannot satisfy (stop).
    ensureDevice: [done('ensureDevice'), error('ensureDevice', failure('NODE_IP is on no link yet')), error('ensureDevice', failure('VXLAN MTU 1450 needs MTU 1500 on eth0, which has 1400', 'BAD_INPUT'))],
    checkForwarding: [done('checkForwarding'), error('checkForwarding', failure('net.ipv4.ip_forward is 0'))],
    discoverCloud: [done('discoverCloud'), error('discoverCloud', failure('IMDS: connection refused'))],
    tryAcquireLease: attempts('tryAcquireLease'),
    renewLease: attempts('renewLease'),
    // Ours or free; owned by another installation's live Lease.
    checkOwnership: [
      done('checkOwnership', { write: true, why: 'unowned', currentOwner: undefined }),
      done('checkOwnership', { write: false, why: 'owned elsewhere', currentOwner: 'other-ns/hybrid-gateway-leader' }),
      error('checkOwnership', failure('503 Service Unavailable')),
    ],
    programRouteTables: [done('programRouteTables'), error('programRouteTables', failure('UnauthorizedOperation'))],
    // A transient failure (backoff), and another installation writing the object since the check.
    writeVtepConfig: [done('writeVtepConfig'), error('writeVtepConfig', failure('409 Conflict, retries spent')), error('writeVtepConfig', failure('owned by Lease other-ns/x', 'OWNED_ELSEWHERE'))],
    releaseLease: [done('releaseLease'), error('releaseLease', failure('503 Service Unavailable'))],
  };
}

const WRITERS = ['programRouteTables', 'writeVtepConfig'] as const;
const RENEW_INTERVAL = /^xstate\.after\.renewInterval\./;
const FLEET_RESYNC = 'fleet.resync';

export function gatewayModel() {
  const clock: ModelClock = { t: 0 };
  const { logic } = buildGateway(adapterDoubles({ now: () => clock.t }).adapters);
  const fleetDelays = (logic.implementations.actors.fleet as unknown as { implementations: { delays: Record<string, unknown> } }).implementations.delays;
  const resyncMs = fleetDelays.resyncPeriod as number;

  const apply = (t: GatewayModelState, e: EventObject): GatewayModelState => {
    const next = applyTimed(logic, clock, t, e);
    const was = t.snap.children as Record<string, unknown>;
    const is = next.snap.children as Record<string, unknown>;
    // A write stopped before it finished (leaving `leader`, ownership refused) was aborted and is out there still.
    const aborted = WRITERS.some((id) => was[id] !== undefined && is[id] !== was[id] && !e.type.endsWith(`.actor.${id}`));
    let env = next.extra;
    if (aborted) env = { ...env, lingering: true };
    if (e.type === 'xstate.done.actor.ensureDevice') env = { ...env, fleetPending: true };
    if (e.type === 'xstate.done.actor.settleWrites') env = { ...env, lingering: false };
    let out: GatewayModelState = { ...next, extra: env };
    if (e.type === 'DATAPLANE.CONVERGED') out = addTimer({ ...out, extra: { ...env, fleetPending: false } }, FLEET_RESYNC, { type: FLEET_RESYNC }, resyncMs);
    // settleWrites waits for the aborted writes only: with none out, stepping down goes on at once.
    if (out.snap.matches({ steppingDown: 'settling' }) && !out.extra.lingering) out = apply(out, { type: 'xstate.done.actor.settleWrites' });
    return out;
  };

  const renewed = (t: GatewayModelState): GatewayModelState => apply(t, { type: 'xstate.done.actor.renewLease', output: { ...lease.held, renewedAt: t.now } } as EventObject);

  /** Time passes until the timer `seq` fires. */
  const wait = (from: GatewayModelState, seq: number): GatewayModelState | undefined => {
    const before = serializeState(from.snap);
    const ticks: Array<{ at: number; renew: boolean }> = [];
    let t: GatewayModelState = { ...from, extra: { ...from.extra, ticks: [] } };
    for (let instants = 0; instants < 500; instants += 1) {
      const first = t.timers[0];
      if (first === undefined) return undefined;
      const at = first.due;
      t = { ...t, now: at };
      let hit = false;
      let renew = false;
      while (t.timers[0] !== undefined && t.timers[0].due <= at) {
        const x = t.timers[0];
        t = { ...t, timers: t.timers.slice(1) };
        hit ||= x.seq === seq;
        if (x.id === FLEET_RESYNC) t = { ...t, extra: { ...t.extra, fleetPending: true } };
        else {
          renew ||= RENEW_INTERVAL.test(x.event.type);
          t = apply(t, x.event);
        }
      }
      ticks.push({ at, renew: renew && !hit });
      if (hit) return { ...t, extra: { ...t.extra, ticks } };
      // Before the awaited timer: a renewal is answered at once, and nothing else may have changed.
      if (renew) t = renewed(t);
      if (serializeState(t.snap) !== before) return undefined;
    }
    return undefined;
  };

  const events = (t: GatewayModelState): GatewayModelEvent[] => {
    if (t.snap.status !== 'active') return [];
    const running = t.snap.children as Record<string, unknown>;
    const out: GatewayModelEvent[] = [];
    for (const [id, outcomes] of Object.entries(actorOutcomes(t.now))) if (running[id] !== undefined) out.push(...outcomes);
    if (running.settleWrites !== undefined && t.extra.lingering) out.push({ type: 'xstate.done.actor.settleWrites' });
    if (running.watchLease !== undefined) out.push({ type: 'LEASE.FREE' }, { type: 'LEASE.LOST', holder: 'gw-b' });
    if (running.watchLeaderObjects !== undefined) out.push({ type: 'LEADER.REASSERT', reason: 'CiliumVTEPConfig deleted' });
    if (t.extra.fleetPending) out.push({ type: 'DATAPLANE.CONVERGED' });
    out.push({ type: 'SHUTDOWN' });
    for (const x of t.timers) if (x.id !== FLEET_RESYNC) out.push({ ...x.event, timer: x.seq });
    return out;
  };

  const step = (t: GatewayModelState, e: GatewayModelEvent): GatewayModelState | undefined => {
    if (e.timer !== undefined) return wait(t, e.timer);
    const next = apply({ ...t, extra: { ...t.extra, ticks: [] } }, e);
    return next;
  };

  const initial: GatewayModelState = initialTimed(logic, clock, { fleetPending: false, lingering: false, ticks: [] });
  return {
    logic,
    initial,
    initialEvent: { type: 'xstate.init' } as GatewayModelEvent,
    key: (t: GatewayModelState) => `${serializeState(t.snap)}|${Number(t.extra.fleetPending)}${Number(t.extra.lingering)}`,
    events,
    step,
  };
}
