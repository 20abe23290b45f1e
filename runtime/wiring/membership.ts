// With more than one shard: the member Lease this gateway renews while it is a
// member, the watch of the others' and the placement it passes to the shards,
// and leaving. When to join and leave is the root statechart's (serving.member,
// stopping.leaving); what placement is, machines/domain/placement.ts.
import { fromCallback, fromPromise } from 'xstate';
import { shardPlacements } from '../../machines/domain/placement.js';
import type { GatewayEvent } from '../../machines/gateway.machine.js';
import { memberHeartbeatActor, watchMembers, type KubeClients, type MemberObservation, type MembersRef } from '../../effects/kube/index.js';
import type { Logger } from '../logging.js';
import type { LeaseLockPort, MemberPort } from './ports.js';

export interface MembershipWiring {
  /** This gateway's member Lease (undefined with one shard: nothing is joined). */
  readonly member: MemberPort | undefined;
  readonly clients: KubeClients;
  readonly ref: MembersRef;
  readonly identity: string;
  /** Shard k's lock at index k: its observation says who holds the shard and until when. */
  readonly locks: readonly LeaseLockPort[];
  readonly leaseDurationMs: number;
  readonly retryPeriodMs: number;
  readonly now: () => number;
  readonly log: Logger;
}

export function membershipActors(w: MembershipWiring) {
  const { member, clients, ref, identity, locks, leaseDurationMs, retryPeriodMs, now, log } = w;
  return {
    holdMembership:
      member === undefined
        ? fromCallback<GatewayEvent>(() => {})
        : memberHeartbeatActor<GatewayEvent>(member, { retryPeriodMs, onFailure: (err, phase) => log.warn({ err: err.message, phase }, 'member Lease not written; retrying next period') }),
    // Placement is looked at again on every change of the members, at the next instant a member
    // or shard Lease lapses, and at least every retry period (a shard Lease changing hands).
    watchPlacement: fromCallback<GatewayEvent>(({ sendBack }) => {
      let members: readonly MemberObservation[] = [];
      let timer: NodeJS.Timeout | undefined;
      // Every shard starts not preferred (its input): only changes are news.
      const told = locks.map(() => 'false');
      const evaluate = (): void => {
        const t = now();
        const { shards, nextChangeAt } = shardPlacements(identity, members, locks.map((l) => l.observation), t, leaseDurationMs);
        shards.forEach((p, k) => {
          // A shard this gateway leads but should hand over waits for the preferred gateway to be seen
          // alive after its term began: each renewal of that one is news then; otherwise only a change is.
          const leads = locks[k]?.isHeld() === true;
          const key = !p.preferred && leads ? `false|${p.preferredAliveAt ?? ''}` : String(p.preferred);
          if (told[k] === key) return;
          told[k] = key;
          sendBack({ type: 'PLACEMENT.CHANGED', shard: k, preferred: p.preferred, preferredAliveAt: p.preferredAliveAt });
        });
        clearTimeout(timer);
        const untilChange = nextChangeAt === undefined ? Infinity : Math.max(0, nextChangeAt - t) + 5;
        timer = setTimeout(evaluate, Math.min(retryPeriodMs, untilChange));
        timer.unref();
      };
      const watch = watchMembers(
        clients,
        ref,
        (m) => {
          members = m;
          evaluate();
        },
        { onError: (err) => log.warn({ err: err.message }, 'member Lease watch failed; retrying') },
      );
      evaluate();
      return () => {
        clearTimeout(timer);
        void watch.stop();
      };
    }),
    leaveMembership: fromPromise<void>(async ({ signal }) => {
      if (member !== undefined) await member.leave(signal);
    }),
  };
}
