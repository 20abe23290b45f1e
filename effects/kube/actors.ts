// XState callback actors over the kube watches, shaped for the gateway
// machine's named actors (machines/gateway.machine.ts): watchLease and
// watchLeaderObjects; and, for sharding, the member watch and this gateway's
// member heartbeat (members.ts). The machine stops an invoked actor when it
// leaves the state that invoked it; the actor then stops its watch or its
// renewals. (The lease attempts and the CiliumVTEPConfig write are fromPromise
// actors of the runtime, which passes their signal to LeaseLock and
// VtepConfigClient: the fence.)
import { performance } from 'node:perf_hooks';
import { fromCallback, type EventObject } from 'xstate';
import type { KubeClients } from './client.js';
import { toKubeError, type KubeError } from './errors.js';
import type { KubeObject } from './list-watch.js';
import type { LeaseLock } from './lease-lock.js';
import { watchMembers, type MemberLease, type MemberObservation, type MembersRef, type MemberWatchOptions } from './members.js';
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

/** What the member watch sends its parent: every member seen, with the local time it was last seen to renew. */
export type MembersChangedEvent = { type: 'MEMBERS.CHANGED'; members: MemberObservation[] };

/** MEMBERS.CHANGED after the first complete list and on every change of the members (watchMembers). */
export function membersWatchActor<E extends EventObject = MembersChangedEvent>(clients: KubeClients, ref: MembersRef, opts: MemberWatchOptions = {}) {
  return fromCallback<E>(({ sendBack }) => {
    const w = watchMembers(clients, ref, (members) => sendBack({ type: 'MEMBERS.CHANGED', members }), opts);
    return () => {
      void w.stop();
    };
  });
}

export interface HeartbeatOptions {
  /** Renewals are sent this far apart, counted from each send (as the shard Leases' renewals). */
  readonly retryPeriodMs: number;
  /** A join or renewal that failed; the heartbeat carries on at the next period. */
  readonly onFailure?: (err: KubeError, phase: 'join' | 'renew') => void;
}

/**
 * Joins (until a join succeeds), then renews every retry period. Never throws: failures go to
 * onFailure. Stopping it only stops the renewals, and a renewal in flight is let land: leaving
 * is the statechart's explicit MemberLease.leave(), which runs after it.
 */
export function memberHeartbeatActor<E extends EventObject = EventObject>(member: Pick<MemberLease, 'join' | 'renew'>, opts: HeartbeatOptions) {
  return fromCallback<E>(() => {
    let stopped = false;
    let joined = false;
    let timer: NodeJS.Timeout | undefined;
    const beat = async (): Promise<void> => {
      const sentAt = performance.now();
      const phase = joined ? 'renew' : 'join';
      try {
        if (joined) await member.renew();
        else await member.join();
        joined = true;
      } catch (err) {
        if (!stopped) {
          const ke = toKubeError(err, `member lease ${phase}`);
          try {
            opts.onFailure?.(ke, phase);
          } catch {
            // a reporter's exception must not stop the heartbeat
          }
        }
      }
      if (stopped) return;
      timer = setTimeout(() => void beat(), Math.max(0, sentAt + opts.retryPeriodMs - performance.now()));
    };
    void beat();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  });
}
