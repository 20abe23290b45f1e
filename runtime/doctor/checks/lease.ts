// lease.fresh: a gateway holds the Lease and renewed it within its duration;
// with SHARDS = N above 1, every shard Lease `<id>-<k>` is, each on its own.
import { fail, pass, warn, type Check, type Verdict } from '../check.js';
import { readLease, readLeaseNamed, type LeaseFacts } from '../reads.js';
import { shardLeaseName } from '../../../machines/domain/shards.js';

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

/** With more than one shard: each shard Lease's facts, shard order. */
export interface ShardLeasesFacts {
  readonly shardLeases: readonly LeaseFreshFacts[];
}

/** The clocks of this host and the holder's may differ: this much lateness is only a warning. */
export const CLOCK_SKEW_ALLOWANCE_MS = 2000;

function leaseFacts(l: LeaseFacts, nowMs: number): LeaseFreshFacts {
  const t = l.record?.renewTime ?? l.record?.acquireTime;
  const ms = t === undefined ? NaN : Date.parse(t);
  return {
    namespace: l.namespace,
    name: l.name,
    exists: l.record !== undefined,
    holder: l.record?.holderIdentity ?? '',
    renewedAtMs: Number.isFinite(ms) ? ms : undefined,
    durationMs: l.record?.leaseDurationMs,
    nowMs,
  };
}

function judgeLease(f: LeaseFreshFacts): Verdict {
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
}

/** The worst of the shard Leases' verdicts, naming each Lease behind it and its fix. */
function judgeShardLeases(leases: readonly LeaseFreshFacts[]): Verdict {
  const verdicts = leases.map(judgeLease);
  const saw = verdicts.map((v) => v.saw).join('; ');
  const worst = verdicts.some((v) => v.status === 'fail') ? 'fail' : verdicts.some((v) => v.status === 'warn') ? 'warn' : 'pass';
  if (worst === 'pass') return pass(saw);
  const names = (pick: (v: Verdict) => boolean): string[] => leases.filter((_, i) => pick(verdicts[i]!)).map((l) => `${l.namespace}/${l.name}`);
  const bad = names((v) => v.status === worst);
  // One fix per distinct advice, naming the Leases it is for.
  const fixes = [...new Set(verdicts.filter((v) => v.status === worst).map((v) => v.fix))].map((fix) => `${names((v) => v.status === worst && v.fix === fix).join(', ')}: ${fix}`);
  if (leases.some((l) => !l.exists)) fixes.push(`A shard Lease that does not exist: SHARDS (${leases.length}) must be the running gateways' (chart value shards)`);
  const head = `${bad.length} of ${leases.length} shard Leases ${worst === 'fail' ? 'not held and fresh' : 'renewed late'} (${bad.join(', ')})`;
  return { status: worst, saw: `${head}: ${saw}`, fix: fixes.join('. ') };
}

export const leaseCheck: Check<LeaseFreshFacts | ShardLeasesFacts> = {
  name: 'lease.fresh',
  title: 'the leader Lease (with SHARDS above 1, every shard Lease) is held and renewed within its duration',
  reads: 'coordination.k8s.io/v1 Lease <namespace>/<leader-election-id> (with SHARDS = N above 1: <leader-election-id>-0 … -<N-1>)',
  async gather(ctx) {
    const { shards, leaderElectionID } = ctx.config;
    if (shards === 1) return leaseFacts(await readLease(ctx), ctx.nowMs());
    const leases = await Promise.all(Array.from({ length: shards }, (_, k) => readLeaseNamed(ctx, shardLeaseName(leaderElectionID, shards, k))));
    const now = ctx.nowMs();
    return { shardLeases: leases.map((l) => leaseFacts(l, now)) };
  },
  judge(f) {
    return 'shardLeases' in f ? judgeShardLeases(f.shardLeases) : judgeLease(f);
  },
};
