// The gateway statecharts as production runs them: every named actor, action
// and delay of machines/gateway.machine.ts (the root) and machines/shard.machine.ts
// (one child per shard) given its implementation, over the adapters in
// `adapters` (ports.ts). startGateway builds the adapters and calls this; the
// model-based tests call it with doubles of the same adapters, so what they
// replay is the machine that ships.
import { gatewayMachine, shardMachine } from '../../machines/gateway.machine.js';
import { fixedDelays, gatewayFixedDelays, renewalTimes, takeoverGraceMs, TIMINGS } from '../../machines/timings.js';
import { backoffDelay, type ObjectRef } from '../../effects/kube/index.js';
import type { GatewayConfig } from '../config/parse.js';
import type { Logger } from '../logging.js';
import type { GatewayMetrics } from '../metrics.js';
import type { FailoverTrace } from '../tracing.js';
import { gatewayAnnouncements, shardAnnouncements } from './announce.js';
import { fleetLogic } from './data-plane.js';
import type { HostFacts } from './host.js';
import { initActors } from './init.js';
import { leaderActors } from './leader.js';
import { leaseActors, retryDelay } from './lease.js';
import { membershipActors } from './membership.js';
import type { GatewayAdapters } from './ports.js';
import type { ShardWork } from './shards.js';

export interface GatewayLogicWiring {
  readonly config: GatewayConfig;
  /** This pod's identity in the Leases. */
  readonly identity: string;
  /** The Leases' namespace. */
  readonly namespace: string;
  /** This pod, for its Events. */
  readonly self: ObjectRef;
  /** `namespace/name` of this installation's Lease: the CiliumVTEPConfig's owner annotation. */
  readonly ownerKey: string;
  readonly host: HostFacts;
  readonly adapters: GatewayAdapters;
  /** What each shard works on (index = shard; one entry with --shards 1). */
  readonly work: readonly ShardWork[];
  /** Each shard's failover trace (index = shard). */
  readonly failovers: readonly FailoverTrace[];
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly onFailed?: (reason: string) => void;
}

export function provideGatewayMachine(w: GatewayLogicWiring) {
  const { config, identity, self, ownerKey, host, work, failovers, metrics, log } = w;
  const { dp, locks, member, vtepConfig, clients, events, cloud, clock, random } = w.adapters;
  if (locks.length !== work.length || failovers.length !== work.length) throw new Error('one Lease lock, one failover trace and one work item per shard');
  const shard = shardMachine.provide({
    actors: {
      ...leaseActors({ locks, identity, failovers, takeoverGraceMs: takeoverGraceMs(leaseTimings(config)), log }),
      ...leaderActors({ config, host, clients, locks, work, failovers, vtepConfig, ownerKey, metrics, log }),
    },
    actions: shardAnnouncements({ config, identity, self, locks, failovers, ownerKey, vtepConfigName: vtepConfig.name, events, metrics, log, onFailed: w.onFailed }),
    delays: shardDelays({ config, clock, random }),
  });
  return gatewayMachine.provide({
    actors: {
      fleet: fleetLogic({ dp, host, metrics, log, random }),
      shard,
      ...initActors({ config, dp, cloud, clock, host, log }),
      ...membershipActors({
        member,
        clients,
        ref: { namespace: w.namespace, leaderElectionID: config.leaderElectionID },
        identity,
        locks,
        leaseDurationMs: config.leaseDurationMs,
        retryPeriodMs: config.retryPeriodMs,
        now: () => clock.now(),
        log,
      }),
    },
    actions: gatewayAnnouncements({ log, onFailed: w.onFailed }),
    delays: gatewayDelays({ random }),
  });
}

export type GatewayLogic = ReturnType<typeof provideGatewayMachine>;

function leaseTimings(config: GatewayConfig) {
  return { leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs };
}

/** The root machine's delays as production resolves them (the machine's own are the plain values its diagrams show). */
export function gatewayDelays({ random }: { random: () => number }) {
  return {
    ...gatewayFixedDelays(),
    // Jittered backoff (the chart shows the plain one).
    initRetryDelay: ({ context }) => backoffDelay(context.initAttempts, TIMINGS.initRetryBaseMs, TIMINGS.initRetryMaxMs, random),
  } satisfies Parameters<typeof gatewayMachine.provide>[0]['delays'];
}

/**
 * A shard machine's delays as production resolves them, for the configured lease timings over
 * `clock` (the machine's own are the plain values its diagrams show).
 */
export function shardDelays({ config, clock, random }: { config: GatewayConfig; clock: Pick<GatewayAdapters['clock'], 'now'>; random: () => number }) {
  const lease = leaseTimings(config);
  return {
    ...fixedDelays(lease),
    // The standby tries right after the holder's expiry when that comes sooner than the retry period.
    standbyRetryPeriod: ({ context }) => retryDelay(config.retryPeriodMs, context.leaseExpiresAt, clock.now()),
    // A renewal round starts a retry period after the last successful renewal was sent (not after
    // it came back), so a slow round trip does not eat into the next round's budget…
    renewInterval: ({ context }) => renewalTimes(lease, context.lastRenewAt, clock.now()).startInMs,
    // …which is the whole renew deadline, but never past the lease as this pod holds it (the lock's
    // fence turns at that instant too).
    renewDeadline: ({ context }) => renewalTimes(lease, context.lastRenewAt, clock.now()).deadlineInMs,
    // Jittered backoff (the chart shows the plain one).
    routeTablesRetryDelay: ({ context }) => backoffDelay(context.routeAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs, random),
    vtepConfigRetryDelay: ({ context }) => backoffDelay(context.vtepAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs, random),
  } satisfies Parameters<typeof shardMachine.provide>[0]['delays'];
}
