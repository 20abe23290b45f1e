// What each shard of this gateway works on: its Lease, the POD_CIDR prefixes it
// points at its leader, the CiliumVTEPConfig endpoints it writes and how. With
// one shard (the default) it is exactly what the gateway has always written.
import type { VtepEndpoint } from '../../effects/kube/index.js';
import { shardLeaseName, shardPlan } from '../../machines/domain/shards.js';
import type { GatewayConfig } from '../config/parse.js';

export interface ShardWork {
  readonly shard: number;
  /** The shard's Lease (LEADER_ELECTION_ID with one shard, `<id>-<k>` with more). */
  readonly leaseName: string;
  /** The prefixes the shard's leader points at its ENI in every route table. */
  readonly podCIDRs: readonly string[];
  /** The shard's endpoints of the shared CiliumVTEPConfig, with this gateway's MAC. */
  endpoints(mac: string): VtepEndpoint[];
  /** With more than one shard, the server-side-apply field manager of the shard's endpoints. */
  readonly fieldManager: string | undefined;
}

/**
 * What each shard works on (machines/domain/shards.ts splits the CIDRs). One shard: POD_CIDRS as
 * given, today's endpoint names, the PUT-based write. More: shard k's Lease `<id>-<k>`, its part of
 * every POD_CIDR and VPC CIDR, its endpoints applied under a field manager naming its Lease (so two
 * installations' shard k never share one).
 */
export function shardWork(config: GatewayConfig, namespace: string): ShardWork[] {
  return shardPlan(config.podCIDRs, config.vpcCIDRs, config.shards).map((part) => {
    const leaseName = shardLeaseName(config.leaderElectionID, config.shards, part.shard);
    return {
      shard: part.shard,
      leaseName,
      podCIDRs: part.podPrefixes,
      endpoints: (mac: string): VtepEndpoint[] => part.endpoints.map((e) => ({ name: e.name, tunnelEndpoint: config.nodeIP, cidr: e.cidr, mac })),
      fieldManager: config.shards === 1 ? undefined : `eks-hybrid-gateway/${namespace}/${leaseName}`,
    };
  });
}
