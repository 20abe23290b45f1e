// The @kubernetes/client-node clients the kube adapters share, one request
// wrapper (per-call AbortSignal and timeout, errors mapped to KubeError), and
// the retry policies a caller may opt into (p-retry).
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Observable,
  Watch,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import pRetry, { AbortError as PRetryAbort } from 'p-retry';
import { KubeError, KubeFencedError, toKubeError } from './errors.js';

export interface KubeClients {
  readonly kc: KubeConfig;
  /**
   * Group/version/plural client with raw JSON in and out. Used for the custom
   * resources and also for Leases: it keeps the record exactly as on the wire
   * (the typed CoordinationV1Api turns timestamps into Date objects that would
   * lose the microsecond format on the way back).
   */
  readonly custom: CustomObjectsApi;
  /** core/v1 (Events, Pods). */
  readonly core: CoreV1Api;
  readonly watch: Watch;
}

export function kubeClients(kc: KubeConfig): KubeClients {
  return { kc, custom: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api), watch: new Watch(kc) };
}

/**
 * In-cluster service account when running in a pod, else $KUBECONFIG or
 * ~/.kube/config (client-node's loadFromDefault); or the given file.
 */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined && kubeconfigPath !== '') kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}

export interface CallOptions {
  /** Aborts the request (for writes: the fencing signal). */
  signal?: AbortSignal;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Runs one client-node call with a signal that aborts on the caller's signal or
 * the timeout, and maps every failure to a KubeError. `write` calls refuse to
 * start once the caller's signal is aborted (KubeFencedError).
 */
export async function kubeCall<T>(what: string, opts: CallOptions & { write?: boolean }, fn: (o: ConfigurationOptions) => Promise<T>): Promise<T> {
  const caller = opts.signal;
  if (caller?.aborted === true) {
    if (opts.write === true) throw new KubeFencedError(what);
    throw new KubeError('Aborted', `${what}: aborted`, false);
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const signal = caller === undefined ? timeout : AbortSignal.any([caller, timeout]);
  // Per-call middleware: client-node's RequestContext carries the fetch signal. The
  // Object*Api classes run the observable middleware chain, so this is one.
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
  };
  const options: ConfigurationOptions = { middleware: [middleware], middlewareMergeStrategy: 'append' };
  try {
    return await fn(options);
  } catch (err) {
    if (opts.write === true && isAborted(caller)) throw new KubeFencedError(what, { cause: err });
    throw toKubeError(err, what, signal);
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

export interface KubeRetryOptions {
  /** Attempts after the first (default 4). */
  retries?: number;
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
  /** Stops retrying (and rejects) when aborted. */
  signal?: AbortSignal;
  onRetry?: (err: KubeError, attempt: number) => void;
}

/**
 * Opt-in retry for a Kubernetes operation: retries KubeErrors marked retryable
 * (Conflict, 5xx, 429, Network, Timeout…) with exponential backoff and jitter;
 * never retries Fenced, Aborted, NotFound, Invalid, Forbidden.
 */
export async function withKubeRetry<T>(fn: (attempt: number) => Promise<T>, opts: KubeRetryOptions = {}): Promise<T> {
  return pRetry(
    async (attempt) => {
      try {
        return await fn(attempt);
      } catch (err) {
        const ke = err instanceof KubeError ? err : toKubeError(err, 'kube operation');
        if (!ke.retryable) throw new PRetryAbort(ke);
        throw ke;
      }
    },
    {
      retries: opts.retries ?? 4,
      minTimeout: opts.minTimeoutMs ?? 100,
      maxTimeout: opts.maxTimeoutMs ?? 2000,
      randomize: true,
      signal: opts.signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (error instanceof KubeError) opts.onRetry?.(error, attemptNumber);
      },
    },
  ).catch((err: unknown) => {
    // p-retry rethrows the AbortError's original error; keep the KubeError type.
    if (err instanceof KubeError) throw err;
    throw toKubeError(err, 'kube operation', opts.signal);
  });
}

/** Exponential backoff with full jitter: the delay before the n-th retry (n ≥ 1). */
export function backoffDelay(n: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.max(0, n - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
