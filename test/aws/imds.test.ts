// IMDSv2: the stand-in's token protocol, and the client's discovery of
// instance id, region (placement/region) and the ENI holding NODE_IP.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IMDS_IPV4_ENDPOINT,
  IMDS_IPV6_ENDPOINT,
  ImdsClient,
  ImdsError,
  discoverInstanceIdentity,
  resolveImdsEndpoint,
} from '../../effects/aws/index.js';
import { startEc2StandIn, type Ec2StandIn } from '../../lab/ec2/index.js';
import { GW_A, GW_A_SECOND, GW_B, seedTables } from './fixture.js';

let standIn: Ec2StandIn;
let imdsA: string;

beforeAll(async () => {
  standIn = await startEc2StandIn({ instances: [GW_A, GW_B], routeTables: seedTables() });
  imdsA = standIn.imdsUrl(GW_A.instanceId);
});
afterAll(async () => {
  await standIn.close();
});

function raw(url: string, method: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the IMDSv2 stand-in', () => {
  it('answers 401 to a GET without a token (no IMDSv1) and with a made-up token', async () => {
    expect((await raw(`${imdsA}/latest/meta-data/instance-id`, 'GET')).status).toBe(401);
    expect((await raw(`${imdsA}/latest/meta-data/instance-id`, 'GET', { 'x-aws-ec2-metadata-token': 'forged' })).status).toBe(401);
  });

  it('grants a token on PUT with a TTL, echoing the TTL header; refuses a missing/out-of-range TTL and X-Forwarded-For', async () => {
    const ok = await raw(`${imdsA}/latest/api/token`, 'PUT', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('60');
    expect(ok.body.length).toBeGreaterThan(20);
    const got = await raw(`${imdsA}/latest/meta-data/placement/region`, 'GET', { 'x-aws-ec2-metadata-token': ok.body });
    expect(got).toMatchObject({ status: 200, body: 'us-west-2' });

    expect((await raw(`${imdsA}/latest/api/token`, 'PUT')).status).toBe(400);
    expect((await raw(`${imdsA}/latest/api/token`, 'PUT', { 'x-aws-ec2-metadata-token-ttl-seconds': '21601' })).status).toBe(400);
    expect((await raw(`${imdsA}/latest/api/token`, 'PUT', { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '192.0.2.1' })).status).toBe(403);
    expect((await raw(`${imdsA}/latest/api/token`, 'GET')).status).toBe(405);
  });

  it('serves directory listings like IMDS (directories end in /) and 404 for unknown paths', async () => {
    const token = (await raw(`${imdsA}/latest/api/token`, 'PUT', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).body;
    const get = (p: string) => raw(`${imdsA}/latest/meta-data/${p}`, 'GET', { 'x-aws-ec2-metadata-token': token });
    expect((await get('network/interfaces/macs/')).body.split('\n')).toEqual([`${GW_A.mac}/`, `${GW_A_SECOND.mac}/`]);
    expect((await get(`network/interfaces/macs/${GW_A_SECOND.mac}/interface-id`)).body).toBe(GW_A_SECOND.eni);
    expect((await get('placement/availability-zone')).body).toBe('us-west-2-lax-1a');
    expect((await get('iam/security-credentials/')).status).toBe(404);
  });
});

describe('discoverInstanceIdentity', () => {
  it('takes the region from placement/region (a Local Zone AZ would trim to a wrong region) and the ENI of the primary interface', async () => {
    const id = await discoverInstanceIdentity({ nodeIP: GW_A.privateIp, imds: { endpoint: imdsA } });
    expect(id).toEqual({
      instanceId: GW_A.instanceId,
      region: 'us-west-2',
      networkInterfaceId: GW_A.eni,
      macAddress: GW_A.mac,
      nodeIP: GW_A.privateIp,
      sources: { instanceId: 'imds', region: 'imds' },
    });
    expect('us-west-2-lax-1a'.slice(0, -1)).not.toBe(id.region); // what the reference would have used
  });

  it('finds the interface that holds NODE_IP when it is not the primary one', async () => {
    const id = await discoverInstanceIdentity({ nodeIP: GW_A_SECOND.privateIp, imds: { endpoint: imdsA } });
    expect(id.networkInterfaceId).toBe(GW_A_SECOND.eni);
    expect(id.macAddress).toBe(GW_A_SECOND.mac);
  });

  it('AWS_REGION / AWS_INSTANCE_ID overrides skip those lookups', async () => {
    const log = standIn.imdsCalls.get(GW_B.instanceId) ?? [];
    const before = log.length;
    const id = await discoverInstanceIdentity({ nodeIP: GW_B.privateIp, region: 'eu-west-1', instanceId: 'i-0123456789abcdef0', imds: { endpoint: standIn.imdsUrl(GW_B.instanceId) } });
    expect(id).toMatchObject({ region: 'eu-west-1', instanceId: 'i-0123456789abcdef0', networkInterfaceId: GW_B.eni, sources: { region: 'override', instanceId: 'override' } });
    const paths = log.slice(before).map((c) => c.path);
    expect(paths).not.toContain('/latest/meta-data/instance-id');
    expect(paths).not.toContain('/latest/meta-data/placement/region');
    // One token for the whole discovery, with the TTL header.
    expect(paths.filter((p) => p === '/latest/api/token')).toHaveLength(1);
  });

  it('fails clearly when no interface holds NODE_IP', async () => {
    await expect(discoverInstanceIdentity({ nodeIP: '203.0.113.7', imds: { endpoint: imdsA } })).rejects.toSatisfy((e: unknown) => {
      expect(e).toBeInstanceOf(ImdsError);
      expect((e as ImdsError).code).toBe('NodeIpNotFound');
      expect((e as Error).message).toContain(`${GW_A.mac}: ${GW_A.privateIp}`);
      return true;
    });
  });

  it('caches its token, and takes a new one once when IMDS no longer knows it', async () => {
    const client = new ImdsClient({ endpoint: imdsA, tokenTtlSeconds: 300 });
    const log = standIn.imdsCalls.get(GW_A.instanceId) ?? [];
    const before = log.length;
    expect(await client.get('instance-id')).toBe(GW_A.instanceId);
    expect(await client.get('placement/region')).toBe('us-west-2');
    standIn.revokeImdsTokens(GW_A.instanceId);
    expect(await client.get('instance-id')).toBe(GW_A.instanceId);
    expect(log.slice(before).map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/instance-id 200',
      'GET /latest/meta-data/placement/region 200',
      'GET /latest/meta-data/instance-id 401',
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/instance-id 200',
    ]);
  });

  it('reads the endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT like the SDK', async () => {
    const client = new ImdsClient({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${imdsA}/` } });
    expect(client.endpoint).toBe(imdsA);
    expect(await client.get('instance-id')).toBe(GW_A.instanceId);
  });
});

describe('IMDS endpoint settings', () => {
  it('follows the SDK: explicit endpoint, else endpoint mode IPv4 (default) or IPv6', () => {
    expect(resolveImdsEndpoint({})).toBe(IMDS_IPV4_ENDPOINT);
    expect(resolveImdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' })).toBe(IMDS_IPV6_ENDPOINT);
    expect(resolveImdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9', AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' })).toBe('http://127.0.0.1:9');
    expect(() => resolveImdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'ipv5' })).toThrow(/not supported: use IPv4 or IPv6/);
    expect(() => resolveImdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'not a url' })).toThrow(ImdsError);
    expect(() => new ImdsClient({ env: { AWS_EC2_METADATA_DISABLED: 'true' } })).toThrow(/AWS_EC2_METADATA_DISABLED/);
    expect(() => new ImdsClient({ endpoint: 'http://127.0.0.1:9', tokenTtlSeconds: 0 })).toThrow(/out of range/);
  });
});

describe('no IMDSv1 fallback, and failures are typed', () => {
  let v1only: Server;
  let url: string;
  let gets = 0;
  beforeAll(async () => {
    // An IMDSv1-only service: refuses the token PUT, would answer GETs without one.
    v1only = createServer((req, res) => {
      if (req.method === 'PUT') res.writeHead(403).end();
      else {
        gets += 1;
        res.writeHead(200).end('i-0123456789abcdef0');
      }
    });
    await new Promise<void>((r) => v1only.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(v1only.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    v1only.closeAllConnections();
    await new Promise((r) => v1only.close(r));
  });

  it('a refused token is ImdsTokenRefused, and no GET is sent without a token', async () => {
    await expect(new ImdsClient({ endpoint: url }).get('instance-id')).rejects.toMatchObject({ code: 'ImdsTokenRefused', httpStatus: 403, retryable: false });
    expect(gets).toBe(0);
  });

  it('an unreachable endpoint is a retryable ImdsUnreachable', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(new ImdsClient({ endpoint: `http://127.0.0.1:${port}` }).token()).rejects.toMatchObject({ code: 'ImdsUnreachable', retryable: true });
  });

  it('IMDS disabled, or not answering: the message says the gateway needs it for the ENI (the region and instance overrides do not replace it)', async () => {
    expect(() => new ImdsClient({ env: { AWS_EC2_METADATA_DISABLED: 'true' } })).toThrow(/needs it to find the ENI holding NODE_IP \(AWS_REGION and AWS_INSTANCE_ID do not replace it\)/);
    // A server that takes the request and never answers: the client times out.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const err: Error = await new ImdsClient({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 100 })
        .token()
        .then(() => new Error('token() resolved'), (e: unknown) => e as Error);
      expect(err).toMatchObject({ code: 'ImdsUnreachable' });
      expect(err.message).toMatch(/needs IMDS to find the ENI holding NODE_IP/);
      expect(err.message).not.toMatch(/or set AWS_REGION/);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a value that is not what IMDS should return is refused (ImdsMalformed)', async () => {
    const liar = createServer((req, res) => {
      if (req.method === 'PUT') res.writeHead(200, { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }).end('tok');
      else res.writeHead(200).end('<html>captive portal</html>');
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      await expect(discoverInstanceIdentity({ nodeIP: '198.18.0.10', imds: { endpoint } })).rejects.toMatchObject({ code: 'ImdsMalformed' });
    } finally {
      liar.closeAllConnections();
      await new Promise((r) => liar.close(r));
    }
  });
});
