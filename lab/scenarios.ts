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

// ------------------------------------------------------------------ shards (--shards > 1)

/** A flow's outage in a sharded node loss, with the shard it belongs to and who carried it before. */
export interface ShardFlowOutage extends FlowOutage {
  /** The shard both legs of the flow's round trip go by (its hybrid pod's and its VPC pod's). */
  readonly shard: number;
  /** Whether that shard was led by the lost gateway (its flows fail over; the others must lose nothing). */
  readonly cut: boolean;
  /** The gateway each leg crossed before the loss (the VPC router's and the hybrid node's kernel routes). */
  readonly carriedBy: { readonly toHybrid: GatewayName | undefined; readonly toVpc: GatewayName | undefined };
}

/** Milliseconds after the loss, per shard the lost gateway led, each where known. */
export interface ShardTakeover {
  readonly shard: number;
  /** The survivor's write of the shard's Lease (the Kubernetes stand-in's lease log). */
  readonly leaseTakenMs?: number;
  /** The last of the shard's route writes to the survivor's ENI (every table). */
  readonly routesWrittenMs?: number;
  /** The VPC router's kernel route for the shard's prefixes followed. */
  readonly routerFollowedMs?: number;
  /** The last Cilium stand-in applied the shard's endpoints at the survivor. */
  readonly ciliumAppliedMs?: number;
  /** The survivor's gateway.failover trace for the shard: its duration. */
  readonly traceMs?: number;
}

/** The lost gateway back: restarted (a new process, the same name), converged, a member, and handed its shards. */
export interface ShardReturn {
  /** Epoch ms when its links came up and it was started again. */
  readonly t1: number;
  /** /readyz answered 200 (data plane converged). */
  readonly readyMs: number;
  /** Per shard handed back: when the holder released it and when the returned gateway took it (lease log). */
  readonly handedBack: Array<{ readonly shard: number; readonly releasedMs?: number; readonly takenMs?: number }>;
  /** Every shard led by its preferred gateway again, everywhere, with traffic through each. */
  readonly balancedMs: number;
  /** Lost probes per flow from t1 until after the balance (the target: 0 on every flow). */
  readonly flows: FlowOutage[];
  readonly lost: number;
  readonly leadersAfter: GatewayName[];
}

export interface ShardNodeLossResult {
  readonly step: 'shard-node-loss';
  readonly lostGateway: GatewayName;
  readonly survivor: GatewayName;
  /** The shards the lost gateway led. */
  readonly lostShards: number[];
  readonly leadersBefore: GatewayName[];
  readonly leadersDuring: GatewayName[];
  readonly t0: number;
  readonly flows: ShardFlowOutage[];
  /** The largest outage over the cut flows. */
  readonly outageMs: number;
  /** Probes the flows of the other shards lost (the target: 0). */
  readonly otherShardsLost: number;
  readonly takeovers: ShardTakeover[];
  readonly back: ShardReturn;
}

async function shardTakeover(lab: Lab, k: number, to: GatewayName, t0: number, prefixes: readonly string[], endpointNames: readonly string[]): Promise<ShardTakeover> {
  const rel = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms - t0);
  const lease = (await lab.leaseLog()).find((c) => c.lease === lab.shardLeaseName(k) && c.atMs >= t0 && c.holder === to);
  const eni = gateway(to).eni;
  const writes = (await lab.routeLog()).filter((w) => w.atMs >= t0 && w.eni === eni && prefixes.includes(w.cidr));
  const routesWritten = writes.length > 0 ? Math.max(...writes.map((w) => w.atMs)) : undefined;
  const followed = writes.map((w) => w.routerAppliedMs).filter((x): x is number => x !== undefined);
  const tep = gateway(to).ip;
  const applied = [...lab.hybrid.values()]
    .filter((n) => n.registered)
    .map((n) => n.agentLog.find((a) => a.atMs >= t0 && endpointNames.every((name) => a.endpoints.some((e) => e.name === name && e.tunnelEndpoint === tep)))?.atMs);
  const spans = await lab.spans();
  const trace = spans.find((s) => s.name === 'gateway.failover' && s.service === `gateway-${to}` && s.endMs >= t0 && s.attributes['gateway.shard'] === k);
  return {
    shard: k,
    ...(lease !== undefined ? { leaseTakenMs: lease.atMs - t0 } : {}),
    ...(routesWritten !== undefined ? { routesWrittenMs: rel(routesWritten) } : {}),
    ...(followed.length > 0 ? { routerFollowedMs: Math.max(...followed) - t0 } : {}),
    ...(applied.length > 0 && applied.every((a) => a !== undefined) ? { ciliumAppliedMs: Math.max(...(applied)) - t0 } : {}),
    ...(trace !== undefined ? { traceMs: trace.endMs - trace.startMs } : {}),
  };
}

/**
 * A node loss in a sharded lab: the gateway leading `shardOfVictim` (default 0) loses its node
 * (links down + kill -9). The flows of its shards fail over to the survivor; the flows of the
 * survivor's shards must lose nothing. Then it comes back (links up, a new process with the same
 * name): once converged and a member, the survivor hands its shards back (release) and every flow
 * must lose nothing during the return. Traffic must be running and the shards balanced.
 */
export async function measureShardNodeLoss(lab: Lab, shardOfVictim = 0, log: (l: string) => void = () => undefined): Promise<ShardNodeLossResult> {
  const leadersBefore = await lab.waitBalanced(60_000);
  const lostGateway = leadersBefore[shardOfVictim]!;
  const survivor = other(lostGateway);
  const lostShards = leadersBefore.flatMap((g, k) => (g === lostGateway ? [k] : []));
  const carriers = new Map<string, ShardFlowOutage['carriedBy']>();
  for (const f of lab.flowNames()) carriers.set(f, await lab.flowCarriers(f));
  await sleep(300);
  log(`shard node loss: ${lostGateway} leads shard(s) ${lostShards.join(',')}, ${survivor} the rest; taking ${lostGateway}'s links down and kill -9`);
  const t0 = await lab.nodeLoss(lostGateway);
  const leadersDuring = await until(
    `${survivor} to lead every shard and traffic to flow again`,
    async () => {
      const l = await lab.leadersEverywhere();
      return l !== undefined && l.every((g) => g === survivor) && (await trafficRecovered(lab, t0)) ? l : undefined;
    },
    30_000,
    50,
  );
  const restoredBy = now();
  await sleep(700);
  const reports = await lab.flowReports(t0 - 20);
  const flows = Object.entries(reports).map(([flow, r]): ShardFlowOutage => {
    const info = lab.flowInfo(flow);
    return { ...outageAfter(flow, r.windows, t0, restoredBy), shard: info.podShard, cut: lostShards.includes(info.podShard) || lostShards.includes(info.vpcShard), carriedBy: carriers.get(flow) ?? { toHybrid: undefined, toVpc: undefined } };
  });
  const outageMs = Math.max(0, ...flows.filter((f) => f.cut).map((f) => f.outageMs));
  const otherShardsLost = flows.filter((f) => !f.cut).reduce((s, f) => s + f.lost, 0);
  const takeovers: ShardTakeover[] = [];
  for (const k of lostShards) takeovers.push(await shardTakeover(lab, k, survivor, t0, lab.shardPrefixes(k), lab.shardEndpointNames(k)));
  log(`shard node loss: ${survivor} took shard(s) ${lostShards.join(',')}; largest outage of their flows ${outageMs.toFixed(0)} ms; the other shards' flows lost ${otherShardsLost} probes; bringing ${lostGateway} back`);

  // The return: a new process on the restored node; the survivor hands the shards back.
  const t1 = now();
  await lab.restoreNode(lostGateway);
  const readyMs = now() - t1;
  const leadersAfter = await lab.waitBalanced(60_000);
  const balancedMs = now() - t1;
  await sleep(700);
  const settled = now();
  const back = await lab.flowReports(t1 - 20);
  const backFlows = Object.entries(back).map(([flow, r]) => outageAfter(flow, r.windows, t1, settled));
  const changes = await lab.leaseLog();
  const handedBack = lostShards.map((k) => {
    const mine = changes.filter((c) => c.lease === lab.shardLeaseName(k) && c.atMs >= t1);
    const released = mine.find((c) => c.holder === '' && c.previous === survivor);
    const taken = mine.find((c) => c.holder === lostGateway);
    return { shard: k, ...(released !== undefined ? { releasedMs: released.atMs - t1 } : {}), ...(taken !== undefined ? { takenMs: taken.atMs - t1 } : {}) };
  });
  const lost = backFlows.reduce((s, f) => s + f.lost, 0);
  log(`shard return: ${lostGateway} ready after ${readyMs.toFixed(0)} ms, leads shard(s) ${leadersAfter.flatMap((g, k) => (g === lostGateway ? [k] : [])).join(',')} again after ${balancedMs.toFixed(0)} ms; ${lost} probes lost during the return`);
  return {
    step: 'shard-node-loss',
    lostGateway,
    survivor,
    lostShards,
    leadersBefore,
    leadersDuring,
    t0,
    flows,
    outageMs,
    otherShardsLost,
    takeovers,
    back: { t1, readyMs, handedBack, balancedMs, flows: backFlows, lost, leadersAfter },
  };
}

/** Traffic through every gateway at once: hybrid_vxlan0's counters over a window, and who carries each flow. */
export interface ShardTrafficSnapshot {
  readonly windowMs: number;
  /** Packets and bytes each gateway's hybrid_vxlan0 received/sent in the window. */
  readonly counters: Record<GatewayName, { rxPackets: number; txPackets: number; rxBytes: number; txBytes: number }>;
  /** Each shard's Lease holder. */
  readonly holders: Array<string | undefined>;
  /** hybrid_gateway_shard_leader{shard} of each gateway. */
  readonly shardLeaderMetric: Record<GatewayName, Record<string, number>>;
  readonly flows: Array<{ readonly flow: string; readonly shard: number; readonly toHybrid: GatewayName | undefined; readonly toVpc: GatewayName | undefined; readonly lost: number; readonly sent: number }>;
}

export async function shardTrafficSnapshot(lab: Lab, windowMs = 3000): Promise<ShardTrafficSnapshot> {
  await lab.waitBalanced(60_000);
  const names = ['gw-a', 'gw-b'] as const;
  const before = await Promise.all(names.map((g) => lab.vxlanCounters(g)));
  const t0 = now();
  await sleep(windowMs);
  const after = await Promise.all(names.map((g) => lab.vxlanCounters(g)));
  const elapsed = now() - t0;
  await sleep(600); // the window's last probes settle
  const counters = {} as ShardTrafficSnapshot['counters'];
  names.forEach((g, i) => {
    const a = after[i]!;
    const b = before[i]!;
    counters[g] = { rxPackets: a.rxPackets - b.rxPackets, txPackets: a.txPackets - b.txPackets, rxBytes: a.rxBytes - b.rxBytes, txBytes: a.txBytes - b.txBytes };
  });
  const flows: ShardTrafficSnapshot['flows'][number][] = [];
  for (const f of lab.flowNames()) {
    const c = await lab.flowCarriers(f);
    const r = await lab.flowReport(f, t0);
    flows.push({ flow: f, shard: lab.flowInfo(f).podShard, toHybrid: c.toHybrid, toVpc: c.toVpc, lost: r.lost, sent: r.sent });
  }
  const shardLeaderMetric = { 'gw-a': await lab.shardLeaderMetric('gw-a'), 'gw-b': await lab.shardLeaderMetric('gw-b') };
  return { windowMs: elapsed, counters, holders: await lab.shardHolders(), shardLeaderMetric, flows };
}
