// The EKS stand-in (lab/eks) speaks EKS's REST-JSON protocol as real clients
// expect it: @aws-sdk/client-eks 3.1169.0 and the AWS CLI (skipped, with the
// reason logged, where it is not installed) read the cluster and its remote
// networks, and get EKS's errors back with their codes and statuses.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { EKS_CLUSTER, GATEWAYS, POD_CIDRS, REGION as LAB_REGION, ROUTE_TABLE_IDS, SUBNET_ID, VPC_CIDR, VPC_ID } from '../../lab/addresses.js';
import { startEksStandIn, type EksStandIn } from '../../lab/eks/index.js';
import { REPO_ROOT } from '../support/netns.js';
import { CREDENTIALS, REGION } from './fixture.js';
import { awsCli, awsCliVersion } from './sdk-env.js';

const CLUSTER = 'hybrid-lab';
const NODES = ['192.0.2.0/24'];
const PODS = ['198.19.0.0/16'];

let standIn: EksStandIn;
let sdk: EKSClient;
let scratch: string;
beforeAll(async () => {
  standIn = await startEksStandIn({ region: REGION, clusters: [{ name: CLUSTER, remoteNodeNetworks: NODES, remotePodNetworks: PODS }, { name: 'no-hybrid' }] });
  sdk = new EKSClient({ region: REGION, endpoint: standIn.url, credentials: CREDENTIALS, maxAttempts: 1 });
  scratch = mkdtempSync(join(tmpdir(), 'eks-test-'));
});
afterAll(async () => {
  sdk?.destroy();
  await standIn?.close();
  rmSync(scratch, { recursive: true, force: true });
});
beforeEach(() => standIn.allow());

/** What the SDK threw: its code (name), HTTP status and message. */
async function sdkError(name: string): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await sdk.send(new DescribeClusterCommand({ name }));
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('DescribeCluster succeeded');
}

describe('the EKS stand-in with @aws-sdk/client-eks', () => {
  it('DescribeCluster: GET /clusters/{name}, signed for eks, the remote node and pod networks', async () => {
    const before = standIn.calls.length;
    const out = await sdk.send(new DescribeClusterCommand({ name: CLUSTER }));
    expect(out.cluster).toMatchObject({
      name: CLUSTER,
      arn: `arn:aws:eks:${REGION}:123456789012:cluster/${CLUSTER}`,
      status: 'ACTIVE',
      remoteNetworkConfig: { remoteNodeNetworks: [{ cidrs: NODES }], remotePodNetworks: [{ cidrs: PODS }] },
    });
    expect(out.cluster?.createdAt).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(standIn.calls.slice(before)).toEqual([expect.objectContaining({ method: 'GET', path: `/clusters/${CLUSTER}`, operation: 'DescribeCluster', accessKeyId: CREDENTIALS.accessKeyId, status: 200 })]);
  });

  it('a cluster without Hybrid Nodes has no remoteNetworkConfig; edits show at once', async () => {
    expect((await sdk.send(new DescribeClusterCommand({ name: 'no-hybrid' }))).cluster?.remoteNetworkConfig).toBeUndefined();
    standIn.clusters.get('no-hybrid')!.remoteNodeNetworks = ['10.80.0.0/16'];
    expect((await sdk.send(new DescribeClusterCommand({ name: 'no-hybrid' }))).cluster?.remoteNetworkConfig).toEqual({ remoteNodeNetworks: [{ cidrs: ['10.80.0.0/16'] }] });
    standIn.clusters.get('no-hybrid')!.remoteNodeNetworks = [];
  });

  it('an unknown cluster: ResourceNotFoundException, 404, naming it', async () => {
    expect(await sdkError('other')).toEqual({ name: 'ResourceNotFoundException', status: 404, message: 'No cluster found for name: other.' });
  });

  it('without eks:DescribeCluster: AccessDeniedException, 403, naming the action and the cluster ARN', async () => {
    standIn.deny(['DescribeCluster']);
    expect(await sdkError(CLUSTER)).toEqual({
      name: 'AccessDeniedException',
      status: 403,
      message: `User: arn:aws:iam::123456789012:user/lab is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:${REGION}:123456789012:cluster/${CLUSTER}`,
    });
  });
});

describe('the EKS stand-in on the wire', () => {
  it('errors: the code in x-amzn-errortype, {"message"} as JSON', async () => {
    const res = await fetch(`${standIn.url}/clusters/other`, { headers: { authorization: `AWS4-HMAC-SHA256 Credential=AKIDWIRE/20260101/${REGION}/eks/aws4_request, SignedHeaders=host, Signature=00` } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({ message: 'No cluster found for name: other.' });
  });

  it('unsigned, or signed for another service or Region: refused before anything is read', async () => {
    const unsigned = await fetch(`${standIn.url}/clusters/${CLUSTER}`);
    expect([unsigned.status, unsigned.headers.get('x-amzn-errortype')]).toEqual([403, 'MissingAuthenticationTokenException']);
    const ec2Scope = await fetch(`${standIn.url}/clusters/${CLUSTER}`, { headers: { authorization: `AWS4-HMAC-SHA256 Credential=AKIDWIRE/20260101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=00` } });
    expect([ec2Scope.status, ec2Scope.headers.get('x-amzn-errortype')]).toEqual([403, 'InvalidSignatureException']);
    expect(((await ec2Scope.json()) as { message: string }).message).toContain("scoped to correct service: 'eks'");
    const otherRegion = await fetch(`${standIn.url}/clusters/${CLUSTER}`, { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDWIRE/20260101/eu-west-1/eks/aws4_request, SignedHeaders=host, Signature=00' } });
    expect([otherRegion.status, otherRegion.headers.get('x-amzn-errortype')]).toEqual([403, 'InvalidSignatureException']);
  });

  it('what it does not model is answered as such', async () => {
    const res = await fetch(`${standIn.url}/clusters/${CLUSTER}/node-groups`, { headers: { authorization: `AWS4-HMAC-SHA256 Credential=AKIDWIRE/20260101/${REGION}/eks/aws4_request, SignedHeaders=host, Signature=00` } });
    expect([res.status, res.headers.get('x-amzn-errortype')]).toEqual([404, 'UnknownOperationException']);
  });
});

describe("the lab's control plane", () => {
  it("serves the lab's cluster on the worker's eksUrl, its remote pod networks holding the lab's POD_CIDRS", async () => {
    // As lab.ts starts it (less the VPC router, which needs network namespaces), on 127.0.0.1.
    const opts = {
      host: '127.0.0.1',
      region: LAB_REGION,
      vpcId: VPC_ID,
      vpcCidr: VPC_CIDR,
      subnetId: SUBNET_ID,
      routeTableIds: ROUTE_TABLE_IDS,
      gateways: GATEWAYS.map((g) => ({ name: g.name, instanceId: g.instanceId, eni: g.eni, mac: g.mac, ip: g.ip })),
      eksCluster: EKS_CLUSTER,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'lab/control-plane-worker.ts'), JSON.stringify(opts)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    child.stderr?.resume();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      const info = await new Promise<{ eksUrl?: string }>((r) => child.once('message', (m) => r(m as { eksUrl?: string })));
      expect(info.eksUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const eks = new EKSClient({ region: LAB_REGION, endpoint: info.eksUrl, credentials: CREDENTIALS, maxAttempts: 1 });
      try {
        const out = await eks.send(new DescribeClusterCommand({ name: EKS_CLUSTER.name }));
        expect(out.cluster?.remoteNetworkConfig).toEqual({ remoteNodeNetworks: [{ cidrs: ['203.0.113.0/24'] }], remotePodNetworks: [{ cidrs: [POD_CIDRS] }] });
      } finally {
        eks.destroy();
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});

const cli = await awsCliVersion();
if (cli === undefined) process.stderr.write("test/aws: skipping the AWS CLI EKS test: `aws` is not installed (scripts/setup.sh installs Debian's awscli)\n");

describe.skipIf(cli === undefined)(`aws eks describe-cluster (${cli ?? 'absent'}) against the stand-in`, () => {
  const aws = awsCli('eks', () => standIn.url, REGION, () => scratch);

  it('reads the remote networks, and reports an unknown cluster with its code and message', async () => {
    const ok = await aws('describe-cluster', '--name', CLUSTER);
    expect(ok.stderr).toBe('');
    const cluster = (JSON.parse(ok.stdout) as { cluster: { name: string; remoteNetworkConfig: unknown } }).cluster;
    expect(cluster.name).toBe(CLUSTER);
    expect(cluster.remoteNetworkConfig).toEqual({ remoteNodeNetworks: [{ cidrs: NODES }], remotePodNetworks: [{ cidrs: PODS }] });
    const missing = await aws('describe-cluster', '--name', 'other');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('(ResourceNotFoundException) when calling the DescribeCluster operation: No cluster found for name: other.');
    expect(standIn.calls.filter((c) => c.accessKeyId === 'AKIDCLITEST000000000').map((c) => c.status)).toEqual([200, 404]);
  });
});
