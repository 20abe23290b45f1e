// aws.routes: every route table routes every POD_CIDR to the leader's ENI, active (not blackhole).
// With SHARDS = N above 1: every shard's POD_CIDR parts to that shard's leader's ENI.
import { describeAll } from '../../../effects/aws/describe-tables.js';
import { NO_RETRY } from '../../../effects/aws/index.js';
import type { RouteView } from '../../../effects/aws/route-plan.js';
import { fail, pass, type Check, type Verdict } from '../check.js';
import { AWS_READ_FIX, readLeaderEni, readShardLeaderEnis } from '../reads-aws.js';

export interface RoutesFacts {
  readonly holder: string;
  readonly leaderEni: string | undefined;
  readonly podCIDRs: readonly string[];
  /** Each configured table's IPv4 routes by destination, or why it could not be read. */
  readonly tables: ReadonlyArray<{ readonly id: string; readonly routes: ReadonlyMap<string, RouteView> | string }>;
}

/** With more than one shard: each shard's leader, its ENI and the prefixes it routes. */
export interface ShardedRoutesFacts {
  readonly shards: ReadonlyArray<{ readonly shard: number; readonly holder: string; readonly leaderEni: string | undefined; readonly podPrefixes: readonly string[] }>;
  readonly tables: RoutesFacts['tables'];
}

const repairs = (who: string): string =>
  `${who} points these routes at its ENI on election and repairs drift every few seconds: check its logs for route table errors and its IAM policy (ec2:ReplaceRoute, ec2:CreateRoute on these tables, see aws.iam); an unknown table ID is a ROUTE_TABLE_IDS typo; a blackhole names an ENI that is gone`;

function judgeSharded(f: ShardedRoutesFacts): Verdict {
  const problems: string[] = [];
  const fixes: string[] = [];
  const leaderless = f.shards.filter((s) => s.leaderEni === undefined);
  for (const s of leaderless) problems.push(`shard ${s.shard}: no leader ENI (Lease holder "${s.holder}")`);
  if (leaderless.length > 0) fixes.push("Fix lease.fresh and vtep.points-at-leader first: each shard's routes must point at its leader");
  let routeProblems = 0;
  for (const t of f.tables) {
    if (typeof t.routes === 'string') {
      problems.push(`${t.id}: ${t.routes}`);
      routeProblems += 1;
      continue;
    }
    for (const s of f.shards) {
      if (s.leaderEni === undefined) continue;
      for (const cidr of s.podPrefixes) {
        const r = t.routes.get(cidr);
        const before = problems.length;
        if (r === undefined) problems.push(`${t.id}: no route for ${cidr} (shard ${s.shard})`);
        else if (!r.active) problems.push(`${t.id}: ${cidr} → ${r.target ?? '?'} is a blackhole (shard ${s.shard})`);
        else if (r.target !== s.leaderEni) problems.push(`${t.id}: ${cidr} → ${r.target ?? '?'}, not ${s.leaderEni} (shard ${s.shard}'s leader ${s.holder})`);
        routeProblems += problems.length - before;
      }
    }
  }
  if (routeProblems > 0) fixes.push(repairs("Each shard's leader"));
  const prefixes = f.shards.reduce((n, s) => n + s.podPrefixes.length, 0);
  const leaders = f.shards.map((s) => `shard ${s.shard} ${s.podPrefixes.join(', ')} → ${s.leaderEni === undefined ? 'no leader' : `${s.holder} on ${s.leaderEni}`}`).join('; ');
  const scope = `${f.tables.length} table(s) × ${prefixes} shard prefix(es), ${leaders}`;
  if (problems.length > 0) return fail(`${scope}: ${problems.join('; ')}`, fixes.join('. '));
  return pass(`${scope}: every route active and on its shard's leader`);
}

export const routesCheck: Check<RoutesFacts | ShardedRoutesFacts> = {
  name: 'aws.routes',
  title: "every route table sends every POD_CIDR to the leader's ENI (with SHARDS above 1, each shard's POD_CIDR parts to its leader's)",
  reads: "EC2 DescribeRouteTables (ROUTE_TABLE_IDS); DescribeNetworkInterfaces of the leader's (each shard leader's) host IP",
  readFix: AWS_READ_FIX,
  async gather(ctx) {
    const shards = ctx.config.shards > 1 ? await readShardLeaderEnis(ctx) : undefined;
    const leader = shards === undefined ? await readLeaderEni(ctx) : undefined;
    const described = await describeAll(await ctx.ec2(), ctx.config.routeTableIDs, NO_RETRY, {}, undefined);
    const tables = ctx.config.routeTableIDs.map((id) => {
      const v = described.get(id);
      return { id, routes: v === undefined ? 'not returned by DescribeRouteTables' : v instanceof Error ? v.message : v };
    });
    if (shards === undefined) return { holder: leader?.holder ?? '', leaderEni: leader?.eni?.networkInterfaceId, podCIDRs: ctx.config.podCIDRs, tables };
    return { shards: shards.map((s) => ({ shard: s.shard, holder: s.holder, leaderEni: s.eni?.networkInterfaceId, podPrefixes: s.podPrefixes })), tables };
  },
  judge(f) {
    if ('shards' in f) return judgeSharded(f);
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
      return fail(`${scope}: ${problems.join('; ')}`, repairs('The leader'));
    }
    return pass(`${scope}: every route active and on ${f.leaderEni}`);
  },
};
