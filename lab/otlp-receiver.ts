// A small OTLP/HTTP trace receiver for the lab and the tests: accepts
// POST /v1/traces with the JSON encoding of ExportTraceServiceRequest (what
// @opentelemetry/exporter-trace-otlp-http sends) and keeps the spans, flat.
// The protobuf encoding is refused with 415 and a message saying so.
import { createServer, type Server } from 'node:http';

export interface OtlpAttributeValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Record<string, string | number | boolean>;
  readonly events: ReadonlyArray<{ name: string; atMs: number; attributes: Record<string, string | number | boolean> }>;
  readonly service: string | undefined;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAttributeValue;
}

interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: OtlpKeyValue[];
        events?: Array<{ timeUnixNano: string | number; name: string; attributes?: OtlpKeyValue[] }>;
      }>;
    }>;
  }>;
}

function value(v: OtlpAttributeValue | undefined): string | number | boolean {
  if (v === undefined) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return JSON.stringify(v);
}

function attrs(list: OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

const nanosToMs = (n: string | number): number => Number(BigInt(n) / 1000n) / 1000;

/** Flattens an OTLP JSON export into spans. */
export function decodeOtlpJson(body: OtlpRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = attrs(rs.resource?.attributes)['service.name'];
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          startMs: nanosToMs(s.startTimeUnixNano),
          endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, atMs: nanosToMs(e.timeUnixNano), attributes: attrs(e.attributes) })),
          service: typeof service === 'string' ? service : undefined,
        });
      }
    }
  }
  return out;
}

export interface OtlpReceiver {
  readonly url: string;
  /** Every span received so far. */
  readonly spans: ReceivedSpan[];
  /** The raw export requests, as received (for writing to a file). */
  readonly requests: unknown[];
  close(): Promise<void>;
}

export function startOtlpReceiver(opts: { host?: string; port?: number } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: unknown[] = [];
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.includes('json')) {
      res.writeHead(415, { 'content-type': 'text/plain' }).end('this receiver decodes the OTLP JSON encoding only\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
        requests.push(body);
        spans.push(...decodeOtlpJson(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad OTLP JSON: ${(err as Error).message}\n`);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      resolve({
        url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
        spans,
        requests,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
