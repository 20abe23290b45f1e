// The failover timeline from OTLP JSON: reading the exporter's JSON (and
// refusing protobuf), picking the failover trace, nesting and ordering spans,
// outage windows, escaping, and never crashing on malformed data.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupTraces, OtlpInputError, parseOtlpJson, pickTrace } from '../../visualizations/otlp.js';
import { formatDuration, parseOutages, renderFailoverTimeline } from '../../visualizations/timeline.js';

const fixturePath = (name: string): string => fileURLToPath(new URL(`../../visualizations/examples/${name}`, import.meta.url));
const fixtureText = readFileSync(fixturePath('failover-otlp.json'), 'utf8');
const outagesText = readFileSync(fixturePath('failover-outages.json'), 'utf8');

const BASE = 1_795_568_400_000_000_000n;
function span(traceId: string, spanId: string, name: string, startMs: number, endMs: number, parentSpanId?: string, extra: Record<string, unknown> = {}) {
  return {
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name,
    startTimeUnixNano: String(BASE + BigInt(startMs * 1e6)),
    endTimeUnixNano: String(BASE + BigInt(endMs * 1e6)),
    ...extra,
  };
}
const request = (spans: unknown[]) => ({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans }] }] });

/** Span names in the order the SVG draws their rows (first figure). */
function rowOrder(html: string): string[] {
  const firstFigure = html.slice(html.indexOf('<figure'), html.indexOf('</figure>'));
  return [...firstFigure.matchAll(/<g class="span" data-span-name="([^"]*)" data-depth="(\d+)">/g)].map((m) => `${m[2]}:${m[1]}`);
}

describe('reading OTLP JSON', () => {
  it('reads the exporter request: ids, nanosecond times, attributes of every type, events, status, service', () => {
    const { spans, warnings } = parseOtlpJson(fixtureText);
    expect(warnings).toEqual([]);
    expect(spans).toHaveLength(8);
    const root = spans.find((s) => s.name === 'gateway.failover')!;
    expect(root.parentSpanId).toBeUndefined();
    expect(root.startNs).toBe(1795568400123456789n);
    expect(root.serviceName).toBe('eks-hybrid-gateway');
    expect(root.events.map((e) => e.name)).toEqual(['lease.expiry-seen', 'leader.ready']);
    expect(root.events[0]!.attributes['lease.duration_seconds']).toBe(3);
    const acquire = spans.find((s) => s.name === 'lease.acquire')!;
    expect(acquire.parentSpanId).toBe(root.spanId);
    expect(acquire.attributes['lease.transitions']).toBe(7);

    const values = parseOtlpJson(
      request([
        span('aa', '01', 'x', 0, 1, undefined, {
          attributes: [
            { key: 's', value: { stringValue: 'v' } },
            { key: 'b', value: { boolValue: true } },
            { key: 'i', value: { intValue: '42' } },
            { key: 'big', value: { intValue: '9007199254740993' } },
            { key: 'd', value: { doubleValue: 0.5 } },
            { key: 'a', value: { arrayValue: { values: [{ stringValue: 'p' }, { intValue: 1 }] } } },
            { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'w' } }] } } },
            { key: 'bytes', value: { bytesValue: 'AQID' } },
            { key: 'empty', value: {} },
          ],
          status: { code: 2, message: 'throttled' },
        }),
      ]),
    ).spans[0]!;
    expect(values.attributes).toEqual({ s: 'v', b: true, i: 42, big: '9007199254740993', d: 0.5, a: ['p', 1], kv: { k: 'w' }, bytes: 'AQID', empty: null });
    expect(values.statusCode).toBe(2);
    expect(values.statusMessage).toBe('throttled');
  });

  it('takes text, bytes, an array of requests, or JSON Lines', () => {
    const a = request([span('aa', '01', 'a', 0, 1)]);
    const b = request([span('bb', '02', 'b', 0, 2)]);
    expect(parseOtlpJson(JSON.stringify(a)).spans.map((s) => s.name)).toEqual(['a']);
    expect(parseOtlpJson(Buffer.from(JSON.stringify(a))).spans.map((s) => s.name)).toEqual(['a']);
    expect(parseOtlpJson([a, b]).spans.map((s) => s.name)).toEqual(['a', 'b']);
    expect(parseOtlpJson(`${JSON.stringify(a)}\n${JSON.stringify(b)}\n`).spans.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('refuses protobuf with a clear error', () => {
    // An ExportTraceServiceRequest in protobuf starts with field 1, wire type 2 (0x0a).
    const protobuf = Uint8Array.from([0x0a, 0x8c, 0x01, 0x0a, 0x22, 0x0a, 0x0c, 0x73, 0x65, 0x72]);
    expect(() => parseOtlpJson(protobuf)).toThrow(OtlpInputError);
    expect(() => parseOtlpJson(protobuf)).toThrow(/protobuf\? only OTLP JSON is read/);
  });

  it('gives clear errors for what is not OTLP JSON at all', () => {
    expect(() => parseOtlpJson('')).toThrow(/empty/);
    expect(() => parseOtlpJson('{"resourceSpans": [')).toThrow(/not JSON/);
    expect(() => parseOtlpJson({ spans: [] })).toThrow(/expected \{"resourceSpans"/);
    expect(() => parseOtlpJson('{"a":1}\nnot json')).toThrow(/line 2 of the trace data is not JSON/);
    expect(() => renderFailoverTimeline({ otlp: request([]) })).toThrow(/holds no spans/);
  });

  it('skips bad spans and events with a warning instead of failing', () => {
    const { spans, warnings } = parseOtlpJson(
      request([
        span('aa', '01', 'good', 0, 5, undefined, { events: [{ name: 'e' }, { name: 'ok', timeUnixNano: String(BASE) }] }),
        { name: 'no ids', startTimeUnixNano: '1', endTimeUnixNano: '2' },
        { traceId: 'aa', spanId: '02', name: 'no start' },
        { ...span('aa', '03', 'ends before it starts', 5, 1) },
        42,
      ]),
    );
    expect(spans.map((s) => s.name)).toEqual(['good', 'ends before it starts']);
    expect(spans[0]!.events.map((e) => e.name)).toEqual(['ok']);
    expect(spans[1]!.endNs).toBe(spans[1]!.startNs);
    expect(warnings).toHaveLength(5);
    expect(warnings.join('\n')).toMatch(/"no ids": no traceId\/spanId/);
    expect(warnings.join('\n')).toMatch(/"no start": no valid startTimeUnixNano/);
  });

  it('never throws anything but OtlpInputError on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const input of [value, { resourceSpans: [{ scopeSpans: [{ spans: [value] }] }] }, { resourceSpans: value }]) {
          try {
            renderFailoverTimeline({ otlp: input });
          } catch (error) {
            if (!(error instanceof OtlpInputError)) throw error;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('picking the failover trace', () => {
  const traces = groupTraces(parseOtlpJson(fixtureText).spans);

  it('picks the trace whose root is gateway.failover, not a longer or later one', () => {
    expect(traces).toHaveLength(3);
    const { trace, reason } = pickTrace(traces);
    expect(trace.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(reason).toBe('root span "gateway.failover"');
  });

  it('falls back to the longest trace when no root has the name', () => {
    const { trace, reason } = pickTrace(traces, { rootSpanName: 'no.such.span' });
    expect(trace.roots[0]!.name).toBe('leader.reassert');
    expect(reason).toMatch(/longest of 3/);
  });

  it('takes an explicit trace id, and says when it is absent', () => {
    expect(pickTrace(traces, { traceId: '9A1F0C2B3D4E5F60718293A4B5C6D7E8' }).trace.roots[0]!.name).toBe('lease.renew');
    expect(() => pickTrace(traces, { traceId: 'ffff' })).toThrow(/no trace with id ffff/);
  });

  it('picks the latest of several failovers', () => {
    const two = groupTraces(
      parseOtlpJson(request([span('a1', '01', 'gateway.failover', 0, 100), span('b2', '02', 'gateway.failover', 5000, 5050)])).spans,
    );
    expect(pickTrace(two).trace.traceId).toBe('b2');
    expect(pickTrace(two).reason).toMatch(/latest of 2/);
  });
});

describe('the timeline page', () => {
  const html = renderFailoverTimeline({ otlp: fixtureText, outages: parseOutages(outagesText) });

  it('draws rows depth first, children under their parent by start time', () => {
    expect(rowOrder(html)).toEqual([
      '0:gateway.failover',
      '1:lease.acquire',
      '1:routeTables.repoint',
      '2:routeTable rtb-0a1b2c3d4e5f60001',
      '2:routeTable rtb-0a1b2c3d4e5f60002',
      '1:vtepConfig.write',
    ]);
    // Spans of other traces are not drawn.
    expect(html).not.toContain('data-span-name="lease.renew"');
    expect(html).not.toContain('data-span-name="leader.reassert"');
  });

  it('labels durations, marks events and shades outages, with a zoomed and a whole-window view', () => {
    expect(html).toContain('<h1>Failover timeline — gateway.failover</h1>');
    expect(html).toMatch(/<b>gateway\.failover<\/b> took <b>413 ms<\/b>/);
    expect(html).toContain('class="span-duration"');
    expect(html).toContain('>21.5 ms</text>');
    expect(html).toContain('data-event-name="lease.expiry-seen"');
    expect(html).toContain('data-event-name="leader.ready"');
    expect(html).toContain('lease.expiry-seen +0.00 ms</text>');
    expect(html).toContain('leader.ready +412 ms</text>');
    expect((html.match(/class="outage-band"/g) ?? []).length).toBe(4);
    expect(html).toContain('◂ traffic outage vpc-pod → pod-1 — 3.306 s</text>');
    expect(html).toContain('<figure class="overview">');
    expect(html).toContain('traffic outage pod-1 → vpc-pod — 4.086 s</text>');
  });

  it('is self-contained: no scripts, no external resources', () => {
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });

  it('is deterministic', () => {
    expect(renderFailoverTimeline({ otlp: fixtureText, outages: parseOutages(outagesText) })).toBe(html);
  });

  it('has no overview when there are no outages', () => {
    const plain = renderFailoverTimeline({ otlp: fixtureText, title: 'Lab run 7' });
    expect(plain).toContain('<h1>Lab run 7</h1>');
    expect(plain).not.toContain('class="overview"');
    expect(plain).not.toContain('outage-band');
  });

  it('escapes names and attributes from the trace', () => {
    const evil = renderFailoverTimeline({
      otlp: request([
        span('aa', '01', '<script>alert(1)</script>', 0, 10, undefined, {
          attributes: [{ key: 'x"><img src=x>', value: { stringValue: '</td><script>' } }],
          events: [{ name: '<b>e</b>', timeUnixNano: String(BASE) }],
        }),
      ]),
      rootSpanName: 'x',
    });
    expect(evil).not.toMatch(/<script|<img|<b>e<\/b>/);
    expect(evil).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('draws error spans in red and says so', () => {
    const page = renderFailoverTimeline({ otlp: request([span('aa', '01', 'gateway.failover', 0, 10, undefined, { status: { code: 2, message: 'lease lost' } })]) });
    expect(page).toMatch(/class="span-bar"[^>]*fill="#c53030"/);
    expect(page).toContain('status=error (lease lost)');
  });

  it('treats spans whose parent is missing as roots, and survives parent cycles', () => {
    const page = renderFailoverTimeline({
      otlp: request([
        span('aa', '01', 'gateway.failover', 0, 50),
        span('aa', '02', 'orphan', 5, 10, 'ffffffffffffffff'),
        span('aa', '03', 'cycle-a', 6, 7, '04'),
        span('aa', '04', 'cycle-b', 7, 8, '03'),
      ]),
    });
    expect(rowOrder(page)).toEqual(['0:gateway.failover', '0:orphan', '0:cycle-a', '1:cycle-b']);
  });

  it('caps the rows drawn and says how many were left out', () => {
    const spans = [span('aa', '01', 'gateway.failover', 0, 100), ...Array.from({ length: 30 }, (_, i) => span('aa', `1${i}`, `child ${i}`, i, i + 1, '01'))];
    const page = renderFailoverTimeline({ otlp: request(spans), maxRows: 10 });
    expect(rowOrder(page)).toHaveLength(10);
    expect(page).toContain('21 more span(s) not drawn (maxRows 10)');
  });
});

describe('outage windows', () => {
  it('validates their shape with clear errors', () => {
    expect(parseOutages('[{"label":"a","startMs":1,"endMs":2}]')).toEqual([{ label: 'a', startMs: 1, endMs: 2 }]);
    expect(parseOutages({ outages: [{ startMs: 1, endMs: 1 }] })).toEqual([{ label: 'outage 1', startMs: 1, endMs: 1 }]);
    expect(() => parseOutages('nope')).toThrow(/outages: not JSON/);
    expect(() => parseOutages({})).toThrow(/expected an array/);
    expect(() => parseOutages([{ label: 'a', startMs: '1', endMs: 2 }])).toThrow(/outages\[0\] \(a\): startMs and endMs must be finite numbers/);
    expect(() => parseOutages([{ label: 'a', startMs: 3, endMs: 2 }])).toThrow(/endMs is before startMs/);
    expect(() => parseOutages([null])).toThrow(/outages\[0\]: not an object/);
  });

  it('leaves out a window that is not in the spans clock, with a warning', () => {
    const page = renderFailoverTimeline({ otlp: fixtureText, outages: [{ label: 'relative ms', startMs: 0, endMs: 3000 }] });
    expect(page).not.toContain('outage-band');
    expect(page).toContain('outage &quot;relative ms&quot; is not in the trace&#39;s clock');
  });
});

describe('formatDuration', () => {
  it('reads well at every scale', () => {
    expect([0.4215, 21.54, 365.2, 1234.5, 123_456].map(formatDuration)).toEqual(['0.42 ms', '21.5 ms', '365 ms', '1.234 s', '123.5 s']);
  });
});
