// What `cleanup` (the chart's pre-delete hook) removes, decided without I/O.
//
// Which routes are this installation's? EC2 routes carry no owner, and a
// route for a POD_CIDR may point at anything: another installation's gateway,
// a hand-made route, a VPN appliance. So the leader records the ENI it points
// routes at on its Lease, in the annotation GATEWAY_ENIS_ANNOTATION, with the
// very write that makes it leader (its instance identity is known before it
// competes), before any route write of its term: a list of every ENI this
// installation's leaders have used, oldest first, at most MAX_RECORDED_ENIS.
// Cleanup deletes a route only when its destination is one of POD_CIDRS and
// its target one of those ENIs; every other route stays, and is reported with
// the reason. The CiliumVTEPConfig goes only when its owner annotation
// (ownership.ts) names this installation's Lease.
import { OWNER_ANNOTATION, OWNER_SKEW_MS } from './ownership.js';
import { shardLeaseName, shardPlan } from './shards.js';

export const GATEWAY_ENIS_ANNOTATION = 'eks-hybrid-gateway/gateway-enis';
/** The record keeps the newest this many ENIs: gateway nodes come and go (Karpenter replaces them). */
export const MAX_RECORDED_ENIS = 32;
/** Cleanup holds the Lease under an identity with this prefix, so no gateway leads while it deletes. */
export const CLEANUP_HOLDER_PREFIX = 'cleanup/';
/** A Lease duration longer than this is not waited out in full (a gateway's is seconds). */
export const MAX_SETTLE_LEASE_MS = 60_000;

const ENI_ID = /^eni-[0-9a-f]{8,17}$/;

/** The ENIs an annotation value lists (comma-separated); anything that is not an ENI id is ignored. */
export function parseEniList(value: string | undefined): string[] {
  const out: string[] = [];
  for (const item of (value ?? '').split(',')) {
    const id = item.trim();
    if (ENI_ID.test(id) && !out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * The annotation value with `eni` recorded: unchanged (same text) when it is listed already,
 * so renewals do not churn it; else appended, the oldest dropped beyond MAX_RECORDED_ENIS.
 */
export function withEni(value: string | undefined, eni: string): string {
  const list = parseEniList(value);
  if (list.includes(eni)) return value ?? eni;
  if (!ENI_ID.test(eni)) return list.join(',');
  return [...list, eni].slice(-MAX_RECORDED_ENIS).join(',');
}

/** The Lease as cleanup found it before taking it. */
export interface LeaseBefore {
  readonly holder: string;
  /** renewTime (else acquireTime) as epoch ms. */
  readonly renewedAtMs: number | undefined;
  readonly durationMs: number | undefined;
}

/**
 * How long cleanup waits after taking the Lease before it reads the route tables: the last leader
 * stops writing within its lease duration (its fence is local), and a write it sent before may land
 * up to `lateWriteMs` later. Nothing to wait for when there was no Lease, when a cleanup held it,
 * or when its last renewal (a release counts) is longer ago than all of that.
 */
export function settleWaitMs(before: LeaseBefore | undefined, nowMs: number, lateWriteMs: number, defaultDurationMs: number): number {
  if (before === undefined || before.holder.startsWith(CLEANUP_HOLDER_PREFIX)) return 0;
  const duration = Math.min(before.durationMs ?? defaultDurationMs, MAX_SETTLE_LEASE_MS);
  if (before.renewedAtMs !== undefined && nowMs - before.renewedAtMs > duration + lateWriteMs + OWNER_SKEW_MS) return 0;
  return duration + lateWriteMs;
}

/** A route as a described table holds it: what it points at (ENI, gateway… id). */
export interface RouteSeen {
  readonly target: string | undefined;
}

/** A table that could not be read: `gone` when EC2 says it does not exist (nothing left to clean there). */
export interface TableUnread {
  readonly error: string;
  readonly gone: boolean;
}

export type VtepConfigSeen = { readonly present: false } | { readonly present: true; readonly owner: string; readonly resourceVersion: string | undefined };

export interface CleanupFacts {
  readonly routeTableIds: readonly string[];
  readonly podCidrs: readonly string[];
  /** Each table's IPv4 routes by destination CIDR, or why it was not read. */
  readonly tables: ReadonlyMap<string, ReadonlyMap<string, RouteSeen> | TableUnread>;
  /** The ENIs this installation's leaders recorded on its Lease. */
  readonly ourEnis: readonly string[];
  /** `namespace/name` of this installation's Lease (the first), and of its shard Leases (with --shards). */
  readonly ownerKey: string;
  readonly otherOwnerKeys?: readonly string[];
  readonly vtepConfig: VtepConfigSeen;
}

/**
 * The Leases of an installation run with `shards` shards: the Lease itself and, with more than one,
 * `<id>-0` … `<id>-N-1`. Cleanup takes them all, so no shard leader re-creates what it deletes, and
 * reads every leader's ENI record; the plain Lease is in the list either way (an installation that
 * ran unsharded before).
 */
export function installationLeases(leaderElectionID: string, shards: number): string[] {
  return shards === 1 ? [leaderElectionID] : [leaderElectionID, ...Array.from({ length: shards }, (_, k) => shardLeaseName(leaderElectionID, shards, k))];
}

/** The route destinations an installation writes: POD_CIDRS as given, and each shard's part of them. */
export function installationPrefixes(podCidrs: readonly string[], shards: number): string[] {
  const out = [...podCidrs];
  if (shards > 1) for (const part of shardPlan(podCidrs, [], shards)) for (const p of part.podPrefixes) if (!out.includes(p)) out.push(p);
  return out;
}

export type RouteDecision =
  | { readonly table: string; readonly cidr: string; readonly action: 'delete'; readonly target: string }
  | { readonly table: string; readonly cidr: string; readonly action: 'keep'; readonly target: string | undefined; readonly why: string }
  | { readonly table: string; readonly cidr: string; readonly action: 'absent' };

export type VtepDecision =
  | { readonly action: 'delete'; readonly resourceVersion: string | undefined }
  | { readonly action: 'keep'; readonly why: string }
  | { readonly action: 'absent' };

export interface CleanupPlan {
  readonly routes: readonly RouteDecision[];
  /** Tables not read: gone ones are nothing to do, the others are errors. */
  readonly unread: ReadonlyArray<{ readonly table: string } & TableUnread>;
  readonly vtepConfig: VtepDecision;
}

function isUnread(t: ReadonlyMap<string, RouteSeen> | TableUnread | undefined): t is TableUnread {
  return t !== undefined && !(t instanceof Map);
}

function keepWhy(target: string | undefined, ours: readonly string[]): string {
  const at = target === undefined ? 'points at no ENI' : `points at ${target}`;
  if (ours.length === 0) return `${at}; no gateway ENI is recorded for this installation (Lease annotation ${GATEWAY_ENIS_ANNOTATION}), so no route is known to be its own`;
  return `${at}, not at one of this installation's gateway ENIs (${ours.join(', ')})`;
}

/** What to delete and what to leave, and why. */
export function planCleanup(f: CleanupFacts): CleanupPlan {
  const ours = new Set(f.ourEnis);
  const routes: RouteDecision[] = [];
  const unread: Array<{ table: string } & TableUnread> = [];
  for (const table of f.routeTableIds) {
    const seen = f.tables.get(table);
    if (seen === undefined) {
      unread.push({ table, error: 'not described', gone: false });
      continue;
    }
    if (isUnread(seen)) {
      unread.push({ table, error: seen.error, gone: seen.gone });
      continue;
    }
    for (const cidr of f.podCidrs) {
      const r = seen.get(cidr);
      if (r === undefined) routes.push({ table, cidr, action: 'absent' });
      else if (r.target !== undefined && ours.has(r.target)) routes.push({ table, cidr, action: 'delete', target: r.target });
      else routes.push({ table, cidr, action: 'keep', target: r.target, why: keepWhy(r.target, f.ourEnis) });
    }
  }
  return { routes, unread, vtepConfig: vtepDecision(f.vtepConfig, [f.ownerKey, ...(f.otherOwnerKeys ?? [])]) };
}

function vtepDecision(v: VtepConfigSeen, ownerKeys: readonly string[]): VtepDecision {
  const ownerKey = ownerKeys[0] ?? '';
  if (!v.present) return { action: 'absent' };
  if (ownerKeys.includes(v.owner)) return { action: 'delete', resourceVersion: v.resourceVersion };
  if (v.owner === '') return { action: 'keep', why: `it has no owner annotation (${OWNER_ANNOTATION}): not known to be this installation's` };
  return { action: 'keep', why: `its owner annotation names Lease ${v.owner.slice(0, 120)}, another installation (this one is ${ownerKey})` };
}
