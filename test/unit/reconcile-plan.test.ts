// The data plane's diffs without a kernel: what the reconcile plan writes for
// observed entries against wanted specs, and in which order; what one node's
// program/remove writes given who holds its nexthop ids and its IP.
import { describe, expect, it } from 'vitest';
import { vtepMacForNode } from '../../machines/domain/ipv4.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { routeKey, type ObservedRoute } from '../../effects/netlink/entries.js';
import { planProgramVtep, planRemoveVtep, planReconcile, type NexthopHolder, type NodeContext, type Observed, type PlannedWrite } from '../../effects/netlink/reconcile-plan.js';
import { checkSpec, wantedOf, type CheckedSpec } from '../../effects/netlink/wanted.js';

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

describe('planProgramVtep / planRemoveVtep', () => {
  const c = (v: VtepSpec): CheckedSpec => checkSpec('t', v);
  /** Nexthops of ours for `ours` (node IPs), another object's for `foreign`; IP owners as given. */
  const ctx = (ours: string[], owners: CheckedSpec[] = [], foreign: string[] = []): NodeContext => ({
    holder: (id): NexthopHolder => (ours.some((o) => ip(o) === id) ? 'ours' : foreign.some((f) => ip(f) === id) ? 'foreign' : 'absent'),
    ownerOf: (n) => owners.find((o) => o.ip === n),
  });
  const described = (ws: readonly PlannedWrite[]): string[] =>
    ws.map((w) => {
      switch (w.kind) {
        case 'route-set':
          return `${w.kind} ${w.route.dst}`;
        case 'route-del':
          return `${w.kind} ${w.route.base}/${w.route.dstLen} nh ${w.route.nhId}`;
        case 'nexthop-del':
          return `${w.kind} ${w.id}`;
        case 'neigh-del':
          return `${w.kind} ${w.ip}`;
        case 'fdb-del':
          return `${w.kind} ${w.fdb.mac} ${w.fdb.dst}`;
        default:
          return `${w.kind} ${w.spec.name}`;
      }
    });

  it('programs FDB, neighbour, nexthop, then the routes; claims the IP', () => {
    const plan = planProgramVtep(c(b), [], ctx([]));
    expect(plan.ok && described(plan.writes)).toEqual(['fdb-set b', 'neigh-set b', 'nexthop-set b', 'route-set 198.19.0.64/26', 'route-set 198.19.0.128/26']);
    expect(plan).toMatchObject({ ok: true, claim: ip(b.nodeIP), release: [] });
  });

  it('refuses a node whose nexthop id another object holds, writing nothing', () => {
    const plan = planProgramVtep(c(a), [], ctx([], [], [a.nodeIP]));
    expect(plan).toEqual({ ok: false, reason: expect.stringMatching(/nexthop id \d+ \(198\.18\.20\.1\) is held by a nexthop of another device/) });
  });

  it('a dropped pod CIDR of the same IP: only its route goes', () => {
    const before = spec('b', b.nodeIP, [...b.podCIDRs]);
    const after = spec('b', b.nodeIP, [b.podCIDRs[0]!]);
    const plan = planProgramVtep(c(after), [c(before)], ctx([b.nodeIP]));
    expect(plan.ok && described(plan.writes).slice(4)).toEqual([`route-del ${ip('198.19.0.128')}/26 nh ${ip(b.nodeIP)}`]);
  });

  it('a new IP: the old nexthop (with its routes), neighbour and FDB entry go; the old IP is released', () => {
    const moved = spec('a', '198.18.20.7', [...a.podCIDRs]);
    const plan = planProgramVtep(c(moved), [c(a)], ctx([a.nodeIP]));
    expect(plan.ok && described(plan.writes).slice(4)).toEqual([`nexthop-del ${ip(a.nodeIP)}`, `neigh-del ${ip(a.nodeIP)}`, `fdb-del ${mac(a.nodeIP)} ${ip(a.nodeIP)}`]);
    expect(plan).toMatchObject({ claim: ip('198.18.20.7'), release: [ip(a.nodeIP)] });
  });

  it("an old IP another node was programmed with since: only this node's routes through it go, its entries stay", () => {
    const moved = spec('a', '198.18.20.7', ['198.19.1.0/26']);
    const taker = c(spec('a2', a.nodeIP, ['198.19.2.0/26']));
    const plan = planProgramVtep(c(moved), [c(a)], ctx([a.nodeIP], [taker]));
    expect(plan.ok && described(plan.writes).slice(4)).toEqual([`route-del ${ip('198.19.0.0')}/26 nh ${ip(a.nodeIP)}`]);
    expect(plan).toMatchObject({ release: [] });
  });

  it('removes routes and nexthop (when ours), neighbour and FDB entry; releases the IP', () => {
    const all = planRemoveVtep(c(b), ctx([b.nodeIP]));
    expect(all.ok && described(all.writes)).toEqual([
      `route-del ${ip('198.19.0.64')}/26 nh ${ip(b.nodeIP)}`,
      `route-del ${ip('198.19.0.128')}/26 nh ${ip(b.nodeIP)}`,
      `nexthop-del ${ip(b.nodeIP)}`,
      `neigh-del ${ip(b.nodeIP)}`,
      `fdb-del ${mac(b.nodeIP)} ${ip(b.nodeIP)}`,
    ]);
    const gone = planRemoveVtep(c(b), ctx([]));
    expect(gone.ok && described(gone.writes)).toEqual([`neigh-del ${ip(b.nodeIP)}`, `fdb-del ${mac(b.nodeIP)} ${ip(b.nodeIP)}`]);
    expect(gone).toMatchObject({ release: [ip(b.nodeIP)] });
  });

  it('a removal after another node took the IP: only the routes it does not share with the new owner', () => {
    const taker = c(spec('b2', b.nodeIP, [b.podCIDRs[1]!]));
    const plan = planRemoveVtep(c(b), ctx([b.nodeIP], [taker]));
    expect(plan.ok && described(plan.writes)).toEqual([`route-del ${ip('198.19.0.64')}/26 nh ${ip(b.nodeIP)}`]);
    expect(plan).toMatchObject({ release: [] });
    expect(planRemoveVtep(c(b), ctx([], [taker]))).toEqual({ ok: true, writes: [], claim: undefined, release: [] });
  });
});
