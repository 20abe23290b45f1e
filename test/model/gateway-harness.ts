// A real actor of the gateway machine whose effects are recording doubles:
// each invoked effect stays "in flight" until the test sends its done/error
// event, and records when the machine aborts it. Delays run on a simulated
// clock, so only the events a test sends move the machine.
import { createActor, fromCallback, fromPromise, SimulatedClock, type PromiseActorLogic } from 'xstate';
import { gatewayMachine, type GatewayEvent, type LeaseOutcome, type OwnershipOutcome, type RouteStrategy, type RouteTablesInput, type VtepConfigInput } from '../../machines/gateway.machine.js';

export type EffectName =
  | 'initialise'
  | 'watchLease'
  | 'watchLeaderObjects'
  | 'tryAcquireLease'
  | 'renewLease'
  | 'programRouteTables'
  | 'checkOwnership'
  | 'writeVtepConfig'
  | 'releaseLease';

export interface GatewayHarness {
  readonly actor: ReturnType<typeof createActor<typeof gatewayMachine>>;
  readonly clock: SimulatedClock;
  /** Effects currently in flight (started and neither settled nor aborted). */
  readonly running: Set<EffectName>;
  /** Effects aborted by the machine leaving their state. */
  readonly aborted: EffectName[];
  readonly started: EffectName[];
  /** The strategy each route-table pass was started with, in order. */
  readonly routeStrategies: RouteStrategy[];
  /** The owner annotation each CiliumVTEPConfig write was allowed to replace, in order. */
  readonly replaceableOwners: Array<string | undefined>;
  /** Toggled by announceLeader / announceNotLeader. */
  leaderActive: boolean;
  readonly announcements: string[];
}

export function gatewayHarness(delays: Partial<Record<string, number>> = {}): GatewayHarness {
  const h = {
    running: new Set<EffectName>(),
    aborted: [] as EffectName[],
    started: [] as EffectName[],
    routeStrategies: [] as RouteStrategy[],
    replaceableOwners: [] as Array<string | undefined>,
    leaderActive: false,
    announcements: [] as string[],
  };
  const inFlight = <T, I = unknown>(name: EffectName, onInput?: (input: I) => void): PromiseActorLogic<T, I> =>
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
  const announce = (what: string) => () => {
    h.announcements.push(what);
    if (what === 'leader') h.leaderActive = true;
    if (what === 'notLeader') h.leaderActive = false;
  };
  const machine = gatewayMachine.provide({
    actors: {
      initialise: inFlight<void>('initialise'),
      watchLease: fromCallback<GatewayEvent>(() => {
        h.running.add('watchLease');
        h.started.push('watchLease');
        return () => {
          h.running.delete('watchLease');
          h.aborted.push('watchLease');
        };
      }),
      watchLeaderObjects: fromCallback<GatewayEvent>(() => {
        h.running.add('watchLeaderObjects');
        h.started.push('watchLeaderObjects');
        return () => {
          h.running.delete('watchLeaderObjects');
          h.aborted.push('watchLeaderObjects');
        };
      }),
      tryAcquireLease: inFlight<LeaseOutcome>('tryAcquireLease'),
      renewLease: inFlight<LeaseOutcome>('renewLease'),
      programRouteTables: inFlight<void, RouteTablesInput>('programRouteTables', (i) => h.routeStrategies.push(i.strategy)),
      checkOwnership: inFlight<OwnershipOutcome>('checkOwnership'),
      writeVtepConfig: inFlight<void, VtepConfigInput>('writeVtepConfig', (i) => h.replaceableOwners.push(i.replaceableOwner)),
      releaseLease: inFlight<void>('releaseLease'),
    },
    actions: {
      announceStandby: announce('standby'),
      announceLeader: announce('leader'),
      announceLeaderReady: announce('leaderReady'),
      announceNotLeader: announce('notLeader'),
      announceStopped: announce('stopped'),
      announceOwnershipConflict: announce('ownershipConflict'),
      announceOwnershipResolved: announce('ownershipResolved'),
    },
    delays: {
      retryPeriod: 1000,
      renewDeadline: 2000,
      initRetryDelay: 1000,
      leaderWorkRetryDelay: 500,
      driftRepairPeriod: 60_000,
      releaseTimeout: 1000,
      ...delays,
    },
  });
  const clock = new SimulatedClock();
  const actor = createActor(machine, { clock });
  return Object.assign(h, { actor, clock });
}

/** The effects the contract says must be in flight in a given state. */
export function expectedEffects(snapshot: ReturnType<GatewayHarness['actor']['getSnapshot']>): EffectName[] {
  const out: EffectName[] = [];
  if (snapshot.matches('initialising')) out.push('initialise');
  if (snapshot.matches('electing') || snapshot.matches('leader')) out.push('watchLease');
  if (snapshot.matches('leader')) out.push('watchLeaderObjects');
  if (snapshot.matches({ electing: 'acquiring' })) out.push('tryAcquireLease');
  if (snapshot.matches({ leader: { lease: 'renewing' } })) out.push('renewLease');
  if (snapshot.matches({ leader: { work: 'checkingOwnership' } })) out.push('checkOwnership');
  if (snapshot.matches({ leader: { work: { asserting: { routeTables: 'programming' } } } })) out.push('programRouteTables');
  if (snapshot.matches({ leader: { work: { asserting: { vtepConfig: 'writing' } } } })) out.push('writeVtepConfig');
  if (snapshot.matches('steppingDown')) out.push('releaseLease');
  return out.sort();
}
