// Model-based tests of one hybrid node's VTEP lifecycle. Each path is replayed
// on a real actor; at every step the test checks which netlink effect is in
// flight and with what input, and that every spec that may sit in the kernel
// is either the one being programmed or listed as a leftover to remove.
import { TestModel } from '@xstate/graph';
import type { EventObject } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import { sameVtepSpec, type VtepSpec } from '../../machines/domain/vtep-spec.js';
import { vtepMachine } from '../../machines/vtep.machine.js';
import { activeStateIds, eventAlphabet, machineEventTypes, stateNodeIds, transitionPaths, type ModelPath } from '../support/model-paths.js';
import { specA, specB, vtepHarness } from './vtep-harness.js';

type Snapshot = ReturnType<ReturnType<typeof vtepHarness>['actor']['getSnapshot']>;
type Path = ModelPath<Snapshot>;

const alphabet = eventAlphabet(vtepMachine, { UPDATE: [{ spec: specA }, { spec: specB }] });
const serializeState = (s: Snapshot): string =>
  [
    JSON.stringify(s.value),
    s.context.desired.nodeIP,
    s.context.previous.map((p) => p.nodeIP).sort().join(','),
    s.context.attempts,
  ].join('|');

// Simple paths use a coarser view (state, leftovers pending or not, attempts)
// and an UPDATE that always switches to the other spec, so the view stays
// deterministic while the number of paths stays in the hundreds.
const coarse = (s: Snapshot): string =>
  `${JSON.stringify(s.value)}|${String(s.context.previous.length > 0)}|${s.context.attempts}`;
const switchingUpdate = (s: Snapshot): EventObject[] => [
  ...alphabet.filter((e) => e.type !== 'UPDATE'),
  { type: 'UPDATE', spec: s.context.desired.nodeIP === specA.nodeIP ? specB : specA } as EventObject,
];

function modelFor(program: boolean, serialize: (s: Snapshot) => string, events: EventObject[] | ((s: Snapshot) => EventObject[]) = alphabet) {
  return new TestModel(vtepMachine as never, {
    events: events as never,
    serializeState: serialize as never,
    input: { spec: specA, maxAttempts: 2, program },
  });
}

interface Suite {
  program: boolean;
  serialize: (s: Snapshot) => string;
  paths: Path[];
  /** Re-derives a state-dependent event from the live actor (the switching UPDATE). */
  live?: (event: EventObject, s: Snapshot) => EventObject;
}

const held = modelFor(false, serializeState);
const heldShortest = held.getShortestPaths() as unknown as Path[];
const suites: Record<string, Suite> = {
  'shortest paths': { program: false, serialize: serializeState, paths: heldShortest },
  'transition paths': {
    program: false,
    serialize: serializeState,
    paths: transitionPaths(held as never, serializeState, heldShortest[0]!.steps[0]!.state),
  },
  'simple paths': {
    program: false,
    serialize: coarse,
    paths: modelFor(false, coarse, switchingUpdate).getSimplePaths() as unknown as Path[],
    live: (event, snap) => (event.type === 'UPDATE' ? (switchingUpdate(snap).at(-1) as EventObject) : event),
  },
  'shortest paths, spawned to program at once': {
    program: true,
    serialize: serializeState,
    paths: modelFor(true, serializeState).getShortestPaths() as unknown as Path[],
  },
};

const visitedStates = new Set<string>();
const takenEvents = new Set<string>();

function covers(list: readonly VtepSpec[], spec: VtepSpec): boolean {
  return list.some((s) => sameVtepSpec(s, spec));
}

function replay(path: Path, { program, serialize, live }: Suite): void {
  const h = vtepHarness({ maxAttempts: 2, program });
  // The test's own account: specs that may be in the kernel right now.
  let maybeInKernel: VtepSpec[] = [];
  h.actor.start();
  try {
    let before = '';
    for (const [index, step] of path.steps.entries()) {
      const flight = h.inFlight;
      if (index > 0) h.actor.send((live ? live(step.event, h.actor.getSnapshot()) : step.event) as never);
      const snap = h.actor.getSnapshot();
      const where = `step ${index} (${step.event.type})`;
      expect(serialize(snap), where).toBe(serialize(step.state));

      // Book-keeping from what the double saw complete.
      if (step.event.type === 'xstate.done.actor.programVtep' && flight?.kind === 'program') maybeInKernel = [flight.input.spec];
      if (step.event.type === 'xstate.done.actor.removeVtep' && flight?.kind === 'remove') maybeInKernel = [];
      if (step.event.type === 'ADOPTED') maybeInKernel = [snap.context.desired];

      const programming = snap.matches('programming') || snap.matches('updating');
      if (programming) {
        expect(h.inFlight?.kind, `${where}: program in flight`).toBe('program');
        const input = h.inFlight?.kind === 'program' ? h.inFlight.input : undefined;
        expect(input?.spec, `${where}: programs the desired spec`).toEqual(snap.context.desired);
        for (const spec of maybeInKernel) {
          expect(covers([input!.spec, ...input!.previous], spec), `${where}: ${spec.nodeIP} kept as leftover`).toBe(true);
        }
        if (!covers(maybeInKernel, input!.spec)) maybeInKernel = [...maybeInKernel, input!.spec];
      } else if (snap.matches('removing')) {
        expect(h.inFlight?.kind, `${where}: remove in flight`).toBe('remove');
        const input = h.inFlight?.kind === 'remove' ? h.inFlight.input : undefined;
        for (const spec of maybeInKernel) expect(covers(input!.specs, spec), `${where}: removes ${spec.nodeIP}`).toBe(true);
      } else {
        expect(h.inFlight, `${where}: nothing in flight`).toBeUndefined();
      }
      if (snap.matches('programmed')) expect(h.announcements.at(-1), `${where}`).toBe('programmed');
      if (snap.status === 'done') expect(h.announcements.at(-1), `${where}`).toBe('removed');

      const now = serializeState(snap);
      if (index > 0 && now !== before) takenEvents.add(step.event.type);
      before = now;
      activeStateIds('vtep', snap.value).forEach((id) => visitedStates.add(id));
    }
  } finally {
    h.actor.stop();
  }
}

describe('vtep machine, model-based', () => {
  for (const [name, suite] of Object.entries(suites)) {
    it(`${name}: ${suite.paths.length} paths replay with the expected netlink effects`, () => {
      expect(suite.paths.length).toBeGreaterThan(0);
      suite.paths.forEach((p) => replay(p, suite));
    });
  }

  it('the paths cover every state node and every event of the machine', () => {
    Object.values(suites).forEach((suite) => suite.paths.forEach((p) => replay(p, suite)));
    expect(stateNodeIds(vtepMachine).filter((id) => !visitedStates.has(id))).toEqual([]);
    expect(machineEventTypes(vtepMachine).filter((t) => !takenEvents.has(t))).toEqual([]);
  });

  afterAll(() => {
    console.info(`vtep model: ${Object.entries(suites).map(([n, s]) => `${s.paths.length} ${n}`).join('; ')}`);
  });
});
