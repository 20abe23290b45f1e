// How the two things only a leader writes are split across N shards (issue
// 17). Each POD_CIDR and each VPC CIDR is cut into P = 2^ceil(log2 N) equal
// more-specific prefixes (a CIDR splits only into powers of two); part j
// belongs to shard j mod N, so with N = 3 shard 0 carries two of the four
// parts. Shard k's POD_CIDR parts are the routes it points at its leader's
// ENI; its VPC CIDR parts are its CiliumVTEPConfig endpoints. N = 1 is today's
// plan exactly: POD_CIDRS as given and the reference's endpoint names, so this
// module is the one source of those names.
import { intToIPv4, parseCidr, type Cidr } from './ipv4.js';

/** Cilium's VTEP map (and the CRD's maxItems) holds at most 8 endpoints. */
export const MAX_VTEP_ENDPOINTS = 8;
export const MAX_SHARDS = 8;

/** A CiliumVTEPConfig endpoint's name and CIDR; the leader adds its tunnel endpoint and MAC. */
export interface ShardEndpoint {
  readonly name: string;
  readonly cidr: string;
}

export interface ShardPart {
  readonly shard: number;
  /** Canonical a.b.c.d/len prefixes this shard's leader routes, POD_CIDR order then part order. */
  readonly podPrefixes: readonly string[];
  /** This shard's endpoints, VPC CIDR order then part order. */
  readonly endpoints: readonly ShardEndpoint[];
}

/** P: the number of parts each CIDR is cut into for `shards` shards (the next power of two). */
export function partsPerCidr(shards: number): number {
  let p = 1;
  while (p < shards) p *= 2;
  return p;
}

/** The `parts` (a power of two) equal sub-blocks of `cidr`, lowest first. */
export function splitCidr(cidr: Cidr, parts: number): Cidr[] {
  const bits = Math.log2(parts);
  if (!Number.isInteger(bits) || bits < 0) throw new Error(`cannot split into ${parts} parts: not a power of two`);
  const prefix = cidr.prefix + bits;
  if (prefix > 32) throw new Error(`cannot split ${cidr.text} into ${parts} parts: /${prefix} is longer than /32`);
  if (parts === 1) return [cidr];
  // Plain arithmetic, not shifts: a /0 block has 2^32 addresses, beyond a 32-bit shift.
  const size = 2 ** (32 - prefix);
  return Array.from({ length: parts }, (_, j) => {
    const first = cidr.first + j * size;
    return { text: `${intToIPv4(first)}/${prefix}`, first, last: first + size - 1, prefix };
  });
}

function mustParse(text: string): Cidr {
  const p = parseCidr(text);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

/** The Lease of shard k: LEADER_ELECTION_ID itself with one shard, `<id>-<k>` with more. */
export function shardLeaseName(leaderElectionID: string, shards: number, k: number): string {
  return shards === 1 ? leaderElectionID : `${leaderElectionID}-${k}`;
}

/**
 * Shard k's pod prefixes and endpoints, for k = 0 … shards − 1. Inputs are validated
 * (validateSharding); an invalid one throws. shards = 1: POD_CIDRS as given, endpoints
 * `vpc-gateway` (one VPC CIDR) or `vpc-gateway-<i>` (several), as the reference names them.
 */
export function shardPlan(podCidrs: readonly string[], vpcCidrs: readonly string[], shards: number): ShardPart[] {
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shards must be a positive integer, not ${shards}`);
  if (shards === 1) {
    return [
      {
        shard: 0,
        podPrefixes: [...podCidrs],
        endpoints: vpcCidrs.map((cidr, i) => ({ name: vpcCidrs.length === 1 ? 'vpc-gateway' : `vpc-gateway-${i}`, cidr })),
      },
    ];
  }
  const parts = partsPerCidr(shards);
  const pods: string[][] = Array.from({ length: shards }, () => []);
  const cidrs: string[][] = Array.from({ length: shards }, () => []);
  for (const text of podCidrs) splitCidr(mustParse(text), parts).forEach((c, j) => pods[j % shards]!.push(c.text));
  for (const text of vpcCidrs) splitCidr(mustParse(text), parts).forEach((c, j) => cidrs[j % shards]!.push(c.text));
  return pods.map((podPrefixes, k) => ({
    shard: k,
    podPrefixes,
    endpoints: cidrs[k]!.map((cidr, n) => ({ name: `vpc-gateway-${k}-${n}`, cidr })),
  }));
}

export interface ShardingInput {
  readonly podCidrs: readonly string[];
  readonly vpcCidrs: readonly string[];
  readonly shards: number;
  /** The prefix length of each hybrid node's pod CIDR (Cilium cluster-pool's cluster-pool-ipv4-mask-size). */
  readonly nodePodCidrMaskSize: number;
}

/**
 * Why this split cannot run, one message per offending value (empty: it can). Only a split is
 * judged: shards = 1 changes nothing and is always accepted. A POD_CIDR part longer than a
 * node's pod CIDR would cut that node's block across two shards' routes.
 */
export function validateSharding(input: ShardingInput): string[] {
  const { shards, nodePodCidrMaskSize: mask } = input;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) return [`shards ${shards}: want an integer from 1 to ${MAX_SHARDS}`];
  if (shards === 1) return [];
  const parts = partsPerCidr(shards);
  const bits = Math.log2(parts);
  const problems: string[] = [];
  const split = parts === shards ? `${parts} parts` : `${parts} parts (${shards} shards round up to a power of two)`;
  for (const text of input.podCidrs) {
    const p = parseCidr(text);
    if (!p.ok) {
      problems.push(p.error);
      continue;
    }
    const len = p.value.prefix + bits;
    if (len > 32) problems.push(`pod CIDR ${p.value.text} cannot be split into ${split}: /${len} is longer than /32`);
    else if (len > mask)
      problems.push(
        `pod CIDR ${p.value.text} split into ${split} gives /${len} prefixes, longer than the hybrid nodes' pod CIDR size /${mask} (NODE_POD_CIDR_MASK_SIZE): the split must stay at or above each hybrid node's pod CIDR size`,
      );
  }
  for (const text of input.vpcCidrs) {
    const p = parseCidr(text);
    if (!p.ok) {
      problems.push(p.error);
      continue;
    }
    const len = p.value.prefix + bits;
    if (len > 32) problems.push(`VPC CIDR ${p.value.text} cannot be split into ${split}: /${len} is longer than /32`);
  }
  const endpoints = input.vpcCidrs.length * parts;
  if (endpoints > MAX_VTEP_ENDPOINTS)
    problems.push(`${input.vpcCidrs.length} VPC CIDRs × ${split} = ${endpoints} CiliumVTEPConfig endpoints; Cilium takes at most ${MAX_VTEP_ENDPOINTS}`);
  return problems;
}
