// The test's own reading of the CiliumNode admission rules, written from the
// README's list ("Desired state": the reasons table and the cross-node claim
// rule), not from machines/domain: a bug the gateway's code and its own unit
// tests share must be able to show against it. It imports nothing of the
// gateway; addresses are parsed here (IPv6 with node:net).
//
// What it returns for a list of stored CiliumNodes: the nodes admitted (the
// kernel entries they must have on hybrid_vxlan0) and, for every hybrid node
// refused, the set of README reasons that apply to it. A node may break
// several rules at once and the README does not order them, so the gateway's
// reason for a refused node must be one of the set, not a particular one.
//
// Where the README leaves a case open, the oracle does not guess: it throws
// AmbiguousCase, and the generator must not produce such nodes (see
// AMBIGUOUS below, also named in the fuzz test's header).
import { isIPv6 } from 'node:net';

export const HYBRID_LABEL = ['eks.amazonaws.com/compute-type', 'hybrid'] as const;
export const MAX_POD_CIDRS = 32;

/** The README's skip reasons. */
export type Reason =
  | 'missing-name'
  | 'missing-internal-ip'
  | 'ipv6-only-internal-ip'
  | 'invalid-internal-ip'
  | 'internal-ip-special'
  | 'internal-ip-is-gateway-address'
  | 'internal-ip-in-vpc'
  | 'internal-ip-in-pod-cidrs'
  | 'missing-pod-cidrs'
  | 'invalid-pod-cidr'
  | 'overlapping-pod-cidrs'
  | 'too-many-pod-cidrs'
  | 'pod-cidr-special'
  | 'pod-cidr-in-vpc'
  | 'pod-cidr-contains-gateway-address'
  | 'pod-cidr-outside-pod-cidrs'
  | 'pod-cidr-claimed-by-other-node'
  | 'internal-ip-claimed-by-other-node';

/** "no usable IPv4 InternalIP": the README gives these for it together (with missing-name, which a stored object cannot have). */
const NO_USABLE_IP: readonly Reason[] = ['missing-internal-ip', 'ipv6-only-internal-ip', 'invalid-internal-ip'];

export class AmbiguousCase extends Error {}

/** Cases the README does not decide; the generator avoids them. */
export const AMBIGUOUS = [
  'two different IPv4 InternalIPs on one node (which one is "its" InternalIP)',
  'one pod CIDR listed twice (do identical entries "overlap")',
  'more than 32 podCIDRs entries of which at most 32 are IPv4 CIDRs (do ignored IPv6 ones count)',
  'whitespace around an address or CIDR (trimmed or malformed)',
  'a malformed IPv6 pod CIDR (ignored as IPv6 or malformed)',
] as const;

export interface Block {
  readonly text: string;
  readonly first: number;
  readonly last: number;
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const PREFIX_RE = /^(3[0-2]|[12][0-9]|[0-9])$/;

/** A strict dotted quad (no leading zeros, no spaces) as an unsigned integer. */
export function ipv4(text: unknown): number | undefined {
  if (typeof text !== 'string' || !IPV4_RE.test(text)) return undefined;
  return text.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export const ipText = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** a.b.c.d/n with no host bits set (README: CIDRs must be canonical), else undefined. */
export function ipv4Cidr(text: unknown): Block | undefined {
  if (typeof text !== 'string') return undefined;
  const parts = text.split('/');
  if (parts.length !== 2 || !PREFIX_RE.test(parts[1]!)) return undefined;
  const base = ipv4(parts[0]);
  if (base === undefined) return undefined;
  const size = 2 ** (32 - Number(parts[1]));
  if (base % size !== 0) return undefined;
  return { text, first: base, last: base + size - 1 };
}

function ipv6Cidr(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const parts = text.split('/');
  return parts.length === 2 && isIPv6(parts[0]!) && /^(12[0-8]|1[01][0-9]|[1-9]?[0-9])$/.test(parts[1]!);
}

export function block(text: string): Block {
  const b = ipv4Cidr(text);
  if (b === undefined) throw new Error(`${text}: not a canonical IPv4 CIDR`);
  return b;
}

const overlap = (a: Block, b: Block): boolean => a.first <= b.last && b.first <= a.last;
const inside = (outer: Block, inner: Block): boolean => outer.first <= inner.first && inner.last <= outer.last;
const holds = (b: Block, ip: number): boolean => b.first <= ip && ip <= b.last;

/** README: 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3. */
export const SPECIAL = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3'].map(block);

export interface OraclePolicy {
  readonly vpc: readonly string[];
  readonly podCidrs: readonly string[];
  /** NODE_IP and every other local IPv4 address of the gateway. */
  readonly gatewayAddresses: readonly string[];
}

export interface StoredNode {
  metadata?: { name?: string; creationTimestamp?: string; labels?: Record<string, unknown> };
  spec?: unknown;
}

export interface Admitted {
  readonly name: string;
  readonly ip: string;
  readonly mac: string;
  readonly cidrs: readonly string[];
}

export interface Verdict {
  /** Hybrid nodes admitted, by name. */
  readonly admitted: ReadonlyMap<string, Admitted>;
  /** Hybrid nodes refused, by name: every README reason that applies. */
  readonly refused: ReadonlyMap<string, ReadonlySet<Reason>>;
  /** Nodes without the hybrid label: the gateway must not see them at all. */
  readonly ignored: readonly string[];
}

/** 02:00 then the four address bytes (README, "Desired state"). */
export function macOf(ip: number): string {
  return ['02', '00', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

type Judged = { ok: true; ip: number; blocks: Block[] } | { ok: false; reasons: Set<Reason> };

const get = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined);

/** One node on its own: the per-node rules of the README's table. */
export function judgeNode(node: StoredNode, policy: OraclePolicy): Judged {
  const vpc = policy.vpc.map(block);
  const pods = policy.podCidrs.map(block);
  const gw = policy.gatewayAddresses.map((a) => ipv4(a)!);
  const reasons = new Set<Reason>();
  if (typeof node.metadata?.name !== 'string' || node.metadata.name === '') reasons.add('missing-name');

  // InternalIP: the usable IPv4 one.
  const rawAddresses = get(node.spec, 'addresses');
  const internal = (Array.isArray(rawAddresses) ? rawAddresses : []).filter((a) => get(a, 'type') === 'InternalIP').map((a) => get(a, 'ip'));
  const usable = [...new Set(internal.map(ipv4).filter((n): n is number => n !== undefined))];
  if (usable.length > 1) throw new AmbiguousCase(`${node.metadata?.name}: two IPv4 InternalIPs ${usable.map(ipText).join(', ')}`);
  if (internal.some((a) => typeof a === 'string' && a.trim() !== a && a.trim() !== '')) throw new AmbiguousCase(`${node.metadata?.name}: whitespace around an InternalIP`);
  const ip = usable[0];
  if (ip === undefined) for (const r of NO_USABLE_IP) reasons.add(r);
  else {
    if (SPECIAL.some((s) => holds(s, ip))) reasons.add('internal-ip-special');
    if (gw.includes(ip)) reasons.add('internal-ip-is-gateway-address');
    if (vpc.some((v) => holds(v, ip))) reasons.add('internal-ip-in-vpc');
    if (pods.some((p) => holds(p, ip))) reasons.add('internal-ip-in-pod-cidrs');
  }

  // Pod CIDRs: every IPv4 one (IPv6 ones ignored).
  const raw = get(get(node.spec, 'ipam'), 'podCIDRs');
  const list: unknown[] = Array.isArray(raw) ? raw : [];
  const blocks: Block[] = [];
  let malformed = false;
  for (const entry of list) {
    if (ipv6Cidr(entry)) continue;
    if (typeof entry === 'string' && entry.includes(':') && entry.trim() === entry) throw new AmbiguousCase(`${node.metadata?.name}: malformed IPv6 pod CIDR ${entry}`);
    if (typeof entry === 'string' && entry.trim() !== entry && entry.trim() !== '') throw new AmbiguousCase(`${node.metadata?.name}: whitespace around a pod CIDR`);
    const b = ipv4Cidr(entry);
    if (b === undefined) malformed = true;
    else blocks.push(b);
  }
  if (new Set(blocks.map((b) => b.text)).size !== blocks.length) throw new AmbiguousCase(`${node.metadata?.name}: a pod CIDR listed twice`);
  if (malformed) reasons.add('invalid-pod-cidr');
  else if (blocks.length === 0) reasons.add('missing-pod-cidrs');
  if (list.length > MAX_POD_CIDRS) {
    if (blocks.length > MAX_POD_CIDRS) reasons.add('too-many-pod-cidrs');
    else if (!malformed) throw new AmbiguousCase(`${node.metadata?.name}: ${list.length} entries, ${blocks.length} IPv4`);
  }
  for (let i = 0; i < blocks.length; i++) for (let j = i + 1; j < blocks.length; j++) if (overlap(blocks[i]!, blocks[j]!)) reasons.add('overlapping-pod-cidrs');
  for (const b of blocks) {
    if (SPECIAL.some((s) => overlap(s, b))) reasons.add('pod-cidr-special');
    if (vpc.some((v) => overlap(v, b))) reasons.add('pod-cidr-in-vpc');
    if (gw.some((a) => holds(b, a))) reasons.add('pod-cidr-contains-gateway-address');
    if (!pods.some((p) => inside(p, b))) reasons.add('pod-cidr-outside-pod-cidrs');
  }
  return reasons.size === 0 && ip !== undefined ? { ok: true, ip, blocks } : { ok: false, reasons };
}

export function isHybrid(node: StoredNode): boolean {
  return node.metadata?.labels?.[HYBRID_LABEL[0]] === HYBRID_LABEL[1];
}

/**
 * The whole list: per-node rules, then the claims. README: "the older node, by
 * creationTimestamp then name, keeps the claim (nodes are taken in age order
 * and each is accepted unless an older accepted one holds its IP or overlaps
 * one of its pod CIDRs)".
 */
export function judge(nodes: readonly StoredNode[], policy: OraclePolicy): Verdict {
  const admitted = new Map<string, Admitted>();
  const refused = new Map<string, Set<Reason>>();
  const ignored: string[] = [];
  const candidates: Array<{ name: string; created: string; ip: number; blocks: Block[] }> = [];
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    if (!isHybrid(n)) {
      ignored.push(name);
      continue;
    }
    const j = judgeNode(n, policy);
    if (j.ok) candidates.push({ name, created: n.metadata?.creationTimestamp ?? '', ip: j.ip, blocks: j.blocks });
    else refused.set(name, j.reasons);
  }
  candidates.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const accepted: typeof candidates = [];
  for (const c of candidates) {
    const reasons = new Set<Reason>();
    if (accepted.some((o) => o.ip === c.ip)) reasons.add('internal-ip-claimed-by-other-node');
    if (accepted.some((o) => o.blocks.some((ob) => c.blocks.some((cb) => overlap(ob, cb))))) reasons.add('pod-cidr-claimed-by-other-node');
    if (reasons.size > 0) {
      refused.set(c.name, reasons);
      continue;
    }
    accepted.push(c);
    admitted.set(c.name, { name: c.name, ip: ipText(c.ip), mac: macOf(c.ip), cidrs: c.blocks.map((b) => b.text).sort() });
  }
  return { admitted, refused, ignored };
}

/**
 * Whether per-reason counts can come from the refused nodes, each counted once
 * under one of its reasons (a bipartite matching of nodes to counted slots).
 */
export function countsFit(refused: ReadonlyMap<string, ReadonlySet<Reason>>, counts: ReadonlyMap<string, number>): boolean {
  const slots: string[] = [];
  for (const [reason, n] of counts) for (let i = 0; i < n; i++) slots.push(reason);
  const nodes = [...refused.values()];
  if (slots.length !== nodes.length) return false;
  const owner = new Array<number>(slots.length).fill(-1);
  const place = (i: number, seen: boolean[]): boolean => {
    for (let s = 0; s < slots.length; s++) {
      if (seen[s] || !nodes[i]!.has(slots[s] as Reason)) continue;
      seen[s] = true;
      if (owner[s] === -1 || place(owner[s]!, seen)) {
        owner[s] = i;
        return true;
      }
    }
    return false;
  };
  return nodes.every((_, i) => place(i, new Array<boolean>(slots.length).fill(false)));
}
