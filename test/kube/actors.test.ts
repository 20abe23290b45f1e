// The xstate actor wrappers the runtime invokes: a parent machine receives
// LEASE.FREE / LEASE.LOST from the lease watch, and LEADER.REASSERT-style
// events from the CiliumVTEPConfig watch (its first notice skipped on
// request); stopping either actor closes its watch.
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { LeaseLock, leaseWatchActor, VtepConfigClient, vtepWatchActor, type LeaseWatchEvent } from '../../effects/kube/index.js';
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
      actors: { watchLease: leaseWatchActor(() => mine) },
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

  it("vtepWatchActor passes changes and deletions on as the parent's events, the first notice skipped when asked", async () => {
    lab = await startLab({ bookmarkIntervalMs: 100 });
    const client = new VtepConfigClient({ clients: lab.newClients() });
    const endpoints = [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.1', cidr: '198.51.100.0/24', mac: '02:00:00:00:00:01' }];
    await client.upsert(endpoints, new AbortController().signal);
    type Reassert = { type: 'REASSERT'; reason: string };
    const parent = setup({
      types: { context: {} as { seen: string[] }, events: {} as Reassert },
      actors: {
        watch: vtepWatchActor<Reassert>(client, (obj) => ({ type: 'REASSERT', reason: obj === undefined ? 'deleted' : 'changed' }), { skipInitial: true }),
      },
    }).createMachine({
      context: { seen: [] },
      invoke: { src: 'watch' },
      on: { REASSERT: { actions: assign({ seen: ({ context, event }) => [...context.seen, event.reason] }) } },
    });
    const actor = createActor(parent).start();
    try {
      await waitFor(() => lab!.server.openWatches > 0, 'the watch open');
      await new Promise((r) => setTimeout(r, 200));
      expect(actor.getSnapshot().context.seen).toEqual([]); // the object as it was: skipped
      const cur = lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!;
      lab.server.store.put('ciliumvtepconfigs', { ...cur, spec: { endpoints: [{ ...endpoints[0], tunnelEndpoint: '198.51.100.9' }] } });
      await waitFor(() => actor.getSnapshot().context.seen.includes('changed'), 'an edit seen');
      lab.server.store.remove('ciliumvtepconfigs', 'hybrid-gateway');
      await waitFor(() => actor.getSnapshot().context.seen.includes('deleted'), 'the delete seen');
    } finally {
      actor.stop();
    }
    await waitFor(() => lab!.server.openWatches === 0, 'watch closed when the actor stops');
  });
});
