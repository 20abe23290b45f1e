// Model-based tests of the fleet reconciler. The fleet's events (lists,
// batches of changes, the device becoming ready, bulk reconciles finishing,
// with refused nodes or failing, vtep actors reporting back, the sweep timer)
// are walked by @xstate/graph and replayed on a real fleet actor with real
// vtep children whose netlink effects are in-flight doubles. Effects finish
// only when the path says so: a reconcile or a child's write is completed by
// resolving its double (the child then reports by itself), and timers move by
// advancing the simulated clock. The test keeps its own model of the kernel
// from what the doubles completed, and checks at every step:
//   - no kernel write before the first full list and the device are both there;
//   - a bulk reconcile is in flight exactly while converging or sweeping, with
//     the desired set as it was when it started;
//   - once converged, every desired node is either `programmed` (and the
//     kernel model holds exactly its spec) or `busy` with exactly one vtep
//     actor that works toward its desired spec; a node no longer desired is
//     either gone from the kernel or has an actor removing it;
//   - there are no vtep actors but for busy nodes.
// The paths together take every transition of the machine, each guarded
// branch on its own, also those on the NODE.CHECK / NODES.CHECKED events the
// fleet raises for itself (seen through inspection).
import { TestModel } from '@xstate/graph';
import { createActor, fromPromise, SimulatedClock, type AnyActorRef, type EventObject } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeOfActorId } from '../../machines/domain/fleet-plan.js';
import { sameVtepSpec, type VtepSpec } from '../../machines/domain/vtep-spec.js';
import { DEFAULT_BULK_THRESHOLD, FLEET_OWN_EVENT_TYPES, fleetMachine, type FleetInput, type ReconcileKernelInput, type ReconcileKernelOutput } from '../../machines/fleet.machine.js';
import { vtepMachine, type ProgramVtepInput, type RemoveVtepInput, type VtepReport, type VtepStalledReport } from '../../machines/vtep.machine.js';
import {
  activeStateIds,
  coverageFigures,
  machineEventTypes,
  missingGuardBranches,
  recordingGuards,
  stateNodeIds,
  transitionKeys,
  transitionPaths,
  transitionRecorder,
  type GuardTally,
  type ModelPath,
} from '../support/model-paths.js';

type Snapshot = ReturnType<ReturnType<typeof createActor<typeof fleetMachine>>['getSnapshot']>;
type VtepSnapshot = ReturnType<ReturnType<typeof createActor<typeof vtepMachine>>['getSnapshot']>;
type Path = ModelPath<Snapshot>;

const a1: VtepSpec = { name: 'hyb-a', nodeIP: '198.19.0.1', mac: '02:00:c6:13:00:01', podCIDRs: ['198.18.0.0/29'] };
const a2: VtepSpec = { name: 'hyb-a', nodeIP: '198.19.0.9', mac: '02:00:c6:13:00:09', podCIDRs: ['198.18.0.0/29', '198.18.0.8/29'] };
const b: VtepSpec = { name: 'hyb-b', nodeIP: '198.19.0.2', mac: '02:00:c6:13:00:02', podCIDRs: ['198.18.1.0/29'] };
// The machine's own delay defaults (fleet.machine.ts): the clock is advanced by these.
const DELAYS = fleetMachine.implementations.delays as Record<string, number>;
const ownEvents = new Set<string>(FLEET_OWN_EVENT_TYPES);

const done = (failedNodes: string[]): EventObject => {
  const output: ReconcileKernelOutput = { added: 0, removed: 0, fixed: 0, failedNodes };
  return { type: 'xstate.done.actor.reconcileKernel', output } as EventObject;
};
const fixed = [
  { type: 'NODES.SYNCED', vteps: [] },
  { type: 'NODES.SYNCED', vteps: [a1] },
  { type: 'NODES.SYNCED', vteps: [a2, b] },
  { type: 'NODES.CHANGED', upserts: [a1], removes: [] },
  { type: 'NODES.CHANGED', upserts: [a2, b], removes: [] },
  { type: 'NODES.CHANGED', upserts: [], removes: ['hyb-a'] },
  { type: 'NODES.CHANGED', upserts: [b], removes: ['hyb-a'] },
  { type: 'NODES.CHANGED', upserts: [], removes: ['hyb-b'] },
  { type: 'DATAPLANE.READY' },
  { type: 'RESYNC' },
  done([]),
  done(['hyb-a']),
  { type: 'xstate.error.actor.reconcileKernel', error: new Error('dump failed') },
  // The timers (for the graph; a replay advances the simulated clock instead).
  ...machineEventTypes(fleetMachine)
    .filter((t) => t.startsWith('xstate.after.'))
    .map((type) => ({ type })),
] as EventObject[];
// A busy node's actor reports when its work is done: programmed with the desired spec, or removed; or,
// programming, that it spent its attempts (sent to the fleet as the child would send it).
const events = (s: Snapshot): EventObject[] => [
  ...fixed,
  ...[...s.context.busy].map(([name, worker]): VtepReport =>
    worker.target !== undefined ? { type: 'VTEP.PROGRAMMED', name, id: worker.id, spec: worker.target } : { type: 'VTEP.REMOVED', name, id: worker.id },
  ),
  ...[...s.context.busy].filter(([, w]) => w.target !== undefined).map(([name, w]): VtepStalledReport => ({ type: 'VTEP.STALLED', name, id: w.id, reason: 'EINVAL' })),
];

const names = (m: ReadonlyMap<string, unknown>): string => [...m.keys()].sort().join(',');
const serializeState = (s: Snapshot): string =>
  [
    JSON.stringify(s.value),
    [...s.context.desired.values()]
      .map((v) => `${v.name}@${v.nodeIP}`)
      .sort()
      .join(','),
    names(s.context.programmed),
    names(s.context.busy),
    s.context.dataPlaneReady,
    s.context.synced,
    s.context.dirty,
    names(s.context.refusedNodes),
  ].join('|');

// A batch of two changes or more counts as large here, so the paths take both branches (actors, bulk).
const INPUT: FleetInput = { bulkThreshold: 1 };
const model = new TestModel(fleetMachine as never, { events: events as never, serializeState: serializeState as never, input: INPUT });
const shortest = model.getShortestPaths() as unknown as Path[];
const suites: Record<string, Path[]> = {
  'shortest paths': shortest,
  'transition paths': transitionPaths(model as never, serializeState, shortest[0]!.steps[0]!.state),
};

interface Pending<I> {
  input: I;
  resolve(): void;
}

function fleetHarness(extra: FleetInput = {}) {
  const input: FleetInput = { ...INPUT, ...extra };
  const h = {
    reconciles: [] as ReconcileKernelInput[],
    reconcile: undefined as { input: ReconcileKernelInput; resolve(o: ReconcileKernelOutput): void; reject(e: Error): void } | undefined,
    /** In-flight write of each node's vtep actor. */
    writes: new Map<string, Pending<ProgramVtepInput> & { kind: 'program' } | Pending<RemoveVtepInput> & { kind: 'remove' }>(),
    /** The test's kernel: what completed writes left there, per node. */
    kernel: new Map<string, VtepSpec[]>(),
  };
  const addToKernel = (name: string, specs: readonly VtepSpec[]): void => {
    const list = [...(h.kernel.get(name) ?? [])];
    for (const s of specs) if (!list.some((k) => sameVtepSpec(k, s))) list.push(s);
    h.kernel.set(name, list);
  };
  const write = <I extends ProgramVtepInput | RemoveVtepInput>(kind: 'program' | 'remove') =>
    fromPromise<void, I>(
      ({ input, signal }) =>
        new Promise<void>((resolve, reject) => {
          const name = 'spec' in input ? input.spec.name : input.specs[0]!.name;
          const entry = { kind, input, resolve: () => {
            h.writes.delete(name);
            if ('spec' in input) h.kernel.set(name, [input.spec]);
            else h.kernel.delete(name);
            resolve();
          } };
          h.writes.set(name, entry as never);
          signal.addEventListener('abort', () => {
            if (h.writes.get(name) === (entry as never)) h.writes.delete(name);
            // An aborted write may have left anything of its specs behind.
            const specs = 'spec' in input ? [input.spec, ...input.previous] : input.specs;
            addToKernel(name, specs);
            reject(new Error('aborted'));
          });
        }),
    );
  const vtep = vtepMachine.provide({ actors: { programVtep: write<ProgramVtepInput>('program'), removeVtep: write<RemoveVtepInput>('remove') } });
  const machine = fleetMachine.provide({
    actors: {
      vtep,
      reconcileKernel: fromPromise<ReconcileKernelOutput, ReconcileKernelInput>(
        ({ input, signal }) =>
          new Promise((resolve, reject) => {
            h.reconciles.push(input);
            const r = {
              input,
              resolve: (o: ReconcileKernelOutput) => {
                h.reconcile = undefined;
                // The kernel now holds exactly the input, but for the refused nodes (anything of theirs may be there).
                const before = new Map(h.kernel);
                h.kernel.clear();
                for (const v of input.vteps) {
                  if (o.failedNodes.includes(v.name)) h.kernel.set(v.name, before.get(v.name) ?? []);
                  addToKernel(v.name, [v]);
                }
                resolve(o);
              },
              reject: (e: Error) => {
                h.reconcile = undefined;
                reject(e);
              },
            };
            h.reconcile = r;
            signal.addEventListener('abort', () => r.reject(new Error('aborted')));
          }),
      ),
    },
    guards: recordingGuards(fleetMachine, guards),
  });
  const clock = new SimulatedClock();
  const actor = createActor(machine, { clock, input, inspect: transitionRecorder(takenTransitions) });
  return Object.assign(h, { actor, clock });
}

const visitedStates = new Set<string>();
const takenEvents = new Set<string>();
const takenTransitions = new Set<string>();
const guards: GuardTally = new Map();

function vtepChildren(snap: Snapshot): Map<string, AnyActorRef> {
  const out = new Map<string, AnyActorRef>();
  for (const [id, ref] of Object.entries(snap.children as Record<string, AnyActorRef | undefined>)) {
    const node = nodeOfActorId(id);
    if (node !== undefined && ref !== undefined) out.set(node, ref);
  }
  return out;
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

async function replay(path: Path): Promise<void> {
  const h = fleetHarness();
  let converged = false;
  h.actor.start();
  try {
    let before = '';
    for (const [index, step] of path.steps.entries()) {
      const ev = step.event;
      const where = `step ${index} (${ev.type})`;
      if (index > 0) {
        if (ev.type === 'xstate.done.actor.reconcileKernel') h.reconcile!.resolve((ev as unknown as { output: ReconcileKernelOutput }).output);
        else if (ev.type === 'xstate.error.actor.reconcileKernel') h.reconcile!.reject(new Error('dump failed'));
        else if (ev.type.startsWith('xstate.after.')) h.clock.increment(DELAYS[ev.type.split('.')[2]!]!);
        else if (ev.type === 'VTEP.PROGRAMMED' || ev.type === 'VTEP.REMOVED') {
          // The child finishes its write and reports by itself.
          const name = (ev as unknown as { name: string }).name;
          const w = h.writes.get(name);
          expect(w, `${where}: ${name}'s actor has a write in flight`).toBeDefined();
          expect(w!.kind, `${where}: ${name}'s actor does what its report says`).toBe(ev.type === 'VTEP.PROGRAMMED' ? 'program' : 'remove');
          w!.resolve();
        } else h.actor.send(ev as never);
        await flush();
      }
      const snap = h.actor.getSnapshot();
      expect(serializeState(snap), where).toBe(serializeState(step.state));
      const { desired, programmed, busy } = snap.context;
      const children = vtepChildren(snap);

      // No kernel write before the first full list and the device.
      if (!snap.context.synced || !snap.context.dataPlaneReady) {
        expect(h.reconciles, `${where}: no converge before list + device`).toEqual([]);
        expect(children.size, `${where}: no vtep actor before list + device`).toBe(0);
      }
      // A bulk reconcile runs exactly while converging or sweeping, with the desired set.
      const bulk = snap.matches({ bulk: 'converging' }) || snap.matches({ bulk: 'sweeping' });
      expect(h.reconcile !== undefined, `${where}: reconcile in flight iff converging/sweeping`).toBe(bulk);
      if (bulk) {
        // It writes the desired set as it was when it started (changes since wait for it).
        expect(h.reconcile!.input.vteps.map((v) => `${v.name}@${v.nodeIP}`).sort(), `${where}: reconcile input`).toEqual(
          [...snap.context.written.values()].map((v) => `${v.name}@${v.nodeIP}`).sort(),
        );
      }
      // Actors: exactly one per busy node, none for others.
      expect([...children.keys()].sort(), `${where}: vtep actors`).toEqual([...busy.keys()].sort());
      for (const [name, worker] of busy) {
        const child = (snap.children as Record<string, AnyActorRef | undefined>)[worker.id]?.getSnapshot() as VtepSnapshot | undefined;
        expect(child, `${where}: ${name}'s actor id`).toBeDefined();
        // The actor works toward what the fleet last told it.
        if (worker.target === undefined) expect(child!.matches('removing') || child!.matches('removeBackoff') || child!.status === 'done', `${where}: ${name} removing`).toBe(true);
        else expect(child!.context.desired, `${where}: ${name}'s actor target`).toEqual(worker.target);
      }
      if (snap.matches('steady') || snap.matches({ bulk: 'sweeping' })) converged = true;
      // A node marked refused is desired and not in place as desired.
      for (const name of snap.context.refusedNodes.keys()) {
        expect(desired.has(name) && !sameVtepSpec(programmed.get(name), desired.get(name)), `${where}: refused ${name} is desired and not programmed`).toBe(true);
      }
      // Whatever is programmed is in the kernel exactly (also while a bulk reconcile runs).
      for (const [name, spec] of programmed) expect(h.kernel.get(name), `${where}: the kernel holds exactly ${name}'s spec`).toEqual([spec]);
      // Converged and no bulk reconcile running (changes wait for one): every desired node is in place or owned.
      if (converged && !bulk) {
        for (const [name, spec] of desired) {
          const isProgrammed = programmed.has(name);
          expect(isProgrammed !== busy.has(name), `${where}: ${name} is programmed xor busy`).toBe(true);
          if (isProgrammed) expect(programmed.get(name), `${where}: ${name} programmed as desired`).toEqual(spec);
          else {
            const child = children.get(name)!.getSnapshot() as VtepSnapshot;
            expect(child.context.desired, `${where}: ${name}'s actor works toward the desired spec`).toEqual(spec);
            expect(child.matches('removing') || child.matches('removeBackoff'), `${where}: ${name}'s actor is not removing`).toBe(false);
            // Whatever of its older specs is in the kernel is a leftover the actor knows about.
            for (const k of h.kernel.get(name) ?? []) {
              expect([child.context.desired, ...child.context.previous].some((s) => sameVtepSpec(s, k)), `${where}: ${name}'s leftover ${k.nodeIP} known`).toBe(true);
            }
          }
        }
        for (const name of programmed.keys()) expect(desired.has(name), `${where}: programmed ${name} is desired`).toBe(true);
        for (const [name, specs] of h.kernel) {
          if (desired.has(name) || specs.length === 0) continue;
          // In the kernel but not desired: an actor removes it, or a sweep in flight will.
          const child = children.get(name)?.getSnapshot() as VtepSnapshot | undefined;
          const removing = child !== undefined && (child.matches('removing') || child.matches('removeBackoff'));
          expect(removing, `${where}: stale ${name} is being removed`).toBe(true);
          if (removing) for (const k of specs) expect([child.context.desired, ...child.context.previous].some((s) => sameVtepSpec(s, k)), `${where}: removes ${k.nodeIP}`).toBe(true);
        }
      }

      const now = serializeState(snap);
      if (index > 0 && now !== before) takenEvents.add(ev.type);
      before = now;
      activeStateIds('fleet', snap.value).forEach((id) => visitedStates.add(id));
    }
  } finally {
    h.actor.stop();
  }
}

/** Converged on [b], then a1 added while steady: an actor of its own works on hyb-a. */
async function steadyWithWorkerForA(h: ReturnType<typeof fleetHarness>): Promise<void> {
  h.actor.send({ type: 'DATAPLANE.READY' });
  h.actor.send({ type: 'NODES.SYNCED', vteps: [b] });
  h.reconcile!.resolve({ added: 4, removed: 0, fixed: 0, failedNodes: [] });
  await flush();
  h.actor.send({ type: 'NODES.CHANGED', upserts: [a1], removes: [] });
  await flush();
}

/** A retired actor's report may still arrive (sent before the fleet let it go): the fleet ignores it. */
async function lateReports(): Promise<void> {
  const h = fleetHarness();
  h.actor.start();
  try {
    await steadyWithWorkerForA(h);
    const worker = h.actor.getSnapshot().context.busy.get('hyb-a')!;
    expect(worker).toBeDefined();
    const id = `${worker.id}-retired`;
    const late: Array<VtepReport | VtepStalledReport> = [
      { type: 'VTEP.PROGRAMMED', name: 'hyb-a', id, spec: a1 },
      { type: 'VTEP.REMOVED', name: 'hyb-a', id },
      { type: 'VTEP.STALLED', name: 'hyb-a', id, reason: 'EINVAL' },
    ];
    for (const report of late) {
      h.actor.send(report);
      await flush();
      const c = h.actor.getSnapshot().context;
      expect(c.busy.get('hyb-a'), `${report.type}: the node keeps its actor`).toEqual(worker);
      expect(c.programmed.has('hyb-a'), `${report.type}: not taken as programmed`).toBe(false);
      expect(c.refusedNodes.size, `${report.type}: not taken as refused`).toBe(0);
    }
    expect(h.writes.get('hyb-a')?.kind, "the current actor's write goes on").toBe('program');
  } finally {
    h.actor.stop();
  }
}

describe('fleet machine, model-based', () => {
  for (const [name, paths] of Object.entries(suites)) {
    it(`${name}: ${paths.length} paths replay with every node in place or owned by one actor`, async () => {
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) {
        try {
          await replay(p);
        } catch (err) {
          if (process.env.FLEET_DEBUG) console.log(p.steps.map((st) => `${st.event.type}${JSON.stringify((st.event as { upserts?: VtepSpec[]; removes?: string[]; vteps?: VtepSpec[]; output?: unknown; name?: string }).upserts?.map((u) => u.nodeIP) ?? (st.event as { vteps?: VtepSpec[] }).vteps?.map((u) => u.nodeIP) ?? (st.event as {output?: unknown}).output ?? (st.event as {name?: string}).name ?? '')}${JSON.stringify((st.event as { removes?: string[] }).removes ?? '')}`).join('\n'));
          throw err;
        }
      }
    });
  }

  it('a node whose actor spends its attempts is listed as refused, with the reason, until a retry programs it', async () => {
    const h = fleetHarness({ maxAttempts: 1 });
    h.actor.start();
    try {
      await steadyWithWorkerForA(h);
      // The kernel refuses a1's entries: its only attempt fails, the actor stalls and says why.
      const w = h.writes.get('hyb-a') as unknown as { reject?: unknown } | undefined;
      expect(w).toBeDefined();
      const child = vtepChildren(h.actor.getSnapshot()).get('hyb-a')!;
      child.send({ type: 'xstate.error.actor.programVtep', error: new Error('add route 198.18.0.0/29: EINVAL') });
      await flush();
      expect(Object.fromEntries(h.actor.getSnapshot().context.refusedNodes)).toEqual({ 'hyb-a': 'add route 198.18.0.0/29: EINVAL' });
      // The sweep's RETRY: the actor tries again, and this time the write goes through.
      h.clock.increment(DELAYS.resyncPeriod!);
      await flush();
      h.reconcile!.resolve({ added: 0, removed: 0, fixed: 0, failedNodes: ['hyb-a'], failedReasons: { 'hyb-a': 'EINVAL' } });
      await flush();
      expect(h.actor.getSnapshot().context.refusedNodes.get('hyb-a')).toBe('EINVAL');
      h.writes.get('hyb-a')!.resolve();
      await flush();
      expect(h.actor.getSnapshot().context.refusedNodes.size).toBe(0);
      expect(h.actor.getSnapshot().context.programmed.get('hyb-a')).toEqual(a1);
    } finally {
      h.actor.stop();
    }
  });

  it('at the default threshold, a batch of 257 changes is swept in bulk and one of 256 goes to actors', async () => {
    const many = (n: number, from: number): VtepSpec[] =>
      Array.from({ length: n }, (_, i) => ({ name: `hyb-${from + i}`, nodeIP: `198.19.${(from + i) >> 8}.${(from + i) & 255}`, mac: '02:00:c6:13:00:01', podCIDRs: [`198.18.${(from + i) & 255}.0/29`] }));
    const h = fleetHarness({ bulkThreshold: DEFAULT_BULK_THRESHOLD });
    h.actor.start();
    try {
      h.actor.send({ type: 'DATAPLANE.READY' });
      h.actor.send({ type: 'NODES.SYNCED', vteps: [] });
      h.reconcile!.resolve({ added: 0, removed: 0, fixed: 0, failedNodes: [] });
      await flush();
      expect(h.actor.getSnapshot().matches('steady')).toBe(true);
      // 256: one actor each, no bulk reconcile.
      h.actor.send({ type: 'NODES.CHANGED', upserts: many(256, 0), removes: [] });
      await flush();
      expect(h.actor.getSnapshot().matches('steady')).toBe(true);
      expect(vtepChildren(h.actor.getSnapshot()).size).toBe(256);
      expect(h.reconciles).toHaveLength(1);
      for (const w of [...h.writes.values()]) w.resolve();
      await flush();
      expect(vtepChildren(h.actor.getSnapshot()).size).toBe(0);
      // 257 (a re-list after the watch expired, say): one sweep writes them all, and no actor is hired.
      h.actor.send({ type: 'NODES.SYNCED', vteps: [...many(256, 0), ...many(257, 1000)] });
      await flush();
      expect(h.actor.getSnapshot().matches({ bulk: 'sweeping' })).toBe(true);
      expect(vtepChildren(h.actor.getSnapshot()).size).toBe(0);
      expect(h.reconciles).toHaveLength(2);
      expect(h.reconcile!.input.vteps).toHaveLength(513);
      h.reconcile!.resolve({ added: 257, removed: 0, fixed: 0, failedNodes: [] });
      await flush();
      const after = h.actor.getSnapshot();
      expect(after.matches('steady')).toBe(true);
      expect(after.context.programmed.size).toBe(513);
      expect(vtepChildren(after).size).toBe(0);
    } finally {
      h.actor.stop();
    }
  });

  it('a report from an actor the fleet no longer employs for that node (a late one) changes nothing', lateReports);

  it('the paths cover every state node, every event, every transition and both ways of every guard', async () => {
    for (const paths of Object.values(suites)) for (const p of paths) await replay(p);
    // The walk's reports all come from the node's current actor: fromNodeVtep is seen false by the late ones.
    await lateReports();
    expect(stateNodeIds(fleetMachine).filter((id) => !visitedStates.has(id))).toEqual([]);
    // Events from outside change the state; the fleet's own events are covered by the transitions they take.
    expect(machineEventTypes(fleetMachine).filter((t) => !ownEvents.has(t) && !takenEvents.has(t))).toEqual([]);
    expect(transitionKeys(fleetMachine).filter((k) => !takenTransitions.has(k))).toEqual([]);
    expect(missingGuardBranches(fleetMachine, guards)).toEqual([]);
  });

  afterAll(() => {
    console.info(`fleet model: ${Object.entries(suites).map(([n, p]) => `${p.length} ${n}`).join('; ')}`);
    console.info(`fleet coverage: ${coverageFigures(fleetMachine, { states: visitedStates, events: new Set([...takenEvents, ...ownEvents]), transitions: takenTransitions, guards })}`);
  });
});
