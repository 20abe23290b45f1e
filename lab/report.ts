// The lab's report: a text table of outage windows and per-step timings, the
// MTU checks (TCP bulk both ways, the ICMP "fragmentation needed" seen) and the
// leader's idle cost, the same as JSON, and a self-contained HTML timeline per failover (the
// visualizations' renderFailoverTimeline over the OTLP JSON the gateways sent,
// with the probes' outage windows shaded). With --shards: traffic through every
// gateway (hybrid_vxlan0 counters, each flow's carrier), each node loss per
// flow and the return, medians over the losses, the per-shard writer check.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderFailoverTimeline, type Outage } from '../visualizations/timeline.js';
import type { IdleCost, MtuReport } from './checks.js';
import type { ReceivedSpan } from './otlp-receiver.js';
import type { FailoverResult, ShardNodeLossResult, ShardTrafficSnapshot, StepResult } from './scenarios.js';
import type { ShardWriterCheck } from './shard-writers.js';

export interface LabReport {
  /** The lab profile (lab/profile.ts). */
  readonly profile: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly leaseTimings: { readonly durationS: number; readonly renewDeadlineS: number; readonly retryPeriodS: number };
  readonly steps: StepResult[];
  readonly mtu?: MtuReport;
  readonly idle?: IdleCost;
  readonly converged: boolean;
  readonly files: string[];
}

const ms = (v: number | undefined): string => (v === undefined ? '—' : `${Math.round(v)} ms`);

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The MTU checks as text. */
export function formatMtu(m: MtuReport): string {
  const out: string[] = [];
  out.push(`MTUs (${m.profile} profile), as the kernel shows them: ${Object.entries(m.links).map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')}; hybrid pod routes ${m.hybridPodRouteMtu === undefined ? 'without mtu' : `mtu ${m.hybridPodRouteMtu}`}`);
  const rows = [['TCP bulk (echoed back)', 'hybrid pod', 'result', 'bytes each way', 'time', 'Mbit/s (both ways)', 'gateway ICMP unreach', 'VPC pod PMTU after']];
  for (const t of m.tcp) {
    rows.push([
      t.flow,
      t.variant === 'cilium-pod' ? 'as Cilium sizes it' : 'MSS above the path',
      t.ok ? 'ok (SHA-256 equal)' : `FAILED: ${t.error ?? 'data differs'}`,
      `${t.received}/${t.bytes}`,
      ms(t.ms),
      t.mbitPerS.toFixed(0),
      String(t.gatewayIcmpUnreachSent),
      t.vpcPodPmtu === undefined ? '—' : String(t.vpcPodPmtu),
    ]);
  }
  out.push(pad(rows));
  const i = m.icmp;
  out.push(
    `DF datagram of ${i.packetBytes} bytes, VPC pod → hybrid pod: ${i.pingLine ?? 'no ICMP error seen'}; ICMP MTU seen ${i.mtuSeen ?? '—'} from ${i.from ?? '—'}; VPC pod's PMTU before ${i.kernelPmtuBefore ?? 'none'}, after ${i.kernelPmtuAfter ?? 'none'}`,
  );
  return out.join('\n');
}

/** The idle cost as text. */
export function formatIdle(c: IdleCost): string {
  const calls = Object.entries(c.ec2Calls).map(([a, n]) => `${a} ${n}`).join(', ') || 'none';
  const other = Object.entries(c.otherKubeWrites).map(([a, n]) => `${a} ${n}`).join(', ') || 'none';
  return [
    `Idle cost of the leader ${c.leader} over ${(c.windowMs / 1000).toFixed(0)} s (${Math.round(c.windowMs / c.driftPeriodMs)} drift periods of ${c.driftPeriodMs / 1000} s), nothing changing, ${c.profile} profile (from the stand-ins' logs):`,
    `  EC2 calls: ${calls}; describe rounds ${c.describeRounds} (target ≤ ${Math.round(c.windowMs / c.driftPeriodMs)}); route writes ${c.routeWrites}; throttled answers ${c.throttled}; standby's EC2 calls ${c.standbyEc2Calls}`,
    `  CiliumVTEPConfig writes by the leader: ${c.crWrites} (target 0); its other Kubernetes writes: ${other}`,
    `  meanwhile the Cilium stand-ins wrote status ${c.ciliumStatusWrites} times (lastSyncTime moved ${c.lastSyncAdvancedMs === undefined ? '—' : `${(c.lastSyncAdvancedMs / 1000).toFixed(0)} s`}); generation ${c.generation.before ?? '—'} → ${c.generation.after ?? '—'}; leader unchanged: ${c.sameLeader ? 'yes' : 'NO'}`,
  ].join('\n');
}

/** The report as text: outage windows per flow, then per-step timings, then the MTU checks and the idle cost when given. */
export function formatReport(steps: readonly StepResult[], extra: { mtu?: MtuReport; idle?: IdleCost } = {}): string {
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
  if (extra.mtu !== undefined) out.push('', formatMtu(extra.mtu));
  if (extra.idle !== undefined) out.push('', formatIdle(extra.idle));
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
  await writeFile(txt, `profile: ${report.profile}\n\n${formatReport(report.steps, { ...(report.mtu ? { mtu: report.mtu } : {}), ...(report.idle ? { idle: report.idle } : {}) })}\n`);
  files.push(txt);
  const json = join(dir, 'report.json');
  files.push(json);
  await writeFile(json, JSON.stringify({ ...report, files }, null, 2) + '\n');
  return files;
}

// ------------------------------------------------------------------ shards (--shards > 1)

export interface ShardLabReport {
  readonly profile: string;
  readonly shards: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly leaseTimings: { readonly durationS: number; readonly renewDeadlineS: number; readonly retryPeriodS: number };
  readonly traffic: ShardTrafficSnapshot;
  readonly nodeLosses: ShardNodeLossResult[];
  readonly steps: StepResult[];
  readonly writers: ShardWriterCheck;
  readonly mtu?: MtuReport;
  readonly converged: boolean;
}

const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1]! + s[m]!) / 2;
};

/** The sharded lab's report as text: traffic through every gateway, each node loss and return, the medians, the per-shard single-writer check. */
export function formatShardReport(r: Omit<ShardLabReport, 'finishedAt' | 'converged'>): string {
  const out: string[] = [];
  const t = r.traffic;
  const perS = (n: number): string => `${n} (${Math.round(n / (t.windowMs / 1000))}/s)`;
  out.push(`Traffic through both gateways over ${(t.windowMs / 1000).toFixed(1)} s (UDP probe every 10 ms per direction per hybrid pod; hybrid_vxlan0 counters from \`ip -s link\` in each gateway's namespace):`);
  const g = [['gateway', 'leads shard (Lease holder)', 'hybrid_gateway_shard_leader', 'hybrid_vxlan0 rx packets', 'tx packets', 'rx bytes', 'tx bytes']];
  for (const [name, c] of Object.entries(t.counters)) {
    const leads = t.holders.flatMap((h, k) => (h === name ? [String(k)] : [])).join(',') || '—';
    const metric = Object.entries(t.shardLeaderMetric[name as keyof typeof t.shardLeaderMetric] ?? {}).map(([k, v]) => `{shard="${k}"} ${v}`).join(' ') || '—';
    g.push([name, leads, metric, perS(c.rxPackets), perS(c.txPackets), String(c.rxBytes), String(c.txBytes)]);
  }
  out.push(pad(g), '');
  const f = [['flow', 'shard', 'cloud → hybrid leg via (VPC router)', 'hybrid → cloud leg via (Cilium VTEP)', 'lost/sent in the window']];
  for (const x of t.flows) f.push([x.flow, String(x.shard), x.toHybrid ?? '?', x.toVpc ?? '?', `${x.lost}/${x.sent}`]);
  out.push('Which gateway carries each flow (the kernels\' routes: the VPC router to the hybrid pod, the hybrid node to the VPC pod):', pad(f), '');

  for (const [i, l] of r.nodeLosses.entries()) {
    out.push(`Node loss ${i + 1}: ${l.lostGateway} (leading shard ${l.lostShards.join(',')}) lost (links down + kill -9); ${l.survivor} leads shard ${l.leadersBefore.flatMap((x, k) => (x === l.survivor ? [k] : [])).join(',')}:`);
    const rows = [['flow', 'shard', 'carried by', 'cut', 'outage', 'lost probes', 'windows']];
    for (const fl of l.flows) {
      const by = fl.carriedBy.toHybrid === fl.carriedBy.toVpc ? (fl.carriedBy.toHybrid ?? '?') : `${fl.carriedBy.toHybrid ?? '?'}/${fl.carriedBy.toVpc ?? '?'}`;
      rows.push([fl.flow, String(fl.shard), by, fl.cut ? 'yes' : 'no', ms(fl.outageMs), String(fl.lost), fl.windows.map((w) => `+${Math.round(w.startMs - l.t0)}..${w.endMs === null ? 'open' : `+${Math.round(w.endMs - l.t0)}`}`).join(' ') || '—']);
    }
    out.push(pad(rows));
    for (const tk of l.takeovers) {
      out.push(`  shard ${tk.shard} → ${l.survivor}: Lease taken ${ms(tk.leaseTakenMs)}, routes written ${ms(tk.routesWrittenMs)}, VPC router followed ${ms(tk.routerFollowedMs)}, Cilium applied ${ms(tk.ciliumAppliedMs)}; failover trace ${ms(tk.traceMs)}`);
    }
    const b = l.back;
    out.push(
      `  return of ${l.lostGateway} (new process): ready ${ms(b.readyMs)}; ${b.handedBack.map((h) => `shard ${h.shard} released by ${l.survivor} ${ms(h.releasedMs)}, taken ${ms(h.takenMs)}`).join('; ')}; balanced everywhere ${ms(b.balancedMs)}; lost probes during the return: ${b.flows.map((x) => `${x.flow} ${x.lost}`).join(', ')} (total ${b.lost}); leaders after: ${b.leadersAfter.map((x, k) => `shard ${k} ${x}`).join(', ')}`,
      '',
    );
  }
  if (r.nodeLosses.length > 1) {
    const flows = [...new Set(r.nodeLosses.flatMap((l) => l.flows.map((x) => x.flow)))];
    const rows = [['flow', 'outage when its shard was cut (median)', 'n', 'lost when the other shard was cut (median)', 'n', 'lost during the return (median)']];
    for (const name of flows) {
      const cut = r.nodeLosses.flatMap((l) => l.flows.filter((x) => x.flow === name && x.cut).map((x) => x.outageMs));
      const kept = r.nodeLosses.flatMap((l) => l.flows.filter((x) => x.flow === name && !x.cut).map((x) => x.lost));
      const back = r.nodeLosses.flatMap((l) => l.back.flows.filter((x) => x.flow === name).map((x) => x.lost));
      rows.push([name, ms(median(cut)), String(cut.length), String(median(kept) ?? '—'), String(kept.length), String(median(back) ?? '—')]);
    }
    out.push(`Over ${r.nodeLosses.length} node losses (each gateway lost in turn):`, pad(rows), '');
  }
  out.push('Single writer per shard (every route write and CiliumVTEPConfig endpoint change by the holder of its shard\'s Lease, judged from the stand-ins\' logs):');
  const w = [['shard', 'route writes', 'endpoint writes', 'by']];
  for (const s of r.writers.perShard) w.push([String(s.shard), String(s.routeWrites), String(s.endpointWrites), Object.entries(s.writers).map(([k, v]) => `${k} ${v}`).join(', ')]);
  out.push(pad(w), r.writers.violations.length === 0 ? 'violations: none' : `VIOLATIONS:\n  ${r.writers.violations.join('\n  ')}`);
  for (const s of r.steps) {
    if (s.step === 'node-add') out.push('', `node-add ${s.node}: reachable both ways after ${ms(s.reachableMs)}; route seen on gw-a ${ms(s.entriesSeenMs['gw-a'])}, gw-b ${ms(s.entriesSeenMs['gw-b'])}`);
    else if (s.step === 'node-remove') out.push(`node-remove ${s.node}: entries gone on gw-a after ${ms(s.goneMs['gw-a'])}, gw-b ${ms(s.goneMs['gw-b'])}`);
  }
  if (r.mtu !== undefined) out.push('', formatMtu(r.mtu));
  return out.join('\n');
}

/** Writes report.json, report.txt, otlp.jsonl and a timeline per node loss (the survivor's failover trace of the lost shard) under dir. */
export async function writeShardReport(dir: string, report: ShardLabReport, otlpRequests: readonly unknown[], spans: readonly ReceivedSpan[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const otlp = otlpRequests.map((x) => JSON.stringify(x)).join('\n');
  const otlpPath = join(dir, 'otlp.jsonl');
  await writeFile(otlpPath, otlp + '\n');
  files.push(otlpPath);
  for (const [i, l] of report.nodeLosses.entries()) {
    const k = l.lostShards[0];
    const trace = spans.find((s) => s.name === 'gateway.failover' && s.service === `gateway-${l.survivor}` && s.endMs >= l.t0 && s.attributes['gateway.shard'] === k);
    const outages: Outage[] = l.flows.flatMap((fl) => fl.windows.filter((x) => x.endMs !== null).map((x) => ({ label: fl.flow, startMs: x.startMs, endMs: x.endMs! })));
    const path = join(dir, `timeline-${i + 1}-shard-${k}.html`);
    try {
      await writeFile(path, renderFailoverTimeline({ otlp, traceId: trace?.traceId, outages, title: `Node loss of ${l.lostGateway}: shard ${k} → ${l.survivor}, largest outage of its flows ${Math.round(l.outageMs)} ms` }));
      files.push(path);
    } catch (err) {
      process.stderr.write(`lab: timeline for node loss ${i + 1} not written: ${(err as Error).message}\n`);
    }
  }
  const txt = join(dir, 'report.txt');
  await writeFile(txt, `profile: ${report.profile}, shards: ${report.shards}\n\n${formatShardReport(report)}\n`);
  files.push(txt);
  const json = join(dir, 'report.json');
  files.push(json);
  await writeFile(json, JSON.stringify({ ...report, files }, null, 2) + '\n');
  return files;
}
