// OTLP traces of a failover for the timeline page: spans (decoded by the
// lab's OTLP JSON reader, lab/otlp-json.ts, shared with the lab's receiver)
// grouped by trace, and the failover trace picked out of them.
import type { TraceSpan } from '../lab/otlp-json.js';
import { OtlpInputError } from '../lab/otlp-json.js';

export { OtlpInputError, parseOtlpJson, type AttributeValue, type ParsedOtlp, type SpanEvent, type TraceSpan } from '../lab/otlp-json.js';

export interface Trace {
  readonly traceId: string;
  /** Spans in input order. */
  readonly spans: readonly TraceSpan[];
  /** Spans without a parent in this trace (normally one). */
  readonly roots: readonly TraceSpan[];
  readonly startNs: bigint;
  readonly endNs: bigint;
}

/** Groups spans by trace; a span whose parent is not in its trace counts as a root. */
export function groupTraces(spans: readonly TraceSpan[]): Trace[] {
  const byTrace = new Map<string, TraceSpan[]>();
  for (const span of spans) {
    const list = byTrace.get(span.traceId);
    if (list === undefined) byTrace.set(span.traceId, [span]);
    else list.push(span);
  }
  const traces: Trace[] = [];
  for (const [traceId, list] of byTrace) {
    const ids = new Set(list.map((s) => s.spanId));
    const roots = list.filter((s) => s.parentSpanId === undefined || !ids.has(s.parentSpanId) || s.parentSpanId === s.spanId);
    let startNs = list[0]!.startNs;
    let endNs = list[0]!.endNs;
    for (const s of list) {
      if (s.startNs < startNs) startNs = s.startNs;
      if (s.endNs > endNs) endNs = s.endNs;
      for (const e of s.events) {
        if (e.timeNs < startNs) startNs = e.timeNs;
        if (e.timeNs > endNs) endNs = e.timeNs;
      }
    }
    traces.push({ traceId, spans: list, roots, startNs, endNs });
  }
  return traces;
}

export interface PickOptions {
  /** Name of the failover trace's root span (default `gateway.failover`). */
  readonly rootSpanName?: string;
  /** Pick this trace, whatever its root. */
  readonly traceId?: string;
}

export const DEFAULT_ROOT_SPAN = 'gateway.failover';

/**
 * The failover trace: the given trace id; else the latest trace whose root
 * span has the given name; else the longest trace.
 */
export function pickTrace(traces: readonly Trace[], options: PickOptions = {}): { trace: Trace; reason: string } {
  if (traces.length === 0) throw new OtlpInputError('the trace data holds no spans');
  if (options.traceId !== undefined) {
    const wanted = options.traceId.toLowerCase();
    const trace = traces.find((t) => t.traceId === wanted);
    if (trace === undefined) throw new OtlpInputError(`no trace with id ${options.traceId} in the trace data`);
    return { trace, reason: `trace id ${trace.traceId}` };
  }
  const rootName = options.rootSpanName ?? DEFAULT_ROOT_SPAN;
  const named = traces.filter((t) => t.roots.some((r) => r.name === rootName));
  if (named.length > 0) {
    const latest = named.reduce((a, b) => (b.startNs > a.startNs ? b : a));
    const more = named.length > 1 ? ` (the latest of ${named.length})` : '';
    return { trace: latest, reason: `root span "${rootName}"${more}` };
  }
  const longest = traces.reduce((a, b) => (b.endNs - b.startNs > a.endNs - a.startNs ? b : a));
  return { trace: longest, reason: `no root span "${rootName}": the longest of ${traces.length} trace(s)` };
}
