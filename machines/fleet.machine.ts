// The reconciler over all hybrid nodes. Entries in place need no actor; a
// `vtep` actor is spawned for each node whose entries must change and
// retired when it reports back (the book-keeping: domain/fleet-plan.ts).
//
//   gathering       — waits for both the VXLAN device and the first full list of
//                     CiliumNodes: converging against a partial list would delete
//                     the entries of nodes not listed yet and drop their traffic.
//   converging      — one bulk reconcile (dump, diff, fix) with the full desired set.
//   convergeBackoff — the bulk reconcile itself failed (no device, socket error):
//                     again after `convergeRetryDelay`.
//   steady          — each change goes to the node's vtep actor, or spawns one; a
//                     periodic sweep (`sweeping`) removes stale entries and repairs
//                     drift.
// While a bulk reconcile runs, changes only update the desired set (the
// reconcile and a vtep actor must not write one node at once). When it is
// done, every node is in place but those the kernel refused and those that
// changed meanwhile: they go to vtep actors, and stalled actors try again.
//
// Pure statechart: `reconcileKernel` is a named actor (netlink in the runtime).
import { assertEvent, assign, fromPromise, setup } from 'xstate';
import { EMPTY_BOOK, NodeMap, planChanges, planDesired, planReport, planSettled, pruneRefused, syncedChanges, type FleetBook, type FleetPlan } from './domain/fleet-plan.js';
import type { VtepSpec } from './domain/vtep-spec.js';
import { vtepMachine, type VtepEvent, type VtepInput, type VtepReport, type VtepStalledReport } from './vtep.machine.js';

export interface ReconcileKernelInput {
  readonly vteps: readonly VtepSpec[];
}

export interface ReconcileKernelOutput {
  readonly added: number;
  readonly removed: number;
  readonly fixed: number;
  /** Nodes some of whose entries the kernel refused (the others were written). */
  readonly failedNodes: readonly string[];
  /** Why, per node of failedNodes (the first refused write). */
  readonly failedReasons?: Readonly<Record<string, string>>;
}

export interface FleetInput {
  /** Passed on to each vtep actor. */
  readonly maxAttempts?: number;
}

export interface FleetContext extends FleetBook {
  dataPlaneReady: boolean;
  synced: boolean;
  /** The desired set the running (or last) bulk reconcile writes. */
  written: NodeMap<string, VtepSpec>;
  /** A sweep was asked for (the device was recreated) while a bulk reconcile ran: run it again. */
  dirty: boolean;
  maxAttempts: number;
  /** Failed bulk reconciles in a row (for the retry delay). */
  convergeFailures: number;
  /** Nodes whose entries the kernel refused in the last bulk reconcile. */
  refused: readonly string[];
  /**
   * Nodes refused by the kernel and not programmed since, with the reason: from a bulk reconcile,
   * or an actor that spent its attempts. The other nodes converge regardless; readiness lists these.
   */
  refusedNodes: NodeMap<string, string>;
}

export type FleetEvent =
  /** Full desired set after a (re)list: nodes absent from it are removed. */
  | { type: 'NODES.SYNCED'; vteps: readonly VtepSpec[] }
  /** Nodes newly desired or changed, and nodes no longer desired. */
  | { type: 'NODES.CHANGED'; upserts: readonly VtepSpec[]; removes: readonly string[] }
  /** hybrid_vxlan0 exists and is up. */
  | { type: 'DATAPLANE.READY' }
  /** Sweep now (e.g. after the device was recreated). */
  | { type: 'RESYNC' }
  /** A vtep actor's work is done. */
  | VtepReport
  /** A vtep actor gave up for now (it waits for the RETRY after the next sweep). */
  | VtepStalledReport;

/** What a plan needs of xstate's `enqueue` (its methods are assignable to these). */
interface PlanEnqueue {
  stopChild(id: string): void;
  sendTo(id: string, event: VtepEvent): void;
  assign(fn: (args: { context: FleetContext; spawn: (src: 'vtep', opts: { id: string; input: VtepInput }) => unknown }) => Partial<FleetContext>): void;
}

/** Carries out a plan: retire, spawn (in one assign, so N spawns copy the children once), message. */
function runPlan(enqueue: PlanEnqueue, maxAttempts: number, plan: FleetPlan): void {
  for (const id of plan.stop) enqueue.stopChild(id);
  enqueue.assign(({ context, spawn }) => {
    for (const o of plan.spawn) spawn('vtep', { id: o.id, input: { spec: o.spec, previous: o.previous, task: o.task, maxAttempts } });
    return {
      desired: plan.book.desired,
      programmed: plan.book.programmed,
      busy: plan.book.busy,
      spawned: plan.book.spawned,
      refusedNodes: pruneRefused(context.refusedNodes, plan.book),
    };
  });
  for (const m of plan.send) enqueue.sendTo(m.id, m.event);
}

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
    // The runtime provides an exponential, capped delay from context.convergeFailures.
    convergeRetryDelay: 1000,
  },
});

export const fleetMachine = fleetSetup
  .extend({
    actions: {
      // Observability hooks (sweep results to logs/metrics): provided by the runtime.
      announceConverged: () => {},
      announceConvergeFailed: () => {},
      markDataPlaneReady: assign({ dataPlaneReady: true }),
      markDirty: assign({ dirty: true }),
      clearDirty: assign({ dirty: false }),
      countConvergeFailure: assign({ convergeFailures: ({ context }) => context.convergeFailures + 1 }),
      // Before convergence and during a bulk reconcile only the desired set is kept.
      recordDesired: assign(({ context, event }) => {
        assertEvent(event, ['NODES.SYNCED', 'NODES.CHANGED']);
        const book = event.type === 'NODES.SYNCED' ? planDesired(context, event.vteps, [], true) : planDesired(context, event.upserts, event.removes);
        return { ...book, refusedNodes: pruneRefused(context.refusedNodes, book), ...(event.type === 'NODES.SYNCED' ? { synced: true } : {}) };
      }),
      // Converged: each change goes to the node's vtep actor, or spawns one.
      applyChanges: fleetSetup.enqueueActions(({ context, event, enqueue }) => {
        assertEvent(event, ['NODES.SYNCED', 'NODES.CHANGED']);
        const { upserts, removes } = event.type === 'NODES.SYNCED' ? syncedChanges(context, event.vteps) : event;
        runPlan(enqueue, context.maxAttempts, planChanges(context, upserts, removes));
      }),
      // A vtep actor reported back: retire it (and hire another if its node changed meanwhile).
      settleReport: fleetSetup.enqueueActions(({ context, event, enqueue }) => {
        assertEvent(event, ['VTEP.PROGRAMMED', 'VTEP.REMOVED']);
        runPlan(enqueue, context.maxAttempts, planReport(context, event));
      }),
      // The same while a bulk reconcile runs: nobody is hired until it is done.
      settleReportHeld: fleetSetup.enqueueActions(({ context, event, enqueue }) => {
        assertEvent(event, ['VTEP.PROGRAMMED', 'VTEP.REMOVED']);
        runPlan(enqueue, context.maxAttempts, planReport(context, event, true));
      }),
      // A bulk reconcile starts: it writes the desired set as it is now.
      noteWritten: assign(({ context }) => ({ written: context.desired })),
      // What the last bulk reconcile could not write (shown by readiness; their actors retry).
      recordRefused: assign(({ context }, params: { nodes: readonly string[]; reasons: Readonly<Record<string, string>> | undefined }) => ({
        refused: params.nodes,
        refusedNodes: context.refusedNodes.withMutations((m) => {
          for (const n of params.nodes) m.set(n, params.reasons?.[n] ?? 'refused by the kernel');
        }),
      })),
      // A vtep actor spent its attempts on a node the kernel keeps refusing.
      recordStalled: assign(({ context, event }) => {
        assertEvent(event, 'VTEP.STALLED');
        // A late report for a node that left the desired set meanwhile is dropped.
        return { refusedNodes: pruneRefused(context.refusedNodes.set(event.name, event.reason), context) };
      }),
      // A bulk reconcile is done: refused nodes and those changed meanwhile go to actors.
      settleReconciled: fleetSetup.enqueueActions(({ context, enqueue }) => {
        runPlan(enqueue, context.maxAttempts, planSettled(context, context.written, context.refused));
        enqueue.assign({ convergeFailures: 0 });
      }),
      // A sweep failed: the kernel is as before it; the changes that waited go to actors now.
      settleUnswept: fleetSetup.enqueueActions(({ context, enqueue }) => {
        runPlan(enqueue, context.maxAttempts, planSettled(context, context.programmed, []));
      }),
    },
  })
  .createMachine({
    id: 'fleet',
    initial: 'gathering',
    context: ({ input }) => ({
      ...EMPTY_BOOK,
      dataPlaneReady: false,
      synced: false,
      written: NodeMap(),
      dirty: false,
      maxAttempts: input.maxAttempts ?? 8,
      convergeFailures: 0,
      refused: [],
      refusedNodes: NodeMap(),
    }),
    on: {
      'DATAPLANE.READY': { actions: 'markDataPlaneReady' },
      'VTEP.STALLED': { actions: 'recordStalled' },
    },
    states: {
      gathering: {
        always: { guard: 'readyToConverge', target: 'converging' },
        on: {
          'NODES.SYNCED': { actions: 'recordDesired' },
          'NODES.CHANGED': { actions: 'recordDesired' },
        },
      },
      converging: {
        entry: ['clearDirty', 'noteWritten'],
        invoke: {
          id: 'reconcileKernel',
          src: 'reconcileKernel',
          input: ({ context }): ReconcileKernelInput => ({ vteps: [...context.written.values()] }),
          onDone: [
            { guard: 'dirty', target: 'converging', reenter: true },
            {
              target: 'steady',
              actions: [
                { type: 'recordRefused', params: ({ event }) => ({ nodes: event.output.failedNodes, reasons: event.output.failedReasons }) },
                'settleReconciled',
                'announceConverged',
              ],
            },
          ],
          onError: { target: 'convergeBackoff', actions: ['countConvergeFailure', 'announceConvergeFailed'] },
        },
        on: {
          RESYNC: { actions: 'markDirty' },
          'NODES.SYNCED': { actions: 'recordDesired' },
          'NODES.CHANGED': { actions: 'recordDesired' },
        },
      },
      convergeBackoff: {
        after: { convergeRetryDelay: 'converging' },
        on: {
          'NODES.SYNCED': { actions: 'recordDesired' },
          'NODES.CHANGED': { actions: 'recordDesired' },
        },
      },
      steady: {
        after: { resyncPeriod: 'sweeping' },
        on: {
          RESYNC: 'sweeping',
          'NODES.SYNCED': { actions: 'applyChanges' },
          'NODES.CHANGED': { actions: 'applyChanges' },
          'VTEP.PROGRAMMED': { actions: 'settleReport' },
          'VTEP.REMOVED': { actions: 'settleReport' },
        },
      },
      sweeping: {
        entry: ['clearDirty', 'noteWritten'],
        invoke: {
          id: 'reconcileKernel',
          src: 'reconcileKernel',
          input: ({ context }): ReconcileKernelInput => ({ vteps: [...context.written.values()] }),
          onDone: [
            { guard: 'dirty', target: 'sweeping', reenter: true },
            {
              target: 'steady',
              actions: [
                { type: 'recordRefused', params: ({ event }) => ({ nodes: event.output.failedNodes, reasons: event.output.failedReasons }) },
                'settleReconciled',
                'announceConverged',
              ],
            },
          ],
          onError: { target: 'steady', actions: ['settleUnswept', 'announceConvergeFailed'] },
        },
        on: {
          RESYNC: { actions: 'markDirty' },
          'NODES.SYNCED': { actions: 'recordDesired' },
          'NODES.CHANGED': { actions: 'recordDesired' },
          'VTEP.PROGRAMMED': { actions: 'settleReportHeld' },
          'VTEP.REMOVED': { actions: 'settleReportHeld' },
        },
      },
    },
  });

export type FleetMachine = typeof fleetMachine;
