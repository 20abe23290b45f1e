// What the gateway statechart's observability hooks do: metrics, log lines and
// Kubernetes Events. No decisions: the statechart calls them where it decides.
// The one hook that acts is `fence`, named in the chart: the lock stops holding,
// so every write path refuses and every held signal aborts.
import type { GatewayContext } from '../../machines/gateway.machine.js';
import { EVENT_REASONS, type ObjectRef } from '../../effects/kube/index.js';
import type { GatewayConfig } from '../config/parse.js';
import type { Logger } from '../logging.js';
import type { GatewayMetrics } from '../metrics.js';
import type { FailoverTrace } from '../tracing.js';
import type { EventsPort, LeaseLockPort } from './ports.js';

export interface AnnounceWiring {
  readonly config: GatewayConfig;
  readonly identity: string;
  readonly self: ObjectRef;
  readonly lock: LeaseLockPort;
  readonly ownerKey: string;
  readonly vtepConfigName: string;
  readonly events: EventsPort;
  readonly failover: FailoverTrace;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly onFailed?: (reason: string) => void;
}

type Hook = (args: { context: GatewayContext }) => void;

export function announcements(w: AnnounceWiring): Record<string, Hook> {
  const { config, identity, self, lock, ownerKey, events, failover, metrics, log } = w;
  // When this term started (for leader_setup_duration_seconds).
  let leaderSince: number | undefined;
  return {
    fence: () => lock.fence(),
    announceLeader: () => {
      leaderSince = Date.now();
      metrics.leaderIsActive.set(1);
      log.info({ identity }, 'became leader');
      void events.record(self, 'Normal', EVENT_REASONS.leaderElected, `${identity} on ${config.nodeIP} leads; repointing routes and CiliumVTEPConfig`);
    },
    announceLeaderReady: () => {
      if (leaderSince !== undefined) metrics.leaderSetupDuration.observe((Date.now() - leaderSince) / 1000);
      leaderSince = undefined;
      const ms = failover.leaderReady();
      if (ms !== undefined) {
        metrics.failoverDuration.observe(ms / 1000);
        log.info({ failoverMs: ms }, 'leader ready: route tables and CiliumVTEPConfig point here');
      }
    },
    announceNotLeader: ({ context }) => {
      leaderSince = undefined;
      metrics.leaderIsActive.set(0);
      metrics.vtepConfigOwnerConflict.set(0);
      failover.end(context.stepDownCause ?? 'left leader');
      log.warn({ cause: context.stepDownCause, lastError: context.lastError }, 'no longer leader; leader writes stopped');
      void events.record(self, 'Normal', EVENT_REASONS.leadershipLost, `${identity} stopped leading (${context.stepDownCause ?? 'unknown'})`);
    },
    announceStandby: () => {},
    announceInitRetry: ({ context }) => log.warn({ attempt: context.initAttempts, error: context.lastError }, 'start-up step failed; retrying'),
    announceWorkRetry: ({ context }) =>
      log.warn({ routeAttempts: context.routeAttempts, vtepConfigAttempts: context.vtepAttempts, error: context.lastError }, 'leader work failed; retrying'),
    announceStopped: () => log.info('gateway stopped'),
    announceFailed: ({ context }) => {
      const reason = context.lastError ?? 'start-up failed';
      log.fatal({ error: reason }, 'the configuration does not fit this host; not retrying');
      w.onFailed?.(reason);
    },
    announceOwnershipConflict: ({ context }) => {
      metrics.vtepConfigOwnerConflict.set(1);
      const why = context.lastError ?? 'owned by another installation';
      log.error({ why, ownerLease: ownerKey }, 'CiliumVTEPConfig belongs to another installation: no route or CiliumVTEPConfig writes (uninstall one, or set --take-ownership)');
      void events.record(self, 'Warning', EVENT_REASONS.ownershipConflict, `${identity} leads Lease ${ownerKey} but writes nothing shared: CiliumVTEPConfig ${w.vtepConfigName} ${why}`);
    },
    announceOwnershipResolved: () => metrics.vtepConfigOwnerConflict.set(0),
  };
}
