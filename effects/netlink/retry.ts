// Retry policies for the data plane, built on p-retry. The adapter never
// retries by itself; a caller opts in by wrapping an operation:
//   await withNetlinkRetry(() => dp.reconcile(dev, specs, { signal }), { signal });
// Only failures the kernel marks as transient (NetlinkError.retryable: EBUSY,
// EAGAIN, EINTR, ENOMEM, ENOBUFS, ETIMEDOUT) are retried; a fenced write
// (ABORTED), bad input or a definite refusal (EEXIST, EINVAL…) is not.
import pRetry, { type Options } from 'p-retry';
import { NetlinkError } from './errors.js';

/** Quick retries for a data-plane operation: 5 tries within about 1.5 s. */
export const NETLINK_RETRY_POLICY: Readonly<Options> = Object.freeze({
  retries: 4,
  factor: 2,
  minTimeout: 100,
  maxTimeout: 800,
  randomize: true,
});

export function isRetryableNetlinkError(err: unknown): boolean {
  return err instanceof NetlinkError && err.retryable;
}

export function withNetlinkRetry<T>(fn: () => Promise<T>, options: Options = {}): Promise<T> {
  const { shouldRetry } = options;
  return pRetry(fn, {
    ...NETLINK_RETRY_POLICY,
    ...options,
    shouldRetry: async (ctx) => isRetryableNetlinkError(ctx.error) && (shouldRetry === undefined || (await shouldRetry(ctx))),
  });
}
