// What to write to the VPC route tables, as a pure plan (no EC2: tested in
// test/unit/route-plan.test.ts); route-tables.ts describes the tables, then
// carries the plan out.
//
// Every CIDR of every table must point at the gateway's ENI. describe-first
// (drift repair) knows what each table holds: a route already on the ENI and
// active is left alone, a wrong or blackholed one is replaced, an absent one
// created. write-first (right after winning the lease) knows nothing and
// replaces every route (the executor falls back to CreateRoute where EC2
// says the route is absent). A table the describe could not read is not
// written: every route of it fails with the table's error.
import type { RouteTable } from '@aws-sdk/client-ec2';
import { parseCidr } from '../../machines/domain/ipv4.js';
import type { EffectError } from '../errors.js';
import { AwsInputError, Ec2Error } from './errors.js';
import { checkEniId } from './eni.js';

export type RouteStrategy = 'describe-first' | 'write-first';
export type RouteAction = 'unchanged' | 'replace' | 'create';

/** A route as a described table holds it. */
export interface RouteView {
  /** The ENI (or gateway, instance… id) it points at. */
  readonly target: string | undefined;
  /** False for a blackholed route. */
  readonly active: boolean;
}

/** A described table's IPv4 routes by destination CIDR. */
export type TableView = ReadonlyMap<string, RouteView>;

/** What the describe found: each table's routes, or the error that kept it unread. */
export type Described = ReadonlyMap<string, TableView | EffectError>;

export interface PlannedRoute {
  readonly cidr: string;
  readonly action: RouteAction;
  /** What the route pointed at before, when described. */
  readonly previousTarget?: string;
}

export type TablePlan =
  | { readonly routeTableId: string; readonly routes: readonly PlannedRoute[]; readonly error?: undefined }
  | { readonly routeTableId: string; readonly error: EffectError; readonly routes?: undefined };

export interface RoutesInput {
  readonly routeTableIds: readonly string[];
  readonly cidrs: readonly string[];
  readonly networkInterfaceId: string;
  readonly maxConcurrentWrites?: number;
  readonly describePageSize?: number;
}

const RTB_ID = /^rtb-[0-9a-f]{8,17}$/;

/** The tables and CIDRs, each once and canonical; AwsInputError naming every problem otherwise. */
export function checkRoutesInput(o: RoutesInput): { tables: string[]; cidrs: string[] } {
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
  const page = o.describePageSize;
  if (page !== undefined && (!Number.isInteger(page) || page < 5 || page > 100)) problems.push(`describePageSize must be an integer from 5 to 100, EC2's MaxResults range (got ${page})`);
  if (problems.length > 0) throw new AwsInputError(`ensureRoutes: ${problems.join('; ')}`);
  return { tables, cidrs };
}

/** A described table's IPv4 routes (IPv6 and prefix-list routes are not ours). */
export function viewOf(table: RouteTable): TableView {
  const view = new Map<string, RouteView>();
  for (const r of table.Routes ?? []) {
    if (typeof r.DestinationCidrBlock !== 'string') continue;
    const target = r.NetworkInterfaceId ?? r.GatewayId ?? r.InstanceId ?? r.NatGatewayId ?? r.TransitGatewayId ?? r.VpcPeeringConnectionId ?? r.LocalGatewayId ?? r.CarrierGatewayId;
    view.set(r.DestinationCidrBlock, { target, active: r.State !== 'blackhole' });
  }
  return view;
}

/** Each of `ids` as the describe returned it; one it did not return is InvalidRouteTableID.NotFound. */
export function describedTables(found: readonly RouteTable[], ids: readonly string[]): Map<string, TableView | EffectError> {
  const byId = new Map(found.map((t) => [t.RouteTableId, t]));
  const out = new Map<string, TableView | EffectError>();
  for (const id of ids) {
    const t = byId.get(id);
    out.set(id, t ? viewOf(t) : new Ec2Error('DescribeRouteTables', 'InvalidRouteTableID.NotFound', `DescribeRouteTables did not return ${id}`, 'not-found'));
  }
  return out;
}

export interface PlanInput {
  readonly tables: readonly string[];
  readonly cidrs: readonly string[];
  readonly networkInterfaceId: string;
  readonly strategy: RouteStrategy;
  /** The described tables (describe-first); not read for write-first. */
  readonly described?: Described;
}

/** Per table, what to do with each CIDR; write-first (or nothing described) replaces every route. */
export function planRoutes(p: PlanInput): TablePlan[] {
  const eni = p.networkInterfaceId;
  return p.tables.map((routeTableId): TablePlan => {
    if (p.strategy === 'write-first' || p.described === undefined) {
      return { routeTableId, routes: p.cidrs.map((cidr) => ({ cidr, action: 'replace' })) };
    }
    const view = p.described.get(routeTableId);
    if (view === undefined) {
      return { routeTableId, error: new Ec2Error('DescribeRouteTables', 'InvalidRouteTableID.NotFound', `${routeTableId} was not described`, 'not-found') };
    }
    if (!(view instanceof Map)) return { routeTableId, error: view as EffectError };
    const routes = p.cidrs.map((cidr): PlannedRoute => {
      const current = (view as TableView).get(cidr);
      if (current === undefined) return { cidr, action: 'create' };
      const was = current.target !== undefined ? { previousTarget: current.target } : {};
      return { cidr, action: current.target === eni && current.active ? 'unchanged' : 'replace', ...was };
    });
    return { routeTableId, routes };
  });
}
