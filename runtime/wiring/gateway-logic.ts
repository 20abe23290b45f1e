// The gateway statechart as production runs it: every named actor, action and
// delay of machines/gateway.machine.ts given its implementation, over the
// adapters in `adapters` (ports.ts). startGateway builds the adapters and calls
// this; the model-based tests call it with doubles of the same adapters, so
// what they replay is the machine that ships.
import { gatewayMachine } from '../../machines/gateway.machine.js';
import { fixedDelays, renewalTimes, TIMINGS } from '../../machines/timings.js';
import { backoffDelay, type ObjectRef } from '../../effects/kube/index.js';
import type { GatewayConfig } from '../config/parse.js';
import type { Logger } from '../logging.js';
import type { GatewayMetrics } from '../metrics.js';
import type { FailoverTrace } from '../tracing.js';
import { announcements } from './announce.js';
import { fleetLogic } from './data-plane.js';
import type { HostFacts } from './host.js';
import { initActors } from './init.js';
import { leaderActors } from './leader.js';
import { leaseActors, retryDelay } from './lease.js';
import type { GatewayAdapters } from './ports.js';

export interface GatewayLogicWiring {
  readonly config: GatewayConfig;
  /** This pod's identity in the Lease. */
  readonly identity: string;
  /** This pod, for its Events. */
  readonly self: ObjectRef;
  /** `namespace/name` of this installation's Lease: the CiliumVTEPConfig's owner annotation. */
  readonly ownerKey: string;
  readonly host: HostFacts;
  readonly adapters: GatewayAdapters;
  readonly failover: FailoverTrace;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly onFailed?: (reason: string) => void;
}

export function provideGatewayMachine(w: GatewayLogicWiring) {
  const { config, identity, self, ownerKey, host, failover, metrics, log } = w;
  const { dp, lock, vtepConfig, clients, events, cloud, clock, random } = w.adapters;
  return gatewayMachine.provide({
    actors: {
      fleet: fleetLogic({ dp, host, metrics, log, random }),
      ...initActors({ config, dp, cloud, clock, host, log }),
      ...leaseActors({ lock, identity, failover, log }),
      ...leaderActors({ config, host, clients, lock, vtepConfig, ownerKey, failover, metrics, log }),
    },
    actions: announcements({ config, identity, self, lock, ownerKey, vtepConfigName: vtepConfig.name, events, failover, metrics, log, onFailed: w.onFailed }),
    delays: gatewayDelays({ config, clock, random }),
  });
}

export type GatewayLogic = ReturnType<typeof provideGatewayMachine>;

/**
 * The delays of the gateway machine as production resolves them, for the configured lease timings
 * over `clock` (the machine's own are the plain values its diagrams show).
 */
export function gatewayDelays({ config, clock, random }: { config: GatewayConfig; clock: Pick<GatewayAdapters['clock'], 'now'>; random: () => number }) {
  const lease = { leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs };
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
    initRetryDelay: ({ context }) => backoffDelay(context.initAttempts, TIMINGS.initRetryBaseMs, TIMINGS.initRetryMaxMs, random),
    routeTablesRetryDelay: ({ context }) => backoffDelay(context.routeAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs, random),
    vtepConfigRetryDelay: ({ context }) => backoffDelay(context.vtepAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs, random),
  } satisfies Parameters<typeof gatewayMachine.provide>[0]['delays'];
}
