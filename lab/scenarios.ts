// The lab's measured steps: a failover (node loss or SIGTERM hand-over) and a
// hybrid node added/removed, each measured by the traffic probes (outage
// windows) and broken down with the gateways' traces (OTLP spans), the EC2
// stand-in's route-write log (when the VPC router followed) and the Cilium
// stand-ins' apply log. Used by main.ts and bench/failover.bench.ts.
import { gateway, type GatewayName } from './addresses.js';
import type { Lab} from './lab.js';
import { now, until, type HybridNode } from './lab.js';
import type { LossWindow } from './probe-worker.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FlowOutage {
  readonly flow: string;
  /** From the first lost probe to the first one that came back (0: none lost). */
  readonly outageMs: number;
  readonly lost: number;
  readonly windows: LossWindow[];
}

/** Milliseconds after the event, each where known. */
export interface StepTimings {
  /** The new leader saw the old lease expire (event lease.expiry-seen). */
  expirySeenMs?: number;
  /** lease.acquire span ended. */
  leaseAcquiredMs?: number;
  /** routeTables.repoint span ended (every table pointed at the new leader). */
  routesRepointedMs?: number;
  /** vtepConfig.write span ended (CiliumVTEPConfig names the new leader). */
  vtepWrittenMs?: number;
  /** Event leader.ready. */
  leaderReadyMs?: number;
  /** The VPC router's kernel route followed the route table. */
  routerFollowedMs?: number;
  /** The last Cilium stand-in applied the new endpoint. */
  ciliumAppliedMs?: number;
  /** Traffic flowed again on every flow (the largest outage). */
  trafficRestoredMs?: number;
}

export interface FailoverResult {
  readonly step: 'node-loss' | 'sigterm';
  readonly from: GatewayName;
  readonly to: GatewayName;
  /** Epoch ms of the event (links down / signal sent). */
  readonly t0: number;
  /** The largest outage over all flows (both directions, every hybrid pod). */
  readonly outageMs: number;
  readonly flows: FlowOutage[];
  readonly timings: StepTimings;
  /** The new leader's gateway.failover trace, when it arrived. */
  readonly traceId: string | undefined;
  /** That trace's duration: from the old leader's last sign of life the new one saw to leader ready. */
  readonly traceMs: number | undefined;
}

export interface NodeAddResult {
  readonly step: 'node-add';
  readonly node: string;
  readonly t0: number;
  /** Until the first probe in each direction came back; the larger of the two. */
  readonly reachableMs: number;
  readonly flows: Record<string, number>;
  /** First poll that saw the node's route on each gateway (polled every ~25 ms). */
  readonly entriesSeenMs: Partial<Record<GatewayName, number>>;
}

export interface NodeRemoveResult {
  readonly step: 'node-remove';
  readonly node: string;
  readonly t0: number;
  /** First poll that saw all its routes, FDB and neighbour entries gone, per gateway (~25 ms polls). */
  readonly goneMs: Partial<Record<GatewayName, number>>;
  readonly entriesGone: boolean;
}

export type StepResult = FailoverResult | NodeAddResult | NodeRemoveResult;

/** Outage of one flow after t0, from its loss windows. */
export function outageAfter(flow: string, windows: readonly LossWindow[], t0: number, restoredBy: number): FlowOutage {
  const relevant = windows.filter((w) => w.startMs >= t0 - 20 && (w.endMs === null || w.endMs > t0));
  if (relevant.length === 0) return { flow, outageMs: 0, lost: 0, windows: [] };
  const start = Math.min(...relevant.map((w) => w.startMs));
  const end = Math.max(...relevant.map((w) => w.endMs ?? restoredBy));
  return { flow, outageMs: end - start, lost: relevant.reduce((s, w) => s + w.lost, 0), windows: relevant };
}

const other = (g: GatewayName): GatewayName => (g === 'gw-a' ? 'gw-b' : 'gw-a');

/** Every flow has recovered after t0: no open window and a probe sent after the last loss came back. */
async function trafficRecovered(lab: Lab, t0: number): Promise<boolean> {
  const reports = await lab.flowReports(t0 - 20);
  return Object.values(reports).every((r) => {
    const last = r.windows.at(-1);
    if (last !== undefined && last.endMs === null) return false;
    return r.lastOkMs !== null && r.lastOkMs > t0 && (last === undefined || r.lastOkMs >= (last.endMs ?? Infinity));
  });
}

async function traceTimings(lab: Lab, to: GatewayName, t0: number): Promise<{ timings: StepTimings; traceId: string | undefined; traceMs: number | undefined }> {
  const service = `gateway-${to}`;
  const timings: StepTimings = {};
  let traceId: string | undefined;
  let traceMs: number | undefined;
  const spans = await until(
    `the gateway.failover trace of ${to}`,
    async () => {
      const all = await lab.spans();
      const f = all.find((s) => s.name === 'gateway.failover' && s.service === service && s.endMs >= t0);
      // All its children arrive in the same or a later batch: wait for the repoint span too.
      return f !== undefined && all.some((s) => s.parentSpanId === f.spanId && s.name === 'vtepConfig.write') ? all : undefined;
    },
    5000,
    200,
  ).catch(() => undefined);
  if (spans !== undefined) {
    const f = spans.filter((s) => s.name === 'gateway.failover' && s.service === service && s.endMs >= t0).sort((a, b) => a.startMs - b.startMs)[0]!;
    traceId = f.traceId;
    traceMs = f.endMs - f.startMs;
    const child = (name: string) => spans.find((s) => s.traceId === f.traceId && s.parentSpanId === f.spanId && s.name === name);
    const ev = (name: string) => f.events.find((e) => e.name === name);
    const rel = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms - t0);
    timings.expirySeenMs = rel(ev('lease.expiry-seen')?.atMs);
    timings.leaseAcquiredMs = rel(child('lease.acquire')?.endMs);
    timings.routesRepointedMs = rel(child('routeTables.repoint')?.endMs);
    timings.vtepWrittenMs = rel(child('vtepConfig.write')?.endMs);
    timings.leaderReadyMs = rel(ev('leader.ready')?.atMs);
  }
  const eni = gateway(to).eni;
  const write = (await lab.routeLog()).find((w) => w.atMs >= t0 && w.eni === eni && w.routerAppliedMs !== undefined);
  if (write?.routerAppliedMs !== undefined) timings.routerFollowedMs = write.routerAppliedMs - t0;
  const tep = gateway(to).ip;
  const applied = [...lab.hybrid.values()].map((n) => n.agentLog.find((a) => a.atMs >= t0 && a.endpoints.some((e) => e.tunnelEndpoint === tep))?.atMs);
  if (applied.length > 0 && applied.every((a) => a !== undefined)) timings.ciliumAppliedMs = Math.max(...(applied)) - t0;
  return { timings, traceId, traceMs };
}

export interface TraceCheck {
  readonly ok: boolean;
  /** The outage less what happened after the gateway's last write, which no gateway can see. */
  readonly lowerMs: number;
  readonly traceMs: number | undefined;
  /** The outage + one retry period + 100 ms. */
  readonly upperMs: number;
  readonly line: string;
}

/**
 * Does the failover trace tell the story the traffic saw? Its duration must
 * lie between the outage and the outage + one retry period + 100 ms: it
 * starts at the old leader's last renewal the new one saw (up to a retry
 * period before the failure) and ends when the new leader has written
 * everything. What the stand-ins do after that write — the VPC router
 * following the route table after its propagation delay, Cilium applying the
 * new endpoint — is part of the outage but not of any gateway's trace: it is
 * taken off the lower bound, measured from the lab's own records.
 */
export function checkTrace(r: FailoverResult, retryPeriodMs: number): TraceCheck {
  const t = r.timings;
  const after = (end: number | undefined, write: number | undefined): number => (end !== undefined && write !== undefined ? Math.max(0, end - write) : 0);
  const tailMs = Math.max(after(t.routerFollowedMs, t.routesRepointedMs), after(t.ciliumAppliedMs, t.vtepWrittenMs));
  const lowerMs = Math.max(0, r.outageMs - tailMs);
  const upperMs = r.outageMs + retryPeriodMs + 100;
  const ok = r.traceMs !== undefined && r.traceMs >= lowerMs && r.traceMs <= upperMs;
  const f = (x: number): string => `${Math.round(x)} ms`;
  const line = `${r.step} ${r.from} → ${r.to}: trace ${r.traceMs === undefined ? 'missing' : f(r.traceMs)}; outage ${f(r.outageMs)} less ${f(tailMs)} after the last write = ${f(lowerMs)} ≤ trace ≤ outage + ${f(retryPeriodMs)} + 100 ms = ${f(upperMs)}: ${ok ? 'ok' : 'NOT met'}`;
  return { ok, lowerMs, traceMs: r.traceMs, upperMs, line };
}

/**
 * Fails the current leader (node loss: links down + kill -9; sigterm: graceful
 * hand-over), measures the outage every flow saw and the per-step timings,
 * then brings the old leader back (restored node / restarted process) and
 * waits until the lab has converged again. Traffic must be running.
 */
export async function measureFailover(lab: Lab, step: 'node-loss' | 'sigterm', log: (l: string) => void = () => undefined): Promise<FailoverResult> {
  const from = await lab.waitConverged(60_000);
  const to = other(from);
  await sleep(300);
  log(`${step}: ${from} leads; ${step === 'node-loss' ? 'taking its links down and kill -9' : 'sending SIGTERM'}`);
  let t0: number;
  if (step === 'node-loss') t0 = await lab.nodeLoss(from);
  else {
    t0 = now();
    void lab.signalGateway(from, 'SIGTERM');
  }
  await until(`${to} to lead and traffic to flow again`, async () => ((await lab.leaderEverywhere()) === to && (await trafficRecovered(lab, t0)) ? true : undefined), 30_000, 50);
  const restoredBy = now();
  await sleep(700); // let every outstanding probe settle (timeout 500 ms)
  const reports = await lab.flowReports(t0 - 20);
  const flows = Object.entries(reports).map(([flow, r]) => outageAfter(flow, r.windows, t0, restoredBy));
  const outageMs = Math.max(0, ...flows.map((f) => f.outageMs));
  const { timings, traceId, traceMs } = await traceTimings(lab, to, t0);
  const lastEnd = Math.max(t0, ...flows.flatMap((f) => f.windows.map((w) => w.endMs ?? restoredBy)));
  timings.trafficRestoredMs = lastEnd - t0;
  log(`${step}: ${to} took over; largest outage ${outageMs.toFixed(0)} ms; bringing ${from} back`);
  if (step === 'node-loss') await lab.restoreNode(from);
  else {
    lab.startGateway(from);
    await lab.waitReady(from);
  }
  await lab.waitConverged(60_000);
  return { step, from, to, t0, outageMs, flows, timings, traceId, traceMs };
}

async function hasEntries(lab: Lab, g: GatewayName, n: HybridNode): Promise<{ any: boolean; route: boolean }> {
  const e = await lab.kernelEntries(g);
  const route = e.routes.includes(`${n.podCidr} via ${n.ip}`);
  const any = route || e.fdb.some((x) => x.endsWith(` dst ${n.ip}`)) || e.neigh.some((x) => x.startsWith(`${n.ip} `));
  return { any, route };
}

/** Brings up hybrid node `index` (namespaces, Cilium stand-in, pod, flows), then registers its CiliumNode and measures until it is reachable both ways. */
export async function measureNodeAdd(lab: Lab, index: number, log: (l: string) => void = () => undefined): Promise<NodeAddResult> {
  const leader = await lab.waitConverged(60_000);
  const node = await lab.addHybridNode(index, false);
  const tep = gateway(leader).ip;
  await until(`the Cilium stand-in on ${node.name}`, () => Promise.resolve(node.agentLog.at(-1)?.endpoints.some((e) => e.tunnelEndpoint === tep) === true ? true : undefined), 20_000);
  const flows = await lab.startTraffic(node);
  await sleep(200);
  log(`node-add: registering CiliumNode ${node.name}`);
  const t0 = now();
  await lab.registerHybridNode(node.name);
  const entriesSeenMs: Partial<Record<GatewayName, number>> = {};
  await until(
    `${node.name} reachable both ways`,
    async () => {
      for (const g of ['gw-a', 'gw-b'] as const) if (entriesSeenMs[g] === undefined && (await hasEntries(lab, g, node)).route) entriesSeenMs[g] = now() - t0;
      const reports = await Promise.all(flows.map((f) => lab.flowReport(f, t0)));
      return reports.every((r) => r.lastOkMs !== null) && entriesSeenMs['gw-a'] !== undefined && entriesSeenMs['gw-b'] !== undefined ? true : undefined;
    },
    20_000,
    25,
  );
  const per: Record<string, number> = {};
  for (const f of flows) {
    // The first probe sent after t0 whose echo came back: the path was up when it left.
    const r = await lab.flowReport(f, t0);
    per[f] = (r.firstOkMs ?? now()) - t0;
  }
  const reachableMs = Math.max(...Object.values(per));
  log(`node-add: ${node.name} reachable after ${reachableMs.toFixed(0)} ms`);
  return { step: 'node-add', node: node.name, t0, reachableMs, flows: per, entriesSeenMs };
}

/** Deletes a hybrid node's CiliumNode and measures until its entries are gone on both gateways. */
export async function measureNodeRemove(lab: Lab, name: string, log: (l: string) => void = () => undefined): Promise<NodeRemoveResult> {
  const node = lab.hybrid.get(name);
  if (node === undefined) throw new Error(`no hybrid node ${name}`);
  await lab.stopTraffic(node);
  log(`node-remove: deleting CiliumNode ${name}`);
  const t0 = now();
  await lab.unregisterHybridNode(name);
  const goneMs: Partial<Record<GatewayName, number>> = {};
  await until(
    `${name}'s entries gone on both gateways`,
    async () => {
      for (const g of ['gw-a', 'gw-b'] as const) if (goneMs[g] === undefined && !(await hasEntries(lab, g, node)).any) goneMs[g] = now() - t0;
      return goneMs['gw-a'] !== undefined && goneMs['gw-b'] !== undefined ? true : undefined;
    },
    20_000,
    25,
  );
  log(`node-remove: ${name}'s entries gone (gw-a ${goneMs['gw-a']?.toFixed(0)} ms, gw-b ${goneMs['gw-b']?.toFixed(0)} ms)`);
  return { step: 'node-remove', node: name, t0, goneMs, entriesGone: true };
}
