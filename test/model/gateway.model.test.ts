// Model-based tests of the gateway lifecycle, through what ships: the paths
// of the timed model (test/support/gateway-model.ts: the machine as
// provideGatewayMachine builds it for production, its timers at the delays
// it resolves) are replayed on that same machine, built the same way, whose
// adapters are doubles (the data plane, the Lease lock, the CiliumVTEPConfig
// client, IMDS and EC2): the replay answers the adapters' calls and advances
// the SimulatedClock; it sends the machine nothing but SIGTERM and the
// informer's first list. At every step the test checks what the machine has
// asked of the adapters: which actors run and which adapter calls are out,
// that nothing of the leader's keeps going once `leader` is left (the fence
// first, every leader call aborted), and whether the leader announcement
// matches the state. The paths together must visit every state, take every
// event and every transition, and see every guard both ways.
import { afterAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { gatewayMachine, shardId, shardMachine } from '../../machines/gateway.machine.js';
import type { OpKind } from '../support/gateway-adapters.js';
import { gatewayModel, livePair, runningActors, serializeState, type GatewayModelEvent, type GatewayModelState } from '../support/gateway-model.js';
import { EFFECT_CALLS, flush, gatewayRig } from '../support/gateway-replay.js';
import { activeStateIds, coverageFigures, machineEventTypes, missingGuardBranches, stateNodeIds, transitionKeys, transitionRecorder, type GuardTally } from '../support/model-paths.js';
import { exploreTimed, simpleTimedPaths, type TimedPath } from '../support/model-timeline.js';
import { expectedEffects, type EffectName } from './gateway-harness.js';

type Path = TimedPath<GatewayModelState, GatewayModelEvent>;

const model = gatewayModel();
const explored = exploreTimed(model);
// (and placement: its paths are among the shortest and transition paths; with it the simple paths run to tens of thousands)
const LEADER_WORK = /checkOwnership|programRouteTables|writeVtepConfig|driftRepairPeriod|RetryDelay|lateWriteCheck|LEADER\.REASSERT|PLACEMENT\./;

/** An event as the machine sees it: its type and outcome (not the time a renewal was stamped). */
function label(e: GatewayModelEvent): string {
  const output = e.output === undefined ? '' : JSON.stringify(e.output, (k, v: unknown) => (k === 'renewedAt' ? undefined : v));
  const error = e.error instanceof Error ? `!${e.error.message}` : '';
  return `${e.type}${output}${error}`;
}
/** One path per transition between the machine's states (by event and outcome): the shortest of the model's. */
function perMachineTransition(paths: Path[]): Path[] {
  const seen = new Set<string>();
  return paths.filter((p) => {
    const [from, to] = p.steps.slice(-2) as [Path['steps'][number], Path['steps'][number]];
    const k = `${serializeState(from.state.snap)} ${label(to.event)} ${serializeState(to.state.snap)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
const suites: Record<string, Path[]> = {
  'shortest paths (every state of the model)': explored.shortest,
  'transition paths (every transition between machine states)': perMachineTransition(explored.transitions),
  // Simple in the machine's states (what the adapters hold is not told apart here).
  'simple paths (lifecycle: election, step-down, shutdown)': simpleTimedPaths(model, (e) => !LEADER_WORK.test(e.type), (t) => serializeState(t.snap)),
};
// Under load a suite takes longer than the default 30 s.
const SUITE_TIMEOUT_MS = 300_000;

// The adapter calls each running actor makes (the watches and settleWrites make none: checked apart).
const CALLS: Partial<Record<EffectName, OpKind>> = EFFECT_CALLS;
const LEADER_CALLS: OpKind[] = ['checkOwnership', 'programRouteTables', 'writeVtepConfig'];
// Reads that take no AbortSignal go on after their actor stopped (harmless, nothing is written).
const UNSIGNALLED: OpKind[] = ['checkForwarding'];

const visitedStates = new Set<string>();
const takenEvents = new Set<string>();
const takenTransitions = new Set<string>();
const guards: GuardTally = new Map();
const replayed = new Set<string>();
const rig = gatewayRig(guards);

async function replay(path: Path): Promise<void> {
  const h = await rig.replay(transitionRecorder(takenTransitions));
  const { d } = h;
  await h.start();
  try {
    let before = '';
    let wasLeader = false;
    let passesThisTerm = 0;
    let prevRunning: EffectName[] = [];
    for (const [index, step] of path.steps.entries()) {
      const passesBefore = h.routeStrategies.length;
      const abortedBefore = d.aborted.length;
      if (index > 0) await h.drive(step.event, step.state);
      const pair = livePair(h.actor);
      // The root and its shard as one: a state of either matches.
      const snap = { status: pair.root.status, matches: (v: unknown) => pair.root.matches(v as never) || (pair.shard?.matches(v as never) ?? false) };
      const where = `step ${index} (${step.event.type}) at ${h.clock.now()} ms`;
      expect(h.clock.now(), `${where}: the clock`).toBe(step.state.now);
      expect(serializeState(pair), where).toBe(serializeState(step.state.snap));
      // Only the first route-table pass of a term may write without reading; retries and repairs read first
      // (the first pass may read too: after an ownership conflict at the start of the term).
      if (snap.matches('leader') && !wasLeader) passesThisTerm = 0;
      for (const strategy of h.routeStrategies.slice(passesBefore)) {
        if (passesThisTerm > 0) expect(strategy, `${where}: pass ${passesThisTerm + 1} of the term`).toBe('describe-first');
        passesThisTerm += 1;
      }
      // The actors running are the ones the contract names for the state…
      const expected = expectedEffects(snap);
      const children = Object.entries(runningActors(pair) as Record<string, AnyActorRef | undefined>).filter(
        ([id, ref]) => id !== 'fleet' && id !== shardId(0) && (ref?.getSnapshot() as { status?: string } | undefined)?.status === 'active',
      );
      expect(children.map(([id]) => id).sort(), `${where}: actors running`).toEqual(expected);
      // …each is at work at its adapter, and no adapter call goes on for an actor that stopped.
      const out = new Set(d.ops.filter((o) => !o.aborted && o.kind !== 'reconcileKernel').map((o) => o.kind));
      for (const e of expected) if (CALLS[e] !== undefined) expect(out.has(CALLS[e]), `${where}: ${e} has its call out`).toBe(true);
      const calling = new Set(expected.map((e) => CALLS[e]));
      expect([...out].filter((k) => !calling.has(k) && !UNSIGNALLED.includes(k)), `${where}: adapter calls of stopped actors`).toEqual([]);
      expect(d.watches, `${where}: watches open`).toEqual({ lease: Number(expected.includes('watchLease')), vtepConfig: Number(expected.includes('watchLeaderObjects')), watchdogs: Number(expected.includes('watchDevice')) });
      // Stepping down waits while (and only while) aborted writes have not come back.
      if (snap.matches({ steppingDown: 'settling' })) expect(d.lingering().length, `${where}: settling waits for aborted writes`).toBeGreaterThan(0);
      // The leader announcement (the LeaderElected / LeadershipLost Events) matches the state.
      const announced = d.log.filter((l) => l === 'event:LeaderElected' || l === 'event:LeadershipLost').at(-1) === 'event:LeaderElected';
      expect(announced, `${where}: leader announcement`).toBe(snap.matches('leader'));
      if (!snap.matches('leader')) {
        d.log.forEach((l, i) => {
          if (l === 'event:LeadershipLost') expect(d.log[i - 1], `${where}: leaving leader ran the fence first`).toBe('fence');
        });
        expect(d.pending('checkOwnership').concat(d.pending('programRouteTables'), d.pending('writeVtepConfig')), `${where}: leader calls outside leader`).toEqual([]);
      }
      // Leaving `leader` aborted whatever leader call was out.
      if (wasLeader && !snap.matches('leader')) {
        // (but for the actor whose outcome this step was: it finished)
        const wereOut = prevRunning
          .filter((e) => !step.event.type.endsWith(`.actor.${e}`))
          .map((e) => CALLS[e])
          .filter((k): k is OpKind => k !== undefined && (LEADER_CALLS.includes(k) || k === 'leaseAttempt'));
        for (const k of wereOut) expect(d.aborted.slice(abortedBefore), `${where}: ${k} aborted on leaving leader`).toContain(k);
      }
      wasLeader = snap.matches('leader');
      prevRunning = expected;
      const now = serializeState(pair);
      if (index > 0 && now !== before) takenEvents.add(step.event.type);
      before = now;
      activeStateIds('gateway', pair.root.value).forEach((id) => visitedStates.add(id));
      if (pair.shard !== undefined) activeStateIds('shard', pair.shard.value).forEach((id) => visitedStates.add(id));
    }
  } finally {
    h.stop();
  }
  await flush();
  expect(d.ops.filter((o) => !o.aborted && o.kind !== 'reconcileKernel' && !UNSIGNALLED.includes(o.kind)), 'no adapter call left out after stop').toEqual([]);
  expect(d.watches, 'every watch closed after stop').toEqual({ lease: 0, vtepConfig: 0, watchdogs: 0 });
}

// Events the machine raises for itself within a step (one region telling another, a shard telling
// the root it stopped): never from outside.
const RAISED_WITHIN_A_STEP = /^(OWNERSHIP\.|WORK\.|SHARD\.STOPPED$)/;
// The root's membership exists only with more than one shard; this walk runs the default, one
// shard. shard-placement.test.ts takes each of these (joining once converged, leaving first on
// SIGTERM, a delete given up after the settle timeout) at production timings.
const MORE_THAN_ONE_SHARD = {
  states: ['gateway.serving.unjoined', 'gateway.serving.member', 'gateway.stopping.leaving'],
  events: ['xstate.done.actor.leaveMembership', 'xstate.error.actor.leaveMembership', 'xstate.after.settleTimeout.gateway.stopping.leaving'],
  transitions: [
    'gateway.serving SHUTDOWN#1',
    'gateway.serving.placing always#1',
    'gateway.serving.placing always#2',
    'gateway.serving.unjoined DATAPLANE.CONVERGED#0',
    'gateway.stopping.leaving xstate.done.actor.leaveMembership#0',
    'gateway.stopping.leaving xstate.error.actor.leaveMembership#0',
    'gateway.stopping.leaving xstate.after.settleTimeout.gateway.stopping.leaving#0',
  ],
};
const GUARDS_ONE_WAY = ['oneShard=false', 'dataPlaneConverged=true', 'dataPlaneConverged=false'];
// Events that only pass something on to the fleet change no state: gateway-timing.test.ts checks where they go.
const PASSED_ON = /^(NODES\.|DEVICE\.REPAIRED$)/;
// settleWrites waits with Promise.allSettled: it cannot fail.
const CANNOT_HAPPEN = ['xstate.error.actor.settleWrites'];
// Transitions no path takes, by construction: the informer's changes and the watchdog's repairs are
// only passed on to the fleet (gateway-timing.test.ts checks where they go), and settleWrites cannot fail.
const NOT_TAKEN = [
  'gateway NODES.CHANGED#0',
  'gateway DEVICE.REPAIRED#0',
  'shard.steppingDown.settling xstate.error.actor.settleWrites#0',
];

describe('gateway machine, model-based, as production provides it', () => {
  for (const [name, paths] of Object.entries(suites)) {
    it(`${name}: ${paths.length} paths replay with the expected adapter calls at every step`, async () => {
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) await replay(p);
      replayed.add(name);
    }, SUITE_TIMEOUT_MS);
  }

  it('the paths cover every state node, every event, every transition and both ways of every guard', async () => {
    // The suites above record what they cover; run on its own, this test replays them itself.
    for (const [name, paths] of Object.entries(suites)) if (!replayed.has(name)) for (const p of paths) await replay(p);
    for (const machine of [gatewayMachine, shardMachine]) {
      expect(stateNodeIds(machine).filter((id) => !visitedStates.has(id) && !MORE_THAN_ONE_SHARD.states.includes(id))).toEqual([]);
      expect(machineEventTypes(machine).filter((t) => !RAISED_WITHIN_A_STEP.test(t) && !PASSED_ON.test(t) && !CANNOT_HAPPEN.includes(t) && !takenEvents.has(t) && !MORE_THAN_ONE_SHARD.events.includes(t))).toEqual([]);
      expect(transitionKeys(machine).filter((k) => !takenTransitions.has(k) && !NOT_TAKEN.includes(k) && !MORE_THAN_ONE_SHARD.transitions.includes(k))).toEqual([]);
      expect(missingGuardBranches(machine, guards, GUARDS_ONE_WAY)).toEqual([]);
    }
  }, SUITE_TIMEOUT_MS);

  afterAll(() => {
    const counts = Object.entries(suites).map(([n, p]) => `${p.length} ${n}`);
    console.info(`gateway model: ${counts.join('; ')}`);
    console.info(`gateway coverage: ${coverageFigures(gatewayMachine, { states: visitedStates, events: takenEvents, transitions: takenTransitions, guards })}`);
    console.info(`shard coverage: ${coverageFigures(shardMachine, { states: visitedStates, events: takenEvents, transitions: takenTransitions, guards })}`);
  });
});
