// Each shard's Lease as the shard statechart uses it: acquire, renew, release,
// watch, and the standby's wait before its next attempt.
import { fromPromise } from 'xstate';
import type { AcquireInput, LeaseOutcome, ShardEvent, ShardRef } from '../../machines/gateway.machine.js';
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
  /** Shard k's Lease lock at index k. */
  readonly locks: readonly LeaseLockPort[];
  readonly identity: string;
  /** Shard k's failover trace at index k. */
  readonly failovers: readonly FailoverTrace[];
  /** How long a gateway not preferred for a shard leaves its free Lease to the preferred one. */
  readonly takeoverGraceMs: number;
  readonly log: Logger;
}

/** The item for shard k of a per-shard list (the machine only ever names shards it was started with). */
export function ofShard<T>(list: readonly T[], shard: number): T {
  const item = list[shard];
  if (item === undefined) throw new Error(`no shard ${shard} (this gateway runs ${list.length})`);
  return item;
}

export function leaseActors({ locks, identity, failovers, takeoverGraceMs, log }: LeaseWiring) {
  return {
    watchLease: leaseWatchActor<ShardEvent, ShardRef>((input) => ofShard(locks, input.shard)),
    tryAcquireLease: fromPromise<LeaseOutcome, AcquireInput>(async ({ input, signal }) => {
      const lock = ofShard(locks, input.shard);
      const failover = ofShard(failovers, input.shard);
      const startedAt = Date.now();
      // The previous holder's last sign of life as this pod saw it: where the failover trace starts.
      const before = lock.observation;
      const lastSeenAliveAt = before.record !== undefined && before.holder !== identity ? performance.timeOrigin + before.observedAt : undefined;
      const attempt = await lock.tryAcquireOrRenew(signal, { yieldMs: input.yieldToPreferred ? takeoverGraceMs : 0 });
      failover.acquireAttempt(startedAt, attempt.held, { 'lease.holder': identity, 'lease.transitions': attempt.leaseTransitions ?? 0, 'gateway.shard': input.shard }, lastSeenAliveAt);
      if (attempt.error) log.debug({ err: attempt.error, shard: input.shard }, 'lease acquire attempt failed');
      return attempt;
    }),
    renewLease: fromPromise<LeaseOutcome, ShardRef>(async ({ input, signal }) => {
      const attempt = await ofShard(locks, input.shard).tryAcquireOrRenew(signal);
      if (!attempt.held || attempt.error) log.warn({ shard: input.shard, outcome: attempt.outcome, err: attempt.error?.message }, 'lease renewal did not go through; retrying within the renew deadline');
      return attempt;
    }),
    releaseLease: fromPromise<void, ShardRef>(async ({ input, signal }) => {
      await ofShard(locks, input.shard).release(signal);
    }),
  };
}
