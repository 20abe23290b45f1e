// Model-based tests of one hybrid node's VTEP lifecycle. Each path is replayed
// on a real actor: the effects finish only when the path says so (the test
// resolves or rejects the in-flight double, and the machine gets the real
// done/error event) and delays pass by advancing the simulated clock. At every
// step the test checks which netlink effect is in flight and with what input,
// that every spec that may sit in the kernel is either the one being
// programmed or listed as a leftover to remove, and that the fleet is told the
// outcome exactly when the actor finishes.
import { TestModel } from '@xstate/graph';
import type { EventObject } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import { sameVtepSpec, type VtepSpec } from '../../machines/domain/vtep-spec.js';
import { vtepMachine } from '../../machines/vtep.machine.js';
import {
  activeStateIds,
  coverageFigures,
  eventAlphabet,
  machineEventTypes,
  missingGuardBranches,
  stateNodeIds,
  transitionKeys,
  transitionPaths,
  transitionRecorder,
  type GuardTally,
  type ModelPath,
} from '../support/model-paths.js';
import { specA, specB, vtepHarness, type VtepHarnessOptions } from './vtep-harness.js';

type Snapshot = ReturnType<ReturnType<typeof vtepHarness>['actor']['getSnapshot']>;
type Path = ModelPath<Snapshot>;

/** The machine's own default for vtepRetryDelay (vtep.machine.ts): the clock is advanced by it. */
const RETRY_DELAY_MS = vtepMachine.implementations.delays.vtepRetryDelay as number;

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
const coarse = (s: Snapshot): string => `${JSON.stringify(s.value)}|${String(s.context.previous.length > 0)}|${s.context.attempts}`;
const switchingUpdate = (s: Snapshot): EventObject[] => [
  ...alphabet.filter((e) => e.type !== 'UPDATE'),
  { type: 'UPDATE', spec: s.context.desired.nodeIP === specA.nodeIP ? specB : specA } as EventObject,
];

// Walked without a parent: the reports to the fleet are no-ops while the graph is built.
const walked = vtepMachine.provide({ actions: { reportProgrammed: () => {}, reportRemoved: () => {}, reportStalled: () => {} } });

function modelFor(start: VtepHarnessOptions, serialize: (s: Snapshot) => string, events: EventObject[] | ((s: Snapshot) => EventObject[]) = alphabet) {
  return new TestModel(walked as never, {
    events: events as never,
    serializeState: serialize as never,
    input: { spec: specA, previous: start.previous ?? [], maxAttempts: 2, task: start.task ?? 'program' },
  });
}

interface Suite {
  start: VtepHarnessOptions;
  serialize: (s: Snapshot) => string;
  paths: Path[];
  /** Re-derives a state-dependent event from the live actor (the switching UPDATE). */
  live?: (event: EventObject, s: Snapshot) => EventObject;
}

const program: VtepHarnessOptions = { task: 'program' };
const programModel = modelFor(program, serializeState);
const programShortest = programModel.getShortestPaths() as unknown as Path[];
const suites: Record<string, Suite> = {
  'shortest paths (program)': { start: program, serialize: serializeState, paths: programShortest },
  'transition paths (program)': {
    start: program,
    serialize: serializeState,
    paths: transitionPaths(programModel as never, serializeState, programShortest[0]!.steps[0]!.state),
  },
  'simple paths (program)': {
    start: program,
    serialize: coarse,
    paths: modelFor(program, coarse, switchingUpdate).getSimplePaths() as unknown as Path[],
    live: (event, snap) => (event.type === 'UPDATE' ? (switchingUpdate(snap).at(-1) as EventObject) : event),
  },
  'shortest paths (program over a leftover)': {
    start: { task: 'program', previous: [specB] },
    serialize: serializeState,
    paths: modelFor({ task: 'program', previous: [specB] }, serializeState).getShortestPaths() as unknown as Path[],
  },
  'shortest paths (remove)': {
    start: { task: 'remove' },
    serialize: serializeState,
    paths: modelFor({ task: 'remove' }, serializeState).getShortestPaths() as unknown as Path[],
  },
};

const visitedStates = new Set<string>();
const takenEvents = new Set<string>();
const takenTransitions = new Set<string>();
const guards: GuardTally = new Map();

function covers(list: readonly VtepSpec[], spec: VtepSpec): boolean {
  return list.some((s) => sameVtepSpec(s, spec));
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

async function replay(path: Path, { start, serialize, live }: Suite): Promise<void> {
  const h = vtepHarness({ maxAttempts: 2, ...start, inspect: transitionRecorder(takenTransitions), guards });
  // The test's own account: specs that may be in the kernel right now.
  let maybeInKernel: VtepSpec[] = start.task === 'remove' ? [specA] : [...(start.previous ?? [])];
  h.actor.start();
  try {
    let before = '';
    let wasStalled = false;
    let stalledEntries = 0;
    for (const [index, step] of path.steps.entries()) {
      const ev = step.event;
      const where = `step ${index} (${ev.type})`;
      const reportsBefore = h.announcements.filter((a) => a.startsWith('report:') && a !== 'report:stalled').length;
      if (index > 0) {
        const flight = h.inFlight;
        if (ev.type === 'xstate.done.actor.programVtep' || ev.type === 'xstate.done.actor.removeVtep') {
          expect(flight?.kind, `${where}: the effect in flight`).toBe(ev.type.endsWith('programVtep') ? 'program' : 'remove');
          // Book-keeping from what the double completed.
          maybeInKernel = flight!.kind === 'program' ? [flight!.input.spec] : [];
          flight!.resolve();
        } else if (ev.type === 'xstate.error.actor.programVtep' || ev.type === 'xstate.error.actor.removeVtep') {
          expect(flight?.kind, `${where}: the effect in flight`).toBe(ev.type.endsWith('programVtep') ? 'program' : 'remove');
          flight!.reject(new Error('EPERM'));
        } else if (ev.type.startsWith('xstate.after.vtepRetryDelay')) {
          h.clock.increment(RETRY_DELAY_MS);
        } else {
          h.actor.send((live ? live(ev, h.actor.getSnapshot()) : ev) as never);
        }
        await flush();
      }
      const snap = h.actor.getSnapshot();
      expect(serialize(snap), where).toBe(serialize(step.state));

      if (snap.matches('programming')) {
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
      // The fleet hears once, at the end: programmed with the spec in the kernel, or removed; and each time
      // the actor stalls (attempts spent), that it did.
      if (snap.matches('stalled') && !wasStalled) stalledEntries += 1;
      wasStalled = snap.matches('stalled');
      expect(h.announcements.filter((a) => a === 'report:stalled').length, `${where}: a stall report per entry into stalled`).toBe(stalledEntries);
      const reports = h.announcements.filter((a) => a.startsWith('report:') && a !== 'report:stalled');
      if (snap.status === 'done') {
        expect(reports, `${where}: one report`).toEqual([snap.matches('programmed') ? 'report:programmed' : 'report:removed']);
        if (snap.matches('programmed')) expect(maybeInKernel, `${where}: exactly the desired spec in the kernel`).toEqual([snap.context.desired]);
      } else {
        expect(reports.length, `${where}: no report before the end`).toBe(0);
      }
      expect(reports.length - reportsBefore, `${where}: at most one report per step`).toBeLessThanOrEqual(1);

      const now = serializeState(snap);
      if (index > 0 && now !== before) takenEvents.add(ev.type);
      before = now;
      activeStateIds('vtep', snap.value).forEach((id) => visitedStates.add(id));
    }
  } finally {
    h.actor.stop();
  }
}

/** UPDATE with the spec the actor already works toward (the walk's UPDATEs always change it): nothing restarts. */
async function sameSpecUpdates(): Promise<void> {
  const h = vtepHarness({ maxAttempts: 2, inspect: transitionRecorder(takenTransitions), guards });
  h.actor.start();
  try {
    const flight = h.inFlight;
    h.actor.send({ type: 'UPDATE', spec: { ...specA } });
    await flush();
    expect(h.actor.getSnapshot().matches('programming')).toBe(true);
    expect(h.inFlight, 'the write in flight goes on').toBe(flight);
    expect([h.programs, h.aborted]).toEqual([1, 0]);
    h.inFlight!.reject(new Error('EPERM'));
    await flush();
    expect(h.actor.getSnapshot().matches('backoff')).toBe(true);
    h.actor.send({ type: 'UPDATE', spec: { ...specA } });
    await flush();
    expect(h.actor.getSnapshot().matches('backoff'), 'the backoff is not cut short').toBe(true);
    expect(h.programs).toBe(1);
    h.clock.increment(RETRY_DELAY_MS);
    await flush();
    expect(h.programs, 'the retry comes at its time').toBe(2);
  } finally {
    h.actor.stop();
  }
}

describe('vtep machine, model-based', () => {
  for (const [name, suite] of Object.entries(suites)) {
    it(`${name}: ${suite.paths.length} paths replay with the expected netlink effects`, async () => {
      expect(suite.paths.length).toBeGreaterThan(0);
      for (const p of suite.paths) await replay(p, suite);
    });
  }

  it('an UPDATE with the spec it already has restarts nothing, programming or backing off', sameSpecUpdates);

  it('the paths cover every state node, every event, every transition and both ways of every guard', async () => {
    for (const suite of Object.values(suites)) for (const p of suite.paths) await replay(p, suite);
    // The walk's UPDATEs always change the spec: specChanged is seen false by the same-spec ones.
    await sameSpecUpdates();
    expect(stateNodeIds(vtepMachine).filter((id) => !visitedStates.has(id))).toEqual([]);
    expect(machineEventTypes(vtepMachine).filter((t) => !takenEvents.has(t))).toEqual([]);
    expect(transitionKeys(vtepMachine).filter((k) => !takenTransitions.has(k))).toEqual([]);
    expect(missingGuardBranches(vtepMachine, guards)).toEqual([]);
  });

  afterAll(() => {
    console.info(`vtep model: ${Object.entries(suites).map(([n, s]) => `${s.paths.length} ${n}`).join('; ')}`);
    console.info(`vtep coverage: ${coverageFigures(vtepMachine, { states: visitedStates, events: takenEvents, transitions: takenTransitions, guards })}`);
  });
});
