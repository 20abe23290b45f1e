// The xstate actor wrappers: a parent machine receives LEASE.FREE / LEASE.LOST
// from the lease watch, attempts resolve with the machine's LeaseOutcome
// fields, and stopping a writeVtepConfig actor fences its write.
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { KubeFencedError, LeaseLock, leaseAttemptActor, leaseWatchActor, VtepConfigClient, vtepUpsertActor, type LeaseWatchEvent } from '../../effects/kube/index.js';
import { startLab, waitFor, type Lab } from './helpers.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.server.close();
  lab = undefined;
});

describe('kube actors', () => {
  it('leaseWatchActor sends LEASE.FREE and LEASE.LOST to its parent', async () => {
    lab = await startLab();
    const mine = new LeaseLock({ clients: lab.newClients(), namespace: 'kube-system', name: 'l', identity: 'gw-a', leaseDurationMs: 2000 });
    const other = new LeaseLock({ clients: lab.newClients(), namespace: 'kube-system', name: 'l', identity: 'gw-b', leaseDurationMs: 2000 });
    const parent = setup({
      types: { context: {} as { seen: string[] }, events: {} as LeaseWatchEvent },
      actors: { watchLease: leaseWatchActor(mine) },
    }).createMachine({
      context: { seen: [] },
      invoke: { src: 'watchLease' },
      on: {
        'LEASE.FREE': { actions: assign({ seen: ({ context }) => [...context.seen, 'FREE'] }) },
        'LEASE.LOST': { actions: assign({ seen: ({ context, event }) => [...context.seen, `LOST:${event.holder ?? ''}`] }) },
      },
    });
    const actor = createActor(parent).start();
    try {
      await waitFor(() => actor.getSnapshot().context.seen.includes('FREE'), 'FREE for an absent lease');
      await other.tryAcquireOrRenew();
      await waitFor(() => actor.getSnapshot().context.seen.includes('LOST:gw-b'), 'LOST when another holds it');
      await other.release();
      await waitFor(() => actor.getSnapshot().context.seen.filter((s) => s === 'FREE').length === 2, 'FREE after release');
    } finally {
      actor.stop();
    }
    await waitFor(() => lab!.server.openWatches === 0, 'watch closed when the actor stops');
  });

  it('leaseAttemptActor resolves with held, holder and renewedAt', async () => {
    lab = await startLab();
    const lock = new LeaseLock({ clients: lab.clients, namespace: 'kube-system', name: 'l', identity: 'gw-a', leaseDurationMs: 2000 });
    const before = performance.now();
    const actor = createActor(leaseAttemptActor(lock)).start();
    await waitFor(() => actor.getSnapshot().status === 'done', 'attempt');
    const out = actor.getSnapshot().output!;
    expect(out).toMatchObject({ held: true, holder: 'gw-a', outcome: 'acquired' });
    expect(out.renewedAt).toBeGreaterThanOrEqual(before);
    expect(out.heldUntil! - out.renewedAt!).toBe(2000);
  });

  it('stopping a writeVtepConfig actor aborts (fences) its write', async () => {
    lab = await startLab();
    const client = new VtepConfigClient({ clients: lab.clients });
    lab.server.faults.set({ latencyMs: 5000, match: (r) => r.method === 'POST' });
    const actor = createActor(vtepUpsertActor(client, () => [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.1', cidr: '198.51.100.0/24', mac: '02:00:00:00:00:01' }]));
    let error: unknown;
    actor.subscribe({ error: (e) => (error = e) });
    actor.start();
    await waitFor(() => lab!.server.requests.some((r) => r.method === 'GET') && lab!.server.inFlight > 0, 'POST held by the server');
    actor.stop();
    expect(actor.getSnapshot().status).toBe('stopped');
    expect(error === undefined || error instanceof KubeFencedError).toBe(true);
    // The POST was aborted while the server held it: once the server is done, nothing was stored.
    await waitFor(() => lab!.server.inFlight === 0, 'server done with the aborted request');
    expect(lab.server.requests.find((r) => r.method === 'POST')?.status).toBe(499);
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')).toBeUndefined();
    // A fresh actor with an aborted signal writes nothing at all.
    const ctl = new AbortController();
    ctl.abort();
    await expect(client.upsert([{ name: 'x', tunnelEndpoint: '198.51.100.1', cidr: '198.51.100.0/24', mac: '02:00:00:00:00:01' }], ctl.signal)).rejects.toBeInstanceOf(KubeFencedError);
  });
});
