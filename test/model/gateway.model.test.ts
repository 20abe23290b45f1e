// Model-based tests of the gateway lifecycle: @xstate/graph walks the
// statechart's paths, and each path is replayed on a real actor whose effects
// are recording doubles. At every step the test checks what the machine has
// asked the effects to do: which are in flight, which were aborted (leader
// work must be cancelled the moment `leader` is left), and whether the
// leader announcement matches the state.
import { TestModel } from '@xstate/graph';
import type { EventObject } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayMachine } from '../../machines/gateway.machine.js';
import { activeStateIds, eventAlphabet, machineEventTypes, stateNodeIds, transitionPaths } from '../support/model-paths.js';
import { expectedEffects, gatewayHarness, type EffectName } from './gateway-harness.js';

type Snapshot = ReturnType<ReturnType<typeof gatewayHarness>['actor']['getSnapshot']>;
interface Path {
  steps: Array<{ event: EventObject; state: Snapshot }>;
}

const leaseOutcomes = [
  { output: { held: true, renewedAt: 0, holder: 'me', outcome: 'renewed' } },
  { output: { held: false, holder: 'other', outcome: 'held-by-other' } },
  { output: { held: false, outcome: 'error', error: new Error('503') } },
];
// Raised by the machine for itself within a step (one region telling another): never sent from outside.
const RAISED_WITHIN_A_STEP = /^(OWNERSHIP\.|WORK\.)/;
const alphabet = eventAlphabet(gatewayMachine, {
  'xstate.done.actor.tryAcquireLease': leaseOutcomes,
  'xstate.done.actor.renewLease': leaseOutcomes,
  'LEASE.LOST': [{ holder: 'other' }],
  // A transient failure (retried) and a configuration this host cannot satisfy (stop).
  'xstate.error.actor.ensureDevice': [
    { error: new Error('NODE_IP is on no link yet') },
    { error: Object.assign(new Error('VXLAN MTU 1450 needs MTU 1500 on eth0, which has 1400'), { code: 'BAD_INPUT' }) },
  ],
  // Ours or free; owned by another installation's live Lease.
  'xstate.done.actor.checkOwnership': [
    { output: { write: true, why: 'unowned', currentOwner: undefined } },
    { output: { write: false, why: 'owned by Lease other-ns/hybrid-gateway-leader, held by gw-x', currentOwner: 'other-ns/hybrid-gateway-leader' } },
  ],
  // A transient failure (backoff), and another installation writing the object since the check.
  'xstate.error.actor.writeVtepConfig': [
    { error: new Error('409 Conflict, retries spent') },
    { error: Object.assign(new Error('CiliumVTEPConfig hybrid-gateway is owned by Lease other-ns/x'), { code: 'OWNED_ELSEWHERE' }) },
  ],
}).filter((e) => !RAISED_WITHIN_A_STEP.test(e.type));
const LEADER_WORK = /checkOwnership|programRouteTables|writeVtepConfig|driftRepairPeriod|RetryDelay|lateWriteCheck|LEADER\.REASSERT|OWNERSHIP|WORK\./;

// Counters (attempts, timestamps) are not states; flags that change behaviour are.
const serializeState = (s: Snapshot): string => {
  const c = s.context;
  return `${JSON.stringify(s.value)}|${[c.shuttingDown, c.routesReassertPending, c.dataPlaneConverged || c.dataPlaneGraceOver, c.routesInPlace && c.vtepConfigInPlace, c.leaderReadyAnnounced].map(Number).join('')}`;
};

function model(events: EventObject[]): TestModel<Snapshot, EventObject, unknown> {
  // A stopped machine takes no events (the actor is done).
  const live = (s: Snapshot): EventObject[] => (s.status === 'done' ? [] : events);
  return new TestModel(gatewayMachine as never, { events: live as never, serializeState: serializeState });
}

const full = model(alphabet);
const shortest = full.getShortestPaths() as unknown as Path[];
const suites: Record<string, Path[]> = {
  'shortest paths (full alphabet)': shortest,
  'transition paths (every transition of the full alphabet)': transitionPaths(
    full as never,
    serializeState,
    (shortest[0] as Path).steps[0]!.state,
  ),
  'simple paths (lifecycle: election, step-down, shutdown)': model(alphabet.filter((e) => !LEADER_WORK.test(e.type))).getSimplePaths(),
};

const visitedStates = new Set<string>();
const takenEvents = new Set<string>();

function replay(path: Path): void {
  const h = gatewayHarness();
  h.actor.start();
  try {
    let before = '';
    let wasLeader = false;
    let passesThisTerm = 0;
    for (const [index, step] of path.steps.entries()) {
      const passesBefore = h.routeStrategies.length;
      if (index > 0) h.actor.send(step.event as never);
      const snap = h.actor.getSnapshot();
      const where = `step ${index} (${step.event.type})`;
      // Only the first route-table pass of a term may write without reading; retries and repairs read first
      // (the first pass may read too: after an ownership conflict at the start of the term).
      if (snap.matches('leader') && !wasLeader) passesThisTerm = 0;
      wasLeader = snap.matches('leader');
      for (const strategy of h.routeStrategies.slice(passesBefore)) {
        if (passesThisTerm > 0) expect(strategy, `${where}: pass ${passesThisTerm + 1} of the term`).toBe('describe-first');
        passesThisTerm += 1;
      }
      expect(serializeState(snap), where).toBe(serializeState(step.state));
      expect([...h.running].sort(), `${where}: effects in flight`).toEqual(expectedEffects(snap));
      expect(h.leaderActive, `${where}: leader announcement`).toBe(snap.matches('leader'));
      if (!snap.matches('leader')) {
        const leaderWrites: EffectName[] = ['checkOwnership', 'programRouteTables', 'writeVtepConfig', 'renewLease', 'watchLeaderObjects'];
        expect(h.announcements, `${where}: leaving leader ran the fence first`).not.toContain('notLeader (unfenced)');
        expect(leaderWrites.filter((e) => h.running.has(e)), `${where}: leader work outside leader`).toEqual([]);
      }
      const now = serializeState(snap);
      if (index > 0 && now !== before) takenEvents.add(step.event.type);
      before = now;
      activeStateIds('gateway', snap.value).forEach((id) => visitedStates.add(id));
    }
    // Leaving `leader` must have aborted whatever leader work was in flight.
    path.steps.forEach((step, i) => {
      const prev = path.steps[i - 1];
      if (prev && prev.state.matches('leader') && !step.state.matches('leader')) {
        const inFlight = expectedEffects(prev.state).filter((e) => e !== 'watchLease' && e !== 'watchDevice');
        for (const e of inFlight) expect(h.aborted, `${e} aborted on leaving leader`).toContain(e);
      }
    });
  } finally {
    h.actor.stop();
  }
  expect([...h.running], 'nothing left in flight after stop').toEqual([]);
}

describe('gateway machine, model-based', () => {
  for (const [name, paths] of Object.entries(suites)) {
    it(`${name}: ${paths.length} paths replay with the expected effects at every step`, () => {
      expect(paths.length).toBeGreaterThan(0);
      paths.forEach(replay);
    });
  }

  it('the paths cover every state node and every event of the machine', () => {
    Object.values(suites).forEach((paths) => paths.forEach(replay));
    const missingStates = stateNodeIds(gatewayMachine).filter((id) => !visitedStates.has(id));
    // Events that only pass something on to the fleet change no state: gateway-timing.test.ts checks where they go.
    const PASSED_ON = /^(NODES\.|DEVICE\.REPAIRED$)/;
    const missingEvents = machineEventTypes(gatewayMachine).filter((t) => !RAISED_WITHIN_A_STEP.test(t) && !PASSED_ON.test(t) && !takenEvents.has(t));
    expect(missingStates).toEqual([]);
    expect(missingEvents).toEqual([]);
  });

  afterAll(() => {
    const counts = Object.entries(suites).map(([n, p]) => `${p.length} ${n}`);
    console.info(`gateway model: ${counts.join('; ')}`);
  });
});
