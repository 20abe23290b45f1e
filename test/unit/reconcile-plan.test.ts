// The reconcile diff without a kernel: what the plan writes for observed
// entries against wanted specs, and in which order.
import { describe, expect, it } from 'vitest';
import { vtepMacForNode } from '../../machines/domain/ipv4.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { routeKey, type ObservedRoute } from '../../effects/netlink/entries.js';
import { planReconcile, type Observed, type PlannedWrite } from '../../effects/netlink/reconcile-plan.js';
import { wantedOf } from '../../effects/netlink/wanted.js';

const ip = (t: string): number => t.split('.').reduce((n, b) => n * 256 + Number(b), 0);
const spec = (name: string, nodeIP: string, podCIDRs: string[]): VtepSpec => ({ name, nodeIP, mac: vtepMacForNode(nodeIP), podCIDRs });
const mac = (nodeIP: string): number => parseInt(vtepMacForNode(nodeIP).replace(/:/g, ''), 16);

function route(dst: string, extra: Partial<ObservedRoute> = {}): ObservedRoute {
  const [a, len] = dst.split('/');
  const base = ip(a!);
  return { key: routeKey(base, Number(len)), base, dstLen: Number(len), gateway: undefined, nhId: undefined, onlink: false, priority: 0, tos: 0, odd: false, table: 8472, legacy: false, ...extra };
}

/** The kernel holding exactly `nodes` as the gateway writes them. */
function holding(nodes: VtepSpec[]): Observed {
  return {
    nexthops: { ours: nodes.map((n) => ({ id: ip(n.nodeIP), gateway: ip(n.nodeIP), onlink: true, protocol: 110 })), foreign: new Set() },
    routes: nodes.flatMap((n) => n.podCIDRs.map((c) => route(c, { nhId: ip(n.nodeIP), gateway: ip(n.nodeIP), onlink: true }))),
    neighbours: { ours: nodes.map((n) => ({ ip: ip(n.nodeIP), mac: mac(n.nodeIP), permanent: true })), dynamic: new Set() },
    fdb: nodes.map((n) => ({ mac: mac(n.nodeIP), dst: ip(n.nodeIP), permanent: true, extra: {} })),
  };
}

const kinds = (ws: readonly PlannedWrite[]): string[] => ws.map((w) => `${w.kind}:${w.op}`);
const a = spec('a', '198.18.20.1', ['198.19.0.0/26']);
const b = spec('b', '198.18.20.2', ['198.19.0.64/26', '198.19.0.128/26']);

describe('planReconcile', () => {
  it('moves main-table routes of an earlier version to the gateway table: new route first, old removed after', async () => {
    const held = holding([a]);
    const legacy = route('198.19.0.0/26', { nhId: ip('198.18.20.1'), gateway: ip('198.18.20.1'), onlink: true, table: 254, legacy: true });
    const plan = planReconcile({ ...held, routes: [legacy] }, await wantedOf('t', [a]));
    expect(kinds(plan.writes)).toEqual(['route-set:add', 'route-del:remove']);
    expect(plan.writes[1]).toMatchObject({ route: { table: 254, legacy: true } });
  });

  it('writes nothing when the kernel holds the wanted set', async () => {
    const plan = planReconcile(holding([a, b]), await wantedOf('t', [a, b]));
    expect(plan.writes).toEqual([]);
    expect(plan.unchanged).toBe(4 * 2 + 1);
    expect(plan.refused).toEqual([]);
  });

  it('orders upserts FDB → neighbour → nexthop → route, then removals in reverse', async () => {
    const plan = planReconcile(holding([a]), await wantedOf('t', [b]));
    expect(kinds(plan.writes)).toEqual([
      'fdb-set:add',
      'neigh-set:add',
      'nexthop-set:add',
      'route-set:add',
      'route-set:add',
      'route-del:remove',
      'nexthop-del:remove',
      'neigh-del:remove',
      'fdb-del:remove',
    ]);
  });

  it('rewrites a gateway-style route (an earlier version, or by hand) to the node nexthop', async () => {
    const seen = holding([a]);
    const observed: Observed = { ...seen, routes: [route('198.19.0.0/26', { gateway: ip('198.18.20.1'), onlink: true })] };
    const plan = planReconcile(observed, await wantedOf('t', [a]));
    expect(plan.writes).toEqual([{ kind: 'route-set', op: 'fix', route: expect.objectContaining({ dst: '198.19.0.0/26', nhId: ip('198.18.20.1') }) }]);
  });

  it('a node whose nexthop id another object holds is refused whole: none of its entries written, the object left alone', async () => {
    const seen: Observed = { ...holding([]), nexthops: { ours: [], foreign: new Set([ip(b.nodeIP)]) } };
    const plan = planReconcile(seen, await wantedOf('t', [a, b]));
    expect(plan.refused.map((r) => r.spec.name)).toEqual(['b']);
    expect(plan.refused[0]!.reason).toMatch(/nexthop id \d+ \(198\.18\.20\.2\) is held by a nexthop of another device/);
    const touched = plan.writes.map((w) => ('spec' in w ? w.spec.name : w.kind === 'route-set' ? w.route.via : '?'));
    expect(touched.every((n) => n === 'a' || n === a.nodeIP)).toBe(true);
    expect(plan.writes.some((w) => w.kind === 'nexthop-del')).toBe(false);
  });

  it('fixes a nexthop with the wrong gateway, and removes routes with a metric or tos of their own', async () => {
    const seen = holding([a]);
    const observed: Observed = {
      ...seen,
      nexthops: { ours: [{ id: ip(a.nodeIP), gateway: ip('198.18.20.9'), onlink: true, protocol: 110 }], foreign: new Set() },
      routes: [...seen.routes, route('198.19.0.0/26', { nhId: ip(a.nodeIP), priority: 50 })],
    };
    const plan = planReconcile(observed, await wantedOf('t', [a]));
    expect(kinds(plan.writes)).toEqual(['nexthop-set:fix', 'route-del:remove']);
  });
});
