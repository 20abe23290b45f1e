// The informer → fleet bridge: differences only, full list as NODES.SYNCED,
// skipped nodes reported once per new reason, cross-node conflicts re-settled.
import { describe, expect, it } from 'vitest';
import type { CiliumNode } from '../../machines/domain/cilium-node.js';
import { parseCidr } from '../../machines/domain/ipv4.js';
import type { FleetEvent } from '../../machines/fleet.machine.js';
import { DesiredFeed } from '../../runtime/wiring/desired-feed.js';

const vpc = parseCidr('198.18.0.0/16');
if (!vpc.ok) throw new Error('bad test CIDR');

function node(name: string, ip: string, cidrs: string[], ts = '2026-01-01T00:00:00Z'): CiliumNode {
  return { metadata: { name, creationTimestamp: ts }, spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs: cidrs } } };
}

function feed() {
  const events: FleetEvent[] = [];
  const skips: Array<{ fresh: string[]; current: string[] }> = [];
  const f = new DesiredFeed({
    vpcCidrs: [vpc.ok ? vpc.value : (undefined as never)],
    send: (e) => events.push(e),
    onSkipped: (fresh, current) => skips.push({ fresh: fresh.map((s) => `${s.name}:${s.reason}`), current: current.map((s) => s.name) }),
  });
  return { f, events, skips };
}

describe('DesiredFeed', () => {
  it('sends the full list once, then only changes', () => {
    const { f, events } = feed();
    f.resync([node('a', '203.0.113.1', ['198.19.0.0/24']), node('b', '203.0.113.2', ['198.19.1.0/24'])]);
    expect(events).toEqual([{ type: 'NODES.SYNCED', vteps: [expect.objectContaining({ name: 'a' }), expect.objectContaining({ name: 'b' })] }]);
    events.length = 0;
    f.upsert(node('a', '203.0.113.1', ['198.19.0.0/24'])); // no change
    f.upsert(node('a', '203.0.113.9', ['198.19.0.0/24'])); // IP change
    f.remove(node('b', '203.0.113.2', []));
    f.remove(node('zzz', '203.0.113.3', [])); // unknown: nothing
    expect(events).toEqual([
      { type: 'NODE.UPSERT', spec: expect.objectContaining({ name: 'a', nodeIP: '203.0.113.9', mac: '02:00:cb:00:71:09' }) },
      { type: 'NODE.REMOVE', name: 'b' },
    ]);
  });

  it('a node turning malformed is removed and reported once; fixing it brings it back', () => {
    const { f, events, skips } = feed();
    f.resync([node('a', '203.0.113.1', ['198.19.0.0/24'])]);
    events.length = 0;
    f.upsert(node('a', '203.0.113.1', ['198.18.5.0/24']));
    f.upsert(node('a', '203.0.113.1', ['198.18.6.0/24'])); // same reason: not reported again
    expect(events).toEqual([{ type: 'NODE.REMOVE', name: 'a' }]);
    expect(skips).toEqual([{ fresh: ['a:pod-cidr-in-vpc'], current: ['a'] }]);
    f.upsert(node('a', '203.0.113.1', ['198.19.0.0/24']));
    expect(events.at(-1)).toEqual({ type: 'NODE.UPSERT', spec: expect.objectContaining({ name: 'a' }) });
    expect(skips.at(-1)).toEqual({ fresh: [], current: [] });
  });

  it('when the older owner of a contested CIDR leaves, the newer node gets it', () => {
    const { f, events } = feed();
    f.resync([node('old', '203.0.113.1', ['198.19.0.0/24'], '2026-01-01T00:00:00Z'), node('new', '203.0.113.2', ['198.19.0.0/25'], '2026-02-01T00:00:00Z')]);
    expect((events[0] as Extract<FleetEvent, { type: 'NODES.SYNCED' }>).vteps.map((v) => v.name)).toEqual(['old']);
    events.length = 0;
    f.remove(node('old', '203.0.113.1', []));
    expect(events).toEqual([{ type: 'NODE.UPSERT', spec: expect.objectContaining({ name: 'new' }) }, { type: 'NODE.REMOVE', name: 'old' }]);
  });
});
