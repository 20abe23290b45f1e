// The route tables as EC2 holds them, for the describe-first plan: one
// DescribeRouteTables for all tables (RouteTableIds), every page followed
// through NextToken, retried under the caller's policy and abandoned when
// the caller's signal aborts.
import { DescribeRouteTablesCommand, type EC2Client, type RouteTable } from '@aws-sdk/client-ec2';
import type { EffectError } from '../errors.js';
import { FencedError, toEc2Error } from './errors.js';
import { withRetry, type RetryOptions, type RetryPolicy } from './retry.js';
import { describedTables, type Described, type TableView } from './route-plan.js';

/** Every page of DescribeRouteTables for `ids`. */
async function describePages(ec2: EC2Client, ids: readonly string[], policy: RetryPolicy, retryOpts: RetryOptions, pageSize: number | undefined): Promise<RouteTable[]> {
  const out: RouteTable[] = [];
  let nextToken: string | undefined;
  do {
    const input = { RouteTableIds: [...ids], ...(pageSize !== undefined ? { MaxResults: pageSize } : {}), ...(nextToken !== undefined ? { NextToken: nextToken } : {}) };
    const page = await withRetry(
      async () => {
        try {
          return await ec2.send(new DescribeRouteTablesCommand(input), retryOpts.signal !== undefined ? { abortSignal: retryOpts.signal } : {});
        } catch (err) {
          if (retryOpts.signal?.aborted === true) throw new FencedError('DescribeRouteTables', { cause: err });
          throw toEc2Error('DescribeRouteTables', err, ids.join(','));
        }
      },
      policy,
      { ...retryOpts, what: 'DescribeRouteTables' },
    );
    out.push(...(page.RouteTables ?? []));
    nextToken = typeof page.NextToken === 'string' && page.NextToken !== '' ? page.NextToken : undefined;
  } while (nextToken !== undefined);
  return out;
}

/** Every table's view, or the error that kept it unread. One unknown id fails the whole call: then each table is read alone. */
export async function describeAll(ec2: EC2Client, tables: readonly string[], policy: RetryPolicy, retryOpts: RetryOptions, pageSize: number | undefined): Promise<Described> {
  try {
    return describedTables(await describePages(ec2, tables, policy, retryOpts, pageSize), tables);
  } catch (err) {
    const e = toEc2Error('DescribeRouteTables', err);
    if (e.code !== 'InvalidRouteTableID.NotFound' || tables.length === 1) return new Map(tables.map((id) => [id, e]));
    const views = new Map<string, TableView | EffectError>();
    await Promise.all(
      tables.map(async (id) => {
        try {
          for (const [k, v] of describedTables(await describePages(ec2, [id], policy, retryOpts, pageSize), [id])) views.set(k, v);
        } catch (inner) {
          views.set(id, toEc2Error('DescribeRouteTables', inner, id));
        }
      }),
    );
    return views;
  }
}
