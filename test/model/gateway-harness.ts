// A real actor of the gateway machine, with its one shard child (the default,
// --shards 1), whose effects are recording doubles: each invoked effect stays
// "in flight" until the test sends its done/error event, and records when the
// machine aborts it. Delays are production's, as runtime/wiring/gateway-logic.ts
// resolves them for the default flags (gatewayDelays, shardDelays; backoff
// jitter at its top, so a retry waits the plain backoff), on a simulated clock,
// so only the events a test sends and the time it advances move the machine.
// `actor` sends each event where production's would arrive (the root's init
// actors, the data plane, SIGTERM: the root; the rest: the shard) and shows the
// two as one (the shard's state while the root serves).
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyActorRef, type PromiseActorLogic } from 'xstate';
import {
  gatewayMachine,
  shardId,
  shardMachine,
  type GatewayEvent,
  type LeaseOutcome,
  type AcquireInput,
  type ShardContext,
  type ShardEvent,
  type ShardRef,
  type OwnershipOutcome,
  type RouteStrategy,
  type RouteTablesInput,
  type VtepConfigInput,
} from '../../machines/gateway.machine.js';
import { gatewayDelays, shardDelays } from '../../runtime/wiring/gateway-logic.js';
import { modelConfig } from '../support/gateway-model.js';

export type EffectName =
  | 'ensureDevice'
  | 'checkForwarding'
  | 'discoverCloud'
  | 'watchDevice'
  | 'watchLease'
  | 'watchLeaderObjects'
  | 'tryAcquireLease'
  | 'renewLease'
  | 'checkOwnership'
  | 'programRouteTables'
  | 'writeVtepConfig'
  | 'settleWrites'
  | 'releaseLease'
  | 'holdMembership'
  | 'watchPlacement'
  | 'leaveMembership';

type Root = ReturnType<typeof createActor<typeof gatewayMachine>>;
type RootSnapshot = ReturnType<Root['getSnapshot']>;

/** The root and its shard as one: events routed as production's arrive, the state shown of both. */
export interface HarnessActor {
  start(): void;
  stop(): void;
  send(event: { type: string; [k: string]: unknown }): void;
  getSnapshot(): {
    readonly status: RootSnapshot['status'];
    /** The shard's state while the root serves or stops; the root's before. */
    readonly value: unknown;
    readonly context: RootSnapshot['context'] & Partial<ShardContext>;
    matches(value: unknown): boolean;
  };
  /** The shard child, once the root serves. */
  readonly shard: AnyActorRef | undefined;
  readonly root: Root;
}

export interface GatewayHarness {
  readonly actor: HarnessActor;
  readonly clock: SimulatedClock;
  /** Effects currently in flight (started and neither settled nor aborted). */
  readonly running: Set<EffectName>;
  /** Effects aborted by the machine leaving their state. */
  readonly aborted: EffectName[];
  readonly started: EffectName[];
  /** The strategy each route-table pass was started with, in order. */
  readonly routeStrategies: RouteStrategy[];
  /** What each acquire attempt was given (shard, and whether it yields to the preferred gateway). */
  readonly acquireInputs: AcquireInput[];
  /** The owner annotation each CiliumVTEPConfig write was allowed to replace, in order. */
  readonly replaceableOwners: Array<string | undefined>;
  /** Whether each CiliumVTEPConfig write was to take the shard's endpoints back (reclaim), in order. */
  readonly reclaims: boolean[];
  /** Toggled by announceLeader / announceNotLeader. */
  leaderActive: boolean;
  /** Set by the fence action, cleared when a term starts. */
  fenced: boolean;
  /** Events the gateway passed to its fleet child (a recording double here). */
  readonly fleetEvents: Array<{ type: string }>;
  readonly announcements: string[];
  /** The stepDownCause announceNotLeader saw, per announcement. */
  readonly notLeaderCauses: Array<string | undefined>;
}

export function gatewayHarness({ shards = 1 }: { shards?: number } = {}): GatewayHarness {
  const clock = new SimulatedClock();
  const h = {
    running: new Set<EffectName>(),
    aborted: [] as EffectName[],
    started: [] as EffectName[],
    routeStrategies: [] as RouteStrategy[],
    acquireInputs: [] as AcquireInput[],
    replaceableOwners: [] as Array<string | undefined>,
    reclaims: [] as boolean[],
    leaderActive: false,
    fenced: false,
    fleetEvents: [] as Array<{ type: string }>,
    announcements: [] as string[],
    notLeaderCauses: [] as Array<string | undefined>,
  };
  const inFlight = <T, I = ShardRef>(name: EffectName, onInput?: (input: I) => void): PromiseActorLogic<T, I> =>
    fromPromise<T, I>(
      ({ signal, input }) =>
        new Promise<T>((_resolve, reject) => {
          onInput?.(input);
          h.running.add(name);
          h.started.push(name);
          signal.addEventListener(
            'abort',
            () => {
              h.running.delete(name);
              h.aborted.push(name);
              reject(new Error(`${name} aborted`));
            },
            { once: true },
          );
        }),
    );
  const watch = <E extends { type: string } = ShardEvent, I = ShardRef>(name: EffectName) =>
    fromCallback<E, I>(() => {
      h.running.add(name);
      h.started.push(name);
      return () => {
        h.running.delete(name);
        h.aborted.push(name);
      };
    });
  const announce = (what: string) => () => {
    h.announcements.push(what);
    if (what === 'leader') {
      h.leaderActive = true;
      h.fenced = false;
    }
    if (what === 'notLeader') h.leaderActive = false;
  };
  const fleetDouble = fromCallback<{ type: string }>(({ receive }) => {
    receive((e) => h.fleetEvents.push(e));
  });
  const shard = shardMachine.provide({
    actors: {
      watchLease: watch('watchLease'),
      watchLeaderObjects: watch('watchLeaderObjects'),
      tryAcquireLease: inFlight<LeaseOutcome, AcquireInput>('tryAcquireLease', (i) => h.acquireInputs.push(i)),
      renewLease: inFlight<LeaseOutcome>('renewLease'),
      checkOwnership: inFlight<OwnershipOutcome>('checkOwnership'),
      programRouteTables: inFlight<void, RouteTablesInput>('programRouteTables', (i) => h.routeStrategies.push(i.strategy)),
      writeVtepConfig: inFlight<void, VtepConfigInput>('writeVtepConfig', (i) => {
        h.replaceableOwners.push(i.replaceableOwner);
        h.reclaims.push(i.reclaim);
      }),
      settleWrites: inFlight<void>('settleWrites'),
      releaseLease: inFlight<void>('releaseLease'),
    },
    actions: {
      announceStandby: announce('standby'),
      announceLeader: announce('leader'),
      announceLeaderReady: announce('leaderReady'),
      announceNotLeader: ({ context }) => {
        // The fence must have run first.
        h.announcements.push(h.fenced ? 'notLeader' : 'notLeader (unfenced)');
        h.notLeaderCauses.push(context.stepDownCause);
        h.leaderActive = false;
      },
      announceStopped: announce('shardStopped'),
      announceOwnershipConflict: announce('ownershipConflict'),
      announceOwnershipResolved: announce('ownershipResolved'),
      fence: () => {
        h.fenced = true;
        h.announcements.push('fence');
      },
    },
    delays: shardDelays({ config: modelConfig(), clock: { now: () => clock.now() }, random: () => 1 }),
  });
  const machine = gatewayMachine.provide({
    actors: {
      // The fleet has model tests of its own (fleet.model.test.ts); here it only records what it is told.
      fleet: fleetDouble as never,
      shard,
      watchDevice: watch<GatewayEvent, unknown>('watchDevice'),
      ensureDevice: inFlight<void, unknown>('ensureDevice'),
      checkForwarding: inFlight<void, unknown>('checkForwarding'),
      discoverCloud: inFlight<void, unknown>('discoverCloud'),
      holdMembership: watch<GatewayEvent, unknown>('holdMembership'),
      watchPlacement: watch<GatewayEvent, unknown>('watchPlacement'),
      leaveMembership: inFlight<void, unknown>('leaveMembership'),
    },
    actions: {
      announceStopped: announce('stopped'),
      announceFailed: announce('failed'),
    },
    delays: gatewayDelays({ random: () => 1 }),
  });
  const root = createActor(machine, { clock, input: { shards } });
  return Object.assign(h, { actor: harnessActor(root), clock });
}

const ROOT_EVENTS = /^(xstate\.(done|error)\.actor\.(ensureDevice|checkForwarding|discoverCloud|leaveMembership)|NODES\..*|DATAPLANE\..*|DEVICE\.REPAIRED|SHUTDOWN|PLACEMENT\.CHANGED)$/;

function harnessActor(root: Root): HarnessActor {
  const shard = (): AnyActorRef | undefined => (root.getSnapshot().children as Record<string, AnyActorRef | undefined>)[shardId(0)];
  return {
    root,
    get shard() {
      return shard();
    },
    start: () => root.start(),
    stop: () => root.stop(),
    send: (event) => {
      const child = shard();
      if (ROOT_EVENTS.test(event.type) || child === undefined) root.send(event as never);
      else child.send(event);
    },
    getSnapshot: () => {
      const r = root.getSnapshot();
      const child = shard();
      const s = child?.getSnapshot() as { value: unknown; context: ShardContext; matches(v: unknown): boolean } | undefined;
      return {
        status: r.status,
        value: s !== undefined && (r.matches('serving') || r.matches('stopping')) ? s.value : r.value,
        context: { ...r.context, ...(s?.context ?? {}) },
        matches: (v) => r.matches(v as never) || (s?.matches(v) ?? false),
      };
    },
  };
}

type Snapshot = Pick<ReturnType<HarnessActor['getSnapshot']>, 'status' | 'matches'>;

/** The effects the contract says must be in flight in a given state. */
export function expectedEffects(snapshot: Snapshot): EffectName[] {
  const out: EffectName[] = [];
  if (snapshot.status === 'active') out.push('watchDevice');
  if (snapshot.matches({ initialising: 'device' })) out.push('ensureDevice');
  if (snapshot.matches({ initialising: 'forwarding' })) out.push('checkForwarding');
  if (snapshot.matches({ initialising: 'cloudIdentity' })) out.push('discoverCloud');
  if (snapshot.matches('electing') || snapshot.matches('leader')) out.push('watchLease');
  if (snapshot.matches('leader')) out.push('watchLeaderObjects');
  if (snapshot.matches({ electing: 'acquiring' })) out.push('tryAcquireLease');
  if (snapshot.matches({ leader: { lease: 'renewing' } })) out.push('renewLease');
  if (snapshot.matches({ leader: { vtepConfig: 'checkingOwnership' } })) out.push('checkOwnership');
  if (snapshot.matches({ leader: { vtepConfig: 'writing' } }) || snapshot.matches({ leader: { vtepConfig: 'reclaiming' } })) out.push('writeVtepConfig');
  if (snapshot.matches({ leader: { routeTables: 'takingOver' } }) || snapshot.matches({ leader: { routeTables: 'reasserting' } })) out.push('programRouteTables');
  if (snapshot.matches({ steppingDown: 'settling' })) out.push('settleWrites');
  if (snapshot.matches({ steppingDown: 'releasing' })) out.push('releaseLease');
  if (snapshot.matches({ serving: 'member' })) out.push('holdMembership', 'watchPlacement');
  if (snapshot.matches({ stopping: 'leaving' })) out.push('leaveMembership');
  return out.sort();
}

/** Events that move a fresh harness to leading, with ownership granted (no writes settled yet). */
export function toLeader(h: GatewayHarness): void {
  h.actor.send({ type: 'xstate.done.actor.ensureDevice' });
  h.actor.send({ type: 'xstate.done.actor.checkForwarding' });
  h.actor.send({ type: 'xstate.done.actor.discoverCloud' });
  h.actor.send({ type: 'DATAPLANE.CONVERGED' });
  h.actor.send({ type: 'xstate.done.actor.tryAcquireLease', output: { held: true, outcome: 'acquired', holder: 'me', renewedAt: h.clock.now() } });
  h.actor.send({ type: 'xstate.done.actor.checkOwnership', output: { write: true, why: 'unowned', currentOwner: undefined } });
}
