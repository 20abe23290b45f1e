// EKS Hybrid Nodes' remote networks (DescribeCluster's
// cluster.remoteNetworkConfig) against the gateway's POD_CIDRS. EKS routes
// control-plane traffic to hybrid pods (webhooks) only inside the remote pod
// networks, so each POD_CIDR must lie inside one of them. doctor's
// aws.remotePodNetworks check judges with these.
import { insideOneOf } from './admission.js';
import { parseCidr, type Cidr } from './ipv4.js';

/** The only ranges EKS takes as remote node or pod networks (EKS user guide, "Enable hybrid nodes on an existing cluster"). */
export const RFC1918 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;

const parsed = (list: readonly string[]): Cidr[] =>
  list.flatMap((c) => {
    const p = parseCidr(c);
    return p.ok ? [p.value] : [];
  });

/** The POD_CIDRs not equal to or inside one of `networks`, in their order; one that does not parse is never inside. */
export function podCidrsOutside(podCidrs: readonly string[], networks: readonly string[]): string[] {
  const outer = parsed(networks);
  return podCidrs.filter((c) => {
    const p = parseCidr(c);
    return !p.ok || !insideOneOf(outer, p.value);
  });
}

/** Those of `cidrs` EKS would refuse as remote networks: outside every RFC-1918 range. */
export function outsideRfc1918(cidrs: readonly string[]): string[] {
  return podCidrsOutside(cidrs, RFC1918);
}
