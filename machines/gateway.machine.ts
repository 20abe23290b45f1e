// The gateway lifecycle. Every decision a reviewer looks for is here, by name:
//
//   initialising   device → forwarding → cloudIdentity, each retried on its own
//                  (or `failed` for a configuration the host cannot satisfy)
//   electing       standby ⇄ acquiring; an unconverged data plane does not compete
//                  until the grace period is over (a converged peer should win)
//   leader         lease: renews, retries an inconclusive renewal promptly, keeps
//                  the renew deadline. work: the CiliumVTEPConfig region checks
//                  ownership and writes; the route-table region takes over
//                  (write-first), checks again once the old leader's last write
//                  can have landed, then reasserts (describe-first) on drift and
//                  on change. Each region backs off on its own.
//   steppingDown   the fence (named action on leaving `leader`), then settling of
//                  the writes in flight (sent ones get their answer), then the release of the Lease
//
// The root owns the whole actor tree: the fleet (one vtep actor per node that
// needs work) and the device watchdog live as long as the gateway does, so
// the desired set reaches the kernel through this machine.
//
// One file over 350 lines on purpose: the whole lifecycle is one statechart
// (the diagrams are generated from it); its contract is gateway.contract.ts.
//
// Pure statechart: every actor, action, guard and delay is referenced by name;
// the runtime provides the implementations (effects/), tests provide doubles.
// Leader work runs in actors invoked under `leader`: leaving it for any reason
// aborts them before anything else happens.
import { assertEvent, assign, cancel, fromCallback, fromPromise, raise, sendTo, setup } from 'xstate';
import { fleetMachine } from './fleet.machine.js';
import {
  INCONCLUSIVE_OUTCOMES,
  isConfigurationError,
  isOwnedElsewhere,
  type GatewayContext,
  type GatewayEvent,
  type LeaseOutcome,
  type OwnershipOutcome,
  type RouteTablesInput,
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
    default:
      return undefined;
  }
}

function notProvided<TOutput, TInput = unknown>(name: string) {
  return fromPromise<TOutput, TInput>(() => Promise.reject(new Error(`actor "${name}" is not provided`)));
}

type ErrorParams = { error: unknown };
type LeaseParams = { outcome: LeaseOutcome };
type OwnershipParams = { outcome: OwnershipOutcome };

export const gatewayMachine = setup({
  types: {
    context: {} as GatewayContext,
    events: {} as GatewayEvent,
  },
  actors: {
    // The data plane: the runtime provides it with its netlink actors.
    fleet: fleetMachine,
    // Placeholders that name the job; runtime/ provides the effects, tests provide doubles.
    watchDevice: fromCallback<GatewayEvent>(() => {}),
    ensureDevice: notProvided<void>('ensureDevice'),
    checkForwarding: notProvided<void>('checkForwarding'),
    discoverCloud: notProvided<void>('discoverCloud'),
    watchLease: fromCallback<GatewayEvent>(() => {}),
    watchLeaderObjects: fromCallback<GatewayEvent>(() => {}),
    tryAcquireLease: notProvided<LeaseOutcome>('tryAcquireLease'),
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
    announceFailed: () => {},
    announceOwnershipConflict: () => {},
    announceOwnershipResolved: () => {},
    announceInitRetry: () => {},
    announceWorkRetry: () => {},
    /**
     * The fence: from here on no leader write may leave this process (the runtime marks the lock not
     * held and aborts every write in flight). Runs first on leaving `leader`, before anything is announced.
     */
    fence: () => {},
    forwardToFleet: sendTo('fleet', ({ event }) => {
      assertEvent(event, ['NODES.SYNCED', 'NODES.CHANGED']);
      return event;
    }),
    tellFleetDeviceReady: sendTo('fleet', { type: 'DATAPLANE.READY' }),
    tellFleetToSweep: sendTo('fleet', { type: 'RESYNC' }),
    scheduleRenewDeadline: raise({ type: 'LEASE.RENEW_DEADLINE_EXCEEDED' }, { id: 'renewDeadline', delay: 'renewDeadline' }),
    cancelRenewDeadline: cancel('renewDeadline'),
    scheduleDataPlaneGrace: raise({ type: 'DATAPLANE.GRACE_OVER' }, { id: 'dataPlaneGrace', delay: 'dataPlaneGrace' }),
    noteDataPlaneConverged: assign({ dataPlaneConverged: true }),
    endDataPlaneGrace: assign({ dataPlaneGraceOver: true }),
    recordRenewal: assign((_, params: LeaseParams) => ({ lastRenewAt: params.outcome.renewedAt, leaseExpiresAt: undefined })),
    recordHolder: assign((_, params: LeaseParams) => ({ leaseHolder: params.outcome.holder, leaseExpiresAt: params.outcome.otherExpiresAt })),
    recordLeaseError: assign((_, params: LeaseParams) => ({ lastError: params.outcome.error === undefined ? params.outcome.outcome : errorText(params.outcome.error) })),
    recordError: assign((_, params: ErrorParams) => ({ lastError: errorText(params.error) })),
    startTerm: assign({ lastError: undefined, stepDownCause: undefined, routeAttempts: 0, vtepAttempts: 0, routesInPlace: false, vtepConfigInPlace: false, leaderReadyAnnounced: false, routesReassertPending: false }),
    markLeaderReadyAnnounced: assign({ leaderReadyAnnounced: true }),
    countInitAttempt: assign({ initAttempts: ({ context }) => context.initAttempts + 1 }),
    resetInitAttempts: assign({ initAttempts: 0 }),
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
     * the transition's own (causeRenewDeadline, causeLeaseLost, causeShutdown), so without it the
     * announcement (log line, Event, failover trace) would not know why.
     */
    noteStepDownCause: assign({ stepDownCause: ({ context, event }) => stepDownCauseOf(event) ?? context.stepDownCause }),
    causeRenewDeadline: assign({ stepDownCause: 'renew-deadline' as const }),
    causeLeaseLost: assign({ stepDownCause: 'lease-lost' as const }),
    causeShutdown: assign({ stepDownCause: 'shutdown' as const, shuttingDown: true }),
    recordReplaceableOwner: assign((_, params: OwnershipParams) => ({ replaceableOwner: params.outcome.currentOwner })),
    forgetReplaceableOwner: assign({ replaceableOwner: undefined }),
    recordOwnershipRefusal: assign((_, params: OwnershipParams) => ({ lastError: params.outcome.why })),
  },
  guards: {
    leaseHeld: (_, params: LeaseParams) => params.outcome.held,
    /** The attempt neither renewed nor found another holder (5xx, timeout, 409), whether or not the lease is still locally valid. */
    attemptInconclusive: (_, params: LeaseParams) => INCONCLUSIVE_OUTCOMES.has(params.outcome.outcome),
    shuttingDown: ({ context }) => context.shuttingDown,
    configurationError: (_, params: ErrorParams) => isConfigurationError(params.error),
    ownedElsewhere: (_, params: ErrorParams) => isOwnedElsewhere(params.error),
    ownershipGranted: (_, params: OwnershipParams) => params.outcome.write,
    /** Compete for the lease: the data plane has converged, or the grace period for it is over. */
    mayCompete: ({ context }) => context.dataPlaneConverged || context.dataPlaneGraceOver,
    routesReassertPending: ({ context }) => context.routesReassertPending,
    /** Both regions' writes are in place for the first time this term (leader ready). */
    firstTimeAllInPlace: ({ context }) => context.routesInPlace && context.vtepConfigInPlace && !context.leaderReadyAnnounced,
  },
  delays: {
    // Production's defaults (machines/timings.ts); the runtime passes the configured lease timings.
    ...fixedDelays(DEFAULT_LEASE_TIMINGS),
    initRetryDelay: ({ context }) => backoffMs(context.initAttempts, TIMINGS.initRetryBaseMs, TIMINGS.initRetryMaxMs),
    routeTablesRetryDelay: ({ context }) => backoffMs(context.routeAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs),
    vtepConfigRetryDelay: ({ context }) => backoffMs(context.vtepAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs),
  },
}).createMachine({
  id: 'gateway',
  initial: 'initialising',
  context: {
    initAttempts: 0,
    routeAttempts: 0,
    vtepAttempts: 0,
    shuttingDown: false,
    routesReassertPending: false,
    dataPlaneConverged: false,
    dataPlaneGraceOver: false,
    lastRenewAt: undefined,
    leaseHolder: undefined,
    leaseExpiresAt: undefined,
    stepDownCause: undefined,
    lastError: undefined,
    replaceableOwner: undefined,
    routesInPlace: false,
    vtepConfigInPlace: false,
    leaderReadyAnnounced: false,
  },
  entry: 'scheduleDataPlaneGrace',
  invoke: [
    { id: 'fleet', src: 'fleet', input: {} },
    // Every 10 s: hybrid_vxlan0 and the policy rules still as configured? (DEVICE.REPAIRED when not)
    { id: 'watchDevice', src: 'watchDevice' },
  ],
  on: {
    'NODES.SYNCED': { actions: 'forwardToFleet' },
    'NODES.CHANGED': { actions: 'forwardToFleet' },
    'DEVICE.REPAIRED': { actions: 'tellFleetToSweep' },
    'DATAPLANE.CONVERGED': { actions: 'noteDataPlaneConverged' },
    'DATAPLANE.GRACE_OVER': { actions: 'endDataPlaneGrace' },
  },
  states: {
    initialising: {
      // Every pod needs these, in this order; a stage's failure retries that stage only.
      initial: 'device',
      on: { SHUTDOWN: { target: 'stopped', actions: 'causeShutdown' } },
      states: {
        device: {
          // hybrid_vxlan0 and the policy rules; the fleet may program once it is there.
          invoke: {
            id: 'ensureDevice',
            src: 'ensureDevice',
            onDone: { target: 'forwarding', actions: ['resetInitAttempts', 'tellFleetDeviceReady'] },
            onError: [
              // The pod would restart into the same refusal: stop and say why instead of retrying forever.
              { guard: { type: 'configurationError', params: ({ event }) => ({ error: event.error }) }, target: '#gateway.failed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
              { target: 'deviceRetry', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
            ],
          },
        },
        deviceRetry: {
          entry: ['countInitAttempt', 'announceInitRetry'],
          after: { initRetryDelay: 'device' },
        },
        forwarding: {
          // net.ipv4.ip_forward must be 1.
          invoke: {
            id: 'checkForwarding',
            src: 'checkForwarding',
            onDone: { target: 'cloudIdentity', actions: 'resetInitAttempts' },
            onError: { target: 'forwardingRetry', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        forwardingRetry: {
          entry: ['countInitAttempt', 'announceInitRetry'],
          after: { initRetryDelay: 'forwarding' },
        },
        cloudIdentity: {
          // Instance, region and the ENI holding NODE_IP, from IMDSv2 and EC2.
          invoke: {
            id: 'discoverCloud',
            src: 'discoverCloud',
            onDone: { target: '#gateway.electing', actions: 'resetInitAttempts' },
            onError: { target: 'cloudIdentityRetry', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        cloudIdentityRetry: {
          entry: ['countInitAttempt', 'announceInitRetry'],
          after: { initRetryDelay: 'cloudIdentity' },
        },
      },
    },
    electing: {
      // The lease watch lives across standby ⇄ acquiring so it is not re-opened each retry period.
      invoke: { id: 'watchLease', src: 'watchLease' },
      initial: 'standby',
      states: {
        standby: {
          entry: 'announceStandby',
          // The runtime shortens the wait to the holder's expiry when that comes sooner.
          after: { standbyRetryPeriod: [{ guard: 'mayCompete', target: 'acquiring' }, { target: 'standby', reenter: true }] },
          on: {
            'LEASE.FREE': { guard: 'mayCompete', target: 'acquiring' },
            'DATAPLANE.CONVERGED': { target: 'acquiring', actions: 'noteDataPlaneConverged' },
            'DATAPLANE.GRACE_OVER': { target: 'acquiring', actions: 'endDataPlaneGrace' },
            SHUTDOWN: { target: '#gateway.stopped', actions: 'causeShutdown' },
          },
        },
        acquiring: {
          invoke: {
            id: 'tryAcquireLease',
            src: 'tryAcquireLease',
            onDone: [
              {
                guard: { type: 'leaseHeld', params: ({ event }) => ({ outcome: event.output }) },
                target: '#gateway.leader',
                actions: [
                  { type: 'recordRenewal', params: ({ event }) => ({ outcome: event.output }) },
                  { type: 'recordHolder', params: ({ event }) => ({ outcome: event.output }) },
                ],
              },
              { target: 'standby', actions: { type: 'recordHolder', params: ({ event }) => ({ outcome: event.output }) } },
            ],
            onError: { target: 'standby', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
          // The attempt may have written the lease already: release it on the way out.
          on: { SHUTDOWN: { target: '#gateway.steppingDown', actions: 'causeShutdown' } },
        },
      },
    },
    leader: {
      type: 'parallel',
      invoke: [
        // The lease watch tells a leader at once when another holder took the lease;
        // the other watch sends LEADER.REASSERT when CiliumVTEPConfig is edited, deleted or owned elsewhere.
        { id: 'watchLease', src: 'watchLease' },
        { id: 'watchLeaderObjects', src: 'watchLeaderObjects' },
      ],
      entry: ['startTerm', 'announceLeader'],
      exit: ['fence', 'noteStepDownCause', 'cancelRenewDeadline', 'announceNotLeader'],
      on: {
        'LEASE.RENEW_DEADLINE_EXCEEDED': { target: 'steppingDown', actions: 'causeRenewDeadline' },
        'LEASE.LOST': { target: 'electing', actions: 'causeLeaseLost' },
        SHUTDOWN: { target: 'steppingDown', actions: 'causeShutdown' },
        'WORK.IN_PLACE': { guard: 'firstTimeAllInPlace', actions: ['markLeaderReadyAnnounced', 'announceLeaderReady'] },
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
                  { target: '#gateway.electing', actions: [{ type: 'recordHolder', params: ({ event }) => ({ outcome: event.output }) }, 'causeLeaseLost'] },
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
                input: ({ context }) => ({ replaceableOwner: context.replaceableOwner }),
                // Written with our owner annotation: from now on only our own may be replaced.
                onDone: { target: 'inPlace', actions: ['forgetReplaceableOwner', 'markVtepConfigInPlace', 'raiseWorkInPlace'] },
                onError: [
                  // Another installation took the object between the check and the write.
                  {
                    guard: { type: 'ownedElsewhere', params: ({ event }) => ({ error: event.error }) },
                    target: 'ownedElsewhere',
                    actions: [{ type: 'recordError', params: ({ event }) => ({ error: event.error }) }, 'raiseOwnershipRefused'],
                  },
                  { target: 'backoff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                ],
              },
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
              // Every route written at once: they all point at the old leader.
              invoke: {
                id: 'programRouteTables',
                src: 'programRouteTables',
                input: { strategy: 'write-first' },
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
                input: { strategy: 'describe-first' },
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
          invoke: { id: 'settleWrites', src: 'settleWrites', onDone: 'releasing', onError: 'releasing' },
          after: { settleTimeout: 'releasing' },
        },
        releasing: {
          invoke: {
            id: 'releaseLease',
            src: 'releaseLease',
            onDone: 'released',
            onError: { target: 'released', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
          after: { releaseTimeout: 'released' },
        },
        released: {
          always: [{ guard: 'shuttingDown', target: '#gateway.stopped' }, { target: '#gateway.electing' }],
        },
      },
    },
    stopped: {
      type: 'final',
      entry: 'announceStopped',
    },
    failed: {
      // Nothing was led yet, so there is nothing to hand over; the process exits 1 with lastError.
      type: 'final',
      entry: 'announceFailed',
    },
  },
});

export type GatewayMachine = typeof gatewayMachine;
export * from './gateway.contract.js';
