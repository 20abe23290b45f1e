// Builds the EKS client doctor reads the cluster with. Endpoint and credentials
// come from the SDK's standard sources, as for EC2 (ec2-client.ts):
// AWS_ENDPOINT_URL_EKS, then AWS_ENDPOINT_URL (read by @aws-sdk/client-eks
// itself; test/aws/eks-cluster.test.ts checks it for 3.1169.0), then the
// regional endpoint; credentials from the default provider chain. SDK retries
// off: doctor reports what it sees now.
// Not in effects/aws/index.ts on purpose: that barrel is the gateway's, and
// the gateway must not load the EKS SDK (it never calls EKS; doctor imports
// this module directly, behind its own dynamic import).
import { EKSClient, type EKSClientConfig } from '@aws-sdk/client-eks';
import { TIMINGS } from '../../machines/timings.js';
import type { Ec2ClientOptions } from './ec2-client.js';
import { AwsInputError } from './errors.js';

export type EksClientOptions = Ec2ClientOptions;

export function createEksClient(options: EksClientOptions): EKSClient {
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(options.region)) throw new AwsInputError(`"${options.region}" is not an AWS region name (e.g. us-west-2)`);
  if (options.endpoint !== undefined && !URL.canParse(options.endpoint)) throw new AwsInputError(`"${options.endpoint}" is not an endpoint URL`);
  const config: EKSClientConfig = {
    region: options.region,
    maxAttempts: options.maxAttempts ?? 1,
    // The same per-request timeout as the gateway's EC2 calls (10 s).
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? TIMINGS.ec2RequestTimeoutMs },
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: { ...options.credentials } } : {}),
  };
  return new EKSClient(config);
}
