// Builds the EC2 client the adapters use. Endpoint and credentials come from
// the SDK's standard sources: AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL (read
// by @aws-sdk/client-ec2 itself since 3.5xx; verified for 3.1169.0 by
// test/aws/sdk-and-cli.test.ts), then the regional endpoint; credentials from
// the default provider chain (env, web identity / IRSA, Pod Identity, IMDS).
// The SDK's own retries are turned off (maxAttempts 1) so p-retry, with the
// caller's policy, is the only retry layer: retries do not multiply.
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { TIMINGS } from '../../machines/timings.js';
import { AwsInputError } from './errors.js';

export interface Ec2ClientOptions {
  /** Required by the SDK even with a custom endpoint (from AWS_REGION or IMDS placement/region). */
  readonly region: string;
  /** Explicit endpoint; when omitted the SDK applies AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL itself. */
  readonly endpoint?: string;
  /** Static credentials (tests, the lab); when omitted the SDK's default chain applies. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** SDK-level attempts; default 1 (retries belong to the caller's RetryPolicy). */
  readonly maxAttempts?: number;
  /** Per-request socket timeout in ms (default 10 s). */
  readonly requestTimeoutMs?: number;
}

export function createEc2Client(options: Ec2ClientOptions): EC2Client {
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(options.region)) throw new AwsInputError(`"${options.region}" is not an AWS region name (e.g. us-west-2)`);
  if (options.endpoint !== undefined && !URL.canParse(options.endpoint)) throw new AwsInputError(`"${options.endpoint}" is not an endpoint URL`);
  const config: EC2ClientConfig = {
    region: options.region,
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? TIMINGS.ec2RequestTimeoutMs },
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: { ...options.credentials } } : {}),
  };
  return new EC2Client(config);
}
