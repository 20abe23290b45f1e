// A shard leader's work as effects: the ownership check, the route tables, the
// CiliumVTEPConfig, the watch that asks for a re-assert, and the settling of
// writes in flight when the leader steps down. What to do when is the
// statechart's; every write here is fenced by its AbortSignal and its shard's lock.
import { fromPromise } from 'xstate';
import { ownershipVerdict, parseLeaseKey } from '../../machines/domain/ownership.js';
import type { OwnershipOutcome, RouteTablesInput, ShardEvent, ShardRef, VtepConfigInput } from '../../machines/gateway.machine.js';
import { WritesOnWire, ensureRoutes, routesFailure } from '../../effects/aws/index.js';
import { conflictsWithinEndpoints, KubeApplyConflictError, ownerOf, readOtherLease, vtepEndpointsPresent, vtepSpecEquals, vtepWatchActor, type KubeClients, type VtepEndpoint } from '../../effects/kube/index.js';
import type { GatewayConfig } from '../config/parse.js';
import type { Logger } from '../logging.js';
import type { GatewayMetrics } from '../metrics.js';
import type { FailoverTrace } from '../tracing.js';
import type { HostFacts } from './host.js';
import { ofShard } from './lease.js';
import type { LeaseLockPort, VtepConfigPort } from './ports.js';
import type { ShardWork } from './shards.js';

export interface LeaderWiring {
  readonly config: GatewayConfig;
  readonly host: HostFacts;
  readonly clients: KubeClients;
  /** Shard k's lock, work and failover trace at index k. */
  readonly locks: readonly LeaseLockPort[];
  readonly work: readonly ShardWork[];
  readonly failovers: readonly FailoverTrace[];
  readonly vtepConfig: VtepConfigPort;
  /** `namespace/name` of this installation's Lease: the CiliumVTEPConfig's owner annotation. */
  readonly ownerKey: string;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
}

export function leaderActors({ config, host, clients, locks, work, failovers, vtepConfig, ownerKey, metrics, log }: LeaderWiring) {
  const endpoints = (shard: number) => ofShard(work, shard).endpoints(host.device?.mac ?? '');
  const sharded = work.length > 1;
  // Leader writes in flight, per shard: stepping down waits (bounded) for them to settle. An EC2
  // route write has no precondition, so one abandoned in flight could land after the release, over
  // a successor's: each request sent stays here until EC2 answered it (ensureRoutes' onWire). The
  // CiliumVTEPConfig write is a PUT on a resourceVersion, which a successor's write makes stale (409).
  const inFlight = work.map(() => new WritesOnWire());
  const tracked = <T>(shard: number, p: Promise<T>): Promise<T> => {
    ofShard(inFlight, shard).add(p);
    return p;
  };
  // A shard's apply; a conflict confined to its own endpoints (a hand edit) is told apart, with code
  // ENDPOINTS_EDITED, so the statechart takes them back (reclaiming) rather than backing off forever.
  const applyShard = async (fieldManager: string, wanted: VtepEndpoint[], fence: AbortSignal, owner: { key: string; replaceable: string | undefined }, reclaim: boolean) => {
    try {
      return await vtepConfig.applyEndpoints(fieldManager, wanted, fence, owner, { force: reclaim });
    } catch (err) {
      if (err instanceof KubeApplyConflictError && conflictsWithinEndpoints(err.conflicts, wanted)) {
        log.warn({ conflicts: err.conflicts }, 'this shard’s CiliumVTEPConfig endpoints were edited by hand: taking them back');
        throw Object.assign(new Error(`CiliumVTEPConfig endpoints edited by ${[...new Set(err.conflicts.map((c) => c.manager))].join(', ')}`, { cause: err }), { code: 'ENDPOINTS_EDITED' });
      }
      throw err;
    }
  };
  return {
    // The first notice is the object as the previous leader left it: the leader work starting
    // with this state writes it anyway, so only later edits, deletes and owner changes ask for a re-assert.
    watchLeaderObjects: vtepWatchActor<ShardEvent, ShardRef>(
      vtepConfig,
      (obj, { shard }) =>
        host.device !== undefined && (sharded ? vtepEndpointsPresent(obj, endpoints(shard)) : vtepSpecEquals(obj, endpoints(shard))) && ownerOf(obj) === ownerKey
          ? undefined
          : { type: 'LEADER.REASSERT', reason: obj === undefined ? 'CiliumVTEPConfig deleted' : 'CiliumVTEPConfig differs or names another owner' },
      { skipInitial: true },
    ),
    checkOwnership: fromPromise<OwnershipOutcome, ShardRef>(({ input, signal }) =>
      ofShard(failovers, input.shard).span('vtepConfig.ownership', {}, async () => {
        const cur = await vtepConfig.get(signal);
        const currentOwner = cur === undefined ? undefined : ownerOf(cur) || undefined;
        const ref = currentOwner === undefined || currentOwner === ownerKey ? undefined : parseLeaseKey(currentOwner);
        const other = ref === undefined ? undefined : await readOtherLease(clients, ref, { signal });
        const verdict = ownershipVerdict(currentOwner, ownerKey, other, Date.now(), config.takeOwnership);
        if (verdict.write && verdict.why !== 'ours' && currentOwner !== undefined) {
          log.warn({ owner: currentOwner, why: verdict.why }, 'CiliumVTEPConfig owned by another Lease: taking it over');
        }
        return { write: verdict.write, why: verdict.why, currentOwner };
      }),
    ),
    programRouteTables: fromPromise<void, RouteTablesInput>(({ input, signal }) => {
      const c = host.cloud;
      if (!c) return Promise.reject(new Error('instance identity is not known yet'));
      const { shard, strategy } = input;
      const lock = ofShard(locks, shard);
      const failover = ofShard(failovers, shard);
      return tracked(
        shard,
        // One pass over every table: one DescribeRouteTables (describe-first), one write limiter, a span per table.
        failover.span('routeTables.repoint', { 'aws.strategy': strategy, 'aws.eni': c.id.networkInterfaceId }, async () => {
          const r = await ensureRoutes({
            ec2: c.ec2,
            routeTableIds: config.routeTableIDs,
            cidrs: ofShard(work, shard).podCIDRs,
            networkInterfaceId: c.id.networkInterfaceId,
            strategy,
            signal,
            writeGuard: () => lock.isHeld(),
            onWire: ofShard(inFlight, shard),
            checkSourceDestCheck: false,
            onRouteUpdate: (u) => {
              if (u.action === 'unchanged' && !u.error) return;
              if (u.error) metrics.routeTableUpdateErrors.inc();
              else metrics.routeTableUpdate.inc();
              metrics.routeTableUpdateDuration.observe(u.durationMs / 1000);
            },
            traceTable: (table, run) => failover.span(`routeTable ${table}`, { 'aws.route_table_id': table }, run),
          });
          const failed = routesFailure(r);
          if (failed) throw failed;
        }),
      );
    }),
    writeVtepConfig: fromPromise<void, VtepConfigInput>(({ signal, input }) =>
      tracked(
        input.shard,
        ofShard(failovers, input.shard).span('vtepConfig.write', { 'cilium.vtep.endpoints': endpoints(input.shard).length }, async () => {
          // Fenced twice: by leaving the leader state, and by the lease lapsing locally.
          const fence = AbortSignal.any([signal, ofShard(locks, input.shard).heldSignal()]);
          const owner = { key: ownerKey, replaceable: input.replaceableOwner };
          // One shard writes the whole list (PUT); with more, each shard applies its own endpoints.
          const { fieldManager } = ofShard(work, input.shard);
          const wanted = endpoints(input.shard);
          const r = fieldManager === undefined ? await vtepConfig.upsert(wanted, fence, owner) : await applyShard(fieldManager, wanted, fence, owner, input.reclaim);
          if (r.action !== 'unchanged') log.info({ action: r.action }, 'CiliumVTEPConfig written');
        }),
      ),
    ),
    settleWrites: fromPromise<void, ShardRef>(async ({ input }) => {
      await ofShard(inFlight, input.shard).settled();
    }),
  };
}
