// XState actor logic over the data plane, shaped for the named actors of
// machines/vtep.machine.ts (programVtep, removeVtep) and
// machines/fleet.machine.ts (reconcileKernel). The device comes from a getter
// because ensureDevice may recreate it (new ifindex) while actors live. Each
// actor passes xstate's `signal` to the adapter: when the machine leaves the
// invoking state the signal aborts and no further write of that actor starts.
import { fromPromise } from 'xstate';
import type { ReconcileKernelInput, ReconcileKernelOutput } from '../../machines/fleet.machine.js';
import type { ProgramVtepInput, RemoveVtepInput } from '../../machines/vtep.machine.js';
import type { DataPlane, DeviceRef, ReconcileResult } from './data-plane.js';
import { NetlinkError } from './errors.js';

export type DeviceGetter = () => DeviceRef | undefined;

function deviceOf(get: DeviceGetter, op: string): DeviceRef {
  const dev = get();
  if (dev === undefined) throw new NetlinkError('ENODEV', op, 'hybrid_vxlan0 is not set up yet');
  return dev;
}

/** programVtep: the node's entries as `spec`, leftovers of `previous` removed. */
export function programVtepActor(dp: DataPlane, device: DeviceGetter) {
  return fromPromise<void, ProgramVtepInput>(async ({ input, signal }) => {
    await dp.programVtep(deviceOf(device, `program vtep ${input.spec.name}`), input.spec, input.previous, { signal });
  });
}

/** removeVtep: every spec of the node that may be in the kernel, removed (idempotent). */
export function removeVtepActor(dp: DataPlane, device: DeviceGetter) {
  return fromPromise<void, RemoveVtepInput>(async ({ input, signal }) => {
    for (const spec of input.specs) await dp.removeVtep(deviceOf(device, `remove vtep ${spec.name}`), spec, { signal });
  });
}

/**
 * reconcileKernel: converges the device to the desired set. Resolves with the
 * counts; rejects when any write was refused (after all others were made),
 * so the fleet falls back to per-node programming. `onResult` sees the full
 * result either way (for logs and metrics).
 */
export function reconcileKernelActor(dp: DataPlane, device: DeviceGetter, onResult?: (r: ReconcileResult) => void) {
  return fromPromise<ReconcileKernelOutput, ReconcileKernelInput>(async ({ input, signal }) => {
    const r = await dp.reconcile(deviceOf(device, 'reconcile'), input.vteps, { signal });
    onResult?.(r);
    const first = r.failed[0];
    if (first !== undefined) {
      throw new NetlinkError(first.error.code, 'reconcile', `${r.failed.length} write(s) refused, first: ${first.error.message}`, {
        cause: first.error,
      });
    }
    return { added: r.added.length, removed: r.removed.length, fixed: r.fixed.length };
  });
}
