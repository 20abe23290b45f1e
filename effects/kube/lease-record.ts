// What a coordination.k8s.io/v1 Lease says, read defensively, and what one
// attempt of the lock on it reports (lease-lock.ts is the lock; other-lease.ts
// reads another installation's Lease with the same parser; members.ts writes
// and watches the member Leases with the same times and durations).
import { performance } from 'node:perf_hooks';
import type { LeaseAttemptOutcome } from '../../machines/gateway.machine.js';
import type { KubeError } from './errors.js';

export const LEASE_GROUP = 'coordination.k8s.io';
export const LEASE_VERSION = 'v1';
export const LEASE_PLURAL = 'leases';
/** Exact lease duration in ms (sub-second support); leaseDurationSeconds stays the integer ceiling. */
export const LEASE_DURATION_MS_ANNOTATION = 'eks-hybrid-gateway/lease-duration-ms';

/** The Lease fields the lock reads, parsed defensively. */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number | undefined;
  /** Exact duration: the annotation, else leaseDurationSeconds × 1000, else undefined. */
  readonly leaseDurationMs: number | undefined;
  readonly acquireTime: string | undefined;
  readonly renewTime: string | undefined;
  readonly leaseTransitions: number;
  readonly resourceVersion: string;
}

/**
 * acquired (created, taken over, re-taken after a release), renewed, held-by-other (an unexpired
 * lease of another identity), conflict (our write lost a race; the record was re-read), error
 * (network, 5xx, timeout: `error` says why), fenced (the signal was aborted: nothing written).
 * The union is the statechart's (machines/gateway.machine.ts), so a new outcome cannot pass unseen.
 */
export type LeaseOutcome = LeaseAttemptOutcome;

export interface LeaseAttempt {
  readonly outcome: LeaseOutcome;
  /** isHeld() right after the attempt. */
  readonly held: boolean;
  /** Holder in the last observed record ('' when released; undefined when unknown). */
  readonly holder: string | undefined;
  readonly leaseTransitions: number | undefined;
  /** Local monotonic ms (performance.now()) until which we may act as leader, when held. */
  readonly heldUntil: number | undefined;
  /** Local monotonic ms at which our last successful write was SENT, when held (renew deadlines count from it). */
  readonly renewedAt: number | undefined;
  /** When another holder's lease expires as judged locally (held-by-other). */
  readonly otherExpiresAt: number | undefined;
  readonly record: LeaseRecord | undefined;
  readonly error: KubeError | undefined;
}

export interface LeaseObservation {
  /** undefined when the Lease does not exist (deleted). */
  readonly record: LeaseRecord | undefined;
  readonly holder: string | undefined;
  /** The holder is empty or the Lease is gone: a standby may acquire now. */
  readonly free: boolean;
  /** Local time the record was seen to change. */
  readonly observedAt: number;
  /** When the holder's lease runs out as judged here (observedAt + its duration); undefined when free. */
  readonly expiresAt: number | undefined;
}

/** The Lease API's coordinates in a namespace, as the raw-JSON client's calls and ListWatch targets take them. */
export function leaseResource(namespace: string): { group: string; version: string; plural: string; namespace: string } {
  return { group: LEASE_GROUP, version: LEASE_VERSION, plural: LEASE_PLURAL, namespace };
}

/**
 * A holder's lease duration in whole ms (default 3000; throws, naming `who`, unless > 0) and its
 * per-request timeout (default: the duration, between 200 ms and 10 s).
 */
export function leaseTimings(who: string, leaseDurationMs = 3000, requestTimeoutMs?: number): { leaseDurationMs: number; requestTimeoutMs: number } {
  if (!Number.isFinite(leaseDurationMs) || leaseDurationMs <= 0) throw new Error(`${who}: leaseDurationMs must be > 0 (got ${leaseDurationMs})`);
  const d = Math.round(leaseDurationMs);
  return { leaseDurationMs: d, requestTimeoutMs: requestTimeoutMs ?? Math.min(10_000, Math.max(d, 200)) };
}

/** The integer leaseDurationSeconds a record carries for a duration in ms: ceil(ms / 1000), at least 1. */
export function leaseDurationSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Wall clock in epoch microseconds for acquireTime/renewTime (performance's origin keeps it monotonic within the process). */
export function wallClockMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** Epoch microseconds as RFC3339 with exactly 6 fractional digits (metav1.MicroTime). */
export function formatMicroTime(epochMicros: number): string {
  const micros = Math.floor(epochMicros);
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = String(micros % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}


/** Parses a raw Lease; undefined when it is unusable (no resourceVersion). Never throws. */
export function parseLeaseRecord(raw: unknown): LeaseRecord | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as { metadata?: { resourceVersion?: unknown; annotations?: unknown }; spec?: unknown };
  const rv = o.metadata?.resourceVersion;
  if (typeof rv !== 'string' || rv === '') return undefined;
  const spec = (o.spec !== null && typeof o.spec === 'object' ? o.spec : {}) as Record<string, unknown>;
  const holder = typeof spec.holderIdentity === 'string' ? spec.holderIdentity : '';
  const secs = typeof spec.leaseDurationSeconds === 'number' && Number.isFinite(spec.leaseDurationSeconds) && spec.leaseDurationSeconds > 0 ? spec.leaseDurationSeconds : undefined;
  const ann = o.metadata?.annotations;
  const annMs = ann !== null && typeof ann === 'object' ? (ann as Record<string, unknown>)[LEASE_DURATION_MS_ANNOTATION] : undefined;
  const parsedMs = typeof annMs === 'string' && /^\d{1,9}$/.test(annMs) ? Number(annMs) : undefined;
  // The annotation may only shorten what leaseDurationSeconds says by rounding, never lengthen or
  // contradict it wildly: ignore it unless ceil(ms/1000) matches the integer field.
  const ms = parsedMs !== undefined && parsedMs > 0 && secs !== undefined && Math.max(1, Math.ceil(parsedMs / 1000)) === secs ? parsedMs : secs !== undefined ? secs * 1000 : undefined;
  const transitions = typeof spec.leaseTransitions === 'number' && Number.isInteger(spec.leaseTransitions) && spec.leaseTransitions >= 0 ? spec.leaseTransitions : 0;
  return {
    holderIdentity: holder,
    leaseDurationSeconds: secs,
    leaseDurationMs: ms,
    acquireTime: typeof spec.acquireTime === 'string' ? spec.acquireTime : undefined,
    renewTime: typeof spec.renewTime === 'string' ? spec.renewTime : undefined,
    leaseTransitions: transitions,
    resourceVersion: rv,
  };
}
