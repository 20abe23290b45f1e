// The lab's report: a text table of outage windows and per-step timings, the
// same as JSON, and a self-contained HTML timeline per failover (the
// visualizations' renderFailoverTimeline over the OTLP JSON the gateways sent,
// with the probes' outage windows shaded).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderFailoverTimeline, type Outage } from '../visualizations/timeline.js';
import type { FailoverResult, StepResult } from './scenarios.js';

export interface LabReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly leaseTimings: { readonly durationS: number; readonly renewDeadlineS: number; readonly retryPeriodS: number };
  readonly steps: StepResult[];
  readonly converged: boolean;
  readonly files: string[];
}

const ms = (v: number | undefined): string => (v === undefined ? '—' : `${Math.round(v)} ms`);

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The report as text: outage windows per flow, then per-step timings. */
export function formatReport(steps: readonly StepResult[]): string {
  const out: string[] = [];
  const failovers = steps.filter((s): s is FailoverResult => s.step === 'node-loss' || s.step === 'sigterm');
  if (failovers.length > 0) {
    out.push('Outage windows seen by the traffic (UDP probe every 10 ms per direction per hybrid pod):');
    const rows = [['step', 'from → to', 'flow', 'outage', 'lost probes', 'windows']];
    for (const f of failovers) {
      for (const fl of f.flows) {
        rows.push([f.step, `${f.from} → ${f.to}`, fl.flow, ms(fl.outageMs), String(fl.lost), fl.windows.map((w) => `+${Math.round(w.startMs - f.t0)}..${w.endMs === null ? 'open' : `+${Math.round(w.endMs - f.t0)}`}`).join(' ') || '—']);
      }
    }
    out.push(pad(rows), '');
    out.push('Per-step timings after the event (from the traces, the route-write log and the Cilium stand-ins):');
    const t = [['step', 'expiry seen', 'lease acquired', 'routes repointed', 'VTEP config', 'leader ready', 'VPC router', 'Cilium applied', 'traffic restored', 'largest outage']];
    for (const f of failovers) {
      const x = f.timings;
      t.push([f.step, ms(x.expirySeenMs), ms(x.leaseAcquiredMs), ms(x.routesRepointedMs), ms(x.vtepWrittenMs), ms(x.leaderReadyMs), ms(x.routerFollowedMs), ms(x.ciliumAppliedMs), ms(x.trafficRestoredMs), ms(f.outageMs)]);
    }
    out.push(pad(t), '');
  }
  for (const s of steps) {
    if (s.step === 'node-add') {
      out.push(`node-add ${s.node}: reachable both ways after ${ms(s.reachableMs)} (${Object.entries(s.flows).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}); route seen on gw-a ${ms(s.entriesSeenMs['gw-a'])}, gw-b ${ms(s.entriesSeenMs['gw-b'])}`);
    } else if (s.step === 'node-remove') {
      out.push(`node-remove ${s.node}: entries gone on gw-a after ${ms(s.goneMs['gw-a'])}, gw-b ${ms(s.goneMs['gw-b'])}`);
    }
  }
  return out.join('\n');
}

/** Outage windows of a failover as timeline bands. */
export function outagesOf(f: FailoverResult): Outage[] {
  return f.flows.flatMap((fl) => fl.windows.filter((w) => w.endMs !== null).map((w) => ({ label: fl.flow, startMs: w.startMs, endMs: w.endMs! })));
}

/** Writes report.json, report.txt, otlp.jsonl and one timeline-<step>.html per failover under dir; returns the paths. */
export async function writeReport(dir: string, report: Omit<LabReport, 'files'>, otlpRequests: readonly unknown[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const otlp = otlpRequests.map((r) => JSON.stringify(r)).join('\n');
  const otlpPath = join(dir, 'otlp.jsonl');
  await writeFile(otlpPath, otlp + '\n');
  files.push(otlpPath);
  let i = 0;
  for (const s of report.steps) {
    if (s.step !== 'node-loss' && s.step !== 'sigterm') continue;
    i += 1;
    const path = join(dir, `timeline-${i}-${s.step}.html`);
    try {
      const html = renderFailoverTimeline({
        otlp,
        traceId: s.traceId,
        outages: outagesOf(s),
        title: `${s.step === 'node-loss' ? 'Node loss' : 'SIGTERM hand-over'}: ${s.from} → ${s.to}, largest outage ${Math.round(s.outageMs)} ms`,
      });
      await writeFile(path, html);
      files.push(path);
    } catch (err) {
      process.stderr.write(`lab: timeline for ${s.step} not written: ${(err as Error).message}\n`);
    }
  }
  const txt = join(dir, 'report.txt');
  await writeFile(txt, formatReport(report.steps) + '\n');
  files.push(txt);
  const json = join(dir, 'report.json');
  files.push(json);
  await writeFile(json, JSON.stringify({ ...report, files }, null, 2) + '\n');
  return files;
}
