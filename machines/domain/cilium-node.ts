// CiliumNode (cilium.io/v2) → VtepSpec, validating everything the kernel
// entries depend on and applying the admission rules (admission.ts). Never
// throws: a malformed or hostile node yields a reason instead.
import {
  containing,
  gatewayAddressIn,
  insideOneOf,
  MAX_POD_CIDRS_PER_NODE,
  specialRangeOf,
  specialRangeOfIp,
  type AdmissionPolicy,
} from './admission.js';
import { findOverlaps, intToIPv4, ipv4ToInt, isIPv4, isIPv6, overlaps, parseCidr, vtepMacForNode, type Cidr } from './ipv4.js';
import type { VtepSpec } from './vtep-spec.js';

export interface CiliumNodeAddress {
  type?: string;
  ip?: string;
}

/** The fields of a CiliumNode the gateway reads (the rest is ignored). */
export interface CiliumNode {
  metadata?: { name?: string; creationTimestamp?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: {
    addresses?: CiliumNodeAddress[];
    ipam?: { podCIDRs?: string[] };
  };
}

export const HYBRID_LABEL_KEY = 'eks.amazonaws.com/compute-type';
export const HYBRID_LABEL_VALUE = 'hybrid';

export type SkipReason =
  | 'missing-name'
  | 'missing-internal-ip'
  | 'ipv6-only-internal-ip'
  | 'invalid-internal-ip'
  | 'internal-ip-special'
  | 'internal-ip-in-vpc'
  | 'internal-ip-in-pod-cidrs'
  | 'internal-ip-is-gateway-address'
  | 'missing-pod-cidrs'
  | 'too-many-pod-cidrs'
  | 'invalid-pod-cidr'
  | 'overlapping-pod-cidrs'
  | 'pod-cidr-special'
  | 'pod-cidr-in-vpc'
  | 'pod-cidr-outside-pod-cidrs'
  | 'pod-cidr-contains-gateway-address'
  | 'pod-cidr-claimed-by-other-node'
  | 'internal-ip-claimed-by-other-node';

export const SKIP_REASONS: readonly SkipReason[] = [
  'missing-name',
  'missing-internal-ip',
  'ipv6-only-internal-ip',
  'invalid-internal-ip',
  'internal-ip-special',
  'internal-ip-in-vpc',
  'internal-ip-in-pod-cidrs',
  'internal-ip-is-gateway-address',
  'missing-pod-cidrs',
  'too-many-pod-cidrs',
  'invalid-pod-cidr',
  'overlapping-pod-cidrs',
  'pod-cidr-special',
  'pod-cidr-in-vpc',
  'pod-cidr-outside-pod-cidrs',
  'pod-cidr-contains-gateway-address',
  'pod-cidr-claimed-by-other-node',
  'internal-ip-claimed-by-other-node',
];

export interface Skip {
  readonly name: string;
  readonly reason: SkipReason;
  readonly detail: string;
}

/** A valid node: its spec, and (for the cross-node checks) its IP as a number and its parsed pod CIDRs. */
export type NodeResult = { ok: true; spec: VtepSpec; ip: number; blocks: readonly Cidr[] } | { ok: false; skip: Skip };

function skip(name: string, reason: SkipReason, detail: string): NodeResult {
  return { ok: false, skip: { name, reason, detail } };
}

/**
 * Validates one node on its own (cross-node conflicts are judged by
 * desiredVteps). IPv6 pod CIDRs of a dual-stack node are ignored, not errors:
 * the tunnel carries the IPv4 family only.
 */
export function vtepSpecFromCiliumNode(node: CiliumNode, policy: AdmissionPolicy): NodeResult {
  const { vpcCidrs, podCidrs } = policy;
  if (typeof node !== 'object' || node === null) return skip('<unnamed>', 'missing-name', 'the object is not a CiliumNode');
  const name = node.metadata?.name;
  if (typeof name !== 'string' || name === '') return skip('<unnamed>', 'missing-name', 'metadata.name is empty');

  const addresses: unknown = node.spec?.addresses;
  const internal = (Array.isArray(addresses) ? (addresses as CiliumNodeAddress[]) : []).filter(
    (a) => typeof a === 'object' && a !== null && a.type === 'InternalIP' && typeof a.ip === 'string',
  );
  if (internal.length === 0) return skip(name, 'missing-internal-ip', 'spec.addresses has no InternalIP');
  const v4 = internal.find((a) => isIPv4(a.ip as string));
  if (v4 === undefined) {
    if (internal.every((a) => isIPv6(a.ip as string))) {
      return skip(name, 'ipv6-only-internal-ip', `InternalIP ${internal.map((a) => a.ip).join(',')} has no IPv4 address`);
    }
    return skip(name, 'invalid-internal-ip', `InternalIP "${internal[0]?.ip}" is not an IPv4 address`);
  }
  const nodeIP = v4.ip as string;
  const ip = ipv4ToInt(nodeIP);
  const special = specialRangeOfIp(ip);
  if (special !== undefined) return skip(name, 'internal-ip-special', `InternalIP ${nodeIP} is not a unicast host address: ${special}`);
  if (policy.gatewayAddresses.has(ip)) return skip(name, 'internal-ip-is-gateway-address', `InternalIP ${nodeIP} is an address of this gateway`);
  const inVpc = containing(vpcCidrs, ip);
  if (inVpc !== undefined) return skip(name, 'internal-ip-in-vpc', `InternalIP ${nodeIP} is inside the VPC CIDR ${inVpc.text}`);
  const inPods = containing(podCidrs, ip);
  if (inPods !== undefined) return skip(name, 'internal-ip-in-pod-cidrs', `InternalIP ${nodeIP} is inside POD_CIDRS ${inPods.text}`);

  const raw = node.spec?.ipam?.podCIDRs;
  if (!Array.isArray(raw) || raw.length === 0) return skip(name, 'missing-pod-cidrs', 'spec.ipam.podCIDRs is empty');
  if (raw.length > MAX_POD_CIDRS_PER_NODE) {
    return skip(name, 'too-many-pod-cidrs', `spec.ipam.podCIDRs has ${raw.length} entries; at most ${MAX_POD_CIDRS_PER_NODE} are taken`);
  }
  const byText = new Map<string, Cidr>();
  for (const text of raw) {
    if (typeof text === 'string' && text.includes(':') && isIPv6(text.split('/')[0] ?? '')) continue;
    const parsed = typeof text === 'string' ? parseCidr(text) : { ok: false as const, error: `${JSON.stringify(text)} is not a string` };
    if (!parsed.ok) return skip(name, 'invalid-pod-cidr', `spec.ipam.podCIDRs: ${parsed.error}`);
    byText.set(parsed.value.text, parsed.value);
  }
  const cidrs = [...byText.values()].sort((a, b) => a.first - b.first);
  if (cidrs.length === 0) return skip(name, 'missing-pod-cidrs', 'spec.ipam.podCIDRs has no IPv4 CIDR');

  const inner = findOverlaps(cidrs, (c) => c);
  if (inner.length > 0) {
    const [a, b] = inner[0] as [Cidr, Cidr];
    return skip(name, 'overlapping-pod-cidrs', `pod CIDRs ${a.text} and ${b.text} overlap`);
  }
  for (const c of cidrs) {
    const sp = specialRangeOf(c);
    if (sp !== undefined) return skip(name, 'pod-cidr-special', `pod CIDR ${c.text} overlaps ${sp}`);
    const vpc = vpcCidrs.find((v) => overlaps(v, c));
    if (vpc !== undefined) return skip(name, 'pod-cidr-in-vpc', `pod CIDR ${c.text} overlaps the VPC CIDR ${vpc.text}`);
    const gw = gatewayAddressIn(policy, c);
    if (gw !== undefined) return skip(name, 'pod-cidr-contains-gateway-address', `pod CIDR ${c.text} contains ${intToIPv4(gw)}, an address of this gateway`);
    if (!insideOneOf(podCidrs, c)) {
      return skip(name, 'pod-cidr-outside-pod-cidrs', `pod CIDR ${c.text} is not inside POD_CIDRS (${podCidrs.map((p) => p.text).join(', ') || 'none'})`);
    }
  }

  const podCIDRs = cidrs.map((c) => c.text);
  return { ok: true, spec: { name, nodeIP, mac: vtepMacForNode(nodeIP), podCIDRs }, ip, blocks: cidrs };
}
