// The informer → fleet bridge: nothing before the first complete list, the
// full list as NODES.SYNCED, then only differences, coalesced per batch;
// skipped nodes reported once per new reason; cross-node conflicts re-settled;
// a large list taken in slices that hand the event loop back.
import { describe, expect, it } from 'vitest';
import type { CiliumNode } from '../../machines/domain/cilium-node.js';
import { intToIPv4, parseCidr } from '../../machines/domain/ipv4.js';
import type { FleetEvent } from '../../machines/fleet.machine.js';
import { DesiredFeed } from '../../runtime/wiring/desired-feed.js';

const vpc = parseCidr('198.18.0.0/16');
const pods = parseCidr('198.19.0.0/16');
if (!vpc.ok || !pods.ok) throw new Error('bad test CIDR');

function node(name: string, ip: string, cidrs: string[], ts = '2026-01-01T00:00:00Z'): CiliumNode {
  return { metadata: { name, creationTimestamp: ts }, spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs: cidrs } } };
}

function feed(opts: { sliceSize?: number; budgetMs?: number; yieldToLoop?: () => Promise<void>; listChunk?: number } = {}) {
  const events: FleetEvent[] = [];
  const skips: Array<{ fresh: string[]; byReason: Record<string, number> }> = [];
  const f = new DesiredFeed({
    policy: { vpcCidrs: [vpc.ok ? vpc.value : (undefined as never)], podCidrs: [pods.ok ? pods.value : (undefined as never)], gatewayAddresses: new Set<number>() },
    send: (e) => events.push(e),
    onSkipped: (fresh, byReason) => skips.push({ fresh: fresh.map((s) => `${s.name}:${s.reason}`), byReason: Object.fromEntries(byReason) }),
    ...opts,
  });
  return { f, events, skips };
}

describe('DesiredFeed', () => {
  it('ignores the list items that come one by one before the first complete list', async () => {
    const { f, events } = feed();
    f.upsert(node('a', '203.0.113.1', ['198.19.0.0/24']));
    await f.settled();
    expect(events).toEqual([]);
    f.resync([node('a', '203.0.113.1', ['198.19.0.0/24'])]);
    await f.settled();
    expect(events).toEqual([{ type: 'NODES.SYNCED', vteps: [expect.objectContaining({ name: 'a' })] }]);
  });

  it('sends the full list once, then only changes, one event per batch', async () => {
    const { f, events } = feed();
    f.resync([node('a', '203.0.113.1', ['198.19.0.0/24']), node('b', '203.0.113.2', ['198.19.1.0/24'])]);
    await f.settled();
    expect(events).toEqual([{ type: 'NODES.SYNCED', vteps: [expect.objectContaining({ name: 'a' }), expect.objectContaining({ name: 'b' })] }]);
    events.length = 0;
    f.upsert(node('a', '203.0.113.1', ['198.19.0.0/24'])); // no change
    f.upsert(node('a', '203.0.113.9', ['198.19.0.0/24'])); // IP change
    f.remove(node('b', '203.0.113.2', []));
    f.remove(node('zzz', '203.0.113.3', [])); // unknown: nothing
    await f.settled();
    expect(events).toEqual([
      {
        type: 'NODES.CHANGED',
        upserts: [expect.objectContaining({ name: 'a', nodeIP: '203.0.113.9', mac: '02:00:cb:00:71:09' })],
        removes: ['b'],
      },
    ]);
    f.upsert(node('a', '203.0.113.9', ['198.19.0.0/24'])); // the same again: nothing to send
    await f.settled();
    expect(events).toHaveLength(1);
  });

  it('a node turning malformed is removed and reported once; fixing it brings it back', async () => {
    const { f, events, skips } = feed();
    f.resync([node('a', '203.0.113.1', ['198.19.0.0/24'])]);
    await f.settled();
    events.length = 0;
    f.upsert(node('a', '203.0.113.1', ['198.18.5.0/24']));
    await f.settled();
    f.upsert(node('a', '203.0.113.1', ['198.18.6.0/24'])); // same reason: not reported again
    await f.settled();
    expect(events).toEqual([{ type: 'NODES.CHANGED', upserts: [], removes: ['a'] }]);
    expect(skips).toEqual([{ fresh: ['a:pod-cidr-in-vpc'], byReason: { 'pod-cidr-in-vpc': 1 } }]);
    f.upsert(node('a', '203.0.113.1', ['198.19.0.0/24']));
    await f.settled();
    expect(events.at(-1)).toEqual({ type: 'NODES.CHANGED', upserts: [expect.objectContaining({ name: 'a' })], removes: [] });
    expect(skips.at(-1)).toEqual({ fresh: [], byReason: {} });
  });

  it('when the older owner of a contested CIDR leaves, the newer node gets it', async () => {
    const { f, events } = feed();
    f.resync([node('old', '203.0.113.1', ['198.19.0.0/24'], '2026-01-01T00:00:00Z'), node('new', '203.0.113.2', ['198.19.0.0/25'], '2026-02-01T00:00:00Z')]);
    await f.settled();
    expect((events[0] as Extract<FleetEvent, { type: 'NODES.SYNCED' }>).vteps.map((v) => v.name)).toEqual(['old']);
    events.length = 0;
    f.remove(node('old', '203.0.113.1', []));
    await f.settled();
    expect(events).toEqual([{ type: 'NODES.CHANGED', upserts: [expect.objectContaining({ name: 'new' })], removes: ['old'] }]);
  });

  it('a re-list after the first sends only what changed; changes arriving while a list is applied are kept', async () => {
    let yields = 0;
    const { f, events } = feed({ sliceSize: 10, budgetMs: 0, yieldToLoop: () => new Promise((r) => setImmediate(() => r(void yields++))) });
    const nodes = Array.from({ length: 100 }, (_, i) => ({ ...node(`n${i}`, intToIPv4(0xcb007100 + i + 1), [`198.19.${i}.0/24`]), metadata: { name: `n${i}`, resourceVersion: '1' } }));
    f.resync(nodes);
    // A watch event while the list is still being applied.
    await new Promise((r) => setImmediate(r));
    f.upsert({ ...node('late', '192.0.2.1', ['198.19.200.0/24']), metadata: { name: 'late', resourceVersion: '2' } });
    await f.settled();
    expect(yields).toBeGreaterThan(10);
    expect(events[0]).toMatchObject({ type: 'NODES.SYNCED' });
    expect((events[0] as Extract<FleetEvent, { type: 'NODES.SYNCED' }>).vteps).toHaveLength(100);
    expect(events[1]).toEqual({ type: 'NODES.CHANGED', upserts: [expect.objectContaining({ name: 'late' })], removes: [] });
    events.length = 0;
    // A re-list (after a 410): n0 changed, n1 gone, the rest the same resourceVersion.
    f.resync([
      { ...node('n0', '203.0.113.250', ['198.19.0.0/24']), metadata: { name: 'n0', resourceVersion: '3' } },
      ...nodes.slice(2),
      { ...node('late', '192.0.2.1', ['198.19.200.0/24']), metadata: { name: 'late', resourceVersion: '2' } },
    ]);
    await f.settled();
    expect(events).toEqual([{ type: 'NODES.CHANGED', upserts: [expect.objectContaining({ name: 'n0', nodeIP: '203.0.113.250' })], removes: ['n1'] }]);
  });

  it('a first list larger than a part goes to the fleet in parts (NODES.CHANGED, a turn of the loop after each), then NODES.SYNCED with the whole list', async () => {
    let yields = 0;
    const { f, events } = feed({ listChunk: 40, yieldToLoop: () => new Promise((r) => setImmediate(() => r(void yields++))) });
    const nodes = Array.from({ length: 100 }, (_, i) => node(`n${i}`, intToIPv4(0xcb007100 + i + 1), [`198.19.${i}.0/24`]));
    f.resync(nodes);
    await f.settled();
    expect(events.map((e) => e.type)).toEqual(['NODES.CHANGED', 'NODES.CHANGED', 'NODES.CHANGED', 'NODES.SYNCED']);
    const parts = events.slice(0, 3) as Array<Extract<FleetEvent, { type: 'NODES.CHANGED' }>>;
    expect(parts.map((p) => p.upserts.length)).toEqual([40, 40, 20]);
    expect(parts.every((p) => p.removes.length === 0)).toBe(true);
    const synced = events[3] as Extract<FleetEvent, { type: 'NODES.SYNCED' }>;
    // The same spec objects as the parts: the fleet finds its desired set equal to the list without rebuilding it.
    expect(synced.vteps).toEqual(parts.flatMap((p) => p.upserts));
    expect(synced.vteps.every((v, i) => v === parts.flatMap((p) => p.upserts)[i])).toBe(true);
    // One turn before the batch, one after each part.
    expect(yields).toBeGreaterThanOrEqual(4);
    // A list no larger than a part is one NODES.SYNCED, as before.
    const small = feed({ listChunk: 40 });
    small.f.resync(nodes.slice(0, 40));
    await small.f.settled();
    expect(small.events.map((e) => e.type)).toEqual(['NODES.SYNCED']);
  });
});
