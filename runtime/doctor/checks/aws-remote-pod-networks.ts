// aws.remotePodNetworks: the EKS cluster's remote pod networks (EKS Hybrid
// Nodes, DescribeCluster's remoteNetworkConfig) hold every POD_CIDR. EKS routes
// control-plane traffic to hybrid pods, webhooks above all, only inside them.
// The cluster's name is the one option only doctor reads (CLUSTER_NAME).
import { describeClusterRemoteNetworks } from '../../../effects/aws/eks-cluster.js';
import { outsideRfc1918, podCidrsOutside } from '../../../machines/domain/remote-networks.js';
import { fail, pass, warn, type Check } from '../check.js';

export type ClusterAnswer =
  | { readonly kind: 'found'; readonly remoteNodeNetworks: readonly string[]; readonly remotePodNetworks: readonly string[] }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'denied'; readonly message: string };

export interface RemotePodNetworksFacts {
  /** '' when --cluster-name / CLUSTER_NAME is not set: nothing was asked. */
  readonly clusterName: string;
  readonly region: string | undefined;
  readonly podCIDRs: readonly string[];
  readonly answer: ClusterAnswer | undefined;
}

export const EKS_READ_FIX =
  "Check the AWS settings doctor uses for EKS: the region (--aws-region / AWS_REGION, else IMDS), credentials (the SDK's default chain: env, IRSA, Pod Identity, the instance profile) and AWS_ENDPOINT_URL_EKS if set";

const list = (cidrs: readonly string[]): string => (cidrs.length === 0 ? 'none' : cidrs.join(', '));

/** `aws eks update-cluster-config` with the given remote network config (EKS replaces each list it is given, keeps each it is not). */
function updateCommand(f: RemotePodNetworksFacts, config: Record<string, unknown>): string {
  return `aws eks update-cluster-config --name ${f.clusterName}${f.region !== undefined ? ` --region ${f.region}` : ''} --remote-network-config '${JSON.stringify(config)}'`;
}

/** EKS refuses remote networks outside RFC 1918: say so before the user runs a command that cannot work. */
function rfc1918Note(cidrs: readonly string[]): string {
  const out = outsideRfc1918(cidrs);
  return out.length === 0 ? '' : `. EKS takes only RFC-1918 ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) as remote networks, and ${out.join(', ')} ${out.length === 1 ? 'is' : 'are'} outside them: give the hybrid pods an RFC-1918 pool (and POD_CIDRS with it)`;
}

export const remotePodNetworksCheck: Check<RemotePodNetworksFacts> = {
  name: 'aws.remotePodNetworks',
  title: "the EKS cluster's remote pod networks contain every POD_CIDR",
  reads: 'EKS DescribeCluster (CLUSTER_NAME): cluster.remoteNetworkConfig.remotePodNetworks[].cidrs; POD_CIDRS',
  readFix: EKS_READ_FIX,
  async gather(ctx) {
    const clusterName = ctx.config.clusterName;
    const podCIDRs = ctx.config.podCIDRs;
    if (clusterName === '') return { clusterName, region: undefined, podCIDRs, answer: undefined };
    const eks = await ctx.eks();
    const region = await eks.config.region();
    try {
      const c = await describeClusterRemoteNetworks(eks, clusterName);
      const answer: ClusterAnswer = c === undefined ? { kind: 'not-found' } : { kind: 'found', remoteNodeNetworks: c.remoteNodeNetworks, remotePodNetworks: c.remotePodNetworks };
      return { clusterName, region, podCIDRs, answer };
    } catch (err) {
      // A missing permission is a finding about the credentials; any other failure is a failed read.
      if ((err as { code?: unknown }).code !== 'AccessDeniedException') throw err;
      const sdk = (err as { cause?: unknown }).cause;
      return { clusterName, region, podCIDRs, answer: { kind: 'denied', message: sdk instanceof Error ? sdk.message : (err as Error).message } };
    }
  },
  judge(f) {
    if (f.answer === undefined) return warn('cluster name not configured', 'Set --cluster-name / CLUSTER_NAME (chart value clusterName) to check the remote pod networks');
    const where = `EKS cluster ${f.clusterName}${f.region !== undefined ? ` (${f.region})` : ''}`;
    if (f.answer.kind === 'not-found') {
      return fail(
        `${where} not found (ResourceNotFoundException)`,
        `Set --cluster-name / CLUSTER_NAME to the cluster's name as \`aws eks list-clusters${f.region !== undefined ? ` --region ${f.region}` : ''}\` lists it; clusters are Regional, so check --aws-region / AWS_REGION too`,
      );
    }
    if (f.answer.kind === 'denied') {
      const resource = /on resource: (arn:\S+)/.exec(f.answer.message)?.[1] ?? `arn:aws:eks:${f.region ?? '<region>'}:<account>:cluster/${f.clusterName}`;
      const explicit = / with an explicit deny/.test(f.answer.message) ? ' An explicit Deny refuses it: find that statement (an identity policy, a permissions boundary or an SCP) first.' : '';
      return fail(
        `${where}: DescribeCluster denied (AccessDeniedException): ${f.answer.message}`,
        `Allow eks:DescribeCluster on ${resource} for the credentials doctor runs with (in the gateway's pod: its role, through IRSA or Pod Identity); only doctor needs it, not the gateway.${explicit}`,
      );
    }
    const { remoteNodeNetworks: nodes, remotePodNetworks: pods } = f.answer;
    if (nodes.length === 0) {
      return fail(
        `${where} has no remote node networks: EKS Hybrid Nodes is not enabled on it`,
        `Enable it with the hybrid nodes' network and the pod CIDRs: ${updateCommand(f, { remoteNodeNetworks: [{ cidrs: ['<remote node CIDR>'] }], remotePodNetworks: [{ cidrs: f.podCIDRs }] })}, then wait for the cluster to be ACTIVE again${rfc1918Note(f.podCIDRs)}`,
      );
    }
    const outside = podCidrsOutside(f.podCIDRs, pods);
    const saw = `${where}: remote pod networks ${list(pods)}; POD_CIDRS ${list(f.podCIDRs)}`;
    if (outside.length > 0) {
      return fail(
        `${saw}: ${outside.join(', ')} not inside them`,
        `Add ${outside.join(', ')} to the remote pod networks, or EKS's control plane cannot reach webhooks on the hybrid pods there: ${updateCommand(f, { remotePodNetworks: [{ cidrs: [...pods, ...outside] }] })} (the list replaces the current one, so it keeps ${list(pods)}; remoteNodeNetworks, left out, stays as it is), then wait for the cluster to be ACTIVE again${rfc1918Note(outside)}`,
      );
    }
    return pass(`${saw}: every POD_CIDR inside them`);
  },
};
