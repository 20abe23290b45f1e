// aws.iam: the gateway's credentials may write the routes. EC2's DryRun asks
// exactly that without changing anything: DryRunOperation means allowed,
// UnauthorizedOperation means not.
import { CreateRouteCommand, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { fail, pass, type Check } from '../check.js';
import { AWS_READ_FIX, readLeaderEni, readShardLeaderEnis } from '../reads-aws.js';

export type DryRunAnswer = 'allowed' | 'denied' | { readonly error: string };

export interface IamFacts {
  readonly routeTable: string | undefined;
  readonly cidr: string | undefined;
  readonly eni: string | undefined;
  readonly answers: Readonly<Record<'ReplaceRoute' | 'CreateRoute', DryRunAnswer>> | undefined;
}

function answerOf(err: unknown): DryRunAnswer {
  const name = (err as { name?: unknown; Code?: unknown }).name;
  if (name === 'DryRunOperation') return 'allowed';
  if (name === 'UnauthorizedOperation' || name === 'AccessDenied') return 'denied';
  return { error: `${String(name)}: ${(err as Error).message}` };
}

export const iamCheck: Check<IamFacts> = {
  name: 'aws.iam',
  title: 'the AWS credentials may ReplaceRoute and CreateRoute (EC2 DryRun)',
  reads: "EC2 ReplaceRoute and CreateRoute with DryRun on the first route table and POD_CIDR (with SHARDS above 1, shard 0's first part, to its leader's ENI)",
  readFix: AWS_READ_FIX,
  async gather(ctx) {
    const routeTable = ctx.config.routeTableIDs[0];
    // What a leader actually writes: with shards, shard 0's first POD_CIDR part to shard 0's leader.
    const [cidr, eni] =
      ctx.config.shards > 1
        ? await readShardLeaderEnis(ctx).then(([s0]) => [s0?.podPrefixes[0], s0?.eni?.networkInterfaceId])
        : [ctx.config.podCIDRs[0], (await readLeaderEni(ctx)).eni?.networkInterfaceId];
    if (routeTable === undefined || cidr === undefined || eni === undefined) return { routeTable, cidr, eni, answers: undefined };
    const ec2 = await ctx.ec2();
    const ask = async (cmd: ReplaceRouteCommand | CreateRouteCommand): Promise<DryRunAnswer> => {
      try {
        await ec2.send(cmd);
        return { error: 'EC2 carried out a DryRun request' };
      } catch (err) {
        return answerOf(err);
      }
    };
    const input = { RouteTableId: routeTable, DestinationCidrBlock: cidr, NetworkInterfaceId: eni, DryRun: true };
    const [replace, create] = await Promise.all([ask(new ReplaceRouteCommand(input)), ask(new CreateRouteCommand(input))]);
    return { routeTable, cidr, eni, answers: { ReplaceRoute: replace, CreateRoute: create } };
  },
  judge(f) {
    if (f.answers === undefined) return fail('no leader ENI to ask about', 'Fix lease.fresh and vtep.points-at-leader first: the DryRun names the leader\'s ENI');
    const shown = (a: DryRunAnswer): string => (typeof a === 'string' ? a : a.error);
    const saw = `DryRun on ${f.routeTable} ${f.cidr} → ${f.eni}: ReplaceRoute ${shown(f.answers.ReplaceRoute)}, CreateRoute ${shown(f.answers.CreateRoute)}`;
    const denied = (['ReplaceRoute', 'CreateRoute'] as const).filter((a) => f.answers![a] !== 'allowed');
    if (denied.length > 0) {
      return fail(
        saw,
        `Allow ${denied.map((a) => `ec2:${a}`).join(' and ')} on the route tables (arn:aws:ec2:<region>:<account>:route-table/${f.routeTable ?? '*'}) in the policy of the gateway's role (IRSA or Pod Identity; the chart's serviceAccount annotations)`,
      );
    }
    return pass(saw);
  },
};
