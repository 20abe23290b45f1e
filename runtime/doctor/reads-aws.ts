// The EC2 reads doctor's AWS checks share, through the gateway's own adapters
// (effects/aws), without retries: doctor reports what it sees now.
import { findNetworkInterfaceByPrivateIp, NO_RETRY, type EniInfo } from '../../effects/aws/index.js';
import type { DoctorContext } from './check.js';
import { readHolder } from './reads.js';

export const AWS_READ_FIX =
  "Check the AWS settings doctor shares with the gateway: the region (--aws-region / AWS_REGION, else IMDS), credentials (the SDK's default chain: env, IRSA, Pod Identity, the instance profile) and AWS_ENDPOINT_URL_EC2 if set";

/** The interface holding `ip` (a gateway's host IP), read once per run. */
export function eniByIp(ctx: DoctorContext, ip: string): Promise<EniInfo> {
  return ctx.memo(`eni ${ip}`, async () => findNetworkInterfaceByPrivateIp(await ctx.ec2(), ip, { retry: NO_RETRY }));
}

/** The Lease holder, its host IP and its ENI; eni is undefined when there is no holder with a host IP. */
export async function readLeaderEni(ctx: DoctorContext): Promise<{ holder: string; hostIP: string | undefined; eni: EniInfo | undefined }> {
  const h = await readHolder(ctx);
  if (h.hostIP === undefined) return { holder: h.holder, hostIP: undefined, eni: undefined };
  return { holder: h.holder, hostIP: h.hostIP, eni: await eniByIp(ctx, h.hostIP) };
}
