// doctor's EKS read (effects/aws/eks-cluster.ts) through the real
// @aws-sdk/client-eks against the EKS stand-in: the remote networks, an
// unknown cluster as an answer, EKS's errors typed, and the endpoint taken
// from AWS_ENDPOINT_URL_EKS / AWS_ENDPOINT_URL as the SDK's standard sources.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EKSClient } from '@aws-sdk/client-eks';
import { createEksClient } from '../../effects/aws/eks-client.js';
import { describeClusterRemoteNetworks } from '../../effects/aws/eks-cluster.js';
import { AwsInputError, EksError } from '../../effects/aws/errors.js';
import { startEksStandIn, type EksStandIn } from '../../lab/eks/index.js';
import { CREDENTIALS, REGION } from './fixture.js';
import { isolatedSdkEnv, localOnly } from './sdk-env.js';

const CLUSTER = 'hybrid-lab';
let standIn: EksStandIn;
let scratch: string;
const saved = { ...process.env };
beforeAll(async () => {
  standIn = await startEksStandIn({
    region: REGION,
    clusters: [{ name: CLUSTER, remoteNodeNetworks: ['192.0.2.0/24'], remotePodNetworks: ['198.19.0.0/16', '198.18.128.0/17'] }, { name: 'plain' }],
  });
  scratch = mkdtempSync(join(tmpdir(), 'eks-client-test-'));
});
afterAll(async () => {
  await standIn?.close();
  rmSync(scratch, { recursive: true, force: true });
});
afterEach(() => {
  standIn.allow();
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

async function withClient<T>(eks: EKSClient, f: (eks: EKSClient) => Promise<T>): Promise<T> {
  try {
    return await f(eks);
  } finally {
    eks.destroy();
  }
}
const direct = (): EKSClient => createEksClient({ region: REGION, endpoint: standIn.url, credentials: CREDENTIALS });

describe('describeClusterRemoteNetworks', () => {
  it('the remote node and pod networks, every CIDR of every entry', async () => {
    expect(await withClient(direct(), (eks) => describeClusterRemoteNetworks(eks, CLUSTER))).toEqual({
      name: CLUSTER,
      arn: `arn:aws:eks:${REGION}:123456789012:cluster/${CLUSTER}`,
      status: 'ACTIVE',
      remoteNodeNetworks: ['192.0.2.0/24'],
      remotePodNetworks: ['198.19.0.0/16', '198.18.128.0/17'],
    });
  });

  it('a cluster without Hybrid Nodes: both lists empty', async () => {
    expect(await withClient(direct(), (eks) => describeClusterRemoteNetworks(eks, 'plain'))).toMatchObject({ remoteNodeNetworks: [], remotePodNetworks: [] });
  });

  it('an unknown cluster is an answer: undefined', async () => {
    expect(await withClient(direct(), (eks) => describeClusterRemoteNetworks(eks, 'other'))).toBeUndefined();
  });

  it('AccessDeniedException is thrown typed: a permission error, 403, not retryable, EKS message kept', async () => {
    standIn.deny(['DescribeCluster']);
    const err = await withClient(direct(), (eks) => describeClusterRemoteNetworks(eks, CLUSTER)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EksError);
    expect(err).toMatchObject({ code: 'AccessDeniedException', kind: 'permission', httpStatus: 403, retryable: false, operation: 'DescribeCluster' });
    expect((err as Error).message).toMatch(/^DescribeCluster \(hybrid-lab\) failed: AccessDeniedException: User: .* is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:us-west-2:123456789012:cluster\/hybrid-lab \[request [0-9a-f-]+\]$/);
  });

  it('an endpoint that does not answer: a network error', async () => {
    const eks = createEksClient({ region: REGION, endpoint: 'http://127.0.0.1:9', credentials: CREDENTIALS, requestTimeoutMs: 2000 });
    const err = await withClient(eks, (c) => describeClusterRemoteNetworks(c, CLUSTER)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', kind: 'network', retryable: true });
  });

  it('refuses a region that is not one before any request', () => {
    expect(() => createEksClient({ region: 'us-west-2a' })).toThrow(AwsInputError);
  });
});

describe('@aws-sdk/client-eks 3.1169.0 reads the endpoint from the environment', () => {
  it('AWS_ENDPOINT_URL_EKS wins over AWS_ENDPOINT_URL', async () => {
    isolatedSdkEnv(scratch);
    process.env.AWS_ENDPOINT_URL_EKS = standIn.url;
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
    const before = standIn.calls.length;
    const got = await withClient(localOnly(createEksClient({ region: REGION })), (eks) => describeClusterRemoteNetworks(eks, CLUSTER));
    expect(got?.remotePodNetworks).toEqual(['198.19.0.0/16', '198.18.128.0/17']);
    expect(standIn.calls.slice(before).map((c) => c.accessKeyId)).toEqual([CREDENTIALS.accessKeyId]);
  });

  it('AWS_ENDPOINT_URL alone', async () => {
    isolatedSdkEnv(scratch);
    delete process.env.AWS_ENDPOINT_URL_EKS;
    process.env.AWS_ENDPOINT_URL = standIn.url;
    expect(await withClient(localOnly(createEksClient({ region: REGION })), (eks) => describeClusterRemoteNetworks(eks, 'other'))).toBeUndefined();
  });
});
