// Reading OTLP trace data in its JSON encoding: what the OTLP/HTTP exporter
// sends with `http/json` (an ExportTraceServiceRequest:
// resourceSpans[].scopeSpans[].spans[]) or a file with the same shape, an
// array of such requests, or JSON Lines with one request per line (a file an
// exporter appends to). Protobuf is not read: it is recognised and refused
// with a clear error.
//
// The one decoder of both the lab's OTLP receiver (otlp-receiver.ts) and the
// failover timelines (visualizations/otlp.ts imports it: visualizations may
// use the lab, the lab may not use the gateway's code).
//
// Malformed input never throws past this module's own OtlpInputError: a top
// level that is not OTLP JSON is an error; a single bad span is skipped and
// reported in `warnings`.

export class OtlpInputError extends Error {
  override readonly name = 'OtlpInputError';
}

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export interface SpanEvent {
  readonly name: string;
  readonly timeNs: bigint;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

export interface TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly events: readonly SpanEvent[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string | undefined;
  /** service.name of the span's resource, when given. */
  readonly serviceName: string | undefined;
}

export interface ParsedOtlp {
  readonly spans: readonly TraceSpan[];
  /** What was skipped and why (bad spans, bad events). */
  readonly warnings: readonly string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Decodes JSON text, a JSON Lines text, or bytes holding either. */
function decode(input: unknown): unknown {
  if (input instanceof Uint8Array) {
    const bytes = input;
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    const first = text.trimStart()[0];
    if (bytes.length > 0 && first !== '{' && first !== '[') {
      throw new OtlpInputError(
        'the trace data is not JSON (protobuf? only OTLP JSON is read: export with OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json)',
      );
    }
    return decode(text);
  }
  if (typeof input !== 'string') return input;
  const text = input.trim();
  if (text === '') throw new OtlpInputError('the trace data is empty');
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    // JSON Lines: one request per line.
    const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
    if (lines.length > 1) {
      return lines.map((line, i) => {
        try {
          return JSON.parse(line) as Json;
        } catch (lineError) {
          throw new OtlpInputError(`line ${i + 1} of the trace data is not JSON: ${(lineError as Error).message}`);
        }
      });
    }
    throw new OtlpInputError(`the trace data is not JSON: ${(error as Error).message}`);
  }
}

/** OTLP JSON carries 64-bit integers as decimal strings (numbers are accepted too). */
function parseNanos(value: unknown): bigint | undefined {
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return BigInt(Math.round(value));
  return undefined;
}

function parseAnyValue(value: unknown, depth = 0): AttributeValue {
  if (!isObject(value) || depth > 8) return null;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined) {
    const raw = value.intValue;
    if (typeof raw === 'string' && /^-?\d+$/.test(raw)) {
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : raw;
    }
    return typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  }
  if (value.doubleValue !== undefined) {
    const n = typeof value.doubleValue === 'string' ? Number(value.doubleValue) : value.doubleValue;
    return typeof n === 'number' ? n : null;
  }
  if (isObject(value.arrayValue)) {
    const values = Array.isArray(value.arrayValue.values) ? value.arrayValue.values : [];
    return values.map((v) => parseAnyValue(v, depth + 1));
  }
  if (isObject(value.kvlistValue)) return parseAttributes(value.kvlistValue.values, depth + 1);
  if (typeof value.bytesValue === 'string') return value.bytesValue;
  return null;
}

function parseAttributes(list: unknown, depth = 0): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  if (!Array.isArray(list)) return out;
  for (const item of list) {
    if (!isObject(item) || typeof item.key !== 'string') continue;
    out[item.key] = parseAnyValue(item.value, depth);
  }
  return out;
}

function normaliseId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const id = value.trim();
  return id === '' || /^0+$/.test(id) ? undefined : id.toLowerCase();
}

function parseSpan(raw: unknown, serviceName: string | undefined, where: string, warnings: string[]): TraceSpan | undefined {
  if (!isObject(raw)) {
    warnings.push(`${where}: not an object, skipped`);
    return undefined;
  }
  const label = typeof raw.name === 'string' && raw.name !== '' ? `${where} "${raw.name}"` : where;
  const traceId = normaliseId(raw.traceId);
  const spanId = normaliseId(raw.spanId);
  const startNs = parseNanos(raw.startTimeUnixNano);
  let endNs = parseNanos(raw.endTimeUnixNano);
  if (traceId === undefined || spanId === undefined) {
    warnings.push(`${label}: no traceId/spanId, skipped`);
    return undefined;
  }
  if (startNs === undefined) {
    warnings.push(`${label}: no valid startTimeUnixNano, skipped`);
    return undefined;
  }
  if (endNs === undefined || endNs < startNs) {
    warnings.push(`${label}: no valid endTimeUnixNano, drawn with zero length`);
    endNs = startNs;
  }
  const events: SpanEvent[] = [];
  if (Array.isArray(raw.events)) {
    raw.events.forEach((ev, i) => {
      const timeNs = isObject(ev) ? parseNanos(ev.timeUnixNano) : undefined;
      if (!isObject(ev) || typeof ev.name !== 'string' || timeNs === undefined) {
        warnings.push(`${label}: event ${i} has no name or time, skipped`);
        return;
      }
      events.push({ name: ev.name, timeNs, attributes: parseAttributes(ev.attributes) });
    });
  }
  const status = isObject(raw.status) ? raw.status : {};
  const code = typeof status.code === 'number' ? status.code : status.code === 'STATUS_CODE_ERROR' ? 2 : status.code === 'STATUS_CODE_OK' ? 1 : 0;
  return {
    traceId,
    spanId,
    parentSpanId: normaliseId(raw.parentSpanId),
    name: typeof raw.name === 'string' && raw.name !== '' ? raw.name : '(unnamed span)',
    startNs,
    endNs,
    attributes: parseAttributes(raw.attributes),
    events,
    statusCode: code,
    statusMessage: typeof status.message === 'string' && status.message !== '' ? status.message : undefined,
    serviceName,
  };
}

/** Parses OTLP JSON trace data (object, text or bytes). */
export function parseOtlpJson(input: unknown): ParsedOtlp {
  const decoded = decode(input);
  const requests = Array.isArray(decoded) ? decoded : [decoded];
  const spans: TraceSpan[] = [];
  const warnings: string[] = [];
  let sawResourceSpans = false;
  requests.forEach((request, r) => {
    if (!isObject(request) || !Array.isArray(request.resourceSpans)) {
      warnings.push(`request ${r}: no resourceSpans array, skipped`);
      return;
    }
    sawResourceSpans = true;
    request.resourceSpans.forEach((rs, i) => {
      if (!isObject(rs)) return;
      const resource = isObject(rs.resource) ? parseAttributes(rs.resource.attributes) : {};
      const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : undefined;
      // scopeSpans (current) or instrumentationLibrarySpans (before OTLP 0.19).
      const scopes = Array.isArray(rs.scopeSpans) ? rs.scopeSpans : Array.isArray(rs.instrumentationLibrarySpans) ? rs.instrumentationLibrarySpans : [];
      scopes.forEach((scope, j) => {
        if (!isObject(scope) || !Array.isArray(scope.spans)) return;
        scope.spans.forEach((raw, k) => {
          const span = parseSpan(raw, service, `span resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`, warnings);
          if (span !== undefined) spans.push(span);
        });
      });
    });
  });
  if (!sawResourceSpans) {
    throw new OtlpInputError('no OTLP trace data found: expected {"resourceSpans": [...]} (an ExportTraceServiceRequest in JSON)');
  }
  return { spans, warnings };
}
