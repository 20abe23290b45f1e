// The timeline reads what the real exporter sends: spans made with the
// OpenTelemetry SDK and exported by @opentelemetry/exporter-trace-otlp-http
// (JSON) to a receiver on 127.0.0.1, whose request bodies are kept as JSON
// Lines (one ExportTraceServiceRequest per line), the way a lab file would be.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { api, resources, tracing } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupTraces, parseOtlpJson, pickTrace } from '../../visualizations/otlp.js';
import { renderFailoverTimeline } from '../../visualizations/timeline.js';

describe('OTLP/HTTP JSON from the real exporter', () => {
  let server: Server;
  const bodies: { contentType: string | undefined; body: string }[] = [];
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('renders a failover trace exported span by span', async () => {
    const provider = new tracing.BasicTracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': 'eks-hybrid-gateway' }),
      spanProcessors: [new tracing.SimpleSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    try {
      const tracer = provider.getTracer('visualizations-test');
      // A decoy trace before the failover.
      tracer.startSpan('lease.renew').end();
      const root = tracer.startSpan('gateway.failover', { attributes: { 'gateway.node_ip': '198.19.0.12' } });
      root.addEvent('lease.expiry-seen', { 'lease.duration_seconds': 3 });
      const inRoot = api.trace.setSpan(api.context.active(), root);
      tracer.startSpan('lease.acquire', { attributes: { 'lease.transitions': 7 } }, inRoot).end();
      const repoint = tracer.startSpan('routeTables.repoint', {}, inRoot);
      const inRepoint = api.trace.setSpan(inRoot, repoint);
      for (const rtb of ['rtb-0a1b2c3d4e5f60001', 'rtb-0a1b2c3d4e5f60002']) {
        const table = tracer.startSpan(`routeTable ${rtb}`, { attributes: { 'ec2.route_table_id': rtb } }, inRepoint);
        if (rtb.endsWith('2')) table.setStatus({ code: api.SpanStatusCode.ERROR, message: 'RequestLimitExceeded' });
        table.end();
      }
      repoint.end();
      tracer.startSpan('vtepConfig.write', {}, inRoot).end();
      root.addEvent('leader.ready');
      root.end();
      await provider.forceFlush();
    } finally {
      await provider.shutdown();
    }

    expect(bodies.length).toBeGreaterThanOrEqual(1);
    expect(bodies[0]!.contentType).toMatch(/application\/json/);
    const lines = bodies.map((b) => b.body).join('\n');
    const parsed = parseOtlpJson(lines);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.spans).toHaveLength(7);
    const { trace } = pickTrace(groupTraces(parsed.spans));
    expect(trace.roots.map((r) => r.name)).toEqual(['gateway.failover']);
    const root = trace.roots[0]!;
    expect(root.events.map((e) => e.name)).toEqual(['lease.expiry-seen', 'leader.ready']);
    expect(root.events[0]!.attributes['lease.duration_seconds']).toBe(3);
    expect(root.serviceName).toBe('eks-hybrid-gateway');
    expect(root.endNs).toBeGreaterThanOrEqual(root.startNs);

    const html = renderFailoverTimeline({ otlp: Buffer.from(lines) });
    const figure = html.slice(html.indexOf('<figure'), html.indexOf('</figure>'));
    const rows = [...figure.matchAll(/<g class="span" data-span-name="([^"]*)" data-depth="(\d+)">/g)].map((m) => `${m[2]}:${m[1]}`);
    expect(rows).toEqual([
      '0:gateway.failover',
      '1:lease.acquire',
      '1:routeTables.repoint',
      '2:routeTable rtb-0a1b2c3d4e5f60001',
      '2:routeTable rtb-0a1b2c3d4e5f60002',
      '1:vtepConfig.write',
    ]);
    expect(html).toContain('status=error (RequestLimitExceeded)');
  });
});
