// The route table plan without EC2: what ensureRoutes writes per table and
// CIDR given the described tables and the strategy, and the input it refuses.
import { describe, expect, it } from 'vitest';
import type { RouteTable } from '@aws-sdk/client-ec2';
import { AwsInputError, Ec2Error } from '../../effects/aws/errors.js';
import { checkRoutesInput, describedTables, planRoutes, viewOf } from '../../effects/aws/route-plan.js';

const ENI = 'eni-0a00000000000000a';
const OTHER = 'eni-0b00000000000000b';
const TABLES = ['rtb-0000000a', 'rtb-0000000b'] as const;
const CIDRS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'] as const;

/** Table a: the first CIDR right, the second on the other ENI, the third absent. Table b: the first blackholed, the second to an IGW. */
const found: RouteTable[] = [
  {
    RouteTableId: TABLES[0],
    Routes: [
      { DestinationCidrBlock: '198.18.0.0/16', GatewayId: 'local', State: 'active' },
      { DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: ENI, State: 'active' },
      { DestinationCidrBlock: CIDRS[1], NetworkInterfaceId: OTHER, State: 'active' },
      { DestinationIpv6CidrBlock: '2001:db8::/32', NetworkInterfaceId: OTHER },
    ],
  },
  {
    RouteTableId: TABLES[1],
    Routes: [
      { DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: ENI, State: 'blackhole' },
      { DestinationCidrBlock: CIDRS[1], GatewayId: 'igw-0123456789abcdef0', State: 'active' },
    ],
  },
];

describe('planRoutes', () => {
  it('describe-first: leaves right routes alone, replaces wrong and blackholed ones, creates absent ones', () => {
    const plan = planRoutes({ tables: TABLES, cidrs: CIDRS, networkInterfaceId: ENI, strategy: 'describe-first', described: describedTables(found, TABLES) });
    expect(plan).toEqual([
      {
        routeTableId: TABLES[0],
        routes: [
          { cidr: CIDRS[0], action: 'unchanged', previousTarget: ENI },
          { cidr: CIDRS[1], action: 'replace', previousTarget: OTHER },
          { cidr: CIDRS[2], action: 'create' },
        ],
      },
      {
        routeTableId: TABLES[1],
        routes: [
          { cidr: CIDRS[0], action: 'replace', previousTarget: ENI },
          { cidr: CIDRS[1], action: 'replace', previousTarget: 'igw-0123456789abcdef0' },
          { cidr: CIDRS[2], action: 'create' },
        ],
      },
    ]);
  });

  it('write-first replaces every route without reading what was described', () => {
    const plan = planRoutes({ tables: TABLES, cidrs: CIDRS, networkInterfaceId: ENI, strategy: 'write-first', described: describedTables(found, TABLES) });
    expect(plan.flatMap((t) => t.routes ?? []).map((r) => r.action)).toEqual(Array(6).fill('replace'));
  });

  it('a table the describe did not return, or could not read, is not written: it carries the error', () => {
    const denied = new Ec2Error('DescribeRouteTables', 'UnauthorizedOperation', 'no', 'permission');
    const described = describedTables(found.slice(0, 1), TABLES);
    expect(described.get(TABLES[1])).toMatchObject({ code: 'InvalidRouteTableID.NotFound' });
    const plan = planRoutes({ tables: [...TABLES, 'rtb-0000000c'], cidrs: CIDRS, networkInterfaceId: ENI, strategy: 'describe-first', described: new Map([...described, ['rtb-0000000c', denied]]) });
    expect(plan.map((t) => t.error?.code)).toEqual([undefined, 'InvalidRouteTableID.NotFound', 'UnauthorizedOperation']);
    expect(plan[1]?.routes).toBeUndefined();
  });

  it('reads only IPv4 routes, and names the target of any kind', () => {
    expect([...viewOf(found[0]!).keys()]).toEqual(['198.18.0.0/16', CIDRS[0], CIDRS[1]]);
    expect(viewOf(found[1]!).get(CIDRS[0])).toEqual({ target: ENI, active: false });
    expect(viewOf({ Routes: [{ DestinationCidrBlock: CIDRS[2], NatGatewayId: 'nat-0123456789abcdef0' }] }).get(CIDRS[2])).toEqual({ target: 'nat-0123456789abcdef0', active: true });
  });
});

describe('checkRoutesInput', () => {
  it('keeps each table and CIDR once, canonical', () => {
    expect(checkRoutesInput({ routeTableIds: [TABLES[0], TABLES[0], TABLES[1]], cidrs: [CIDRS[0], ` ${CIDRS[0]}`], networkInterfaceId: ENI })).toEqual({
      tables: TABLES,
      cidrs: [CIDRS[0]],
    });
  });

  it('refuses bad input naming every problem', () => {
    const bad = (): unknown => checkRoutesInput({ routeTableIds: ['rtb-xyz'], cidrs: ['10.0.0.1/16'], networkInterfaceId: 'eni-1', maxConcurrentWrites: 0, describePageSize: 101 });
    expect(bad).toThrow(AwsInputError);
    expect(bad).toThrow(/"rtb-xyz" is not a route table id.*host bits set.*"eni-1" is not a network interface id.*maxConcurrentWrites must be a positive integer.*describePageSize must be an integer from 5 to 100/);
  });
});
