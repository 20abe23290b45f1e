// The EC2 stand-in speaks the EC2 Query protocol: checked on the wire (raw
// HTTP) and with the real SDK client, unchanged.
import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import {
  CreateRouteCommand,
  DeleteRouteCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  ModifyNetworkInterfaceAttributeCommand,
  ReplaceRouteCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { XMLParser } from 'fast-xml-parser';
import type { Ec2StandIn, RouteChange } from '../../lab/ec2/index.js';
import { CIDRS, GW_A, GW_A_SECOND, GW_B, TABLES, VPC, useWorld } from './fixture.js';

let standIn: Ec2StandIn;
let ec2: EC2Client;

useWorld((w) => ({ standIn, ec2 } = w));

const signedBy = (key: string): Record<string, string> => ({ authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/us-west-2/ec2/aws4_request, SignedHeaders=host, Signature=00` });

/** A raw Query request; `localAddress` picks the client's address (any of 127/8). */
function post(body: string, headers: Record<string, string> = signedBy('AKIDRAW'), localAddress?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const options = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers }, ...(localAddress !== undefined ? { localAddress } : {}) };
    const req = request(standIn.url, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const xml = new XMLParser({ ignoreAttributes: false });

describe('on the wire', () => {
  it('answers in the 2016-11-15 namespace with a requestId', async () => {
    const res = await post(`Action=DescribeRouteTables&Version=2016-11-15&RouteTableId.1=${TABLES[2]}`);
    expect(res.status).toBe(200);
    const doc = xml.parse(res.body) as { DescribeRouteTablesResponse: Record<string, unknown> };
    expect(doc.DescribeRouteTablesResponse['@_xmlns']).toBe('http://ec2.amazonaws.com/doc/2016-11-15/');
    expect(doc.DescribeRouteTablesResponse.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body).toContain(`<routeTableId>${TABLES[2]}</routeTableId>`);
    expect(res.body).toContain('<state>blackhole</state>');
  });

  it('sends the EC2 error envelope with the right HTTP statuses', async () => {
    const cases: Array<[string, Record<string, string> | undefined, number, string]> = [
      ['Action=DescribeRouteTables&Version=2016-11-15', {}, 401, 'AuthFailure'],
      ['Action=RunInstances&Version=2016-11-15', undefined, 400, 'InvalidAction'],
      ['Version=2016-11-15', undefined, 400, 'MissingAction'],
      ['Action=DescribeRouteTables', undefined, 400, 'MissingParameter'],
      [`Action=ReplaceRoute&Version=2016-11-15&RouteTableId=${TABLES[0]}&DestinationCidrBlock=192.0.2.0/24&NetworkInterfaceId=${GW_A.eni}`, undefined, 400, 'InvalidRoute.NotFound'],
      [`Action=CreateRoute&Version=2016-11-15&RouteTableId=${TABLES[0]}&DestinationCidrBlock=192.0.2.1/24&NetworkInterfaceId=${GW_A.eni}`, undefined, 400, 'InvalidParameterValue'],
      [`Action=CreateRoute&Version=2016-11-15&RouteTableId=${TABLES[0]}&DestinationCidrBlock=192.0.2.0/24&NetworkInterfaceId=${GW_A.eni}&DryRun=true`, undefined, 412, 'DryRunOperation'],
    ];
    for (const [body, headers, status, code] of cases) {
      const res = await post(body, headers);
      expect({ body, status: res.status }).toEqual({ body, status });
      const doc = xml.parse(res.body) as { Response: { Errors: { Error: { Code: string; Message: string } }; RequestID: string } };
      expect(doc.Response.Errors.Error.Code).toBe(code);
      expect(doc.Response.Errors.Error.Message.length).toBeGreaterThan(5);
      expect(doc.Response.RequestID).toMatch(/^[0-9a-f-]{36}$/);
    }
    // The dry run changed nothing.
    expect(standIn.state.routeTarget(TABLES[0], '192.0.2.0/24')).toBeUndefined();
  });

  it('injects faults with their EC2 statuses', async () => {
    standIn.faults.failNext(1, { code: 'RequestLimitExceeded' }).failNext(1, { code: 'InternalError' }).failNext(1, { code: 'UnauthorizedOperation' });
    const body = 'Action=DescribeRouteTables&Version=2016-11-15';
    expect((await post(body)).status).toBe(503);
    expect((await post(body)).status).toBe(500);
    const denied = await post(body);
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('<Code>UnauthorizedOperation</Code>');
    expect((await post(body)).status).toBe(200);
  });

  it('late delivery (fault injection): a request from the given origin reaches EC2 ms late and is applied then; others pass at once', async () => {
    const replace = (cidr: string) => `Action=ReplaceRoute&Version=2016-11-15&RouteTableId=${TABLES[1]}&DestinationCidrBlock=${encodeURIComponent(cidr)}&NetworkInterfaceId=${GW_A.eni}`;
    const applied: number[] = [];
    standIn.onRouteChange((_change, call) => void applied.push(call.seq));
    standIn.faults.lateDelivery({ ms: 300, actions: ['ReplaceRoute'], from: { address: '127.0.0.2', accessKeyId: 'AKIDSLOW' }, count: 1 });
    const t0 = performance.now();
    const slow = post(replace(CIDRS[0]), signedBy('AKIDSLOW'), '127.0.0.2').then((r) => ({ ...r, ms: performance.now() - t0 }));
    await vi.waitFor(() => expect(standIn.calls).toHaveLength(1));
    // Not from that origin (other key; other address): not delayed.
    expect((await post(replace(CIDRS[1]), signedBy('AKIDOTHER'), '127.0.0.2')).status).toBe(200);
    expect((await post(replace(CIDRS[2]), signedBy('AKIDSLOW'), '127.0.0.3')).status).toBe(200);
    expect(standIn.state.routeTarget(TABLES[1], CIDRS[0])).toBe(GW_B.eni);
    const done = await slow;
    expect(done.status).toBe(200);
    expect(done.ms).toBeGreaterThanOrEqual(290);
    expect(standIn.state.routeTarget(TABLES[1], CIDRS[0])).toBe(GW_A.eni);
    // Applied after the two that arrived later; each change names the request that made it.
    expect(applied).toEqual([2, 3, 1]);
    const late = standIn.calls.find((c) => c.params.DestinationCidrBlock === CIDRS[0]);
    expect(late).toMatchObject({ seq: 1, accessKeyId: 'AKIDSLOW', remoteAddress: '127.0.0.2', lateMs: 300 });
    // count: 1 — the next one from there passes at once.
    const t1 = performance.now();
    expect((await post(replace(CIDRS[3]), signedBy('AKIDSLOW'), '127.0.0.2')).status).toBe(200);
    expect(performance.now() - t1).toBeLessThan(250);
  });

  it("enforces EC2's mutating token bucket (50, refilling 5/s)", async () => {
    standIn.faults.tokenBuckets(true);
    const body = `Action=ReplaceRoute&Version=2016-11-15&RouteTableId=${TABLES[1]}&DestinationCidrBlock=${encodeURIComponent(CIDRS[0])}&NetworkInterfaceId=${GW_A.eni}`;
    const statuses = await Promise.all(Array.from({ length: 60 }, () => post(body).then((r) => r.status)));
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(50);
    expect(ok).toBeLessThanOrEqual(55); // refills during the burst (5/s) add at most a few
    expect(statuses.filter((s) => s === 503)).toHaveLength(60 - ok);
    // Describe calls have their own bucket.
    expect((await post('Action=DescribeRouteTables&Version=2016-11-15')).status).toBe(200);
  });
});

describe('with the real SDK client', () => {
  it('filters route tables by vpc-id / route-table-id, and refuses an unknown filter', async () => {
    const byVpc = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [VPC] }] }));
    expect(byVpc.RouteTables?.map((t) => t.RouteTableId)).toEqual([...TABLES]);
    const byId = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'route-table-id', Values: [TABLES[1], 'rtb-0000dead'] }, { Name: 'vpc-id', Values: [VPC] }] }));
    expect(byId.RouteTables?.map((t) => t.RouteTableId)).toEqual([TABLES[1]]);
    const none = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: ['vpc-00000000'] }] }));
    expect(none.RouteTables).toEqual([]);
    await expect(ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'colour', Values: ['blue'] }] }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-0000dead'] }))).rejects.toMatchObject({ name: 'InvalidRouteTableID.NotFound', $metadata: { httpStatusCode: 400 } });
  });

  it('creates, replaces and deletes routes, telling the hook each time (with the request that did it)', async () => {
    const changes: RouteChange[] = [];
    const by: string[] = [];
    const off = standIn.onRouteChange(async (c, call) => {
      await new Promise((r) => setTimeout(r, 1)); // an async listener (the lab's kernel update) is awaited
      changes.push(c);
      by.push(`${call.seq} ${call.action} ${call.accessKeyId ?? '?'}`);
    });
    await ec2.send(new CreateRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: GW_A.eni }));
    await expect(ec2.send(new CreateRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: GW_A.eni }))).rejects.toMatchObject({ name: 'RouteAlreadyExists' });
    await ec2.send(new ReplaceRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: GW_B.eni }));
    await ec2.send(new DeleteRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[0] }));
    await expect(ec2.send(new DeleteRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[0] }))).rejects.toMatchObject({ name: 'InvalidRoute.NotFound' });
    off();
    await ec2.send(new CreateRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[1], GatewayId: 'igw-0123456789abcdef0' }));
    expect(changes).toEqual([
      { routeTableId: TABLES[0], cidr: CIDRS[0], target: { kind: 'interface', networkInterfaceId: GW_A.eni, privateIp: GW_A.privateIp, instanceId: GW_A.instanceId } },
      { routeTableId: TABLES[0], cidr: CIDRS[0], target: { kind: 'interface', networkInterfaceId: GW_B.eni, privateIp: GW_B.privateIp, instanceId: GW_B.instanceId } },
      { routeTableId: TABLES[0], cidr: CIDRS[0], target: null },
    ]);
    // Calls 2 and 5 failed (RouteAlreadyExists, InvalidRoute.NotFound): no change, no notice.
    expect(by).toEqual(['1 CreateRoute AKIDLABTEST0000000000', '3 ReplaceRoute AKIDLABTEST0000000000', '4 DeleteRoute AKIDLABTEST0000000000']);
    expect(standIn.calls.every((c) => c.accessKeyId === 'AKIDLABTEST0000000000')).toBe(true);
  });

  it('describes network interfaces by id and by filter, and modifies the source/destination check', async () => {
    const byId = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [GW_A.eni] }));
    expect(byId.NetworkInterfaces?.[0]).toMatchObject({ NetworkInterfaceId: GW_A.eni, PrivateIpAddress: GW_A.privateIp, MacAddress: GW_A.mac, SourceDestCheck: true, Attachment: { InstanceId: GW_A.instanceId, DeviceIndex: 0 } });
    const byInstance = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [GW_A.instanceId] }] }));
    expect(byInstance.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual([GW_A.eni, GW_A_SECOND.eni]);
    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: GW_A.eni, SourceDestCheck: { Value: false } }));
    const after = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'source-dest-check', Values: ['false'] }] }));
    expect(after.NetworkInterfaces?.map((n) => n.NetworkInterfaceId).sort()).toEqual([GW_A.eni, GW_B.eni].sort());
    await expect(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: 'eni-0000000000000dead', SourceDestCheck: { Value: false } }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
    });
  });
});
