// "Routes per route table (non-propagated routes)" in the realistic stand-in:
// 500 by default (Amazon VPC quotas), adjustable up to 1,000; CreateRoute
// beyond it fails with RouteLimitExceeded.
import { describe, expect, it } from 'vitest';
import { CreateRouteCommand, DeleteRouteCommand, ReplaceRouteCommand, type EC2Client } from '@aws-sdk/client-ec2';

import { DEFAULT_ROUTES_PER_TABLE, resolveEc2Behaviour, type Ec2BehaviourOverrides, type Ec2StandIn } from '../../lab/ec2/index.js';
import { GW_A, GW_B, VPC, VPC_CIDR, useStandIn } from './fixture.js';

const TABLE = 'rtb-0000000a';
/** Distinct /28s of 198.19.0.0/16 (4,096 of them). */
const cidr = (i: number): string => `198.19.${Math.floor(i / 16)}.${(i % 16) * 16}/28`;

const startStandIn = useStandIn();

function start(behaviour: Ec2BehaviourOverrides = {}, seeded = 0): Promise<{ s: Ec2StandIn; c: EC2Client }> {
  return startStandIn({
    instances: [GW_A, GW_B],
    routeTables: [{ routeTableId: TABLE, vpcId: VPC, vpcCidr: VPC_CIDR, routes: Array.from({ length: seeded }, (_, i) => ({ destinationCidrBlock: cidr(i), networkInterfaceId: GW_B.eni })) }],
    profile: 'realistic',
    behaviour: { latency: false, throttling: false, ...behaviour },
  });
}

const create = (c: EC2Client, i: number) => c.send(new CreateRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr(i), NetworkInterfaceId: GW_A.eni }));

describe('routes per route table', () => {
  it('defaults to the documented 500 in the realistic profile, none in the ideal one', () => {
    expect(DEFAULT_ROUTES_PER_TABLE).toBe(500);
    expect(resolveEc2Behaviour('realistic').routesPerTable).toBe(500);
    expect(resolveEc2Behaviour('ideal').routesPerTable).toBe(false);
  });

  it('CreateRoute beyond the quota is RouteLimitExceeded (400); the local route does not count; replace and delete still work', async () => {
    const { s, c } = await start({ routesPerTable: 5 }, 3);
    await create(c, 3);
    await create(c, 4); // 5 non-propagated routes (+ the local one)
    await expect(create(c, 5)).rejects.toMatchObject({
      name: 'RouteLimitExceeded',
      message: "You've reached the limit on the number of routes that you can add to a route table.",
      $metadata: { httpStatusCode: 400 },
    });
    expect(s.state.routeTables.get(TABLE)?.routes.size).toBe(6);
    await c.send(new ReplaceRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr(0), NetworkInterfaceId: GW_A.eni }));
    // An existing destination is still RouteAlreadyExists, not the limit.
    await expect(create(c, 0)).rejects.toMatchObject({ name: 'RouteAlreadyExists' });
    await c.send(new DeleteRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr(1) }));
    await create(c, 5);
    await expect(create(c, 6)).rejects.toMatchObject({ name: 'RouteLimitExceeded' });
    // Tests (and the lab) may change the quota of a running stand-in.
    s.state.routesPerTable = 6;
    await create(c, 6);
  });

  it('a table at the default quota takes no 501st route', async () => {
    const { c } = await start({}, 500);
    await expect(create(c, 500)).rejects.toMatchObject({ name: 'RouteLimitExceeded' });
  });

  it('is adjustable up to 1,000 and no further', async () => {
    expect(resolveEc2Behaviour('realistic', { routesPerTable: 1000 }).routesPerTable).toBe(1000);
    expect(() => resolveEc2Behaviour('realistic', { routesPerTable: 1001 })).toThrow(/1 to 1000/);
    expect(() => resolveEc2Behaviour('realistic', { routesPerTable: 0 })).toThrow(/1 to 1000/);
    const { c } = await start({ routesPerTable: false }, 600);
    await create(c, 600);
  });
});
