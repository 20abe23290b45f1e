// What the statecharts' observability hooks do: metrics, log lines and
// Kubernetes Events. No decisions: the statecharts call them where they decide.
// The one hook that acts is `fence`, named in the shard chart: the shard's lock
// stops holding, so every write path refuses and every held signal aborts.
import type { GatewayContext, ShardContext } from '../../machines/gateway.machine.js';
import { EVENT_REASONS, type ObjectRef } from '../../effects/kube/index.js';
import type { GatewayConfig } from '../config/parse.js';
import type { Logger } from '../logging.js';
import type { GatewayMetrics } from '../metrics.js';
import type { FailoverTrace } from '../tracing.js';
import { ofShard } from './lease.js';
import type { EventsPort, LeaseLockPort } from './ports.js';

export interface AnnounceWiring {
  readonly config: GatewayConfig;
  readonly identity: string;
  readonly self: ObjectRef;
  /** Shard k's lock and failover trace at index k. */
  readonly locks: readonly LeaseLockPort[];
  readonly failovers: readonly FailoverTrace[];
  readonly ownerKey: string;
  readonly vtepConfigName: string;
  readonly events: EventsPort;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly onFailed?: (reason: string) => void;
}

type Hook<C> = (args: { context: C }) => void;

/** The root's hooks: start-up retries, failure, stop. */
export function gatewayAnnouncements(w: Pick<AnnounceWiring, 'log' | 'onFailed'>): Record<string, Hook<GatewayContext>> {
  const { log } = w;
  return {
    announceInitRetry: ({ context }) => log.warn({ attempt: context.initAttempts, error: context.lastError }, 'start-up step failed; retrying'),
    announceStopped: () => log.info('gateway stopped'),
    announceFailed: ({ context }) => {
      const reason = context.lastError ?? 'start-up failed';
      log.fatal({ error: reason }, 'the configuration does not fit this host; not retrying');
      w.onFailed?.(reason);
    },
  };
}

/** A shard's hooks. With one shard, the log lines and Events read as they always have. */
export function shardAnnouncements(w: AnnounceWiring): Record<string, Hook<ShardContext>> {
  const { config, identity, self, ownerKey, events, metrics, log } = w;
  const sharded = w.locks.length > 1;
  const what = (shard: number): string => (sharded ? ` shard ${shard}` : '');
  const fields = (shard: number): Record<string, unknown> => (sharded ? { shard } : {});
  // When each shard's term started (for leader_setup_duration_seconds), and which shards this gateway leads.
  const leaderSince = new Map<number, number>();
  const leading = new Set<number>();
  const conflicted = new Set<number>();
  return {
    fence: ({ context }) => ofShard(w.locks, context.shard).fence(),
    announceLeader: ({ context }) => {
      leaderSince.set(context.shard, Date.now());
      leading.add(context.shard);
      metrics.leaderIsActive.set(1);
      metrics.shardLeader.set({ shard: String(context.shard) }, 1);
      log.info({ identity, ...fields(context.shard) }, `became leader${what(context.shard)}`);
      void events.record(self, 'Normal', EVENT_REASONS.leaderElected, `${identity} on ${config.nodeIP} leads${what(context.shard)}; repointing routes and CiliumVTEPConfig`);
    },
    announceLeaderReady: ({ context }) => {
      const since = leaderSince.get(context.shard);
      if (since !== undefined) metrics.leaderSetupDuration.observe((Date.now() - since) / 1000);
      leaderSince.delete(context.shard);
      const ms = ofShard(w.failovers, context.shard).leaderReady();
      if (ms !== undefined) {
        metrics.failoverDuration.observe(ms / 1000);
        log.info({ failoverMs: ms, ...fields(context.shard) }, 'leader ready: route tables and CiliumVTEPConfig point here');
      }
    },
    announceNotLeader: ({ context }) => {
      leaderSince.delete(context.shard);
      leading.delete(context.shard);
      conflicted.delete(context.shard);
      metrics.leaderIsActive.set(leading.size > 0 ? 1 : 0);
      metrics.shardLeader.set({ shard: String(context.shard) }, 0);
      metrics.vtepConfigOwnerConflict.set(conflicted.size > 0 ? 1 : 0);
      ofShard(w.failovers, context.shard).end(context.stepDownCause ?? 'left leader');
      log.warn({ cause: context.stepDownCause, lastError: context.lastError, ...fields(context.shard) }, `no longer leader${what(context.shard)}; leader writes stopped`);
      void events.record(self, 'Normal', EVENT_REASONS.leadershipLost, `${identity} stopped leading${what(context.shard)} (${context.stepDownCause ?? 'unknown'})`);
    },
    announceStandby: () => {},
    announceStopped: () => {},
    announceWorkRetry: ({ context }) =>
      log.warn({ routeAttempts: context.routeAttempts, vtepConfigAttempts: context.vtepAttempts, error: context.lastError, ...fields(context.shard) }, 'leader work failed; retrying'),
    announceOwnershipConflict: ({ context }) => {
      conflicted.add(context.shard);
      metrics.vtepConfigOwnerConflict.set(1);
      const why = context.lastError ?? 'owned by another installation';
      log.error({ why, ownerLease: ownerKey, ...fields(context.shard) }, 'CiliumVTEPConfig belongs to another installation: no route or CiliumVTEPConfig writes (uninstall one, or set --take-ownership)');
      void events.record(self, 'Warning', EVENT_REASONS.ownershipConflict, `${identity} leads Lease ${ownerKey} but writes nothing shared: CiliumVTEPConfig ${w.vtepConfigName} ${why}`);
    },
    announceOwnershipResolved: ({ context }) => {
      conflicted.delete(context.shard);
      metrics.vtepConfigOwnerConflict.set(conflicted.size > 0 ? 1 : 0);
    },
  };
}
