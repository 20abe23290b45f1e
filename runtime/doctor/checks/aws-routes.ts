// aws.routes: every route table routes every POD_CIDR to the leader's ENI, active (not blackhole).
import { describeAll } from '../../../effects/aws/describe-tables.js';
import { NO_RETRY } from '../../../effects/aws/index.js';
import type { RouteView } from '../../../effects/aws/route-plan.js';
import { fail, pass, type Check } from '../check.js';
import { AWS_READ_FIX, readLeaderEni } from '../reads-aws.js';

export interface RoutesFacts {
  readonly holder: string;
  readonly leaderEni: string | undefined;
  readonly podCIDRs: readonly string[];
  /** Each configured table's IPv4 routes by destination, or why it could not be read. */
  readonly tables: ReadonlyArray<{ readonly id: string; readonly routes: ReadonlyMap<string, RouteView> | string }>;
}

export const routesCheck: Check<RoutesFacts> = {
  name: 'aws.routes',
  title: "every route table sends every POD_CIDR to the leader's ENI",
  reads: 'EC2 DescribeRouteTables (ROUTE_TABLE_IDS); DescribeNetworkInterfaces of the leader\'s host IP',
  readFix: AWS_READ_FIX,
  async gather(ctx) {
    const leader = await readLeaderEni(ctx);
    const described = await describeAll(await ctx.ec2(), ctx.config.routeTableIDs, NO_RETRY, {}, undefined);
    return {
      holder: leader.holder,
      leaderEni: leader.eni?.networkInterfaceId,
      podCIDRs: ctx.config.podCIDRs,
      tables: ctx.config.routeTableIDs.map((id) => {
        const v = described.get(id);
        return { id, routes: v === undefined ? 'not returned by DescribeRouteTables' : v instanceof Error ? v.message : v };
      }),
    };
  },
  judge(f) {
    if (f.leaderEni === undefined) return fail(`no leader ENI (Lease holder "${f.holder}")`, 'Fix lease.fresh and vtep.points-at-leader first: the routes must point at the leader');
    const problems: string[] = [];
    for (const t of f.tables) {
      if (typeof t.routes === 'string') {
        problems.push(`${t.id}: ${t.routes}`);
        continue;
      }
      for (const cidr of f.podCIDRs) {
        const r = t.routes.get(cidr);
        if (r === undefined) problems.push(`${t.id}: no route for ${cidr}`);
        else if (!r.active) problems.push(`${t.id}: ${cidr} → ${r.target ?? '?'} is a blackhole`);
        else if (r.target !== f.leaderEni) problems.push(`${t.id}: ${cidr} → ${r.target ?? '?'}, not ${f.leaderEni}`);
      }
    }
    const scope = `${f.tables.length} table(s) × ${f.podCIDRs.length} POD_CIDR(s), leader ${f.holder} on ${f.leaderEni}`;
    if (problems.length > 0) {
      return fail(
        `${scope}: ${problems.join('; ')}`,
        "The leader points these routes at its ENI on election and repairs drift every few seconds: check its logs for route table errors and its IAM policy (ec2:ReplaceRoute, ec2:CreateRoute on these tables, see aws.iam); an unknown table ID is a ROUTE_TABLE_IDS typo; a blackhole names an ENI that is gone",
      );
    }
    return pass(`${scope}: every route active and on ${f.leaderEni}`);
  },
};
