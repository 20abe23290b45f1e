// OpenTelemetry: every statechart transition becomes a span (machine, from,
// to, event, node), and each failover is one trace:
//   gateway.failover
//     ├ event lease.expiry-seen
//     ├ lease.acquire
//     ├ routeTables.repoint ─ routeTable <rtb-…> (one per table)
//     ├ vtepConfig.write
//     └ event leader.ready
// Configured by the standard OTEL_* variables; off (the API's no-op tracer)
// when no OTLP endpoint is set or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none.
import { context, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { InspectionEvent, Observer } from 'xstate';
import { nodeOfActorId } from '../machines/domain/fleet-plan.js';

export interface Tracing {
  readonly enabled: boolean;
  /** The API's tracer: spans go to the SDK once `ready` (before that they are no-ops). */
  readonly tracer: Tracer;
  /** Resolves once the SDK is loaded and registered (at once when tracing is off). */
  readonly ready: Promise<void>;
  shutdown(): Promise<void>;
}

export function tracingEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Loads the SDK (tracing-sdk.ts) only when tracing is on; the gateway starts its machines after `ready`. */
export function startTracing(env: Readonly<Record<string, string | undefined>>, attributes: Attributes): Tracing {
  const tracer = trace.getTracer('eks-hybrid-gateway');
  if (!tracingEnabled(env)) return { enabled: false, tracer, ready: Promise.resolve(), shutdown: () => Promise.resolve() };
  const sdk = import('./tracing-sdk.js').then((m) => m.startSdk(env, attributes));
  return {
    enabled: true,
    tracer,
    ready: sdk.then(() => undefined),
    shutdown: () => sdk.then((s) => s.shutdown()),
  };
}

/**
 * One failover, from the last sign of life of the previous holder that this
 * pod saw (its last renewal, or its release, as the lease watch or an attempt
 * observed it) to leader ready: the wait for the lease to expire is a span of
 * its own, then the acquisition and the leader work. The runtime calls these at the matching points of
 * the gateway machine; spans of leader work attach under the open failover.
 */
export class FailoverTrace {
  private root: Span | undefined;
  private freeSeenAt: number | undefined;
  private openedAt = 0;

  constructor(private readonly tracer: Tracer, private readonly now: () => number = Date.now) {}

  /** The standby learned the lease is free (release seen on the watch). */
  leaseFreeSeen(at = this.now()): void {
    this.freeSeenAt ??= at;
  }

  /**
   * An acquire attempt ended; a won attempt opens the failover trace. `lastSeenAliveAt`: when this
   * pod last saw the previous holder's record change (epoch ms), if it saw one.
   */
  acquireAttempt(startedAt: number, won: boolean, attrs: Attributes = {}, lastSeenAliveAt?: number): void {
    // A lost attempt ends what the free lease meant: a later win (after this
    // holder's lease expires) must not date its failover from that old sighting.
    if (!won) {
      this.freeSeenAt = undefined;
      return;
    }
    this.end('superseded');
    const seen = Math.min(this.freeSeenAt ?? startedAt, startedAt);
    const opened = lastSeenAliveAt !== undefined && lastSeenAliveAt < seen ? lastSeenAliveAt : seen;
    this.openedAt = opened;
    this.root = this.tracer.startSpan('gateway.failover', { startTime: opened, attributes: attrs });
    const ctx = trace.setSpan(context.active(), this.root);
    if (opened < seen) {
      this.root.addEvent('lease.holder-last-seen', {}, opened);
      this.tracer.startSpan('lease.wait-for-expiry', { startTime: opened }, ctx).end(seen);
    }
    this.root.addEvent('lease.expiry-seen', { 'lease.seen_free': this.freeSeenAt !== undefined }, seen);
    this.tracer.startSpan('lease.acquire', { startTime: startedAt }, ctx).end(this.now());
    this.freeSeenAt = undefined;
  }

  /**
   * Runs `fn` in a child span: of the span active in the caller's context
   * (nesting), else of the open failover, else a root (drift repair).
   */
  async span<T>(name: string, attrs: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
    const parent = trace.getSpan(context.active()) ? context.active() : this.root ? trace.setSpan(context.active(), this.root) : context.active();
    return this.tracer.startActiveSpan(name, { attributes: attrs }, parent, async (span) => {
      try {
        const out = await fn(span);
        span.setStatus({ code: SpanStatusCode.OK });
        return out;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /** Leader work done: closes the failover; returns its duration in ms, if one was open. */
  leaderReady(): number | undefined {
    if (!this.root) return undefined;
    const at = this.now();
    this.root.addEvent('leader.ready', {}, at);
    this.root.setStatus({ code: SpanStatusCode.OK });
    this.root.end(at);
    this.root = undefined;
    return at - this.openedAt;
  }

  /** Leadership ended before leader work finished. */
  end(reason: string): void {
    if (!this.root) return;
    this.root.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    this.root.end(this.now());
    this.root = undefined;
  }

  /** The open failover's span, for transitions to attach to. */
  get active(): Span | undefined {
    return this.root;
  }
}

function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * An xstate inspection observer that turns every state change of every actor
 * (gateway, fleet, each vtep) into a zero-length span `state.transition` with
 * machine, from, to, event and node; under the open failover of the actor's shard
 * (`failoverOf` its actor id) when there is one.
 */
export function transitionTracer(tracer: Tracer, failoverOf: (actorId: string) => FailoverTrace | undefined, onTransition?: (t: TransitionRecord) => void): Observer<InspectionEvent> {
  const last = new Map<string, string>();
  return {
    next(ev) {
      if (ev.type !== '@xstate.snapshot') return;
      const snap = ev.snapshot as { value?: unknown; status?: string; machine?: { id?: string } };
      if (snap.value === undefined) return;
      const id = ev.actorRef.sessionId;
      const to = valueText(snap.value);
      const from = last.get(id);
      if (from === to) return;
      last.set(id, to);
      if (snap.status === 'done' || snap.status === 'stopped') last.delete(id);
      const machine = snap.machine?.id ?? 'unknown';
      const actorId = (ev.actorRef as { id?: string }).id ?? '';
      const node = nodeOfActorId(actorId);
      const record: TransitionRecord = { machine, actorId, from: from ?? '(start)', to, value: snap.value, event: ev.event.type, node };
      const attributes: Attributes = { 'xstate.machine': machine, 'xstate.from': record.from, 'xstate.to': to, 'xstate.event': ev.event.type };
      if (node !== undefined) attributes['hybrid.node'] = node;
      const failover = failoverOf(actorId);
      const parent = failover?.active ? trace.setSpan(context.active(), failover.active) : context.active();
      const now = Date.now();
      tracer.startSpan('state.transition', { attributes, startTime: now }, parent).end(now);
      onTransition?.(record);
    },
  };
}

export interface TransitionRecord {
  machine: string;
  /** The actor's id in its parent (`shard-0`, a vtep actor's, …); empty for the root. */
  actorId: string;
  from: string;
  to: string;
  /** The state value reached (`to` is its text). */
  value: unknown;
  event: string;
  node: string | undefined;
}
