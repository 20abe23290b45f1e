// With more than one shard, at production's timings on a simulated clock: the
// root joins the membership only once its data plane converged and leaves it
// first on SIGTERM; placement tells each shard whether to compete now or give
// the preferred gateway the takeover grace; a shard leader hands over to the
// preferred gateway once that one is seen alive after the term began and the
// term's writes are in place, and not before.
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { shardId } from '../../machines/gateway.machine.js';
import { gatewayHarness, type GatewayHarness } from './gateway-harness.js';

const done = (id: string) => ({ type: `xstate.done.actor.${id}` }) as never;
const won = (h: GatewayHarness) => ({ type: 'xstate.done.actor.tryAcquireLease', output: { held: true, outcome: 'acquired', holder: 'me', renewedAt: h.clock.now() } }) as never;
const lost = { type: 'xstate.done.actor.tryAcquireLease', output: { held: false, outcome: 'held-by-other', holder: 'gw-b' } } as never;
const granted = { type: 'xstate.done.actor.checkOwnership', output: { write: true, why: 'ours', currentOwner: undefined } } as never;

function shardOf(h: GatewayHarness, k: number): AnyActorRef {
  const ref = (h.actor.root.getSnapshot().children as Record<string, AnyActorRef | undefined>)[shardId(k)];
  if (ref === undefined) throw new Error(`no shard ${k}`);
  return ref;
}
const stateOf = (h: GatewayHarness, k: number) => shardOf(h, k).getSnapshot() as { value: unknown; matches(v: unknown): boolean; context: { preferred: boolean; stepDownCause?: string } };

function serving(): GatewayHarness {
  const h = gatewayHarness({ shards: 2 });
  h.actor.start();
  for (const id of ['ensureDevice', 'checkForwarding', 'discoverCloud']) h.actor.send(done(id));
  return h;
}

/** Shard 0 leading with both writes in place (the route pass and the CiliumVTEPConfig write done). */
function leadingShard0(h: GatewayHarness): void {
  h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: true });
  shardOf(h, 0).send(won(h));
  shardOf(h, 0).send(granted);
  shardOf(h, 0).send(done('writeVtepConfig'));
  shardOf(h, 0).send(done('programRouteTables'));
  expect(stateOf(h, 0).matches({ leader: { vtepConfig: 'inPlace', routeTables: 'awaitingLateWrites' } })).toBe(true);
}

describe('shards: membership, placement and hand-over at production timings', () => {
  it('a gateway joins the membership only once its data plane converged; until then every shard is not preferred', () => {
    const h = serving();
    expect(h.actor.root.getSnapshot().matches({ serving: 'unjoined' })).toBe(true);
    expect(h.running.has('holdMembership')).toBe(false);
    expect([stateOf(h, 0).context.preferred, stateOf(h, 1).context.preferred]).toEqual([false, false]);
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    expect(h.actor.root.getSnapshot().matches({ serving: 'member' })).toBe(true);
    expect(h.running.has('holdMembership') && h.running.has('watchPlacement')).toBe(true);
    // Both shards compete now, as a gateway that placement does not prefer: their attempts yield.
    expect(h.acquireInputs).toEqual([
      { shard: 0, yieldToPreferred: true },
      { shard: 1, yieldToPreferred: true },
    ]);
    h.actor.stop();
  });

  it('placement preferring this gateway: a standby shard competes at once, without yielding; the other shard stays', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    for (const k of [0, 1]) shardOf(h, k).send(lost);
    h.acquireInputs.length = 0;
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 1, preferred: true });
    expect(stateOf(h, 1).matches({ electing: 'acquiring' })).toBe(true);
    expect(stateOf(h, 0).matches({ electing: 'standby' })).toBe(true);
    expect(h.acquireInputs).toEqual([{ shard: 1, yieldToPreferred: false }]);
    h.actor.stop();
  });

  it('hand-over: the preferred gateway seen alive after the term began, the writes in place → fence, settle, release; back to standby', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    leadingShard0(h);
    const termStartedAt = h.clock.now();
    h.clock.increment(500);
    // A member seen before this term (its Lease has yet to lapse): not a reason to hand over.
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: false, preferredAliveAt: termStartedAt - 1 });
    expect(stateOf(h, 0).matches('leader')).toBe(true);
    // Seen alive since: it is back. The shard steps down, the cause says why.
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: false, preferredAliveAt: h.clock.now() });
    expect(stateOf(h, 0).matches({ steppingDown: 'settling' })).toBe(true);
    expect(stateOf(h, 0).context.stepDownCause).toBe('hand-over');
    expect(h.notLeaderCauses).toEqual(['hand-over']);
    shardOf(h, 0).send(done('settleWrites'));
    expect(h.running.has('releaseLease')).toBe(true);
    shardOf(h, 0).send(done('releaseLease'));
    expect(stateOf(h, 0).matches({ electing: 'standby' })).toBe(true);
    // Not preferred: it does not compete on its retry period…
    h.acquireInputs.length = 0;
    h.clock.increment(1000);
    // …but if it does look (the Lease free), it yields to the preferred gateway.
    expect(h.acquireInputs.every((i) => i.yieldToPreferred)).toBe(true);
    h.actor.stop();
  });

  it('asked to hand over while the term’s writes are still going out: it hands over when they are in, not before', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: true });
    shardOf(h, 0).send(won(h));
    shardOf(h, 0).send(granted);
    h.clock.increment(100);
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: false, preferredAliveAt: h.clock.now() });
    expect(stateOf(h, 0).matches('leader')).toBe(true);
    shardOf(h, 0).send(done('writeVtepConfig'));
    expect(stateOf(h, 0).matches('leader')).toBe(true);
    shardOf(h, 0).send(done('programRouteTables'));
    expect(stateOf(h, 0).matches({ steppingDown: 'settling' })).toBe(true);
    expect(stateOf(h, 0).context.stepDownCause).toBe('hand-over');
    h.actor.stop();
  });

  it('SIGTERM with two shards: the member Lease is left first, then both shards step down; the gateway stops after the last', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    leadingShard0(h);
    shardOf(h, 1).send(lost);
    h.actor.send({ type: 'SHUTDOWN' });
    expect(h.actor.root.getSnapshot().matches({ stopping: 'leaving' })).toBe(true);
    expect(h.running.has('leaveMembership')).toBe(true);
    expect(h.running.has('holdMembership')).toBe(false);
    // The shards are not told yet: the others must stop preferring this gateway first.
    expect(stateOf(h, 0).matches('leader')).toBe(true);
    h.actor.send(done('leaveMembership'));
    expect(stateOf(h, 0).matches({ steppingDown: 'settling' })).toBe(true);
    expect(stateOf(h, 1).value).toBe('stopped');
    expect(h.actor.getSnapshot().status).toBe('active');
    shardOf(h, 0).send(done('settleWrites'));
    shardOf(h, 0).send(done('releaseLease'));
    expect(h.actor.getSnapshot().status).toBe('done');
  });

  it('leaving is bounded: a member Lease delete that hangs is given up after the settle timeout', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    for (const k of [0, 1]) shardOf(h, k).send(lost);
    h.actor.send({ type: 'SHUTDOWN' });
    h.clock.increment(999);
    expect(h.actor.root.getSnapshot().matches({ stopping: 'leaving' })).toBe(true);
    h.clock.increment(1);
    // Given up: the shards are told to step down.
    expect(h.actor.root.getSnapshot().matches({ stopping: 'leaving' })).toBe(false);
    for (const k of [0, 1]) expect(stateOf(h, k).context.stepDownCause).toBe('shutdown');
    h.actor.stop();
  });

  it('a member Lease delete that fails does not hold SIGTERM up: the shards step down at once', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    for (const k of [0, 1]) shardOf(h, k).send(lost);
    h.actor.send({ type: 'SHUTDOWN' });
    h.actor.send({ type: 'xstate.error.actor.leaveMembership', error: new Error('503') });
    expect(h.actor.root.getSnapshot().matches({ stopping: 'leaving' })).toBe(false);
    expect(h.actor.getSnapshot().status).toBe('done'); // both shards stood by: they stop at once
  });

  it('a hand edit of the shard’s endpoints (ENDPOINTS_EDITED): the same write again, taking them back; drift repaired without backing off', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 0, preferred: true });
    shardOf(h, 0).send(won(h));
    shardOf(h, 0).send(granted);
    const edited = Object.assign(new Error('CiliumVTEPConfig endpoints edited by kubectl-edit'), { code: 'ENDPOINTS_EDITED' });
    shardOf(h, 0).send({ type: 'xstate.error.actor.writeVtepConfig', error: edited });
    expect(stateOf(h, 0).matches({ leader: { vtepConfig: 'reclaiming' } })).toBe(true);
    expect(h.running.has('writeVtepConfig')).toBe(true);
    expect(h.reclaims).toEqual([false, true]);
    shardOf(h, 0).send(done('writeVtepConfig'));
    expect(stateOf(h, 0).matches({ leader: { vtepConfig: 'inPlace' } })).toBe(true);
    h.actor.stop();
  });

  it('an attempt yielding to the preferred gateway, when this one becomes preferred meanwhile (the holder lapsed): tried again at once, without yielding', () => {
    const h = serving();
    h.actor.send({ type: 'DATAPLANE.CONVERGED' });
    expect(stateOf(h, 1).matches({ electing: 'acquiring' })).toBe(true);
    expect(h.acquireInputs.at(-1)).toEqual({ shard: 1, yieldToPreferred: true });
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 1, preferred: true });
    expect(stateOf(h, 1).matches({ electing: 'acquiring' })).toBe(true);
    expect(h.aborted).toContain('tryAcquireLease');
    expect(h.acquireInputs.at(-1)).toEqual({ shard: 1, yieldToPreferred: false });
    // Told again that it is preferred: nothing to restart.
    const attempts = h.acquireInputs.length;
    h.actor.send({ type: 'PLACEMENT.CHANGED', shard: 1, preferred: true });
    expect(h.acquireInputs).toHaveLength(attempts);
    h.actor.stop();
  });
});
