// The gateway lifecycle: initialising → electing (standby ⇄ acquiring) →
// leader → steppingDown → electing, or stopped on shutdown, or failed when
// start-up meets a configuration this host cannot satisfy.
//
// Pure statechart: every actor, action, guard and delay is referenced by name;
// the runtime provides the implementations (effects/), tests provide doubles.
// Leader work is a child of `leader`, so leaving `leader` for any reason stops
// (aborts) every leader write before anything else happens: that is the fence.
import { assign, cancel, fromCallback, fromPromise, raise, setup } from 'xstate';

/** What one acquire or renew attempt found. */
export interface LeaseOutcome {
  /** True when this process holds the lease after the attempt. */
  readonly held: boolean;
  /** Current holder identity, when known. */
  readonly holder?: string | undefined;
  /** Local time (ms) at which the successful write was sent: the renew deadline counts from it. */
  readonly renewedAt?: number | undefined;
  /**
   * How the attempt ended when it did not hold: 'held-by-other' means another
   * holder is current; 'error', 'conflict' or 'fenced' mean the attempt was
   * inconclusive (retried while the renew deadline runs).
   */
  readonly outcome?: string | undefined;
  /** When another holder's lease expires, as judged locally (ms, the runtime's clock). */
  readonly otherExpiresAt?: number | undefined;
}

/**
 * How the leader's route-table pass starts. write-first: every route written without reading the
 * table (right after winning the lease, when they all point at the old leader: one round trip).
 * describe-first: read, then write only what differs (drift repair, and every retry: a pass that
 * was throttled or cut short must not send again the writes that already went through).
 */
export type RouteStrategy = 'write-first' | 'describe-first';

export interface RouteTablesInput {
  readonly strategy: RouteStrategy;
}

/**
 * What the ownership check found (machines/domain/ownership.ts decides): may this installation write
 * the cluster-scoped CiliumVTEPConfig (and, since a second installation then exists, the route tables)?
 */
export interface OwnershipOutcome {
  readonly write: boolean;
  readonly why: string;
  /** The owner annotation as read: the value this leader may overwrite on its first write. */
  readonly currentOwner: string | undefined;
}

/** The first CiliumVTEPConfig write of a term may replace this owner annotation (besides our own). */
export interface VtepConfigInput {
  readonly replaceableOwner: string | undefined;
}

export type StepDownCause = 'renew-deadline' | 'lease-lost' | 'shutdown';

export interface GatewayContext {
  initAttempts: number;
  leaderWorkAttempts: number;
  /** Set once SHUTDOWN arrives: stepping down then ends in `stopped`. */
  shuttingDown: boolean;
  /** A re-assert was asked for while leader work was already running. */
  reassertPending: boolean;
  lastRenewAt: number | undefined;
  leaseHolder: string | undefined;
  /** When the current holder's lease expires as last judged; a standby's next attempt need not wait past it. */
  leaseExpiresAt: number | undefined;
  stepDownCause: StepDownCause | undefined;
  lastError: string | undefined;
  /** The next route-table pass's strategy. */
  routeStrategy: RouteStrategy;
  /** The owner annotation the ownership check allowed this term to replace. */
  replaceableOwner: string | undefined;
}

export type GatewayEvent =
  /** SIGTERM/SIGINT: step down (release the lease) and stop. */
  | { type: 'SHUTDOWN' }
  /** The renew deadline passed without a successful renewal (a delayed event the leader schedules). */
  | { type: 'LEASE.RENEW_DEADLINE_EXCEEDED' }
  /** The lease watch saw another holder take the lease while we lead. */
  | { type: 'LEASE.LOST'; holder?: string }
  /** The lease watch saw the lease released or expired: try to acquire now. */
  | { type: 'LEASE.FREE' }
  /** Something the leader owns drifted or changed (CiliumVTEPConfig edited, routes changed): re-assert now. */
  | { type: 'LEADER.REASSERT'; reason?: string };

function notProvided<T>(name: string) {
  return fromPromise<T>(() => Promise.reject(new Error(`actor "${name}" is not provided`)));
}

/**
 * A start-up error that no retry can fix: the configuration does not fit this host (e.g. a VXLAN MTU
 * larger than the NIC carries). Effects report it with code BAD_INPUT; anything else is retried.
 */
export function isConfigurationError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'BAD_INPUT';
}

/** A CiliumVTEPConfig write found the object owned by another installation (code OWNED_ELSEWHERE). */
export function isOwnedElsewhere(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'OWNED_ELSEWHERE';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const gatewayMachine = setup({
  types: {
    context: {} as GatewayContext,
    events: {} as GatewayEvent,
  },
  actors: {
    // Placeholders that name the job; runtime/ provides the effects, tests provide doubles.
    initialise: notProvided<void>('initialise'),
    watchLease: fromCallback<GatewayEvent>(() => {}),
    watchLeaderObjects: fromCallback<GatewayEvent>(() => {}),
    tryAcquireLease: notProvided<LeaseOutcome>('tryAcquireLease'),
    renewLease: notProvided<LeaseOutcome>('renewLease'),
    programRouteTables: fromPromise<void, RouteTablesInput>(() => Promise.reject(new Error('actor "programRouteTables" is not provided'))),
    checkOwnership: notProvided<OwnershipOutcome>('checkOwnership'),
    writeVtepConfig: fromPromise<void, VtepConfigInput>(() => Promise.reject(new Error('actor "writeVtepConfig" is not provided'))),
    releaseLease: notProvided<void>('releaseLease'),
  },
  actions: {
    // Observability hooks (metrics, Events, logs): no-ops here, provided by the runtime.
    announceStandby: () => {},
    announceLeader: () => {},
    announceLeaderReady: () => {},
    announceNotLeader: () => {},
    announceStopped: () => {},
    announceFailed: () => {},
    announceOwnershipConflict: () => {},
    announceOwnershipResolved: () => {},
    scheduleRenewDeadline: raise({ type: 'LEASE.RENEW_DEADLINE_EXCEEDED' }, { id: 'renewDeadline', delay: 'renewDeadline' }),
    cancelRenewDeadline: cancel('renewDeadline'),
    recordRenewal: assign({
      lastRenewAt: ({ event }) => (event as unknown as { output: LeaseOutcome }).output.renewedAt,
      leaseExpiresAt: undefined,
    }),
    recordHolder: assign({
      leaseHolder: ({ event }) => (event as unknown as { output: LeaseOutcome }).output.holder,
      leaseExpiresAt: ({ event }) => (event as unknown as { output: LeaseOutcome }).output.otherExpiresAt,
    }),
    recordError: assign({ lastError: ({ event }) => errorText((event as unknown as { error: unknown }).error) }),
    countInitAttempt: assign({ initAttempts: ({ context }) => context.initAttempts + 1 }),
    resetInitAttempts: assign({ initAttempts: 0 }),
    countLeaderWorkAttempt: assign({ leaderWorkAttempts: ({ context }) => context.leaderWorkAttempts + 1 }),
    resetLeaderWorkAttempts: assign({ leaderWorkAttempts: 0, reassertPending: false }),
    markReassertPending: assign({ reassertPending: true }),
    clearReassertPending: assign({ reassertPending: false }),
    markShuttingDown: assign({ shuttingDown: true }),
    causeRenewDeadline: assign({ stepDownCause: 'renew-deadline' as const }),
    causeLeaseLost: assign({ stepDownCause: 'lease-lost' as const }),
    causeShutdown: assign({ stepDownCause: 'shutdown' as const, shuttingDown: true }),
    preferWriteFirst: assign({ routeStrategy: 'write-first' as const }),
    preferDescribeFirst: assign({ routeStrategy: 'describe-first' as const }),
    recordReplaceableOwner: assign({ replaceableOwner: ({ event }) => (event as unknown as { output: OwnershipOutcome }).output.currentOwner }),
    forgetReplaceableOwner: assign({ replaceableOwner: undefined }),
    recordOwnershipRefusal: assign({ lastError: ({ event }) => (event as unknown as { output: OwnershipOutcome }).output.why }),
  },
  guards: {
    leaseHeld: ({ event }) => (event as unknown as { output: LeaseOutcome }).output.held,
    attemptInconclusive: ({ event }) => {
      const out = (event as unknown as { output: LeaseOutcome }).output;
      return !out.held && (out.outcome === 'error' || out.outcome === 'conflict' || out.outcome === 'fenced');
    },
    shuttingDown: ({ context }) => context.shuttingDown,
    configurationError: ({ event }) => isConfigurationError((event as unknown as { error: unknown }).error),
    reassertPending: ({ context }) => context.reassertPending,
    ownershipGranted: ({ event }) => (event as unknown as { output: OwnershipOutcome }).output.write,
    ownedElsewhere: ({ event }) => isOwnedElsewhere((event as unknown as { error: unknown }).error),
  },
  delays: {
    // Defaults for reading the chart alone; the runtime provides the configured values.
    retryPeriod: 1000,
    renewDeadline: 2000,
    initRetryDelay: 1000,
    leaderWorkRetryDelay: 500,
    driftRepairPeriod: 60_000,
    releaseTimeout: 1000,
  },
}).createMachine({
  id: 'gateway',
  initial: 'initialising',
  context: {
    initAttempts: 0,
    leaderWorkAttempts: 0,
    shuttingDown: false,
    reassertPending: false,
    lastRenewAt: undefined,
    leaseHolder: undefined,
    leaseExpiresAt: undefined,
    stepDownCause: undefined,
    lastError: undefined,
    routeStrategy: 'describe-first',
    replaceableOwner: undefined,
  },
  states: {
    initialising: {
      // VXLAN device, ip_forward check, cloud identity: every pod needs them.
      invoke: {
        id: 'initialise',
        src: 'initialise',
        onDone: { target: 'electing', actions: 'resetInitAttempts' },
        onError: [
          // The pod would restart into the same refusal: stop and say why instead of retrying forever.
          { guard: 'configurationError', target: 'failed', actions: 'recordError' },
          { target: 'initFailed', actions: 'recordError' },
        ],
      },
      on: { SHUTDOWN: { target: 'stopped', actions: 'causeShutdown' } },
    },
    initFailed: {
      // Retried with a growing, capped delay instead of crashing the pod.
      entry: 'countInitAttempt',
      after: { initRetryDelay: 'initialising' },
      on: { SHUTDOWN: { target: 'stopped', actions: 'causeShutdown' } },
    },
    electing: {
      // The lease watch lives across standby ⇄ acquiring so it is not re-opened each retry period.
      invoke: { id: 'watchLease', src: 'watchLease' },
      initial: 'standby',
      states: {
        standby: {
          entry: 'announceStandby',
          // The runtime shortens the wait to the holder's expiry when that comes sooner.
          after: { retryPeriod: 'acquiring' },
          on: {
            'LEASE.FREE': 'acquiring',
            SHUTDOWN: { target: '#gateway.stopped', actions: 'causeShutdown' },
          },
        },
        acquiring: {
          invoke: {
            id: 'tryAcquireLease',
            src: 'tryAcquireLease',
            onDone: [
              { guard: 'leaseHeld', target: '#gateway.leader', actions: ['recordRenewal', 'recordHolder'] },
              { target: 'standby', actions: 'recordHolder' },
            ],
            onError: { target: 'standby', actions: 'recordError' },
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
        // the other watch sends LEADER.REASSERT when CiliumVTEPConfig is edited or deleted.
        { id: 'watchLease', src: 'watchLease' },
        { id: 'watchLeaderObjects', src: 'watchLeaderObjects' },
      ],
      entry: ['scheduleRenewDeadline', 'announceLeader', 'preferWriteFirst'],
      exit: ['cancelRenewDeadline', 'announceNotLeader'],
      on: {
        'LEASE.RENEW_DEADLINE_EXCEEDED': { target: 'steppingDown', actions: 'causeRenewDeadline' },
        'LEASE.LOST': { target: 'electing', actions: 'causeLeaseLost' },
        SHUTDOWN: { target: 'steppingDown', actions: 'causeShutdown' },
      },
      states: {
        lease: {
          initial: 'waiting',
          states: {
            waiting: { after: { retryPeriod: 'renewing' } },
            renewing: {
              invoke: {
                id: 'renewLease',
                src: 'renewLease',
                onDone: [
                  {
                    guard: 'leaseHeld',
                    target: 'waiting',
                    actions: ['recordRenewal', 'cancelRenewDeadline', 'scheduleRenewDeadline'],
                  },
                  // The API did not answer clearly: try again after the retry period; the deadline keeps running.
                  { guard: 'attemptInconclusive', target: 'waiting' },
                  { target: '#gateway.electing', actions: ['recordHolder', 'causeLeaseLost'] },
                ],
                // A failed attempt is retried after the retry period; the deadline keeps running.
                onError: { target: 'waiting', actions: 'recordError' },
              },
            },
          },
        },
        work: {
          // Another installation (a second release, another namespace) may lead too: the shared
          // objects are written only once the CiliumVTEPConfig's owner annotation says they are ours
          // or free (machines/domain/ownership.ts).
          initial: 'checkingOwnership',
          states: {
            checkingOwnership: {
              invoke: {
                id: 'checkOwnership',
                src: 'checkOwnership',
                onDone: [
                  { guard: 'ownershipGranted', target: 'asserting', actions: 'recordReplaceableOwner' },
                  { target: 'ownedElsewhere', actions: 'recordOwnershipRefusal' },
                ],
                onError: { target: 'backoff', actions: 'recordError' },
              },
            },
            ownedElsewhere: {
              // Nothing shared is written; looked at again on the drift period and when the object changes.
              entry: 'announceOwnershipConflict',
              exit: 'announceOwnershipResolved',
              after: { driftRepairPeriod: 'checkingOwnership' },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
            asserting: {
              type: 'parallel',
              on: { 'LEADER.REASSERT': { actions: 'markReassertPending' } },
              states: {
                routeTables: {
                  initial: 'programming',
                  states: {
                    programming: {
                      // However the pass ends (done, failed, aborted), the next one reads first.
                      exit: 'preferDescribeFirst',
                      invoke: {
                        id: 'programRouteTables',
                        src: 'programRouteTables',
                        input: ({ context }) => ({ strategy: context.routeStrategy }),
                        onDone: 'done',
                        onError: { target: '#gateway.leader.work.backoff', actions: 'recordError' },
                      },
                    },
                    done: { type: 'final' },
                  },
                },
                vtepConfig: {
                  initial: 'writing',
                  states: {
                    writing: {
                      invoke: {
                        id: 'writeVtepConfig',
                        src: 'writeVtepConfig',
                        input: ({ context }) => ({ replaceableOwner: context.replaceableOwner }),
                        // Written with our owner annotation: from now on only our own may be replaced.
                        onDone: { target: 'done', actions: 'forgetReplaceableOwner' },
                        onError: [
                          // Another installation took the object between the check and the write.
                          { guard: 'ownedElsewhere', target: '#gateway.leader.work.ownedElsewhere', actions: 'recordError' },
                          { target: '#gateway.leader.work.backoff', actions: 'recordError' },
                        ],
                      },
                    },
                    done: { type: 'final' },
                  },
                },
              },
              onDone: [
                { guard: 'reassertPending', target: 'asserting', reenter: true, actions: 'clearReassertPending' },
                { target: 'asserted', actions: ['resetLeaderWorkAttempts', 'announceLeaderReady'] },
              ],
            },
            asserted: {
              // Drift repair: re-assert on a period; when told of a change, look at who owns the object first.
              after: { driftRepairPeriod: 'asserting' },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
            backoff: {
              entry: ['countLeaderWorkAttempt', 'clearReassertPending'],
              after: { leaderWorkRetryDelay: 'checkingOwnership' },
              on: { 'LEADER.REASSERT': 'checkingOwnership' },
            },
          },
        },
      },
    },
    steppingDown: {
      // Leader writes are already stopped (leaving `leader` aborted them); now hand the lease over.
      invoke: {
        id: 'releaseLease',
        src: 'releaseLease',
        onDone: [{ guard: 'shuttingDown', target: 'stopped' }, { target: 'electing' }],
        onError: [
          { guard: 'shuttingDown', target: 'stopped', actions: 'recordError' },
          { target: 'electing', actions: 'recordError' },
        ],
      },
      after: {
        releaseTimeout: [{ guard: 'shuttingDown', target: 'stopped' }, { target: 'electing' }],
      },
      on: { SHUTDOWN: { actions: 'markShuttingDown' } },
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
