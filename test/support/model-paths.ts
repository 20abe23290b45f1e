// Helpers for model-based tests over our statecharts with @xstate/graph's
// TestModel: the event alphabet is read from the machine itself, so a new
// transition is covered (or the coverage check fails) without editing a list.
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, EventObject, InspectionEvent, StateValue } from 'xstate';

interface StateNodeLike {
  id: string;
  states: Record<string, StateNodeLike>;
  events: string[];
  config: { always?: unknown; on?: unknown; after?: unknown; invoke?: unknown; states?: unknown };
}

/** Every event type the machine reacts to, minus those it raises for itself. */
export function machineEventTypes(machine: AnyStateMachine): string[] {
  const root = machine.root as unknown as StateNodeLike;
  return [...new Set(root.events)].filter((t) => !t.startsWith('xstate.done.state.') && t !== 'xstate.init');
}

/**
 * Ids of every state node a snapshot can rest in ("gateway.leader.lease.waiting", …).
 * Transient nodes (only `always` transitions, like vtep's `failed`) are passed
 * through within one step and never observed, so they are left out.
 */
export function stateNodeIds(machine: AnyStateMachine): string[] {
  const ids: string[] = [];
  const walk = (node: StateNodeLike): void => {
    const c = node.config;
    const transient = c.always !== undefined && !c.on && !c.after && !c.invoke && !c.states;
    if (!transient) ids.push(node.id);
    Object.values(node.states).forEach(walk);
  };
  walk(machine.root);
  return ids;
}

/** Ids of the active state nodes for a state value. */
export function activeStateIds(machineId: string, value: StateValue): string[] {
  const ids = [machineId];
  const walk = (prefix: string, v: StateValue): void => {
    if (typeof v === 'string') {
      ids.push(`${prefix}.${v}`);
      return;
    }
    for (const [key, child] of Object.entries(v)) {
      ids.push(`${prefix}.${key}`);
      if (child !== undefined) walk(`${prefix}.${key}`, child);
    }
  };
  walk(machineId, value);
  return ids;
}

function keyOf(t: AnyTransitionDefinition): string {
  const always = t.source.always?.indexOf(t) ?? -1;
  if (always >= 0) return `${t.source.id} always#${always}`;
  const type = String(t.eventType);
  return `${t.source.id} ${type}#${t.source.transitions.get(type)?.indexOf(t) ?? -1}`;
}

/**
 * Every transition of the machine, one key per candidate:
 * `<source state id> <event type>#<index among that event's candidates>` (eventless: `always#<index>`),
 * so that each guarded branch counts on its own.
 */
export function transitionKeys(machine: AnyStateMachine): string[] {
  const keys: string[] = [];
  const walk = (node: AnyStateNode): void => {
    for (const candidates of node.transitions.values()) candidates.forEach((t) => keys.push(keyOf(t)));
    node.always?.forEach((t) => keys.push(keyOf(t)));
    Object.values(node.states).forEach(walk);
  };
  walk(machine.root);
  return keys;
}

/**
 * An inspection observer (createActor's `inspect`) that adds the key of every
 * transition taken, in any microstep of any actor of the system, to `taken`:
 * also those on events the machine raises for itself, which no path sends.
 */
export function transitionRecorder(taken: Set<string>): (ev: InspectionEvent) => void {
  return (ev) => {
    if (ev.type !== '@xstate.microstep') return;
    for (const t of ev._transitions) taken.add(keyOf(t));
  };
}

/**
 * The event list for a TestModel: one event per type, or the payload variants
 * given for that type (e.g. an acquire attempt that won and one that lost).
 */
export function eventAlphabet(
  machine: AnyStateMachine,
  variants: Record<string, ReadonlyArray<Record<string, unknown>>>,
): EventObject[] {
  return machineEventTypes(machine).flatMap((type) => {
    const forType = variants[type] ?? (type.startsWith('xstate.error.actor.') ? [{ error: new Error(`${type} failed`) }] : [{}]);
    return forType.map((payload) => ({ type, ...payload }));
  });
}

export interface ModelPath<S, E extends EventObject = EventObject> {
  steps: Array<{ event: E; state: S }>;
}

/**
 * One path per transition of the model: the shortest way to the transition's
 * source state, then the transition. Shortest and simple paths reach every
 * state but skip transitions back into visited states (retry loops,
 * re-asserts); these paths take every one of them.
 */
export function transitionPaths<S, E extends EventObject>(
  model: { getAdjacencyMap(): Record<string, { state: S; transitions: Record<string, { event: E; state: S }> }> },
  serializeState: (s: S) => string,
  initial: S,
): Array<ModelPath<S, E>> {
  const adjacency = model.getAdjacencyMap();
  const start = serializeState(initial);
  const via = new Map<string, { from: string; event: E; state: S } | null>([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const key = queue.shift() as string;
    for (const t of Object.values(adjacency[key]?.transitions ?? {})) {
      const next = serializeState(t.state);
      if (!via.has(next)) {
        via.set(next, { from: key, event: t.event, state: t.state });
        queue.push(next);
      }
    }
  }
  const pathTo = (key: string): Array<{ event: E; state: S }> => {
    const steps: Array<{ event: E; state: S }> = [];
    for (let k: string | undefined = key; k !== undefined; ) {
      const link = via.get(k);
      if (!link) break;
      steps.unshift({ event: link.event, state: link.state });
      k = link.from;
    }
    return [{ event: { type: 'xstate.init' } as E, state: initial }, ...steps];
  };
  const paths: Array<ModelPath<S, E>> = [];
  for (const [key, value] of Object.entries(adjacency)) {
    if (!via.has(key)) continue;
    for (const t of Object.values(value.transitions)) {
      if (serializeState(t.state) === key) continue; // not a transition: the event was ignored
      paths.push({ steps: [...pathTo(key), { event: t.event, state: t.state }] });
    }
  }
  return paths;
}

/** How often each named guard of a machine was seen true and false. */
export type GuardTally = Map<string, { true: number; false: number }>;

type GuardFn = (args: unknown, params: unknown) => boolean;

/**
 * The machine's own guards (its implementations, as provided), each wrapped to count its results in
 * `tally`: pass to `machine.provide({ guards })`. The decisions stay the machine's.
 */
export function recordingGuards(machine: AnyStateMachine, tally: GuardTally): Record<string, GuardFn> {
  const guards = machine.implementations.guards as Record<string, GuardFn>;
  return Object.fromEntries(
    Object.entries(guards).map(([name, guard]) => [
      name,
      (args: unknown, params: unknown) => {
        const result = guard(args, params);
        const seen = tally.get(name) ?? { true: 0, false: 0 };
        seen[result ? 'true' : 'false'] += 1;
        tally.set(name, seen);
        return result;
      },
    ]),
  );
}

/**
 * The guard branches never seen: `name=true` / `name=false` for each named guard of the machine
 * not seen that way, but for the listed exceptions (a guard that can only be one way in a walk).
 */
export function missingGuardBranches(machine: AnyStateMachine, tally: GuardTally, exceptions: readonly string[] = []): string[] {
  return Object.keys(machine.implementations.guards)
    .flatMap((name) => {
      const seen = tally.get(name) ?? { true: 0, false: 0 };
      return [...(seen.true > 0 ? [] : [`${name}=true`]), ...(seen.false > 0 ? [] : [`${name}=false`])];
    })
    .filter((branch) => !exceptions.includes(branch));
}

/** "guards 7/9 both ways (14/18 branches)": for the coverage line of a model test. */
export function guardFigures(machine: AnyStateMachine, tally: GuardTally): string {
  const names = Object.keys(machine.implementations.guards);
  const seen = (n: string) => tally.get(n) ?? { true: 0, false: 0 };
  const both = names.filter((n) => seen(n).true > 0 && seen(n).false > 0).length;
  const branches = names.reduce((sum, n) => sum + Number(seen(n).true > 0) + Number(seen(n).false > 0), 0);
  return `guards ${both}/${names.length} seen true and false (${branches}/${names.length * 2} branches)`;
}

/** The coverage line of a model test: states, events, transitions, guards (what its paths took). */
export function coverageFigures(
  machine: AnyStateMachine,
  seen: { states: ReadonlySet<string>; events: ReadonlySet<string>; transitions: ReadonlySet<string>; guards: GuardTally },
): string {
  const of = (all: string[], taken: ReadonlySet<string>): string => `${all.filter((x) => taken.has(x)).length}/${all.length}`;
  return `states ${of(stateNodeIds(machine), seen.states)}, events ${of(machineEventTypes(machine), seen.events)}, transitions ${of(transitionKeys(machine), seen.transitions)}, ${guardFigures(machine, seen.guards)}`;
}
