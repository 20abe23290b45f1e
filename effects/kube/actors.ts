// XState callback actors over the kube watches, shaped for the gateway
// machine's named actors (machines/gateway.machine.ts): watchLease and
// watchLeaderObjects. The machine stops an invoked actor when it leaves the
// state that invoked it; the actor then stops its watch. (The lease attempts
// and the CiliumVTEPConfig write are fromPromise actors of the runtime, which
// passes their signal to LeaseLock and VtepConfigClient: the fence.)
import { fromCallback, type EventObject } from 'xstate';
import type { KubeObject } from './list-watch.js';
import type { LeaseLock } from './lease-lock.js';
import type { VtepConfigClient } from './vtep-config.js';

/** Events the lease watch sends to its parent (the gateway machine's vocabulary). */
export type LeaseWatchEvent = { type: 'LEASE.FREE' } | { type: 'LEASE.LOST'; holder?: string };

/**
 * watchLease: LEASE.FREE when the Lease is released or deleted, LEASE.LOST when another
 * identity holds it. Sent on each observed change only.
 */
export function leaseWatchActor<E extends EventObject = LeaseWatchEvent, I = unknown>(lockOf: (input: I) => Pick<LeaseLock, 'watchLease' | 'identity'>) {
  // E: the parent's event union (it must include LeaseWatchEvent); xstate types actors by it.
  // lockOf: the lock this invocation watches (e.g. its shard's, named by the input).
  return fromCallback<E, I>(({ sendBack, input }) => {
    const lock = lockOf(input);
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
 * Watches CiliumVTEPConfig and sends `event(obj)` (e.g. LEADER.REASSERT) when it changes or
 * disappears. With `skipInitial`, the first notice (the object as it is when the watch starts)
 * is not passed on: a caller that writes the object right away has nothing to learn from it.
 */
export function vtepWatchActor<E extends { type: string }, I = unknown>(
  client: Pick<VtepConfigClient, 'watch'>,
  event: (obj: KubeObject | undefined, input: I) => E | undefined,
  opts: { skipInitial?: boolean } = {},
) {
  return fromCallback<E, I>(({ sendBack, input }) => {
    let skip = opts.skipInitial === true;
    const w = client.watch((obj) => {
      if (skip) {
        skip = false;
        return;
      }
      const e = event(obj, input);
      if (e !== undefined) sendBack(e);
    });
    return () => {
      void w.stop();
    };
  });
}
