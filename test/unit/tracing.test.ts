// Tracing through the real SDK and OTLP/HTTP exporter to an in-process receiver
// on 127.0.0.1 that decodes what arrives; and the logger's redaction.
import { Writable } from 'node:stream';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createActor, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { startOtlpReceiver } from '../../lab/otlp-receiver.js';
import { createLogger } from '../../runtime/logging.js';
import { FailoverTrace, startTracing, tracingEnabled, transitionTracer } from '../../runtime/tracing.js';

describe('tracing', () => {
  it('is off without an OTLP endpoint, or when disabled', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
  });

  it('exports one failover trace and every transition as OTLP JSON', async () => {
    const receiver = await startOtlpReceiver();
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    try {
      const tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'unit-gateway' }, { 'k8s.pod.name': 'gw-a' });
      await tracing.ready;
      const failover = new FailoverTrace(tracing.tracer);
      const toggle = setup({}).createMachine({ id: 'toggle', initial: 'off', states: { off: { on: { FLIP: 'on' } }, on: {} } });
      const actor = createActor(toggle, { inspect: transitionTracer(tracing.tracer, () => failover) }).start();

      failover.leaseFreeSeen(Date.now() - 5);
      failover.acquireAttempt(Date.now() - 2, true, { 'lease.holder': 'gw-a' });
      actor.send({ type: 'FLIP' });
      await failover.span('routeTables.repoint', {}, () =>
        Promise.all(['rtb-1', 'rtb-2'].map((t) => failover.span(`routeTable ${t}`, { 'aws.route_table_id': t }, () => Promise.resolve()))),
      );
      await failover.span('vtepConfig.write', {}, () => Promise.resolve());
      expect(failover.leaderReady()).toBeGreaterThanOrEqual(0);
      await tracing.shutdown();

      const spans = receiver.spans;
      const root = spans.find((s) => s.name === 'gateway.failover')!;
      expect(root.service).toBe('unit-gateway');
      expect(root.events.map((e) => e.name)).toEqual(['lease.expiry-seen', 'leader.ready']);
      const kids = spans.filter((s) => s.parentSpanId === root.spanId).map((s) => s.name);
      expect(kids.sort()).toEqual(['lease.acquire', 'routeTables.repoint', 'state.transition', 'vtepConfig.write']);
      const repoint = spans.find((s) => s.name === 'routeTables.repoint')!;
      expect(spans.filter((s) => s.parentSpanId === repoint.spanId).map((s) => s.name).sort()).toEqual(['routeTable rtb-1', 'routeTable rtb-2']);
      const flip = spans.find((s) => s.name === 'state.transition' && s.attributes['xstate.to'] === 'on')!;
      expect(flip.attributes).toMatchObject({ 'xstate.machine': 'toggle', 'xstate.from': 'off', 'xstate.event': 'FLIP' });
      // The start of the machine is a transition too, outside any failover.
      expect(spans.some((s) => s.name === 'state.transition' && s.attributes['xstate.from'] === '(start)' && s.parentSpanId === undefined)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
      await receiver.close();
    }
  });
});

describe('failover trace', () => {
  it('starts at the previous holder’s last sign of life this pod saw, with the wait for expiry as a span; the duration it returns is the same interval', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    let now = 10_000;
    const failover = new FailoverTrace(provider.getTracer('t'), () => now);
    // Last renewal of the old leader seen at 7,000; its lease judged expired at 10,000; won at 10,050.
    failover.acquireAttempt(10_000, true, { 'lease.holder': 'gw-b' }, 7_000);
    now = 10_400;
    expect(failover.leaderReady()).toBe(3_400);
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'gateway.failover')!;
    const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;
    expect(ms(root.startTime)).toBe(7_000);
    expect(ms(root.endTime)).toBe(10_400);
    const wait = spans.find((s) => s.name === 'lease.wait-for-expiry')!;
    expect([ms(wait.startTime), ms(wait.endTime)]).toEqual([7_000, 10_000]);
    expect(root.events.map((e) => e.name)).toEqual(['lease.holder-last-seen', 'lease.expiry-seen', 'leader.ready']);
  });
});

describe('logging', () => {
  it('writes JSON lines, honours DEBUG, and redacts credentials', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const quiet = createLogger({ debug: false, destination: sink });
    quiet.debug('hidden');
    const log = createLogger({ debug: true, destination: sink });
    log.debug({ credentials: { secretAccessKey: 'abc' }, token: 'xyz', headers: { authorization: 'Bearer t' } }, 'shown');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'debug', msg: 'shown', credentials: '[redacted]', token: '[redacted]', headers: { authorization: '[redacted]' } });
    expect(lines[0]).not.toContain('abc');
  });
});
