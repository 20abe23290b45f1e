// The gateway's EC2 code (effects/aws, called as runtime/gateway.ts calls it)
// against the realistic stand-in: EC2's token buckets, pagination, the route
// quota and per-call latency, and the gateway statechart's retry of a throttled pass.
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import { shardMachine, type LeaseOutcome, type OwnershipOutcome, type RouteTablesInput } from '../../machines/gateway.machine.js';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { DEFAULT_AWS_RETRY_POLICY, ensureRoutes, type EnsureRoutesResult, type RetryPolicy } from '../../effects/aws/index.js';
import { type Ec2BehaviourOverrides, type Ec2StandIn, type RouteTableSpec } from '../../lab/ec2/index.js';
import { GW_A, GW_B, TABLES, VPC, VPC_CIDR, useStandIn } from './fixture.js';

/** n pod CIDRs: /24s of 198.19.0.0/16. */
const podCidrs = (n: number): string[] => Array.from({ length: n }, (_, i) => `198.19.${i}.0/24`);

/** The three tables with every CIDR pointing at gw-b (the old leader). */
function tablesAt(eni: string, cidrs: readonly string[]): RouteTableSpec[] {
  return TABLES.map((routeTableId) => ({ routeTableId, vpcId: VPC, vpcCidr: VPC_CIDR, routes: cidrs.map((c) => ({ destinationCidrBlock: c, networkInterfaceId: eni })) }));
}

const startStandIn = useStandIn();

function start(routeTables: RouteTableSpec[], behaviour: Ec2BehaviourOverrides = {}): Promise<{ s: Ec2StandIn; c: EC2Client }> {
  return startStandIn({ instances: [GW_A, GW_B], routeTables, profile: 'realistic', behaviour });
}

/** One leader-work pass as runtime/gateway.ts (programRouteTables) runs it: one ensureRoutes per table, in parallel. */
async function programRouteTables(c: EC2Client, cidrs: readonly string[], strategy: 'write-first' | 'describe-first', retry: RetryPolicy): Promise<EnsureRoutesResult[]> {
  return Promise.all(TABLES.map((table) => ensureRoutes({ ec2: c, routeTableIds: [table], cidrs, networkInterfaceId: GW_A.eni, strategy, retry, checkSourceDestCheck: false })));
}

function allAt(s: Ec2StandIn, cidrs: readonly string[], eni: string): boolean {
  return TABLES.every((t) => cidrs.every((c) => s.state.routeTarget(t, c) === eni));
}

describe('copes', () => {
  it('a failover burst of 3 tables × 20 CIDRs (60 ReplaceRoute against a 50-token bucket) converges under DEFAULT_AWS_RETRY_POLICY', async () => {
    const cidrs = podCidrs(20);
    const { s, c } = await start(tablesAt(GW_B.eni, cidrs));
    const results = await programRouteTables(c, cidrs, 'write-first', DEFAULT_AWS_RETRY_POLICY);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(allAt(s, cidrs, GW_A.eni)).toBe(true);
    const replaces = s.calls.filter((x) => x.action === 'ReplaceRoute');
    const throttled = replaces.filter((x) => x.code === 'RequestLimitExceeded').length;
    expect(throttled).toBeGreaterThanOrEqual(10); // EC2 refused the ones over the bucket; the retries got them through
    expect(replaces.filter((x) => x.status === 200)).toHaveLength(60);
  }, 30_000);

  it('a fresh start on empty tables (60 CreateRoute, describe-first) converges too', async () => {
    const cidrs = podCidrs(20);
    const { s, c } = await start(TABLES.map((routeTableId) => ({ routeTableId, vpcId: VPC, vpcCidr: VPC_CIDR })));
    const results = await programRouteTables(c, cidrs, 'describe-first', DEFAULT_AWS_RETRY_POLICY);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(allAt(s, cidrs, GW_A.eni)).toBe(true);
    expect(s.calls.filter((x) => x.action === 'CreateRoute' && x.code === 'RequestLimitExceeded').length).toBeGreaterThanOrEqual(10);
  }, 30_000);

  it('drift repair reads each table in one unpaginated DescribeRouteTables: EC2 returns every route without MaxResults', async () => {
    const cidrs = podCidrs(120);
    const { s, c } = await start(tablesAt(GW_A.eni, cidrs));
    const results = await programRouteTables(c, cidrs, 'describe-first', DEFAULT_AWS_RETRY_POLICY);
    expect(results.every((r) => r.ok && r.counts.unchanged === 120)).toBe(true);
    const describes = s.calls.filter((x) => x.action === 'DescribeRouteTables');
    expect(describes).toHaveLength(3);
    expect(describes.every((x) => x.params.MaxResults === undefined && x.status === 200)).toBe(true);
  });

  it('RouteLimitExceeded fails the routes over the quota at once (no retry), with EC2’s message; the others are created', async () => {
    const existing = podCidrs(18);
    const extra = ['203.0.113.0/26', '203.0.113.64/26', '203.0.113.128/26', '203.0.113.192/26'];
    const { s, c } = await start([{ routeTableId: TABLES[0], vpcId: VPC, vpcCidr: VPC_CIDR, routes: existing.map((d) => ({ destinationCidrBlock: d, networkInterfaceId: GW_A.eni })) }], { routesPerTable: 20 });
    const r = await ensureRoutes({ ec2: c, routeTableIds: [TABLES[0]], cidrs: [...existing, ...extra], networkInterfaceId: GW_A.eni, checkSourceDestCheck: false, maxConcurrentWrites: 1 });
    expect(r.counts).toEqual({ unchanged: 18, replaced: 0, created: 2, failed: 2, fenced: 0 });
    const failed = r.tables[0]!.routes.filter((x) => x.status === 'failed');
    expect(failed.map((x) => [x.cidr, x.attempts, x.error?.code, x.error?.retryable])).toEqual([
      [extra[2], 1, 'RouteLimitExceeded', false],
      [extra[3], 1, 'RouteLimitExceeded', false],
    ]);
    expect(failed[0]?.error?.message).toContain("You've reached the limit on the number of routes that you can add to a route table.");
    expect(s.calls.filter((x) => x.code === 'RouteLimitExceeded')).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------
// Retrying a throttled failover pass. After winning the lease the first pass is
// write-first (one round trip: every route points at the old leader). A
// failover that needs more writes than one pass can get through EC2's mutating
// bucket (capacity + refill × how long a route keeps retrying: with
// DEFAULT_AWS_RETRY_POLICY ~25 s, so 50 + 5 × ~25 ≈ 175 routes) fails that
// pass. The defect found here: the runtime retried write-first until a pass
// succeeded, re-sending every route, spending the scarce tokens on routes EC2
// already held right, and failing the same way every time (the leader never
// got ready). The strategy is now the gateway statechart's (state `takingOver`:
// write-first on entering leader; `reasserting`: describe-first for every later pass), and
// the test below drives the real machine with the real route code.
//
// Scaled down to run in seconds (the condition is the same: needed writes >
// tokens one pass can get): a 10-token bucket refilling 20/s, a retry policy
// with a 300 ms maxRetryTime, 3 tables × 20 CIDRs, 500 ms between passes.

const SCALED: Ec2BehaviourOverrides = { latency: false, throttling: { mutating: { capacity: 10, refillPerSecond: 20 } } };
const SHORT_POLICY: RetryPolicy = { retries: 8, minTimeoutMs: 10, maxTimeoutMs: 50, factor: 2, randomize: true, maxRetryTimeMs: 300 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A shard of the gateway machine with the real route code; the lease is always held, CiliumVTEPConfig always written. */
function leaderOn(c: EC2Client, cidrs: readonly string[]): { actor: ReturnType<typeof createActor<typeof shardMachine>>; passes: Array<{ strategy: string; ok: boolean }> } {
  const passes: Array<{ strategy: string; ok: boolean }> = [];
  const held = (): Promise<LeaseOutcome> => Promise.resolve({ held: true, outcome: 'renewed', holder: 'gw-a', renewedAt: performance.now() });
  const ok = (): Promise<void> => Promise.resolve();
  const machine = shardMachine.provide({
    actors: {
      tryAcquireLease: fromPromise(held),
      renewLease: fromPromise(held),
      checkOwnership: fromPromise((): Promise<OwnershipOutcome> => Promise.resolve({ write: true, why: 'ours', currentOwner: undefined })),
      writeVtepConfig: fromPromise(ok),
      settleWrites: fromPromise(ok),
      releaseLease: fromPromise(ok),
      programRouteTables: fromPromise<void, RouteTablesInput>(async ({ input }) => {
        const ok = (await programRouteTables(c, cidrs, input.strategy, SHORT_POLICY)).every((r) => r.ok);
        passes.push({ strategy: input.strategy, ok });
        if (!ok) throw new Error('route tables not converged');
      }),
    },
    delays: { renewDeadline: 60_000, routeTablesRetryDelay: 500, lateWriteCheckDelay: 60_000, driftRepairPeriod: 60_000 },
  });
  // The data plane has converged: the shard competes at once.
  return { actor: createActor(machine, { input: { shard: 0, dataPlaneConverged: true, dataPlaneGraceOver: false, preferred: true } }), passes };
}

describe('a throttled failover pass', () => {
  it('(mechanism) a second write-first pass would re-send ReplaceRoute for routes EC2 already holds right', async () => {
    const cidrs = podCidrs(20);
    const { s, c } = await start(tablesAt(GW_B.eni, cidrs), SCALED);
    const first = await programRouteTables(c, cidrs, 'write-first', SHORT_POLICY);
    expect(first.some((r) => !r.ok)).toBe(true); // 60 writes, ~16 tokens in the pass
    const rightAfterFirst = TABLES.flatMap((t) => cidrs.filter((d) => s.state.routeTarget(t, d) === GW_A.eni).map((d) => `${t} ${d}`));
    expect(rightAfterFirst.length).toBeGreaterThanOrEqual(10);
    const before = s.calls.length;
    await sleep(500);
    await programRouteTables(c, cidrs, 'write-first', SHORT_POLICY);
    const resent = new Set(s.calls.slice(before).filter((x) => x.action === 'ReplaceRoute').map((x) => `${x.params.RouteTableId} ${x.params.DestinationCidrBlock}`));
    for (const k of rightAfterFirst) expect(resent.has(k)).toBe(true);
  }, 30_000);

  it('the gateway statechart retries describe-first, and the leader gets ready with every route repointed', async () => {
    const cidrs = podCidrs(20);
    const { s, c } = await start(tablesAt(GW_B.eni, cidrs), SCALED);
    const { actor, passes } = leaderOn(c, cidrs);
    actor.start();
    try {
      await waitFor(actor, (snap) => snap.matches({ leader: { routeTables: 'inPlace' } }), { timeout: 20_000 });
    } finally {
      actor.stop();
    }
    expect(passes[0]).toEqual({ strategy: 'write-first', ok: false });
    expect(passes.slice(1).map((p) => p.strategy)).toEqual(passes.slice(1).map(() => 'describe-first'));
    expect(passes.at(-1)?.ok).toBe(true);
    expect(allAt(s, cidrs, GW_A.eni)).toBe(true);
    // Each retry wrote only what was still wrong: no route was replaced twice with the same target.
    const writes = s.calls.filter((x) => x.action === 'ReplaceRoute' && x.status === 200).map((x) => `${x.params.RouteTableId} ${x.params.DestinationCidrBlock}`);
    expect(new Set(writes).size).toBe(writes.length);
  }, 30_000);

  // At EC2's real figures: 3 × 80 = 240 ReplaceRoute need more than the ~175 one
  // pass gets (50 + 5/s × ~25 s of retries). Skipped by default: it runs for ~25 s.
  it.skipIf(process.env.LAB_SLOW_TESTS !== '1')('(real figures, LAB_SLOW_TESTS=1) one write-first pass over 3 × 80 CIDRs fails under DEFAULT_AWS_RETRY_POLICY', async () => {
    const cidrs = podCidrs(80);
    const { s, c } = await start(tablesAt(GW_B.eni, cidrs), { latency: false });
    const t0 = performance.now();
    const results = await programRouteTables(c, cidrs, 'write-first', DEFAULT_AWS_RETRY_POLICY);
    const failed = results.reduce((n, r) => n + r.counts.failed, 0);
    process.stderr.write(`real-figures pass: ${Math.round(performance.now() - t0)} ms, ${240 - failed} of 240 routes written, ${failed} failed (RequestLimitExceeded)\n`);
    expect(failed).toBeGreaterThan(0);
    expect(s.calls.filter((x) => x.action === 'ReplaceRoute' && x.status === 200).length).toBeLessThan(240);
  }, 90_000);
});
