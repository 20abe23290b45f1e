// The life of one shard on this gateway. With --shards 1 (the default) there is
// one shard and this is today's election; with more, every shard has its own
// Lease, and placement (machines/domain/placement.ts, from the membership
// watch) says which gateway should lead it.
//
//   electing       standby ⇄ acquiring; an unconverged data plane does not compete
//                  until the grace period is over (a converged peer should win); a
//                  gateway that placement does not prefer for the shard takes a free
//                  Lease only after the takeover grace (the preferred one goes first)
//   leader         lease: renews, retries an inconclusive renewal promptly, keeps
//                  the renew deadline. work: the CiliumVTEPConfig region checks
//                  ownership and writes; the route-table region takes over
//                  (write-first), checks again once the old leader's last write
//                  can have landed, then reasserts (describe-first) on drift and
//                  on change. Each region backs off on its own. When the preferred
//                  gateway is back (seen alive since this term began) and this
//                  term's writes are in place, the shard is handed over.
//   steppingDown   the fence (named action on leaving `leader`), then settling of
//                  the writes in flight (sent ones get their answer), then the release of the Lease
//
// One file over 350 lines on purpose: a shard's whole life is one statechart
// (the diagrams are generated from it); its contract is gateway.contract.ts.
//
// Pure statechart: every actor, action, guard and delay is referenced by name;
// the runtime provides the implementations (effects/), tests provide doubles.
// Every invoked actor is given the shard it works for. Leader work runs in
// actors invoked under `leader`: leaving it for any reason aborts them before
// anything else happens.
import { assign, cancel, fromCallback, fromPromise, raise, sendParent, setup } from 'xstate';
import {
  INCONCLUSIVE_OUTCOMES,
  isEndpointsEdited,
  isOwnedElsewhere,
  type AcquireInput,
  type LeaseOutcome,
  type OwnershipOutcome,
  type PlacementFacts,
  type RouteTablesInput,
  type ShardContext,
  type ShardEvent,
  type ShardInput,
  type ShardRef,
  type StepDownCause,
  type VtepConfigInput,
} from './gateway.contract.js';
import { backoffMs, DEFAULT_LEASE_TIMINGS, fixedDelays, TIMINGS } from './timings.js';

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why a term ends, from the event that ends it: the same causes the transitions out of `leader` assign. */
function stepDownCauseOf(event: { type: string }): StepDownCause | undefined {
  switch (event.type) {
    case 'LEASE.RENEW_DEADLINE_EXCEEDED':
      return 'renew-deadline';
    case 'SHUTDOWN':
      return 'shutdown';
    case 'LEASE.LOST':
    case 'xstate.done.actor.renewLease':
      return 'lease-lost';
    case 'PLACEMENT.CHANGED':
    case 'WORK.IN_PLACE':
      return 'hand-over';
    default:
      return undefined;
  }
}

function notProvided<TOutput, TInput = ShardRef>(name: string) {
  return fromPromise<TOutput, TInput>(() => Promise.reject(new Error(`actor "${name}" is not provided`)));
}

type ErrorParams = { error: unknown };
type LeaseParams = { outcome: LeaseOutcome };
type OwnershipParams = { outcome: OwnershipOutcome };
type PlacementParams = PlacementFacts;

const shardRef = ({ context }: { context: ShardContext }): ShardRef => ({ shard: context.shard });

export const shardMachine = setup({
  types: {
    context: {} as ShardContext,
    events: {} as ShardEvent,
    input: {} as ShardInput,
  },
  actors: {
    // Placeholders that name the job; runtime/ provides the effects, tests provide doubles.
    watchLease: fromCallback<ShardEvent, ShardRef>(() => {}),
    watchLeaderObjects: fromCallback<ShardEvent, ShardRef>(() => {}),
    tryAcquireLease: notProvided<LeaseOutcome, AcquireInput>('tryAcquireLease'),
    renewLease: notProvided<LeaseOutcome>('renewLease'),
    checkOwnership: notProvided<OwnershipOutcome>('checkOwnership'),
    programRouteTables: notProvided<void, RouteTablesInput>('programRouteTables'),
    writeVtepConfig: notProvided<void, VtepConfigInput>('writeVtepConfig'),
    settleWrites: notProvided<void>('settleWrites'),
    releaseLease: notProvided<void>('releaseLease'),
  },
  actions: {
    // Observability hooks (metrics, Events, logs): no decisions, provided by the runtime.
    announceStandby: () => {},
    announceLeader: () => {},
    announceLeaderReady: () => {},
    announceNotLeader: () => {},
    announceStopped: () => {},
    /** The root counts its stopped shards: the gateway stops with the last. */
    tellRootStopped: sendParent(({ context }) => ({ type: 'SHARD.STOPPED', shard: context.shard })),
    announceOwnershipConflict: () => {},
    announceOwnershipResolved: () => {},
    announceWorkRetry: () => {},
    /**
     * The fence: from here on no leader write of this shard may leave this process (the runtime marks
     * the shard's lock not held and aborts every write in flight). Runs first on leaving `leader`.
     */
    fence: () => {},
    scheduleRenewDeadline: raise({ type: 'LEASE.RENEW_DEADLINE_EXCEEDED' }, { id: 'renewDeadline', delay: 'renewDeadline' }),
    cancelRenewDeadline: cancel('renewDeadline'),
    noteDataPlaneConverged: assign({ dataPlaneConverged: true }),
    endDataPlaneGrace: assign({ dataPlaneGraceOver: true }),
    recordPlacement: assign((_, params: PlacementParams) => ({ preferred: params.preferred, preferredAliveAt: params.preferred ? undefined : params.preferredAliveAt })),
    recordRenewal: assign((_, params: LeaseParams) => ({ lastRenewAt: params.outcome.renewedAt, leaseExpiresAt: undefined })),
    recordHolder: assign((_, params: LeaseParams) => ({ leaseHolder: params.outcome.holder, leaseExpiresAt: params.outcome.otherExpiresAt })),
    recordLeaseError: assign((_, params: LeaseParams) => ({ lastError: params.outcome.error === undefined ? params.outcome.outcome : errorText(params.outcome.error) })),
    recordError: assign((_, params: ErrorParams) => ({ lastError: errorText(params.error) })),
    startTerm: assign({
      lastError: undefined,
      stepDownCause: undefined,
      routeAttempts: 0,
      vtepAttempts: 0,
      routesInPlace: false,
      vtepConfigInPlace: false,
      leaderReadyAnnounced: false,
      routesReassertPending: false,
      termStartedAt: ({ context }) => context.lastRenewAt,
    }),
    markLeaderReadyAnnounced: assign({ leaderReadyAnnounced: true }),
    countRouteAttempt: assign({ routeAttempts: ({ context }) => context.routeAttempts + 1 }),
    countVtepAttempt: assign({ vtepAttempts: ({ context }) => context.vtepAttempts + 1 }),
    markRoutesInPlace: assign({ routeAttempts: 0, routesInPlace: true }),
    markVtepConfigInPlace: assign({ vtepAttempts: 0, vtepConfigInPlace: true }),
    markRoutesReassertPending: assign({ routesReassertPending: true }),
    clearRoutesReassertPending: assign({ routesReassertPending: false }),
    raiseWorkInPlace: raise({ type: 'WORK.IN_PLACE' }),
    raiseOwnershipGranted: raise({ type: 'OWNERSHIP.GRANTED' }),
    raiseOwnershipRefused: raise({ type: 'OWNERSHIP.REFUSED' }),
    /**
     * The cause, named on the way out of `leader` before announceNotLeader: exit actions run before
     * the transition's own (causeRenewDeadline, causeLeaseLost, causeShutdown, causeHandOver), so
     * without it the announcement (log line, Event, failover trace) would not know why.
     */
    noteStepDownCause: assign({ stepDownCause: ({ context, event }) => stepDownCauseOf(event) ?? context.stepDownCause }),
    causeRenewDeadline: assign({ stepDownCause: 'renew-deadline' as const }),
    causeLeaseLost: assign({ stepDownCause: 'lease-lost' as const }),
    causeShutdown: assign({ stepDownCause: 'shutdown' as const, shuttingDown: true }),
    causeHandOver: assign({ stepDownCause: 'hand-over' as const }),
    recordReplaceableOwner: assign((_, params: OwnershipParams) => ({ replaceableOwner: params.outcome.currentOwner })),
    forgetReplaceableOwner: assign({ replaceableOwner: undefined }),
    recordOwnershipRefusal: assign((_, params: OwnershipParams) => ({ lastError: params.outcome.why })),
  },
  guards: {
    leaseHeld: (_, params: LeaseParams) => params.outcome.held,
    /** The attempt neither renewed nor found another holder (5xx, timeout, 409), whether or not the lease is still locally valid. */
    attemptInconclusive: (_, params: LeaseParams) => INCONCLUSIVE_OUTCOMES.has(params.outcome.outcome),
    shuttingDown: ({ context }) => context.shuttingDown,
    ownedElsewhere: (_, params: ErrorParams) => isOwnedElsewhere(params.error),
    /** The shard's own endpoints were edited by hand (their fields now another manager's): take them back. */
    endpointsEdited: (_, params: ErrorParams) => isEndpointsEdited(params.error),
    ownershipGranted: (_, params: OwnershipParams) => params.outcome.write,
    /** Compete for the lease: the data plane has converged, or the grace period for it is over. */
    mayCompete: ({ context }) => context.dataPlaneConverged || context.dataPlaneGraceOver,
    /** Placement now prefers this gateway for the shard, and it may compete: try at once. */
    preferredNow: ({ context }, params: PlacementParams) => params.preferred && (context.dataPlaneConverged || context.dataPlaneGraceOver),
    /** Placement now prefers this gateway and did not before (the attempt running yields to another). */
    becamePreferred: ({ context }, params: PlacementParams) => params.preferred && !context.preferred,
    routesReassertPending: ({ context }) => context.routesReassertPending,
    /** Both regions' writes are in place for the first time this term (leader ready). */
    firstTimeAllInPlace: ({ context }) => context.routesInPlace && context.vtepConfigInPlace && !context.leaderReadyAnnounced,
    /**
     * Hand the shard over: placement prefers another gateway, that gateway has been seen alive since
     * this term began (so it is back, not a member whose Lease has yet to lapse), and this term's
     * writes are in place (traffic flows here until the preferred gateway's writes replace them).
     */
    handOverDue: ({ context }, params: PlacementParams & { inPlace: boolean }) =>
      !params.preferred && params.inPlace && params.preferredAliveAt !== undefined && context.termStartedAt !== undefined && params.preferredAliveAt > context.termStartedAt,
  },
  delays: {
    // Production's defaults (machines/timings.ts); the runtime passes the configured lease timings.
    ...fixedDelays(DEFAULT_LEASE_TIMINGS),
    routeTablesRetryDelay: ({ context }) => backoffMs(context.routeAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs),
    vtepConfigRetryDelay: ({ context }) => backoffMs(context.vtepAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs),
  },
}).createMachine({
  id: 'shard',
  initial: 'electing',
  context: ({ input }) => ({
    shard: input.shard,
    routeAttempts: 0,
    vtepAttempts: 0,
    shuttingDown: false,
    routesReassertPending: false,
    dataPlaneConverged: input.dataPlaneConverged,
    dataPlaneGraceOver: input.dataPlaneGraceOver,
    preferred: input.preferred,
    preferredAliveAt: undefined,
    lastRenewAt: undefined,
    termStartedAt: undefined,
    leaseHolder: undefined,
    leaseExpiresAt: undefined,
    stepDownCause: undefined,
    lastError: undefined,
    replaceableOwner: undefined,
    routesInPlace: false,
    vtepConfigInPlace: false,
    leaderReadyAnnounced: false,
  }),
  on: {
    'DATAPLANE.CONVERGED': { actions: 'noteDataPlaneConverged' },
    'DATAPLANE.GRACE_OVER': { actions: 'endDataPlaneGrace' },
    'PLACEMENT.CHANGED': { actions: { type: 'recordPlacement', params: ({ event }) => event } },
  },
  states: {
    electing: {
      // The lease watch lives across standby ⇄ acquiring so it is not re-opened each retry period.
      invoke: { id: 'watchLease', src: 'watchLease', input: shardRef },
      initial: 'standby',
      states: {
        standby: {
          entry: 'announceStandby',
          // The runtime shortens the wait to the holder's expiry (plus the takeover grace when not
          // preferred) when that comes sooner.
          after: { standbyRetryPeriod: [{ guard: 'mayCompete', target: 'acquiring' }, { target: 'standby', reenter: true }] },
          on: {
            'LEASE.FREE': { guard: 'mayCompete', target: 'acquiring' },
            'DATAPLANE.CONVERGED': { target: 'acquiring', actions: 'noteDataPlaneConverged' },
            'DATAPLANE.GRACE_OVER': { target: 'acquiring', actions: 'endDataPlaneGrace' },
            'PLACEMENT.CHANGED': [
              { guard: { type: 'preferredNow', params: ({ event }) => event }, target: 'acquiring', actions: { type: 'recordPlacement', params: ({ event }) => event } },
              { actions: { type: 'recordPlacement', params: ({ event }) => event } },
            ],
            SHUTDOWN: { target: '#shard.stopped', actions: 'causeShutdown' },
          },
        },
        acquiring: {
          invoke: {
            id: 'tryAcquireLease',
            src: 'tryAcquireLease',
            // Not preferred: a free Lease is the preferred gateway's to take first (the takeover grace).
            input: ({ context }) => ({ shard: context.shard, yieldToPreferred: !context.preferred }),
            onDone: [
              {
                guard: { type: 'leaseHeld', params: ({ event }) => ({ outcome: event.output }) },
                target: '#shard.leader',
                actions: [
                  { type: 'recordRenewal', params: ({ event }) => ({ outcome: event.output }) },
                  { type: 'recordHolder', params: ({ event }) => ({ outcome: event.output }) },
                ],
              },
              { target: 'standby', actions: { type: 'recordHolder', params: ({ event }) => ({ outcome: event.output }) } },
            ],
            onError: { target: 'standby', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
          on: {
            // The attempt may have written the lease already: release it on the way out.
            SHUTDOWN: { target: '#shard.steppingDown', actions: 'causeShutdown' },
            // An attempt that yields to the preferred gateway, when this one has just become it (the
            // holder lapsed, say): try again at once without yielding, not a retry period later.
            'PLACEMENT.CHANGED': [
              { guard: { type: 'becamePreferred', params: ({ event }) => event }, target: 'acquiring', reenter: true, actions: { type: 'recordPlacement', params: ({ event }) => event } },
              { actions: { type: 'recordPlacement', params: ({ event }) => event } },
            ],
          },
        },
      },
    },
    leader: {
      type: 'parallel',
      invoke: [
        // The lease watch tells a leader at once when another holder took the lease;
        // the other watch sends LEADER.REASSERT when CiliumVTEPConfig is edited, deleted or owned elsewhere.
        { id: 'watchLease', src: 'watchLease', input: shardRef },
        { id: 'watchLeaderObjects', src: 'watchLeaderObjects', input: shardRef },
      ],
      entry: ['startTerm', 'announceLeader'],
      exit: ['fence', 'noteStepDownCause', 'cancelRenewDeadline', 'announceNotLeader'],
      on: {
        'LEASE.RENEW_DEADLINE_EXCEEDED': { target: 'steppingDown', actions: 'causeRenewDeadline' },
        'LEASE.LOST': { target: 'electing', actions: 'causeLeaseLost' },
        SHUTDOWN: { target: 'steppingDown', actions: 'causeShutdown' },
        'PLACEMENT.CHANGED': [
          {
            guard: { type: 'handOverDue', params: ({ context, event }) => ({ ...event, inPlace: context.leaderReadyAnnounced }) },
            target: 'steppingDown',
            actions: [{ type: 'recordPlacement', params: ({ event }) => event }, 'causeHandOver'],
          },
          { actions: { type: 'recordPlacement', params: ({ event }) => event } },
        ],
        'WORK.IN_PLACE': [
          // Placement asked for the shard while this term's writes were going out: hand over now they are in.
          {
            guard: { type: 'handOverDue', params: ({ context }) => ({ preferred: context.preferred, preferredAliveAt: context.preferredAliveAt, inPlace: context.routesInPlace && context.vtepConfigInPlace }) },
            target: 'steppingDown',
            actions: ['causeHandOver'],
          },
          { guard: 'firstTimeAllInPlace', actions: ['markLeaderReadyAnnounced', 'announceLeaderReady'] },
        ],
      },
      states: {
        lease: {
          initial: 'waiting',
          states: {
            // Each round of renewal attempts has its own deadline, started with the round (client-go's
            // renew loop); the runtime counts both delays from when the last successful renewal was sent.
            waiting: { after: { renewInterval: { target: 'renewing', actions: 'scheduleRenewDeadline' } } },
            renewing: {
              invoke: {
                id: 'renewLease',
                src: 'renewLease',
                input: shardRef,
                onDone: [
                  // The API did not answer clearly: try again soon; the deadline keeps running. Checked
                  // first: after a 5xx or a 409 the lock still holds the lease from its last confirmed
                  // renewal (held is true), and waiting a whole renew interval would pass the deadline.
                  { guard: { type: 'attemptInconclusive', params: ({ event }) => ({ outcome: event.output }) }, target: 'retrying', actions: { type: 'recordLeaseError', params: ({ event }) => ({ outcome: event.output }) } },
                  {
                    guard: { type: 'leaseHeld', params: ({ event }) => ({ outcome: event.output }) },
                    target: 'waiting',
                    actions: [{ type: 'recordRenewal', params: ({ event }) => ({ outcome: event.output }) }, 'cancelRenewDeadline'],
                  },
                  { target: '#shard.electing', actions: [{ type: 'recordHolder', params: ({ event }) => ({ outcome: event.output }) }, 'causeLeaseLost'] },
                ],
                onError: { target: 'retrying', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
              },
            },
            retrying: { after: { renewRetryDelay: 'renewing' } },
          },
        },
        vtepConfig: {
          // Ownership first: while another installation owns the object, nothing shared is written.
          initial: 'checkingOwnership',
          states: {
            checkingOwnership: {
              invoke: {
                id: 'checkOwnership',
                src: 'checkOwnership',
                input: shardRef,
                onDone: [
                  {
                    guard: { type: 'ownershipGranted', params: ({ event }) => ({ outcome: event.output }) },
                    target: 'writing',
                    actions: [{ type: 'recordReplaceableOwner', params: ({ event }) => ({ outcome: event.output }) }, 'raiseOwnershipGranted'],
                  },
                  { target: 'ownedElsewhere', actions: [{ type: 'recordOwnershipRefusal', params: ({ event }) => ({ outcome: event.output }) }, 'raiseOwnershipRefused'] },
                ],
                onError: { target: 'backoff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
              },
            },
            ownedElsewhere: {
              // Looked at again on the drift period and whenever the object changes.
              entry: 'announceOwnershipConflict',
              exit: 'announceOwnershipResolved',
              after: { driftRepairPeriod: 'checkingOwnership' },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
            writing: {
              invoke: {
                id: 'writeVtepConfig',
                src: 'writeVtepConfig',
                input: ({ context }) => ({ shard: context.shard, replaceableOwner: context.replaceableOwner, reclaim: false }),
                // Written with our owner annotation: from now on only our own may be replaced.
                onDone: { target: 'inPlace', actions: ['forgetReplaceableOwner', 'markVtepConfigInPlace', 'raiseWorkInPlace'] },
                onError: [
                  // Another installation took the object between the check and the write.
                  {
                    guard: { type: 'ownedElsewhere', params: ({ event }) => ({ error: event.error }) },
                    target: 'ownedElsewhere',
                    actions: [{ type: 'recordError', params: ({ event }) => ({ error: event.error }) }, 'raiseOwnershipRefused'],
                  },
                  // With shards: a hand edit of this shard's endpoints made them another manager's.
                  { guard: { type: 'endpointsEdited', params: ({ event }) => ({ error: event.error }) }, target: 'reclaiming', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                  { target: 'backoff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                ],
              },
            },
            reclaiming: {
              // The same write, taking this shard's own endpoint fields back (server-side apply with force).
              invoke: {
                id: 'writeVtepConfig',
                src: 'writeVtepConfig',
                input: ({ context }) => ({ shard: context.shard, replaceableOwner: context.replaceableOwner, reclaim: true }),
                onDone: { target: 'inPlace', actions: ['forgetReplaceableOwner', 'markVtepConfigInPlace', 'raiseWorkInPlace'] },
                onError: [
                  {
                    guard: { type: 'ownedElsewhere', params: ({ event }) => ({ error: event.error }) },
                    target: 'ownedElsewhere',
                    actions: [{ type: 'recordError', params: ({ event }) => ({ error: event.error }) }, 'raiseOwnershipRefused'],
                  },
                  { target: 'backoff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                ],
              },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
            backoff: {
              // A missing CRD or an API error here does not hold up the route tables.
              entry: ['countVtepAttempt', 'announceWorkRetry'],
              after: { vtepConfigRetryDelay: 'checkingOwnership' },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
            inPlace: {
              after: { driftRepairPeriod: 'writing' },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
          },
        },
        routeTables: {
          initial: 'awaitingOwnership',
          on: { 'OWNERSHIP.REFUSED': '.held' },
          states: {
            awaitingOwnership: {
              on: { 'OWNERSHIP.GRANTED': 'takingOver' },
            },
            held: {
              // Another installation owns the shared objects: no route is written until that changes.
              on: { 'OWNERSHIP.GRANTED': 'reasserting' },
            },
            takingOver: {
              // Every route of the shard written at once: they all point at the old leader.
              invoke: {
                id: 'programRouteTables',
                src: 'programRouteTables',
                input: ({ context }) => ({ shard: context.shard, strategy: 'write-first' as const }),
                onDone: { target: 'awaitingLateWrites', actions: ['markRoutesInPlace', 'raiseWorkInPlace'] },
                onError: { target: 'backoff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
              },
            },
            awaitingLateWrites: {
              // The old leader may have had a write on the wire when it stepped down: look once more after it timed out.
              after: { lateWriteCheckDelay: 'reasserting' },
              on: { 'LEADER.REASSERT': 'reasserting' },
            },
            reasserting: {
              on: { 'LEADER.REASSERT': { actions: 'markRoutesReassertPending' } },
              invoke: {
                id: 'programRouteTables',
                src: 'programRouteTables',
                input: ({ context }) => ({ shard: context.shard, strategy: 'describe-first' as const }),
                onDone: [
                  { guard: 'routesReassertPending', target: 'reasserting', reenter: true, actions: 'clearRoutesReassertPending' },
                  { target: 'inPlace', actions: ['markRoutesInPlace', 'raiseWorkInPlace'] },
                ],
                onError: { target: 'backoff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
              },
            },
            backoff: {
              entry: ['countRouteAttempt', 'clearRoutesReassertPending', 'announceWorkRetry'],
              after: { routeTablesRetryDelay: 'reasserting' },
              on: { 'LEADER.REASSERT': 'reasserting' },
            },
            inPlace: {
              // Drift repair: on a period, and at once when told of a change.
              after: { driftRepairPeriod: 'reasserting' },
              on: { 'LEADER.REASSERT': 'reasserting' },
            },
          },
        },
      },
    },
    steppingDown: {
      // The fence ran on leaving `leader`; the writes in flight settle, then the Lease is handed over.
      initial: 'settling',
      states: {
        settling: {
          invoke: { id: 'settleWrites', src: 'settleWrites', input: shardRef, onDone: 'releasing', onError: 'releasing' },
          after: { settleTimeout: 'releasing' },
        },
        releasing: {
          invoke: {
            id: 'releaseLease',
            src: 'releaseLease',
            input: shardRef,
            onDone: 'released',
            onError: { target: 'released', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
          after: { releaseTimeout: 'released' },
        },
        released: {
          always: [{ guard: 'shuttingDown', target: '#shard.stopped' }, { target: '#shard.electing' }],
        },
      },
    },
    stopped: {
      // Not final: the root counts its stopped shards and ends the actor tree with the last one (a
      // final child would also send the root its done event after the root had ended).
      entry: ['announceStopped', 'tellRootStopped'],
    },
  },
});

export type ShardMachine = typeof shardMachine;
