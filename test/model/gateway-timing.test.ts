// The gateway machine at production's timings (machines/timings.ts), on a
// simulated clock: init stages retried one by one, the renew deadline and the
// prompt retry of an inconclusive renewal, the fence before anything else on
// leaving `leader`, settling and release on the way down, the two work regions
// backing off on their own, the takeover pass and the late-write check, the
// ownership check, and the grace an unconverged data plane gives a converged peer.
import { describe, expect, it } from 'vitest';
import { gatewayHarness, toLeader, type GatewayHarness } from './gateway-harness.js';

const renewed = (h: GatewayHarness) => ({ type: 'xstate.done.actor.renewLease', output: { held: true, outcome: 'renewed', holder: 'me', renewedAt: h.clock.now() } }) as never;
const inconclusive = { type: 'xstate.done.actor.renewLease', output: { held: false, outcome: 'error', error: new Error('503 Service Unavailable') } } as never;
const done = (id: string) => ({ type: `xstate.done.actor.${id}` }) as never;
const failed = (id: string, error: Error) => ({ type: `xstate.error.actor.${id}`, error }) as never;
const granted = (currentOwner?: string) => ({ type: 'xstate.done.actor.checkOwnership', output: { write: true, why: 'owner-expired', currentOwner } }) as never;
const refused = {
  type: 'xstate.done.actor.checkOwnership',
  output: { write: false, why: 'owned by Lease team-b/hybrid-gateway-leader, held by gw-b-0', currentOwner: 'team-b/hybrid-gateway-leader' },
} as never;

function leading(): GatewayHarness {
  const h = gatewayHarness();
  h.actor.start();
  toLeader(h);
  expect(h.actor.getSnapshot().matches('leader')).toBe(true);
  return h;
}

/** Renews every retry period for `ms` of simulated time. */
function keepRenewing(h: GatewayHarness, ms: number): void {
  for (let t = 0; t < ms; t += 1000) {
    h.clock.increment(1000);
    if (h.running.has('renewLease')) h.actor.send(renewed(h));
  }
}

describe('gateway machine at production timings', () => {
  it('init stages run in order, and a failing stage is retried on its own with a growing delay', () => {
    const h = gatewayHarness();
    h.actor.start();
    const stages = (): string[] => [...h.running].filter((e) => e !== 'watchDevice');
    expect(stages()).toEqual(['ensureDevice']);
    h.actor.send(done('ensureDevice'));
    h.actor.send(failed('checkForwarding', new Error('net.ipv4.ip_forward is 0')));
    expect(h.actor.getSnapshot().matches({ initialising: 'forwardingRetry' })).toBe(true);
    h.clock.increment(500);
    expect(stages()).toEqual(['checkForwarding']);
    h.actor.send(failed('checkForwarding', new Error('net.ipv4.ip_forward is 0')));
    h.clock.increment(500);
    expect(stages()).toEqual([]); // the second retry waits 1 s
    h.clock.increment(500);
    expect(stages()).toEqual(['checkForwarding']);
    h.actor.send(done('checkForwarding'));
    expect(stages()).toEqual(['discoverCloud']);
    expect(h.started.filter((e) => e === 'ensureDevice')).toHaveLength(1);
    h.actor.stop();
  });

  it('a configuration the host cannot satisfy stops in failed, naming it', () => {
    const h = gatewayHarness();
    h.actor.start();
    h.actor.send(failed('ensureDevice', Object.assign(new Error('VXLAN MTU 1450 needs 1500 on eth0, which has 1400'), { code: 'BAD_INPUT' })));
    const s = h.actor.getSnapshot();
    expect(s.value).toBe('failed');
    expect(s.context.lastError).toMatch(/needs 1500/);
    expect(h.announcements).toContain('failed');
  });

  it('a standby tries to acquire once per retry period', () => {
    const h = gatewayHarness();
    h.actor.start();
    for (const id of ['ensureDevice', 'checkForwarding', 'discoverCloud']) h.actor.send(done(id));
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    expect(h.actor.getSnapshot().matches({ electing: 'acquiring' })).toBe(true);
    h.actor.send({ type: 'xstate.done.actor.tryAcquireLease', output: { held: false, outcome: 'held-by-other', holder: 'gw-b' } });
    h.clock.increment(999);
    expect(h.actor.getSnapshot().matches({ electing: 'standby' })).toBe(true);
    h.clock.increment(1);
    expect(h.actor.getSnapshot().matches({ electing: 'acquiring' })).toBe(true);
    h.actor.stop();
  });

  it('an unconverged data plane does not compete for the lease until the grace period is over (a converged peer wins)', () => {
    const h = gatewayHarness();
    h.actor.start();
    for (const id of ['ensureDevice', 'checkForwarding', 'discoverCloud']) h.actor.send(done(id));
    h.actor.send({ type: 'LEASE.FREE' });
    h.clock.increment(4000);
    expect(h.started).not.toContain('tryAcquireLease');
    expect(h.actor.getSnapshot().matches({ electing: 'standby' })).toBe(true);
    h.clock.increment(1000); // 5 s after start: two fresh pods still elect
    expect(h.actor.getSnapshot().matches({ electing: 'acquiring' })).toBe(true);
    h.actor.stop();
  });

  it('a leader that cannot renew: fence first, writes aborted, then settling and release at the renew deadline', () => {
    const h = leading();
    h.clock.increment(1000); // renew interval: a renewal starts and hangs
    expect(h.running.has('renewLease')).toBe(true);
    // The round's deadline: 2 s from its start, which is also where the lease acquired at 0 runs out.
    h.clock.increment(1999);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.clock.increment(1);
    const snap = h.actor.getSnapshot();
    expect(snap.matches({ steppingDown: 'settling' })).toBe(true);
    expect(snap.context.stepDownCause).toBe('renew-deadline');
    // The announcement (log line, Event, trace) knows the cause: exit actions run before the transition's.
    expect(h.notLeaderCauses).toEqual(['renew-deadline']);
    expect(h.aborted).toEqual(expect.arrayContaining(['renewLease', 'programRouteTables', 'writeVtepConfig']));
    const after = h.announcements.slice(h.announcements.indexOf('leader'));
    expect(after.indexOf('fence')).toBeLessThan(after.indexOf('notLeader'));
    expect(h.announcements).not.toContain('notLeader (unfenced)');
    h.actor.send(done('settleWrites'));
    expect(h.running.has('releaseLease')).toBe(true);
    h.actor.stop();
  });

  it('a slow renewal does not shorten the next round: it starts a retry period after the slow one was sent and has the whole renew deadline', () => {
    const h = leading();
    h.clock.increment(1000); // a renewal is sent at 1000 …
    const sentAt = h.clock.now();
    h.clock.increment(700); // … and EC2-slow: answered 700 ms later
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: true, outcome: 'renewed', holder: 'me', renewedAt: sentAt } });
    expect(h.actor.getSnapshot().matches({ leader: { lease: 'waiting' } })).toBe(true);
    h.clock.increment(299);
    expect(h.running.has('renewLease')).toBe(false);
    h.clock.increment(1); // 2000: a retry period after the last send, not after the answer (2700)
    expect(h.running.has('renewLease')).toBe(true);
    // This round hangs: it keeps trying for the whole renew deadline, to 4000, where the lease sent at 1000 ends.
    h.clock.increment(1999);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.clock.increment(1);
    expect(h.actor.getSnapshot().matches({ steppingDown: 'settling' })).toBe(true);
    expect(h.actor.getSnapshot().context.stepDownCause).toBe('renew-deadline');
    h.actor.stop();
  });

  it('a round never outlives the lease it renews: after a round trip longer than the retry period the next round starts at once, with what is left of the lease', () => {
    const h = leading();
    h.clock.increment(1000);
    const sentAt = h.clock.now();
    h.clock.increment(1500); // answered at 2500, 1.5 s after it was sent
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: true, outcome: 'renewed', holder: 'me', renewedAt: sentAt } });
    h.clock.increment(0);
    expect(h.running.has('renewLease')).toBe(true); // due at 2000, already past
    // The lease sent at 1000 is this pod's until 4000: the round gives up there, not at 2500 + 2000.
    h.clock.increment(1499);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.clock.increment(1);
    expect(h.actor.getSnapshot().matches({ steppingDown: 'settling' })).toBe(true);
    h.actor.stop();
  });

  it('one inconclusive renewal (a 5xx) at the defaults does not step the leader down: it is retried 250 ms later', () => {
    const h = leading();
    h.clock.increment(1000);
    h.actor.send(inconclusive);
    expect(h.actor.getSnapshot().matches({ leader: { lease: 'retrying' } })).toBe(true);
    h.clock.increment(250);
    expect(h.running.has('renewLease')).toBe(true);
    h.actor.send(inconclusive); // a second one within the deadline
    h.clock.increment(250);
    h.actor.send(renewed(h));
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    // The deadline restarted from that renewal.
    keepRenewing(h, 5000);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.actor.stop();
  });

  it('an inconclusive renewal while the lease is still locally valid (what LeaseLock reports after a 5xx or 409) is retried 250 ms later, not a renew interval later', () => {
    const h = leading();
    h.clock.increment(1000);
    // LeaseLock's answer to a 500 on a renewal: outcome error, but held (the last confirmed renewal still stands).
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: true, outcome: 'error', holder: 'me', renewedAt: 0, error: new Error('500 InternalError') } });
    expect(h.actor.getSnapshot().matches({ leader: { lease: 'retrying' } })).toBe(true);
    h.clock.increment(250);
    expect(h.running.has('renewLease')).toBe(true);
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: true, outcome: 'conflict', holder: 'me', renewedAt: 0 } });
    expect(h.actor.getSnapshot().matches({ leader: { lease: 'retrying' } })).toBe(true);
    h.clock.increment(250);
    h.actor.send(renewed(h));
    expect(h.actor.getSnapshot().matches({ leader: { lease: 'waiting' } })).toBe(true);
    keepRenewing(h, 5000);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.actor.stop();
  });

  it('a renewal that finds another holder returns to electing without releasing', () => {
    const h = leading();
    h.clock.increment(1000);
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: false, outcome: 'held-by-other', holder: 'gw-b' } });
    const s = h.actor.getSnapshot();
    expect(s.matches('electing')).toBe(true);
    expect(s.context.stepDownCause).toBe('lease-lost');
    expect(h.notLeaderCauses).toEqual(['lease-lost']);
    expect(h.started).not.toContain('releaseLease');
    h.actor.stop();
  });

  it('SIGTERM while leading: fence, settle the aborted writes, release, stop; the cause is shutdown and no stale error', () => {
    const h = leading();
    h.actor.send(failed('programRouteTables', new Error('throttled')));
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.actor.getSnapshot().context.stepDownCause).toBe('shutdown');
    expect(h.notLeaderCauses).toEqual(['shutdown']);
    h.actor.send(done('settleWrites'));
    h.actor.send(done('releaseLease'));
    expect(h.actor.getSnapshot().status).toBe('done');
    // The shard stops first; the gateway with its last shard.
    expect(h.announcements.slice(-4)).toEqual(['fence', 'notLeader', 'shardStopped', 'stopped']);
    // A new term starts without the last term's error.
    const h2 = leading();
    expect(h2.actor.getSnapshot().context.lastError).toBeUndefined();
    h2.actor.stop();
  });

  it('settling and release are bounded: a hang is given up after its timeout', () => {
    const h = leading();
    h.actor.send({ type: 'SHUTDOWN' });
    h.clock.increment(1000); // settle timeout
    expect(h.running.has('releaseLease')).toBe(true);
    h.clock.increment(2000); // release timeout (the renew deadline)
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.aborted).toEqual(expect.arrayContaining(['settleWrites', 'releaseLease']));
  });

  it('the first route pass writes first; one EC2 request timeout later it looks again (describe-first) for a late write of the old leader', () => {
    const h = leading();
    expect(h.routeStrategies).toEqual(['write-first']);
    h.actor.send(done('programRouteTables'));
    h.actor.send(done('writeVtepConfig'));
    expect(h.announcements.filter((a) => a === 'leaderReady')).toHaveLength(1);
    keepRenewing(h, 9000);
    expect(h.actor.getSnapshot().matches({ leader: { routeTables: 'awaitingLateWrites' } })).toBe(true);
    keepRenewing(h, 1000);
    expect(h.actor.getSnapshot().matches({ leader: { routeTables: 'reasserting' } })).toBe(true);
    expect(h.routeStrategies).toEqual(['write-first', 'describe-first']);
    h.actor.send(done('programRouteTables'));
    expect(h.actor.getSnapshot().matches({ leader: { routeTables: 'inPlace' } })).toBe(true);
    // Leader ready is announced once per term, not on every pass.
    keepRenewing(h, 30_000);
    h.actor.send(done('programRouteTables'));
    h.actor.send(done('writeVtepConfig'));
    expect(h.announcements.filter((a) => a === 'leaderReady')).toHaveLength(1);
    h.actor.stop();
  });

  it('a failing CiliumVTEPConfig (e.g. its CRD missing) does not hold up the route tables, and the other way round', () => {
    const h = leading();
    h.actor.send(failed('writeVtepConfig', new Error('404 the server could not find the requested resource')));
    expect(h.actor.getSnapshot().matches({ leader: { vtepConfig: 'backoff' } })).toBe(true);
    expect(h.running.has('programRouteTables')).toBe(true);
    h.actor.send(done('programRouteTables'));
    expect(h.actor.getSnapshot().matches({ leader: { routeTables: 'awaitingLateWrites' } })).toBe(true);
    h.clock.increment(200); // vtep backoff (200 ms), then ownership again
    expect(h.running.has('checkOwnership')).toBe(true);
    h.actor.send(granted());
    h.actor.send(failed('writeVtepConfig', new Error('404 again')));
    h.clock.increment(400);
    h.actor.send(granted());
    h.actor.send(done('writeVtepConfig'));
    expect(h.announcements).toContain('leaderReady');
    // Route repair fails and backs off; the CiliumVTEPConfig stays in place.
    h.clock.increment(400);
    h.actor.send(renewed(h));
    h.clock.increment(1000);
    h.actor.send(renewed(h));
    keepRenewing(h, 8000); // 10 s after the first pass: the late-write check runs
    h.actor.send(failed('programRouteTables', new Error('RequestLimitExceeded')));
    const s = h.actor.getSnapshot();
    expect(s.matches({ leader: { routeTables: 'backoff' } })).toBe(true);
    expect(s.matches({ leader: { vtepConfig: 'inPlace' } })).toBe(true);
    h.actor.stop();
  });

  it("another installation's live owner: nothing shared is written, looked at again each drift period; granted, the routes are reasserted", () => {
    const h = gatewayHarness();
    h.actor.start();
    for (const id of ['ensureDevice', 'checkForwarding', 'discoverCloud']) h.actor.send(done(id));
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    h.actor.send({ type: 'xstate.done.actor.tryAcquireLease', output: { held: true, outcome: 'acquired', holder: 'me', renewedAt: 0 } });
    expect(h.running.has('checkOwnership')).toBe(true);
    expect(h.running.has('programRouteTables')).toBe(false);
    h.actor.send(refused);
    let s = h.actor.getSnapshot();
    expect(s.matches({ leader: { vtepConfig: 'ownedElsewhere', routeTables: 'held' } })).toBe(true);
    expect(s.context.lastError).toMatch(/held by gw-b-0/);
    expect(h.announcements).toContain('ownershipConflict');
    keepRenewing(h, 29_000);
    expect(h.started).not.toContain('programRouteTables');
    expect(h.started).not.toContain('writeVtepConfig');
    keepRenewing(h, 1000);
    expect(h.running.has('checkOwnership')).toBe(true);
    h.actor.send(granted('team-b/hybrid-gateway-leader'));
    s = h.actor.getSnapshot();
    expect(h.announcements).toContain('ownershipResolved');
    expect(s.matches({ leader: { routeTables: 'reasserting' } })).toBe(true);
    expect(h.routeStrategies).toEqual(['describe-first']);
    expect(h.replaceableOwners).toEqual(['team-b/hybrid-gateway-leader']);
    h.actor.stop();
  });

  it('a write that meets another owner (taken since the check) holds the route tables too instead of retrying', () => {
    const h = leading();
    h.actor.send(done('programRouteTables'));
    h.actor.send(failed('writeVtepConfig', Object.assign(new Error('CiliumVTEPConfig hybrid-gateway is owned by Lease team-b/x'), { code: 'OWNED_ELSEWHERE' })));
    const s = h.actor.getSnapshot();
    expect(s.matches({ leader: { vtepConfig: 'ownedElsewhere', routeTables: 'held' } })).toBe(true);
    h.clock.increment(500);
    expect(h.started.filter((e) => e === 'writeVtepConfig')).toHaveLength(1);
    h.actor.send({ type: 'LEADER.REASSERT', reason: 'CiliumVTEPConfig differs' });
    expect(h.actor.getSnapshot().matches({ leader: { vtepConfig: 'checkingOwnership' } })).toBe(true);
    h.actor.stop();
  });

  it('the root owns the data plane: the desired set goes to the fleet, device ready and device repaired tell it, and its convergence lets the gateway compete', () => {
    const h = gatewayHarness();
    h.actor.start();
    expect(h.running.has('watchDevice')).toBe(true);
    h.actor.send({ type: 'NODES.SYNCED', vteps: [] });
    h.actor.send(done('ensureDevice'));
    h.actor.send({ type: 'NODES.CHANGED', upserts: [], removes: ['hyb-1'] });
    h.actor.send({ type: 'DEVICE.REPAIRED' });
    expect(h.fleetEvents.map((e) => e.type)).toEqual(['NODES.SYNCED', 'DATAPLANE.READY', 'NODES.CHANGED', 'RESYNC']);
    h.actor.send(done('checkForwarding'));
    h.actor.send(done('discoverCloud'));
    expect(h.actor.getSnapshot().matches({ electing: 'standby' })).toBe(true);
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    expect(h.actor.getSnapshot().matches({ electing: 'acquiring' })).toBe(true);
    h.actor.send({ type: 'SHUTDOWN' });
    h.actor.send(done('settleWrites'));
    h.actor.send(done('releaseLease'));
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.aborted).toContain('watchDevice');
  });
});
