// DescribeRouteTables (and DescribeNetworkInterfaces) pagination in the
// realistic stand-in, through the real SDK paginator: MaxResults in EC2's
// range, NextToken continuing without repeats or gaps, filters kept, and
// everything returned when MaxResults is absent.
import { describe, expect, it } from 'vitest';
import {
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  paginateDescribeRouteTables,
  type DescribeRouteTablesCommandInput,
  type EC2Client,
  type RouteTable,
} from '@aws-sdk/client-ec2';

import { type Ec2ProfileName, type Ec2StandIn, type RouteTableSpec } from '../../lab/ec2/index.js';
import { CIDRS, GW_A, GW_A_SECOND, GW_B, OTHER_VPC_HOST, VPC, VPC_CIDR, useStandIn } from './fixture.js';

const OTHER_VPC = OTHER_VPC_HOST.vpcId;
const rtb = (i: number): string => `rtb-${i.toString(16).padStart(8, '0')}`;

/** n tables: every third in the other VPC, every second one with a route to gw-a. */
function tables(n: number): RouteTableSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    routeTableId: rtb(i + 1),
    vpcId: i % 3 === 2 ? OTHER_VPC : VPC,
    vpcCidr: VPC_CIDR,
    routes: i % 2 === 0 && i % 3 !== 2 ? [{ destinationCidrBlock: CIDRS[0], networkInterfaceId: GW_A.eni }] : [],
  }));
}

const startStandIn = useStandIn();

function start(n: number, profile: Ec2ProfileName = 'realistic'): Promise<{ s: Ec2StandIn; c: EC2Client }> {
  return startStandIn({ instances: [GW_A, GW_B, OTHER_VPC_HOST], routeTables: tables(n), profile, behaviour: { latency: false } });
}

async function allPages(c: EC2Client, input: DescribeRouteTablesCommandInput, pageSize?: number): Promise<{ pages: string[][]; ids: string[] }> {
  const pages: string[][] = [];
  for await (const page of paginateDescribeRouteTables({ client: c, ...(pageSize !== undefined ? { pageSize } : {}) }, input)) {
    pages.push((page.RouteTables ?? []).map((t: RouteTable) => t.RouteTableId ?? '?'));
  }
  return { pages, ids: pages.flat() };
}

describe('DescribeRouteTables pagination (realistic)', () => {
  it('paginateDescribeRouteTables with MaxResults 5 over 12 tables returns every table exactly once, in pages of 5, 5, 2', async () => {
    const { s, c } = await start(12);
    const { pages, ids } = await allPages(c, {}, 5);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(ids).toEqual(Array.from({ length: 12 }, (_, i) => rtb(i + 1)));
    const sent = s.calls.filter((x) => x.action === 'DescribeRouteTables');
    expect(sent.map((x) => x.params.MaxResults)).toEqual(['5', '5', '5']);
    expect(sent.map((x) => x.params.NextToken === undefined)).toEqual([true, false, false]);
  });

  it('an exact multiple of the page size ends without an empty extra page', async () => {
    const { c } = await start(10);
    const { pages } = await allPages(c, {}, 5);
    expect(pages.map((p) => p.length)).toEqual([5, 5]);
  });

  it('filters the gateway uses keep working across pages (vpc-id, route-table-id, route.*)', async () => {
    const { c } = await start(12);
    const inVpc = tables(12).filter((t) => t.vpcId === VPC).map((t) => t.routeTableId);
    expect((await allPages(c, { Filters: [{ Name: 'vpc-id', Values: [VPC] }] }, 5)).ids).toEqual(inVpc);
    const toGwA = tables(12).filter((t) => (t.routes ?? []).length > 0).map((t) => t.routeTableId);
    const r = await allPages(c, { Filters: [{ Name: 'route.network-interface-id', Values: [GW_A.eni] }, { Name: 'vpc-id', Values: [VPC] }] }, 5);
    expect(r.ids).toEqual(toGwA);
    expect((await allPages(c, { Filters: [{ Name: 'route-table-id', Values: [rtb(3), rtb(11), 'rtb-0000dead'] }] }, 5)).ids).toEqual([rtb(3), rtb(11)]);
  });

  it('RouteTableIds and MaxResults may be combined (DescribeRouteTables does not refuse it)', async () => {
    const { c } = await start(12);
    const want = [rtb(12), rtb(1), rtb(7), rtb(2), rtb(5), rtb(9), rtb(4)];
    const { pages, ids } = await allPages(c, { RouteTableIds: want }, 5);
    expect(ids).toEqual(want);
    expect(pages.map((p) => p.length)).toEqual([5, 2]);
  });

  it('without MaxResults every matching table comes back at once, with no NextToken (what the gateway relies on)', async () => {
    const { c } = await start(120);
    const out = await c.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [VPC] }] }));
    expect(out.RouteTables).toHaveLength(80);
    expect(out.NextToken).toBeUndefined();
  });

  it('MaxResults outside 5–100 is InvalidParameterValue, with EC2’s wording below the minimum', async () => {
    const { c } = await start(12);
    await expect(c.send(new DescribeRouteTablesCommand({ MaxResults: 4 }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5.',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(c.send(new DescribeRouteTablesCommand({ MaxResults: 101 }))).rejects.toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
    expect((await c.send(new DescribeRouteTablesCommand({ MaxResults: 5 }))).RouteTables).toHaveLength(5);
    expect((await c.send(new DescribeRouteTablesCommand({ MaxResults: 100 }))).RouteTables).toHaveLength(12);
  });

  it('a NextToken that is garbage, or was issued for another query, is InvalidPaginationToken', async () => {
    const { c } = await start(12);
    const first = await c.send(new DescribeRouteTablesCommand({ MaxResults: 5 }));
    expect(first.NextToken).toEqual(expect.any(String));
    await expect(c.send(new DescribeRouteTablesCommand({ MaxResults: 5, NextToken: 'not-a-token' }))).rejects.toMatchObject({ name: 'InvalidPaginationToken' });
    await expect(c.send(new DescribeRouteTablesCommand({ MaxResults: 5, NextToken: first.NextToken, Filters: [{ Name: 'vpc-id', Values: [VPC] }] }))).rejects.toMatchObject({
      name: 'InvalidPaginationToken',
    });
    // NextToken without MaxResults: the rest.
    expect((await c.send(new DescribeRouteTablesCommand({ NextToken: first.NextToken }))).RouteTables).toHaveLength(7);
  });

  it('a table whose routes change between pages is neither repeated nor skipped', async () => {
    const { s, c } = await start(12);
    const filter = [{ Name: 'vpc-id', Values: [VPC] }];
    const p1 = await c.send(new DescribeRouteTablesCommand({ MaxResults: 5, Filters: filter }));
    // Meanwhile a table already returned and one not yet returned change routes.
    s.state.createRoute({ routeTableId: rtb(2), cidr: CIDRS[1], networkInterfaceId: GW_B.eni });
    s.state.createRoute({ routeTableId: rtb(11), cidr: CIDRS[1], networkInterfaceId: GW_B.eni });
    const p2 = await c.send(new DescribeRouteTablesCommand({ MaxResults: 5, Filters: filter, NextToken: p1.NextToken }));
    const ids = [...(p1.RouteTables ?? []), ...(p2.RouteTables ?? [])].map((t) => t.RouteTableId);
    expect(ids).toEqual(tables(12).filter((t) => t.vpcId === VPC).map((t) => t.routeTableId));
    expect(p2.NextToken).toBeUndefined();
  });
});

describe('DescribeNetworkInterfaces pagination (realistic)', () => {
  it('pages with MaxResults and a filter; refuses MaxResults together with interface IDs, as EC2 documents', async () => {
    const { c } = await start(3);
    const p1 = await c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5, Filters: [{ Name: 'owner-id', Values: ['123456789012'] }] }));
    // 4 interfaces: gw-a (2), gw-b, the other VPC's host.
    expect(p1.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual([GW_A.eni, GW_A_SECOND.eni, GW_B.eni, OTHER_VPC_HOST.eni]);
    expect(p1.NextToken).toBeUndefined();
    await expect(c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5, NetworkInterfaceIds: [GW_A.eni] }))).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    await expect(c.send(new DescribeNetworkInterfacesCommand({ MaxResults: 1001 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    // The gateway's call (IDs, no MaxResults) keeps working.
    expect((await c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [GW_B.eni] }))).NetworkInterfaces?.[0]?.NetworkInterfaceId).toBe(GW_B.eni);
  });
});

describe('the ideal profile ignores pagination (as the stand-in always did)', () => {
  it('returns everything on the first page, with no NextToken, whatever MaxResults says', async () => {
    const { c } = await start(12, 'ideal');
    const { pages } = await allPages(c, {}, 5);
    expect(pages.map((p) => p.length)).toEqual([12]);
    expect((await c.send(new DescribeRouteTablesCommand({ MaxResults: 1 }))).RouteTables).toHaveLength(12);
  });
});
