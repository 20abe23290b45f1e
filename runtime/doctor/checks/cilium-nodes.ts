// nodes.admissible: every hybrid CiliumNode passes the gateway's own admission
// (machines/domain: the same judgement, with the same reasons, as the running
// gateway's desired set, cross-node conflicts included).
import type { AdmissionPolicy } from '../../../machines/domain/admission.js';
import type { CiliumNode, Skip } from '../../../machines/domain/cilium-node.js';
import { desiredVteps } from '../../../machines/domain/desired-state.js';
import { ipv4ToInt, isIPv4, parseCidr, type Cidr } from '../../../machines/domain/ipv4.js';
import { fail, pass, warn, type Check } from '../check.js';
import { listHybridCiliumNodes, readShardHolders } from '../reads.js';

export interface NodesFacts {
  readonly nodes: readonly CiliumNode[];
  readonly vpcCIDRs: readonly string[];
  readonly podCIDRs: readonly string[];
  /** The addresses known to be the gateway's: NODE_IP when given, the (every shard's) leader's host IP. */
  readonly gatewayAddresses: readonly string[];
}

const cidrs = (list: readonly string[]): Cidr[] => list.flatMap((c) => {
  const p = parseCidr(c);
  return p.ok ? [p.value] : [];
});

/** At most this many refused nodes are named in `saw`. */
const SHOWN = 10;

export const ciliumNodesCheck: Check<NodesFacts> = {
  name: 'nodes.admissible',
  title: 'every hybrid CiliumNode is admitted by the gateway',
  reads: 'cilium.io/v2 CiliumNodes labelled eks.amazonaws.com/compute-type=hybrid; VPC_CIDR, POD_CIDRS',
  async gather(ctx) {
    const [nodes, holders] = await Promise.all([listHybridCiliumNodes(ctx), readShardHolders(ctx)]);
    const gatewayAddresses = [...new Set([ctx.config.nodeIP, ...holders.map((h) => h.hostIP ?? '')])].filter((a) => a !== '');
    return { nodes, vpcCIDRs: ctx.config.vpcCIDRs, podCIDRs: ctx.config.podCIDRs, gatewayAddresses };
  },
  judge(f) {
    if (f.nodes.length === 0) return warn('no CiliumNode is labelled eks.amazonaws.com/compute-type=hybrid', 'Join hybrid nodes (nodeadm) and run Cilium on them; until then the gateway has nothing to route');
    const policy: AdmissionPolicy = {
      vpcCidrs: cidrs(f.vpcCIDRs),
      podCidrs: cidrs(f.podCIDRs),
      gatewayAddresses: new Set(f.gatewayAddresses.filter(isIPv4).map(ipv4ToInt)),
    };
    const { vteps, skipped } = desiredVteps(f.nodes, policy);
    if (skipped.length === 0) return pass(`${vteps.size} hybrid CiliumNode(s), all admitted`);
    const named = [...skipped].sort((a, b) => a.name.localeCompare(b.name)).slice(0, SHOWN).map((s: Skip) => `${s.name}: ${s.reason} (${s.detail})`);
    const more = skipped.length > SHOWN ? `; and ${skipped.length - SHOWN} more` : '';
    return fail(
      `${skipped.length} of ${f.nodes.length} hybrid CiliumNode(s) refused: ${named.join('; ')}${more}`,
      `Each refused node gets no route: its pod CIDRs must lie inside POD_CIDRS (${f.podCIDRs.join(', ')}) and outside the VPC (${f.vpcCIDRs.join(', ')}), its InternalIP outside both; one pod CIDR or InternalIP belongs to one node (the oldest). Fix the node's Cilium IPAM pool or the gateway's POD_CIDRS`,
    );
  },
};
