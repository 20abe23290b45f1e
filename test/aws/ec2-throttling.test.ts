// EC2's request rate limiting in the stand-in's realistic profile: per-action
// token buckets with EC2's documented sizes, drained and refilled on an
// injected clock (no wall-clock timing), and the RequestLimitExceeded answer
// as EC2 sends it, seen through the raw wire and the real SDK client.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DescribeRouteTablesCommand, EC2Client, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { isThrottlingError } from '@smithy/core/retry';
import { XMLParser } from 'fast-xml-parser';
import { createEc2Client, toEc2Error } from '../../effects/aws/index.js';
import {
  ACCOUNT_ID,
  EC2_THROTTLING,
  Throttle,
  TokenBucket,
  requestLimitMessage,
  startEc2StandIn,
  type Ec2StandIn,
  type Ec2StandInOptions,
} from '../../lab/ec2/index.js';
import { CIDRS, CREDENTIALS, GW_A, GW_B, REGION, TABLES, seedTables } from './fixture.js';

describe('TokenBucket on an injected clock', () => {
  it('drains to empty, refuses without taking, and refills at its rate up to its capacity', () => {
    let now = 1_000;
    const b = new TokenBucket({ capacity: 50, refillPerSecond: 5 }, () => now);
    for (let i = 0; i < 50; i += 1) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.level()).toBe(0);
    now += 199; // 0.995 tokens
    expect(b.take()).toBe(false);
    now += 1; // one token after 200 ms at 5/s
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    now += 1_000; // five more
    expect([1, 2, 3, 4, 5, 6].map(() => b.take())).toEqual([true, true, true, true, true, false]);
    now += 3_600_000; // an hour idle: full, not more
    expect(b.level()).toBe(50);
  });

  it('a clock that does not move (or goes back) refills nothing', () => {
    let now = 5_000;
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 100 }, () => now);
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
    now = 4_000;
    expect(b.take()).toBe(false);
    now = 5_005; // 5 ms past the last reading at 100/s: half a token
    expect(b.take()).toBe(false);
    now = 5_010;
    expect(b.take()).toBe(true);
  });
});

describe("Throttle: EC2's buckets per action", () => {
  const t = (): Throttle => new Throttle(EC2_THROTTLING, () => 0);

  it('uses the documented category figures', () => {
    const th = t();
    expect(th.bucketOf('CreateRoute')).toEqual({ key: 'CreateRoute', spec: { capacity: 50, refillPerSecond: 5 } });
    expect(th.bucketOf('ReplaceRoute').spec).toEqual({ capacity: 50, refillPerSecond: 5 });
    expect(th.bucketOf('DeleteRoute').spec).toEqual({ capacity: 50, refillPerSecond: 5 });
    expect(th.bucketOf('DescribeRouteTables')).toEqual({ key: 'DescribeRouteTables', spec: { capacity: 100, refillPerSecond: 20 } });
    // The "uncategorized actions" table gives ModifyNetworkInterfaceAttribute its own figures.
    expect(th.bucketOf('ModifyNetworkInterfaceAttribute').spec).toEqual({ capacity: 100, refillPerSecond: 5 });
    // DescribeNetworkInterfaces is in the unfiltered-and-unpaginated subset: smaller bucket without a filter or pagination.
    expect(th.bucketOf('DescribeNetworkInterfaces', new Map([['NetworkInterfaceId.1', 'eni-1']]))).toEqual({
      key: 'DescribeNetworkInterfaces (unfiltered)',
      spec: { capacity: 50, refillPerSecond: 10 },
    });
    expect(th.bucketOf('DescribeNetworkInterfaces', new Map([['Filter.1.Name', 'vpc-id']])).spec).toEqual({ capacity: 100, refillPerSecond: 20 });
    expect(th.bucketOf('DescribeNetworkInterfaces', new Map([['MaxResults', '5']])).key).toBe('DescribeNetworkInterfaces');
  });

  it('each action has its own bucket: draining CreateRoute leaves ReplaceRoute and DescribeRouteTables full', () => {
    const th = t();
    for (let i = 0; i < 50; i += 1) expect(th.take('CreateRoute').allowed).toBe(true);
    expect(th.take('CreateRoute')).toEqual({ bucket: 'CreateRoute', allowed: false });
    expect(th.level('ReplaceRoute')).toBe(50);
    expect(th.take('ReplaceRoute').allowed).toBe(true);
    for (let i = 0; i < 100; i += 1) expect(th.take('DescribeRouteTables').allowed).toBe(true);
    expect(th.take('DescribeRouteTables').allowed).toBe(false);
  });

  it("scope 'category' shares one bucket among a category's actions", () => {
    const th = new Throttle({ ...EC2_THROTTLING, actions: {}, scope: 'category' }, () => 0);
    for (let i = 0; i < 25; i += 1) th.take('CreateRoute');
    for (let i = 0; i < 25; i += 1) th.take('ReplaceRoute');
    expect(th.take('DeleteRoute')).toEqual({ bucket: 'mutating', allowed: false });
  });

  it('refuses nonsense specs', () => {
    expect(() => new Throttle({ mutating: { capacity: 0, refillPerSecond: 5 }, describe: { capacity: 1, refillPerSecond: 1 } })).toThrow(/capacity ≥ 1/);
  });
});

// ---------------------------------------------------------------- on the wire

let standIn: Ec2StandIn | undefined;
let clients: EC2Client[] = [];
let now = 0;

async function start(extra: Partial<Ec2StandInOptions> = {}): Promise<Ec2StandIn> {
  now = 0;
  standIn = await startEc2StandIn({
    instances: [GW_A, GW_B],
    routeTables: seedTables(),
    profile: 'realistic',
    behaviour: { latency: false },
    clock: () => now,
    ...extra,
  });
  return standIn;
}

function client(s: Ec2StandIn, maxAttempts = 1): EC2Client {
  const c = createEc2Client({ region: REGION, endpoint: s.url, credentials: CREDENTIALS, maxAttempts });
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients) c.destroy();
  clients = [];
  await standIn?.close();
  standIn = undefined;
});

const SIGNED = { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDRAW/20260101/us-west-2/ec2/aws4_request, SignedHeaders=host, Signature=00' };

function post(s: Ec2StandIn, body: string, headers: Record<string, string> = SIGNED): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(s.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const replace = `Action=ReplaceRoute&Version=2016-11-15&RouteTableId=${TABLES[1]}&DestinationCidrBlock=${encodeURIComponent(CIDRS[0])}&NetworkInterfaceId=${GW_A.eni}`;
const xml = new XMLParser();

describe('the realistic stand-in throttles per account and action', () => {
  it('50 ReplaceRoute pass, the 51st is RequestLimitExceeded (503, EC2 envelope and message); 200 ms later one more passes', async () => {
    const s = await start();
    const statuses: number[] = [];
    for (let i = 0; i < 50; i += 1) statuses.push((await post(s, replace)).status);
    expect(statuses.every((x) => x === 200)).toBe(true);
    const refused = await post(s, replace);
    expect(refused.status).toBe(503);
    const doc = xml.parse(refused.body) as { Response: { Errors: { Error: { Code: string; Message: string } }; RequestID: string } };
    expect(doc.Response.Errors.Error).toEqual({ Code: 'RequestLimitExceeded', Message: requestLimitMessage(ACCOUNT_ID, 'ReplaceRoute') });
    expect(doc.Response.Errors.Error.Message).toBe(`Request limit exceeded. Account ${ACCOUNT_ID} has been throttled on ec2:ReplaceRoute because it exceeded its request rate limit.`);
    expect(doc.Response.RequestID).toMatch(/^[0-9a-f-]{36}$/);
    now = 199;
    expect((await post(s, replace)).status).toBe(503);
    now = 200;
    expect((await post(s, replace)).status).toBe(200);
    expect((await post(s, replace)).status).toBe(503);
    now = 1_200; // +5 tokens
    const next = [];
    for (let i = 0; i < 6; i += 1) next.push((await post(s, replace)).status);
    expect(next).toEqual([200, 200, 200, 200, 200, 503]);
    // Other actions were not touched by ReplaceRoute's bucket.
    expect((await post(s, `Action=CreateRoute&Version=2016-11-15&RouteTableId=${TABLES[0]}&DestinationCidrBlock=${encodeURIComponent(CIDRS[0])}&NetworkInterfaceId=${GW_A.eni}`)).status).toBe(200);
    expect((await post(s, 'Action=DescribeRouteTables&Version=2016-11-15')).status).toBe(200);
    expect(s.calls.filter((c) => c.action === 'ReplaceRoute').map((c) => c.bucket)).toEqual(Array(s.calls.filter((c) => c.action === 'ReplaceRoute').length).fill('ReplaceRoute'));
  });

  it('Describe: 100 DescribeRouteTables, then refused; 20/s refill', async () => {
    const s = await start();
    const body = 'Action=DescribeRouteTables&Version=2016-11-15';
    const statuses = await Promise.all(Array.from({ length: 101 }, () => post(s, body).then((r) => r.status)));
    expect(statuses.filter((x) => x === 200)).toHaveLength(100);
    expect(statuses.filter((x) => x === 503)).toHaveLength(1);
    now = 50; // one token at 20/s
    expect((await post(s, body)).status).toBe(200);
    expect((await post(s, body)).status).toBe(503);
  });

  it('unauthorized and dry-run requests take a token (assumed); unsigned ones (AuthFailure) and refused ones do not', async () => {
    const s = await start({ behaviour: { latency: false, throttling: { mutating: { capacity: 4, refillPerSecond: 1 } } } });
    expect((await post(s, replace, {})).status).toBe(401); // unsigned: no account to charge
    expect((await post(s, `${replace}&DryRun=true`)).status).toBe(412);
    s.faults.deny(['ReplaceRoute']);
    expect((await post(s, replace)).status).toBe(403);
    s.faults.reset(); // back to the profile's baseline: fresh buckets
    expect((await post(s, `${replace}&DryRun=true`)).status).toBe(412);
    s.faults.deny(['ReplaceRoute']);
    expect((await post(s, replace)).status).toBe(403);
    expect((await post(s, replace)).status).toBe(403);
    expect((await post(s, replace)).status).toBe(403); // the fourth token
    expect((await post(s, replace)).status).toBe(503); // bucket empty: throttled before authorization
    expect((await post(s, replace)).status).toBe(503); // refused requests took nothing, but nothing refilled either
    now = 1_000;
    expect((await post(s, replace)).status).toBe(403);
  });

  it('tokenBuckets(false) lifts the throttling until reset(); reset() restores the profile', async () => {
    const s = await start({ behaviour: { latency: false, throttling: { describe: { capacity: 1, refillPerSecond: 0 } } } });
    const body = 'Action=DescribeRouteTables&Version=2016-11-15';
    expect([(await post(s, body)).status, (await post(s, body)).status]).toEqual([200, 503]);
    s.faults.tokenBuckets(false);
    expect((await post(s, body)).status).toBe(200);
    s.faults.reset();
    expect([(await post(s, body)).status, (await post(s, body)).status]).toEqual([200, 503]);
  });

  it('the ideal profile never throttles', async () => {
    const s = await start({ profile: 'ideal', behaviour: {} });
    const statuses = await Promise.all(Array.from({ length: 120 }, () => post(s, replace).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(s.faults.throttle).toBeUndefined();
  });
});

describe('RequestLimitExceeded through the real SDK client', () => {
  it('is a throttling error to the SDK (name, 503, isThrottlingError) and to the gateway (retryable throttling)', async () => {
    const s = await start({ behaviour: { latency: false, throttling: { describe: { capacity: 1, refillPerSecond: 0 } } } });
    const ec2 = client(s);
    await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [TABLES[0]] }));
    const err = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [TABLES[0]] })).then(
      () => undefined,
      (e: unknown) => e as Error & { $metadata: { httpStatusCode?: number; requestId?: string }; $fault?: string },
    );
    expect(err).toBeDefined();
    expect(err?.name).toBe('RequestLimitExceeded');
    expect(err?.$metadata.httpStatusCode).toBe(503);
    expect(err?.message).toBe(requestLimitMessage(ACCOUNT_ID, 'DescribeRouteTables'));
    expect(err?.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(isThrottlingError(err as Parameters<typeof isThrottlingError>[0])).toBe(true);
    expect(toEc2Error('DescribeRouteTables', err)).toMatchObject({ code: 'RequestLimitExceeded', kind: 'throttling', retryable: true, httpStatus: 503 });
  });

  it("the SDK's own standard retry strategy retries it (3 attempts), and the bucket refusing all three costs no token", async () => {
    const s = await start({ behaviour: { latency: false, throttling: { mutating: { capacity: 1, refillPerSecond: 0 } } } });
    const ec2 = new EC2Client({ region: REGION, endpoint: s.url, credentials: CREDENTIALS, maxAttempts: 3, retryMode: 'standard' });
    clients.push(ec2);
    const input = { RouteTableId: TABLES[1], DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: GW_A.eni };
    await ec2.send(new ReplaceRouteCommand(input));
    await expect(ec2.send(new ReplaceRouteCommand(input))).rejects.toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503, attempts: 3 } });
    expect(s.calls.filter((c) => c.action === 'ReplaceRoute').map((c) => c.status)).toEqual([200, 503, 503, 503]);
  }, 20_000);
});
