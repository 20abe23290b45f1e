// LeaseLock against the stand-in: client-go semantics, microsecond timestamps,
// sub-second durations, fencing, release hand-over, and a randomized race of
// three holders checked from the server's own record of successful writes.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { formatMicroTime, LEASE_DURATION_MS_ANNOTATION, LeaseLock, parseLeaseRecord } from '../../effects/kube/index.js';
import type { StoreEvent } from '../../lab/kube-apiserver/index.js';
import { seeded, startLab, waitFor, type Lab } from './helpers.js';

const NS = 'kube-system';
const NAME = 'hybrid-gateway-leader';
let lab: Lab | undefined;

afterEach(async () => {
  await lab?.server.close();
  lab = undefined;
});

function lock(l: Lab, identity: string, leaseDurationMs = 1000): LeaseLock {
  return new LeaseLock({ clients: l.newClients(), namespace: NS, name: NAME, identity, leaseDurationMs, requestTimeoutMs: 2000 });
}

describe('formatMicroTime', () => {
  it('writes RFC3339 with exactly six fractional digits', () => {
    expect(formatMicroTime(Date.UTC(2026, 10, 25, 0, 27, 2, 123) * 1000 + 456)).toBe('2026-11-25T00:27:02.123456Z');
    expect(formatMicroTime(Date.UTC(2026, 0, 1) * 1000)).toBe('2026-01-01T00:00:00.000000Z');
  });
});

describe('parseLeaseRecord', () => {
  it('never throws on malformed records', () => {
    for (const raw of [null, 1, 'x', {}, { metadata: {} }, { metadata: { resourceVersion: 5 } }]) expect(parseLeaseRecord(raw)).toBeUndefined();
    const r = parseLeaseRecord({ metadata: { resourceVersion: '7' }, spec: { holderIdentity: 3, leaseDurationSeconds: 'x', leaseTransitions: -1 } });
    expect(r).toMatchObject({ holderIdentity: '', leaseDurationSeconds: undefined, leaseDurationMs: undefined, leaseTransitions: 0 });
  });
  it('prefers the ms annotation only when it agrees with leaseDurationSeconds', () => {
    const mk = (ms: string, secs: number) => parseLeaseRecord({ metadata: { resourceVersion: '1', annotations: { [LEASE_DURATION_MS_ANNOTATION]: ms } }, spec: { leaseDurationSeconds: secs } });
    expect(mk('400', 1)?.leaseDurationMs).toBe(400);
    expect(mk('2500', 3)?.leaseDurationMs).toBe(2500);
    expect(mk('400', 15)?.leaseDurationMs).toBe(15_000);
  });
});

describe('LeaseLock', () => {
  it('creates, renews and reports client-go fields with microsecond timestamps', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 3000);
    const first = await a.tryAcquireOrRenew();
    expect(first).toMatchObject({ outcome: 'acquired', held: true, holder: 'gw-a', leaseTransitions: 0 });
    const stored = lab.server.store.find('leases', NAME, NS)!;
    const spec = stored.spec as Record<string, unknown>;
    expect(spec.leaseDurationSeconds).toBe(3);
    expect(spec.acquireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(spec.renewTime).toBe(spec.acquireTime);
    await sleep(5);
    const second = await a.tryAcquireOrRenew();
    expect(second.outcome).toBe('renewed');
    const spec2 = lab.server.store.find('leases', NAME, NS)!.spec as Record<string, unknown>;
    expect(spec2.acquireTime).toBe(spec.acquireTime);
    expect(spec2.renewTime).not.toBe(spec.renewTime);
    expect(spec2.leaseTransitions).toBe(0);
  });

  it('does not take a live lease, takes an expired one judged by local observation, and counts transitions', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 300);
    const b = lock(lab, 'gw-b', 300);
    expect((await a.tryAcquireOrRenew()).outcome).toBe('acquired');
    const seen = await b.tryAcquireOrRenew();
    expect(seen.outcome).toBe('held-by-other');
    expect(seen.holder).toBe('gw-a');
    expect(seen.held).toBe(false);
    // a stops renewing; b must wait a full duration from when IT saw the record change.
    await waitFor(() => performance.now() > seen.otherExpiresAt! + 1, 'expiry');
    const took = await b.tryAcquireOrRenew();
    expect(took).toMatchObject({ outcome: 'acquired', holder: 'gw-b', leaseTransitions: 1, held: true });
    // a's next attempt sees b's record: not held, and its fencing check is false at once.
    const lost = await a.tryAcquireOrRenew();
    expect(lost.outcome).toBe('held-by-other');
    expect(a.isHeld()).toBe(false);
  });

  it('yieldMs (a gateway not preferred for the shard): a released or expired Lease is taken only once it stayed free that long', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 300);
    const b = lock(lab, 'gw-b', 300);
    expect((await a.tryAcquireOrRenew()).outcome).toBe('acquired');
    expect((await b.tryAcquireOrRenew()).outcome).toBe('held-by-other');
    // Released: b sees it free, but as a non-preferred gateway gives the preferred one 400 ms first.
    await a.release();
    const early = await b.tryAcquireOrRenew(undefined, { yieldMs: 400 });
    expect(early).toMatchObject({ outcome: 'held-by-other', held: false, holder: '' });
    const freeSince = b.observation.observedAt;
    expect(early.otherExpiresAt).toBeCloseTo(freeSince + 400, 0);
    // Without yielding it would have taken it: a preferred gateway does at once.
    await waitFor(() => performance.now() > early.otherExpiresAt! + 1, 'the takeover grace');
    expect((await b.tryAcquireOrRenew(undefined, { yieldMs: 400 })).outcome).toBe('acquired');
    // Expired (b stops renewing): a non-preferred a waits the lease duration, then the grace on top.
    const seen = await a.tryAcquireOrRenew(undefined, { yieldMs: 400 });
    expect(seen.outcome).toBe('held-by-other');
    const expiresAt = seen.otherExpiresAt!;
    await waitFor(() => performance.now() > expiresAt + 1, 'expiry');
    const yielded = await a.tryAcquireOrRenew(undefined, { yieldMs: 400 });
    expect(yielded.outcome).toBe('held-by-other');
    expect(yielded.otherExpiresAt).toBeCloseTo(expiresAt + 400, 0);
    await waitFor(() => performance.now() > yielded.otherExpiresAt! + 1, 'expiry and grace');
    expect((await a.tryAcquireOrRenew(undefined, { yieldMs: 400 })).outcome).toBe('acquired');
  });

  it('ignores a remote renewTime far in the past (clock skew): expiry comes from local observation', async () => {
    lab = await startLab();
    lab.server.store.put('leases', {
      metadata: { name: NAME, namespace: NS },
      spec: { holderIdentity: 'skewed', leaseDurationSeconds: 1, acquireTime: '2001-01-01T00:00:00.000000Z', renewTime: '2001-01-01T00:00:00.000000Z', leaseTransitions: 4 },
    });
    const b = lock(lab, 'gw-b', 1000);
    expect((await b.tryAcquireOrRenew()).outcome).toBe('held-by-other');
  });

  it('handles sub-second durations: integer seconds on the wire, exact ms in the annotation', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 250);
    const r = await a.tryAcquireOrRenew();
    expect(r.outcome).toBe('acquired');
    const stored = lab.server.store.find('leases', NAME, NS)!;
    expect((stored.spec as Record<string, unknown>).leaseDurationSeconds).toBe(1);
    expect(stored.metadata?.annotations?.[LEASE_DURATION_MS_ANNOTATION]).toBe('250');
    expect(r.heldUntil! - performance.now()).toBeLessThanOrEqual(250);
    await waitFor(() => !a.isHeld(), 'local lease to lapse');
  });

  it('heldSignal() aborts when the lease lapses locally, and on release', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 200);
    expect(a.heldSignal().aborted).toBe(true); // not holding yet
    await a.tryAcquireOrRenew();
    const s1 = a.heldSignal();
    expect(s1.aborted).toBe(false);
    await a.tryAcquireOrRenew(); // renewing keeps the same signal alive
    expect(a.heldSignal()).toBe(s1);
    await waitFor(() => s1.aborted, 'lapse without renewal');
    expect(a.isHeld()).toBe(false);
    expect((await a.tryAcquireOrRenew()).outcome).toBe('renewed'); // still ours on the server: held again
    const s2 = a.heldSignal();
    expect(s2).not.toBe(s1);
    expect(s2.aborted).toBe(false);
    await a.release();
    expect(s2.aborted).toBe(true);
  });

  it('refuses to write once the signal is aborted (fencing) and does not touch the server', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a');
    const ctl = new AbortController();
    ctl.abort();
    const before = lab.server.store.resourceVersion;
    const r = await a.tryAcquireOrRenew(ctl.signal);
    expect(r.outcome).toBe('fenced');
    expect(lab.server.store.resourceVersion).toBe(before);
    expect(lab.server.requests.filter((q) => q.resource === 'leases')).toHaveLength(0);
  });

  it('reports 409s as conflict after re-reading, and errors without throwing', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a');
    await a.tryAcquireOrRenew();
    lab.server.faults.set({ conflictRate: 1 });
    const c = await a.tryAcquireOrRenew();
    expect(c.outcome).toBe('conflict');
    expect(c.held).toBe(true); // our last confirmed renew still stands
    lab.server.faults.set({ errorRate: 1, errorStatus: 503 });
    const e = await a.tryAcquireOrRenew();
    expect(e.outcome).toBe('error');
    expect(e.error?.code).toBe('Unavailable');
    lab.server.faults.clear();
    expect((await a.tryAcquireOrRenew()).outcome).toBe('renewed');
  });

  it("a holder renews from the record it last saw, as client-go's fast path: one PUT and no GET per renewal", async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 3000);
    expect((await a.tryAcquireOrRenew()).outcome).toBe('acquired');
    const leaseRequests = (): Array<{ method: string }> => lab!.server.requests.filter((q) => q.resource === 'leases' && !q.watch);
    const before = leaseRequests().length;
    for (let i = 0; i < 5; i++) expect((await a.tryAcquireOrRenew()).outcome).toBe('renewed');
    expect(leaseRequests().slice(before).map((q) => q.method)).toEqual(['PUT', 'PUT', 'PUT', 'PUT', 'PUT']);
    // The record changed behind its back (an annotation edit: still ours): the fast write meets 409,
    // the record is re-read and the renewal goes through in the same attempt.
    const cur = lab.server.store.find('leases', NAME, NS)!;
    const md = cur.metadata ?? {};
    lab.server.store.put('leases', { ...cur, metadata: { ...md, annotations: { ...(md.annotations ?? {}), note: 'edited' } } });
    const mark = leaseRequests().length;
    expect((await a.tryAcquireOrRenew()).outcome).toBe('renewed');
    expect(leaseRequests().slice(mark).map((q) => q.method)).toEqual(['PUT', 'GET', 'PUT']);
  });

  it('release clears the holder; a watching standby acquires at once (hand-over times printed)', async () => {
    lab = await startLab();
    // A 60 s lease: a standby that waited for expiry instead of reacting to the release would
    // time out below.
    const locks = [lock(lab, 'gw-a', 60_000), lock(lab, 'gw-b', 60_000)];
    expect((await locks[0]!.tryAcquireOrRenew()).outcome).toBe('acquired');
    // Each lock, as a standby, tries to acquire the moment its watch reports the lease free.
    // (The one releasing is shutting down: it does not try again.)
    const acquiredAt = new Map<string, number>();
    let standbyId = '';
    const watches = locks.map((l) =>
      l.watchLease((o) => {
        if (o.free && l.identity === standbyId && !l.isHeld()) {
          void l.tryAcquireOrRenew().then((r) => {
            if (r.outcome === 'acquired') acquiredAt.set(l.identity, performance.now());
          });
        }
      }),
    );
    const times: number[] = [];
    try {
      await waitFor(() => lab!.server.openWatches === 2, 'lease watches');
      for (let i = 0; i < 10; i++) {
        const leader = locks[i % 2]!;
        const standby = locks[(i + 1) % 2]!;
        expect(leader.isHeld()).toBe(true);
        expect((await standby.tryAcquireOrRenew()).outcome).toBe('held-by-other');
        acquiredAt.delete(standby.identity);
        standbyId = standby.identity;
        const t0 = performance.now();
        expect(await leader.release()).toBe(true);
        expect(leader.isHeld()).toBe(false);
        await waitFor(() => acquiredAt.has(standby.identity), 'standby to acquire after the release', 15_000);
        times.push(acquiredAt.get(standby.identity)! - t0);
        const rec = lab.server.store.find('leases', NAME, NS)!.spec as Record<string, unknown>;
        expect(rec.holderIdentity).toBe(standby.identity);
        expect(rec.leaseTransitions).toBe(i + 1);
      }
    } finally {
      await Promise.all(watches.map((w) => w.stop()));
    }
    const sorted = [...times].sort((x, y) => x - y);
    console.log(
      `lease hand-over after release (10 runs, lease 60 s): min ${sorted[0]!.toFixed(1)} ms, ` +
        `median ${sorted[5]!.toFixed(1)} ms, max ${sorted[9]!.toFixed(1)} ms`,
    );
  });

  it('a leader whose Lease is deleted by hand stops holding at once (seen through its watch)', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a', 3000);
    await a.tryAcquireOrRenew();
    const w = a.watchLease(() => undefined);
    try {
      await waitFor(() => lab!.server.openWatches > 0, 'watch');
      expect(a.isHeld()).toBe(true);
      lab.server.store.remove('leases', NAME, NS);
      await waitFor(() => !a.isHeld(), 'fenced by the deletion');
      expect(a.observation.free).toBe(true);
    } finally {
      await w.stop();
    }
  });

  it('release does nothing when the record names someone else', async () => {
    lab = await startLab();
    const a = lock(lab, 'gw-a');
    const b = lock(lab, 'gw-b');
    await a.tryAcquireOrRenew();
    expect(await b.release()).toBe(false);
    expect((lab.server.store.find('leases', NAME, NS)!.spec as Record<string, unknown>).holderIdentity).toBe('gw-a');
  });

  it('three holders racing under latency, 409s, 5xx and outages: never two leaders', async () => {
    const seed = Number(process.env.LEASE_RACE_SEED ?? Date.now() % 1_000_000);
    const rnd = seeded(seed);
    lab = await startLab();
    lab.server.faults.random = seeded(seed + 1);
    const D = 150;
    const ids = ['gw-a', 'gw-b', 'gw-c'];
    const locks = ids.map((id) => new LeaseLock({ clients: lab!.newClients(), namespace: NS, name: NAME, identity: id, leaseDurationMs: D, requestTimeoutMs: 150 }));

    // Server side: every committed Lease write, with its commit time.
    const writes: StoreEvent[] = [];
    const unsub = lab.server.store.subscribe((e) => {
      if (e.def.plural === 'leases') writes.push(e);
    });
    // Client side: each holder's leadership intervals as its fencing check sees them.
    const intervals: Array<{ id: string; from: number; to: number }> = [];
    let rounds = 0;
    let stop = false;
    const outcomes = new Map<string, number>();
    const holder = async (l: LeaseLock): Promise<void> => {
      while (!stop) {
        // The leader randomly releases (graceful stop) or stops renewing for a while (a hung or
        // killed pod); standbys sometimes pause too.
        const r = rnd();
        if (l.isHeld() && r < 0.05) {
          // release() ends local leadership before it writes: so does this holder's interval.
          const t = performance.now();
          for (const iv of intervals) if (iv.id === l.identity && iv.to > t) iv.to = t;
          await l.release();
        } else if ((l.isHeld() && r < 0.15) || r < 0.03) {
          await sleep(D * (1.5 + rnd()));
        }
        const res = await l.tryAcquireOrRenew();
        rounds += 1;
        outcomes.set(res.outcome, (outcomes.get(res.outcome) ?? 0) + 1);
        const now = performance.now();
        if (res.held && res.heldUntil !== undefined) intervals.push({ id: l.identity, from: now, to: res.heldUntil });
        await sleep(5 + rnd() * 20);
      }
    };
    const chaos = async (): Promise<void> => {
      while (!stop) {
        const r = rnd();
        if (r < 0.3) lab!.server.faults.set({ latencyMs: [0, 60], responseLatencyMs: [0, 60] });
        else if (r < 0.5) lab!.server.faults.set({ conflictRate: 0.3, latencyMs: [0, 20] });
        else if (r < 0.65) lab!.server.faults.set({ errorRate: 0.3, errorStatus: rnd() < 0.5 ? 500 : 503 });
        else if (r < 0.75) lab!.server.faults.outage(50 + rnd() * 250);
        else lab!.server.faults.clear();
        await sleep(100 + rnd() * 200);
      }
    };
    try {
      const runs = [...locks.map(holder), chaos()];
      await waitFor(() => rounds >= 600, '600 rounds', 25_000);
      stop = true;
      await Promise.all(runs);
    } finally {
      stop = true;
      unsub();
    }

    // 1. Server record: a takeover from a live holder X to Y≠X happens only after X's last
    //    committed write is at least one lease duration old.
    let violations = 0;
    let lastHolder = '';
    let lastWriteAt = 0;
    let takeovers = 0;
    for (const e of writes) {
      const h = ((e.object.spec as Record<string, unknown> | undefined)?.holderIdentity as string | undefined) ?? '';
      if (h !== '' && lastHolder !== '' && h !== lastHolder) {
        takeovers += 1;
        if (e.at - lastWriteAt < D) {
          violations += 1;
          const idx = writes.indexOf(e);
          console.log('VIOLATION', writes.slice(Math.max(0, idx - 4), idx + 1).map((w) => ({ rv: w.rv, at: w.at.toFixed(1), type: w.type, spec: w.object.spec })));
        }
      }
      lastHolder = h;
      lastWriteAt = e.at;
    }
    // 2. Client view: leadership intervals of different identities never overlap.
    intervals.sort((x, y) => x.from - y.from);
    let overlaps = 0;
    for (let i = 0; i < intervals.length; i++) {
      for (let j = i + 1; j < intervals.length && intervals[j]!.from < intervals[i]!.to; j++) {
        if (intervals[j]!.id !== intervals[i]!.id) overlaps += 1;
      }
    }
    console.log(
      `lease race (seed ${seed}): ${rounds} rounds, ${writes.length} committed writes, ${takeovers} takeovers, ` +
        `outcomes ${JSON.stringify(Object.fromEntries(outcomes))}, injected ${JSON.stringify(lab.server.faults.injected)}`,
    );
    expect(violations, `seed ${seed}`).toBe(0);
    expect(overlaps, `seed ${seed}`).toBe(0);
    expect(takeovers + (outcomes.get('acquired') ?? 0)).toBeGreaterThan(0);
    expect(outcomes.get('renewed') ?? 0).toBeGreaterThan(0);
  });
});
