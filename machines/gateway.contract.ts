// The contract between the gateway statechart and its effects: what each
// invoked actor returns, what it is given, and the events the machine takes.
// Defined once here; effects/ and runtime/ import these types. The root
// (gateway.machine.ts) starts the gateway and runs one shard child per shard
// (shard.machine.ts): a shard's Lease and, while held, its leader writes.
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

export interface RouteTablesInput extends ShardRef {
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
export interface VtepConfigInput extends ShardRef {
  readonly replaceableOwner: string | undefined;
  /** Take back this shard's own endpoints from whoever edited them by hand (server-side apply with force). */
  readonly reclaim: boolean;
}

/**
 * An acquire attempt. yieldToPreferred: another live gateway is preferred for this shard, so a free
 * or expired Lease is taken only once it has stayed so for the takeover grace (it gets the chance first).
 */
export interface AcquireInput extends ShardRef {
  readonly yieldToPreferred: boolean;
}

/** Why a shard's term ended; `hand-over`: the gateway preferred for the shard is back and converged. */
export type StepDownCause = 'renew-deadline' | 'lease-lost' | 'shutdown' | 'hand-over';

/** The root's context: start-up, the data plane's convergence, shutdown. */
export interface GatewayContext {
  /** How many shards this gateway takes part in (--shards): one shard child each. */
  shards: number;
  initAttempts: number;
  /** Set once SHUTDOWN arrives. */
  shuttingDown: boolean;
  /** The data plane has converged once (the fleet said so). */
  dataPlaneConverged: boolean;
  /** The grace period of an unconverged data plane is over. */
  dataPlaneGraceOver: boolean;
  /** Shard children that have stopped since SHUTDOWN. */
  shardsStopped: number;
  lastError: string | undefined;
}

export interface GatewayInput {
  readonly shards: number;
}

/** What a shard child starts with: its index and what the root knows of the data plane and placement. */
export interface ShardInput {
  readonly shard: number;
  readonly dataPlaneConverged: boolean;
  readonly dataPlaneGraceOver: boolean;
  /** Is this gateway the one placement prefers for the shard (always, with one shard)? */
  readonly preferred: boolean;
}

/** Every actor a shard invokes is told which shard it works for. */
export interface ShardRef {
  readonly shard: number;
}

/** The life of one shard on this gateway: its Lease, and while it holds it, the shard's leader writes. */
export interface ShardContext {
  shard: number;
  routeAttempts: number;
  vtepAttempts: number;
  /** Set once SHUTDOWN arrives: stepping down then ends in `stopped`. */
  shuttingDown: boolean;
  /** A change was reported while the route-table pass was running: run another. */
  routesReassertPending: boolean;
  /** The data plane has converged once (the root passes the fleet's word on). */
  dataPlaneConverged: boolean;
  /** The grace period of an unconverged data plane is over. */
  dataPlaneGraceOver: boolean;
  /** Placement prefers this gateway for the shard (always true with one shard). */
  preferred: boolean;
  /** When the gateway placement prefers instead was last seen alive (its member Lease renewed; local ms). */
  preferredAliveAt: number | undefined;
  lastRenewAt: number | undefined;
  /** When the current term started (the winning attempt was sent; local ms). */
  termStartedAt: number | undefined;
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

/** Placement as the membership watch sees it, for one shard. */
export interface PlacementFacts {
  readonly preferred: boolean;
  /** When the preferred gateway (another one) last renewed its member Lease, as seen here (local ms). */
  readonly preferredAliveAt?: number | undefined;
}

/** Events the shard machine takes (from its own actors, or passed on by the root). */
export type ShardEvent =
  /** SIGTERM/SIGINT (passed on by the root): step down (release the lease) and stop. */
  | { type: 'SHUTDOWN' }
  /** The renew deadline passed without a successful renewal (a delayed event the leader schedules). */
  | { type: 'LEASE.RENEW_DEADLINE_EXCEEDED' }
  /** The lease watch saw another holder take the lease. */
  | { type: 'LEASE.LOST'; holder?: string }
  /** The lease watch saw the lease released or deleted: try to acquire now. */
  | { type: 'LEASE.FREE' }
  /** Something the leader owns drifted or changed (CiliumVTEPConfig edited, deleted, or owned elsewhere): re-assert now. */
  | { type: 'LEADER.REASSERT'; reason?: string }
  /** The data plane converged for the first time (the fleet, through the root). */
  | { type: 'DATAPLANE.CONVERGED' }
  /** The unconverged data plane's grace period is over (the root's timer). */
  | { type: 'DATAPLANE.GRACE_OVER' }
  /** The membership watch's placement for this shard changed (only with more than one shard). */
  | ({ type: 'PLACEMENT.CHANGED' } & PlacementFacts)
  /** Raised by the CiliumVTEPConfig region for the route-table region. */
  | { type: 'OWNERSHIP.GRANTED' }
  | { type: 'OWNERSHIP.REFUSED' }
  /** Raised by a work region when its writes are in place. */
  | { type: 'WORK.IN_PLACE' };

/** Events the root takes. */
export type GatewayEvent =
  /** SIGTERM/SIGINT: every shard steps down (releases its lease), then the gateway stops. */
  | { type: 'SHUTDOWN' }
  /** The fleet converged the kernel for the first time. */
  | { type: 'DATAPLANE.CONVERGED' }
  /** Raised by the machine: the unconverged data plane's grace period is over. */
  | { type: 'DATAPLANE.GRACE_OVER' }
  /** A shard child reached `stopped` (after SIGTERM: it stepped down). */
  | { type: 'SHARD.STOPPED'; shard: number }
  /** Placement for shard `shard` changed: passed on to that shard. */
  | ({ type: 'PLACEMENT.CHANGED'; shard: number } & PlacementFacts)
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

/**
 * A shard's CiliumVTEPConfig apply met fields of its own endpoints owned by another manager: someone
 * edited them by hand (code ENDPOINTS_EDITED). Drift, taken back by applying with force.
 */
export function isEndpointsEdited(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENDPOINTS_EDITED';
}

/** A CiliumVTEPConfig write found the object owned by another installation (code OWNED_ELSEWHERE). */
export function isOwnedElsewhere(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'OWNED_ELSEWHERE';
}

