// The Lease as the gateway statechart uses it: acquire, renew, release, watch,
// and the standby's wait before its next attempt.
import { fromPromise } from 'xstate';
import type { GatewayEvent, LeaseOutcome } from '../../machines/gateway.machine.js';
import { TIMINGS } from '../../machines/timings.js';
import { leaseWatchActor } from '../../effects/kube/index.js';
import type { Logger } from '../logging.js';
import type { FailoverTrace } from '../tracing.js';
import type { LeaseLockPort } from './ports.js';

/**
 * The wait before the next lease attempt: the retry period, or less when the
 * holder's lease (as judged locally) expires sooner — a standby then tries
 * right after the expiry instead of up to a period later. An expiry already
 * past says nothing new: a failed attempt then waits the full period.
 */
export function retryDelay(retryPeriodMs: number, leaseExpiresAt: number | undefined, now: number): number {
  const untilExpiry = leaseExpiresAt === undefined ? Infinity : leaseExpiresAt - now + TIMINGS.expiryMarginMs;
  return untilExpiry > 0 ? Math.min(retryPeriodMs, untilExpiry) : retryPeriodMs;
}

export interface LeaseWiring {
  readonly lock: LeaseLockPort;
  readonly identity: string;
  readonly failover: FailoverTrace;
  readonly log: Logger;
}

export function leaseActors({ lock, identity, failover, log }: LeaseWiring) {
  return {
    watchLease: leaseWatchActor<GatewayEvent>(lock),
    tryAcquireLease: fromPromise<LeaseOutcome>(async ({ signal }) => {
      const startedAt = Date.now();
      // The previous holder's last sign of life as this pod saw it: where the failover trace starts.
      const before = lock.observation;
      const lastSeenAliveAt = before.record !== undefined && before.holder !== identity ? performance.timeOrigin + before.observedAt : undefined;
      const attempt = await lock.tryAcquireOrRenew(signal);
      failover.acquireAttempt(startedAt, attempt.held, { 'lease.holder': identity, 'lease.transitions': attempt.leaseTransitions ?? 0 }, lastSeenAliveAt);
      if (attempt.error) log.debug({ err: attempt.error }, 'lease acquire attempt failed');
      return attempt;
    }),
    renewLease: fromPromise<LeaseOutcome>(async ({ signal }) => {
      const attempt = await lock.tryAcquireOrRenew(signal);
      if (!attempt.held || attempt.error) log.warn({ outcome: attempt.outcome, err: attempt.error?.message }, 'lease renewal did not go through; retrying within the renew deadline');
      return attempt;
    }),
    releaseLease: fromPromise<void>(async ({ signal }) => {
      await lock.release(signal);
    }),
  };
}
