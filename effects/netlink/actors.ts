// XState actor logic over the data plane, shaped for the named actors of
// machines/vtep.machine.ts (programVtep, removeVtep) and
// machines/fleet.machine.ts (reconcileKernel). The device comes from a getter
// because ensureDevice may recreate it (new ifindex) while actors live. Each
// actor passes xstate's `signal` to the adapter: when the machine leaves the
// invoking state the signal aborts and no further write of that actor starts.
import { fromPromise } from 'xstate';
import type { ReconcileKernelInput, ReconcileKernelOutput } from '../../machines/fleet.machine.js';
import type { ProgramVtepInput, RemoveVtepInput } from '../../machines/vtep.machine.js';
import type { DataPlane } from './data-plane.js';
import type { DeviceRef, ReconcileResult } from './types.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { NetlinkError } from './errors.js';

export type DeviceGetter = () => DeviceRef | undefined;

function deviceOf(get: DeviceGetter, op: string): DeviceRef {
  const dev = get();
  if (dev === undefined) throw new NetlinkError('ENODEV', op, 'hybrid_vxlan0 is not set up yet');
  return dev;
}

/** programVtep: the node's entries as `spec`, leftovers of `previous` removed. */
export function programVtepActor(dp: Pick<DataPlane, 'programVtep'>, device: DeviceGetter) {
  return fromPromise<void, ProgramVtepInput>(async ({ input, signal }) => {
    await dp.programVtep(deviceOf(device, `program vtep ${input.spec.name}`), input.spec, input.previous, { signal });
  });
}

/** removeVtep: every spec of the node that may be in the kernel, removed (idempotent). */
export function removeVtepActor(dp: Pick<DataPlane, 'removeVtep'>, device: DeviceGetter) {
  return fromPromise<void, RemoveVtepInput>(async ({ input, signal }) => {
    for (const spec of input.specs) await dp.removeVtep(deviceOf(device, `remove vtep ${spec.name}`), spec, { signal });
  });
}

function owners(vteps: readonly VtepSpec[]): (e: ReconcileResult['added'][number]) => string | undefined {
  const byRoute = new Map<string, string>();
  const byIp = new Map<string, string>();
  const byMac = new Map<string, string>();
  for (const v of vteps) {
    for (const c of v.podCIDRs) byRoute.set(c, v.name);
    byIp.set(v.nodeIP, v.name);
    byMac.set(v.mac, v.name);
  }
  return (e) => {
    switch (e.kind) {
      case 'route':
        return byRoute.get(e.dst);
      case 'neighbour':
      case 'nexthop':
        return byIp.get(e.kind === 'neighbour' ? e.ip : e.via);
      case 'fdb':
        return byMac.get(e.mac);
    }
  };
}

/** The node IP an entry we write belongs to (one IP per node). */
function nodeIpOf(e: ReconcileResult['added'][number]): string {
  return e.kind === 'neighbour' ? e.ip : e.kind === 'fdb' ? e.dst : e.via;
}

/**
 * What a bulk reconcile did, in nodes (for vtep_{add,remove}_total): the nodes
 * whose entries it added or fixed (counted by node IP, so no index of the
 * whole desired set is built), and the stale nodes it removed (one neighbour
 * entry each).
 */
export function nodesTouched(r: ReconcileResult): { programmed: number; removed: number } {
  const programmed = new Set<string>();
  for (const e of r.added) programmed.add(nodeIpOf(e));
  for (const e of r.fixed) programmed.add(nodeIpOf(e));
  return { programmed: programmed.size, removed: r.removed.filter((e) => e.kind === 'neighbour').length };
}

/**
 * The nodes some of whose wanted entries the kernel refused: a refused route,
 * neighbour or FDB write belongs to the node that wants that entry. Refused
 * removals of stale entries belong to nobody (the next sweep tries again).
 */
export function refusedNodes(vteps: readonly VtepSpec[], r: ReconcileResult): string[] {
  return Object.keys(refusalsByNode(vteps, r));
}

/** The first refused write's error, per node that had one. */
export function refusalsByNode(vteps: readonly VtepSpec[], r: ReconcileResult): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.failed.length === 0) return out;
  const ownerOf = owners(vteps);
  for (const f of r.failed) {
    if (f.op === 'remove') continue;
    const owner = ownerOf(f.entry);
    if (owner !== undefined && out[owner] === undefined) out[owner] = f.error.message;
  }
  return out;
}

/**
 * reconcileKernel: converges the device to the desired set. Writes the kernel
 * refuses do not fail it: their nodes are reported in `failedNodes` (the fleet
 * gives each its own actor, which retries and then stalls with the reason);
 * it rejects only when the reconcile itself cannot run. `onResult` sees the
 * full result (for logs and metrics).
 */
export function reconcileKernelActor(dp: Pick<DataPlane, 'reconcile'>, device: DeviceGetter, onResult?: (r: ReconcileResult, vteps: readonly VtepSpec[]) => void) {
  return fromPromise<ReconcileKernelOutput, ReconcileKernelInput>(async ({ input, signal }) => {
    const r = await dp.reconcile(deviceOf(device, 'reconcile'), input.vteps, { signal });
    onResult?.(r, input.vteps);
    const failedReasons = refusalsByNode(input.vteps, r);
    return { added: r.added.length, removed: r.removed.length, fixed: r.fixed.length, failedNodes: Object.keys(failedReasons), failedReasons };
  });
}
