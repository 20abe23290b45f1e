// The whole desired data plane from a list of CiliumNodes: one VtepSpec per
// valid hybrid node, and the nodes skipped with their reasons. Conflicts
// between nodes (one pod CIDR or one IP claimed twice) are settled
// deterministically: the older node (creationTimestamp, then name) keeps it.
// The same rules as the incremental DesiredIndex (one implementation).
import type { CiliumNode, Skip } from './cilium-node.js';
import { DesiredIndex, type NodeChange } from './desired-index.js';
import type { AdmissionPolicy } from './admission.js';
import type { VtepSpec } from './vtep-spec.js';

export interface DesiredState {
  readonly vteps: ReadonlyMap<string, VtepSpec>;
  readonly skipped: readonly Skip[];
}

export function desiredVteps(nodes: Iterable<CiliumNode>, policy: AdmissionPolicy): DesiredState {
  const index = new DesiredIndex(policy);
  const skipped: Skip[] = [];
  const changes: NodeChange[] = [];
  for (const node of nodes) {
    const name = typeof node === 'object' && node !== null ? node.metadata?.name : undefined;
    if (typeof name !== 'string' || name === '') {
      skipped.push({ name: '<unnamed>', reason: 'missing-name', detail: 'metadata.name is empty' });
      continue;
    }
    // A list holds each name once; a repeated name is the later object.
    changes.push({ node });
  }
  index.apply(changes);
  return { vteps: new Map(index.vteps), skipped: [...skipped, ...index.skipped.values()] };
}
