// What each shard of this gateway works on: its Lease, the POD_CIDR prefixes it
// points at its leader, the CiliumVTEPConfig endpoints it writes and how. With
// one shard (the default) it is exactly what the gateway has always written.
import type { VtepEndpoint } from '../../effects/kube/index.js';
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

/** The Lease of shard k. */
export function shardLeaseName(leaderElectionID: string, shards: number, k: number): string {
  return shards === 1 ? leaderElectionID : `${leaderElectionID}-${k}`;
}

/** CiliumVTEPConfig endpoints of one shard: one per VPC CIDR, named as the reference names them. */
export function shardWork(config: GatewayConfig): ShardWork[] {
  const endpoints = (mac: string): VtepEndpoint[] =>
    config.vpcCIDRs.map((cidr, i) => ({
      name: config.vpcCIDRs.length === 1 ? 'vpc-gateway' : `vpc-gateway-${i}`,
      tunnelEndpoint: config.nodeIP,
      cidr,
      mac,
    }));
  return [{ shard: 0, leaseName: shardLeaseName(config.leaderElectionID, 1, 0), podCIDRs: config.podCIDRs, endpoints, fieldManager: undefined }];
}
