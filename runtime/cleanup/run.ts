// The `cleanup` subcommand's work, as thin effects around the pure planner
// (machines/domain/cleanup.ts):
//
//   1. take the installation's Lease (effects/kube/lease-seize.ts), so the
//      leader steps down and no gateway re-creates what is deleted; the ENIs
//      its leaders recorded on it say which routes are the installation's;
//   2. wait until the last leader's writes can have landed;
//   3. read the route tables and the CiliumVTEPConfig, plan, print the plan;
//   4. delete what the plan says (DeleteRoute; the CiliumVTEPConfig with a
//      resourceVersion precondition), print each outcome.
//
// When anything fails the Lease is given back, so the gateways resume (and
// put back whatever was deleted): a failed uninstall leaves a working gateway.
// --dry-run reads only. Running it again finds nothing left to do.
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  GATEWAY_ENIS_ANNOTATION,
  parseEniList,
  planCleanup,
  settleWaitMs,
  type RouteSeen,
  type TableUnread,
  type VtepConfigSeen,
} from '../../machines/domain/cleanup.js';
import { leaseKey } from '../../machines/domain/ownership.js';
import { DEFAULT_LEASE_TIMINGS } from '../../machines/timings.js';
import { EffectError } from '../../effects/errors.js';
import { deleteRoutes, describeRouteTables, type DeleteResult, type RetryPolicy, type RouteKey } from '../../effects/aws/index.js';
import { ownerOf, readLease, releaseSeized, seizeLease, VtepConfigClient, type KubeClients, type LeaseView } from '../../effects/kube/index.js';
import type { CleanupConfig } from '../config/cleanup.js';
import { enisLine, leaseLine, routeLine, summaryLine, unreadLine, vtepLine, type VtepOutcome } from './report.js';

export interface CleanupDeps {
  readonly clients: KubeClients;
  readonly ec2: EC2Client;
  /** The Lease's namespace (resolved: flag, env, the pod's own, "default"). */
  readonly namespace: string;
  /** Who holds the Lease while cleanup runs (cleanup/<pod>). */
  readonly identity: string;
  readonly out: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly retry?: RetryPolicy;
}

export interface CleanupResult {
  readonly ok: boolean;
  readonly deleted: readonly RouteKey[];
  readonly left: number;
  readonly failed: number;
  readonly vtepConfig: 'deleted' | 'would-delete' | 'absent' | 'left' | 'failed';
  /** The Lease was given back because something failed. */
  readonly released: boolean;
  readonly waitedMs: number;
}

function tableFacts(described: Awaited<ReturnType<typeof describeRouteTables>>): Map<string, ReadonlyMap<string, RouteSeen> | TableUnread> {
  const out = new Map<string, ReadonlyMap<string, RouteSeen> | TableUnread>();
  for (const [id, v] of described) out.set(id, v instanceof EffectError ? { error: v.message, gone: v.code === 'InvalidRouteTableID.NotFound' } : v);
  return out;
}

export async function runCleanup(config: CleanupConfig, deps: CleanupDeps): Promise<CleanupResult> {
  const { clients, ec2, namespace, identity, out } = deps;
  const dryRun = config.dryRun;
  const ref = { namespace, name: config.leaderElectionID };
  const ownerKey = leaseKey(namespace, config.leaderElectionID);
  const vtep = new VtepConfigClient({ clients });
  out(`cleanup of the installation whose Lease is ${ownerKey}: route tables ${config.routeTableIDs.join(', ')}; pod CIDRs ${config.podCIDRs.join(', ')}`);

  const previous: LeaseView | undefined = dryRun ? await readLease(clients, ref) : (await seizeLease({ clients, ...ref, identity, holdMs: config.holdLeaseMs })).previous;
  out(leaseLine(ownerKey, identity, config.holdLeaseMs, previous, dryRun));
  const held = !dryRun;
  try {
    const result = await afterLease();
    if (held && !result.ok) {
      out('something failed: giving the Lease back, so the gateways resume (and restore what was deleted); run cleanup again once fixed');
      const released = await releaseSeized({ clients, ...ref, identity }).catch(() => false);
      return { ...result, released };
    }
    return result;
  } catch (err) {
    if (held) {
      out(`cleanup failed (${err instanceof Error ? err.message : String(err)}): giving the Lease back, so the gateways resume`);
      await releaseSeized({ clients, ...ref, identity }).catch(() => false);
    }
    throw err;
  }

  async function afterLease(): Promise<CleanupResult> {
    const ourEnis = parseEniList(previous?.annotations[GATEWAY_ENIS_ANNOTATION]);
    out(enisLine(ourEnis));
    const now = deps.now ?? Date.now;
    const before = previous === undefined ? undefined : { holder: previous.record.holderIdentity, renewedAtMs: epochMs(previous.record.renewTime ?? previous.record.acquireTime), durationMs: previous.record.leaseDurationMs };
    const waitedMs = dryRun ? 0 : settleWaitMs(before, now(), config.lateWriteWindowMs, DEFAULT_LEASE_TIMINGS.leaseDurationMs);
    if (waitedMs > 0) {
      out(`waiting ${(waitedMs / 1000).toFixed(1)}s: the last leader's lease duration, and for a route write it sent before stepping down to land`);
      await (deps.sleep ?? sleepMs)(waitedMs);
    }

    const [described, current] = await Promise.all([describeRouteTables(ec2, config.routeTableIDs, deps.retry ? { retry: deps.retry } : {}), vtep.get()]);
    const vtepSeen: VtepConfigSeen = current === undefined ? { present: false } : { present: true, owner: ownerOf(current), resourceVersion: current.metadata?.resourceVersion };
    const plan = planCleanup({ routeTableIds: config.routeTableIDs, podCidrs: config.podCIDRs, tables: tableFacts(described), ourEnis, ownerKey, vtepConfig: vtepSeen });

    const doomed = plan.routes.filter((r) => r.action === 'delete').map((r) => ({ routeTableId: r.table, cidr: r.cidr }));
    const results: DeleteResult[] = dryRun || doomed.length === 0 ? [] : await deleteRoutes({ ec2, routes: doomed, ...(deps.retry ? { retry: deps.retry } : {}) });
    const resultOf = (table: string, cidr: string): DeleteResult | undefined => results.find((r) => r.routeTableId === table && r.cidr === cidr);
    for (const u of plan.unread) out(unreadLine(u));
    for (const d of plan.routes) out(routeLine(d, d.action === 'delete' ? resultOf(d.table, d.cidr) : undefined, dryRun));

    let outcome: VtepOutcome;
    if (!dryRun && plan.vtepConfig.action === 'delete') {
      try {
        outcome = await vtep.deleteIfUnchanged(plan.vtepConfig.resourceVersion);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        outcome = { error: /conflict|precondition/i.test(msg) ? `it changed after it was read (${msg}); run cleanup again` : msg };
      }
    }
    out(vtepLine(vtep.name, ownerKey, plan.vtepConfig, outcome, dryRun));

    const failed = results.filter((r) => r.status === 'failed').length + plan.unread.filter((u) => !u.gone).length;
    const vtepState: CleanupResult['vtepConfig'] =
      plan.vtepConfig.action === 'absent' ? 'absent' : plan.vtepConfig.action === 'keep' ? 'left' : dryRun ? 'would-delete' : typeof outcome === 'object' ? 'failed' : outcome === 'absent' ? 'absent' : 'deleted';
    const deleted = dryRun ? doomed : results.filter((r) => r.status === 'deleted').map(({ routeTableId, cidr }) => ({ routeTableId, cidr }));
    const left = plan.routes.filter((r) => r.action === 'keep').length;
    out(summaryLine({ deleted: deleted.length, left, failed, vtep: vtepState, dryRun }));
    return { ok: failed === 0 && vtepState !== 'failed', deleted, left, failed, vtepConfig: vtepState, released: false, waitedMs };
  }
}

function epochMs(t: string | undefined): number | undefined {
  const ms = t === undefined ? NaN : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}
