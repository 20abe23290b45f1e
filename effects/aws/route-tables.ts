// Points every CIDR of every VPC route table at one ENI: the executor of
// route-plan.ts, called once per pass for all tables.
//
// describe-first: one DescribeRouteTables for all tables (RouteTableIds, its
// pages followed through NextToken; in parallel, the ENI's
// source/destination check), then only the routes the plan finds wrong are
// written: ReplaceRoute when the route exists, CreateRoute when it does not.
// write-first skips the describe and replaces blindly: one round trip instead
// of two, for a failover where every route is known to be wrong. Races are
// tolerated both ways (InvalidRoute.NotFound → CreateRoute,
// RouteAlreadyExists → ReplaceRoute). All writes of a pass, every table's,
// share one limiter: at most maxConcurrentWrites in flight (EC2's mutating
// bucket holds 50 tokens and refills 5 a second).
//
// Each write is retried under the caller's RetryPolicy on throttling, 5xx and
// network errors only; permission and validation errors surface at once with
// AWS's message, and after a permission error on a table no further write is
// sent to that table in this run. Fencing (fence.ts): the AbortSignal and
// writeGuard are checked before a write takes its slot and again by a
// middleware as the request leaves; the signal also abandons a write in
// flight (the run stops waiting; the request, in `onWire`, runs to its
// answer). Once fenced, nothing more is sent.
import type { EC2Client } from '@aws-sdk/client-ec2';
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { EffectError } from '../errors.js';
import { Ec2Error, FencedError, toEc2Error } from './errors.js';
import { describeNetworkInterface, sourceDestCheckReport, type SourceDestCheckReport } from './eni.js';
import { isFenced, sendRouteWrite, type RouteWrite, type WriteFence, type WritesOnWire } from './fence.js';
import { DEFAULT_AWS_RETRY_POLICY, withRetry, type RetryOptions, type RetryPolicy } from './retry.js';
import { describeAll } from './describe-tables.js';
import { checkRoutesInput, planRoutes, type PlannedRoute, type RouteAction, type RouteStrategy } from './route-plan.js';

export type { RouteAction, RouteStrategy } from './route-plan.js';
export type RouteStatus = 'unchanged' | 'replaced' | 'created' | 'failed' | 'fenced';

/** One per route that was found correct or written (not for routes fenced before any write). */
export interface RouteUpdateEvent {
  readonly table: string;
  readonly cidr: string;
  /** The last action tried (a replace that fell back to create reports 'create'). */
  readonly action: RouteAction;
  /** Wall time of the write including retries; 0 for 'unchanged'. */
  readonly durationMs: number;
  /** API calls sent for this route. */
  readonly attempts: number;
  readonly error?: EffectError;
}

export interface RouteRetryEvent {
  readonly table: string;
  readonly cidr: string;
  readonly action: RouteAction;
  readonly attempt: number;
  readonly error: EffectError;
  readonly willRetry: boolean;
}

export interface RouteResult {
  readonly cidr: string;
  readonly status: RouteStatus;
  /** What the route pointed at before (ENI, gateway… id), when described. */
  readonly previousTarget?: string;
  readonly attempts: number;
  readonly durationMs: number;
  readonly error?: EffectError;
}

export interface TableResult {
  readonly routeTableId: string;
  readonly ok: boolean;
  readonly routes: readonly RouteResult[];
  /** Set when the table itself could not be read (then every route failed with it). */
  readonly error?: EffectError;
  /** When its writes started (epoch ms; the describe, shared by all tables, came before) and how long they took. */
  readonly startedAtMs: number;
  readonly durationMs: number;
}

export interface EnsureRoutesResult {
  /** Every route of every table now points at the ENI. */
  readonly ok: boolean;
  /** The run was fenced before it finished writing. */
  readonly fenced: boolean;
  readonly networkInterfaceId: string;
  readonly tables: readonly TableResult[];
  readonly counts: Readonly<Record<RouteStatus, number>>;
  /** Present when checkSourceDestCheck is on (the default). */
  readonly sourceDestCheck?: SourceDestCheckReport | { readonly error: EffectError };
  readonly durationMs: number;
}

export interface EnsureRoutesOptions {
  readonly ec2: EC2Client;
  /** Every table of the pass: one call converges them all. */
  readonly routeTableIds: readonly string[];
  readonly cidrs: readonly string[];
  /** The ENI every route must point at (this node's, from discoverInstanceIdentity). */
  readonly networkInterfaceId: string;
  readonly strategy?: RouteStrategy;
  /** Default DEFAULT_AWS_RETRY_POLICY. */
  readonly retry?: RetryPolicy;
  /** Fencing: once aborted, no further write is sent, one in flight is abandoned, backoff waits end. */
  readonly signal?: AbortSignal;
  /** Fencing: asked before each write takes its slot and again as it leaves; false = do not send. */
  readonly writeGuard?: () => boolean;
  /** Every write sent stays here until EC2 answered it, also after the run was fenced and returned. */
  readonly onWire?: WritesOnWire;
  /** Writes in flight at once, all tables together (default 16; EC2's mutating bucket is 50). */
  readonly maxConcurrentWrites?: number;
  /** MaxResults of each DescribeRouteTables page (5–100); default none: EC2 returns every table, NextToken is followed anyway. */
  readonly describePageSize?: number;
  /** Describe the ENI alongside the tables and report its source/destination check (default true). */
  readonly checkSourceDestCheck?: boolean;
  readonly onRouteUpdate?: (event: RouteUpdateEvent) => void;
  readonly onRetry?: (event: RouteRetryEvent) => void;
  /**
   * Wraps each table's writes, e.g. in a tracing span: call `run` once and return (or await) it. `run`
   * resolves with the table's result, or rejects with its first error when the table did not converge
   * (so a span wrapper marks it failed). The result counts either way; what the hook returns or throws
   * is ignored (a hook that never calls `run` gets it called after it settles).
   */
  readonly traceTable?: (routeTableId: string, run: () => Promise<TableResult>) => Promise<unknown>;
}

/** Why a table did not converge: its own error, else its first route's. */
function tableFailure(t: TableResult): EffectError | Error {
  return t.error ?? t.routes.find((r) => r.error !== undefined)?.error ?? new Error(`route table ${t.routeTableId} not converged`);
}

/** The first error of a result that did not converge, for a caller that must fail; undefined when it converged. */
export function routesFailure(r: EnsureRoutesResult): EffectError | Error | undefined {
  const bad = r.tables.find((t) => !t.ok);
  return bad !== undefined ? tableFailure(bad) : r.ok ? undefined : new Error('route tables not converged');
}

export async function ensureRoutes(o: EnsureRoutesOptions): Promise<EnsureRoutesResult> {
  const { tables, cidrs } = checkRoutesInput(o);
  const started = performance.now();
  const eni = o.networkInterfaceId;
  const strategy = o.strategy ?? 'describe-first';
  const policy = o.retry ?? DEFAULT_AWS_RETRY_POLICY;
  // One listener on the caller's signal; the many per-route waits and requests listen on ours.
  const internal = new AbortController();
  setMaxListeners(0, internal.signal);
  const onAbort = (): void => internal.abort(o.signal?.reason);
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = o.signal ? internal.signal : undefined;
  const fence: WriteFence = { ...(signal ? { signal } : {}), ...(o.writeGuard ? { writeGuard: o.writeGuard } : {}), ...(o.onWire ? { onWire: o.onWire } : {}) };
  const limit = pLimit(o.maxConcurrentWrites ?? 16);
  const retryOpts: RetryOptions = signal ? { signal } : {};
  // A throwing hook must not change the outcome (nor, through p-retry, stop the retries).
  const emitUpdate = (e: RouteUpdateEvent): void => {
    try {
      o.onRouteUpdate?.(e);
    } catch {
      /* ignored: hooks are observers */
    }
  };
  const emitRetry = (e: RouteRetryEvent): void => {
    try {
      o.onRetry?.(e);
    } catch {
      /* ignored: hooks are observers */
    }
  };

  const sdcPromise: Promise<EnsureRoutesResult['sourceDestCheck']> | undefined =
    o.checkSourceDestCheck === false
      ? undefined
      : describeNetworkInterface(o.ec2, eni, { retry: policy, ...retryOpts }).then(
          (info) => sourceDestCheckReport(info),
          (err: unknown) => ({ error: toEc2Error('DescribeNetworkInterfaces', err, eni) }),
        );

  const fencedBeforeStart = isFenced(fence);
  const described = strategy === 'write-first' || fencedBeforeStart ? undefined : await describeAll(o.ec2, tables, policy, retryOpts, o.describePageSize);
  const plan = planRoutes({ tables, cidrs, networkInterfaceId: eni, strategy, ...(described ? { described } : {}) });

  const denied = new Map<string, EffectError>(); // table → permission error seen on a write

  const writeRoute = async (table: string, route: PlannedRoute): Promise<RouteResult> => {
    const { cidr, previousTarget } = route;
    let action: RouteWrite = route.action === 'create' ? 'CreateRoute' : 'ReplaceRoute';
    let attempts = 0;
    const t0 = performance.now();
    const send = (): Promise<void> =>
      limit(async () => {
        // Checked here, inside the slot, and again by the middleware as the request leaves.
        if (isFenced(fence)) throw new FencedError(`${action} ${table} ${cidr}`);
        const refused = denied.get(table);
        if (refused) throw refused;
        try {
          await sendRouteWrite(o.ec2, action, { RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: eni }, fence, () => (attempts += 1));
        } catch (err) {
          const e = toEc2Error(action, err, `${table} ${cidr} → ${eni}`);
          if (e instanceof Ec2Error && e.kind === 'permission') denied.set(table, e);
          throw e;
        }
      });
    const tried = (): RouteAction => (action === 'ReplaceRoute' ? 'replace' : 'create');
    try {
      await withRetry(
        async () => {
          for (let switches = 0; ; switches += 1) {
            try {
              await send();
              return;
            } catch (err) {
              if (!(err instanceof Ec2Error) || switches >= 2) throw err;
              if (action === 'ReplaceRoute' && err.code === 'InvalidRoute.NotFound') action = 'CreateRoute';
              else if (action === 'CreateRoute' && err.code === 'RouteAlreadyExists') action = 'ReplaceRoute';
              else throw err;
            }
          }
        },
        policy,
        {
          ...retryOpts,
          what: `${action} ${table} ${cidr}`,
          onFailedAttempt: (info) => emitRetry({ table, cidr, action: tried(), attempt: info.attempt, error: info.error, willRetry: info.willRetry }),
        },
      );
      const durationMs = performance.now() - t0;
      emitUpdate({ table, cidr, action: tried(), durationMs, attempts });
      return { cidr, status: action === 'ReplaceRoute' ? 'replaced' : 'created', previousTarget, attempts, durationMs };
    } catch (err) {
      const error = toEc2Error(action, err);
      const durationMs = performance.now() - t0;
      if (error instanceof FencedError && attempts === 0) return { cidr, status: 'fenced', previousTarget, attempts, durationMs, error };
      emitUpdate({ table, cidr, action: tried(), durationMs, attempts, error });
      return { cidr, status: error instanceof FencedError ? 'fenced' : 'failed', previousTarget, attempts, durationMs, error };
    }
  };

  const runTable = async (p: (typeof plan)[number]): Promise<TableResult> => {
    const startedAtMs = Date.now();
    const t0 = performance.now();
    const table = p.routeTableId;
    if (p.error !== undefined) {
      const error = p.error;
      const status: RouteStatus = error instanceof FencedError ? 'fenced' : 'failed';
      return { routeTableId: table, ok: false, error, routes: cidrs.map((cidr) => ({ cidr, status, attempts: 0, durationMs: 0, error })), startedAtMs, durationMs: 0 };
    }
    const routes = await Promise.all(
      p.routes.map(async (route): Promise<RouteResult> => {
        if (route.action !== 'unchanged') return writeRoute(table, route);
        emitUpdate({ table, cidr: route.cidr, action: 'unchanged', durationMs: 0, attempts: 0 });
        return { cidr: route.cidr, status: 'unchanged', previousTarget: eni, attempts: 0, durationMs: 0 };
      }),
    );
    const ok = routes.every((r) => r.status !== 'failed' && r.status !== 'fenced');
    return { routeTableId: table, ok, routes, startedAtMs, durationMs: performance.now() - t0 };
  };

  const traced = async (p: (typeof plan)[number]): Promise<TableResult> => {
    const hook = o.traceTable;
    if (hook === undefined) return runTable(p);
    let result: Promise<TableResult> | undefined;
    const run = (): Promise<TableResult> => {
      result ??= runTable(p);
      return result.then((r) => (r.ok ? r : Promise.reject(tableFailure(r))));
    };
    await Promise.resolve()
      .then(() => hook(p.routeTableId, run))
      .catch(() => undefined);
    return result ?? runTable(p);
  };

  const tableResults = await Promise.all(plan.map(traced));
  const sourceDestCheck = sdcPromise ? await sdcPromise : undefined;
  o.signal?.removeEventListener('abort', onAbort);
  const s = summary(tableResults);
  return {
    ...s,
    fenced: s.fenced || (fencedBeforeStart && tables.length > 0 && cidrs.length > 0),
    networkInterfaceId: eni,
    ...(sourceDestCheck !== undefined ? { sourceDestCheck } : {}),
    durationMs: performance.now() - started,
  };
}

function summary(tables: readonly TableResult[]): Pick<EnsureRoutesResult, 'ok' | 'fenced' | 'tables' | 'counts'> {
  const counts: Record<RouteStatus, number> = { unchanged: 0, replaced: 0, created: 0, failed: 0, fenced: 0 };
  for (const t of tables) for (const r of t.routes) counts[r.status] += 1;
  return { ok: tables.every((t) => t.ok), fenced: counts.fenced > 0, tables, counts };
}
