// The gateway: start-up, the data plane, and one child per shard.
//
//   initialising   device → forwarding → cloudIdentity, each retried on its own
//                  (or `failed` for a configuration the host cannot satisfy)
//   serving        one shard child per shard (shard.machine.ts: its Lease, and
//                  while held its leader writes); the data plane's convergence
//                  and placement are passed on to them. With more than one
//                  shard, a converged gateway is a member (its member Lease,
//                  the placement watch); with one, every gateway may lead it.
//   stopping       SIGTERM: the member Lease is deleted, then every shard steps
//                  down (fence, settle, release); the gateway stops when the
//                  last one has
//
// The root owns the whole actor tree: the fleet (one vtep actor per node that
// needs work), the device watchdog and the shards live as long as the gateway
// does, so the desired set reaches the kernel through this machine.
//
// Pure statechart: every actor, action, guard and delay is referenced by name;
// the runtime provides the implementations (effects/), tests provide doubles.
import { assertEvent, assign, fromCallback, fromPromise, raise, sendTo, setup } from 'xstate';
import { fleetMachine } from './fleet.machine.js';
import { isConfigurationError, type GatewayContext, type GatewayEvent, type GatewayInput } from './gateway.contract.js';
import { shardMachine } from './shard.machine.js';
import { backoffMs, gatewayFixedDelays, TIMINGS } from './timings.js';

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function notProvided<TOutput>(name: string) {
  return fromPromise<TOutput>(() => Promise.reject(new Error(`actor "${name}" is not provided`)));
}

/** The id of shard k's child. */
export function shardId(k: number): string {
  return `shard-${k}`;
}

type ErrorParams = { error: unknown };

const gatewaySetup = setup({
  types: {
    context: {} as GatewayContext,
    events: {} as GatewayEvent,
    // Without input: one shard (today's single election).
    input: {} as GatewayInput | undefined,
  },
  actors: {
    // The data plane: the runtime provides it with its netlink actors.
    fleet: fleetMachine,
    // One shard's life: the runtime provides it with the shard's Lease and leader writes.
    shard: shardMachine,
    // Placeholders that name the job; runtime/ provides the effects, tests provide doubles.
    watchDevice: fromCallback<GatewayEvent>(() => {}),
    ensureDevice: notProvided<void>('ensureDevice'),
    checkForwarding: notProvided<void>('checkForwarding'),
    discoverCloud: notProvided<void>('discoverCloud'),
    // With more than one shard: the member Lease and the placement watch (fromCallback), and leaving.
    holdMembership: fromCallback<GatewayEvent>(() => {}),
    watchPlacement: fromCallback<GatewayEvent>(() => {}),
    leaveMembership: notProvided<void>('leaveMembership'),
  },
  guards: {
    configurationError: (_, params: ErrorParams) => isConfigurationError(params.error),
    /** Every shard has stepped down and stopped. */
    allShardsStopped: ({ context }) => context.shardsStopped >= context.shards,
    oneShard: ({ context }) => context.shards === 1,
    dataPlaneConverged: ({ context }) => context.dataPlaneConverged,
  },
  delays: {
    // Production's defaults (machines/timings.ts).
    ...gatewayFixedDelays(),
    initRetryDelay: ({ context }) => backoffMs(context.initAttempts, TIMINGS.initRetryBaseMs, TIMINGS.initRetryMaxMs),
  },
});

export const gatewayMachine = gatewaySetup
  .extend({
    actions: {
      // Observability hooks (metrics, Events, logs): no decisions, provided by the runtime.
      announceStopped: () => {},
      announceFailed: () => {},
      announceInitRetry: () => {},
      forwardToFleet: sendTo('fleet', ({ event }) => {
        assertEvent(event, ['NODES.SYNCED', 'NODES.CHANGED']);
        return event;
      }),
      tellFleetDeviceReady: sendTo('fleet', { type: 'DATAPLANE.READY' }),
      tellFleetToSweep: sendTo('fleet', { type: 'RESYNC' }),
      scheduleDataPlaneGrace: raise({ type: 'DATAPLANE.GRACE_OVER' }, { id: 'dataPlaneGrace', delay: 'dataPlaneGrace' }),
      noteDataPlaneConverged: assign({ dataPlaneConverged: true }),
      endDataPlaneGrace: assign({ dataPlaneGraceOver: true }),
      recordError: assign((_, params: ErrorParams) => ({ lastError: errorText(params.error) })),
      countInitAttempt: assign({ initAttempts: ({ context }) => context.initAttempts + 1 }),
      resetInitAttempts: assign({ initAttempts: 0 }),
      causeShutdown: assign({ shuttingDown: true }),
      countShardStopped: assign({ shardsStopped: ({ context }) => context.shardsStopped + 1 }),
    /** SIGTERM, passed on: every shard steps down. */
    tellShardsToStop: gatewaySetup.enqueueActions(({ context, enqueue }) => {
      for (let k = 0; k < context.shards; k += 1) enqueue.sendTo(shardId(k), { type: 'SHUTDOWN' });
    }),
      /** One child per shard, told what the root knows of the data plane; with one shard it is always preferred. */
      startShards: gatewaySetup.enqueueActions(({ context, enqueue }) => {
        for (let k = 0; k < context.shards; k += 1) {
          enqueue.spawnChild('shard', {
            id: shardId(k),
            input: { shard: k, dataPlaneConverged: context.dataPlaneConverged, dataPlaneGraceOver: context.dataPlaneGraceOver, preferred: context.shards === 1 },
          });
        }
      }),
      /** The data plane's convergence (or its grace running out): every shard hears it. */
      tellShards: gatewaySetup.enqueueActions(({ context, event, enqueue }) => {
        assertEvent(event, ['DATAPLANE.CONVERGED', 'DATAPLANE.GRACE_OVER']);
        for (let k = 0; k < context.shards; k += 1) enqueue.sendTo(shardId(k), { type: event.type });
      }),
      /** Placement for one shard: to that shard's child. */
      tellShardPlacement: gatewaySetup.enqueueActions(({ event, enqueue }) => {
        assertEvent(event, 'PLACEMENT.CHANGED');
        enqueue.sendTo(shardId(event.shard), { type: 'PLACEMENT.CHANGED', preferred: event.preferred, preferredAliveAt: event.preferredAliveAt });
      }),
    },
  })
  .createMachine({
    id: 'gateway',
    initial: 'initialising',
    context: ({ input }) => ({
      shards: input?.shards ?? 1,
      initAttempts: 0,
      shuttingDown: false,
      dataPlaneConverged: false,
      dataPlaneGraceOver: false,
      shardsStopped: 0,
      lastError: undefined,
    }),
    entry: 'scheduleDataPlaneGrace',
    invoke: [
      { id: 'fleet', src: 'fleet', input: {} },
      // Every 10 s: hybrid_vxlan0 and the policy rules still as configured? (DEVICE.REPAIRED when not)
      { id: 'watchDevice', src: 'watchDevice' },
    ],
    on: {
      'NODES.SYNCED': { actions: 'forwardToFleet' },
      'NODES.CHANGED': { actions: 'forwardToFleet' },
      'DEVICE.REPAIRED': { actions: 'tellFleetToSweep' },
      'DATAPLANE.CONVERGED': { actions: 'noteDataPlaneConverged' },
      'DATAPLANE.GRACE_OVER': { actions: 'endDataPlaneGrace' },
    },
    states: {
      initialising: {
        // Every pod needs these, in this order; a stage's failure retries that stage only.
        initial: 'device',
        on: { SHUTDOWN: { target: 'stopped', actions: 'causeShutdown' } },
        states: {
          device: {
            // hybrid_vxlan0 and the policy rules; the fleet may program once it is there.
            invoke: {
              id: 'ensureDevice',
              src: 'ensureDevice',
              onDone: { target: 'forwarding', actions: ['resetInitAttempts', 'tellFleetDeviceReady'] },
              onError: [
                // The pod would restart into the same refusal: stop and say why instead of retrying forever.
                { guard: { type: 'configurationError', params: ({ event }) => ({ error: event.error }) }, target: '#gateway.failed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                { target: 'deviceRetry', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
              ],
            },
          },
          deviceRetry: {
            entry: ['countInitAttempt', 'announceInitRetry'],
            after: { initRetryDelay: 'device' },
          },
          forwarding: {
            // net.ipv4.ip_forward must be 1.
            invoke: {
              id: 'checkForwarding',
              src: 'checkForwarding',
              onDone: { target: 'cloudIdentity', actions: 'resetInitAttempts' },
              onError: { target: 'forwardingRetry', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
            },
          },
          forwardingRetry: {
            entry: ['countInitAttempt', 'announceInitRetry'],
            after: { initRetryDelay: 'forwarding' },
          },
          cloudIdentity: {
            // Instance, region and the ENI holding NODE_IP, from IMDSv2 and EC2.
            invoke: {
              id: 'discoverCloud',
              src: 'discoverCloud',
              onDone: { target: '#gateway.serving', actions: 'resetInitAttempts' },
              onError: { target: 'cloudIdentityRetry', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
            },
          },
          cloudIdentityRetry: {
            entry: ['countInitAttempt', 'announceInitRetry'],
            after: { initRetryDelay: 'cloudIdentity' },
          },
        },
      },
      serving: {
        // The shards elect, lead and step down on their own; they outlive this state (spawned).
        entry: 'startShards',
        initial: 'placing',
        on: {
          // (Shards started after it learn it from their input.)
          'DATAPLANE.CONVERGED': { actions: ['noteDataPlaneConverged', 'tellShards'] },
          'DATAPLANE.GRACE_OVER': { actions: ['endDataPlaneGrace', 'tellShards'] },
          'PLACEMENT.CHANGED': { actions: 'tellShardPlacement' },
          // With one shard there is no member Lease to leave.
          SHUTDOWN: [
            { guard: 'oneShard', target: 'stopping.handingOver', actions: 'causeShutdown' },
            { target: 'stopping', actions: 'causeShutdown' },
          ],
        },
        states: {
          placing: {
            always: [{ guard: 'oneShard', target: 'solo' }, { guard: 'dataPlaneConverged', target: 'member' }, { target: 'unjoined' }],
          },
          // One shard: every gateway may lead it (today's election); no member Lease, no placement.
          solo: {},
          // More shards: a gateway whose data plane has not converged is preferred for none of them.
          unjoined: {
            on: { 'DATAPLANE.CONVERGED': { target: 'member', actions: ['noteDataPlaneConverged', 'tellShards'] } },
          },
          member: {
            // The member Lease, renewed; the other members watched, and placement passed to the shards.
            invoke: [
              { id: 'holdMembership', src: 'holdMembership' },
              { id: 'watchPlacement', src: 'watchPlacement' },
            ],
          },
        },
      },
      stopping: {
        // The member Lease goes first (the others stop preferring this gateway), then each shard
        // fences, settles its writes and releases its Lease, bounded by its own timeouts.
        initial: 'leaving',
        on: { 'SHARD.STOPPED': { actions: 'countShardStopped' } },
        states: {
          leaving: {
            invoke: { id: 'leaveMembership', src: 'leaveMembership', onDone: 'handingOver', onError: 'handingOver' },
            after: { settleTimeout: 'handingOver' },
          },
          handingOver: {
            entry: 'tellShardsToStop',
            always: { guard: 'allShardsStopped', target: '#gateway.stopped' },
          },
        },
      },
      stopped: {
        type: 'final',
        entry: 'announceStopped',
      },
      failed: {
        // Nothing was led yet, so there is nothing to hand over; the process exits 1 with lastError.
        type: 'final',
        entry: 'announceFailed',
      },
    },
  });

export type GatewayMachine = typeof gatewayMachine;
export * from './gateway.contract.js';
export { shardMachine } from './shard.machine.js';
