// vtep.points-at-leader and vtep.ready: the CiliumVTEPConfig the leader writes
// (runtime/wiring/leader.ts: one endpoint per VPC CIDR, tunnelEndpoint = the
// leader's NODE_IP, the downward API's status.hostIP of its pod) and what
// Cilium reports about it. With SHARDS = N above 1, each shard's leader applies
// its own endpoints `vpc-gateway-<k>-<n>` (machines/domain/shards.ts) with its
// node IP, and the owner annotation names shard 0's Lease (runtime/gateway.ts).
import { leaseKey } from '../../../machines/domain/ownership.js';
import type { ShardEndpoint } from '../../../machines/domain/shards.js';
import { DEFAULT_VTEP_CONFIG_NAME, ownerOf, readEndpoints, type VtepEndpoint } from '../../../effects/kube/index.js';
import { fail, pass, warn, type Check, type Verdict } from '../check.js';
import { readHolder, readShardHolders, readVtepConfig } from '../reads.js';

export interface PointsAtLeaderFacts {
  readonly holder: string;
  readonly holderPodFound: boolean;
  readonly holderHostIP: string | undefined;
  readonly exists: boolean;
  /** undefined when spec.endpoints is not the expected shape. */
  readonly endpoints: readonly VtepEndpoint[] | undefined;
  readonly vpcCIDRs: readonly string[];
  readonly owner: string;
  readonly ownerKey: string;
}

/** With more than one shard: each shard's expected endpoints and its Lease holder. */
export interface ShardedPointsAtLeaderFacts {
  readonly exists: boolean;
  readonly endpoints: readonly VtepEndpoint[] | undefined;
  readonly shards: ReadonlyArray<{
    readonly shard: number;
    /** `namespace/name` of the shard's Lease. */
    readonly lease: string;
    readonly holder: string;
    readonly holderPodFound: boolean;
    readonly holderHostIP: string | undefined;
    readonly expected: readonly ShardEndpoint[];
  }>;
  readonly owner: string;
  readonly ownerKey: string;
}

const NAME = `CiliumVTEPConfig ${DEFAULT_VTEP_CONFIG_NAME}`;
const LEADER_WRITES = 'The leader writes it on election and restores it on every change: check the leader\'s logs (kubectl logs) for "CiliumVTEPConfig" and its RBAC (create/update ciliumvtepconfigs)';
const SHARD_LEADERS_WRITE =
  'Each shard\'s leader applies its own endpoints (server-side apply) on election and restores them on every change: check that leader\'s logs (kubectl logs) for "CiliumVTEPConfig" and its RBAC (create/patch ciliumvtepconfigs)';

function judgeSharded(f: ShardedPointsAtLeaderFacts): Verdict {
  if (!f.exists) return fail(`${NAME} not found`, SHARD_LEADERS_WRITE);
  if (f.endpoints === undefined) return fail(`${NAME} has no readable spec.endpoints`, SHARD_LEADERS_WRITE);
  const eps = f.endpoints.map((e) => `${e.name} ${e.cidr} → ${e.tunnelEndpoint}`).join(', ') || 'none';
  const leaders = f.shards
    .map((s) => (s.holder === '' ? `shard ${s.shard} has no Lease holder` : s.holderHostIP === undefined ? `shard ${s.shard} holder ${s.holder} has no pod with a host IP` : `shard ${s.shard} leader ${s.holder} on ${s.holderHostIP}`))
    .join(', ');
  const saw = `${NAME} endpoints ${eps}; ${leaders}`;
  const byName = new Map(f.endpoints.map((e) => [e.name, e]));
  const problems: string[] = [];
  const fixes = new Set<string>();
  for (const s of f.shards) {
    if (s.holder === '') {
      fixes.add(`Fix lease.fresh first: with no leader nobody keeps shard ${s.shard}'s endpoints`);
      continue;
    }
    if (!s.holderPodFound || s.holderHostIP === undefined) {
      problems.push(`shard ${s.shard}'s Lease ${s.lease} names ${s.holder}, not a running pod`);
      fixes.add(`The Lease names a pod that is not running in the Lease's namespace: another gateway takes the shard when the Lease expires; check the gateway pods`);
      continue;
    }
    for (const e of s.expected) {
      const have = byName.get(e.name);
      if (have === undefined) problems.push(`${e.name} (${e.cidr}) missing`);
      else if (have.cidr !== e.cidr) problems.push(`${e.name} is ${have.cidr}, not ${e.cidr}`);
      else if (have.tunnelEndpoint !== s.holderHostIP) problems.push(`${e.name} → ${have.tunnelEndpoint}, not shard ${s.shard}'s leader ${s.holder} on ${s.holderHostIP}`);
      else continue;
      fixes.add(`${SHARD_LEADERS_WRITE}. If another installation owns it (owner annotation "${f.owner}"), see --take-ownership`);
    }
  }
  if (problems.length > 0 || fixes.size > 0) return fail(problems.length > 0 ? `${saw}: ${problems.join('; ')}` : saw, [...fixes].join('. '));
  // Names no shard writes: an earlier run's (the unsharded `vpc-gateway`, written by PUT, or another SHARDS' endpoints), owned by no current field manager.
  const wanted = new Set(f.shards.flatMap((s) => s.expected.map((e) => e.name)));
  const left = f.endpoints.filter((e) => !wanted.has(e.name)).map((e) => e.name);
  if (left.length > 0) {
    return warn(
      `${saw}; endpoint(s) ${left.join(', ')} left from an earlier run (no shard writes them)`,
      `Delete the CiliumVTEPConfig once (kubectl delete ciliumvtepconfig ${DEFAULT_VTEP_CONFIG_NAME}): the shard leaders re-apply their own endpoints at once, and the old ones are gone`,
    );
  }
  if (f.owner !== f.ownerKey) return warn(`${saw}; owner annotation is "${f.owner}", not "${f.ownerKey}"`, 'Another installation (or none) is named as owner: check LEADER_ELECTION_ID and the namespace, or --take-ownership when moving the gateway');
  return pass(saw);
}

export const pointsAtLeaderCheck: Check<PointsAtLeaderFacts | ShardedPointsAtLeaderFacts> = {
  name: 'vtep.points-at-leader',
  title: `${NAME} sends every VPC CIDR to the Lease holder's node IP (with SHARDS above 1, each shard's endpoints to its Lease holder's)`,
  reads: `cilium.io/v2 ${NAME}; the Lease (or each shard Lease); the holder's Pod (status.hostIP)`,
  async gather(ctx) {
    if (ctx.config.shards > 1) {
      const [holders, obj] = await Promise.all([readShardHolders(ctx), readVtepConfig(ctx)]);
      const first = holders[0]!.lease;
      return {
        exists: obj !== undefined,
        endpoints: obj === undefined ? undefined : readEndpoints(obj),
        shards: holders.map((h) => ({
          shard: h.shard,
          lease: leaseKey(h.lease.namespace, h.lease.name),
          holder: h.holder,
          holderPodFound: h.podFound,
          holderHostIP: h.hostIP,
          expected: h.endpoints,
        })),
        owner: obj === undefined ? '' : ownerOf(obj),
        // Every shard leader writes shard 0's Lease as the owner.
        ownerKey: leaseKey(first.namespace, first.name),
      };
    }
    const [h, obj] = await Promise.all([readHolder(ctx), readVtepConfig(ctx)]);
    return {
      holder: h.holder,
      holderPodFound: h.podFound,
      holderHostIP: h.hostIP,
      exists: obj !== undefined,
      endpoints: obj === undefined ? undefined : readEndpoints(obj),
      vpcCIDRs: ctx.config.vpcCIDRs,
      owner: obj === undefined ? '' : ownerOf(obj),
      ownerKey: leaseKey(h.lease.namespace, h.lease.name),
    };
  },
  judge(f) {
    if ('shards' in f) return judgeSharded(f);
    if (!f.exists) return fail(`${NAME} not found`, LEADER_WRITES);
    if (f.endpoints === undefined) return fail(`${NAME} has no readable spec.endpoints`, LEADER_WRITES);
    const eps = f.endpoints.map((e) => `${e.cidr} → ${e.tunnelEndpoint}`).join(', ') || 'none';
    if (f.holder === '') return fail(`${NAME} endpoints ${eps}; no Lease holder to compare with`, 'Fix lease.fresh first: with no leader nobody keeps the CiliumVTEPConfig');
    if (!f.holderPodFound || f.holderHostIP === undefined) {
      return fail(`${NAME} endpoints ${eps}; the holder ${f.holder} has no pod with a host IP`, `The Lease names ${f.holder}, which is not a running pod in the Lease's namespace: a standby takes over when the Lease expires; check the gateway pods`);
    }
    const saw = `${NAME} endpoints ${eps}; leader ${f.holder} on ${f.holderHostIP}`;
    const wrong = f.endpoints.filter((e) => e.tunnelEndpoint !== f.holderHostIP);
    const have = new Set(f.endpoints.map((e) => e.cidr));
    const missing = f.vpcCIDRs.filter((c) => !have.has(c));
    if (wrong.length > 0 || missing.length > 0) {
      const what = [wrong.length > 0 ? `${wrong.length} endpoint(s) point elsewhere` : '', missing.length > 0 ? `VPC CIDR(s) ${missing.join(', ')} missing` : ''].filter(Boolean).join('; ');
      return fail(`${saw}: ${what}`, `${LEADER_WRITES}. If another installation owns it (owner annotation "${f.owner}"), see --take-ownership`);
    }
    if (f.owner !== f.ownerKey) return warn(`${saw}; owner annotation is "${f.owner}", not "${f.ownerKey}"`, 'Another installation (or none) is named as owner: check LEADER_ELECTION_ID and the namespace, or --take-ownership when moving the gateway');
    return pass(saw);
  },
};

export interface ReadyFacts {
  readonly exists: boolean;
  readonly generation: number | undefined;
  readonly ready: { readonly status: string; readonly reason: string; readonly message: string; readonly observedGeneration: number | undefined } | undefined;
}

export const vtepReadyCheck: Check<ReadyFacts> = {
  name: 'vtep.ready',
  title: `${NAME} status is Ready for its current generation`,
  reads: `cilium.io/v2 ${NAME} status.conditions[type=Ready], metadata.generation`,
  async gather(ctx) {
    const obj = await readVtepConfig(ctx);
    const conds = (obj?.status as { conditions?: unknown } | undefined)?.conditions;
    const c = Array.isArray(conds) ? (conds as Array<Record<string, unknown>>).find((x) => x !== null && typeof x === 'object' && x.type === 'Ready') : undefined;
    const gen = obj?.metadata?.generation;
    return {
      exists: obj !== undefined,
      generation: typeof gen === 'number' ? gen : undefined,
      ready:
        c === undefined
          ? undefined
          : {
              status: String(c.status),
              reason: typeof c.reason === 'string' ? c.reason : '',
              message: typeof c.message === 'string' ? c.message : '',
              observedGeneration: typeof c.observedGeneration === 'number' ? c.observedGeneration : undefined,
            },
    };
  },
  judge(f) {
    const agents = 'Cilium agents report the status once they have loaded the endpoints into their VTEP map: check that they run with enable-vtep (cilium.vtep-enabled) and their logs (kubectl -n kube-system logs ds/cilium | grep -i vtep)';
    if (!f.exists) return fail(`${NAME} not found`, LEADER_WRITES);
    if (f.ready === undefined) return fail(`${NAME} has no Ready condition (generation ${f.generation ?? '?'})`, agents);
    const saw = `Ready=${f.ready.status}${f.ready.reason ? ` (${f.ready.reason}: ${f.ready.message})` : ''}, observedGeneration ${f.ready.observedGeneration ?? 'absent'}, generation ${f.generation ?? '?'}`;
    if (f.ready.status !== 'True') return fail(saw, `Cilium could not use the endpoints: ${f.ready.message || 'see the agents'}. ${agents}`);
    if (f.ready.observedGeneration !== f.generation) return fail(saw, `The Ready condition is about an older spec: ${agents}`);
    return pass(saw);
  },
};
