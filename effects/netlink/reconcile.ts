// reconcile: the device's entries converged to exactly the desired set, from
// one dump of each kind, the pure plan (reconcile-plan.ts) and one batch of
// writes: additions and fixes first (make before break), removals of stale
// entries last. Entries the kernel owns are never touched (entries.ts).
// Refused writes are reported in `failed`, the rest goes on.
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { breather } from '../breathe.js';
import { dumpFdb, dumpNeighbours, dumpNexthops, dumpRoutes } from './dumps.js';
import { ourFdb, ourNeighbours, ourNexthops, ourRoutes, type Entry } from './entries.js';
import { NetlinkError } from './errors.js';
import { applyWrites, encodeWrite, type Write } from './entry-writes.js';
import type { IpOwners } from './node-ops.js';
import { planReconcile } from './reconcile-plan.js';
import { refuseIfAborted, type Rtnl } from './rtnl.js';
import type { DeviceRef, ReconcileResult, WriteOptions } from './types.js';
import { wantedOf } from './wanted.js';

export async function reconcileDevice(rt: Rtnl, table: number, owners: IpOwners, dev: DeviceRef, desired: Iterable<VtepSpec>, opts: WriteOptions): Promise<ReconcileResult> {
  const op = `reconcile ${dev.name ?? dev.ifindex}`;
  const want = await wantedOf(op, desired);
  const { signal } = opts;
  refuseIfAborted(signal, op);

  const nexthops = ourNexthops(await dumpNexthops(rt), dev.ifindex);
  const ourIds = new Set(nexthops.ours.map((n) => n.id));
  const observed = {
    nexthops,
    routes: ourRoutes(await dumpRoutes(rt), dev.ifindex, ourIds, table),
    neighbours: ourNeighbours(await dumpNeighbours(rt, dev.ifindex), dev.ifindex),
    fdb: ourFdb(await dumpFdb(rt), dev.ifindex),
  };
  const plan = planReconcile(observed, want);
  const b = breather();
  const writes: Write[] = [];
  for (const p of plan.writes) {
    writes.push(encodeWrite(dev, p, table));
    if (b.due()) await b.pause();
  }
  const { done, failed } = await applyWrites(rt, dev, writes, op, signal);
  // The desired set is what the kernel holds now: each IP's entries are its node's.
  owners.forgetDevice(dev.ifindex);
  for (const spec of want.nexthops.values()) owners.claim(dev, spec);
  const refused = plan.refused.map((r) => ({
    entry: { kind: 'nexthop', id: r.spec.nhId, via: r.spec.nodeIP } as const,
    op: 'add' as const,
    error: new NetlinkError('EEXIST', op, r.reason),
  }));
  const added: Entry[] = [];
  const removed: Entry[] = [];
  const fixed: Entry[] = [];
  for (const w of done) (w.op === 'add' ? added : w.op === 'remove' ? removed : fixed).push(w.entry);
  return { added, removed, fixed, unchanged: plan.unchanged, failed: [...refused, ...failed.map((f) => ({ entry: f.w.entry, op: f.w.op, error: f.error }))] };
}
