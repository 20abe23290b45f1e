// One hybrid node's VTEP entries on hybrid_vxlan0 (routes for every pod CIDR,
// a permanent neighbour, an FDB entry) while they need work. The fleet
// spawns this actor when a node's entries must be written or removed, and
// retires it when it reports back; a node whose entries are in place needs
// no actor (with 20,000 nodes, a live actor each would be most of the
// gateway's memory and start-up time).
//
//   starting → programming → programmed (final: VTEP.PROGRAMMED to the fleet)
//            ↘ removing   → removed    (final: VTEP.REMOVED to the fleet)
//   programming failures: failed → backoff → programming (exponential delay,
//   bounded attempts), `stalled` once the attempts are spent (the fleet's
//   RETRY after each sweep restarts it); removal failures: removeBackoff.
//   UPDATE (new spec) restarts programming and keeps the old spec as a
//   leftover to remove; REMOVE switches to removing; UPDATE while removing
//   (the node came back) programs again.
//
// Pure statechart: `programVtep` and `removeVtep` are named actors the runtime
// backs with netlink; `vtepRetryDelay` is computed by the runtime from
// `context.attempts` (exponential, capped).
import { assertEvent, assign, fromPromise, sendParent, setup } from 'xstate';
import { sameVtepSpec, type VtepSpec } from './domain/vtep-spec.js';

export interface VtepInput {
  /** What the kernel must hold for this node (for a removal: the node's last spec). */
  readonly spec: VtepSpec;
  /** Earlier specs of this node that may still be in the kernel. */
  readonly previous?: readonly VtepSpec[];
  /** Write the entries, or remove them (every spec above). */
  readonly task: 'program' | 'remove';
  /** Failed attempts before the actor stops retrying on its own (default 8). */
  readonly maxAttempts?: number;
}

export interface ProgramVtepInput {
  /** What the kernel must hold for this node. */
  readonly spec: VtepSpec;
  /** Earlier specs of this node that may still be in the kernel (leftovers to remove). */
  readonly previous: readonly VtepSpec[];
}

export interface RemoveVtepInput {
  /** Every spec of this node that may be in the kernel. */
  readonly specs: readonly VtepSpec[];
}

export interface VtepContext {
  desired: VtepSpec;
  /** Specs possibly still programmed besides `desired` (after an update or an aborted attempt). */
  previous: VtepSpec[];
  removeOnStart: boolean;
  attempts: number;
  maxAttempts: number;
  lastError: string | undefined;
}

export type VtepEvent =
  /** The node's spec changed (IP, pod CIDRs), or the node came back while being removed. */
  | { type: 'UPDATE'; spec: VtepSpec }
  /** The node is gone (confirmed delete, absent from a full list, or now skipped). */
  | { type: 'REMOVE' }
  /** Try again after giving up (after each sweep of the fleet). */
  | { type: 'RETRY' };

// Every report names the node and the reporting actor (its id among the
// fleet's children), so the fleet can tell its node's current actor from any
// other without relying on xstate's own done events.

/** A vtep actor spent its attempts: the kernel keeps refusing the node's entries (the actor waits for RETRY). */
export interface VtepStalledReport {
  readonly type: 'VTEP.STALLED';
  readonly name: string;
  readonly id: string;
  readonly reason: string;
}

/** What a vtep actor tells the fleet when its work is done (then it stops). */
export type VtepReport =
  /** The kernel holds exactly `spec` for the node. */
  | { type: 'VTEP.PROGRAMMED'; name: string; id: string; spec: VtepSpec }
  /** The node's entries are gone (or, after spent attempts, left to the fleet's sweep). */
  | { type: 'VTEP.REMOVED'; name: string; id: string };

function withoutSpec(list: readonly VtepSpec[], spec: VtepSpec): VtepSpec[] {
  return list.filter((s) => !sameVtepSpec(s, spec));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const vtepMachine = setup({
  types: {
    context: {} as VtepContext,
    events: {} as VtepEvent,
    input: {} as VtepInput,
  },
  actors: {
    programVtep: fromPromise<void, ProgramVtepInput>(() => Promise.reject(new Error('actor "programVtep" is not provided'))),
    removeVtep: fromPromise<void, RemoveVtepInput>(() => Promise.reject(new Error('actor "removeVtep" is not provided'))),
  },
  actions: {
    // Observability hooks (metrics vtep_{add,remove}_total and _errors_total, logs, Events): provided by the runtime.
    announceProgrammed: () => {},
    announceProgramFailed: () => {},
    announceRemoved: () => {},
    announceRemoveFailed: () => {},
    announceStalled: () => {},
    reportProgrammed: sendParent(({ context, self }): VtepReport => ({ type: 'VTEP.PROGRAMMED', name: context.desired.name, id: self.id, spec: context.desired })),
    reportRemoved: sendParent(({ context, self }): VtepReport => ({ type: 'VTEP.REMOVED', name: context.desired.name, id: self.id })),
    reportStalled: sendParent(
      ({ context, self }): VtepStalledReport => ({ type: 'VTEP.STALLED', name: context.desired.name, id: self.id, reason: context.lastError ?? 'refused' }),
    ),
    acceptUpdate: assign(({ context, event }) => {
      assertEvent(event, 'UPDATE');
      // The old spec may be (partly) in the kernel: keep it as a leftover to clean.
      const previous = withoutSpec([...context.previous, context.desired], event.spec);
      return { desired: event.spec, previous, attempts: 0 };
    }),
    settleProgrammed: assign({ previous: [] as VtepSpec[], attempts: 0, lastError: undefined }),
    // The failed effect's error comes as params (from its onError transition).
    recordFailure: assign(({ context }, params: { error: unknown }) => ({ attempts: context.attempts + 1, lastError: errorText(params.error) })),
    resetAttempts: assign({ attempts: 0 }),
  },
  guards: {
    removeOnStart: ({ context }) => context.removeOnStart,
    specChanged: ({ context, event }) => {
      assertEvent(event, 'UPDATE');
      return !sameVtepSpec(context.desired, event.spec);
    },
    attemptsLeft: ({ context }) => context.attempts < context.maxAttempts,
    attemptsSpent: ({ context }) => context.attempts >= context.maxAttempts,
  },
  delays: {
    // The runtime provides min(base × 2^(attempts−1), cap) with jitter.
    vtepRetryDelay: 200,
  },
}).createMachine({
  id: 'vtep',
  initial: 'starting',
  context: ({ input }) => ({
    desired: input.spec,
    previous: withoutSpec(input.previous ?? [], input.spec),
    removeOnStart: input.task === 'remove',
    attempts: 0,
    maxAttempts: input.maxAttempts ?? 8,
    lastError: undefined,
  }),
  states: {
    starting: {
      always: [{ guard: 'removeOnStart', target: 'removing' }, { target: 'programming' }],
    },
    programming: {
      invoke: {
        id: 'programVtep',
        src: 'programVtep',
        input: ({ context }): ProgramVtepInput => ({ spec: context.desired, previous: context.previous }),
        onDone: { target: 'programmed', actions: ['settleProgrammed', 'announceProgrammed', 'reportProgrammed'] },
        onError: { target: 'failed', actions: [{ type: 'recordFailure', params: ({ event }) => ({ error: event.error }) }, 'announceProgramFailed'] },
      },
      on: {
        // Restart with the new spec; the aborted attempt's spec joins the leftovers.
        UPDATE: { guard: 'specChanged', target: 'programming', reenter: true, actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    failed: {
      always: [{ guard: 'attemptsLeft', target: 'backoff' }, { target: 'stalled' }],
    },
    backoff: {
      after: { vtepRetryDelay: 'programming' },
      on: {
        UPDATE: { guard: 'specChanged', target: 'programming', actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    stalled: {
      // Out of attempts: wait for a new spec, the fleet's RETRY after a sweep, or removal.
      entry: ['announceStalled', 'reportStalled'],
      on: {
        RETRY: { target: 'programming', actions: 'resetAttempts' },
        UPDATE: { target: 'programming', actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    programmed: {
      type: 'final',
    },
    removing: {
      invoke: {
        id: 'removeVtep',
        src: 'removeVtep',
        input: ({ context }): RemoveVtepInput => ({ specs: [context.desired, ...context.previous] }),
        onDone: { target: 'removed', actions: ['announceRemoved', 'reportRemoved'] },
        onError: { target: 'removeBackoff', actions: [{ type: 'recordFailure', params: ({ event }) => ({ error: event.error }) }, 'announceRemoveFailed'] },
      },
      on: {
        // The node came back before its entries were gone.
        UPDATE: { target: 'programming', actions: 'acceptUpdate' },
      },
    },
    removeBackoff: {
      // Entries left after spent attempts are stale to the fleet's sweep, which removes them.
      always: { guard: 'attemptsSpent', target: 'removed', actions: ['announceRemoved', 'reportRemoved'] },
      after: { vtepRetryDelay: 'removing' },
      on: { UPDATE: { target: 'programming', actions: 'acceptUpdate' } },
    },
    removed: {
      type: 'final',
    },
  },
});

export type VtepMachine = typeof vtepMachine;
