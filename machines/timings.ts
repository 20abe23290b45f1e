// Production's timings, in one place: the runtime configures the machines with
// them and the generated diagrams show them, so a diagram never shows a timing
// the gateway does not use. Lease timings are the defaults of the flags
// (--leader-election-*); the runtime passes the configured ones.

export interface LeaseTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 1000 };

export const TIMINGS = {
  /** The leader re-checks route tables and CiliumVTEPConfig this often while nothing changes. */
  driftRepairMs: 30_000,
  /** The fleet sweeps the kernel (stale entries, drift) this often. */
  resyncMs: 30_000,
  /** hybrid_vxlan0 and the policy rules are checked (and repaired) this often. */
  deviceCheckMs: 10_000,
  /** Init stages retry with exponential backoff from this base… */
  initRetryBaseMs: 500,
  /** …up to this. */
  initRetryMaxMs: 30_000,
  /** Leader work (route tables, CiliumVTEPConfig, each on its own) backs off from this base… */
  leaderWorkRetryBaseMs: 200,
  /** …up to this. */
  leaderWorkRetryMaxMs: 10_000,
  /**
   * An unconverged gateway waits this long (from start) before it competes for the lease, so that a
   * converged peer wins; two fresh pods still elect after it.
   */
  dataPlaneGraceMs: 5_000,
  /** Stepping down waits at most this long for the writes in flight (route writes already sent: until EC2 answered) before releasing the Lease. */
  settleTimeoutMs: 1_000,
  /** An EC2 request gives up after this (the SDK's socket timeout): a write sent can land up to this late. */
  ec2RequestTimeoutMs: 10_000,
  /** Margin added to a holder's locally judged expiry before a standby tries. */
  expiryMarginMs: 5,
} as const;

/**
 * An inconclusive renewal (5xx, 409, timeout) is tried again after this, so at least two more
 * attempts fit in the renew deadline: a quarter of the retry period (250 ms at the defaults).
 */
export function renewRetryMs(t: LeaseTimings): number {
  return Math.max(50, Math.floor(t.retryPeriodMs / 4));
}

/**
 * The leader's renewal schedule, from when its last successful renewal was sent (`lastRenewAt`;
 * undefined: count from now). A round starts a retry period after that send — or at once when the
 * round trip took longer — and gives up (the renew deadline) a renew deadline after the round
 * started, but never later than the lease this pod holds: lastRenewAt + lease duration. So every
 * round has the whole renew deadline whatever the previous round trip took, as long as it fits the
 * lease (at the defaults 3 s / 2 s / 1 s it does exactly: 1 s + 2 s).
 */
export function renewalTimes(t: LeaseTimings, lastRenewAt: number | undefined, now: number): { startInMs: number; deadlineInMs: number } {
  if (lastRenewAt === undefined) return { startInMs: t.retryPeriodMs, deadlineInMs: t.renewDeadlineMs };
  const startInMs = Math.max(0, lastRenewAt + t.retryPeriodMs - now);
  const deadlineInMs = Math.max(0, Math.min(t.renewDeadlineMs, lastRenewAt + t.leaseDurationMs - now));
  return { startInMs, deadlineInMs };
}

/**
 * With more than one shard: a gateway that placement does not prefer for a shard takes its free
 * Lease only after it has been free this long, so the preferred gateway goes first (it watches the
 * Lease, and tries at the latest a retry period after it came free): one retry period.
 */
export function takeoverGraceMs(t: LeaseTimings): number {
  return t.retryPeriodMs;
}

/** Stepping down gives the release this long before going on without it. */
export function releaseTimeoutMs(t: LeaseTimings): number {
  return Math.max(500, t.renewDeadlineMs);
}

/**
 * The new leader's second route pass (describe-first) comes this long after the first: one EC2
 * request timeout, within which a write the old leader sent before it stepped down may still land.
 */
export function lateWriteCheckMs(): number {
  return TIMINGS.ec2RequestTimeoutMs;
}

/** Exponential backoff: base · 2^(attempt−1), capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

/** The root statechart's delays that are plain durations. */
export function gatewayFixedDelays() {
  return { dataPlaneGrace: TIMINGS.dataPlaneGraceMs, settleTimeout: TIMINGS.settleTimeoutMs };
}

/** A shard statechart's delays that are plain durations, for the given lease timings. */
export function fixedDelays(t: LeaseTimings) {
  return {
    standbyRetryPeriod: t.retryPeriodMs,
    renewInterval: t.retryPeriodMs,
    renewRetryDelay: renewRetryMs(t),
    renewDeadline: t.renewDeadlineMs,
    lateWriteCheckDelay: lateWriteCheckMs(),
    driftRepairPeriod: TIMINGS.driftRepairMs,
    settleTimeout: TIMINGS.settleTimeoutMs,
    releaseTimeout: releaseTimeoutMs(t),
  };
}
