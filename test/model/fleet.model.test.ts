// Model-based tests of the fleet reconciler. The fleet's events (lists,
// upserts, removals, the device becoming ready, bulk reconciles finishing or
// failing, vtep actors finishing) are walked by @xstate/graph and replayed on
// a real fleet actor whose netlink effects are in-flight doubles. At every step
// the test checks the contract: one vtep actor per tracked node holding the
// desired spec, no programming before the first full list and the device are
// both there, nobody left waiting once the fleet is steady, and a bulk
// reconcile in flight exactly while converging or sweeping, with the desired
// set it was started with.
import { TestModel } from '@xstate/graph';
import { createActor, fromPromise, SimulatedClock, type AnyActorRef, type EventObject } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { fleetMachine, vtepActorId, type ReconcileKernelInput } from '../../machines/fleet.machine.js';
import { vtepMachine } from '../../machines/vtep.machine.js';
import { activeStateIds, machineEventTypes, stateNodeIds, transitionPaths, type ModelPath } from '../support/model-paths.js';

type Snapshot = ReturnType<ReturnType<typeof createActor<typeof fleetMachine>>['getSnapshot']>;
type Path = ModelPath<Snapshot>;

const a1: VtepSpec = { name: 'hyb-a', nodeIP: '198.19.0.1', mac: '02:00:c6:13:00:01', podCIDRs: ['198.18.0.0/29'] };
const a2: VtepSpec = { name: 'hyb-a', nodeIP: '198.19.0.9', mac: '02:00:c6:13:00:09', podCIDRs: ['198.18.0.0/29', '198.18.0.8/29'] };
const b: VtepSpec = { name: 'hyb-b', nodeIP: '198.19.0.2', mac: '02:00:c6:13:00:02', podCIDRs: ['198.18.1.0/29'] };

const fixed = [
  { type: 'NODES.SYNCED', vteps: [] },
  { type: 'NODES.SYNCED', vteps: [a1] },
  { type: 'NODES.SYNCED', vteps: [a2, b] },
  { type: 'NODE.UPSERT', spec: a1 },
  { type: 'NODE.UPSERT', spec: a2 },
  { type: 'NODE.UPSERT', spec: b },
  { type: 'NODE.REMOVE', name: 'hyb-a' },
  { type: 'NODE.REMOVE', name: 'hyb-b' },
  { type: 'DATAPLANE.READY' },
  { type: 'RESYNC' },
  { type: 'xstate.done.actor.reconcileKernel', output: { added: 0, removed: 0, fixed: 0 } },
  { type: 'xstate.error.actor.reconcileKernel', error: new Error('dump failed') },
  { type: 'xstate.after.resyncPeriod.fleet.steady' },
] as EventObject[];
// A vtep actor finishes only after its node was removed (tracked, no longer desired).
const events = (s: Snapshot): EventObject[] => [
  ...fixed,
  ...Object.keys(s.context.tracked)
    .filter((name) => s.context.desired[name] === undefined)
    .map((name) => ({ type: `xstate.done.actor.${vtepActorId(name)}`, output: { name } })),
];

const serializeState = (s: Snapshot): string =>
  [
    JSON.stringify(s.value),
    Object.values(s.context.desired)
      .map((v) => `${v.name}@${v.nodeIP}`)
      .sort()
      .join(','),
    Object.keys(s.context.tracked).sort().join(','),
    s.context.dataPlaneReady,
    s.context.synced,
    s.context.dirty,
  ].join('|');

const model = new TestModel(fleetMachine as never, { events: events as never, serializeState: serializeState as never, input: {} });
const shortest = model.getShortestPaths() as unknown as Path[];
const suites: Record<string, Path[]> = {
  'shortest paths': shortest,
  'transition paths': transitionPaths(model as never, serializeState, shortest[0]!.steps[0]!.state),
};

function fleetHarness() {
  const reconciles: ReconcileKernelInput[] = [];
  let reconcileInFlight: ReconcileKernelInput | undefined;
  const forever = <I>() => fromPromise<void, I>(({ signal }) => new Promise<void>((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))));
  const vtep = vtepMachine.provide({ actors: { programVtep: forever(), removeVtep: forever() } });
  const machine = fleetMachine.provide({
    actors: {
      vtep,
      reconcileKernel: fromPromise<{ added: number; removed: number; fixed: number }, ReconcileKernelInput>(
        ({ input, signal }) =>
          new Promise((_r, reject) => {
            reconcileInFlight = input;
            reconciles.push(input);
            signal.addEventListener('abort', () => {
              reconcileInFlight = undefined;
              reject(new Error('aborted'));
            });
          }),
      ),
    },
  });
  const actor = createActor(machine, { clock: new SimulatedClock(), input: {} });
  return {
    actor,
    reconciles,
    get reconcileInFlight() {
      return reconcileInFlight;
    },
    settleReconcile() {
      reconcileInFlight = undefined;
    },
  };
}

const visitedStates = new Set<string>();
const takenEvents = new Set<string>();

function vtepChildren(snap: Snapshot): Record<string, AnyActorRef> {
  return Object.fromEntries(
    Object.entries(snap.children as Record<string, AnyActorRef | undefined>).filter(
      (e): e is [string, AnyActorRef] => e[0].startsWith(vtepActorId('')) && e[1] !== undefined,
    ),
  );
}

function replay(path: Path): void {
  const h = fleetHarness();
  // Nodes removed before the first converge: their actors may be removing, or
  // programming again if the node came back (the converge is then re-run).
  const removedWhileHeld = new Set<string>();
  h.actor.start();
  try {
    let before = '';
    for (const [index, step] of path.steps.entries()) {
      if (index > 0) {
        if (step.event.type.startsWith('xstate.done.actor.reconcileKernel') || step.event.type.startsWith('xstate.error.actor.reconcileKernel')) h.settleReconcile();
        const held = h.actor.getSnapshot().matches('gathering') || h.actor.getSnapshot().matches('converging');
        const wasDesired = Object.keys(h.actor.getSnapshot().context.desired);
        h.actor.send(step.event as never);
        const nowDesired = h.actor.getSnapshot().context.desired;
        if (held) wasDesired.filter((n) => nowDesired[n] === undefined).forEach((n) => removedWhileHeld.add(n));
      }
      const snap = h.actor.getSnapshot();
      const where = `step ${index} (${step.event.type})`;
      expect(serializeState(snap), where).toBe(serializeState(step.state));

      // One live vtep actor per tracked node, holding the desired spec.
      const children = vtepChildren(snap);
      expect(Object.keys(children).sort(), `${where}: vtep actors`).toEqual(Object.keys(snap.context.tracked).map(vtepActorId).sort());
      for (const [name, spec] of Object.entries(snap.context.desired)) {
        const child = children[vtepActorId(name)];
        expect(child, `${where}: actor for desired ${name}`).toBeDefined();
        const childSnap = child!.getSnapshot() as ReturnType<ReturnType<typeof createActor<typeof vtepMachine>>['getSnapshot']>;
        expect(childSnap.context.desired, `${where}: ${name} holds the desired spec`).toEqual(spec);
        const state = JSON.stringify(childSnap.value);
        if ((snap.matches('gathering') || snap.matches('converging')) && !removedWhileHeld.has(name)) {
          expect(state, `${where}: ${name} must wait for the first converge`).toBe('"pending"');
        }
        if (snap.matches('steady') || snap.matches('sweeping')) {
          expect(state, `${where}: ${name} must not be left pending`).not.toBe('"pending"');
        }
      }

      // A bulk reconcile runs exactly while converging or sweeping.
      const bulk = snap.matches('converging') || snap.matches('sweeping');
      if (bulk) {
        expect(h.reconcileInFlight, `${where}: reconcile in flight`).toBeDefined();
        if (!snap.context.dirty) {
          expect(
            h.reconcileInFlight!.vteps.map((v) => `${v.name}@${v.nodeIP}`).sort(),
            `${where}: reconcile input is the desired set`,
          ).toEqual(Object.values(snap.context.desired).map((v) => `${v.name}@${v.nodeIP}`).sort());
        }
      } else {
        expect(h.reconcileInFlight, `${where}: no reconcile outside converging/sweeping`).toBeUndefined();
      }
      if (!snap.context.synced || !snap.context.dataPlaneReady) expect(h.reconciles, `${where}: no converge before list + device`).toEqual([]);

      const now = serializeState(snap);
      if (index > 0 && now !== before) takenEvents.add(step.event.type.startsWith(`xstate.done.actor.${vtepActorId('')}`) ? 'xstate.done.actor.*' : step.event.type);
      before = now;
      activeStateIds('fleet', snap.value).forEach((id) => visitedStates.add(id));
    }
  } finally {
    h.actor.stop();
  }
}

describe('fleet machine, model-based', () => {
  for (const [name, paths] of Object.entries(suites)) {
    it(`${name}: ${paths.length} paths replay with one correct vtep actor per node`, () => {
      expect(paths.length).toBeGreaterThan(0);
      paths.forEach(replay);
    });
  }

  it('the paths cover every state node and every event of the machine', () => {
    Object.values(suites).forEach((paths) => paths.forEach(replay));
    expect(stateNodeIds(fleetMachine).filter((id) => !visitedStates.has(id))).toEqual([]);
    expect(machineEventTypes(fleetMachine).filter((t) => !takenEvents.has(t))).toEqual([]);
  });

  afterAll(() => {
    console.info(`fleet model: ${Object.entries(suites).map(([n, p]) => `${p.length} ${n}`).join('; ')}`);
  });
});
