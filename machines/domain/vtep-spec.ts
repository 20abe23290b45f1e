// What one hybrid node needs on hybrid_vxlan0: a route per pod CIDR via the
// node's IP, a permanent neighbour and an FDB entry for the node's VTEP MAC.

export interface VtepSpec {
  /** CiliumNode name. */
  readonly name: string;
  /** The node's InternalIP (the VXLAN remote). */
  readonly nodeIP: string;
  /** 02:00:a:b:c:d derived from nodeIP. */
  readonly mac: string;
  /** Canonical, sorted IPv4 pod CIDRs (all of them). */
  readonly podCIDRs: readonly string[];
}

export function sameVtepSpec(a: VtepSpec | undefined, b: VtepSpec | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return (
    a.name === b.name &&
    a.nodeIP === b.nodeIP &&
    a.mac === b.mac &&
    a.podCIDRs.length === b.podCIDRs.length &&
    a.podCIDRs.every((c, i) => c === b.podCIDRs[i])
  );
}
