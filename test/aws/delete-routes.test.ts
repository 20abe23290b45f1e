// Cleanup's EC2 calls against the stand-in: the tables described as they are
// (an unknown one reported alone), DeleteRoute for exactly the routes given,
// a route already gone (InvalidRoute.NotFound) is not an error, throttling is
// retried, a permission error fails the route with AWS's code.
import { DeleteRouteCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { deleteRoutes, describeRouteTables } from '../../effects/aws/index.js';
import { CIDRS, FAST_RETRY, GW_A, GW_B, TABLES, targets, useWorld, writeCalls, type World } from './fixture.js';

let w!: World;
useWorld((world) => (w = world));

describe('describeRouteTables', () => {
  it('every table’s IPv4 routes by destination; an unknown table is InvalidRouteTableID.NotFound and does not hide the others', async () => {
    const d = await describeRouteTables(w.ec2, [TABLES[1], TABLES[2], 'rtb-0000000f'], { retry: FAST_RETRY });
    const b = d.get(TABLES[1]);
    expect(b instanceof Map && b.get(CIDRS[0])).toEqual({ target: GW_B.eni, active: true });
    const c = d.get(TABLES[2]);
    expect(c instanceof Map && c.get(CIDRS[2])).toEqual({ target: GW_A.eni, active: false });
    expect(d.get('rtb-0000000f')).toMatchObject({ code: 'InvalidRouteTableID.NotFound' });
  });
});

describe('deleteRoutes', () => {
  it('deletes exactly the routes given; every other route stays', async () => {
    const before = targets(w.standIn);
    const r = await deleteRoutes({ ec2: w.ec2, routes: [{ routeTableId: TABLES[2], cidr: CIDRS[0] }, { routeTableId: TABLES[2], cidr: CIDRS[2] }], retry: FAST_RETRY });
    expect(r.map((x) => x.status)).toEqual(['deleted', 'deleted']);
    const after = targets(w.standIn);
    expect(after[`${TABLES[2]} ${CIDRS[0]}`]).toBeUndefined();
    expect(after[`${TABLES[2]} ${CIDRS[2]}`]).toBeUndefined();
    for (const k of Object.keys(before)) if (k !== `${TABLES[2]} ${CIDRS[0]}` && k !== `${TABLES[2]} ${CIDRS[2]}`) expect(after[k]).toBe(before[k]);
    expect(writeCalls(w.standIn).map((c) => c.action)).toEqual(['DeleteRoute', 'DeleteRoute']);
  });

  it('a route already gone is "gone", not a failure (a second run, or a race)', async () => {
    const route = { routeTableId: TABLES[1], cidr: CIDRS[1] };
    expect((await deleteRoutes({ ec2: w.ec2, routes: [route], retry: FAST_RETRY }))[0]?.status).toBe('deleted');
    expect((await deleteRoutes({ ec2: w.ec2, routes: [route], retry: FAST_RETRY }))[0]).toEqual({ ...route, status: 'gone' });
  });

  it('throttling is retried; a permission error fails the route with AWS’s code and message', async () => {
    w.standIn.faults.failNext(2, { code: 'RequestLimitExceeded', actions: ['DeleteRoute'] });
    const ok = await deleteRoutes({ ec2: w.ec2, routes: [{ routeTableId: TABLES[1], cidr: CIDRS[0] }], retry: FAST_RETRY });
    expect(ok[0]?.status).toBe('deleted');
    w.standIn.faults.deny(['DeleteRoute']);
    const denied = await deleteRoutes({ ec2: w.ec2, routes: [{ routeTableId: TABLES[1], cidr: CIDRS[3] }], retry: FAST_RETRY });
    expect(denied[0]).toMatchObject({ status: 'failed', error: { code: 'UnauthorizedOperation', kind: 'permission' } });
    expect(denied[0]?.error?.message).toContain(`DeleteRoute (${TABLES[1]} ${CIDRS[3]}) failed: UnauthorizedOperation`);
    expect(targets(w.standIn)[`${TABLES[1]} ${CIDRS[3]}`]).toBe(GW_B.eni);
  });

  it('the stand-in’s DeleteRoute as EC2 documents it: the exact CIDR, the local route refused, IPv6 not modelled', async () => {
    await expect(w.ec2.send(new DeleteRouteCommand({ RouteTableId: TABLES[1], DestinationCidrBlock: '192.0.2.0/25' }))).rejects.toMatchObject({ name: 'InvalidRoute.NotFound' });
    await expect(w.ec2.send(new DeleteRouteCommand({ RouteTableId: TABLES[1], DestinationCidrBlock: '198.18.0.0/16' }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(w.ec2.send(new DeleteRouteCommand({ RouteTableId: 'rtb-0000000f', DestinationCidrBlock: CIDRS[0] }))).rejects.toMatchObject({ name: 'InvalidRouteTableID.NotFound' });
    await expect(w.ec2.send(new DeleteRouteCommand({ RouteTableId: TABLES[1], DestinationIpv6CidrBlock: '2001:db8::/64' }))).rejects.toMatchObject({ name: 'UnsupportedOperation' });
    await expect(w.ec2.send(new DeleteRouteCommand({ RouteTableId: TABLES[1] }))).rejects.toMatchObject({ name: 'MissingParameter' });
  });
});
