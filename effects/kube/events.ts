// Kubernetes Events (core/v1) for leadership changes (on the gateway Pod) and
// skipped malformed nodes (on the CiliumNode), deduplicated and rate-limited
// like client-go's record package:
// - correlation: a repeat of the same (object, type, reason, message) within
//   `dedupeWindowMs` updates the existing Event (count + 1, lastTimestamp)
//   instead of creating a new one;
// - spam filter: a token bucket per involved object (burst 25, one token per
//   5 minutes by default); a suppressed occurrence still counts, and the next
//   write carries the accumulated count.
// Why core/v1 rather than events.k8s.io/v1: it is what `kubectl describe` and
// `kubectl get events` show for the Pod and the CiliumNode, its count /
// firstTimestamp / lastTimestamp carry the deduplication directly, and it needs
// no MicroTime eventTime or series bookkeeping. Best effort: record() never
// throws and never blocks the caller's decisions.
import type { CoreV1Event } from '@kubernetes/client-node';
import { performance } from 'node:perf_hooks';
import { kubeCall, type KubeClients } from './client.js';
import { toKubeError, type KubeError } from './errors.js';

export interface ObjectRef {
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  /** Omit for cluster-scoped objects (their Events go to namespace "default", as client-go does). */
  readonly namespace?: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';
export type RecordResult = 'created' | 'updated' | 'dropped' | 'failed';

/** The reasons of the Events the gateway records: exactly these (the recorder takes no other). */
export const EVENT_REASONS = {
  /** This pod became the leader (on the Pod). */
  leaderElected: 'LeaderElected',
  /** This pod stopped leading: lost, released or stepped down (on the Pod). */
  leadershipLost: 'LeadershipLost',
  /** A leader that writes nothing shared: another installation owns CiliumVTEPConfig (on the Pod). */
  ownershipConflict: 'OwnershipConflict',
  /** A CiliumNode was skipped because it is malformed or not admitted (on the CiliumNode). */
  malformedCiliumNode: 'MalformedCiliumNode',
  /** The kernel refused a hybrid node's entries (on the CiliumNode). */
  vtepRefused: 'VtepRefused',
} as const;

export type EventReason = (typeof EVENT_REASONS)[keyof typeof EVENT_REASONS];

export function podRef(namespace: string, name: string, uid?: string): ObjectRef {
  return { kind: 'Pod', apiVersion: 'v1', namespace, name, uid };
}

export function ciliumNodeRef(name: string, uid?: string): ObjectRef {
  return { kind: 'CiliumNode', apiVersion: 'cilium.io/v2', name, uid };
}

export interface EventRecorderOptions {
  readonly clients: KubeClients;
  /** source.component / reportingComponent (default eks-hybrid-gateway). */
  readonly component?: string;
  /** source.host / reportingInstance (e.g. the node name or pod name). */
  readonly host?: string;
  /** Token bucket per involved object: burst (default 25) and refill interval (default 300 000 ms). */
  readonly burst?: number;
  readonly refillEveryMs?: number;
  /** Repeats within this window update the same Event (default 10 min). */
  readonly dedupeWindowMs?: number;
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
  readonly onError?: (err: KubeError) => void;
}

interface Bucket {
  tokens: number;
  last: number;
}

interface Aggregate {
  name: string;
  namespace: string;
  count: number;
  /** Occurrences already written. */
  written: number;
  first: Date;
  lastSeen: number;
}

function objKey(ref: ObjectRef): string {
  return [ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? ''].join('\u0000');
}

export class EventRecorder {
  private readonly clients: KubeClients;
  private readonly component: string;
  private readonly host: string | undefined;
  private readonly burst: number;
  private readonly refillEveryMs: number;
  private readonly dedupeWindowMs: number;
  private readonly requestTimeoutMs: number;
  private readonly now: () => number;
  private readonly onError: ((err: KubeError) => void) | undefined;
  private readonly buckets = new Map<string, Bucket>();
  private readonly aggregates = new Map<string, Aggregate>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Counters for tests and metrics. */
  readonly stats = { created: 0, updated: 0, dropped: 0, failed: 0 };

  constructor(opts: EventRecorderOptions) {
    this.clients = opts.clients;
    this.component = opts.component ?? 'eks-hybrid-gateway';
    this.host = opts.host;
    this.burst = opts.burst ?? 25;
    this.refillEveryMs = opts.refillEveryMs ?? 300_000;
    this.dedupeWindowMs = opts.dedupeWindowMs ?? 600_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.now = opts.now ?? (() => performance.now());
    this.onError = opts.onError;
  }

  private take(key: string): boolean {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.burst, last: t };
      this.buckets.set(key, b);
    }
    const refill = Math.floor((t - b.last) / this.refillEveryMs);
    if (refill > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.last += refill * this.refillEveryMs;
    }
    if (b.tokens <= 0) return false;
    b.tokens -= 1;
    return true;
  }

  /** Keeps the bookkeeping bounded: forgets aggregates past their window and full buckets. */
  private prune(t: number): void {
    if (this.aggregates.size > 4096) {
      for (const [k, a] of this.aggregates) {
        if (t - a.lastSeen > this.dedupeWindowMs) {
          this.aggregates.delete(k);
          this.chains.delete(k);
        }
      }
    }
    if (this.buckets.size > 4096) {
      for (const [k, b] of this.buckets) if (b.tokens >= this.burst || t - b.last > this.refillEveryMs * this.burst) this.buckets.delete(k);
    }
  }

  /** Records one occurrence. Resolves with what happened; never rejects. */
  record(ref: ObjectRef, type: EventType, reason: EventReason, message: string): Promise<RecordResult> {
    const key = [objKey(ref), type, reason, message].join('\u0001');
    const t = this.now();
    this.prune(t);
    let agg = this.aggregates.get(key);
    if (agg === undefined || t - agg.lastSeen > this.dedupeWindowMs) {
      const ns = ref.namespace !== undefined && ref.namespace !== '' ? ref.namespace : 'default';
      const suffix = (Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16);
      agg = { name: `${ref.name}.${suffix}`, namespace: ns, count: 0, written: 0, first: new Date(), lastSeen: t };
      this.aggregates.set(key, agg);
    }
    agg.count += 1;
    agg.lastSeen = t;
    if (!this.take(objKey(ref))) {
      this.stats.dropped += 1;
      return Promise.resolve('dropped');
    }
    const a = agg;
    // One write at a time per aggregate, in order.
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.write(ref, type, reason, message, a));
    this.chains.set(key, next.catch(() => undefined));
    return next;
  }

  private body(ref: ObjectRef, type: EventType, reason: EventReason, message: string, a: Aggregate): CoreV1Event {
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: a.name, namespace: a.namespace },
      involvedObject: { kind: ref.kind, apiVersion: ref.apiVersion, name: ref.name, namespace: ref.namespace, uid: ref.uid },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: this.component, host: this.host },
      reportingComponent: this.component,
      reportingInstance: this.host ?? '',
      firstTimestamp: a.first,
      lastTimestamp: new Date(),
      count: a.count,
    };
  }

  private async write(ref: ObjectRef, type: EventType, reason: EventReason, message: string, a: Aggregate): Promise<RecordResult> {
    const body = this.body(ref, type, reason, message, a);
    const opts = { timeoutMs: this.requestTimeoutMs };
    const update = async (): Promise<'updated'> => {
      await kubeCall(`update event ${a.namespace}/${a.name}`, opts, (o) => this.clients.core.replaceNamespacedEvent({ name: a.name, namespace: a.namespace, body }, o));
      a.written = a.count;
      this.stats.updated += 1;
      return 'updated';
    };
    try {
      if (a.written > 0) {
        try {
          return await update();
        } catch (err) {
          if (toKubeError(err, 'update event').code !== 'NotFound') throw err;
          // The Event expired on the server (TTL): create it again below.
        }
      }
      try {
        await kubeCall(`create event ${a.namespace}/${a.name}`, opts, (o) => this.clients.core.createNamespacedEvent({ namespace: a.namespace, body }, o));
      } catch (err) {
        if (toKubeError(err, 'create event').code !== 'AlreadyExists') throw err;
        // An earlier create landed although its answer was lost: update it instead.
        return await update();
      }
      a.written = a.count;
      this.stats.created += 1;
      return 'created';
    } catch (err) {
      this.stats.failed += 1;
      this.onError?.(toKubeError(err, `event ${reason} on ${ref.kind}/${ref.name}`));
      return 'failed';
    }
  }

  /** Waits for the writes in flight (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }
}
