// What a CiliumNode may make the gateway program. A hybrid-labelled
// CiliumNode is written by a Cilium agent on a machine outside the VPC, and
// Cilium agents can usually update CiliumNodes cluster-wide: every address it
// names becomes a route, a neighbour and an FDB entry on both gateways. So a
// node is admitted only when nothing it claims can capture traffic the
// gateway itself needs:
//
// - its pod CIDRs lie inside POD_CIDRS (the hybrid pod network the user
//   configured) and outside the special ranges below, and contain none of the
//   gateway's own addresses;
// - its InternalIP is a unicast address outside the special ranges, outside
//   the VPC CIDRs, outside POD_CIDRS, and not one of the gateway's addresses;
// - it has at most MAX_POD_CIDRS_PER_NODE pod CIDRs.
//
// Together these keep the two address spaces apart: every admitted pod CIDR
// is inside POD_CIDRS and no admitted InternalIP is, so no admitted route can
// capture a hybrid node's underlay address (a VXLAN loop), the VPC, the
// link-local services (IMDS at 169.254.169.254) or the gateway's own traffic.
// EKS asks for the same split: remote node and remote pod networks must not
// overlap each other or the VPC.
import { intToIPv4, overlaps, type Cidr } from './ipv4.js';

/** Ranges no hybrid pod CIDR or node IP may touch, with what they are (RFC 6890). */
export const SPECIAL_RANGES: ReadonlyArray<{ readonly cidr: Cidr; readonly what: string }> = [
  { cidr: block(0, 8), what: '"this network" (0.0.0.0/8)' },
  { cidr: block(127 << 24, 8), what: 'loopback (127.0.0.0/8)' },
  { cidr: block((169 << 24) | (254 << 16), 16), what: 'link-local (169.254.0.0/16, IMDS included)' },
  { cidr: block(224 << 24, 3), what: 'multicast, reserved and broadcast (224.0.0.0/3)' },
];

/**
 * Pod CIDRs one node may have. Cilium's cluster-pool IPAM hands a node one
 * block and more only as it fills up; 32 leaves room for that and bounds what
 * one hostile object can cost (each CIDR is a route on both gateways).
 */
export const MAX_POD_CIDRS_PER_NODE = 32;

export interface AdmissionPolicy {
  readonly vpcCidrs: readonly Cidr[];
  /** POD_CIDRS: where hybrid pod CIDRs must lie. Empty admits none. */
  readonly podCidrs: readonly Cidr[];
  /** NODE_IP and every other local IPv4 address of the gateway, as unsigned integers. */
  readonly gatewayAddresses: ReadonlySet<number>;
}

function block(first: number, prefix: number): Cidr {
  const f = first >>> 0;
  const last = (f + 2 ** (32 - prefix) - 1) >>> 0;
  return { text: `${intToIPv4(f)}/${prefix}`, first: f, last, prefix };
}

export function specialRangeOf(c: Cidr): string | undefined {
  return SPECIAL_RANGES.find((r) => overlaps(r.cidr, c))?.what;
}

export function specialRangeOfIp(ip: number): string | undefined {
  return SPECIAL_RANGES.find((r) => ip >= r.cidr.first && ip <= r.cidr.last)?.what;
}

export function containing(blocks: readonly Cidr[], ip: number): Cidr | undefined {
  return blocks.find((b) => ip >= b.first && ip <= b.last);
}

/** True when `inner` lies wholly inside one of `outer`. */
export function insideOneOf(outer: readonly Cidr[], inner: Cidr): boolean {
  return outer.some((o) => o.first <= inner.first && inner.last <= o.last);
}

/** The first gateway address inside `c`, if any. */
export function gatewayAddressIn(policy: AdmissionPolicy, c: Cidr): number | undefined {
  for (const a of policy.gatewayAddresses) if (a >= c.first && a <= c.last) return a;
  return undefined;
}
