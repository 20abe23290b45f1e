// Cleanup's EC2 side: the route tables as they are (one DescribeRouteTables,
// describe-tables.ts) and DeleteRoute for the routes the caller decided are
// its own (machines/domain/cleanup.ts decides; nothing here chooses a route).
// Each delete is retried under the caller's policy on throttling, 5xx and
// network errors; InvalidRoute.NotFound means someone deleted it first (or an
// earlier run did, DeleteRoute being eventually consistent): 'gone', not an
// error. Permission and validation errors fail that route with AWS's message.
import { DeleteRouteCommand, type EC2Client } from '@aws-sdk/client-ec2';
import pLimit from 'p-limit';
import type { EffectError } from '../errors.js';
import { toEc2Error } from './errors.js';
import { describeAll } from './describe-tables.js';
import { DEFAULT_AWS_RETRY_POLICY, withRetry, type RetryPolicy } from './retry.js';
import type { Described } from './route-plan.js';

export interface RouteKey {
  readonly routeTableId: string;
  readonly cidr: string;
}

export type DeleteStatus = 'deleted' | 'gone' | 'failed';

export interface DeleteResult extends RouteKey {
  readonly status: DeleteStatus;
  readonly error?: EffectError;
}

export interface DeleteRoutesOptions {
  readonly ec2: EC2Client;
  readonly routes: readonly RouteKey[];
  /** Default DEFAULT_AWS_RETRY_POLICY. */
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
  /** Deletes in flight at once (default 8; EC2's mutating bucket holds 50). */
  readonly maxConcurrent?: number;
}

/** Every table's IPv4 routes, or the error that kept it unread (InvalidRouteTableID.NotFound for one that does not exist). */
export function describeRouteTables(ec2: EC2Client, tables: readonly string[], opts: { retry?: RetryPolicy; signal?: AbortSignal } = {}): Promise<Described> {
  return describeAll(ec2, [...new Set(tables)], opts.retry ?? DEFAULT_AWS_RETRY_POLICY, opts.signal ? { signal: opts.signal } : {}, undefined);
}

/** Deletes each route; never throws for a route's failure (it is in the result). */
export async function deleteRoutes(o: DeleteRoutesOptions): Promise<DeleteResult[]> {
  const limit = pLimit(o.maxConcurrent ?? 8);
  const policy = o.retry ?? DEFAULT_AWS_RETRY_POLICY;
  return Promise.all(
    o.routes.map((r) =>
      limit(async (): Promise<DeleteResult> => {
        const what = `DeleteRoute ${r.routeTableId} ${r.cidr}`;
        try {
          await withRetry(
            async () => {
              try {
                await o.ec2.send(new DeleteRouteCommand({ RouteTableId: r.routeTableId, DestinationCidrBlock: r.cidr }), o.signal ? { abortSignal: o.signal } : {});
              } catch (err) {
                throw toEc2Error('DeleteRoute', err, `${r.routeTableId} ${r.cidr}`);
              }
            },
            policy,
            { ...(o.signal ? { signal: o.signal } : {}), what },
          );
          return { ...r, status: 'deleted' };
        } catch (err) {
          const error = toEc2Error('DeleteRoute', err, `${r.routeTableId} ${r.cidr}`);
          if (error.code === 'InvalidRoute.NotFound') return { ...r, status: 'gone' };
          return { ...r, status: 'failed', error };
        }
      }),
    ),
  );
}
