// The data plane's statecharts given their netlink effects: the vtep machine
// (one hybrid node) and the fleet (all of them). The gateway statechart invokes
// the fleet; this module only says how each named actor and hook is done.
import { enqueueActions } from 'xstate';
import { fleetMachine } from '../../machines/fleet.machine.js';
import { TIMINGS } from '../../machines/timings.js';
import { vtepMachine } from '../../machines/vtep.machine.js';
import { backoffDelay } from '../../effects/kube/index.js';
import { nodesTouched, programVtepActor, reconcileKernelActor, removeVtepActor } from '../../effects/netlink/index.js';
import type { Logger } from '../logging.js';
import type { GatewayMetrics } from '../metrics.js';
import type { HostFacts } from './host.js';
import type { DataPlanePort } from './ports.js';

export interface DataPlaneWiring {
  readonly dp: DataPlanePort;
  readonly host: HostFacts;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** The backoffs' jitter, in [0, 1) (default Math.random). */
  readonly random?: () => number;
}

export function fleetLogic({ dp, host, metrics, log, random = Math.random }: DataPlaneWiring) {
  const getDevice = () => host.device;
  const vtep = vtepMachine.provide({
    actors: { programVtep: programVtepActor(dp, getDevice), removeVtep: removeVtepActor(dp, getDevice) },
    actions: {
      announceProgrammed: ({ context }) => {
        metrics.vtepAdd.inc();
        log.debug({ node: context.desired.name, nodeIP: context.desired.nodeIP, podCIDRs: context.desired.podCIDRs }, 'vtep programmed');
      },
      announceProgramFailed: ({ context }) => {
        metrics.vtepAddErrors.inc();
        log.warn({ node: context.desired.name, attempt: context.attempts, error: context.lastError }, 'vtep programming failed');
      },
      announceRemoved: ({ context }) => {
        metrics.vtepRemove.inc();
        log.debug({ node: context.desired.name }, 'vtep removed');
      },
      announceRemoveFailed: ({ context }) => {
        metrics.vtepRemoveErrors.inc();
        log.warn({ node: context.desired.name, attempt: context.attempts, error: context.lastError }, 'vtep removal failed');
      },
      announceStalled: ({ context }) => {
        // The fleet lists the node as refused (log line, Event, gauge: runtime/gateway.ts).
        log.error({ node: context.desired.name, error: context.lastError }, 'vtep programming gave up; the next sweep retries');
      },
    },
    delays: { vtepRetryDelay: ({ context }) => backoffDelay(context.attempts, 200, 30_000, random) },
  });
  return fleetMachine.provide({
    actors: {
      vtep,
      reconcileKernel: reconcileKernelActor(dp, getDevice, (r) => {
        const n = nodesTouched(r);
        metrics.vtepAdd.inc(n.programmed);
        metrics.vtepRemove.inc(n.removed);
        if (r.added.length + r.removed.length + r.fixed.length + r.failed.length > 0) {
          log.info({ added: r.added.length, removed: r.removed.length, fixed: r.fixed.length, failed: r.failed.length, unchanged: r.unchanged }, 'data plane reconciled');
        }
      }),
    },
    actions: {
      // The gateway statechart hears of it: an unconverged gateway does not compete for the lease.
      announceConverged: enqueueActions(({ context, enqueue }) => {
        enqueue.sendParent({ type: 'DATAPLANE.CONVERGED' });
        enqueue(() => {
          host.converged = true;
          if (context.refused.length > 0) log.warn({ nodes: context.refused }, 'the kernel refused the entries of some nodes; they are retried one by one');
        });
      }),
      announceConvergeFailed: ({ context }) => log.warn({ failures: context.convergeFailures }, 'bulk reconcile failed; retrying'),
    },
    delays: {
      resyncPeriod: TIMINGS.resyncMs,
      convergeRetryDelay: ({ context }) => backoffDelay(context.convergeFailures, 500, 30_000, random),
    },
  });
}
