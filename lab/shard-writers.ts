// The single-writer judge, per shard: every route write the EC2 stand-in
// applied and every change of a CiliumVTEPConfig endpoint the Kubernetes
// stand-in committed must come from the gateway holding — within its
// duration, at that instant — the Lease of the shard the route or endpoint
// belongs to. Which shard a prefix belongs to is the lab's own reading of the
// documented split (lab/shards.ts), not the gateway's. Pure: it judges the
// stand-ins' logs (control-plane-worker.ts routeLog and vtepLog).
import type { LeaseState, RouteWrite, VtepWrite } from './control-plane-worker.js';
import { labShardEndpoints, labShardLease, labShardOf } from './shards.js';

export interface WriterIdentity {
  readonly name: string;
  readonly eni: string;
  readonly ip: string;
  readonly accessKeyId: string;
}

export interface ShardWritersInput {
  readonly shards: number;
  readonly leaderElectionId: string;
  readonly podCidr: string;
  readonly vpcCidr: string;
  readonly gateways: readonly WriterIdentity[];
  readonly routeLog: readonly RouteWrite[];
  readonly vtepLog: readonly VtepWrite[];
}

export interface ShardWriterCount {
  readonly shard: number;
  /** Route creates/replaces judged. */
  routeWrites: number;
  /** Endpoint changes (set or removed) judged. */
  endpointWrites: number;
  /** Who wrote them, by gateway name. */
  readonly writers: Record<string, number>;
}

export interface ShardWriterCheck {
  readonly perShard: ShardWriterCount[];
  readonly violations: string[];
}

export function judgeShardWriters(input: ShardWritersInput): ShardWriterCheck {
  const { shards, gateways } = input;
  const perShard: ShardWriterCount[] = Array.from({ length: shards }, (_, shard) => ({ shard, routeWrites: 0, endpointWrites: 0, writers: {} }));
  const violations: string[] = [];
  const leaseOf = (k: number): string => labShardLease(input.leaderElectionId, shards, k);
  const held = (leases: Record<string, LeaseState> | undefined, k: number, by: string): string | undefined => {
    const l = leases?.[leaseOf(k)];
    if (l === undefined) return `no record of Lease ${leaseOf(k)}`;
    if (l.holder !== by) return `Lease ${leaseOf(k)} named ${l.holder ?? 'nobody'}`;
    if (!l.valid) return `its Lease ${leaseOf(k)} had run out`;
    return undefined;
  };
  const count = (k: number, kind: 'routeWrites' | 'endpointWrites', by: string): void => {
    const c = perShard[k]!;
    c[kind] += 1;
    c.writers[by] = (c.writers[by] ?? 0) + 1;
  };

  for (const w of input.routeLog) {
    if (w.eni === null) continue;
    const at = new Date(w.atMs).toISOString();
    const k = labShardOf(w.cidr, input.podCidr, shards);
    if (k === undefined) {
      violations.push(`${at} route ${w.routeTableId} ${w.cidr} belongs to no shard of ${input.podCidr}`);
      continue;
    }
    const byEni = gateways.find((g) => g.eni === w.eni);
    const byKey = gateways.find((g) => g.accessKeyId === w.accessKeyId);
    if (byEni === undefined) {
      violations.push(`${at} shard ${k}: ${w.routeTableId} ${w.cidr} → unknown target ${w.eni}`);
      continue;
    }
    count(k, 'routeWrites', byEni.name);
    // With one shard the route log's own record of the one Lease serves (no tracked Leases then).
    const leases = w.leases ?? { [leaseOf(0)]: { holder: w.holder, valid: w.leaseValid } };
    const why = held(leases, k, byEni.name);
    if (byKey !== undefined && byKey.name !== byEni.name) violations.push(`${at} shard ${k}: ${byKey.name} pointed ${w.routeTableId} ${w.cidr} at ${byEni.name}'s ENI`);
    else if (why !== undefined) violations.push(`${at} shard ${k}: ${byEni.name} wrote ${w.routeTableId} ${w.cidr} while ${why}`);
  }

  for (const w of input.vtepLog) {
    const at = new Date(w.atMs).toISOString();
    const writer = gateways.find((g) => g.ip === w.remoteAddress);
    const changes = [...w.set.map((e) => ({ e, removed: false })), ...w.removed.map((e) => ({ e, removed: true }))];
    for (const { e, removed } of changes) {
      const k = labShardOf(e.cidr, input.vpcCidr, shards);
      const what = `${removed ? 'removed' : 'wrote'} endpoint ${e.name} (${e.cidr})`;
      if (k === undefined) {
        violations.push(`${at} ${writer?.name ?? w.remoteAddress ?? 'unknown'} ${what}: the CIDR belongs to no shard of ${input.vpcCidr}`);
        continue;
      }
      if (writer === undefined) {
        violations.push(`${at} shard ${k}: ${what} from ${w.remoteAddress ?? 'outside the API'}, no gateway`);
        continue;
      }
      count(k, 'endpointWrites', writer.name);
      const named = labShardEndpoints(input.vpcCidr, shards, k).find((x) => x.cidr === e.cidr)?.name;
      const why = held(w.leases, k, writer.name);
      if (why !== undefined) violations.push(`${at} shard ${k}: ${writer.name} ${what} while ${why}`);
      else if (!removed && e.tunnelEndpoint !== writer.ip) violations.push(`${at} shard ${k}: ${writer.name} ${what} pointing at ${e.tunnelEndpoint}, not itself`);
      else if (!removed && named !== e.name) violations.push(`${at} shard ${k}: ${writer.name} ${what} under a name not the shard's (${named ?? 'none'})`);
    }
  }
  return { perShard, violations };
}
