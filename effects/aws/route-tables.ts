// Points every CIDR of every VPC route table at one ENI.
//
// describe-first (default): one DescribeRouteTables for all tables (and, in
// parallel, the ENI's source/destination check), then only the routes that
// are wrong are written — ReplaceRoute when the route exists, CreateRoute when
// it does not — all tables and routes concurrently, at most
// maxConcurrentWrites in flight (EC2's mutating bucket holds 50 tokens and
// refills 5 a second). write-first skips the describe and replaces blindly: one
// round trip instead of two, for a failover where every route is known to be
// wrong. Races are tolerated both ways (InvalidRoute.NotFound → CreateRoute,
// RouteAlreadyExists → ReplaceRoute).
//
// Each write is retried under the caller's RetryPolicy on throttling, 5xx and
// network errors only; permission and validation errors surface at once with
// AWS's message, and after a permission error on a table no further write is
// sent to that table in this run. Fencing: the AbortSignal and writeGuard are
// checked immediately before every write is sent; once fenced, nothing more is
// sent (a write already on the wire cannot be recalled and is reported as it
// completes).
import { CreateRouteCommand, DescribeRouteTablesCommand, ReplaceRouteCommand, type EC2Client, type RouteTable } from '@aws-sdk/client-ec2';
import { setMaxListeners } from 'node:events';
import { parseCidr } from '../../machines/domain/ipv4.js';
import type { EffectError } from '../errors.js';
import { AwsInputError, Ec2Error, FencedError, toEc2Error } from './errors.js';
import { checkEniId, describeNetworkInterface, sourceDestCheckReport, type SourceDestCheckReport } from './eni.js';
import { DEFAULT_AWS_RETRY_POLICY, withRetry, type RetryPolicy } from './retry.js';

export type RouteAction = 'unchanged' | 'replace' | 'create';
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
  readonly routeTableIds: readonly string[];
  readonly cidrs: readonly string[];
  /** The ENI every route must point at (this node's, from discoverInstanceIdentity). */
  readonly networkInterfaceId: string;
  readonly strategy?: 'describe-first' | 'write-first';
  /** Default DEFAULT_AWS_RETRY_POLICY. */
  readonly retry?: RetryPolicy;
  /** Fencing: once aborted, no further write is sent and backoff waits end. */
  readonly signal?: AbortSignal;
  /** Fencing: called right before each write; false = do not send. */
  readonly writeGuard?: () => boolean;
  /** Writes in flight at once (default 16; EC2's mutating bucket is 50). */
  readonly maxConcurrentWrites?: number;
  /** Describe the ENI alongside the tables and report its source/destination check (default true). */
  readonly checkSourceDestCheck?: boolean;
  readonly onRouteUpdate?: (event: RouteUpdateEvent) => void;
  readonly onRetry?: (event: RouteRetryEvent) => void;
}

const RTB_ID = /^rtb-[0-9a-f]{8,17}$/;

type TableView = ReadonlyMap<string, { readonly target: string | undefined; readonly active: boolean }>;

function limiter(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => queue.push(resolve));
    active += 1;
    try {
      return await fn();
    } finally {
      active -= 1;
      queue.shift()?.();
    }
  };
}

function viewOf(table: RouteTable): TableView {
  const view = new Map<string, { target: string | undefined; active: boolean }>();
  for (const r of table.Routes ?? []) {
    if (typeof r.DestinationCidrBlock !== 'string') continue; // IPv6 / prefix-list routes: not ours
    const target = r.NetworkInterfaceId ?? r.GatewayId ?? r.InstanceId ?? r.NatGatewayId ?? r.TransitGatewayId ?? r.VpcPeeringConnectionId ?? r.LocalGatewayId ?? r.CarrierGatewayId;
    view.set(r.DestinationCidrBlock, { target: r.NetworkInterfaceId ?? target, active: r.State !== 'blackhole' });
  }
  return view;
}

function validate(o: EnsureRoutesOptions): { tables: string[]; cidrs: string[] } {
  const problems: string[] = [];
  const tables = [...new Set(o.routeTableIds)];
  for (const id of tables) if (!RTB_ID.test(id)) problems.push(`"${id}" is not a route table id (want rtb- and 8 or 17 hex digits)`);
  const cidrs: string[] = [];
  for (const c of o.cidrs) {
    const p = parseCidr(c);
    if (!p.ok) problems.push(p.error);
    else if (!cidrs.includes(p.value.text)) cidrs.push(p.value.text);
  }
  try {
    checkEniId(o.networkInterfaceId);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const max = o.maxConcurrentWrites ?? 16;
  if (!Number.isInteger(max) || max < 1) problems.push(`maxConcurrentWrites must be a positive integer (got ${max})`);
  if (problems.length > 0) throw new AwsInputError(`ensureRoutes: ${problems.join('; ')}`);
  return { tables, cidrs };
}

export async function ensureRoutes(o: EnsureRoutesOptions): Promise<EnsureRoutesResult> {
  const { tables, cidrs } = validate(o);
  const started = performance.now();
  const eni = o.networkInterfaceId;
  const policy = o.retry ?? DEFAULT_AWS_RETRY_POLICY;
  // One listener on the caller's signal; the many per-route waits listen on ours.
  const internal = new AbortController();
  setMaxListeners(0, internal.signal);
  const onAbort = (): void => internal.abort(o.signal?.reason);
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = o.signal ? internal.signal : undefined;
  const isFenced = (): boolean => signal?.aborted === true || o.writeGuard?.() === false;
  const limit = limiter(o.maxConcurrentWrites ?? 16);
  const retryOpts = { ...(signal ? { signal } : {}) };
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

  const describe = async (ids: readonly string[]): Promise<RouteTable[]> => {
    const out: RouteTable[] = [];
    let nextToken: string | undefined;
    do {
      const page = await withRetry(
        async () => {
          try {
            return await o.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [...ids], ...(nextToken !== undefined ? { NextToken: nextToken } : {}) }));
          } catch (err) {
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
  };

  /** Every table's view, or the error that kept it unread. */
  const describeAll = async (): Promise<Map<string, TableView | EffectError>> => {
    const views = new Map<string, TableView | EffectError>();
    const fill = (found: readonly RouteTable[], ids: readonly string[]): void => {
      for (const id of ids) {
        const t = found.find((x) => x.RouteTableId === id);
        views.set(id, t ? viewOf(t) : new Ec2Error('DescribeRouteTables', 'InvalidRouteTableID.NotFound', `DescribeRouteTables did not return ${id}`, 'not-found'));
      }
    };
    try {
      fill(await describe(tables), tables);
    } catch (err) {
      const e = toEc2Error('DescribeRouteTables', err);
      if (e.code === 'InvalidRouteTableID.NotFound' && tables.length > 1) {
        // One unknown id fails the whole batch: read each table alone to keep the good ones going.
        await Promise.all(
          tables.map(async (id) => {
            try {
              fill(await describe([id]), [id]);
            } catch (inner) {
              views.set(id, toEc2Error('DescribeRouteTables', inner, id));
            }
          }),
        );
      } else for (const id of tables) views.set(id, e);
    }
    return views;
  };

  const sdcPromise: Promise<EnsureRoutesResult['sourceDestCheck']> | undefined =
    o.checkSourceDestCheck === false
      ? undefined
      : describeNetworkInterface(o.ec2, eni, { retry: policy, ...retryOpts }).then(
          (info) => sourceDestCheckReport(info),
          (err: unknown) => ({ error: toEc2Error('DescribeNetworkInterfaces', err, eni) }),
        );

  const fencedBeforeStart = isFenced();
  const views: Map<string, TableView | EffectError> | undefined =
    o.strategy === 'write-first' || fencedBeforeStart ? undefined : await describeAll();

  const denied = new Map<string, EffectError>(); // table → permission error seen on a write

  const writeRoute = async (table: string, cidr: string, initial: 'replace' | 'create', previousTarget: string | undefined): Promise<RouteResult> => {
    let action: 'replace' | 'create' = initial;
    let attempts = 0;
    const t0 = performance.now();
    const send = (): Promise<void> =>
      limit(async () => {
        // The fence is checked here, inside the slot, right before the request leaves.
        if (isFenced()) throw new FencedError(`${action === 'replace' ? 'ReplaceRoute' : 'CreateRoute'} ${table} ${cidr}`);
        const refused = denied.get(table);
        if (refused) throw refused;
        attempts += 1;
        const input = { RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: eni };
        const op = action === 'replace' ? 'ReplaceRoute' : 'CreateRoute';
        try {
          await o.ec2.send(action === 'replace' ? new ReplaceRouteCommand(input) : new CreateRouteCommand(input));
        } catch (err) {
          const e = toEc2Error(op, err, `${table} ${cidr} → ${eni}`);
          if (e instanceof Ec2Error && e.kind === 'permission') denied.set(table, e);
          throw e;
        }
      });
    try {
      await withRetry(
        async () => {
          for (let switches = 0; ; switches += 1) {
            try {
              await send();
              return;
            } catch (err) {
              if (!(err instanceof Ec2Error) || switches >= 2) throw err;
              if (action === 'replace' && err.code === 'InvalidRoute.NotFound') action = 'create';
              else if (action === 'create' && err.code === 'RouteAlreadyExists') action = 'replace';
              else throw err;
            }
          }
        },
        policy,
        {
          ...retryOpts,
          what: `${action === 'replace' ? 'ReplaceRoute' : 'CreateRoute'} ${table} ${cidr}`,
          onFailedAttempt: (info) => emitRetry({ table, cidr, action, attempt: info.attempt, error: info.error, willRetry: info.willRetry }),
        },
      );
      const durationMs = performance.now() - t0;
      emitUpdate({ table, cidr, action, durationMs, attempts });
      return { cidr, status: action === 'replace' ? 'replaced' : 'created', previousTarget, attempts, durationMs };
    } catch (err) {
      const error = toEc2Error(action === 'replace' ? 'ReplaceRoute' : 'CreateRoute', err);
      const durationMs = performance.now() - t0;
      if (error instanceof FencedError && attempts === 0) {
        return { cidr, status: 'fenced', previousTarget, attempts, durationMs, error };
      }
      emitUpdate({ table, cidr, action, durationMs, attempts, error });
      return { cidr, status: error instanceof FencedError ? 'fenced' : 'failed', previousTarget, attempts, durationMs, error };
    }
  };

  const tableResults = await Promise.all(
    tables.map(async (table): Promise<TableResult> => {
      const view = views?.get(table);
      if (view !== undefined && !(view instanceof Map)) {
        const error = view as EffectError;
        const status: RouteStatus = error instanceof FencedError ? 'fenced' : 'failed';
        return { routeTableId: table, ok: false, error, routes: cidrs.map((cidr) => ({ cidr, status, attempts: 0, durationMs: 0, error })) };
      }
      const routes = await Promise.all(
        cidrs.map(async (cidr): Promise<RouteResult> => {
          const current = (view as TableView | undefined)?.get(cidr);
          if (view !== undefined && current?.target === eni && current.active) {
            emitUpdate({ table, cidr, action: 'unchanged', durationMs: 0, attempts: 0 });
            return { cidr, status: 'unchanged', previousTarget: eni, attempts: 0, durationMs: 0 };
          }
          const initial = view === undefined || current !== undefined ? 'replace' : 'create';
          return writeRoute(table, cidr, initial, current?.target);
        }),
      );
      return { routeTableId: table, ok: routes.every((r) => r.status !== 'failed' && r.status !== 'fenced'), routes };
    }),
  );

  const counts: Record<RouteStatus, number> = { unchanged: 0, replaced: 0, created: 0, failed: 0, fenced: 0 };
  for (const t of tableResults) for (const r of t.routes) counts[r.status] += 1;
  const sourceDestCheck = sdcPromise ? await sdcPromise : undefined;
  o.signal?.removeEventListener('abort', onAbort);
  return {
    ok: tableResults.every((t) => t.ok),
    fenced: counts.fenced > 0 || (fencedBeforeStart && tables.length > 0 && cidrs.length > 0),
    networkInterfaceId: eni,
    tables: tableResults,
    counts,
    ...(sourceDestCheck !== undefined ? { sourceDestCheck } : {}),
    durationMs: performance.now() - started,
  };
}
