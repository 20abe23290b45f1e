// A live gateway for replaying model paths: the machine provideGatewayMachine
// builds for production, over the adapter doubles (gateway-adapters.ts), on a
// SimulatedClock. A model event is made to happen the way it happens in
// production: an actor's outcome by the adapter answering its calls, a notice
// by the watch seeing a change, the fleet's convergence by the data plane
// finishing the fleet's bulk reconcile, and a timer by the clock advancing to
// it (answering on the way the renewals the model's wait answered).
import { createActor, SimulatedClock, type AnyActorRef, type AnyStateMachine, type InspectionEvent } from 'xstate';
import type { GatewayLogic } from '../../runtime/wiring/gateway-logic.js';
import { adapterDoubles, DEVICE, ENI, IDENTITY, IDENTITY_DOC, NO_RULE_CHANGES, NOTHING_RECONCILED, OWNED_ELSEWHERE, PEER, type AdapterDoubles, type Op, type OpKind } from './gateway-adapters.js';
import { buildGateway, livePair, runningActors, type GatewayModelEvent, type GatewayModelState } from './gateway-model.js';
import { recordingGuards, type GuardTally } from './model-paths.js';

export interface LiveGateway {
  readonly actor: ReturnType<typeof createActor<GatewayLogic>>;
  readonly clock: SimulatedClock;
  readonly d: AdapterDoubles;
  /** The strategy of each route-table pass, as the EC2 calls show it (a pass that reads first). */
  readonly routeStrategies: Array<'write-first' | 'describe-first'>;
  start(): Promise<void>;
  /** Makes `e` happen; `to` is the model state it leads to (for a wait: the instants it passes). */
  drive(e: GatewayModelEvent, to: GatewayModelState): Promise<void>;
  /** Stops the gateway; a route-table pass it stopped leaves its EC2 writes to run on (abandoned). */
  stop(): void;
}

/** Lets every promise chain the last step started run to its end (they take microtasks only). */
export function flush(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

const ROUTES = [{ DestinationCidrBlock: '198.18.0.0/16', NetworkInterfaceId: ENI, State: 'active' }];

/** What the adapter answers to each call, for an actor's successful outcome. */
function answer(op: Op, output: unknown): void {
  switch (op.what) {
    case 'ensureDevice':
      return op.resolve(DEVICE);
    case 'ensureRules':
      return op.resolve(NO_RULE_CHANGES);
    case 'ipForwardEnabled':
      return op.resolve(true);
    case 'discoverInstanceIdentity':
      return op.resolve(IDENTITY_DOC);
    case 'tryAcquireOrRenew': {
      const o = output as { held: boolean; outcome: string; holder?: string; renewedAt?: number; error?: unknown };
      return op.resolve({ leaseTransitions: 1, heldUntil: undefined, otherExpiresAt: undefined, record: undefined, ...o, holder: o.holder, error: o.error });
    }
    case 'get CiliumVTEPConfig':
      return op.resolve((output as { write: boolean }).write ? undefined : OWNED_ELSEWHERE);
    case 'DescribeRouteTablesCommand':
      return op.resolve({ RouteTables: [{ RouteTableId: 'rtb-0123456789abcdef0', Routes: ROUTES }] });
    case 'upsert CiliumVTEPConfig':
      return op.resolve({ action: 'created', resourceVersion: '1', conflicts: 0 });
    case 'release':
      return op.resolve(true);
    default:
      return op.resolve({}); // ReplaceRoute, CreateRoute
  }
}

/** What the adapter does for an actor's failure. */
function fail(op: Op, error: Error): void {
  if (op.what === 'ipForwardEnabled') return op.resolve(false); // the actor turns a 0 into its error
  if (op.kind === 'programRouteTables') {
    // A permission error: not retried, so the pass fails at once with it.
    return op.reject(Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } }));
  }
  op.reject(error);
}

/** The adapter call each running actor makes (the watches and settleWrites make none). */
export const EFFECT_CALLS: Readonly<Record<string, OpKind>> = {
  ensureDevice: 'ensureDevice',
  checkForwarding: 'checkForwarding',
  discoverCloud: 'discoverCloud',
  tryAcquireLease: 'leaseAttempt',
  renewLease: 'leaseAttempt',
  checkOwnership: 'checkOwnership',
  programRouteTables: 'programRouteTables',
  writeVtepConfig: 'writeVtepConfig',
  releaseLease: 'releaseLease',
};

/**
 * The machine, built once for many replays (building it is most of a short replay's cost): each
 * replay gets a fresh actor, clock and host facts, and adapters reset to nothing out.
 */
export function gatewayRig(guards: GuardTally): { replay(onInspect: (ev: InspectionEvent) => void): Promise<LiveGateway> } {
  let clock = new SimulatedClock();
  const d = adapterDoubles({ now: () => clock.now() });
  const { logic, host } = buildGateway(d.adapters);
  const shard = logic.implementations.actors.shard as unknown as AnyStateMachine;
  const machine = logic.provide({ actors: { shard: shard.provide({ guards: recordingGuards(shard, guards) }) as never }, guards: recordingGuards(logic, guards) });
  return {
    replay: async (onInspect) => {
      d.reset({ now: () => clock.now() });
      await flush();
      Object.assign(host, { device: undefined, cloud: undefined, informerSynced: false, converged: false });
      clock = new SimulatedClock();
      return liveGateway(createActor(machine, { clock, inspect: onInspect, input: { shards: 1 } }), clock, d);
    },
  };
}

function liveGateway(actor: ReturnType<typeof createActor<GatewayLogic>>, clock: SimulatedClock, d: AdapterDoubles): LiveGateway {
  const routeStrategies: Array<'write-first' | 'describe-first'> = [];
  // The root's children and its shard's (the shard's own actors: the lease attempts, the leader work).
  const child = (id: string): AnyActorRef | undefined => runningActors(livePair(actor))[id] as AnyActorRef | undefined;
  let lastPass: AnyActorRef | undefined;
  const notePass = (): void => {
    const pass = child('programRouteTables');
    if (pass === undefined || pass === lastPass) return;
    lastPass = pass;
    const first = d.pending('programRouteTables').at(-1);
    routeStrategies.push(first?.what === 'DescribeRouteTablesCommand' ? 'describe-first' : 'write-first');
  };

  /** Settles the calls of actor `id` with `settle` until the actor has finished. */
  const until = async (id: string, settle: (op: Op) => void): Promise<void> => {
    const ref = child(id);
    const kind = EFFECT_CALLS[id];
    for (let round = 0; round < 20 && ref !== undefined && child(id) === ref; round += 1) {
      if (kind !== undefined) for (const op of d.pending(kind)) settle(op);
      await flush();
    }
  };

  // A pass that stopped left its EC2 writes to run on: its caller gave them up. When a new pass
  // replaced it within the step, the old one's are those that were out before the step.
  const noteAbandoned = (passBefore: AnyActorRef | undefined, outBefore: readonly Op[]): void => {
    const pass = child('programRouteTables');
    if (pass === undefined) d.abandon('programRouteTables');
    else if (pass !== passBefore) d.abandon('programRouteTables', outBefore);
  };

  const drive = async (e: GatewayModelEvent, to: GatewayModelState): Promise<void> => {
    const passBefore = child('programRouteTables');
    const outBefore = d.pending('programRouteTables');
    try {
      await step(e, to);
    } finally {
      noteAbandoned(passBefore, outBefore);
    }
  };

  const step = async (e: GatewayModelEvent, to: GatewayModelState): Promise<void> => {
    const m = /^xstate\.(done|error)\.actor\.(.+)$/.exec(e.type);
    if (e.timer !== undefined) {
      for (const tick of to.extra.ticks) {
        clock.increment(tick.at - clock.now());
        await flush();
        notePass();
        if (tick.renew) {
          for (const op of d.pending('leaseAttempt')) op.resolve({ held: true, outcome: 'renewed', holder: IDENTITY, renewedAt: clock.now(), leaseTransitions: 1 });
          await flush();
        }
      }
    } else if (m?.[2] === 'settleWrites') {
      d.settleAborted();
      await flush();
    } else if (m !== null && m !== undefined) {
      const [, outcome, id] = m as unknown as [string, 'done' | 'error', string];
      const payload = e as unknown as { output?: unknown; error?: Error };
      await until(id, (op) => (outcome === 'done' ? answer(op, payload.output) : fail(op, payload.error ?? new Error(`${id} failed`))));
    } else if (e.type === 'LEASE.FREE') d.leaseSeen({ free: true });
    else if (e.type === 'LEASE.LOST') d.leaseSeen({ holder: PEER });
    else if (e.type === 'LEADER.REASSERT') d.vtepConfigSeen(undefined);
    else if (e.type === 'DATAPLANE.CONVERGED') for (const op of d.pending('reconcileKernel')) op.resolve(NOTHING_RECONCILED);
    else {
      const { timer: _timer, ...event } = e;
      actor.send(event as never); // SIGTERM, placement: the root takes them (and tells the shard)
    }
    await flush();
    notePass();
  };

  return {
    actor,
    clock,
    d,
    routeStrategies,
    start: async () => {
      actor.start();
      // The CiliumNode informer's first list (no hybrid nodes): the fleet converges once the device is there.
      actor.send({ type: 'NODES.SYNCED', vteps: [] });
      await flush();
    },
    drive,
    stop: () => {
      actor.stop();
      d.abandon('programRouteTables');
    },
  };
}
