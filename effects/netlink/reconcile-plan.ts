// The data plane's diffs as pure functions. No I/O: tested without a kernel
// (test/unit/reconcile-plan.test.ts); entry-writes.ts encodes the writes and
// sends them.
//
// - planReconcile: what the kernel holds (parsed dumps) against the whole
//   wanted set, to the writes that make them equal.
// - planProgramVtep / planRemoveVtep: one hybrid node's writes, given who
//   holds the nexthop ids involved and which node each IP's entries were last
//   written for (node-ops.ts looks those up and keeps that book).
//
// Routes live in the gateway's own table; main-table routes of earlier
// versions are removed (after the new ones are in place).
//
// Order: FDB, neighbour, nexthop, route upserts (a node's route appears after
// everything it forwards through), then removals in reverse (routes first,
// so nothing routes into a removed nexthop or neighbour).
//
// A node whose nexthop id is held by an object that is not ours (another
// device, a group) is refused as a whole: no entry of it is written, so the
// kernel never holds half a node, and the object is left alone.
import type { ObservedFdb, ObservedNeighbour, ObservedNexthop, ObservedRoute } from './entries.js';
import type { CheckedSpec, Wanted, WantedRoute } from './wanted.js';

export interface Observed {
  readonly nexthops: { readonly ours: readonly ObservedNexthop[]; readonly foreign: ReadonlySet<number> };
  readonly routes: readonly ObservedRoute[];
  readonly neighbours: { readonly ours: readonly ObservedNeighbour[]; readonly dynamic: ReadonlySet<number> };
  readonly fdb: readonly ObservedFdb[];
}

export type PlannedWrite =
  | { readonly kind: 'fdb-set'; readonly op: 'add' | 'fix'; readonly spec: CheckedSpec }
  | { readonly kind: 'neigh-set'; readonly op: 'add' | 'fix'; readonly spec: CheckedSpec }
  | { readonly kind: 'nexthop-set'; readonly op: 'add' | 'fix'; readonly spec: CheckedSpec }
  | { readonly kind: 'route-set'; readonly op: 'add' | 'fix'; readonly route: WantedRoute }
  | { readonly kind: 'route-del'; readonly op: 'remove'; readonly route: RouteToDelete }
  | { readonly kind: 'nexthop-del'; readonly op: 'remove'; readonly id: number; readonly gateway: number | undefined }
  | { readonly kind: 'neigh-del'; readonly op: 'remove'; readonly ip: number; readonly mac: number | undefined }
  | { readonly kind: 'fdb-del'; readonly op: 'remove'; readonly fdb: FdbToDelete };

/** A route to delete: an observed one (any table, metric, tos), or one of a node's through its nexthop. */
export interface RouteToDelete {
  readonly base: number;
  readonly dstLen: number;
  readonly nhId?: number | undefined;
  readonly gateway?: number | undefined;
  readonly priority?: number;
  readonly tos?: number;
  /** Default: the gateway's table. */
  readonly table?: number;
}

/** An FDB entry to delete: MAC and destination, and the attributes an observed entry carries of its own. */
export interface FdbToDelete {
  readonly mac: number;
  readonly dst: number | undefined;
  readonly extra?: ObservedFdb['extra'];
}

export interface ReconcilePlan {
  readonly writes: readonly PlannedWrite[];
  readonly unchanged: number;
  /** Nodes refused before any write (their nexthop id is not ours to use). */
  readonly refused: ReadonlyArray<{ readonly spec: CheckedSpec; readonly reason: string }>;
}

export function planReconcile(observed: Observed, wanted: Wanted): ReconcilePlan {
  const refused: Array<{ spec: CheckedSpec; reason: string }> = [];
  const blocked = new Set<CheckedSpec>();
  for (const [id, s] of wanted.nexthops) {
    if (observed.nexthops.foreign.has(id)) {
      blocked.add(s);
      refused.push({ spec: s, reason: `nexthop id ${id} (${s.nodeIP}) is held by a nexthop of another device or kind; not taken over` });
    }
  }
  const fdbSet: PlannedWrite[] = [];
  const neighSet: PlannedWrite[] = [];
  const nhSet: PlannedWrite[] = [];
  const routeSet: PlannedWrite[] = [];
  const routeDel: PlannedWrite[] = [];
  const nhDel: PlannedWrite[] = [];
  const neighDel: PlannedWrite[] = [];
  const fdbDel: PlannedWrite[] = [];
  let unchanged = 0;
  const ok = (s: CheckedSpec | undefined): s is CheckedSpec => s !== undefined && !blocked.has(s);

  // FDB: the kernel keeps one remote per unicast MAC (append to an existing
  // unicast MAC is a no-op), so entries are keyed by MAC: a wanted MAC with
  // another dst, a port/VNI/ifindex of its own or a non-permanent state is
  // fixed with REPLACE; a MAC nobody wants is removed.
  const fdbSeen = new Set<number>();
  for (const f of observed.fdb) {
    const w = wanted.fdb.get(f.mac);
    if (w === undefined || fdbSeen.has(f.mac)) {
      fdbDel.push({ kind: 'fdb-del', op: 'remove', fdb: f });
      continue;
    }
    fdbSeen.add(f.mac);
    if (!ok(w)) continue;
    const clean = f.extra.port === undefined && f.extra.vni === undefined && f.extra.ifindex === undefined;
    if (clean && f.permanent && f.dst === w.ip) unchanged++;
    else fdbSet.push({ kind: 'fdb-set', op: 'fix', spec: w });
  }
  for (const [mac, w] of wanted.fdb) if (!fdbSeen.has(mac) && ok(w)) fdbSet.push({ kind: 'fdb-set', op: 'add', spec: w });

  // Neighbours: ours are the permanent ones; a wanted IP held by a dynamic entry is fixed.
  const neighSeen = new Set<number>();
  for (const n of observed.neighbours.ours) {
    const w = wanted.neighbours.get(n.ip);
    if (w === undefined) {
      neighDel.push({ kind: 'neigh-del', op: 'remove', ip: n.ip, mac: n.mac });
      continue;
    }
    neighSeen.add(n.ip);
    if (!ok(w)) continue;
    if (w.macNum === n.mac) unchanged++;
    else neighSet.push({ kind: 'neigh-set', op: 'fix', spec: w });
  }
  for (const [ip, w] of wanted.neighbours) {
    if (!neighSeen.has(ip) && ok(w)) neighSet.push({ kind: 'neigh-set', op: observed.neighbours.dynamic.has(ip) ? 'fix' : 'add', spec: w });
  }

  // Nexthops: one per node, id = node IP.
  const nhSeen = new Set<number>();
  for (const n of observed.nexthops.ours) {
    const w = wanted.nexthops.get(n.id);
    if (w === undefined) {
      nhDel.push({ kind: 'nexthop-del', op: 'remove', id: n.id, gateway: n.gateway });
      continue;
    }
    nhSeen.add(n.id);
    if (n.gateway === w.ip && n.onlink) unchanged++;
    else nhSet.push({ kind: 'nexthop-set', op: 'fix', spec: w });
  }
  for (const [id, w] of wanted.nexthops) if (!nhSeen.has(id) && ok(w)) nhSet.push({ kind: 'nexthop-set', op: 'add', spec: w });

  // Routes: key (dst, len). The slot REPLACE acts on is (dst, tos 0, metric 0);
  // entries of the same dst with another tos/metric are removed. A wanted route
  // is right when it uses the node's nexthop; a gateway-style route is rewritten.
  const routeSeen = new Set<number>();
  const blockedRoutes = new Set<number>();
  for (const s of blocked) for (const r of s.routes) blockedRoutes.add(r.key);
  for (const r of observed.routes) {
    const w = wanted.routes.get(r.key);
    // A legacy main-table route goes whatever it says: the wanted one lives in the gateway's table.
    if (r.legacy || w === undefined || r.priority !== 0 || r.tos !== 0 || routeSeen.has(r.key)) {
      routeDel.push({ kind: 'route-del', op: 'remove', route: r });
      continue;
    }
    routeSeen.add(r.key);
    if (blockedRoutes.has(r.key)) continue;
    if (r.nhId === w.nhId && !r.odd) unchanged++;
    else routeSet.push({ kind: 'route-set', op: 'fix', route: w });
  }
  for (const [key, w] of wanted.routes) if (!routeSeen.has(key) && !blockedRoutes.has(key)) routeSet.push({ kind: 'route-set', op: 'add', route: w });

  return { writes: [...fdbSet, ...neighSet, ...nhSet, ...routeSet, ...routeDel, ...nhDel, ...neighDel, ...fdbDel], unchanged, refused };
}

/** Who holds a nexthop id: a nexthop of ours on the device, another object (device, group…), or nobody. */
export type NexthopHolder = 'ours' | 'foreign' | 'absent';

export interface NodeContext {
  /** Who holds nexthop `id` (as the writes planned before this node's leave the kernel). */
  readonly holder: (id: number) => NexthopHolder;
  /** The node whose entries were last written for node IP `ip`, if any. */
  readonly ownerOf: (ip: number) => CheckedSpec | undefined;
}

export type NodePlan =
  | { readonly ok: true; readonly writes: readonly PlannedWrite[]; readonly claim: number | undefined; readonly release: readonly number[] }
  | { readonly ok: false; readonly reason: string };

const add = <K extends 'fdb-set' | 'neigh-set' | 'nexthop-set'>(kind: K, spec: CheckedSpec) => ({ kind, op: 'add' as const, spec });

/** The node's routes through its nexthop, as deletes. */
const routeDels = (s: CheckedSpec, routes: readonly WantedRoute[]): PlannedWrite[] =>
  routes.map((r) => ({ kind: 'route-del', op: 'remove', route: { base: r.base, dstLen: r.prefix, nhId: s.nhId, gateway: s.ip } }));

/**
 * One node's entries as `s` (FDB, neighbour, nexthop, then a route per pod
 * CIDR: the route appears last), then what `previous` specs of the node left
 * that `s` no longer covers: an old IP's nexthop (taking its routes with it),
 * neighbour and FDB entry, dropped pod CIDRs' routes while they still use the
 * old nexthop. An old IP written for another node since keeps its entries;
 * only this node's routes through it go. Refused (nothing written) when the
 * node's nexthop id is held by an object not ours. `claim`/`release`: the node
 * IPs whose entries are this node's, and no longer its, once written.
 */
export function planProgramVtep(s: CheckedSpec, previous: readonly CheckedSpec[], ctx: NodeContext): NodePlan {
  if (ctx.holder(s.nhId) === 'foreign') {
    return { ok: false, reason: `nexthop id ${s.nhId} (${s.nodeIP}) is held by a nexthop of another device or kind; not taken over` };
  }
  const other = (ip: number): CheckedSpec | undefined => {
    const owner = ctx.ownerOf(ip);
    return owner !== undefined && owner.name !== s.name ? owner : undefined;
  };
  const writes: PlannedWrite[] = [add('fdb-set', s), add('neigh-set', s), add('nexthop-set', s)];
  for (const r of s.routes) writes.push({ kind: 'route-set', op: 'add', route: r });
  const seen = new Set<string>();
  const keep = new Set(s.routes.map((r) => r.key));
  for (const p of previous) {
    const owner = p.ip === s.ip ? undefined : other(p.ip);
    if (p.ip === s.ip || owner !== undefined) {
      // Same nexthop: only the pod CIDRs it no longer has. An old IP written for another node
      // since: only this node's routes through it (not the other's), its entries stay.
      const theirs = new Set(owner?.routes.map((r) => r.key));
      if (owner !== undefined && ctx.holder(p.nhId) !== 'ours') continue; // gone, with its routes
      for (const r of p.routes) {
        if (keep.has(r.key) || theirs.has(r.key) || seen.has(`r${p.ip}>${r.key}`)) continue;
        seen.add(`r${p.ip}>${r.key}`);
        writes.push(...routeDels(p, [r]));
      }
      continue;
    }
    // Another node IP: its nexthop goes, and with it every route still through it
    // (the kept pod CIDRs were moved to the new nexthop above).
    if (!seen.has(`n${p.ip}`)) {
      seen.add(`n${p.ip}`);
      if (ctx.holder(p.nhId) === 'ours') writes.push({ kind: 'nexthop-del', op: 'remove', id: p.nhId, gateway: p.ip });
      writes.push({ kind: 'neigh-del', op: 'remove', ip: p.ip, mac: p.macNum });
    }
  }
  for (const p of previous) {
    if ((p.macNum !== s.macNum || p.ip !== s.ip) && other(p.ip) === undefined && !seen.has(`f${p.macNum}>${p.ip}`)) {
      seen.add(`f${p.macNum}>${p.ip}`);
      writes.push({ kind: 'fdb-del', op: 'remove', fdb: { mac: p.macNum, dst: p.ip } });
    }
  }
  const release = [...new Set(previous.filter((p) => p.ip !== s.ip && other(p.ip) === undefined).map((p) => p.ip))];
  return { ok: true, writes, claim: s.ip, release };
}

/**
 * One node's removal: its routes and its nexthop (when ours), its neighbour
 * and FDB entry. When its IP was written for another node since, only this
 * node's routes through that nexthop go (none once it is gone).
 */
export function planRemoveVtep(s: CheckedSpec, ctx: NodeContext): NodePlan {
  const owner = ctx.ownerOf(s.ip);
  if (owner !== undefined && owner.name !== s.name) {
    if (ctx.holder(s.nhId) !== 'ours') return { ok: true, writes: [], claim: undefined, release: [] };
    const theirs = new Set(owner.routes.map((r) => r.key));
    return { ok: true, writes: routeDels(s, s.routes.filter((r) => !theirs.has(r.key))), claim: undefined, release: [] };
  }
  // Deleting its nexthop takes every route still through it (none of another node's).
  const writes: PlannedWrite[] = ctx.holder(s.nhId) === 'ours' ? [...routeDels(s, s.routes), { kind: 'nexthop-del', op: 'remove', id: s.nhId, gateway: s.ip }] : [];
  writes.push({ kind: 'neigh-del', op: 'remove', ip: s.ip, mac: s.macNum }, { kind: 'fdb-del', op: 'remove', fdb: { mac: s.macNum, dst: s.ip } });
  return { ok: true, writes, claim: undefined, release: [s.ip] };
}
