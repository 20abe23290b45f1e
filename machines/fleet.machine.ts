// Over 350 lines on purpose: the chart and its named actions stay one unit
// (the arithmetic is in domain/fleet-plan.ts).
//
// The reconciler over all hybrid nodes. Entries in place need no actor; a
// `vtep` actor is spawned for each node whose entries must change and
// retired when it reports back (the arithmetic: domain/fleet-plan.ts).
//
//   bulk              — the kernel is written in bulk, or is about to be: changes
//                       only update the desired set (the reconcile and a vtep actor
//                       must not write one node at once), and a vtep actor that
//                       reports back is retired without a successor.
//     gathering       — waits for both the VXLAN device and the first full list of
//                       CiliumNodes: converging against a partial list would delete
//                       the entries of nodes not listed yet and drop their traffic.
//     converging      — one bulk reconcile (dump, diff, fix) with the full desired set.
//     convergeBackoff — the bulk reconcile itself failed (no device, socket error):
//                       again after `convergeRetryDelay`.
//     sweeping        — the periodic bulk reconcile: removes stale entries, repairs drift.
//   steady            — each change goes to the node's vtep actor, or hires one;
//                       a batch of more than `bulkThreshold` changes (a re-list after
//                       the watch expired, a burst) is swept in bulk instead.
//
// One node's decision is a transition of `steady` on NODE.CHECK, which the
// fleet raises for itself for every node a batch (a NODES.CHANGED, a report, a
// finished bulk reconcile) may have left out of place: nothing to do
// (`nodeInPlace`), tell its actor (`nodeHasActor` / forwardToVtep), or hire one
// (hireVtep). NODES.CHECKED closes the batch and spawns the hired actors in one
// step (spawning one by one copies the fleet's children each time: quadratic).
// Retiring is one stop per actor, and each stop copies the children too: with
// thousands of actors alive at once (a re-list of 5,000 nodes taken in through
// actors) that blocked the event loop for seconds and cost the leader its
// lease. Hence `largeBatch`: one bulk reconcile writes such a batch with a few
// netlink dumps and batched writes, and no actor is hired for it.
//
// Pure statechart: `reconcileKernel` is a named actor (netlink in the runtime).
import { List } from 'immutable';
import { assertEvent, assign, enqueueActions, fromPromise, setup } from 'xstate';
import {
  EMPTY_BOOK,
  NodeSet,
  bulkWrite,
  busyUnchecked,
  noteUnchecked,
  unionUnchecked,
  type Unchecked,
  NodeMap,
  changedNodes,
  hire,
  inPlace,
  isNodeActor,
  planDesired,
  pruneRefused,
  refusedLeftovers,
  retarget,
  retire,
  retryTargets,
  settledChecks,
  settledProgrammed,
  syncedChanges,
  type FleetBook,
  type NodeCheck,
  type WorkerOrder,
} from './domain/fleet-plan.js';
import type { VtepSpec } from './domain/vtep-spec.js';
import { vtepMachine, type VtepReport, type VtepStalledReport } from './vtep.machine.js';

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
  /** A batch of more node changes than this is written by a bulk reconcile, not by per-node actors (default 256). */
  readonly bulkThreshold?: number;
}

/**
 * The default `bulkThreshold`. Below it, per-node actors are the quicker path
 * (no dump of the kernel's tables); above it, the actors alive at once make
 * each spawn and stop copy a large children map, and one sweep (a dump and a
 * diff, sliced) costs less than hundreds of actors.
 */
export const DEFAULT_BULK_THRESHOLD = 256;

export interface FleetContext extends FleetBook {
  // `busy` (FleetBook) is kept here, not derived from the snapshot's children:
  // guards see only context and event, an action's self.getSnapshot() is the
  // snapshot from before the current macrostep (a batch's own spawns and
  // retirements would not show), and a worker's `target` — what the fleet last
  // told the actor — is the fleet's knowledge: the child's own snapshot lags
  // the messages sent to it in this macrostep. The model test checks after
  // every step that the children are exactly the busy nodes' actors.
  dataPlaneReady: boolean;
  synced: boolean;
  /** The desired set the running (or last) bulk reconcile writes. */
  written: NodeMap<string, VtepSpec>;
  /**
   * While a bulk reconcile ran, a sweep was asked for (the device was recreated) or a large
   * batch of changes arrived: run it again rather than hand the batch to actors afterwards.
   */
  dirty: boolean;
  maxAttempts: number;
  bulkThreshold: number;
  /** Failed bulk reconciles in a row (for the retry delay). */
  convergeFailures: number;
  /** Nodes whose entries the kernel refused in the last bulk reconcile. */
  refused: readonly string[];
  /** What may be left in the kernel of each of those nodes (see refusedLeftovers). */
  refusedLeftovers: NodeMap<string, readonly VtepSpec[]>;
  /** Nodes whose desired spec changed with no NODE.CHECK since the running (or next) bulk reconcile started. */
  unchecked: Unchecked;
  /** What was unchecked when the running bulk reconcile started (it writes them; a failed sweep hands them on). */
  uncheckedBefore: Unchecked;
  /**
   * Nodes refused by the kernel and not programmed since, with the reason: from a bulk reconcile,
   * or an actor that spent its attempts. The other nodes converge regardless; readiness lists these.
   */
  refusedNodes: NodeMap<string, string>;
  /** Actors hired in the batch under way, spawned together when it closes (empty between events). */
  hires: List<WorkerOrder>;
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

/** The events the fleet raises for itself while it settles a batch (not for others to send). */
export const FLEET_OWN_EVENT_TYPES = ['NODE.CHECK', 'NODES.CHECKED'] as const;
type FleetOwnEvent =
  /** Look at one node: is it in place, has it an actor, does it need one? */
  | ({ type: 'NODE.CHECK' } & NodeCheck)
  /** Every node of the batch was looked at: spawn the actors hired for it. */
  | { type: 'NODES.CHECKED' };
type FleetMachineEvent = FleetEvent | FleetOwnEvent;

const fleetSetup = setup({
  types: {
    context: {} as FleetContext,
    events: {} as FleetMachineEvent,
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
    // The report comes from the node's current actor (not from one retired before).
    fromNodeVtep: ({ context, event }) => {
      assertEvent(event, ['VTEP.PROGRAMMED', 'VTEP.REMOVED', 'VTEP.STALLED']);
      return isNodeActor(context, event.name, event.id);
    },
    // Nothing to do: the kernel holds the node as desired, or its actor already works toward that.
    nodeInPlace: ({ context, event }) => {
      assertEvent(event, 'NODE.CHECK');
      return inPlace(context, event);
    },
    nodeHasActor: ({ context, event }) => {
      assertEvent(event, 'NODE.CHECK');
      return context.busy.has(event.name);
    },
    vtepsHired: ({ context }) => context.hires.size > 0,
    // More node changes in one batch than per-node actors should take (see the header).
    largeBatch: ({ context, event }) => {
      assertEvent(event, 'NODES.CHANGED');
      return event.upserts.length + event.removes.length > context.bulkThreshold;
    },
  },
  delays: {
    resyncPeriod: 30_000,
    // The runtime provides an exponential, capped delay from context.convergeFailures.
    convergeRetryDelay: 1000,
  },
});

// The two bulk reconciles (first convergence, periodic sweep) give and take the same things.
const reconcileInput = ({ context }: { context: FleetContext }): ReconcileKernelInput => ({ vteps: [...context.written.values()] });
const refusedOf = ({ event }: { event: { output: ReconcileKernelOutput } }) => ({ nodes: event.output.failedNodes, reasons: event.output.failedReasons });
// After a bulk reconcile: the changes it did not write (taken while it ran), busy and refused nodes.
// Settling a finished bulk reconcile: what the kernel refused, then the book (before checks, or before a re-run).
const settleActions = [{ type: 'recordRefused' as const, params: refusedOf }, 'settleReconciled' as const];
const settledChecksOf = ({ context }: { context: FleetContext }) => ({ checks: settledChecks(context, context.refusedLeftovers, context.unchecked) });
// After a failed sweep (nothing written): also the changes it was to write.
const unsweptChecksOf = ({ context }: { context: FleetContext }) => ({
  checks: settledChecks(context, context.refusedLeftovers, unionUnchecked(context.unchecked, context.uncheckedBefore)),
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
      // The desired set takes a list or a batch of changes (nothing else of the book changes).
      recordDesired: assign(({ context, event }) => {
        assertEvent(event, ['NODES.SYNCED', 'NODES.CHANGED']);
        const book = event.type === 'NODES.SYNCED' ? planDesired(context, event.vteps, [], true) : planDesired(context, event.upserts, event.removes);
        return { desired: book.desired, refusedNodes: pruneRefused(context.refusedNodes, book), ...(event.type === 'NODES.SYNCED' ? { synced: true } : {}) };
      }),
      // Converged, a full list is the change it makes (as one NODES.CHANGED).
      listAsChanges: fleetSetup.raise(({ context, event }) => {
        assertEvent(event, 'NODES.SYNCED');
        return { type: 'NODES.CHANGED' as const, ...syncedChanges(context, event.vteps) };
      }),
      // Raises NODE.CHECK for each node given, then NODES.CHECKED. (Typed by hand: setup's own
      // enqueueActions takes no params; this one only raises, so it needs no actors, actions or guards.)
      checkNodes: enqueueActions<FleetContext, FleetMachineEvent, { checks: readonly NodeCheck[] }, FleetMachineEvent, never, never, never, never, never>(({ enqueue }, params) => {
        for (const check of params.checks) enqueue.raise({ type: 'NODE.CHECK', ...check });
        enqueue.raise({ type: 'NODES.CHECKED' });
      }),
      // The node's actor gets its new target: UPDATE with the desired spec, or REMOVE.
      forwardToVtep: fleetSetup.enqueueActions(({ context, event, enqueue }) => {
        assertEvent(event, 'NODE.CHECK');
        const { busy, message } = retarget(context, event.name);
        enqueue.assign({ busy });
        enqueue.sendTo(message.id, message.event);
      }),
      // A new actor for the node (spawned when the batch closes).
      hireVtep: assign(({ context, event }) => {
        assertEvent(event, 'NODE.CHECK');
        const { order, ...book } = hire(context, event);
        return { ...book, hires: context.hires.push(order) };
      }),
      // Every actor hired in the batch, spawned in one assign (the children are copied once).
      spawnHired: fleetSetup.assign(({ context, spawn }) => {
        for (const o of context.hires) spawn('vtep', { id: o.id, input: { spec: o.spec, previous: o.previous, task: o.task, maxAttempts: context.maxAttempts } });
        return { hires: List<WorkerOrder>() };
      }),
      // The reporting actor's work is done: it stops, and its node has no actor.
      retireVtep: fleetSetup.enqueueActions(({ context, event, enqueue }) => {
        assertEvent(event, ['VTEP.PROGRAMMED', 'VTEP.REMOVED']);
        const { busy, id } = retire(context, event.name);
        enqueue.stopChild(id);
        enqueue.assign({ busy });
      }),
      // The kernel holds the reported spec (desired or not: NODE.CHECK, or the settling of a bulk reconcile, looks again).
      recordProgrammed: assign(({ context, event }) => {
        assertEvent(event, 'VTEP.PROGRAMMED');
        const programmed = context.programmed.set(event.name, event.spec);
        return { programmed, refusedNodes: pruneRefused(context.refusedNodes, { desired: context.desired, programmed }) };
      }),
      // A bulk reconcile starts: it writes the desired set as it is now (a busy node as its actor was told);
      // the changes not looked at so far are its to write.
      noteWritten: assign(({ context }) => ({
        written: bulkWrite(context),
        uncheckedBefore: unionUnchecked(context.uncheckedBefore, context.unchecked),
        // A busy node is written as its actor was told, not as desired: its change stays unchecked.
        unchecked: busyUnchecked(context.unchecked, context.busy),
      })),
      // The desired set changed and no NODE.CHECK follows now: the next bulk reconcile's settling looks at these.
      noteUnchecked: assign(({ context, event }) => {
        assertEvent(event, ['NODES.SYNCED', 'NODES.CHANGED']);
        return { unchecked: event.type === 'NODES.SYNCED' ? noteUnchecked(context.unchecked, 'all') : noteUnchecked(context.unchecked, event.upserts, event.removes) };
      }),
      // What the last bulk reconcile could not write (shown by readiness; their actors retry).
      recordRefused: assign(({ context }, params: { nodes: readonly string[]; reasons: Readonly<Record<string, string>> | undefined }) => ({
        refused: params.nodes,
        // Before settleReconciled: the book still holds what the refused nodes were programmed with.
        refusedLeftovers: refusedLeftovers(context, context.written, params.nodes, context.refusedLeftovers),
        refusedNodes: context.refusedNodes.withMutations((m) => {
          for (const n of params.nodes) m.set(n, params.reasons?.[n] ?? 'refused by the kernel');
        }),
      })),
      // The leftovers and the unchecked nodes went with the checks (to the actors hired for them).
      forgetChecked: assign({
        refusedLeftovers: () => NodeMap<string, readonly VtepSpec[]>(),
        unchecked: () => NodeSet<string>(),
        uncheckedBefore: () => NodeSet<string>(),
      }),
      // A bulk reconcile is done: the kernel holds what it wrote, but for refused nodes and busy ones.
      settleReconciled: assign(({ context }) => {
        const programmed = settledProgrammed(context, context.written, context.refused);
        // What was unchecked when it started, it wrote.
        return { programmed, convergeFailures: 0, uncheckedBefore: NodeSet<string>(), refusedNodes: pruneRefused(context.refusedNodes, { desired: context.desired, programmed }) };
      }),
      // After a sweep (done or failed): the actors that program the desired spec get RETRY (a stalled one tries again).
      retryVteps: fleetSetup.enqueueActions(({ context, enqueue }) => {
        for (const id of retryTargets(context)) enqueue.sendTo(id, { type: 'RETRY' });
      }),
      // A vtep actor spent its attempts on a node the kernel keeps refusing.
      recordStalled: assign(({ context, event }) => {
        assertEvent(event, 'VTEP.STALLED');
        // A late report for a node that left the desired set meanwhile is dropped.
        return { refusedNodes: pruneRefused(context.refusedNodes.set(event.name, event.reason), context) };
      }),
    },
  })
  .createMachine({
    id: 'fleet',
    initial: 'bulk',
    context: ({ input }) => ({
      ...EMPTY_BOOK,
      dataPlaneReady: false,
      synced: false,
      written: NodeMap(),
      dirty: false,
      maxAttempts: input.maxAttempts ?? 8,
      bulkThreshold: input.bulkThreshold ?? DEFAULT_BULK_THRESHOLD,
      convergeFailures: 0,
      refused: [],
      refusedLeftovers: NodeMap(),
      unchecked: NodeSet(),
      uncheckedBefore: NodeSet(),
      refusedNodes: NodeMap(),
      hires: List(),
    }),
    on: {
      'DATAPLANE.READY': { actions: 'markDataPlaneReady' },
      'VTEP.STALLED': { guard: 'fromNodeVtep', actions: 'recordStalled' },
    },
    states: {
      bulk: {
        description: 'changes only update the desired set; a reporting actor is retired, nobody is hired',
        initial: 'gathering',
        on: {
          'NODES.SYNCED': { actions: ['recordDesired', 'noteUnchecked'] },
          'NODES.CHANGED': [{ guard: 'largeBatch', actions: ['recordDesired', 'noteUnchecked', 'markDirty'] }, { actions: ['recordDesired', 'noteUnchecked'] }],
          RESYNC: { actions: 'markDirty' },
          'VTEP.PROGRAMMED': { guard: 'fromNodeVtep', actions: ['retireVtep', 'recordProgrammed'] },
          'VTEP.REMOVED': { guard: 'fromNodeVtep', actions: 'retireVtep' },
        },
        states: {
          gathering: {
            description: 'until the device and the first full list are both there',
            always: { guard: 'readyToConverge', target: 'converging' },
          },
          converging: {
            entry: ['clearDirty', 'noteWritten'],
            invoke: {
              id: 'reconcileKernel',
              src: 'reconcileKernel',
              input: reconcileInput,
              onDone: [
                // Again, from a settled book: the kernel holds this pass's writes.
                { guard: 'dirty', target: 'converging', reenter: true, actions: settleActions },
                {
                  target: '#fleet.steady',
                  actions: [
                    ...settleActions,
                    { type: 'checkNodes', params: settledChecksOf },
                    'forgetChecked',
                    'announceConverged',
                  ],
                },
              ],
              onError: { target: 'convergeBackoff', actions: ['countConvergeFailure', 'announceConvergeFailed'] },
            },
          },
          convergeBackoff: {
            after: { convergeRetryDelay: 'converging' },
          },
          sweeping: {
            entry: ['clearDirty', 'noteWritten'],
            invoke: {
              id: 'reconcileKernel',
              src: 'reconcileKernel',
              input: reconcileInput,
              onDone: [
                { guard: 'dirty', target: 'sweeping', reenter: true, actions: settleActions },
                {
                  target: '#fleet.steady',
                  actions: [
                    ...settleActions,
                    'retryVteps',
                    { type: 'checkNodes', params: settledChecksOf },
                    'forgetChecked',
                    'announceConverged',
                  ],
                },
              ],
              // The kernel is as before the sweep: the book stands (with what a pass run just before it
              // left of refused nodes); the changes that waited go to actors now.
              onError: {
                target: '#fleet.steady',
                actions: ['retryVteps', { type: 'checkNodes', params: unsweptChecksOf }, 'forgetChecked', 'announceConvergeFailed'],
              },
            },
          },
        },
      },
      steady: {
        description: 'each node a batch may leave out of place is checked: in place, its actor told, or one hired (spawned when the batch closes); a large batch is swept in bulk',
        after: { resyncPeriod: 'bulk.sweeping' },
        on: {
          RESYNC: 'bulk.sweeping',
          'NODES.SYNCED': { actions: 'listAsChanges' },
          'NODES.CHANGED': [
            { guard: 'largeBatch', target: 'bulk.sweeping', actions: ['recordDesired', 'noteUnchecked'] },
            { actions: ['recordDesired', { type: 'checkNodes', params: ({ event }) => ({ checks: changedNodes(event.upserts, event.removes) }) }] },
          ],
          'NODE.CHECK': [{ guard: 'nodeInPlace' }, { guard: 'nodeHasActor', actions: 'forwardToVtep' }, { actions: 'hireVtep' }],
          'NODES.CHECKED': { guard: 'vtepsHired', actions: 'spawnHired' },
          'VTEP.PROGRAMMED': { guard: 'fromNodeVtep', actions: ['retireVtep', 'recordProgrammed', { type: 'checkNodes', params: ({ event }) => ({ checks: [{ name: event.name }] }) }] },
          'VTEP.REMOVED': { guard: 'fromNodeVtep', actions: ['retireVtep', { type: 'checkNodes', params: ({ event }) => ({ checks: [{ name: event.name }] }) }] },
        },
      },
    },
  });

export type FleetMachine = typeof fleetMachine;
