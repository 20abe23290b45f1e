// CiliumNode informer (and the ListWatch under it) against the stand-in: watch
// drops, 410 Gone, outages, 5xx, label flips; the final cache must equal the
// server's hybrid nodes, and no delete may be emitted for a node that the
// server still has.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ListWatch, startCiliumNodeInformer, type KubeObject, type ListWatchTarget } from '../../effects/kube/index.js';
import type { KObj } from '../../lab/kube-apiserver/index.js';
import { ciliumNode, HYBRID, seeded, startLab, waitFor, type Lab } from './helpers.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.server.close();
  lab = undefined;
});

const isHybrid = (o: KObj | undefined): boolean => o?.metadata?.labels?.['eks.amazonaws.com/compute-type'] === 'hybrid';

function serverHybrid(l: Lab): Map<string, string> {
  return new Map(l.server.store.all('ciliumnodes').filter(isHybrid).map((o) => [o.metadata!.name!, o.metadata!.resourceVersion!]));
}

/** The informer's output, rebuilt from its callbacks only. */
function tracker() {
  const view = new Map<string, string>();
  const deletes: KubeObject[] = [];
  let syncs = 0;
  return {
    view,
    deletes,
    get syncs() {
      return syncs;
    },
    handlers: {
      synced: () => {
        syncs += 1;
      },
      upsert: (n: KubeObject) => view.set(n.metadata!.name!, n.metadata!.resourceVersion!),
      delete: (n: KubeObject) => {
        view.delete(n.metadata!.name!);
        deletes.push(n);
      },
    },
  };
}

describe('CiliumNode informer', () => {
  it('hands whole nodes to its handlers, from the list and the watch, and caches only their identity', async () => {
    lab = await startLab();
    lab.server.store.put('ciliumnodes', ciliumNode('hyb-0', 0));
    const seen: KubeObject[] = [];
    let listed: KubeObject[] = [];
    const inf = startCiliumNodeInformer(
      lab.clients,
      { synced: (all) => (listed = all), upsert: (n) => seen.push(n) },
      { initialBackoffMs: 10, maxBackoffMs: 100 },
    );
    try {
      await waitFor(() => inf.synced, 'sync');
      lab.server.store.put('ciliumnodes', ciliumNode('hyb-1', 1));
      await waitFor(() => seen.some((n) => n.metadata?.name === 'hyb-1'), 'watch event');
      // The desired set reads the spec from what the handlers get…
      for (const n of [...listed, ...seen]) expect((n as { spec?: { ipam?: unknown } }).spec?.ipam, n.metadata?.name).toBeDefined();
      // …while the cache keeps name, resourceVersion and uid only.
      for (const name of ['hyb-0', 'hyb-1']) {
        const cached = inf.get(name);
        const stored = lab.server.store.find('ciliumnodes', name)!;
        expect(cached).toEqual({ metadata: { name, resourceVersion: stored.metadata!.resourceVersion, uid: stored.metadata!.uid } });
      }
    } finally {
      await inf.stop();
    }
  });

  it('lists hybrid nodes only, then follows adds, edits, label flips and deletes', async () => {
    lab = await startLab();
    for (let i = 0; i < 5; i++) lab.server.store.put('ciliumnodes', ciliumNode(`hyb-${i}`, i));
    lab.server.store.put('ciliumnodes', ciliumNode('cloud-0', 100, { 'eks.amazonaws.com/compute-type': 'ec2' }));
    const t = tracker();
    const inf = startCiliumNodeInformer(lab.clients, t.handlers, { initialBackoffMs: 10, maxBackoffMs: 100 });
    try {
      await waitFor(() => inf.synced, 'sync');
      expect([...t.view.keys()].sort()).toEqual(['hyb-0', 'hyb-1', 'hyb-2', 'hyb-3', 'hyb-4']);
      lab.server.store.put('ciliumnodes', ciliumNode('hyb-9', 9));
      lab.server.store.put('ciliumnodes', ciliumNode('hyb-1', 77)); // edit
      lab.server.store.put('ciliumnodes', ciliumNode('hyb-2', 2, { other: 'x' })); // leaves the selector
      lab.server.store.put('ciliumnodes', ciliumNode('cloud-0', 100, HYBRID)); // joins it
      lab.server.store.remove('ciliumnodes', 'hyb-3');
      await waitFor(() => JSON.stringify([...t.view].sort()) === JSON.stringify([...serverHybrid(lab!)].sort()), 'converge');
      expect(t.deletes.map((d) => d.metadata?.name).sort()).toEqual(['hyb-2', 'hyb-3']);
      expect(inf.get('hyb-1')?.metadata?.resourceVersion).toBe(lab.server.store.find('ciliumnodes', 'hyb-1')!.metadata!.resourceVersion);
    } finally {
      await inf.stop();
    }
  });

  it('keeps every node through outages, 5xx and dropped watches (no delete without a confirmed removal)', async () => {
    lab = await startLab();
    for (let i = 0; i < 20; i++) lab.server.store.put('ciliumnodes', ciliumNode(`hyb-${i}`, i));
    const t = tracker();
    const errors: string[] = [];
    const inf = startCiliumNodeInformer(lab.clients, { ...t.handlers, error: (e) => errors.push(e.code) }, { initialBackoffMs: 10, maxBackoffMs: 80 });
    try {
      await waitFor(() => inf.synced, 'sync');
      lab.server.faults.outage(300);
      await sleep(350);
      lab.server.faults.set({ errorRate: 1, errorStatus: 500 });
      lab.server.faults.dropWatches();
      await sleep(200);
      lab.server.faults.clear();
      await waitFor(() => lab!.server.openWatches > 0, 'watch back');
      // Another resource moves the global resourceVersion on; forgetting history makes the
      // informer's resume point too old: its next watch gets 410 and it must re-list.
      lab.server.store.put('leases', { metadata: { name: 'bump', namespace: 'default' }, spec: {} });
      lab.server.store.compact();
      lab.server.faults.dropWatches();
      await waitFor(() => lab!.server.openWatches > 0 && t.syncs >= 2, 're-list and re-watch');
      expect(t.deletes).toEqual([]);
      expect(t.view.size).toBe(20);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await inf.stop();
    }
    await waitFor(() => lab!.server.openWatches === 0, 'watch closed after stop()');
  });

  it('converges to the server under randomized mutations, watch drops, 410s, outages and 5xx', async () => {
    const seed = Number(process.env.INFORMER_SEED ?? Date.now() % 1_000_000);
    const rnd = seeded(seed);
    lab = await startLab({ historyLimit: 50, bookmarkIntervalMs: 50 });
    lab.server.faults.random = seeded(seed + 1);
    const N = 60;
    for (let i = 0; i < N; i++) lab.server.store.put('ciliumnodes', ciliumNode(`n-${i}`, i, rnd() < 0.7 ? HYBRID : { other: 'y' }));

    // Server-side truth: the resourceVersions at which each name left the hybrid set.
    const removals = new Map<string, number[]>();
    const unsub = lab.server.store.subscribe((e) => {
      if (e.def.plural !== 'ciliumnodes') return;
      const left = (e.type === 'DELETED' && isHybrid(e.prev)) || (e.type === 'MODIFIED' && isHybrid(e.prev) && !isHybrid(e.object));
      if (left) removals.set(e.object.metadata!.name!, [...(removals.get(e.object.metadata!.name!) ?? []), e.rv]);
    });
    const t = tracker();
    const badDeletes: string[] = [];
    const handlers = {
      ...t.handlers,
      delete: (n: KubeObject) => {
        const name = n.metadata!.name!;
        const rv = Number(n.metadata!.resourceVersion);
        // Either a DELETED event (rv = the removal's) or a re-list (rv = the last one we saw, older).
        if (!(removals.get(name) ?? []).some((r) => r >= rv)) badDeletes.push(`${name}@${rv}`);
        t.handlers.delete(n);
      },
    };
    const inf = startCiliumNodeInformer(lab.clients, handlers, { initialBackoffMs: 5, maxBackoffMs: 60, pageSize: 7 });
    let mutations = 0;
    try {
      await waitFor(() => inf.synced, 'sync');
      for (let round = 0; round < 400; round++) {
        const r = rnd();
        const i = Math.floor(rnd() * (N + 20));
        const name = `n-${i}`;
        if (r < 0.35) lab.server.store.put('ciliumnodes', ciliumNode(name, i + round)); // add or edit (hybrid)
        else if (r < 0.5) lab.server.store.put('ciliumnodes', ciliumNode(name, i, { other: 'y' })); // leave selector
        else if (r < 0.7) lab.server.store.remove('ciliumnodes', name);
        mutations += 1;
        const f = rnd();
        if (f < 0.06) lab.server.faults.dropWatches();
        else if (f < 0.1) {
          lab.server.store.compact();
          lab.server.faults.dropWatches();
        } else if (f < 0.13) lab.server.faults.outage(20 + rnd() * 80, rnd() < 0.5 ? 'unavailable' : 'reset');
        else if (f < 0.18) lab.server.faults.set({ errorRate: 0.5, errorStatus: 503 });
        else if (f < 0.22) lab.server.faults.set({ latencyMs: [0, 20] });
        else if (f < 0.3) lab.server.faults.clear();
        await sleep(rnd() * 8);
      }
      lab.server.faults.clear();
      await waitFor(
        () => inf.synced && lab!.server.openWatches > 0 && JSON.stringify([...t.view].sort()) === JSON.stringify([...serverHybrid(lab!)].sort()),
        `convergence (seed ${seed})`,
        15_000,
      );
    } finally {
      unsub();
      await inf.stop();
    }
    const lists = lab.server.requests.filter((q) => q.resource === 'ciliumnodes' && !q.watch && q.status === 200).length;
    const watches = lab.server.requests.filter((q) => q.resource === 'ciliumnodes' && q.watch).length;
    console.log(`informer chaos (seed ${seed}): ${mutations} rounds, ${t.view.size} nodes at the end, ${t.deletes.length} deletes, ` +
      `${lists} list pages, ${watches} watches, injected ${JSON.stringify(lab.server.faults.injected)}`);
    expect(badDeletes, `seed ${seed}`).toEqual([]);
    expect([...t.view].sort()).toEqual([...serverHybrid(lab)].sort());
    expect(inf.list().map((n) => n.metadata?.name).sort()).toEqual([...serverHybrid(lab).keys()].sort());
  });
});

describe('ListWatch', () => {
  it('skips malformed list items and watch objects without crashing', async () => {
    lab = await startLab();
    lab.server.store.put('ciliumnodes', ciliumNode('good', 1));
    const malformed: string[] = [];
    const upserts: string[] = [];
    const target: ListWatchTarget = {
      what: 'ciliumnodes',
      path: '/apis/cilium.io/v2/ciliumnodes',
      list: () =>
        Promise.resolve({ items: [null, 7, {}, { metadata: { name: 5 } }, { metadata: { name: 'good', resourceVersion: '1' } }], resourceVersion: String(lab!.server.store.resourceVersion) }),
    };
    const lw = new ListWatch(lab.clients, target, { onMalformed: (_r, why) => malformed.push(why), onUpsert: (o) => upserts.push(o.metadata!.name!) }, { initialBackoffMs: 10 }).start();
    try {
      await waitFor(() => lw.synced && lab!.server.openWatches > 0, 'sync and watch');
      // The CRD schema refuses it today (422); an object stored under an older schema still reaches watches.
      lab.server.store.inject('ciliumnodes', { ...ciliumNode('good', 2), spec: 'not-an-object' });
      await waitFor(() => upserts.length >= 2, 'watch event');
      expect(malformed).toHaveLength(4);
      expect(lw.get('good')?.spec).toBe('not-an-object'); // raw: judging it is the core's job
    } finally {
      await lw.stop();
    }
  });

  it('a list response without resourceVersion is an error that is retried, not a crash', async () => {
    lab = await startLab();
    let calls = 0;
    const errors: string[] = [];
    const target: ListWatchTarget = {
      what: 'x',
      path: '/apis/cilium.io/v2/ciliumnodes',
      list: async () => {
        calls += 1;
        const { toListPage } = await import('../../effects/kube/index.js');
        return calls < 3 ? toListPage({ items: 'nope' }, 'x') : toListPage({ items: [], metadata: { resourceVersion: String(lab!.server.store.resourceVersion) } }, 'x');
      },
    };
    const lw = new ListWatch(lab.clients, target, { onError: (e) => errors.push(e.code) }, { initialBackoffMs: 5 }).start();
    try {
      await waitFor(() => lw.synced && lab!.server.openWatches > 0, 'sync and watch after retries');
      expect(errors).toEqual(['Malformed', 'Malformed']);
    } finally {
      await lw.stop();
    }
  });
});
