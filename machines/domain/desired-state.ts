// The whole desired data plane from the informer's cache: one VtepSpec per
// valid hybrid node, and the nodes skipped with their reasons. Conflicts
// between nodes (one pod CIDR or one IP claimed twice) are settled
// deterministically: the older node (creationTimestamp, then name) keeps it.
import { vtepSpecFromCiliumNode, type CiliumNode, type Skip } from './cilium-node.js';
import { parseCidr, type Cidr } from './ipv4.js';
import type { VtepSpec } from './vtep-spec.js';

export interface DesiredState {
  readonly vteps: ReadonlyMap<string, VtepSpec>;
  readonly skipped: readonly Skip[];
}

interface Candidate {
  readonly spec: VtepSpec;
  readonly rank: number;
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function byAge(a: CiliumNode, b: CiliumNode): number {
  const ta = text(a?.metadata?.creationTimestamp, '\uffff');
  const tb = text(b?.metadata?.creationTimestamp, '\uffff');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = text(a?.metadata?.name, '');
  const nb = text(b?.metadata?.name, '');
  return na < nb ? -1 : na > nb ? 1 : 0;
}

export function desiredVteps(nodes: Iterable<CiliumNode>, vpcCidrs: readonly Cidr[]): DesiredState {
  const skipped: Skip[] = [];
  const candidates: Candidate[] = [];
  const ordered = [...nodes].sort(byAge);
  ordered.forEach((node, rank) => {
    const result = vtepSpecFromCiliumNode(node, vpcCidrs);
    if (result.ok) candidates.push({ spec: result.spec, rank });
    else skipped.push(result.skip);
  });

  const losers = new Map<string, Skip>();

  // One IP, one node: the FDB and neighbour entries are keyed by it.
  const ipOwner = new Map<string, Candidate>();
  for (const c of candidates) {
    const owner = ipOwner.get(c.spec.nodeIP);
    if (owner === undefined) ipOwner.set(c.spec.nodeIP, c);
    else
      losers.set(c.spec.name, {
        name: c.spec.name,
        reason: 'internal-ip-claimed-by-other-node',
        detail: `InternalIP ${c.spec.nodeIP} is already used by node ${owner.spec.name}`,
      });
  }

  // One pod CIDR range, one node: sweep the blocks in address order and settle
  // each cluster of overlapping blocks by node age.
  const blocks: Array<{ cidr: Cidr; owner: Candidate }> = [];
  for (const c of candidates) {
    if (losers.has(c.spec.name)) continue;
    for (const text of c.spec.podCIDRs) {
      const parsed = parseCidr(text); // canonical already: validated by vtepSpecFromCiliumNode
      if (parsed.ok) blocks.push({ cidr: parsed.value, owner: c });
    }
  }
  blocks.sort((a, b) => a.cidr.first - b.cidr.first);
  let cluster: typeof blocks = [];
  let clusterEnd = -1;
  const settle = (): void => {
    if (cluster.length < 2) return;
    const accepted: typeof blocks = [];
    for (const block of [...cluster].sort((a, b) => a.owner.rank - b.owner.rank)) {
      if (losers.has(block.owner.spec.name)) continue;
      const clash = accepted.find(
        (a) => a.owner !== block.owner && a.cidr.first <= block.cidr.last && block.cidr.first <= a.cidr.last,
      );
      if (clash === undefined) accepted.push(block);
      else
        losers.set(block.owner.spec.name, {
          name: block.owner.spec.name,
          reason: 'pod-cidr-claimed-by-other-node',
          detail: `pod CIDR ${block.cidr.text} overlaps ${clash.cidr.text} of node ${clash.owner.spec.name}`,
        });
    }
  };
  for (const block of blocks) {
    if (block.cidr.first > clusterEnd) {
      settle();
      cluster = [];
    }
    cluster.push(block);
    clusterEnd = Math.max(clusterEnd, block.cidr.last);
  }
  settle();

  const vteps = new Map<string, VtepSpec>();
  for (const c of candidates) if (!losers.has(c.spec.name)) vteps.set(c.spec.name, c.spec);
  return { vteps, skipped: [...skipped, ...losers.values()] };
}
