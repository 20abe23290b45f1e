// EventRecorder: core/v1 Events on the Pod and the CiliumNode, deduplicated
// (count increments on one Event) and rate-limited per object (token bucket).
import { afterEach, describe, expect, it } from 'vitest';
import { ciliumNodeRef, EVENT_REASONS, EventRecorder, podRef } from '../../effects/kube/index.js';
import { startLab, type Lab } from './helpers.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.server.close();
  lab = undefined;
});

const eventWrites = (l: Lab): number => l.server.requests.filter((r) => r.resource === 'events' && (r.method === 'POST' || r.method === 'PUT')).length;

describe('EventRecorder', () => {
  it('EVENT_REASONS are the reasons the gateway emits, and the recorder takes no other', () => {
    expect(Object.values(EVENT_REASONS).sort()).toEqual(['LeaderElected', 'LeadershipLost', 'MalformedCiliumNode', 'OwnershipConflict', 'VtepRefused']);
    // @ts-expect-error a reason outside EVENT_REASONS does not type-check
    const record: (reason: 'Elsewhere') => unknown = (reason) => new EventRecorder({ clients: {} as never }).record(podRef('n', 'p'), 'Normal', reason, 'm');
    expect(typeof record).toBe('function');
  });

  it('creates an Event on the gateway Pod and counts repeats on the same Event', async () => {
    lab = await startLab();
    const rec = new EventRecorder({ clients: lab.clients, host: 'gw-a' });
    const pod = podRef('kube-system', 'gateway-abc', 'uid-1');
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leaderElected, 'gw-a became leader')).toBe('created');
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leaderElected, 'gw-a became leader')).toBe('updated');
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leaderElected, 'gw-a became leader')).toBe('updated');
    const events = lab.server.store.all('events', 'kube-system');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      reason: 'LeaderElected',
      type: 'Normal',
      count: 3,
      involvedObject: { kind: 'Pod', name: 'gateway-abc', namespace: 'kube-system', uid: 'uid-1' },
      source: { component: 'eks-hybrid-gateway', host: 'gw-a' },
    });
    // A different message is a different Event.
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leadershipLost, 'gw-a stopped leading')).toBe('created');
    expect(lab.server.store.all('events', 'kube-system')).toHaveLength(2);
  });

  it('puts Events about a cluster-scoped CiliumNode in namespace default', async () => {
    lab = await startLab();
    const rec = new EventRecorder({ clients: lab.clients });
    expect(await rec.record(ciliumNodeRef('hyb-1', 'u-9'), 'Warning', EVENT_REASONS.malformedCiliumNode, 'skipped: missing-internal-ip')).toBe('created');
    const [ev] = lab.server.store.all('events', 'default');
    expect(ev).toMatchObject({ type: 'Warning', involvedObject: { kind: 'CiliumNode', apiVersion: 'cilium.io/v2', name: 'hyb-1' } });
    expect((ev!.involvedObject as Record<string, unknown>).namespace).toBeUndefined();
  });

  it('rate-limits per object with a token bucket; suppressed repeats still count', async () => {
    lab = await startLab();
    let t = 0;
    const rec = new EventRecorder({ clients: lab.clients, burst: 3, refillEveryMs: 1000, now: () => t });
    const node = ciliumNodeRef('hyb-7');
    const results: string[] = [];
    for (let i = 0; i < 10; i++) results.push(await rec.record(node, 'Warning', EVENT_REASONS.malformedCiliumNode, 'skipped: invalid-pod-cidr'));
    expect(results.filter((r) => r !== 'dropped')).toHaveLength(3);
    expect(results.filter((r) => r === 'dropped')).toHaveLength(7);
    expect(eventWrites(lab)).toBe(3);
    // Another object has its own bucket.
    expect(await rec.record(ciliumNodeRef('hyb-8'), 'Warning', EVENT_REASONS.malformedCiliumNode, 'x')).toBe('created');
    // One refill later, one more write, carrying the whole count.
    t += 1000;
    expect(await rec.record(node, 'Warning', EVENT_REASONS.malformedCiliumNode, 'skipped: invalid-pod-cidr')).toBe('updated');
    const ev = lab.server.store.all('events', 'default').find((e) => (e.involvedObject as Record<string, unknown>).name === 'hyb-7');
    expect(ev?.count).toBe(11);
    expect(rec.stats).toMatchObject({ dropped: 7 });
  });

  it('never throws: API failures resolve to failed, and an Event deleted on the server is re-created', async () => {
    lab = await startLab();
    const errs: string[] = [];
    const rec = new EventRecorder({ clients: lab.clients, onError: (e) => errs.push(e.code) });
    const pod = podRef('default', 'p');
    lab.server.faults.set({ errorRate: 1, errorStatus: 503 });
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leaderElected, 'm')).toBe('failed');
    expect(errs).toEqual(['Unavailable']);
    lab.server.faults.clear();
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leaderElected, 'm')).toBe('created');
    const [ev] = lab.server.store.all('events', 'default');
    lab.server.store.remove('events', ev!.metadata!.name!, 'default');
    expect(await rec.record(pod, 'Normal', EVENT_REASONS.leaderElected, 'm')).toBe('created');
    expect(lab.server.store.all('events', 'default')[0]?.count).toBe(3);
  });
});
