// lease.fresh: a gateway holds the Lease and renewed it within its duration.
import { fail, pass, warn, type Check } from '../check.js';
import { readLease } from '../reads.js';

export interface LeaseFreshFacts {
  readonly namespace: string;
  readonly name: string;
  readonly exists: boolean;
  readonly holder: string;
  /** renewTime (else acquireTime) as epoch ms; undefined when absent or unparsable. */
  readonly renewedAtMs: number | undefined;
  readonly durationMs: number | undefined;
  readonly nowMs: number;
}

/** The clocks of this host and the holder's may differ: this much lateness is only a warning. */
export const CLOCK_SKEW_ALLOWANCE_MS = 2000;

export const leaseCheck: Check<LeaseFreshFacts> = {
  name: 'lease.fresh',
  title: 'the leader Lease is held and renewed within its duration',
  reads: 'coordination.k8s.io/v1 Lease <namespace>/<leader-election-id>',
  async gather(ctx) {
    const l = await readLease(ctx);
    const t = l.record?.renewTime ?? l.record?.acquireTime;
    const ms = t === undefined ? NaN : Date.parse(t);
    return {
      namespace: l.namespace,
      name: l.name,
      exists: l.record !== undefined,
      holder: l.record?.holderIdentity ?? '',
      renewedAtMs: Number.isFinite(ms) ? ms : undefined,
      durationMs: l.record?.leaseDurationMs,
      nowMs: ctx.nowMs(),
    };
  },
  judge(f) {
    const where = `Lease ${f.namespace}/${f.name}`;
    const noLeader = 'No gateway is leading: check the gateway pods (kubectl get pods, kubectl logs) and that LEADER_ELECTION_ID and the namespace match the running gateways';
    if (!f.exists) return fail(`${where} not found`, noLeader);
    if (f.holder === '') return fail(`${where} has no holder (released)`, noLeader);
    if (f.renewedAtMs === undefined || f.durationMs === undefined) return fail(`${where} held by ${f.holder} without a renewTime or duration`, noLeader);
    const age = f.nowMs - f.renewedAtMs;
    const saw = `${where} held by ${f.holder}, renewed ${(age / 1000).toFixed(1)} s ago (duration ${(f.durationMs / 1000).toFixed(1)} s)`;
    if (age > f.durationMs + CLOCK_SKEW_ALLOWANCE_MS) {
      return fail(saw, `The holder stopped renewing: check pod ${f.holder} (kubectl logs, events) and its access to the API server; a standby takes over once the Lease expires`);
    }
    if (age > f.durationMs) return warn(saw, "Renewed just over one duration ago: a clock difference between this host and the holder's, or a renewal late right now; run doctor again");
    return pass(saw);
  },
};
