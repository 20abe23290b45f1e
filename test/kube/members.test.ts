// Membership for sharding against the stand-in: the member Lease as written
// (every field, the label, the Pod owner), renewals, re-creation, leave, and the
// member watch's observed-time rule through renewals, stops, deletions, relists
// and other Leases in the namespace; then the two actors over them.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import {
  formatMicroTime,
  LEASE_DURATION_MS_ANNOTATION,
  MEMBER_LABEL,
  MemberLease,
  memberHeartbeatActor,
  membersWatchActor,
  watchMembers,
  type KubeError,
  type MemberObservation,
  type MembersChangedEvent,
} from '../../effects/kube/index.js';
import type { KObj } from '../../lab/kube-apiserver/index.js';
import { startLab, waitFor, type Lab } from './helpers.js';

const NS = 'kube-system';
const ID = 'hybrid-gateway-leader';
const REF = { namespace: NS, leaderElectionID: ID };
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
let lab: Lab | undefined;
const stops: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  await lab?.server.close();
  lab = undefined;
});

function member(l: Lab, identity: string, extra: { podUid?: string; leaseDurationMs?: number; wallMicros?: () => number } = {}): MemberLease {
  return new MemberLease({ clients: l.newClients(), ...REF, identity, leaseDurationMs: 1000, requestTimeoutMs: 2000, ...extra });
}

async function joined(l: Lab, ...identities: string[]): Promise<MemberLease[]> {
  const ms = identities.map((id) => member(l, id));
  for (const m of ms) await m.join();
  return ms;
}

function stored(l: Lab, identity: string): KObj | undefined {
  return l.server.store.find('leases', `${ID}-member-${identity}`, NS);
}

function specOf(o: KObj | undefined): Record<string, unknown> {
  return (o?.spec ?? {}) as Record<string, unknown>;
}

/** watchMembers with every onChange kept. */
function watch(l: Lab, opts: Parameters<typeof watchMembers>[3] = {}) {
  const calls: MemberObservation[][] = [];
  const w = watchMembers(l.newClients(), REF, (m) => calls.push(m), { initialBackoffMs: 10, maxBackoffMs: 50, ...opts });
  stops.push(() => w.stop());
  const ids = (): string[] => (calls.at(-1) ?? []).map((m) => m.identity);
  const at = (identity: string): number | undefined => calls.at(-1)?.find((m) => m.identity === identity)?.observedAt;
  return { w, calls, ids, at };
}

const leaseRequests = (l: Lab) => l.server.requests.filter((q) => q.resource === 'leases' && !q.watch);

describe('MemberLease', () => {
  it('join creates the member Lease with every field as specified', async () => {
    lab = await startLab();
    const wall = Date.UTC(2026, 4, 1, 12, 0, 0, 123) * 1000 + 456;
    const m = member(lab, 'gw-a', { podUid: 'uid-a', leaseDurationMs: 2500, wallMicros: () => wall });
    expect(m.name).toBe(`${ID}-member-gw-a`);
    await m.join();
    const o = stored(lab, 'gw-a')!;
    expect(o.apiVersion).toBe('coordination.k8s.io/v1');
    expect(o.kind).toBe('Lease');
    expect(o.metadata?.namespace).toBe(NS);
    expect(o.metadata?.labels).toEqual({ [MEMBER_LABEL]: ID });
    expect(o.metadata?.annotations).toEqual({ [LEASE_DURATION_MS_ANNOTATION]: '2500' });
    expect(o.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: 'gw-a', uid: 'uid-a' }]);
    expect(o.spec).toEqual({ holderIdentity: 'gw-a', leaseDurationSeconds: 3, acquireTime: '2026-05-01T12:00:00.123456Z', renewTime: '2026-05-01T12:00:00.123456Z' });
  });

  it('join without the Pod uid writes no owner; the wall clock default writes MicroTime', async () => {
    lab = await startLab();
    await member(lab, 'gw-b').join();
    const o = stored(lab, 'gw-b')!;
    expect(o.metadata?.ownerReferences).toBeUndefined();
    expect(specOf(o).leaseDurationSeconds).toBe(1);
    expect(specOf(o).renewTime).toMatch(MICRO);
    expect(Math.abs(Date.parse(String(specOf(o).renewTime)) - Date.now())).toBeLessThan(5000);
  });

  it('join takes over the Lease a previous pod of the same name left: new owner, new acquireTime, other labels kept', async () => {
    lab = await startLab();
    const before = lab.server.store.put('leases', {
      metadata: {
        name: `${ID}-member-gw-a`,
        namespace: NS,
        labels: { keep: 'me' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'gw-a', uid: 'old-uid' }],
      },
      spec: { holderIdentity: 'gw-a', leaseDurationSeconds: 1, acquireTime: '2001-01-01T00:00:00.000000Z', renewTime: '2001-01-01T00:00:00.000000Z' },
    });
    await member(lab, 'gw-a', { podUid: 'new-uid' }).join();
    const o = stored(lab, 'gw-a')!;
    expect(o.metadata?.uid).toBe(before.metadata?.uid); // replaced, not deleted and created
    expect(o.metadata?.labels).toEqual({ keep: 'me', [MEMBER_LABEL]: ID });
    expect(o.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: 'gw-a', uid: 'new-uid' }]);
    expect(specOf(o).acquireTime).not.toBe('2001-01-01T00:00:00.000000Z');
    expect(specOf(o).renewTime).toBe(specOf(o).acquireTime);
    // Taken over without the uid: the stale owner goes too (the collector would delete the Lease for it).
    lab.server.store.put('leases', { ...o, metadata: { ...o.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'gw-a', uid: 'old-uid' }] } });
    await member(lab, 'gw-a').join();
    expect(stored(lab, 'gw-a')!.metadata?.ownerReferences).toBeUndefined();
  });

  it('renew advances renewTime and keeps acquireTime, one PUT per renewal', async () => {
    lab = await startLab();
    let wall = Date.UTC(2026, 0, 1) * 1000;
    const m = member(lab, 'gw-a', { podUid: 'uid-a', wallMicros: () => wall });
    await m.join();
    const first = specOf(stored(lab, 'gw-a'));
    const mark = leaseRequests(lab).length;
    for (let i = 1; i <= 3; i++) {
      wall += 1_000_001;
      expect(await m.renew()).toBe('renewed');
      const s = specOf(stored(lab, 'gw-a'));
      expect(s.renewTime).toBe(formatMicroTime(wall));
      expect(s.acquireTime).toBe(first.acquireTime);
    }
    expect(leaseRequests(lab).slice(mark).map((q) => q.method)).toEqual(['PUT', 'PUT', 'PUT']);
    expect(stored(lab, 'gw-a')!.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: 'gw-a', uid: 'uid-a' }]);
  });

  it('renew re-creates a deleted Lease, label and owner included', async () => {
    lab = await startLab();
    const m = member(lab, 'gw-a', { podUid: 'uid-a' });
    await m.join();
    const uid = stored(lab, 'gw-a')!.metadata?.uid;
    lab.server.store.remove('leases', `${ID}-member-gw-a`, NS);
    expect(await m.renew()).toBe('recreated');
    const o = stored(lab, 'gw-a')!;
    expect(o.metadata?.uid).not.toBe(uid);
    expect(o.metadata?.labels).toEqual({ [MEMBER_LABEL]: ID });
    expect(o.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: 'gw-a', uid: 'uid-a' }]);
    expect(specOf(o).holderIdentity).toBe('gw-a');
    expect(await m.renew()).toBe('renewed');
    // The same through 404s: the replace of a deleted Lease refused, the re-read finds none, a create follows.
    lab.server.store.remove('leases', `${ID}-member-gw-a`, NS);
    lab.server.faults.set({ conflictRate: 1, match: (r) => r.method === 'PUT' && r.resource === 'leases' });
    const mark = leaseRequests(lab).length;
    expect(await m.renew()).toBe('recreated');
    expect(leaseRequests(lab).slice(mark).map((q) => `${q.method} ${q.status}`)).toEqual(['PUT 409', 'GET 404', 'POST 201']);
    expect(stored(lab, 'gw-a')!.metadata?.labels).toEqual({ [MEMBER_LABEL]: ID });
  });

  it('a 409 re-reads and retries once; a second 409 is thrown as Conflict', async () => {
    lab = await startLab();
    const m = member(lab, 'gw-a');
    await m.join();
    const cur = stored(lab, 'gw-a')!;
    lab.server.store.put('leases', { ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata?.annotations, note: 'edited' } } });
    let mark = leaseRequests(lab).length;
    expect(await m.renew()).toBe('renewed');
    expect(leaseRequests(lab).slice(mark).map((q) => `${q.method} ${q.status}`)).toEqual(['PUT 409', 'GET 200', 'PUT 200']);
    expect(stored(lab, 'gw-a')!.metadata?.annotations?.note).toBe('edited');
    lab.server.faults.set({ conflictRate: 1 });
    mark = leaseRequests(lab).length;
    await expect(m.renew()).rejects.toMatchObject({ code: 'Conflict' });
    expect(leaseRequests(lab).slice(mark).map((q) => `${q.method} ${q.status}`)).toEqual(['PUT 409', 'GET 200', 'PUT 409']);
    lab.server.faults.clear();
    expect(await m.renew()).toBe('renewed');
  });

  it('errors are typed KubeErrors; an aborted signal writes nothing', async () => {
    lab = await startLab();
    const m = member(lab, 'gw-a');
    lab.server.faults.set({ errorRate: 1, errorStatus: 503 });
    await expect(m.join()).rejects.toMatchObject({ code: 'Unavailable' });
    lab.server.faults.clear();
    const ctl = new AbortController();
    ctl.abort();
    await expect(m.join(ctl.signal)).rejects.toMatchObject({ code: 'Fenced' });
    expect(stored(lab, 'gw-a')).toBeUndefined();
    await m.join();
    expect(stored(lab, 'gw-a')).toBeDefined();
  });

  it('leave deletes the Lease; a second leave finds it gone; a renew after leave is refused and re-creates nothing', async () => {
    lab = await startLab();
    const m = member(lab, 'gw-a');
    await m.join();
    expect(await m.leave()).toBe(true);
    expect(stored(lab, 'gw-a')).toBeUndefined();
    expect(await m.leave()).toBe(false);
    await expect(m.renew()).rejects.toMatchObject({ code: 'Fenced' });
    expect(stored(lab, 'gw-a')).toBeUndefined();
    await m.join(); // joining again is explicit
    expect(await m.renew()).toBe('renewed');
  });

  it('a renewal in flight when leave is called lands before the delete (the Lease does not come back)', async () => {
    lab = await startLab();
    const m = member(lab, 'gw-a');
    await m.join();
    // The renewal's PUT waits 300 ms before the server handles it; the delete does not.
    lab.server.faults.set({ latencyMs: 300, match: (r) => r.method === 'PUT' && r.resource === 'leases' });
    const renewal = m.renew();
    await sleep(20);
    const left = m.leave();
    expect(await renewal).toBe('renewed');
    expect(await left).toBe(true);
    await sleep(50);
    expect(stored(lab, 'gw-a')).toBeUndefined();
  });

  it('refuses names the API server would refuse, saying which', () => {
    const clients = {} as never;
    expect(() => new MemberLease({ clients, ...REF, identity: 'GW_A' })).toThrow(/GW_A.*not a valid Lease name/);
    expect(() => new MemberLease({ clients, ...REF, identity: '' })).toThrow(/not a valid Lease name/);
    expect(() => new MemberLease({ clients, namespace: NS, leaderElectionID: 'x'.repeat(64), identity: 'gw-a' })).toThrow(/cannot be the value of label/);
  });
});

describe('watchMembers', () => {
  it('two gateways see each other, each renewal moves its observedAt, a stopped member keeps its last one', async () => {
    lab = await startLab();
    const a = member(lab, 'gw-a');
    const b = member(lab, 'gw-b');
    const wa = watch(lab);
    const wb = watch(lab);
    await waitFor(() => wa.calls.length > 0 && wb.calls.length > 0, 'first lists');
    expect(wa.calls[0]).toEqual([]); // the first complete list is reported, even empty
    const t0 = performance.now();
    await a.join();
    await b.join();
    for (const w of [wa, wb]) await waitFor(() => w.ids().join() === 'gw-a,gw-b', 'both members');
    expect(wa.at('gw-a')).toBeGreaterThanOrEqual(t0);
    // b renews, a has stopped: b's observedAt moves, a's stays where it was.
    const aAt = wa.at('gw-a')!;
    const bAt = wa.at('gw-b')!;
    await sleep(30);
    await b.renew();
    await waitFor(() => wa.at('gw-b')! > bAt, "b's renewal seen");
    await sleep(100);
    await b.renew();
    await waitFor(() => wa.at('gw-b')! > bAt + 100, "b's next renewal seen");
    expect(wa.at('gw-a')).toBe(aAt);
    expect(wa.w.members()).toEqual(wa.calls.at(-1));
  });

  it('a watcher started later judges members from when it first saw them, not from their renewTime', async () => {
    lab = await startLab();
    lab.server.store.put('leases', {
      metadata: { name: `${ID}-member-gw-old`, namespace: NS, labels: { [MEMBER_LABEL]: ID } },
      spec: { holderIdentity: 'gw-old', leaseDurationSeconds: 1, acquireTime: '2001-01-01T00:00:00.000000Z', renewTime: '2001-01-01T00:00:00.000000Z' },
    });
    const t0 = performance.now();
    const w = watch(lab);
    await waitFor(() => w.ids().includes('gw-old'), 'the member listed');
    expect(w.at('gw-old')).toBeGreaterThanOrEqual(t0);
  });

  it('an edit that does not move renewTime keeps observedAt; a deletion removes the member', async () => {
    lab = await startLab();
    const [, b] = await joined(lab, 'gw-a', 'gw-b');
    const w = watch(lab);
    await waitFor(() => w.ids().length === 2, 'both members');
    const aAt = w.at('gw-a');
    const calls = w.calls.length;
    const cur = stored(lab, 'gw-a')!;
    lab.server.store.put('leases', { ...cur, metadata: { ...cur.metadata, annotations: { note: 'edited' } } });
    await b!.leave();
    await waitFor(() => w.ids().join() === 'gw-a', 'b gone');
    expect(w.at('gw-a')).toBe(aAt);
    expect(w.calls.length).toBe(calls + 1); // the edit changed nothing to report
  });

  it('a relist after a watch error loses nothing: renewals meanwhile move observedAt, edits do not', async () => {
    lab = await startLab();
    await joined(lab, 'gw-a', 'gw-b');
    const errors: string[] = [];
    const w = watch(lab, { onError: (e: KubeError) => errors.push(e.code) });
    await waitFor(() => w.ids().length === 2 && lab!.server.openWatches > 0, 'both members, watching');
    const [aBefore, bBefore] = [w.at('gw-a')!, w.at('gw-b')!];
    const lists = (): number => lab!.server.requests.filter((q) => q.resource === 'leases' && !q.watch && q.method === 'GET' && q.name === undefined).length;
    const listed = lists();
    // The watch is cut and cannot come back for 300 ms. Meanwhile a renews, b's Lease is edited
    // (renewTime unchanged), and the history is compacted: the watch's resume point is gone (410).
    lab.server.faults.outage(300);
    lab.server.faults.dropWatches();
    await sleep(20);
    const a = stored(lab, 'gw-a')!;
    lab.server.store.put('leases', { ...a, spec: { ...specOf(a), renewTime: formatMicroTime(Date.now() * 1000 + 7) } });
    const b = stored(lab, 'gw-b')!;
    lab.server.store.put('leases', { ...b, metadata: { ...b.metadata, annotations: { note: 'edited' } } });
    lab.server.store.compact();
    await waitFor(() => lists() > listed && lab!.server.openWatches > 0, 're-list and re-watch');
    await waitFor(() => w.at('gw-a')! > aBefore, "a's renewal seen through the re-list");
    expect(errors.length).toBeGreaterThan(0);
    expect(w.at('gw-b')).toBe(bBefore);
    for (const c of w.calls.slice(1)) expect(c.map((m) => m.identity)).toEqual(['gw-a', 'gw-b']); // never one missing
  });

  it('sees only this installation’s members: not the shard Leases, the Lease itself, other installations or namespaces', async () => {
    lab = await startLab();
    const spec = { holderIdentity: 'gw-x', leaseDurationSeconds: 1, renewTime: '2026-01-01T00:00:00.000000Z' };
    lab.server.store.put('leases', { metadata: { name: ID, namespace: NS }, spec });
    lab.server.store.put('leases', { metadata: { name: `${ID}-0`, namespace: NS, labels: { 'eks-hybrid-gateway/shard-of': ID } }, spec });
    lab.server.store.put('leases', { metadata: { name: `other-member-gw-x`, namespace: NS, labels: { [MEMBER_LABEL]: 'other' } }, spec });
    lab.server.store.put('leases', { metadata: { name: `${ID}-member-gw-x`, namespace: 'default', labels: { [MEMBER_LABEL]: ID } }, spec });
    await new MemberLease({ clients: lab.newClients(), namespace: NS, leaderElectionID: 'other', identity: 'gw-y' }).join();
    const w = watch(lab);
    await waitFor(() => w.w.synced && w.calls.length > 0, 'first list');
    await member(lab, 'gw-a').join();
    await waitFor(() => w.ids().length > 0, 'a member');
    // Another installation's member renewing meanwhile reaches no one here.
    await new MemberLease({ clients: lab.newClients(), namespace: NS, leaderElectionID: 'other', identity: 'gw-z' }).join();
    await sleep(100);
    expect(w.calls.map((c) => c.map((m) => m.identity))).toEqual([[], ['gw-a']]);
  });
});

describe('member actors', () => {
  it('membersWatchActor sends MEMBERS.CHANGED with identity and observedAt, and closes its watch on stop', async () => {
    lab = await startLab();
    const parent = setup({
      types: { context: {} as { seen: MemberObservation[][] }, events: {} as MembersChangedEvent },
      actors: { watchMembers: membersWatchActor(lab.newClients(), REF) },
    }).createMachine({
      context: { seen: [] },
      invoke: { src: 'watchMembers' },
      on: { 'MEMBERS.CHANGED': { actions: assign({ seen: ({ context, event }) => [...context.seen, event.members] }) } },
    });
    const actor = createActor(parent).start();
    try {
      await member(lab, 'gw-a').join();
      await waitFor(() => actor.getSnapshot().context.seen.at(-1)?.[0]?.identity === 'gw-a', 'gw-a seen');
      const m = actor.getSnapshot().context.seen.at(-1)![0]!;
      expect(Object.keys(m).sort()).toEqual(['identity', 'observedAt']);
      expect(m.observedAt).toBeLessThanOrEqual(performance.now());
    } finally {
      actor.stop();
    }
    await waitFor(() => lab!.server.openWatches === 0, 'watch closed when the actor stops');
  });

  it('the heartbeat joins, renews every retry period, reports failures and carries on, and leaves the Lease on stop', async () => {
    lab = await startLab();
    const m = member(lab, 'gw-a');
    const failures: string[] = [];
    const parent = setup({
      actors: { heartbeat: memberHeartbeatActor(m, { retryPeriodMs: 50, onFailure: (e, phase) => failures.push(`${phase}:${e.code}`) }) },
    }).createMachine({ invoke: { src: 'heartbeat' } });
    // The first join fails: the heartbeat joins again at the next period.
    lab.server.faults.set({ errorRate: 1, errorStatus: 503 });
    const actor = createActor(parent).start();
    await waitFor(() => failures.includes('join:Unavailable'), 'a failed join reported');
    lab.server.faults.clear();
    await waitFor(() => stored(lab!, 'gw-a') !== undefined, 'joined');
    const renewTimes = new Set<string>();
    const t0 = performance.now();
    await waitFor(() => {
      renewTimes.add(String(specOf(stored(lab!, 'gw-a')).renewTime));
      return renewTimes.size >= 5;
    }, 'renewals');
    // Four renewals after the first value seen, 50 ms apart: about three periods at least, and not many more.
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(120);
    expect(took).toBeLessThan(1500);
    lab.server.faults.set({ errorRate: 1, errorStatus: 500 });
    await waitFor(() => failures.includes('renew:ServerError'), 'a failed renewal reported');
    lab.server.faults.clear();
    const afterFault = String(specOf(stored(lab, 'gw-a')).renewTime);
    await waitFor(() => String(specOf(stored(lab!, 'gw-a')).renewTime) !== afterFault, 'renewing again');
    actor.stop();
    await sleep(100); // a renewal in flight may land
    const last = String(specOf(stored(lab, 'gw-a')).renewTime);
    const mark = leaseRequests(lab).length;
    await sleep(200);
    expect(leaseRequests(lab).length).toBe(mark);
    expect(String(specOf(stored(lab, 'gw-a')).renewTime)).toBe(last);
    expect(await m.leave()).toBe(true);
  });
});
