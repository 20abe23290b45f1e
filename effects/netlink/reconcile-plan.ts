// The reconcile diff as a pure function: what the kernel holds (parsed dumps)
// against what is wanted, to the writes that make them equal. No I/O: tested
// without a kernel (test/unit/reconcile-plan.test.ts); data-plane.ts encodes
// and sends the writes.
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
  | { readonly kind: 'route-del'; readonly op: 'remove'; readonly route: ObservedRoute }
  | { readonly kind: 'nexthop-del'; readonly op: 'remove'; readonly id: number; readonly gateway: number | undefined }
  | { readonly kind: 'neigh-del'; readonly op: 'remove'; readonly ip: number; readonly mac: number | undefined }
  | { readonly kind: 'fdb-del'; readonly op: 'remove'; readonly fdb: ObservedFdb };

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
