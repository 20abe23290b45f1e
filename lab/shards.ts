// The lab's own reading of the documented shard split (README "Sharding",
// issue 17), written from the documentation, not imported from machines/: the
// judge must be able to disagree with the gateway. Each CIDR is cut into
// P = 2^ceil(log2 N) equal more-specific prefixes, lowest first; part j
// belongs to shard j mod N. Shard k's Lease is `<LEADER_ELECTION_ID>-<k>`, its
// CiliumVTEPConfig endpoints `vpc-gateway-<k>-<n>` (n counts shard k's parts
// in VPC CIDR order, then part order). With one shard nothing is split.
import { parseCidr4, parseIPv4 } from './cilium-vtep.js';

/** The lab brings up one VPC pod and one hybrid node per shard in fixed address blocks: up to 4 shards fit. */
export const LAB_MAX_SHARDS = 4;

export interface LabPart {
  /** Canonical a.b.c.d/len. */
  readonly cidr: string;
  readonly shard: number;
  /** The part's position in its CIDR (0 = lowest). */
  readonly index: number;
  readonly network: number;
  readonly prefixLen: number;
}

function ipv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** P for N shards: the next power of two. */
export function labPartsPerCidr(shards: number): number {
  let p = 1;
  while (p < shards) p *= 2;
  return p;
}

/** The parts of `cidr` for `shards` shards, lowest first, each with the shard it belongs to. */
export function labSplit(cidr: string, shards: number): LabPart[] {
  const c = parseCidr4(cidr);
  if (c === undefined) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  if (shards === 1) return [{ cidr: c.key, shard: 0, index: 0, network: c.network, prefixLen: c.prefixLen }];
  const parts = labPartsPerCidr(shards);
  const prefixLen = c.prefixLen + Math.log2(parts);
  if (prefixLen > 32) throw new Error(`${cidr} cannot be split into ${parts} parts`);
  const size = 2 ** (32 - prefixLen);
  return Array.from({ length: parts }, (_, j) => {
    const network = c.network + j * size;
    return { cidr: `${ipv4(network)}/${prefixLen}`, shard: j % shards, index: j, network, prefixLen };
  });
}

/** The shard an address (or a prefix inside one part) belongs to, or undefined when it lies outside `cidr`. */
export function labShardOf(addressOrPrefix: string, cidr: string, shards: number): number | undefined {
  const ip = parseIPv4(addressOrPrefix.split('/')[0] ?? '');
  if (ip === undefined) return undefined;
  const len = addressOrPrefix.includes('/') ? Number(addressOrPrefix.split('/')[1]) : 32;
  const part = labSplit(cidr, shards).find((p) => ip >= p.network && ip < p.network + 2 ** (32 - p.prefixLen));
  // A prefix wider than its part spans shards: it belongs to none of them.
  return part === undefined || len < part.prefixLen ? undefined : part.shard;
}

/** Shard k's Lease (`<id>` with one shard). */
export function labShardLease(leaderElectionId: string, shards: number, k: number): string {
  return shards === 1 ? leaderElectionId : `${leaderElectionId}-${k}`;
}

/** Shard k's endpoints (name, cidr) for one VPC CIDR, as the README names them. */
export function labShardEndpoints(vpcCidr: string, shards: number, k: number): Array<{ name: string; cidr: string }> {
  if (shards === 1) return [{ name: 'vpc-gateway', cidr: vpcCidr }];
  return labSplit(vpcCidr, shards)
    .filter((p) => p.shard === k)
    .map((p, n) => ({ name: `vpc-gateway-${k}-${n}`, cidr: p.cidr }));
}

/** Shard k's POD_CIDR prefixes (the routes its leader points at itself). */
export function labShardPrefixes(podCidr: string, shards: number, k: number): string[] {
  return labSplit(podCidr, shards)
    .filter((p) => p.shard === k)
    .map((p) => p.cidr);
}

// ---- the lab's placement of test endpoints on the shards (addresses.ts's plan) ----

export interface LabVpcPod {
  readonly shard: number;
  /** Namespace name (`vpc-pod` for shard 0, the lab's one VPC pod with one shard). */
  readonly name: string;
  readonly ip: string;
  /** The router's address on the pod's subnet (its default gateway). */
  readonly routerIp: string;
  /** The pod's /24 in VPC_CIDR. */
  readonly subnet: string;
}

/**
 * Shard k's VPC pod: x.y.(first /24 of part k + 1).10 of the VPC CIDR (a /16), so shard 0's is the
 * lab's VPC pod 198.18.1.10 and with 2 shards shard 1's is 198.18.129.10: hybrid → VPC traffic to
 * it goes by shard k's VTEP endpoint.
 */
export function labVpcPod(vpcCidr: string, shards: number, k: number): LabVpcPod {
  const part = labSplit(vpcCidr, shards).find((p) => p.shard === k);
  if (part === undefined) throw new Error(`no part of ${vpcCidr} for shard ${k}`);
  const net = part.network + 256;
  return { shard: k, name: k === 0 ? 'vpc-pod' : `vpc-pod-${k}`, ip: ipv4(net + 10), routerIp: ipv4(net + 1), subnet: `${ipv4(net)}/24` };
}

/**
 * The index (addresses.ts hybridNode) of the m-th hybrid node (0-based) brought up with `shards`
 * shards: node m lies in shard m mod N, in the /24s of the POD_CIDR (a /16, one /24 per node) from
 * the first of that shard's part + 1. With one shard: m + 1, as the lab always numbered them.
 */
export function labHybridIndex(podCidr: string, shards: number, m: number): number {
  if (shards === 1) return m + 1;
  const k = m % shards;
  const part = labSplit(podCidr, shards).find((p) => p.shard === k)!;
  return ((part.network >>> 8) & 255) + 1 + Math.floor(m / shards);
}
