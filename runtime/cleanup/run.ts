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
  installationLeases,
  installationPrefixes,
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
  // With --shards: the Lease and every shard Lease, each leader's ENIs, and each shard's prefixes.
  const leases = installationLeases(config.leaderElectionID, config.shards);
  const refs = leases.map((name) => ({ namespace, name }));
  const ownerKeys = leases.map((name) => leaseKey(namespace, name));
  const ownerKey = ownerKeys[0] as string;
  const podCidrs = installationPrefixes(config.podCIDRs, config.shards);
  const vtep = new VtepConfigClient({ clients });
  out(`cleanup of the installation whose Lease is ${ownerKey}${leases.length > 1 ? ` (and its shard Leases ${leases.slice(1).join(', ')})` : ''}: route tables ${config.routeTableIDs.join(', ')}; pod CIDRs ${podCidrs.join(', ')}`);

  const previous: Array<LeaseView | undefined> = [];
  const held = !dryRun;
  const releaseAll = async (): Promise<boolean> => (await Promise.all(refs.slice(0, previous.length).map((ref) => releaseSeized({ clients, ...ref, identity }).catch(() => false)))).every(Boolean);
  try {
    for (const [i, ref] of refs.entries()) {
      previous.push(dryRun ? await readLease(clients, ref) : (await seizeLease({ clients, ...ref, identity, holdMs: config.holdLeaseMs })).previous);
      out(leaseLine(ownerKeys[i] as string, identity, config.holdLeaseMs, previous[i], dryRun));
    }
  } catch (err) {
    if (held) await releaseAll();
    throw err;
  }
  try {
    const result = await afterLease();
    if (held && !result.ok) {
      out('something failed: giving the Lease back, so the gateways resume (and restore what was deleted); run cleanup again once fixed');
      const released = await releaseAll();
      return { ...result, released };
    }
    return result;
  } catch (err) {
    if (held) {
      out(`cleanup failed (${err instanceof Error ? err.message : String(err)}): giving the Lease back, so the gateways resume`);
      await releaseAll();
    }
    throw err;
  }

  async function afterLease(): Promise<CleanupResult> {
    const ourEnis = [...new Set(previous.flatMap((p) => parseEniList(p?.annotations[GATEWAY_ENIS_ANNOTATION])))];
    out(enisLine(ourEnis));
    const now = deps.now ?? Date.now;
    // Each Lease's last leader may have a write on the wire: wait for the latest of them.
    const waits = previous.map((p) =>
      settleWaitMs(
        p === undefined ? undefined : { holder: p.record.holderIdentity, renewedAtMs: epochMs(p.record.renewTime ?? p.record.acquireTime), durationMs: p.record.leaseDurationMs },
        now(),
        config.lateWriteWindowMs,
        DEFAULT_LEASE_TIMINGS.leaseDurationMs,
      ),
    );
    const waitedMs = dryRun ? 0 : Math.max(0, ...waits);
    if (waitedMs > 0) {
      out(`waiting ${(waitedMs / 1000).toFixed(1)}s: the last leader's lease duration, and for a route write it sent before stepping down to land`);
      await (deps.sleep ?? sleepMs)(waitedMs);
    }

    const [described, current] = await Promise.all([describeRouteTables(ec2, config.routeTableIDs, deps.retry ? { retry: deps.retry } : {}), vtep.get()]);
    const vtepSeen: VtepConfigSeen = current === undefined ? { present: false } : { present: true, owner: ownerOf(current), resourceVersion: current.metadata?.resourceVersion };
    const plan = planCleanup({ routeTableIds: config.routeTableIDs, podCidrs, tables: tableFacts(described), ourEnis, ownerKey, otherOwnerKeys: ownerKeys.slice(1), vtepConfig: vtepSeen });

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
