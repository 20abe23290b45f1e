// Model-based paths that respect time. A statechart's delayed transitions and
// delayed raises are timers: a path may only take one when it is the next to
// fire, which the plain graph (@xstate/graph treats `xstate.after.*` as an
// event like any other) does not know. Here a model state carries the timers
// its actions scheduled (xstate's pure `transition` returns the delayed raises
// and cancels it would execute, with the delays the machine's implementations
// resolve), and the clock; a test's step function says how time may pass.
//
// Paths are built on a breadth-first tree of concrete model states, so every
// step of a path follows from the one before (the time of each step, and what
// is then scheduled, is the one a replay on a SimulatedClock will see).
import { createActor, fromCallback, type AnyActorScope, type AnyStateMachine, type EventObject } from 'xstate';

export interface Timer {
  /** The scheduling id (an after-transition's event type, or the raise's id). */
  readonly id: string;
  readonly event: EventObject;
  readonly due: number;
  /** Scheduling order: timers due at the same time fire in it, as on a SimulatedClock. */
  readonly seq: number;
  /** Which machine of a composite model scheduled it (its event goes back there). */
  readonly owner?: string;
}

export interface Timed<S, X> {
  readonly snap: S;
  readonly now: number;
  readonly timers: readonly Timer[];
  readonly seq: number;
  /** What the test models beside the machine (e.g. operations the adapters hold). */
  readonly extra: X;
}

export interface ModelClock {
  /** The model's time, read by the provided machine's delay functions. */
  t: number;
}

export interface ActionLike {
  type: string;
  params?: { event?: EventObject; id?: string; delay?: unknown; sendId?: string; targetId?: string; src?: unknown; input?: unknown; to?: unknown };
}

/** Adds the timers `actions` schedule (and drops those they cancel), for machine `owner` of a composite model. */
export function withTimers<S, X>(t: Timed<S, X>, actions: readonly ActionLike[], owner?: string): Timed<S, X> {
  const timers = [...t.timers];
  let seq = t.seq;
  for (const a of actions) {
    if (a.type === 'xstate.cancel' && a.params?.sendId !== undefined) {
      // The scheduler cancels the latest timer under that id (of the same actor).
      const i = timers.map((x) => (x.owner === owner ? x.id : undefined)).lastIndexOf(a.params.sendId);
      if (i >= 0) timers.splice(i, 1);
    } else if (a.type === 'xstate.raise' && typeof a.params?.delay === 'number' && a.params.event !== undefined) {
      timers.push({ id: a.params.id ?? `raise#${seq}`, event: a.params.event, due: t.now + a.params.delay, seq, ...(owner === undefined ? {} : { owner }) });
      seq += 1;
    }
  }
  timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
  return { ...t, timers, seq };
}

// What xstate's pure transition() does, with one inert actor scope for the whole walk instead of a new
// actor per call: the actions are collected, not executed.
// (The scope's system keeps the children each transition creates: it is renewed now and then.)
const scopes = new WeakMap<AnyStateMachine, { scope: AnyActorScope; actions: ActionLike[]; uses: number }>();
function inert(machine: AnyStateMachine, input?: unknown): { scope: AnyActorScope; actions: ActionLike[] } {
  let s = scopes.get(machine);
  if (s === undefined || s.uses >= 2000) {
    // A parent, so that a child machine's sendParent resolves (it is collected, like every action).
    const self = createActor(machine, { input, parent: createActor(fromCallback(() => {})) } as never);
    const actions: ActionLike[] = [];
    const scope = { self, defer: () => {}, id: '', logger: () => {}, sessionId: '', stopChild: () => {}, system: self.system, emit: () => {}, actionExecutor: (a: ActionLike) => void actions.push(a) };
    s = { scope: scope as unknown as AnyActorScope, actions, uses: 0 };
    scopes.set(machine, s);
  }
  s.uses += 1;
  s.actions.length = 0;
  return s;
}

/** Applies one event at the state's time, keeping the ledger of scheduled timers. */
export function applyTimed<S, X>(machine: AnyStateMachine, clock: ModelClock, t: Timed<S, X>, event: EventObject, extra: X = t.extra): Timed<S, X> {
  clock.t = t.now;
  const { scope, actions } = inert(machine);
  const snap = machine.transition(t.snap as never, event, scope as never) as S;
  return withTimers({ ...t, snap, extra }, [...actions]);
}

/**
 * One event on one machine of a composite model, as xstate's pure transition() does it: the next
 * snapshot and the actions it would execute (raises, cancels, sends to other actors, spawns).
 */
export function transitionCollecting<S>(machine: AnyStateMachine, clock: ModelClock, now: number, snap: S, event: EventObject): { snap: S; actions: ActionLike[] } {
  clock.t = now;
  const { scope, actions } = inert(machine);
  const next = machine.transition(snap as never, event, scope as never) as S;
  return { snap: next, actions: [...actions] };
}

/** The initial snapshot of one machine of a composite model (e.g. a child it spawns), and its entry actions. */
export function initialCollecting<S>(machine: AnyStateMachine, clock: ModelClock, now: number, input: unknown): { snap: S; actions: ActionLike[] } {
  clock.t = now;
  const { scope, actions } = inert(machine, input);
  const snap = machine.getInitialSnapshot(scope as never, input) as S;
  return { snap, actions: [...actions] };
}

/** Adds a timer the machine does not schedule itself (e.g. a child's, modelled by the test). */
export function addTimer<S, X>(t: Timed<S, X>, id: string, event: EventObject, delay: number): Timed<S, X> {
  return withTimers(t, [{ type: 'xstate.raise', params: { id, event, delay } }]);
}

/** The initial model state: the machine's initial snapshot and the timers its entry scheduled. */
export function initialTimed<S, X>(machine: AnyStateMachine, clock: ModelClock, extra: X): Timed<S, X> {
  clock.t = 0;
  const { scope, actions } = inert(machine);
  const snap = machine.getInitialSnapshot(scope as never, undefined) as S;
  return withTimers({ snap, now: 0, timers: [], seq: 0, extra }, [...actions]);
}

export interface TimedStep<T, E> {
  readonly event: E;
  readonly state: T;
}
export interface TimedPath<T, E> {
  readonly steps: ReadonlyArray<TimedStep<T, E>>;
}

export interface TimedModel<T, E> {
  readonly initial: T;
  readonly initialEvent: E;
  key(t: T): string;
  events(t: T): E[];
  /** The state after `e`, or undefined when `e` cannot happen from `t` (e.g. another timer fires first). */
  step(t: T, e: E): T | undefined;
}

/**
 * Breadth-first over model states (by key): the shortest path to every state, and one path per
 * transition (the shortest path to its source, then the transition), each built on concrete states.
 */
export function exploreTimed<T, E>(m: TimedModel<T, E>, maxStates = 20_000): { shortest: Array<TimedPath<T, E>>; transitions: Array<TimedPath<T, E>> } {
  const first: Array<TimedStep<T, E>> = [{ event: m.initialEvent, state: m.initial }];
  const paths = new Map<string, Array<TimedStep<T, E>>>([[m.key(m.initial), first]]);
  const transitions: Array<TimedPath<T, E>> = [];
  const queue = [m.key(m.initial)];
  while (queue.length > 0) {
    const key = queue.shift() as string;
    const path = paths.get(key) as Array<TimedStep<T, E>>;
    const here = (path[path.length - 1] as TimedStep<T, E>).state;
    for (const e of m.events(here)) {
      const next = m.step(here, e);
      if (next === undefined) continue;
      const k = m.key(next);
      if (k === key) continue; // not a transition of the model: the event changed nothing it tells apart
      const extended = [...path, { event: e, state: next }];
      transitions.push({ steps: extended });
      if (!paths.has(k)) {
        if (paths.size >= maxStates) throw new Error(`more than ${maxStates} model states`);
        paths.set(k, extended);
        queue.push(k);
      }
    }
  }
  return { shortest: [...paths.values()].map((steps) => ({ steps })), transitions };
}

/**
 * Every simple path (no key twice) from the initial state, over the events `keep` lets through; by
 * `key`, coarser than the model's own if given (e.g. the machine's state alone).
 */
export function simpleTimedPaths<T, E>(m: TimedModel<T, E>, keep: (e: E) => boolean, key: (t: T) => string = (t) => m.key(t), maxPaths = 20_000): Array<TimedPath<T, E>> {
  const out: Array<TimedPath<T, E>> = [];
  const walk = (path: Array<TimedStep<T, E>>, seen: Set<string>): void => {
    out.push({ steps: path });
    if (out.length > maxPaths) throw new Error(`more than ${maxPaths} simple paths`);
    const here = (path[path.length - 1] as TimedStep<T, E>).state;
    for (const e of m.events(here).filter(keep)) {
      const next = m.step(here, e);
      if (next === undefined) continue;
      const k = key(next);
      if (seen.has(k)) continue;
      seen.add(k);
      walk([...path, { event: e, state: next }], seen);
      seen.delete(k);
    }
  };
  walk([{ event: m.initialEvent, state: m.initial }], new Set([key(m.initial)]));
  return out;
}
