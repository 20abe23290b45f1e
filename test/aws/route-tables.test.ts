// ensureRoutes against the EC2 stand-in with the real SDK client: convergence,
// races, throttling storms with backoff, permission and validation errors
// without retry loops, the source/destination check.
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  AwsInputError,
  Ec2Error,
  ensureRoutes,
  routesFailure,
  checkSourceDestCheck,
  createEc2Client,
  findNetworkInterfaceByPrivateIp,
  type RouteRetryEvent,
  type RouteUpdateEvent,
  type TableResult,
} from '../../effects/aws/index.js';
import { startEc2StandIn, type Ec2StandIn } from '../../lab/ec2/index.js';
import { CIDRS, CREDENTIALS, FAST_RETRY, GW_A, GW_A_SECOND, GW_B, OTHER_VPC_HOST, REGION, TABLES, VPC, VPC_CIDR, allPointAt, seedTables, targets, writeCalls, useWorld } from './fixture.js';

let standIn: Ec2StandIn;
let ec2: EC2Client;

useWorld((w) => ({ standIn, ec2 } = w));

const base = () => ({ ec2, routeTableIds: [...TABLES], cidrs: [...CIDRS], networkInterfaceId: GW_A.eni, retry: FAST_RETRY });

describe('convergence, 3 tables × 4 CIDRs', () => {
  it('creates absent routes, replaces wrong and blackholed ones, leaves correct ones alone', async () => {
    const events: RouteUpdateEvent[] = [];
    const result = await ensureRoutes({ ...base(), onRouteUpdate: (e) => events.push(e) });

    expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));
    expect(result.ok).toBe(true);
    expect(result.fenced).toBe(false);
    expect(result.counts).toEqual({ unchanged: 2, replaced: 6, created: 4, failed: 0, fenced: 0 });
    const byTable = Object.fromEntries(result.tables.map((t) => [t.routeTableId, t.routes.map((r) => r.status)]));
    expect(byTable).toEqual({
      [TABLES[0]]: ['created', 'created', 'created', 'created'],
      [TABLES[1]]: ['replaced', 'replaced', 'replaced', 'replaced'],
      [TABLES[2]]: ['unchanged', 'unchanged', 'replaced', 'replaced'],
    });
    expect(result.tables[1]?.routes[0]?.previousTarget).toBe(GW_B.eni);
    expect(result.tables[2]?.routes[3]?.previousTarget).toBe('igw-0123456789abcdef0');

    // One DescribeRouteTables for all three tables, one ENI describe, then exactly the 10 needed writes.
    const actions = standIn.calls.map((c) => c.action);
    expect(actions.filter((a) => a === 'DescribeRouteTables')).toHaveLength(1);
    expect(standIn.calls.find((c) => c.action === 'DescribeRouteTables')?.params).toMatchObject({ 'RouteTableId.1': TABLES[0], 'RouteTableId.2': TABLES[1], 'RouteTableId.3': TABLES[2] });
    expect(actions.filter((a) => a === 'DescribeNetworkInterfaces')).toHaveLength(1);
    expect(actions.filter((a) => a === 'CreateRoute')).toHaveLength(4);
    expect(actions.filter((a) => a === 'ReplaceRoute')).toHaveLength(6);
    expect(events).toHaveLength(12);
    expect(events.filter((e) => e.action === 'unchanged')).toHaveLength(2);
    expect(events.every((e) => e.error === undefined)).toBe(true);

    // The VPC-local route is untouched.
    expect(standIn.state.routeTarget(TABLES[0], VPC_CIDR)).toBe('local');
  });

  it('is idempotent: a second run describes once and writes nothing', async () => {
    await ensureRoutes(base());
    const before = standIn.calls.length;
    const again = await ensureRoutes(base());
    expect(again.counts).toEqual({ unchanged: 12, replaced: 0, created: 0, failed: 0, fenced: 0 });
    expect(standIn.calls.slice(before).map((c) => c.action).sort()).toEqual(['DescribeNetworkInterfaces', 'DescribeRouteTables']);
  });

  it('write-first replaces without describing, falling back to CreateRoute where the route is absent', async () => {
    const result = await ensureRoutes({ ...base(), strategy: 'write-first', checkSourceDestCheck: false });
    expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));
    expect(result.counts).toEqual({ unchanged: 0, replaced: 8, created: 4, failed: 0, fenced: 0 });
    const actions = standIn.calls.map((c) => c.action);
    expect(actions).not.toContain('DescribeRouteTables');
    // Table a: 4 ReplaceRoute answered InvalidRoute.NotFound, then 4 CreateRoute.
    expect(standIn.calls.filter((c) => c.code === 'InvalidRoute.NotFound')).toHaveLength(4);
    expect(actions.filter((a) => a === 'CreateRoute')).toHaveLength(4);
  });

  it('reports every change to the onRouteChange hook with the ENI private IP as next hop', async () => {
    const changes: Array<{ table: string; cidr: string; via: string }> = [];
    standIn.onRouteChange((c) => {
      changes.push({ table: c.routeTableId, cidr: c.cidr, via: c.target?.kind === 'interface' ? c.target.privateIp : 'none' });
    });
    await ensureRoutes(base());
    expect(changes).toHaveLength(10);
    expect(new Set(changes.map((c) => c.via))).toEqual(new Set([GW_A.privateIp]));
  });

  it('tolerates races: a route created after the describe (RouteAlreadyExists → Replace) and one deleted (InvalidRoute.NotFound → Create)', async () => {
    const hold = standIn.faults.hold(['CreateRoute', 'ReplaceRoute']);
    const run = ensureRoutes({ ...base(), routeTableIds: [TABLES[0], TABLES[1]], cidrs: [CIDRS[0]] });
    await hold.waitForHeld(2);
    // Meanwhile, someone else: creates the route in table a, deletes the one in table b.
    standIn.state.createRoute({ routeTableId: TABLES[0], cidr: CIDRS[0], networkInterfaceId: GW_B.eni });
    standIn.state.deleteRoute({ routeTableId: TABLES[1], cidr: CIDRS[0] });
    hold.release();
    const result = await run;
    expect(result.ok).toBe(true);
    expect(result.tables.map((t) => t.routes[0]?.status)).toEqual(['replaced', 'created']);
    expect(standIn.state.routeTarget(TABLES[0], CIDRS[0])).toBe(GW_A.eni);
    expect(standIn.state.routeTarget(TABLES[1], CIDRS[0])).toBe(GW_A.eni);
    expect(standIn.calls.filter((c) => c.code !== undefined).map((c) => c.code).sort()).toEqual(['InvalidRoute.NotFound', 'RouteAlreadyExists']);
  });

  it('a throwing hook changes nothing', async () => {
    standIn.faults.failNext(2, { code: 'RequestLimitExceeded', actions: ['ReplaceRoute', 'CreateRoute'] });
    const result = await ensureRoutes({
      ...base(),
      onRouteUpdate: () => {
        throw new Error('metrics exploded');
      },
      onRetry: () => {
        throw new Error('metrics exploded');
      },
    });
    expect(result.ok).toBe(true);
    expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));
  });

  it('keeps converging the other tables when one table id does not exist', async () => {
    const result = await ensureRoutes({ ...base(), routeTableIds: ['rtb-0000dead', ...TABLES] });
    const missing = result.tables[0];
    expect(missing?.ok).toBe(false);
    expect(missing?.error?.code).toBe('InvalidRouteTableID.NotFound');
    expect(missing?.error?.message).toContain("The routeTable ID 'rtb-0000dead' does not exist");
    expect(missing?.routes.every((r) => r.status === 'failed')).toBe(true);
    expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));
    expect(result.ok).toBe(false);
  });
});

describe('throttling storms', () => {
  it('retries throttled and 5xx writes with backoff until every route is right; hooks count it all', async () => {
    // A real token bucket far smaller than EC2's, plus scripted 503/500/400-Throttling failures.
    standIn.faults
      .tokenBuckets({ mutating: { capacity: 3, refillPerSecond: 200 }, describe: { capacity: 100, refillPerSecond: 100 } })
      .failNext(4, { code: 'RequestLimitExceeded', actions: ['ReplaceRoute', 'CreateRoute'] })
      .failNext(3, { code: 'InternalError', actions: ['ReplaceRoute', 'CreateRoute'] })
      .failNext(2, { code: 'Throttling', actions: ['ReplaceRoute'] })
      .failNext(1, { code: 'RequestLimitExceeded', actions: ['DescribeRouteTables'] });

    // The reference's metric names, fed from the hooks as the runtime will.
    const registry = new Registry();
    const total = new Counter({ name: 'hybrid_gateway_aws_route_table_update_total', help: 'updates', labelNames: ['action'], registers: [registry] });
    const errors = new Counter({ name: 'hybrid_gateway_aws_route_table_update_errors_total', help: 'errors', registers: [registry] });
    const duration = new Histogram({ name: 'hybrid_gateway_aws_route_table_update_duration_seconds', help: 'd', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [registry] });
    const retries: RouteRetryEvent[] = [];
    const updates: RouteUpdateEvent[] = [];
    const policy = { ...FAST_RETRY, minTimeoutMs: 10, retries: 20 };

    const result = await ensureRoutes({
      ...base(),
      retry: policy,
      onRetry: (e) => retries.push(e),
      onRouteUpdate: (e) => {
        updates.push(e);
        if (e.action === 'unchanged') return;
        total.inc({ action: e.action });
        if (e.error) errors.inc();
        duration.observe(e.durationMs / 1000);
      },
    });

    expect(result.ok).toBe(true);
    expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));

    const writes = writeCalls(standIn);
    const failedWrites = writes.filter((c) => c.status !== 200 && c.code !== 'InvalidRoute.NotFound' && c.code !== 'RouteAlreadyExists');
    expect(failedWrites.length).toBeGreaterThanOrEqual(9); // the scripted ones, plus whatever the bucket refused
    expect(new Set(failedWrites.map((c) => c.code))).toEqual(new Set(['RequestLimitExceeded', 'InternalError', 'Throttling']));
    // Each refused write was seen by the retry hook exactly once, and all of them were retried.
    expect(retries.filter((r) => r.action !== undefined)).toHaveLength(failedWrites.length);
    expect(retries.every((r) => r.willRetry && r.error.retryable)).toBe(true);
    // Attempts add up to the writes the stand-in received.
    expect(updates.reduce((n, u) => n + u.attempts, 0)).toBe(writes.length);
    expect(result.counts).toEqual({ unchanged: 2, replaced: 6, created: 4, failed: 0, fenced: 0 });
    // The throttled describe was retried too.
    expect(standIn.calls.filter((c) => c.action === 'DescribeRouteTables').map((c) => c.status)).toEqual([503, 200]);

    const sum = async (m: Counter): Promise<number> => (await m.get()).values.reduce((n, v) => n + v.value, 0);
    expect(await sum(total)).toBe(10);
    expect(await sum(errors)).toBe(0);
    expect((await duration.get()).values.find((v) => v.metricName === 'hybrid_gateway_aws_route_table_update_duration_seconds_count')?.value).toBe(10);
    expect(await registry.metrics()).toContain('hybrid_gateway_aws_route_table_update_total{action="create"} 4');

    // Backoff: consecutive attempts of one route are at least minTimeout apart (jitter only lengthens them).
    const perRoute = new Map<string, number[]>();
    for (const c of writes) {
      const key = `${c.params.RouteTableId} ${c.params.DestinationCidrBlock}`;
      perRoute.set(key, [...(perRoute.get(key) ?? []), c.arrivedAt]);
    }
    const retried = [...perRoute.values()].filter((times) => times.length > 1);
    expect(retried.length).toBeGreaterThan(0);
    for (const times of retried) for (let i = 1; i < times.length; i += 1) expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(policy.minTimeoutMs - 1);
  });

  it('gives up after the policy retries and reports the throttling error per route', async () => {
    standIn.faults.fail({ code: 'RequestLimitExceeded', actions: ['ReplaceRoute', 'CreateRoute'] });
    const result = await ensureRoutes({ ...base(), retry: { ...FAST_RETRY, retries: 2 } });
    expect(result.ok).toBe(false);
    expect(result.counts.failed).toBe(10);
    const failed = result.tables.flatMap((t) => t.routes).filter((r) => r.status === 'failed');
    expect(failed.every((r) => r.attempts === 3 && r.error?.code === 'RequestLimitExceeded')).toBe(true);
    expect(writeCalls(standIn)).toHaveLength(30);
  });
});

describe('network failures', () => {
  it('an unreachable endpoint is a retryable network error, retried per the policy', async () => {
    const dead = createEc2Client({ region: 'us-west-2', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'AKIDX', secretAccessKey: 'x' } });
    const retries: RouteRetryEvent[] = [];
    try {
      const result = await ensureRoutes({ ...base(), ec2: dead, strategy: 'write-first', cidrs: [CIDRS[0]], routeTableIds: [TABLES[0]], retry: { ...FAST_RETRY, retries: 2 }, onRetry: (e) => retries.push(e) });
      const route = result.tables[0]?.routes[0];
      expect(route?.status).toBe('failed');
      expect(route?.error).toMatchObject({ retryable: true, kind: 'network' });
      expect(route?.attempts).toBe(3);
      expect(retries).toHaveLength(3);
      expect((result.sourceDestCheck as { error: Ec2Error }).error.retryable).toBe(true);
    } finally {
      dead.destroy();
    }
  });
});

describe('permission and validation errors surface at once', () => {
  it('UnauthorizedOperation on writes: no retries, AWS message kept, one refused write per table stops the rest of that table', async () => {
    standIn.faults.deny(['ReplaceRoute', 'CreateRoute']);
    const retries: RouteRetryEvent[] = [];
    const result = await ensureRoutes({ ...base(), maxConcurrentWrites: 1, onRetry: (e) => retries.push(e) });
    expect(result.ok).toBe(false);
    expect(retries).toHaveLength(0);
    // Sequential writes: the first write of each table is refused; the table's others are not sent.
    expect(writeCalls(standIn)).toHaveLength(3);
    const routes = result.tables.flatMap((t) => t.routes).filter((r) => r.status !== 'unchanged');
    expect(routes).toHaveLength(10);
    for (const r of routes) {
      expect(r.status).toBe('failed');
      expect(r.error).toBeInstanceOf(Ec2Error);
      expect(r.error?.code).toBe('UnauthorizedOperation');
      expect((r.error as Ec2Error).kind).toBe('permission');
      expect(r.error?.retryable).toBe(false);
      expect(r.error?.message).toMatch(/You are not authorized to perform this operation.*ec2:(Replace|Create)Route/);
    }
  });

  it('concurrent writes under a deny: each route is tried at most once', async () => {
    standIn.faults.deny(['ReplaceRoute', 'CreateRoute'], 'AccessDenied');
    const result = await ensureRoutes(base());
    expect(result.counts.failed).toBe(10);
    const keys = writeCalls(standIn).map((c) => `${c.params.RouteTableId} ${c.params.DestinationCidrBlock}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBeLessThanOrEqual(10);
  });

  it('UnauthorizedOperation on DescribeRouteTables: one call, every table fails, nothing written', async () => {
    standIn.faults.deny(['DescribeRouteTables']);
    const result = await ensureRoutes(base());
    expect(result.ok).toBe(false);
    expect(result.tables.every((t) => t.error?.code === 'UnauthorizedOperation')).toBe(true);
    expect(standIn.calls.filter((c) => c.action === 'DescribeRouteTables')).toHaveLength(1);
    expect(writeCalls(standIn)).toHaveLength(0);
  });

  it('InvalidParameterValue (an ENI of another VPC) is not retried', async () => {
    const result = await ensureRoutes({ ...base(), networkInterfaceId: OTHER_VPC_HOST.eni, checkSourceDestCheck: false });
    const failed = result.tables.flatMap((t) => t.routes);
    expect(failed.every((r) => r.status === 'failed' && r.attempts === 1 && r.error?.code === 'InvalidParameterValue')).toBe(true);
    expect(failed[0]?.error?.message).toContain('belong to different networks');
    expect(writeCalls(standIn)).toHaveLength(12);
  });

  it('refuses malformed input before any call, naming each problem', async () => {
    await expect(ensureRoutes({ ...base(), routeTableIds: ['rtb-xyz'], cidrs: ['192.0.2.1/24', 'nope'], networkInterfaceId: 'eni-1' })).rejects.toSatisfy((e: unknown) => {
      expect(e).toBeInstanceOf(AwsInputError);
      const m = (e as Error).message;
      expect(m).toContain('"rtb-xyz" is not a route table id');
      expect(m).toContain('has host bits set (did you mean 192.0.2.0/24?)');
      expect(m).toContain('"nope" is not an IPv4 CIDR');
      expect(m).toContain('"eni-1" is not a network interface id');
      return true;
    });
    expect(standIn.calls).toHaveLength(0);
  });
});

describe('source/destination check', () => {
  it('is reported with the route result, and reads as off once the ENI has it off (the node group sets it; the gateway never writes it)', async () => {
    const result = await ensureRoutes(base());
    expect(result.sourceDestCheck).toMatchObject({ networkInterfaceId: GW_A.eni, sourceDestCheck: true, canForward: false });
    expect((result.sourceDestCheck as { message: string }).message).toContain('source/destination check is ON');

    standIn.state.interfaces.get(GW_A.eni)!.sourceDestCheck = false;
    expect(await checkSourceDestCheck(ec2, GW_A.eni)).toMatchObject({ sourceDestCheck: false, canForward: true });
    expect(writeCalls(standIn).filter((c) => c.action === 'ModifyNetworkInterfaceAttribute')).toHaveLength(0);
  });

  it('reports a failed ENI describe without failing the routes', async () => {
    standIn.faults.deny(['DescribeNetworkInterfaces']);
    const result = await ensureRoutes(base());
    expect(result.ok).toBe(true);
    expect((result.sourceDestCheck as { error: Ec2Error }).error.code).toBe('UnauthorizedOperation');
  });

  it('finds an ENI by private IP (EC2-side alternative to IMDS)', async () => {
    const info = await findNetworkInterfaceByPrivateIp(ec2, GW_A_SECOND.privateIp, { instanceId: GW_A.instanceId });
    expect(info).toMatchObject({ networkInterfaceId: GW_A_SECOND.eni, vpcId: VPC, instanceId: GW_A.instanceId });
    await expect(findNetworkInterfaceByPrivateIp(ec2, '203.0.113.99')).rejects.toThrow('no network interface holds 203.0.113.99');
  });
});

describe('one call per pass for all tables', () => {
  it('traceTable wraps each table once; its run rejects for a table that did not converge; results carry per-table timings', async () => {
    standIn.faults.deny(['CreateRoute']); // table a needs CreateRoute only
    const seen: Array<{ table: string; outcome: string }> = [];
    const result = await ensureRoutes({
      ...base(),
      checkSourceDestCheck: false,
      traceTable: async (table, run) => {
        try {
          const r: TableResult = await run();
          seen.push({ table, outcome: `ok ${r.routes.length}` });
        } catch (err) {
          seen.push({ table, outcome: `failed ${(err as Ec2Error).code}` });
          throw err; // as a span wrapper rethrows: ensureRoutes keeps its own result
        }
      },
    });
    expect(seen.sort((x, y) => x.table.localeCompare(y.table))).toEqual([
      { table: TABLES[0], outcome: 'failed UnauthorizedOperation' },
      { table: TABLES[1], outcome: 'ok 4' },
      { table: TABLES[2], outcome: 'ok 4' },
    ]);
    expect(result.tables.map((t) => t.ok)).toEqual([false, true, true]);
    for (const t of result.tables) {
      expect(t.startedAtMs).toBeGreaterThan(0);
      expect(t.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(routesFailure(result)).toMatchObject({ code: 'UnauthorizedOperation' });
    expect(standIn.calls.filter((c) => c.action === 'DescribeRouteTables')).toHaveLength(1);
  });

  it('a hook that throws or never calls run changes nothing', async () => {
    const result = await ensureRoutes({
      ...base(),
      checkSourceDestCheck: false,
      traceTable: (table) => (table === TABLES[0] ? Promise.reject(new Error('tracing exploded')) : Promise.resolve()),
    });
    expect(result.ok).toBe(true);
    expect(routesFailure(result)).toBeUndefined();
    expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));
  });

  it('describe-first over many tables follows DescribeRouteTables pages (RouteTableIds + MaxResults), one describe otherwise', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `rtb-${(i + 1).toString(16).padStart(8, '0')}`);
    const paged = await startEc2StandIn({
      instances: [GW_A, GW_B],
      routeTables: ids.map((routeTableId) => ({ routeTableId, vpcId: VPC, vpcCidr: VPC_CIDR })),
      profile: 'ideal',
      behaviour: { pagination: true },
    });
    const c = createEc2Client({ region: REGION, endpoint: paged.url, credentials: CREDENTIALS });
    try {
      const opts = { ec2: c, routeTableIds: ids, cidrs: [CIDRS[0]], networkInterfaceId: GW_A.eni, retry: FAST_RETRY, checkSourceDestCheck: false };
      const first = await ensureRoutes({ ...opts, describePageSize: 5 });
      expect(first.counts).toMatchObject({ created: 12, failed: 0 });
      const describes = paged.calls.filter((x) => x.action === 'DescribeRouteTables');
      expect(describes.map((x) => x.params.MaxResults)).toEqual(['5', '5', '5']);
      expect(describes.map((x) => x.params.NextToken !== undefined)).toEqual([false, true, true]);
      expect(describes[0]?.params).toMatchObject({ 'RouteTableId.1': ids[0], 'RouteTableId.12': ids[11] });
      const before = paged.calls.length;
      const again = await ensureRoutes(opts);
      expect(again.counts).toMatchObject({ unchanged: 12 });
      expect(paged.calls.slice(before).map((x) => x.action)).toEqual(['DescribeRouteTables']);
      await expect(ensureRoutes({ ...opts, describePageSize: 4 })).rejects.toThrow(/describePageSize must be an integer from 5 to 100/);
    } finally {
      c.destroy();
      await paged.close();
    }
  });
});

it('seedTables is the documented mixed start', () => {
  expect(seedTables().map((t) => t.routes?.length ?? 0)).toEqual([0, 4, 4]);
});
