// One hybrid node's VTEP entries on hybrid_vxlan0 (routes for every pod CIDR,
// a permanent neighbour, an FDB entry):
//   pending → programming → programmed ⇄ updating → removing → removed,
//   with failed → backoff → programming (exponential delay, bounded attempts)
//   and `stalled` once the attempts are spent (the fleet's RETRY restarts it).
//
// Pure statechart: `programVtep` and `removeVtep` are named actors the runtime
// backs with netlink; the delay `vtepRetryDelay` is computed by the runtime from
// `context.attempts` (exponential, capped).
import { assign, fromPromise, setup } from 'xstate';
import { sameVtepSpec, type VtepSpec } from './domain/vtep-spec.js';

export interface VtepInput {
  readonly spec: VtepSpec;
  /** Failed attempts before the actor stops retrying on its own (default 8). */
  readonly maxAttempts?: number;
  /** Start programming at once; otherwise wait in `pending` for PROGRAM or ADOPTED. */
  readonly program?: boolean;
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
  attempts: number;
  maxAttempts: number;
  lastError: string | undefined;
  programOnStart: boolean;
}

export type VtepEvent =
  /** Program now (the fleet says the device is ready). */
  | { type: 'PROGRAM' }
  /** The fleet's bulk reconcile already put exactly this spec in the kernel. */
  | { type: 'ADOPTED' }
  /** The node's spec changed (IP, pod CIDRs). */
  | { type: 'UPDATE'; spec: VtepSpec }
  /** The node is gone (confirmed delete or absent from a full list). */
  | { type: 'REMOVE' }
  /** Try again after giving up (periodic resync). */
  | { type: 'RETRY' };

/** The actor's output when it is done: the parent learns which node's entries are gone. */
export interface VtepOutput {
  readonly name: string;
}

function withoutSpec(list: readonly VtepSpec[], spec: VtepSpec): VtepSpec[] {
  return list.filter((s) => !sameVtepSpec(s, spec));
}

export const vtepMachine = setup({
  types: {
    context: {} as VtepContext,
    events: {} as VtepEvent,
    input: {} as VtepInput,
    output: {} as VtepOutput,
  },
  actors: {
    programVtep: fromPromise<void, ProgramVtepInput>(() => Promise.reject(new Error('actor "programVtep" is not provided'))),
    removeVtep: fromPromise<void, RemoveVtepInput>(() => Promise.reject(new Error('actor "removeVtep" is not provided'))),
  },
  actions: {
    // Observability hooks (metrics vtep_{add,remove}_total and _errors_total, logs): provided by the runtime.
    announceProgrammed: () => {},
    announceProgramFailed: () => {},
    announceRemoved: () => {},
    announceRemoveFailed: () => {},
    announceStalled: () => {},
    acceptUpdate: assign(({ context, event }) => {
      const spec = (event as Extract<VtepEvent, { type: 'UPDATE' }>).spec;
      // The old spec may be (partly) in the kernel: keep it as a leftover to clean.
      const previous = withoutSpec([...context.previous, context.desired], spec);
      return { desired: spec, previous, attempts: 0 };
    }),
    settleProgrammed: assign({ previous: [] as VtepSpec[], attempts: 0, lastError: undefined }),
    recordFailure: assign({
      attempts: ({ context }) => context.attempts + 1,
      lastError: ({ event }) => {
        const error = (event as unknown as { error?: unknown }).error;
        return error instanceof Error ? error.message : String(error);
      },
    }),
    resetAttempts: assign({ attempts: 0 }),
  },
  guards: {
    specChanged: ({ context, event }) => !sameVtepSpec(context.desired, (event as Extract<VtepEvent, { type: 'UPDATE' }>).spec),
    attemptsLeft: ({ context }) => context.attempts < context.maxAttempts,
    programOnStart: ({ context }) => context.programOnStart,
    attemptsSpent: ({ context }) => context.attempts >= context.maxAttempts,
  },
  delays: {
    // The runtime provides min(base × 2^(attempts−1), cap) with jitter.
    vtepRetryDelay: 200,
  },
}).createMachine({
  id: 'vtep',
  initial: 'pending',
  output: ({ context }) => ({ name: context.desired.name }),
  context: ({ input }) => ({
    desired: input.spec,
    previous: [],
    attempts: 0,
    maxAttempts: input.maxAttempts ?? 8,
    lastError: undefined,
    programOnStart: input.program === true,
  }),
  states: {
    pending: {
      // Known but not yet ours to program: the device or the first full list is not there yet.
      always: { guard: 'programOnStart', target: 'programming' },
      on: {
        PROGRAM: 'programming',
        ADOPTED: { target: 'programmed', actions: ['settleProgrammed', 'announceProgrammed'] },
        UPDATE: { actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    programming: {
      invoke: {
        id: 'programVtep',
        src: 'programVtep',
        input: ({ context }): ProgramVtepInput => ({ spec: context.desired, previous: context.previous }),
        onDone: { target: 'programmed', actions: ['settleProgrammed', 'announceProgrammed'] },
        onError: { target: 'failed', actions: ['recordFailure', 'announceProgramFailed'] },
      },
      on: {
        // Restart with the new spec; the aborted attempt's spec joins the leftovers.
        UPDATE: { guard: 'specChanged', target: 'programming', reenter: true, actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    programmed: {
      on: {
        UPDATE: { guard: 'specChanged', target: 'updating', actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    updating: {
      invoke: {
        id: 'programVtep',
        src: 'programVtep',
        input: ({ context }): ProgramVtepInput => ({ spec: context.desired, previous: context.previous }),
        onDone: { target: 'programmed', actions: ['settleProgrammed', 'announceProgrammed'] },
        onError: { target: 'failed', actions: ['recordFailure', 'announceProgramFailed'] },
      },
      on: {
        UPDATE: { guard: 'specChanged', target: 'updating', reenter: true, actions: 'acceptUpdate' },
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
      // Out of attempts: wait for a new spec, the fleet's periodic RETRY, or removal.
      entry: 'announceStalled',
      on: {
        RETRY: { target: 'programming', actions: 'resetAttempts' },
        UPDATE: { target: 'programming', actions: 'acceptUpdate' },
        REMOVE: { target: 'removing', actions: 'resetAttempts' },
      },
    },
    removing: {
      invoke: {
        id: 'removeVtep',
        src: 'removeVtep',
        input: ({ context }): RemoveVtepInput => ({ specs: [context.desired, ...context.previous] }),
        onDone: { target: 'removed', actions: 'announceRemoved' },
        onError: { target: 'removeBackoff', actions: ['recordFailure', 'announceRemoveFailed'] },
      },
      on: {
        // The node came back before its entries were gone.
        UPDATE: { target: 'programming', actions: 'acceptUpdate' },
      },
    },
    removeBackoff: {
      always: { guard: 'attemptsSpent', target: 'removed', actions: 'announceRemoved' },
      after: { vtepRetryDelay: 'removing' },
      on: { UPDATE: { target: 'programming', actions: 'acceptUpdate' } },
    },
    removed: {
      // Entries left after spent attempts are stale to the fleet's sweep, which removes them.
      type: 'final',
    },
  },
});

export type VtepMachine = typeof vtepMachine;
