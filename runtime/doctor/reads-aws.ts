// The EC2 reads doctor's AWS checks share, through the gateway's own adapters
// (effects/aws), without retries: doctor reports what it sees now.
import { findNetworkInterfaceByPrivateIp, NO_RETRY, type EniInfo } from '../../effects/aws/index.js';
import type { DoctorContext } from './check.js';
import { readHolder, readShardHolders } from './reads.js';

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

/** A shard's Lease holder and its ENI (undefined without a holder with a host IP), with the prefixes it routes. */
export interface ShardLeaderEni {
  readonly shard: number;
  readonly holder: string;
  readonly eni: EniInfo | undefined;
  readonly podPrefixes: readonly string[];
}

/** Every shard's leader ENI, found as the unsharded leader's is: the holder's pod's host IP. */
export async function readShardLeaderEnis(ctx: DoctorContext): Promise<ShardLeaderEni[]> {
  return Promise.all(
    (await readShardHolders(ctx)).map(async (h) => ({
      shard: h.shard,
      holder: h.holder,
      eni: h.hostIP === undefined ? undefined : await eniByIp(ctx, h.hostIP),
      podPrefixes: h.podPrefixes,
    })),
  );
}
