// XState actor logic over the kube adapters, shaped for the gateway machine's
// named actors (machines/gateway.machine.ts): watchLease, tryAcquireLease,
// renewLease, releaseLease, writeVtepConfig. The machine stops an invoked
// actor when it leaves the state that invoked it; xstate then aborts the
// actor's `signal`, which the adapters treat as the fencing signal: a leader
// write in flight is aborted and no new one starts.
import { fromCallback, fromPromise, type EventObject } from 'xstate';
import type { CiliumNodeHandlers, CiliumNodeInformerOptions } from './cilium-nodes.js';
import { startCiliumNodeInformer } from './cilium-nodes.js';
import type { KubeClients } from './client.js';
import type { KubeObject } from './list-watch.js';
import type { LeaseAttempt, LeaseLock } from './lease-lock.js';
import type { VtepConfigClient, VtepEndpoint, VtepUpsertResult } from './vtep-config.js';

/** Events the lease watch sends to its parent (the gateway machine's vocabulary). */
export type LeaseWatchEvent = { type: 'LEASE.FREE' } | { type: 'LEASE.LOST'; holder?: string };

/**
 * tryAcquireLease / renewLease: one LeaseLock attempt. Resolves with the LeaseAttempt (a
 * superset of the machine's LeaseOutcome: held, holder, renewedAt); never rejects for API
 * failures (outcome 'error'), so the machine's retry timing stays in the chart.
 */
export function leaseAttemptActor(lock: LeaseLock) {
  return fromPromise<LeaseAttempt>(({ signal }) => lock.tryAcquireOrRenew(signal));
}

/** releaseLease: clears the holder if it is us (the standby then acquires at once). */
export function leaseReleaseActor(lock: LeaseLock) {
  return fromPromise<boolean>(({ signal }) => lock.release(signal));
}

/**
 * watchLease: LEASE.FREE when the Lease is released or deleted, LEASE.LOST when another
 * identity holds it. Sent on each observed change only.
 */
export function leaseWatchActor<E extends EventObject = LeaseWatchEvent>(lock: LeaseLock) {
  // E: the parent's event union (it must include LeaseWatchEvent); xstate types actors by it.
  return fromCallback<E>(({ sendBack }) => {
    let last = '';
    const w = lock.watchLease((o) => {
      const key = o.free ? 'free' : `held:${o.holder ?? ''}`;
      if (key === last) return;
      last = key;
      if (o.free) sendBack({ type: 'LEASE.FREE' });
      else if (o.holder !== undefined && o.holder !== lock.identity) sendBack({ type: 'LEASE.LOST', holder: o.holder });
    });
    return () => {
      void w.stop();
    };
  });
}

/**
 * writeVtepConfig: upserts CiliumVTEPConfig with the endpoints `desired()` returns at the time
 * (naming vpc-gateway / vpc-gateway-N is the caller's). Fenced by the actor's signal.
 */
export function vtepUpsertActor(client: VtepConfigClient, desired: () => readonly VtepEndpoint[]) {
  return fromPromise<VtepUpsertResult>(({ signal }) => client.upsert(desired(), signal));
}

/**
 * Watches CiliumVTEPConfig and sends `event(obj)` (e.g. LEADER.REASSERT) when it changes or
 * disappears. With `skipInitial`, the first notice (the object as it is when the watch starts)
 * is not passed on: a caller that writes the object right away has nothing to learn from it.
 */
export function vtepWatchActor<E extends { type: string }>(
  client: VtepConfigClient,
  event: (obj: KubeObject | undefined) => E | undefined,
  opts: { skipInitial?: boolean } = {},
) {
  return fromCallback<E>(({ sendBack }) => {
    let skip = opts.skipInitial === true;
    const w = client.watch((obj) => {
      if (skip) {
        skip = false;
        return;
      }
      const e = event(obj);
      if (e !== undefined) sendBack(e);
    });
    return () => {
      void w.stop();
    };
  });
}

/**
 * The CiliumNode informer as a callback actor: `toEvents` maps the informer's callbacks to the
 * parent's events (the pure core turns raw nodes into VtepSpecs there, not here).
 */
export function ciliumNodeInformerActor<E extends { type: string }>(
  clients: KubeClients,
  toEvents: (send: (e: E) => void) => CiliumNodeHandlers,
  opts: CiliumNodeInformerOptions = {},
) {
  return fromCallback<E>(({ sendBack }) => {
    const inf = startCiliumNodeInformer(clients, toEvents(sendBack), opts);
    return () => {
      void inf.stop();
    };
  });
}
