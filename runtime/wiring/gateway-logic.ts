// The gateway statechart as production runs it: every named actor, action and
// delay of machines/gateway.machine.ts given its implementation, over the
// adapters in `adapters` (ports.ts). startGateway builds the adapters and calls
// this; the model-based tests call it with doubles of the same adapters, so
// what they replay is the machine that ships.
import { gatewayMachine } from '../../machines/gateway.machine.js';
import { fixedDelays, TIMINGS } from '../../machines/timings.js';
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
  const lease = { leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs };
  return gatewayMachine.provide({
    actors: {
      fleet: fleetLogic({ dp, host, metrics, log, random }),
      ...initActors({ config, dp, cloud, clock, host, log }),
      ...leaseActors({ lock, identity, failover, log }),
      ...leaderActors({ config, host, clients, lock, vtepConfig, ownerKey, failover, metrics, log }),
    },
    actions: announcements({ config, identity, self, lock, ownerKey, vtepConfigName: vtepConfig.name, events, failover, metrics, log, onFailed: w.onFailed }),
    delays: {
      ...fixedDelays(lease),
      // The standby tries right after the holder's expiry when that comes sooner than the retry period.
      standbyRetryPeriod: ({ context }) => retryDelay(config.retryPeriodMs, context.leaseExpiresAt, clock.now()),
      // Counted from when the last successful renewal was sent (monotonic clock), as client-go does.
      renewDeadline: ({ context }) =>
        context.lastRenewAt === undefined ? config.renewDeadlineMs : Math.max(0, context.lastRenewAt + config.renewDeadlineMs - clock.now()),
      // Jittered backoff (the chart shows the plain one).
      initRetryDelay: ({ context }) => backoffDelay(context.initAttempts, TIMINGS.initRetryBaseMs, TIMINGS.initRetryMaxMs, random),
      routeTablesRetryDelay: ({ context }) => backoffDelay(context.routeAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs, random),
      vtepConfigRetryDelay: ({ context }) => backoffDelay(context.vtepAttempts, TIMINGS.leaderWorkRetryBaseMs, TIMINGS.leaderWorkRetryMaxMs, random),
    },
  });
}

export type GatewayLogic = ReturnType<typeof provideGatewayMachine>;
