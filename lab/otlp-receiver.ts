// A small OTLP/HTTP trace receiver for the lab and the tests: accepts
// POST /v1/traces with the JSON encoding of ExportTraceServiceRequest (what
// @opentelemetry/exporter-trace-otlp-http sends) and keeps the spans, flat.
// The protobuf encoding is refused with 415 and a message saying so.
import { createServer, type Server } from 'node:http';
import { parseOtlpJson, type AttributeValue, type TraceSpan } from './otlp-json.js';

/** A span as the receiver keeps it: ids and name as decoded, times in ms, attributes flat. */
export interface ReceivedSpan extends Pick<TraceSpan, 'traceId' | 'spanId' | 'parentSpanId' | 'name'> {
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Record<string, string | number | boolean>;
  readonly events: ReadonlyArray<{ name: string; atMs: number; attributes: Record<string, string | number | boolean> }>;
  readonly service: string | undefined;
}

/** The spans of OTLP JSON trace data (decoded by otlp-json.ts), flat, with times in ms and scalar attributes. */
export function decodeOtlpJson(body: unknown): ReceivedSpan[] {
  return parseOtlpJson(body).spans.map((s) => ({
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    name: s.name,
    startMs: nanosToMs(s.startNs),
    endMs: nanosToMs(s.endNs),
    attributes: scalars(s.attributes),
    events: s.events.map((e) => ({ name: e.name, atMs: nanosToMs(e.timeNs), attributes: scalars(e.attributes) })),
    service: s.serviceName,
  }));
}

const nanosToMs = (n: bigint): number => Number(n / 1000n) / 1000;

/** Arrays and maps as their JSON text, an absent value as ''. */
function scalars(attrs: Readonly<Record<string, AttributeValue>>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : v;
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
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        const received = decodeOtlpJson(body);
        requests.push(body);
        spans.push(...received);
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
