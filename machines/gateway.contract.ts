// The contract between the gateway statechart and its effects: what each
// invoked actor returns, what it is given, and the events the machine takes.
// Defined once here; effects/ and runtime/ import these types.
import type { FleetEvent } from './fleet.machine.js';

/** How one acquire or renew attempt ended. */
export type LeaseAttemptOutcome =
  /** This process holds the lease after the attempt (acquired or renewed). */
  | 'acquired'
  | 'renewed'
  /** Another holder is current. */
  | 'held-by-other'
  /** Inconclusive: an API error, a conflict, or the attempt was cut short. Retried within the deadline. */
  | 'error'
  | 'conflict'
  | 'fenced';

export const INCONCLUSIVE_OUTCOMES: ReadonlySet<LeaseAttemptOutcome> = new Set(['error', 'conflict', 'fenced']);

/** What one acquire or renew attempt found. */
export interface LeaseOutcome {
  /** True when this process holds the lease after the attempt. */
  readonly held: boolean;
  readonly outcome: LeaseAttemptOutcome;
  /** Current holder identity, when known. */
  readonly holder?: string | undefined;
  /** Local time (ms) at which the successful write was sent: the renew deadline counts from it. */
  readonly renewedAt?: number | undefined;
  /** When another holder's lease expires, as judged locally (ms, the runtime's clock). */
  readonly otherExpiresAt?: number | undefined;
  /** The error of an inconclusive attempt, for the log. */
  readonly error?: unknown;
}

/**
 * How a route-table pass starts. write-first: every route written without reading the table (right
 * after winning the lease, when they all point at the old leader: one round trip). describe-first:
 * read, then write only what differs (every later pass: a pass that was throttled or cut short must
 * not send again the writes that already went through).
 */
export type RouteStrategy = 'write-first' | 'describe-first';

export interface RouteTablesInput {
  readonly strategy: RouteStrategy;
}

/**
 * What the ownership check found (machines/domain/ownership.ts decides): may this installation write
 * the cluster-scoped CiliumVTEPConfig and, since another installation would otherwise exist, the route tables?
 */
export interface OwnershipOutcome {
  readonly write: boolean;
  readonly why: string;
  /** The owner annotation as read: the value this leader may overwrite on its next write. */
  readonly currentOwner: string | undefined;
}

/** The next CiliumVTEPConfig write may replace this owner annotation (besides our own). */
export interface VtepConfigInput {
  readonly replaceableOwner: string | undefined;
}

export type StepDownCause = 'renew-deadline' | 'lease-lost' | 'shutdown';

export interface GatewayContext {
  initAttempts: number;
  routeAttempts: number;
  vtepAttempts: number;
  /** Set once SHUTDOWN arrives: stepping down then ends in `stopped`. */
  shuttingDown: boolean;
  /** A change was reported while the route-table pass was running: run another. */
  routesReassertPending: boolean;
  /** The data plane has converged once (the fleet said so). */
  dataPlaneConverged: boolean;
  /** The grace period of an unconverged data plane is over. */
  dataPlaneGraceOver: boolean;
  lastRenewAt: number | undefined;
  leaseHolder: string | undefined;
  /** When the current holder's lease expires as last judged; a standby's next attempt need not wait past it. */
  leaseExpiresAt: number | undefined;
  stepDownCause: StepDownCause | undefined;
  /** The last error, cleared when a term starts so a step-down never reports a stale one. */
  lastError: string | undefined;
  /** The owner annotation the ownership check allowed the next write to replace. */
  replaceableOwner: string | undefined;
  /** Both kinds of leader writes are in place once this term: leader ready was announced. */
  routesInPlace: boolean;
  vtepConfigInPlace: boolean;
  leaderReadyAnnounced: boolean;
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
  /** Something the leader owns drifted or changed (CiliumVTEPConfig edited, deleted, or owned elsewhere): re-assert now. */
  | { type: 'LEADER.REASSERT'; reason?: string }
  /** The fleet converged the kernel for the first time. */
  | { type: 'DATAPLANE.CONVERGED' }
  /** Raised by the machine: the unconverged data plane's grace period is over. */
  | { type: 'DATAPLANE.GRACE_OVER' }
  /** Raised by the CiliumVTEPConfig region for the route-table region. */
  | { type: 'OWNERSHIP.GRANTED' }
  | { type: 'OWNERSHIP.REFUSED' }
  /** Raised by a work region when its writes are in place. */
  | { type: 'WORK.IN_PLACE' }
  /** The desired set (from the CiliumNode informer), passed on to the fleet. */
  | Extract<FleetEvent, { type: 'NODES.SYNCED' | 'NODES.CHANGED' }>
  /** The watchdog found hybrid_vxlan0 deleted or changed and repaired it: the fleet sweeps the kernel again. */
  | { type: 'DEVICE.REPAIRED' };

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

