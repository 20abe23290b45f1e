// EKS DescribeCluster, reduced to what doctor judges: the cluster's EKS Hybrid
// Nodes remote networks (cluster.remoteNetworkConfig). An unknown cluster is
// an answer (undefined); every other failure throws an EksError with EKS's
// code (AccessDeniedException, …): what to make of it is the caller's.
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { toEksError } from './errors.js';

export interface ClusterRemoteNetworks {
  readonly name: string;
  readonly arn: string | undefined;
  readonly status: string | undefined;
  /** Every CIDR of remoteNetworkConfig.remoteNodeNetworks[].cidrs; empty: Hybrid Nodes not enabled. */
  readonly remoteNodeNetworks: readonly string[];
  /** Every CIDR of remoteNetworkConfig.remotePodNetworks[].cidrs. */
  readonly remotePodNetworks: readonly string[];
}

const cidrsOf = (list: ReadonlyArray<{ cidrs?: string[] | undefined }> | undefined): string[] => (list ?? []).flatMap((n) => n.cidrs ?? []);

export async function describeClusterRemoteNetworks(eks: EKSClient, name: string, signal?: AbortSignal): Promise<ClusterRemoteNetworks | undefined> {
  try {
    const out = await eks.send(new DescribeClusterCommand({ name }), signal !== undefined ? { abortSignal: signal } : {});
    const c = out.cluster;
    return {
      name: c?.name ?? name,
      arn: c?.arn,
      status: c?.status,
      remoteNodeNetworks: cidrsOf(c?.remoteNetworkConfig?.remoteNodeNetworks),
      remotePodNetworks: cidrsOf(c?.remoteNetworkConfig?.remotePodNetworks),
    };
  } catch (err) {
    const e = toEksError('DescribeCluster', err, name);
    if (e.code === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}
