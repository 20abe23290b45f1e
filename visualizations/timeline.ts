// A failover timeline: one trace from OTLP JSON rendered as a self-contained
// HTML page with an inline SVG (no scripts, no external resources):
//   - spans as bars in start order, children under their parent and indented,
//     each labelled with its duration (error spans in red);
//   - span events as diamond markers on their span's row, named in a lane
//     above the rows with a guide line down to the marker;
//   - outage windows given separately (e.g. the lab's traffic probes) as
//     shaded bands across all rows, named with their length below the rows;
//   - a table of spans (offsets, durations, attributes) and events under it.
// Span names are not assumed: the failover trace is picked by its root span's
// name (default `gateway.failover`), falling back to the longest trace.
import { DEFAULT_ROOT_SPAN, groupTraces, OtlpInputError, parseOtlpJson, pickTrace, type AttributeValue, type Trace, type TraceSpan } from './otlp.js';

export { OtlpInputError } from './otlp.js';

/** A window to shade, in Unix epoch milliseconds (the spans' clock: timeUnixNano / 1e6). */
export interface Outage {
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
}

export interface TimelineOptions {
  /** OTLP JSON: a parsed object, JSON text, JSON Lines text, or bytes of either. */
  readonly otlp: unknown;
  readonly outages?: readonly Outage[] | undefined;
  /** Page heading; defaults to "Failover timeline — <root span>". */
  readonly title?: string | undefined;
  /** Root span name of the failover trace (default `gateway.failover`). */
  readonly rootSpanName?: string | undefined;
  /** Render this trace, whatever its root. */
  readonly traceId?: string | undefined;
  /** Rows drawn at most (the rest is counted in a note). Default 400. */
  readonly maxRows?: number | undefined;
}

// ---------------------------------------------------------------- input checks

/** Validates outage windows from JSON text or a parsed value: `[{label, startMs, endMs}]` or `{outages: [...]}`. */
export function parseOutages(input: unknown): Outage[] {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input) as unknown;
    } catch (error) {
      throw new OtlpInputError(`outages: not JSON: ${(error as Error).message}`);
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'outages' in value) {
    value = value.outages;
  }
  if (!Array.isArray(value)) throw new OtlpInputError('outages: expected an array of {label, startMs, endMs}');
  return value.map((item: unknown, i) => {
    const o = item as Partial<Record<keyof Outage, unknown>> | null;
    if (o === null || typeof o !== 'object') throw new OtlpInputError(`outages[${i}]: not an object`);
    const label = typeof o.label === 'string' && o.label !== '' ? o.label : `outage ${i + 1}`;
    if (typeof o.startMs !== 'number' || !Number.isFinite(o.startMs) || typeof o.endMs !== 'number' || !Number.isFinite(o.endMs)) {
      throw new OtlpInputError(`outages[${i}] (${label}): startMs and endMs must be finite numbers (epoch milliseconds)`);
    }
    if (o.endMs < o.startMs) throw new OtlpInputError(`outages[${i}] (${label}): endMs is before startMs`);
    return { label, startMs: o.startMs, endMs: o.endMs };
  });
}

// ---------------------------------------------------------------- formatting

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A duration in ms, readable: 0.42 ms, 87.3 ms, 1.234 s. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 1000) return `${(ms / 1000).toFixed(abs >= 100_000 ? 1 : 3)} s`;
  if (abs >= 100) return `${ms.toFixed(0)} ms`;
  if (abs >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function formatOffset(ms: number): string {
  return `${ms < 0 ? '−' : '+'}${formatDuration(Math.abs(ms))}`;
}

function formatTick(ms: number, step: number): string {
  if (ms === 0) return '0';
  if (step >= 1000) return `${+(ms / 1000).toFixed(3)} s`;
  return `${+ms.toFixed(3)} ms`;
}

function formatAttribute(value: AttributeValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function niceStep(range: number, target: number): number {
  const raw = Math.max(range / target, 1e-6);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

/** Rough text width for layout (Helvetica/Arial-like average advance). */
function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.56;
}

function truncate(text: string, maxWidth: number, fontSize: number): string {
  const maxChars = Math.max(4, Math.floor(maxWidth / (fontSize * 0.56)));
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

// ---------------------------------------------------------------- layout

interface Row {
  readonly span: TraceSpan;
  readonly depth: number;
}

/** Depth-first rows: parents before children, siblings by start time (then name, then id). */
function orderRows(trace: Trace): Row[] {
  const children = new Map<string, TraceSpan[]>();
  const rootSet = new Set(trace.roots);
  for (const span of trace.spans) {
    if (rootSet.has(span) || span.parentSpanId === undefined) continue;
    const list = children.get(span.parentSpanId);
    if (list === undefined) children.set(span.parentSpanId, [span]);
    else list.push(span);
  }
  const byStart = (a: TraceSpan, b: TraceSpan): number =>
    a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : a.spanId < b.spanId ? -1 : 1;
  const rows: Row[] = [];
  const seen = new Set<TraceSpan>();
  const visit = (span: TraceSpan, depth: number): void => {
    if (seen.has(span)) return;
    seen.add(span);
    rows.push({ span, depth });
    for (const child of [...(children.get(span.spanId) ?? [])].sort(byStart)) visit(child, depth + 1);
  };
  for (const root of [...trace.roots].sort(byStart)) visit(root, 0);
  // Spans caught in a parent cycle are not reachable from a root: list them flat.
  for (const span of [...trace.spans].sort(byStart)) visit(span, 0);
  return rows;
}

/** Greedy lanes so labels on one lane do not overlap; returns the lane per item. */
function assignLanes(items: readonly { x0: number; x1: number }[], maxLanes: number): number[] {
  const ends: number[] = [];
  return items.map(({ x0, x1 }) => {
    let lane = ends.findIndex((end) => end + 6 <= x0);
    if (lane === -1) lane = ends.length < maxLanes ? ends.length : ends.indexOf(Math.min(...ends));
    ends[lane] = Math.max(ends[lane] ?? -Infinity, x1);
    return lane;
  });
}

const WIDTH = 1200;
const LABEL_W = 330;
const RIGHT_PAD = 96;
const ROW_H = 26;
const BAR_H = 14;
const LANE_H = 17;
const PALETTE = ['#4a5568', '#2b6cb0', '#2f855a', '#b7791f', '#6b46c1', '#2c7a7b'];
const ERROR_COLOR = '#c53030';
const OUTAGE_COLOR = '#e53e3e';
const EVENT_COLOR = '#d69e2e';

interface Model {
  readonly trace: Trace;
  readonly reason: string;
  readonly rows: readonly Row[];
  readonly hiddenRows: number;
  readonly outages: readonly Outage[];
  readonly warnings: readonly string[];
  /** The trace's start in epoch ns: time zero of the page. */
  readonly zeroNs: bigint;
}

function relMs(ns: bigint, zeroNs: bigint): number {
  return Number(ns - zeroNs) / 1e6;
}

function nsFromMs(ms: number): bigint {
  return BigInt(Math.round(ms * 1e6));
}

function buildModel(options: TimelineOptions): Model {
  const parsed = parseOtlpJson(options.otlp);
  const warnings = [...parsed.warnings];
  const { trace, reason } = pickTrace(groupTraces(parsed.spans), { rootSpanName: options.rootSpanName, traceId: options.traceId });
  const allRows = orderRows(trace);
  const maxRows = Math.max(1, options.maxRows ?? 400);
  const rows = allRows.slice(0, maxRows);
  // Outages must share the spans' clock; a window a day or more away is a unit mistake, not data.
  const day = 86_400_000;
  const traceStartMs = Number(trace.startNs / 1_000_000n);
  const traceEndMs = Number(trace.endNs / 1_000_000n);
  const outages: Outage[] = [];
  for (const outage of parseOutages(options.outages ?? [])) {
    if (outage.endMs < traceStartMs - day || outage.startMs > traceEndMs + day) {
      warnings.push(`outage "${outage.label}" is not in the trace's clock (expected Unix epoch milliseconds): not drawn`);
    } else {
      outages.push(outage);
    }
  }
  return { trace, reason, rows, hiddenRows: allRows.length - rows.length, outages, warnings, zeroNs: trace.startNs };
}

/** A time window to draw, in ms relative to the model's zero. */
interface View {
  readonly startMs: number;
  readonly endMs: number;
}

/** The trace's own window, and a wider one when outages reach well outside it. */
function views(model: Model): { trace: View; overview: View | undefined } {
  const trace: View = { startMs: 0, endMs: Math.max(relMs(model.trace.endNs, model.zeroNs), 0.001) };
  let startMs = trace.startMs;
  let endMs = trace.endMs;
  for (const o of model.outages) {
    startMs = Math.min(startMs, relMs(nsFromMs(o.startMs), model.zeroNs));
    endMs = Math.max(endMs, relMs(nsFromMs(o.endMs), model.zeroNs));
  }
  const outside = trace.startMs - startMs + (endMs - trace.endMs);
  return { trace, overview: outside > 0.1 * (trace.endMs - trace.startMs) ? { startMs, endMs } : undefined };
}

// ---------------------------------------------------------------- SVG

function renderSvg(model: Model, view: View): string {
  const { rows, zeroNs } = model;
  const step = niceStep(view.endMs - view.startMs, 8);
  const d0 = Math.floor(view.startMs / step + 1e-9) * step;
  const d1 = Math.max(Math.ceil(view.endMs / step - 1e-9) * step, d0 + step);
  const chartX0 = LABEL_W;
  const chartX1 = WIDTH - RIGHT_PAD;
  const x = (ms: number): number => chartX0 + ((ms - d0) / (d1 - d0)) * (chartX1 - chartX0);
  const xNs = (ns: bigint): number => x(relMs(ns, zeroNs));
  const clampX = (px: number): number => Math.min(Math.max(px, chartX0), chartX1);
  // Outages drawn in this view, clipped to it.
  const outages = model.outages.filter((o) => relMs(nsFromMs(o.endMs), zeroNs) >= d0 && relMs(nsFromMs(o.startMs), zeroNs) <= d1);

  // Event labels above the rows, in lanes.
  const events = rows
    .flatMap((row, index) => row.span.events.map((event) => ({ event, index })))
    .sort((a, b) => (a.event.timeNs < b.event.timeNs ? -1 : a.event.timeNs > b.event.timeNs ? 1 : 0));
  const eventItems = events.map(({ event }) => {
    const text = `${event.name} ${formatOffset(relMs(event.timeNs, zeroNs))}`;
    const px = xNs(event.timeNs);
    const w = textWidth(text, 11) + 4;
    const anchorEnd = px + w > WIDTH - 4;
    return { text, px, anchorEnd, x0: anchorEnd ? px - w : px - 3, x1: anchorEnd ? px + 3 : px + w };
  });
  const eventLanes = assignLanes(eventItems, 8);
  const eventLaneCount = eventItems.length === 0 ? 0 : Math.max(...eventLanes) + 1;

  const axisY = 34;
  const eventsTop = axisY + 12;
  const rowsTop = eventsTop + eventLaneCount * LANE_H + (eventLaneCount > 0 ? 8 : 0);
  const rowsBottom = rowsTop + rows.length * ROW_H;

  // Outage labels below the rows, in lanes.
  const outageItems = outages.map((o) => {
    const rawX0 = x(relMs(nsFromMs(o.startMs), zeroNs));
    const rawX1 = x(relMs(nsFromMs(o.endMs), zeroNs));
    const x0 = clampX(rawX0);
    const x1 = clampX(rawX1);
    // A window cut by the view says so: ◂ it began earlier, ▸ it ended later.
    const cut = `${rawX0 < chartX0 - 0.5 ? '◂ ' : ''}`;
    const after = `${rawX1 > chartX1 + 0.5 ? ' ▸' : ''}`;
    const text = `${cut}${o.label} — ${formatDuration(o.endMs - o.startMs)}${after}`;
    const w = textWidth(text, 11) + 6;
    const cx = Math.min(Math.max((x0 + x1) / 2, chartX0 + w / 2), WIDTH - w / 2 - 2);
    return { outage: o, text, bx0: x0, bx1: x1, cx, x0: cx - w / 2, x1: cx + w / 2 };
  });
  const outageLanes = assignLanes(outageItems, 6);
  const outageLaneCount = outageItems.length === 0 ? 0 : Math.max(...outageLanes) + 1;
  const height = rowsBottom + 8 + outageLaneCount * LANE_H + 10;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `font-family="Helvetica, Arial, 'Liberation Sans', sans-serif" role="img" aria-label="failover timeline">`,
  );
  // Row stripes.
  rows.forEach((_, i) => {
    if (i % 2 === 1) out.push(`<rect x="0" y="${rowsTop + i * ROW_H}" width="${WIDTH}" height="${ROW_H}" fill="#f7fafc"/>`);
  });
  // Axis and grid.
  out.push(`<line x1="${chartX0}" y1="${axisY}" x2="${chartX1}" y2="${axisY}" stroke="#a0aec0"/>`);
  out.push(`<text x="10" y="${axisY - 8}" font-size="11" fill="#718096">time since trace start</text>`);
  for (let k = 0; d0 + k * step <= d1 + 1e-9; k++) {
    const t = d0 + k * step;
    const px = x(t).toFixed(1);
    out.push(`<line x1="${px}" y1="${axisY}" x2="${px}" y2="${rowsBottom}" stroke="#e2e8f0"/>`);
    out.push(`<line x1="${px}" y1="${axisY - 4}" x2="${px}" y2="${axisY}" stroke="#a0aec0"/>`);
    out.push(`<text x="${px}" y="${axisY - 8}" font-size="11" fill="#4a5568" text-anchor="middle">${esc(formatTick(t, step))}</text>`);
  }
  // Outage bands (behind the bars).
  outageItems.forEach((item, i) => {
    const w = Math.max(item.bx1 - item.bx0, 1.5);
    const laneY = rowsBottom + 8 + (outageLanes[i] ?? 0) * LANE_H;
    out.push(`<g class="outage" data-label="${esc(item.outage.label)}">`);
    out.push(`<title>${esc(item.text)}</title>`);
    out.push(
      `<rect class="outage-band" x="${item.bx0.toFixed(1)}" y="${eventsTop - 4}" width="${w.toFixed(1)}" height="${laneY - eventsTop + 4}" ` +
        `fill="${OUTAGE_COLOR}" fill-opacity="0.13" stroke="${OUTAGE_COLOR}" stroke-opacity="0.6" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${item.cx.toFixed(1)}" y="${laneY + 12}" font-size="11" font-weight="bold" fill="${OUTAGE_COLOR}" text-anchor="middle">${esc(item.text)}</text>`,
    );
    out.push('</g>');
  });
  // Spans.
  rows.forEach((row, i) => {
    const { span, depth } = row;
    const y = rowsTop + i * ROW_H;
    const cy = y + ROW_H / 2;
    const x0 = xNs(span.startNs);
    const x1 = xNs(span.endNs);
    const w = Math.max(x1 - x0, 2);
    const durationMs = Number(span.endNs - span.startNs) / 1e6;
    const error = span.statusCode === 2;
    const color = error ? ERROR_COLOR : PALETTE[depth % PALETTE.length]!;
    const indent = 10 + depth * 16;
    const name = truncate(span.name, LABEL_W - indent - 14, 12);
    const duration = formatDuration(durationMs);
    const tooltip = [
      `${span.name} — ${duration} (start ${formatOffset(relMs(span.startNs, zeroNs))})`,
      ...Object.entries(span.attributes).map(([k, v]) => `${k} = ${formatAttribute(v)}`),
      ...(error ? [`status: error${span.statusMessage ? ` — ${span.statusMessage}` : ''}`] : []),
    ].join('\n');
    out.push(`<g class="span" data-span-name="${esc(span.name)}" data-depth="${depth}">`);
    out.push(`<title>${esc(tooltip)}</title>`);
    if (depth > 0) {
      const gx = indent - 9;
      out.push(`<path d="M${gx} ${y} V${cy} H${gx + 6}" fill="none" stroke="#a0aec0"/>`);
    }
    out.push(
      `<text class="span-name" x="${indent}" y="${cy + 4}" font-size="12" fill="#1a202c"${depth === 0 ? ' font-weight="bold"' : ''}>${esc(name)}</text>`,
    );
    out.push(
      `<rect class="span-bar" x="${x0.toFixed(1)}" y="${(cy - BAR_H / 2).toFixed(1)}" width="${w.toFixed(1)}" height="${BAR_H}" rx="3" fill="${color}" fill-opacity="${depth === 0 ? 0.35 : 0.85}" stroke="${color}"/>`,
    );
    const dw = textWidth(duration, 11);
    let durationSvg: string;
    if (x1 + 6 + dw <= WIDTH - 4) {
      durationSvg = `<text class="span-duration" x="${(x1 + 6).toFixed(1)}" y="${cy + 4}" font-size="11" fill="#2d3748">${esc(duration)}</text>`;
    } else if (w > dw + 10) {
      durationSvg = `<text class="span-duration" x="${(x1 - 5).toFixed(1)}" y="${cy + 4}" font-size="11" fill="#ffffff" text-anchor="end">${esc(duration)}</text>`;
    } else {
      durationSvg = `<text class="span-duration" x="${(x0 - 5).toFixed(1)}" y="${cy + 4}" font-size="11" fill="#2d3748" text-anchor="end">${esc(duration)}</text>`;
    }
    out.push(durationSvg);
    out.push('</g>');
  });
  // Events: label in its lane, guide line, marker on the span's row.
  events.forEach(({ event, index }, i) => {
    const item = eventItems[i]!;
    const laneY = eventsTop + (eventLanes[i] ?? 0) * LANE_H;
    const cy = rowsTop + index * ROW_H + ROW_H / 2;
    const px = item.px.toFixed(1);
    const attrs = Object.entries(event.attributes).map(([k, v]) => `${k} = ${formatAttribute(v)}`);
    out.push(`<g class="event" data-event-name="${esc(event.name)}">`);
    out.push(`<title>${esc([item.text, ...attrs].join('\n'))}</title>`);
    out.push(`<line x1="${px}" y1="${laneY + 4}" x2="${px}" y2="${cy}" stroke="${EVENT_COLOR}" stroke-dasharray="2 2"/>`);
    out.push(
      `<path class="event-marker" d="M${px} ${cy - 7} l6 7 l-6 7 l-6 -7 z" fill="${EVENT_COLOR}" stroke="#744210" stroke-width="0.8"/>`,
    );
    out.push(
      `<text class="event-label" x="${item.anchorEnd ? (item.px + 3).toFixed(1) : (item.px - 3).toFixed(1)}" y="${laneY + 12}" font-size="11" fill="#744210"` +
        `${item.anchorEnd ? ' text-anchor="end"' : ''}>${esc(item.text)}</text>`,
    );
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}

function isoFromNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return `${ns} ns`;
  const micros = Number((ns / 1000n) % 1000n).toString().padStart(3, '0');
  return date.toISOString().replace('Z', `${micros}Z`);
}

// ---------------------------------------------------------------- HTML

const STYLE = `
body { font-family: Helvetica, Arial, 'Liberation Sans', sans-serif; margin: 24px; color: #1a202c; background: #fff; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.summary { margin: 0 0 4px; font-size: 14px; }
p.meta { margin: 0 0 14px; font-size: 12px; color: #718096; }
figure { margin: 0; overflow-x: auto; border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px 0; width: max-content; max-width: 100%; }
table { border-collapse: collapse; font-size: 12px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #edf2f7; vertical-align: top; }
th { color: #4a5568; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.attrs { color: #4a5568; font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; }
ul.warnings { color: #975a16; font-size: 12px; }
.error { color: ${ERROR_COLOR}; }
`;

/** Renders the failover timeline of one trace as a self-contained HTML page. */
export function renderFailoverTimeline(options: TimelineOptions): string {
  const model = buildModel(options);
  const view = views(model);
  const { trace, rows, zeroNs, outages } = model;
  const root = trace.roots.find((r) => r.name === (options.rootSpanName ?? DEFAULT_ROOT_SPAN)) ?? trace.roots[0] ?? rows[0]?.span;
  const rootName = root?.name ?? 'trace';
  const title = options.title ?? `Failover timeline — ${rootName}`;
  const traceMs = Number(trace.endNs - trace.startNs) / 1e6;
  const summary: string[] = [`<b>${esc(rootName)}</b> took <b>${esc(formatDuration(root ? Number(root.endNs - root.startNs) / 1e6 : traceMs))}</b>`];
  summary.push(`${trace.spans.length} span${trace.spans.length === 1 ? '' : 's'} over ${esc(formatDuration(traceMs))}`);
  for (const o of outages) summary.push(`<span class="error">${esc(o.label)}: <b>${esc(formatDuration(o.endMs - o.startMs))}</b></span>`);
  const services = [...new Set(trace.spans.map((s) => s.serviceName).filter((s): s is string => s !== undefined))];

  const spanRows = rows.map(({ span, depth }) => {
    const attrs = Object.entries(span.attributes).map(([k, v]) => `${esc(k)}=${esc(formatAttribute(v))}`);
    if (span.statusCode === 2) attrs.unshift(`<span class="error">status=error${span.statusMessage ? ` (${esc(span.statusMessage)})` : ''}</span>`);
    return (
      `<tr><td style="padding-left:${depth * 16}px">${depth > 0 ? '└ ' : ''}${esc(span.name)}</td>` +
      `<td class="num">${esc(formatOffset(relMs(span.startNs, zeroNs)))}</td>` +
      `<td class="num">${esc(formatDuration(Number(span.endNs - span.startNs) / 1e6))}</td>` +
      `<td class="attrs">${attrs.join('<br>')}</td></tr>`
    );
  });
  const eventRows = rows
    .flatMap(({ span }) => span.events.map((event) => ({ span, event })))
    .sort((a, b) => (a.event.timeNs < b.event.timeNs ? -1 : a.event.timeNs > b.event.timeNs ? 1 : 0))
    .map(
      ({ span, event }) =>
        `<tr><td>${esc(event.name)}</td><td class="num">${esc(formatOffset(relMs(event.timeNs, zeroNs)))}</td><td>${esc(span.name)}</td>` +
        `<td class="attrs">${Object.entries(event.attributes)
          .map(([k, v]) => `${esc(k)}=${esc(formatAttribute(v))}`)
          .join('<br>')}</td></tr>`,
    );
  const outageRows = outages.map(
    (o) =>
      `<tr><td>${esc(o.label)}</td><td class="num">${esc(formatOffset(relMs(nsFromMs(o.startMs), zeroNs)))}</td>` +
      `<td class="num">${esc(formatOffset(relMs(nsFromMs(o.endMs), zeroNs)))}</td><td class="num">${esc(formatDuration(o.endMs - o.startMs))}</td></tr>`,
  );
  const warnings = [...model.warnings];
  if (model.hiddenRows > 0) warnings.push(`${model.hiddenRows} more span(s) not drawn (maxRows ${rows.length})`);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="summary">${summary.join(' · ')}</p>
<p class="meta">trace ${esc(trace.traceId)} (picked by ${esc(model.reason)})${services.length > 0 ? ` · service ${esc(services.join(', '))}` : ''} · time zero (trace start) ${esc(isoFromNs(zeroNs))}</p>
</header>
<figure class="trace-view">
${renderSvg(model, view.trace)}
</figure>
${view.overview === undefined ? '' : `<h2>Whole window, with the outages</h2>\n<figure class="overview">\n${renderSvg(model, view.overview)}\n</figure>`}
<h2>Spans</h2>
<table class="spans"><thead><tr><th>span</th><th>start</th><th>duration</th><th>attributes</th></tr></thead>
<tbody>
${spanRows.join('\n')}
</tbody></table>
${eventRows.length > 0 ? `<h2>Events</h2>\n<table class="events"><thead><tr><th>event</th><th>at</th><th>span</th><th>attributes</th></tr></thead>\n<tbody>\n${eventRows.join('\n')}\n</tbody></table>` : ''}
${outageRows.length > 0 ? `<h2>Outages</h2>\n<table class="outages"><thead><tr><th>window</th><th>from</th><th>to</th><th>length</th></tr></thead>\n<tbody>\n${outageRows.join('\n')}\n</tbody></table>` : ''}
${warnings.length > 0 ? `<h2>Warnings</h2>\n<ul class="warnings">${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
</body>
</html>
`;
}
