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
import type { AnyStateMachine, EventObject, SnapshotFrom } from 'xstate';
import { shardId, type shardMachine } from '../../machines/gateway.machine.js';
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
import { addTimer, initialCollecting, transitionCollecting, withTimers, type ModelClock, type Timed } from './model-timeline.js';

export type GatewaySnapshot = SnapshotFrom<GatewayLogic>;
export type ShardSnapshot = SnapshotFrom<typeof shardMachine>;
/** The gateway as the model sees it: the root, and its shard child once the root serves. */
export interface GatewayPair {
  readonly root: GatewaySnapshot;
  readonly shard: ShardSnapshot | undefined;
}

export interface Env {
  /** The fleet's bulk reconcile is waiting at the data plane: its completion is DATAPLANE.CONVERGED. */
  readonly fleetPending: boolean;
  /** Writes aborted on leaving `leader` that have not come back: stepping down waits for them. */
  readonly lingering: boolean;
  /** How the wait that led here passed (empty for other events): each instant, and whether a renewal was answered then. */
  readonly ticks: ReadonlyArray<{ at: number; renew: boolean }>;
}
export type GatewayModelState = Timed<GatewayPair, Env>;
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
    namespace: 'kube-system',
    self: podRef('kube-system', IDENTITY),
    ownerKey: leaseKey('kube-system', config.leaderElectionID),
    host,
    adapters,
    work: shardWork(config, 'kube-system'),
    failovers: [new FailoverTrace(trace.getTracer('gateway-model'))],
    metrics: sharedMetrics,
    log: silent,
  });
  return { logic, host };
}

// Counters (attempts, timestamps) are not states; flags that change behaviour are.
export const serializeState = (p: GatewayPair): string => {
  const r = p.root.context;
  const c = p.shard?.context;
  const shard = c === undefined || p.shard === undefined ? '-' : `${JSON.stringify(p.shard.value)}|${[c.shuttingDown, c.routesReassertPending, c.dataPlaneConverged || c.dataPlaneGraceOver, c.routesInPlace && c.vtepConfigInPlace, c.leaderReadyAnnounced, c.preferred, c.preferredAliveAt !== undefined && c.termStartedAt !== undefined && c.preferredAliveAt > c.termStartedAt].map(Number).join('')}`;
  return `${JSON.stringify(p.root.value)}|${[r.dataPlaneConverged || r.dataPlaneGraceOver].map(Number).join('')}/${shard}`;
};

/** The pair a live gateway shows (the root actor's snapshot and its shard child's). */
export function livePair(root: { getSnapshot(): GatewaySnapshot }): GatewayPair {
  const snap = root.getSnapshot();
  const child = (snap.children as Record<string, { getSnapshot(): unknown } | undefined>)[shardId(0)];
  return { root: snap, shard: child?.getSnapshot() as ShardSnapshot | undefined };
}

/** The actors running in the pair (the root's and its shard's), by id. */
export function runningActors(p: GatewayPair): Record<string, unknown> {
  return { ...(p.root.children as Record<string, unknown>), ...((p.shard?.children ?? {}) as Record<string, unknown>) };
}

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
    writeVtepConfig: [
      done('writeVtepConfig'),
      error('writeVtepConfig', failure('409 Conflict, retries spent')),
      error('writeVtepConfig', failure('owned by Lease other-ns/x', 'OWNED_ELSEWHERE')),
      // With shards: the shard's own endpoints edited by hand (their fields another manager's).
      error('writeVtepConfig', failure('CiliumVTEPConfig endpoints edited by kubectl-edit', 'ENDPOINTS_EDITED')),
    ],
    releaseLease: [done('releaseLease'), error('releaseLease', failure('503 Service Unavailable'))],
  };
}

const WRITERS = ['programRouteTables', 'writeVtepConfig'] as const;
const RENEW_INTERVAL = /^xstate\.after\.renewInterval\./;
const FLEET_RESYNC = 'fleet.resync';
// Events production delivers to the root (init actors' outcomes, the fleet's word, SIGTERM, placement).
const ROOT_EVENTS = /^(xstate\.(done|error)\.actor\.(ensureDevice|checkForwarding|discoverCloud)|DATAPLANE\..*|SHUTDOWN|PLACEMENT\.CHANGED)$/;

export function gatewayModel() {
  const clock: ModelClock = { t: 0 };
  const { logic } = buildGateway(adapterDoubles({ now: () => clock.t }).adapters);
  const fleetDelays = (logic.implementations.actors.fleet as unknown as { implementations: { delays: Record<string, unknown> } }).implementations.delays;
  const resyncMs = fleetDelays.resyncPeriod as number;
  const shardLogic = logic.implementations.actors.shard as unknown as AnyStateMachine;

  /** One event on one machine of the pair, and what it sends the other (delivered after, in order). */
  const deliver = (t: GatewayModelState, owner: 'root' | 'shard', first: EventObject): GatewayModelState => {
    const queue: Array<['root' | 'shard', EventObject]> = [[owner, first]];
    let out = t;
    while (queue.length > 0) {
      const [to, e] = queue.shift() as ['root' | 'shard', EventObject];
      if (to === 'root') {
        const r = transitionCollecting<GatewaySnapshot>(logic, clock, out.now, out.snap.root, e);
        out = withTimers({ ...out, snap: { ...out.snap, root: r.snap } }, r.actions, 'root');
        for (const a of r.actions) {
          if (a.type === 'xstate.spawnChild' && a.params?.src === 'shard') {
            const c = initialCollecting<ShardSnapshot>(shardLogic, clock, out.now, a.params.input);
            out = withTimers({ ...out, snap: { ...out.snap, shard: c.snap } }, c.actions, 'shard');
          } else if (a.type === 'xstate.sendTo' && a.params?.targetId === shardId(0) && a.params.event !== undefined) queue.push(['shard', a.params.event]);
        }
      } else {
        const shard = out.snap.shard;
        if (shard === undefined || shard.status !== 'active') continue;
        const r = transitionCollecting<ShardSnapshot>(shardLogic, clock, out.now, shard, e);
        out = withTimers({ ...out, snap: { ...out.snap, shard: r.snap } }, r.actions, 'shard');
        // sendParent (SHARD.STOPPED)
        for (const a of r.actions) if (a.type === 'xstate.sendTo' && a.params?.targetId === '#_parent' && a.params.event !== undefined) queue.push(['root', a.params.event]);
      }
    }
    return out;
  };

  const apply = (t: GatewayModelState, e: EventObject, owner?: string): GatewayModelState => {
    const to = owner === 'root' || owner === 'shard' ? owner : ROOT_EVENTS.test(e.type) || t.snap.shard === undefined ? 'root' : 'shard';
    const next = deliver(t, to, e);
    const was = runningActors(t.snap);
    const is = runningActors(next.snap);
    // A write stopped before it finished (leaving `leader`, ownership refused) was aborted and is out there still.
    const aborted = WRITERS.some((id) => was[id] !== undefined && is[id] !== was[id] && !e.type.endsWith(`.actor.${id}`));
    let env = next.extra;
    if (aborted) env = { ...env, lingering: true };
    if (e.type === 'xstate.done.actor.ensureDevice') env = { ...env, fleetPending: true };
    if (e.type === 'xstate.done.actor.settleWrites') env = { ...env, lingering: false };
    let out: GatewayModelState = { ...next, extra: env };
    if (e.type === 'DATAPLANE.CONVERGED') out = addTimer({ ...out, extra: { ...env, fleetPending: false } }, FLEET_RESYNC, { type: FLEET_RESYNC }, resyncMs);
    // settleWrites waits for the aborted writes only: with none out, stepping down goes on at once.
    if (out.snap.shard?.matches({ steppingDown: 'settling' }) === true && !out.extra.lingering) out = apply(out, { type: 'xstate.done.actor.settleWrites' }, 'shard');
    return out;
  };

  const renewed = (t: GatewayModelState): GatewayModelState => apply(t, { type: 'xstate.done.actor.renewLease', output: { ...lease.held, renewedAt: t.now } } as EventObject, 'shard');

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
          t = apply(t, x.event, x.owner);
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
    if (t.snap.root.status !== 'active') return [];
    const running = runningActors(t.snap);
    const out: GatewayModelEvent[] = [];
    for (const [id, outcomes] of Object.entries(actorOutcomes(t.now))) if (running[id] !== undefined) out.push(...outcomes);
    if (running.settleWrites !== undefined && t.extra.lingering) out.push({ type: 'xstate.done.actor.settleWrites' });
    if (running.watchLease !== undefined) out.push({ type: 'LEASE.FREE' }, { type: 'LEASE.LOST', holder: 'gw-b' });
    if (running.watchLeaderObjects !== undefined) out.push({ type: 'LEADER.REASSERT', reason: 'CiliumVTEPConfig deleted' });
    if (t.extra.fleetPending) out.push({ type: 'DATAPLANE.CONVERGED' });
    // The membership watch's word on this shard (with more than one shard): preferred here; another
    // gateway preferred, seen alive now; another preferred, not seen since it joined.
    if (t.snap.shard?.status === 'active' && t.snap.root.matches('serving')) {
      out.push({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: true }, { type: 'PLACEMENT.CHANGED', shard: 0, preferred: false, preferredAliveAt: t.now }, { type: 'PLACEMENT.CHANGED', shard: 0, preferred: false });
    }
    out.push({ type: 'SHUTDOWN' });
    for (const x of t.timers) if (x.id !== FLEET_RESYNC) out.push({ ...x.event, timer: x.seq });
    return out;
  };

  const step = (t: GatewayModelState, e: GatewayModelEvent): GatewayModelState | undefined => {
    if (e.timer !== undefined) return wait(t, e.timer);
    const { timer: _timer, ...event } = e;
    return apply({ ...t, extra: { ...t.extra, ticks: [] } }, event);
  };

  const root = initialCollecting<GatewaySnapshot>(logic, clock, 0, { shards: 1 });
  const initial: GatewayModelState = withTimers({ snap: { root: root.snap, shard: undefined }, now: 0, timers: [], seq: 0, extra: { fleetPending: false, lingering: false, ticks: [] } }, root.actions, 'root');
  return {
    logic,
    initial,
    initialEvent: { type: 'xstate.init' } as GatewayModelEvent,
    key: (t: GatewayModelState) => `${serializeState(t.snap)}|${Number(t.extra.fleetPending)}${Number(t.extra.lingering)}`,
    events,
    step,
  };
}
