// The reconciler over all hybrid nodes: keeps one `vtep` actor per desired node
// and converges the whole kernel table in bulk when it must.
//
//   gathering  — waits for both the VXLAN device and the first full list of
//                CiliumNodes: converging against a partial list would delete
//                the entries of nodes not listed yet and drop their traffic.
//   converging — one bulk reconcile (dump, diff, fix) with the full desired set;
//                the vtep actors then adopt the result instead of re-programming.
//   steady     — per-node changes go to the vtep actors; a periodic sweep
//                (`sweeping`) removes stale entries and repairs drift.
//
// Pure statechart: `reconcileKernel` is a named actor (netlink in the runtime).
import { assign, fromPromise, setup } from 'xstate';
import type { VtepSpec } from './domain/vtep-spec.js';
import { sameVtepSpec } from './domain/vtep-spec.js';
import { vtepMachine, type VtepOutput } from './vtep.machine.js';

export interface ReconcileKernelInput {
  readonly vteps: readonly VtepSpec[];
}

export interface ReconcileKernelOutput {
  readonly added: number;
  readonly removed: number;
  readonly fixed: number;
}

export interface FleetInput {
  /** Passed on to each vtep actor. */
  readonly maxAttempts?: number;
}

export interface FleetContext {
  /** Desired spec per CiliumNode name. */
  desired: Record<string, VtepSpec>;
  /** Names with a live vtep actor (a removed node keeps its actor until its entries are gone). */
  tracked: Record<string, true>;
  dataPlaneReady: boolean;
  synced: boolean;
  /** The desired set changed while a bulk reconcile was running: run it again. */
  dirty: boolean;
  maxAttempts: number;
}

export type FleetEvent =
  /** Full desired set after a (re)list: nodes absent from it are removed. */
  | { type: 'NODES.SYNCED'; vteps: readonly VtepSpec[] }
  | { type: 'NODE.UPSERT'; spec: VtepSpec }
  /** A confirmed delete, or the node became invalid (skipped). */
  | { type: 'NODE.REMOVE'; name: string }
  /** hybrid_vxlan0 exists and is up. */
  | { type: 'DATAPLANE.READY' }
  /** Sweep now (e.g. after the device was recreated). */
  | { type: 'RESYNC' }
  /** A vtep actor finished (its node's entries are gone), or the bulk reconcile finished. */
  | { type: `xstate.done.actor.${string}`; output: VtepOutput | ReconcileKernelOutput };

export function vtepActorId(name: string): string {
  return `vtep:${name}`;
}

type Mode = 'hold' | 'program';

const fleetSetup = setup({
  types: {
    context: {} as FleetContext,
    events: {} as FleetEvent,
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- xstate reads the input type from this assertion
    input: {} as FleetInput,
  },
  actors: {
    vtep: vtepMachine,
    reconcileKernel: fromPromise<ReconcileKernelOutput, ReconcileKernelInput>(() =>
      Promise.reject(new Error('actor "reconcileKernel" is not provided')),
    ),
  },
  guards: {
    readyToConverge: ({ context }) => context.dataPlaneReady && context.synced,
    dirty: ({ context }) => context.dirty,
  },
  delays: {
    resyncPeriod: 30_000,
  },
});

// Applies a desired-set change to context and to the vtep actors. `hold`
// spawns new actors in `pending` (a bulk reconcile will settle them);
// `program` starts them at once.
function applyChange(mode: Mode) {
  return fleetSetup.enqueueActions(({ context, event, enqueue }) => {
      const desired = { ...context.desired };
      const tracked = { ...context.tracked };
      const upsert = (spec: VtepSpec): void => {
        const id = vtepActorId(spec.name);
        if (tracked[spec.name]) {
          if (!sameVtepSpec(desired[spec.name], spec)) enqueue.sendTo(id, { type: 'UPDATE', spec });
        } else {
          enqueue.spawnChild('vtep', { id, input: { spec, maxAttempts: context.maxAttempts, program: mode === 'program' } });
          tracked[spec.name] = true;
        }
        desired[spec.name] = spec;
      };
      const remove = (name: string): void => {
        if (tracked[name] && desired[name] !== undefined) enqueue.sendTo(vtepActorId(name), { type: 'REMOVE' });
        delete desired[name];
      };
      let synced = context.synced;
      switch (event.type) {
        case 'NODE.UPSERT':
          upsert(event.spec);
          break;
        case 'NODE.REMOVE':
          remove(event.name);
          break;
        case 'NODES.SYNCED': {
          const next = new Set(event.vteps.map((v) => v.name));
          for (const name of Object.keys(desired)) if (!next.has(name)) remove(name);
          for (const spec of event.vteps) upsert(spec);
          synced = true;
          break;
        }
        default: {
          // A vtep actor finished removing. If its node came back meanwhile, start a fresh actor.
          if (!event.type.startsWith(`xstate.done.actor.${vtepActorId('')}`) || !('output' in event)) break;
          const name = (event.output as VtepOutput).name;
          enqueue.stopChild(vtepActorId(name));
          delete tracked[name];
          const spec = desired[name];
          if (spec !== undefined) {
            enqueue.spawnChild('vtep', { id: vtepActorId(name), input: { spec, maxAttempts: context.maxAttempts, program: mode === 'program' } });
            tracked[name] = true;
          }
          break;
        }
      }
      enqueue.assign({ desired, tracked, synced });
    });
}

export const fleetMachine = fleetSetup.extend({
  actions: {
    // Observability hook (sweep results to logs/metrics): provided by the runtime.
    announceConverged: () => {},
    announceConvergeFailed: () => {},
    markDataPlaneReady: assign({ dataPlaneReady: true }),
    markDirty: assign({ dirty: true }),
    clearDirty: assign({ dirty: false }),
    applyChangeHeld: applyChange('hold'),
    applyChangeLive: applyChange('program'),
    // After a bulk reconcile the kernel holds every desired spec: pending actors adopt it.
    adoptAll: fleetSetup.enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.desired)) enqueue.sendTo(vtepActorId(name), { type: 'ADOPTED' });
    }),
    // The bulk reconcile failed: fall back to per-node programming, errors isolated per node.
    programAll: fleetSetup.enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.desired)) enqueue.sendTo(vtepActorId(name), { type: 'PROGRAM' });
    }),
    // Actors that gave up get another round after each sweep.
    retryStalled: fleetSetup.enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.desired)) enqueue.sendTo(vtepActorId(name), { type: 'RETRY' });
    }),
  },
}).createMachine({
  id: 'fleet',
  initial: 'gathering',
  context: ({ input }) => ({
    desired: {},
    tracked: {},
    dataPlaneReady: false,
    synced: false,
    dirty: false,
    maxAttempts: input.maxAttempts ?? 8,
  }),
  on: {
    'DATAPLANE.READY': { actions: 'markDataPlaneReady' },
  },
  states: {
    gathering: {
      always: { guard: 'readyToConverge', target: 'converging' },
      on: {
        'NODES.SYNCED': { actions: 'applyChangeHeld' },
        'NODE.UPSERT': { actions: 'applyChangeHeld' },
        'NODE.REMOVE': { actions: 'applyChangeHeld' },
        'xstate.done.actor.*': { actions: 'applyChangeHeld' },
      },
    },
    converging: {
      entry: 'clearDirty',
      invoke: {
        id: 'reconcileKernel',
        src: 'reconcileKernel',
        input: ({ context }): ReconcileKernelInput => ({ vteps: Object.values(context.desired) }),
        onDone: [
          { guard: 'dirty', target: 'converging', reenter: true },
          { target: 'steady', actions: ['adoptAll', 'announceConverged'] },
        ],
        onError: { target: 'steady', actions: ['programAll', 'announceConvergeFailed'] },
      },
      on: {
        'NODES.SYNCED': { actions: ['applyChangeHeld', 'markDirty'] },
        'NODE.UPSERT': { actions: ['applyChangeHeld', 'markDirty'] },
        'NODE.REMOVE': { actions: ['applyChangeHeld', 'markDirty'] },
        'xstate.done.actor.*': { actions: 'applyChangeHeld' },
      },
    },
    steady: {
      after: { resyncPeriod: 'sweeping' },
      on: {
        RESYNC: 'sweeping',
        'NODES.SYNCED': { actions: 'applyChangeLive' },
        'NODE.UPSERT': { actions: 'applyChangeLive' },
        'NODE.REMOVE': { actions: 'applyChangeLive' },
        'xstate.done.actor.*': { actions: 'applyChangeLive' },
      },
    },
    sweeping: {
      entry: 'clearDirty',
      invoke: {
        id: 'reconcileKernel',
        src: 'reconcileKernel',
        input: ({ context }): ReconcileKernelInput => ({ vteps: Object.values(context.desired) }),
        onDone: [
          // A change raced the sweep: its view of the desired set may be stale, so sweep again.
          { guard: 'dirty', target: 'sweeping', reenter: true },
          { target: 'steady', actions: ['retryStalled', 'announceConverged'] },
        ],
        onError: { target: 'steady', actions: 'announceConvergeFailed' },
      },
      on: {
        RESYNC: { actions: 'markDirty' },
        'NODES.SYNCED': { actions: ['applyChangeLive', 'markDirty'] },
        'NODE.UPSERT': { actions: ['applyChangeLive', 'markDirty'] },
        'NODE.REMOVE': { actions: ['applyChangeLive', 'markDirty'] },
        'xstate.done.actor.*': { actions: 'applyChangeLive' },
      },
    },
  },
});

export type FleetMachine = typeof fleetMachine;
