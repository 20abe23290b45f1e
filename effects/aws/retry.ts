// Retry policies for AWS calls, built on p-retry. The adapter never picks a
// policy: callers pass one (DEFAULT_AWS_RETRY_POLICY unless they know better).
// Only errors marked retryable (throttling, 5xx, network) are retried; a
// fenced caller stops at once, including during a backoff wait.
import pRetry, { AbortError } from 'p-retry';
import { EffectError } from '../errors.js';
import { FencedError } from './errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  /** First backoff delay. */
  readonly minTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly factor: number;
  /** Jitter: multiply each delay by a random factor in [1, 2). */
  readonly randomize: boolean;
  /** Give up retrying after this long in total. */
  readonly maxRetryTimeMs?: number;
}

/**
 * EC2's mutating bucket refills 5 tokens a second (one per 200 ms): start
 * there, double with jitter, cap at 5 s, stop after 8 retries or 30 s. The
 * gateway's periodic drift repair picks up whatever still failed.
 */
export const DEFAULT_AWS_RETRY_POLICY: RetryPolicy = Object.freeze({
  retries: 8,
  minTimeoutMs: 200,
  maxTimeoutMs: 5_000,
  factor: 2,
  randomize: true,
  maxRetryTimeMs: 30_000,
});

/** One attempt, no retry. */
export const NO_RETRY: RetryPolicy = Object.freeze({ retries: 0, minTimeoutMs: 0, maxTimeoutMs: 0, factor: 1, randomize: false });

export interface RetryInfo {
  /** The attempt that failed (1 = the first call). */
  readonly attempt: number;
  readonly error: EffectError;
  /** Whether another attempt follows. */
  readonly willRetry: boolean;
}

export interface RetryOptions {
  /** Aborting stops further attempts and backoff waits; the call rejects with FencedError. */
  readonly signal?: AbortSignal;
  readonly onFailedAttempt?: (info: RetryInfo) => void;
  /** What to call the operation in a FencedError. */
  readonly what?: string;
}

/**
 * Runs fn under the policy. fn must throw EffectErrors (use toEc2Error);
 * anything else is treated as not retryable.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions = {}): Promise<T> {
  const what = options.what ?? 'AWS call';
  const signal = options.signal;
  if (signal?.aborted) throw new FencedError(what, { cause: signal.reason });
  let done: { value: T } | undefined;
  try {
    return await pRetry(
      async (attempt) => {
        try {
          const value = await fn(attempt);
          done = { value };
          return value;
        } catch (err) {
          // Not retryable (or fenced): end now, rejecting with the error itself.
          if (!(err instanceof EffectError) || !err.retryable) throw new AbortError(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      },
      {
        retries: policy.retries,
        minTimeout: policy.minTimeoutMs,
        maxTimeout: policy.maxTimeoutMs,
        factor: policy.factor,
        randomize: policy.randomize,
        ...(policy.maxRetryTimeMs !== undefined ? { maxRetryTime: policy.maxRetryTimeMs } : {}),
        ...(signal ? { signal } : {}),
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          options.onFailedAttempt?.({
            attempt: attemptNumber,
            error: error as EffectError,
            willRetry: retriesLeft > 0 && !signal?.aborted,
          });
        },
      },
    );
  } catch (err) {
    // p-retry re-checks the signal after a success: the call did complete, so report it.
    if (done) return done.value;
    if (signal?.aborted && !(err instanceof EffectError)) throw new FencedError(what, { cause: signal.reason });
    throw err;
  }
}
