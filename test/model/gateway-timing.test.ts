// The gateway's named delays on a simulated clock: the renew deadline fences a
// leader that stops renewing, a renewal restarts it, the standby retries each
// retry period, and stepping down does not wait forever for the release.
import { describe, expect, it } from 'vitest';
import { gatewayHarness } from './gateway-harness.js';

const won = { type: 'xstate.done.actor.tryAcquireLease', output: { held: true, holder: 'me', renewedAt: 0 } } as const;
const free = (currentOwner?: string) => ({ type: 'xstate.done.actor.checkOwnership', output: { write: true, why: 'owner-expired', currentOwner } }) as never;
const ownedElsewhere = {
  type: 'xstate.done.actor.checkOwnership',
  output: { write: false, why: 'owned by Lease team-b/hybrid-gateway-leader, held by gw-b-0', currentOwner: 'team-b/hybrid-gateway-leader' },
} as never;

function toLeader() {
  const h = gatewayHarness();
  h.actor.start();
  h.actor.send({ type: 'xstate.done.actor.initialise' } as never);
  h.actor.send({ type: 'LEASE.FREE' });
  h.actor.send(won as never);
  expect(h.actor.getSnapshot().matches('leader')).toBe(true);
  h.actor.send(free());
  return h;
}

describe('gateway delays', () => {
  it('a standby tries to acquire once per retry period', () => {
    const h = gatewayHarness();
    h.actor.start();
    h.actor.send({ type: 'xstate.done.actor.initialise' } as never);
    h.clock.increment(999);
    expect(h.actor.getSnapshot().matches({ electing: 'standby' })).toBe(true);
    h.clock.increment(1);
    expect(h.actor.getSnapshot().matches({ electing: 'acquiring' })).toBe(true);
    h.actor.stop();
  });

  it('a leader that cannot renew steps down at the renew deadline and aborts its writes first', () => {
    const h = toLeader();
    h.clock.increment(1000); // retry period: a renewal starts and hangs
    expect(h.running.has('renewLease')).toBe(true);
    h.clock.increment(999);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.clock.increment(1);
    const snap = h.actor.getSnapshot();
    expect(snap.matches('steppingDown')).toBe(true);
    expect(snap.context.stepDownCause).toBe('renew-deadline');
    expect(h.aborted).toEqual(expect.arrayContaining(['renewLease', 'programRouteTables', 'writeVtepConfig']));
    expect(h.announcements.indexOf('notLeader')).toBeGreaterThan(h.announcements.indexOf('leader'));
    h.actor.stop();
  });

  it('each successful renewal restarts the renew deadline', () => {
    const h = toLeader();
    for (let i = 0; i < 5; i += 1) {
      h.clock.increment(1000);
      h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: true, holder: 'me', renewedAt: h.clock.now() } } as never);
    }
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.clock.increment(1000); // renewal starts, never answers
    h.clock.increment(1000);
    expect(h.actor.getSnapshot().matches('steppingDown')).toBe(true);
    h.actor.stop();
  });

  it('an inconclusive renewal (API error) keeps leading until the renew deadline', () => {
    const h = toLeader();
    h.clock.increment(1000);
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: false, outcome: 'error' } } as never);
    expect(h.actor.getSnapshot().matches({ leader: { lease: 'waiting' } })).toBe(true);
    h.clock.increment(999);
    expect(h.actor.getSnapshot().matches('leader')).toBe(true);
    h.clock.increment(1);
    expect(h.actor.getSnapshot().matches('steppingDown')).toBe(true);
    h.actor.stop();
  });

  it('a renewal that finds another holder returns to electing without releasing', () => {
    const h = toLeader();
    h.clock.increment(1000);
    h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: false, holder: 'other' } } as never);
    const snap = h.actor.getSnapshot();
    expect(snap.matches({ electing: 'standby' })).toBe(true);
    expect(snap.context.leaseHolder).toBe('other');
    expect(h.started).not.toContain('releaseLease');
    h.actor.stop();
  });

  it('SIGTERM while leading: fence, release, stop', () => {
    const h = toLeader();
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.actor.getSnapshot().matches('steppingDown')).toBe(true);
    expect(h.running.has('programRouteTables')).toBe(false);
    expect(h.running.has('releaseLease')).toBe(true);
    h.actor.send({ type: 'xstate.done.actor.releaseLease' } as never);
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.announcements.at(-1)).toBe('stopped');
  });

  it('a release that hangs is given up after the release timeout', () => {
    const h = toLeader();
    h.actor.send({ type: 'SHUTDOWN' });
    h.clock.increment(1000);
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.aborted).toContain('releaseLease');
  });

  it('leader work is retried after a failure, then announced ready', () => {
    const h = toLeader();
    h.actor.send({ type: 'xstate.done.actor.programRouteTables' } as never);
    h.actor.send({ type: 'xstate.error.actor.writeVtepConfig', error: new Error('409') } as never);
    expect(h.actor.getSnapshot().matches({ leader: { work: 'backoff' } })).toBe(true);
    expect(h.actor.getSnapshot().context.lastError).toBe('409');
    // Keep the lease alive while time passes.
    h.clock.increment(500);
    expect(h.actor.getSnapshot().matches({ leader: { work: 'checkingOwnership' } })).toBe(true);
    h.actor.send(free());
    expect(h.actor.getSnapshot().matches({ leader: { work: 'asserting' } })).toBe(true);
    h.actor.send({ type: 'xstate.done.actor.programRouteTables' } as never);
    h.actor.send({ type: 'xstate.done.actor.writeVtepConfig' } as never);
    expect(h.actor.getSnapshot().matches({ leader: { work: 'asserted' } })).toBe(true);
    expect(h.announcements).toContain('leaderReady');
    h.actor.stop();
  });

  it('a re-assert asked during leader work runs the work once more', () => {
    const h = toLeader();
    h.actor.send({ type: 'LEADER.REASSERT', reason: 'CiliumVTEPConfig deleted' });
    h.actor.send({ type: 'xstate.done.actor.programRouteTables' } as never);
    h.actor.send({ type: 'xstate.done.actor.writeVtepConfig' } as never);
    expect(h.actor.getSnapshot().matches({ leader: { work: 'asserting' } })).toBe(true);
    expect(h.started.filter((e) => e === 'writeVtepConfig')).toHaveLength(2);
    h.actor.stop();
  });

  it('a leader that finds the CiliumVTEPConfig owned by another live installation writes nothing shared, and looks again each drift period', () => {
    const h = gatewayHarness();
    h.actor.start();
    h.actor.send({ type: 'xstate.done.actor.initialise' } as never);
    h.actor.send({ type: 'LEASE.FREE' });
    h.actor.send(won as never);
    expect(h.running.has('checkOwnership')).toBe(true);
    expect(h.running.has('programRouteTables')).toBe(false);
    h.actor.send(ownedElsewhere);
    const snap = h.actor.getSnapshot();
    expect(snap.matches({ leader: { work: 'ownedElsewhere' } })).toBe(true);
    expect(snap.context.lastError).toMatch(/held by gw-b-0/);
    expect(h.announcements).toContain('ownershipConflict');
    expect(h.started).not.toContain('programRouteTables');
    expect(h.started).not.toContain('writeVtepConfig');
    // Still the leader of its own Lease: renewals go on through the drift period (60 s in the harness).
    for (let i = 0; i < 59; i += 1) {
      h.clock.increment(1000);
      h.actor.send({ type: 'xstate.done.actor.renewLease', output: { held: true, holder: 'me', renewedAt: h.clock.now() } } as never);
    }
    expect(h.actor.getSnapshot().matches({ leader: { work: 'ownedElsewhere' } })).toBe(true);
    h.clock.increment(1000);
    expect(h.actor.getSnapshot().matches({ leader: { work: 'checkingOwnership' } })).toBe(true);
    h.actor.send(free('team-b/hybrid-gateway-leader'));
    expect(h.announcements).toContain('ownershipResolved');
    expect(h.actor.getSnapshot().matches({ leader: { work: 'asserting' } })).toBe(true);
    // The first write may replace the expired owner's annotation; later ones only our own.
    h.actor.send({ type: 'xstate.done.actor.programRouteTables' } as never);
    h.actor.send({ type: 'xstate.done.actor.writeVtepConfig' } as never);
    // A change of the object: who owns it is looked at again before the next write.
    h.actor.send({ type: 'LEADER.REASSERT', reason: 'CiliumVTEPConfig differs' });
    expect(h.actor.getSnapshot().matches({ leader: { work: 'checkingOwnership' } })).toBe(true);
    h.actor.send({ type: 'xstate.done.actor.checkOwnership', output: { write: true, why: 'ours', currentOwner: 'gateway/hybrid-gateway-leader' } } as never);
    expect(h.replaceableOwners).toEqual(['team-b/hybrid-gateway-leader', 'gateway/hybrid-gateway-leader']);
    h.actor.stop();
  });

  it('a CiliumVTEPConfig write that meets another owner (taken since the check) stops the leader work instead of retrying it', () => {
    const h = toLeader();
    h.actor.send({ type: 'xstate.done.actor.programRouteTables' } as never);
    h.actor.send({
      type: 'xstate.error.actor.writeVtepConfig',
      error: Object.assign(new Error('CiliumVTEPConfig hybrid-gateway is owned by Lease team-b/x'), { code: 'OWNED_ELSEWHERE' }),
    } as never);
    expect(h.actor.getSnapshot().matches({ leader: { work: 'ownedElsewhere' } })).toBe(true);
    h.clock.increment(500); // no backoff retry
    expect(h.actor.getSnapshot().matches({ leader: { work: 'ownedElsewhere' } })).toBe(true);
    expect(h.started.filter((e) => e === 'writeVtepConfig')).toHaveLength(1);
    h.actor.send({ type: 'LEADER.REASSERT', reason: 'CiliumVTEPConfig differs' });
    expect(h.actor.getSnapshot().matches({ leader: { work: 'checkingOwnership' } })).toBe(true);
    h.actor.stop();
  });
});
