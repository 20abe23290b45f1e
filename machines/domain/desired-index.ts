// The desired data plane over all hybrid CiliumNodes, kept up to date one
// change at a time. Each node is first judged on its own (cilium-node.ts);
// the nodes that pass are candidates. Between candidates, one InternalIP and
// one pod CIDR range belong to one node: the OLDEST claimant wins
// (creationTimestamp, then name). Formally, candidates are taken in age order
// and each is accepted unless it conflicts with an older accepted one — so
// a node that lost its claim frees nothing, and a node that leaves hands its
// claims to the next oldest claimant.
//
// A change re-judges only what it can affect: the changed node and the
// candidates its old and new claims conflict with, in age order, spreading
// to younger conflicting candidates only when a node's acceptance flips.
// Conflicts are found through indexes (IP → candidates, BlockIndex for the
// CIDRs), never by pairwise scans, so taking in N nodes costs O(N log N) and
// one change O(log N) when nothing conflicts.
//
// Pure: no I/O. `steps()` yields between slices of work so a caller can
// hand the event loop back while tens of thousands of nodes are taken in.
import type { AdmissionPolicy } from './admission.js';
import { BlockIndex, cidrAt } from './block-index.js';
import { MultiMap } from './multi-map.js';
import { vtepSpecFromCiliumNode, type CiliumNode, type Skip, type SkipReason } from './cilium-node.js';
import type { Cidr } from './ipv4.js';
import { sameVtepSpec, type VtepSpec } from './vtep-spec.js';

/** A node added or changed, or a node gone (by name). */
export type NodeChange = { readonly node: CiliumNode } | { readonly removed: string };

/** What a set of changes did to the desired data plane. */
export interface DesiredDelta {
  /** Nodes newly desired, or desired with another spec. */
  readonly upserts: VtepSpec[];
  /** Nodes no longer desired. */
  readonly removes: string[];
  /** Nodes newly skipped, or skipped for another reason (once per reason, not per detail). */
  readonly skipped: Skip[];
  /** Nodes no longer skipped (accepted now, or gone). */
  readonly cleared: string[];
}

export type DesiredIndexOptions = AdmissionPolicy;

interface Entry {
  readonly name: string;
  /** Age order: creationTimestamp (absent: last), then name. */
  readonly created: string;
  readonly resourceVersion: string | undefined;
  /** Present when the node is valid on its own (a candidate). */
  readonly spec: VtepSpec | undefined;
  readonly ip: number;
  readonly blocks: readonly Cidr[];
  /** Its own validation failure, if any. */
  readonly invalid: Skip | undefined;
  accepted: boolean;
  skip: Skip | undefined;
}

const NEVER = '\uffff';

function older(a: Entry, b: Entry): boolean {
  return a.created !== b.created ? a.created < b.created : a.name < b.name;
}

/** A binary min-heap of entries by age. */
class AgeHeap {
  private readonly items: Entry[] = [];
  peek(): Entry | undefined {
    return this.items[0];
  }
  push(e: Entry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!older(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && older(a[l]!, a[m]!)) m = l;
        if (r < a.length && older(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Before/after bookkeeping of one apply: each touched name's state before it. */
class DeltaBuilder {
  private readonly before = new Map<string, { spec: VtepSpec | undefined; skip: Skip | undefined }>();
  touch(name: string, e: Entry | undefined): void {
    if (!this.before.has(name)) this.before.set(name, { spec: e?.accepted ? e.spec : undefined, skip: e?.skip });
  }
  build(entries: ReadonlyMap<string, Entry>): DesiredDelta {
    const delta: DesiredDelta = { upserts: [], removes: [], skipped: [], cleared: [] };
    for (const [name, was] of this.before) {
      const e = entries.get(name);
      const spec = e?.accepted ? e.spec : undefined;
      if (spec !== undefined && !sameVtepSpec(was.spec, spec)) delta.upserts.push(spec);
      else if (spec === undefined && was.spec !== undefined) delta.removes.push(name);
      const skip = e?.skip;
      if (skip !== undefined && was.skip?.reason !== skip.reason) delta.skipped.push(skip);
      else if (skip === undefined && was.skip !== undefined) delta.cleared.push(name);
    }
    return delta;
  }
}

export class DesiredIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly ips = new MultiMap<number, Entry>();
  private readonly blocks = new BlockIndex<Entry>();
  private readonly desired = new Map<string, VtepSpec>();
  private readonly skips = new Map<string, Skip>();
  private readonly reasons = new Map<SkipReason, number>();

  constructor(private readonly opts: DesiredIndexOptions) {}

  /** The accepted nodes' specs, by name. */
  get vteps(): ReadonlyMap<string, VtepSpec> {
    return this.desired;
  }

  /** The skipped nodes, by name. */
  get skipped(): ReadonlyMap<string, Skip> {
    return this.skips;
  }

  /** How many nodes are skipped right now, by reason. */
  get skippedByReason(): ReadonlyMap<SkipReason, number> {
    return this.reasons;
  }

  /** The raw nodes' count (accepted + skipped). */
  get size(): number {
    return this.entries.size;
  }

  /** Applies the changes at once. */
  apply(changes: Iterable<NodeChange>): DesiredDelta {
    const it = this.steps(changes, Infinity);
    for (;;) {
      const r = it.next();
      if (r.done === true) return r.value;
    }
  }

  /**
   * The changes that make the index hold exactly `nodes` (a complete list):
   * the absent ones removed, the others upserted unless their
   * resourceVersion is the one already held.
   */
  resyncChanges(nodes: Iterable<CiliumNode>): NodeChange[] {
    const changes: NodeChange[] = [];
    const seen = new Set<string>();
    for (const node of nodes) {
      const name = node?.metadata?.name;
      if (typeof name !== 'string' || name === '') continue;
      seen.add(name);
      const e = this.entries.get(name);
      const rv = node.metadata?.resourceVersion;
      if (e === undefined || rv === undefined || e.resourceVersion !== rv) changes.push({ node });
    }
    for (const name of this.entries.keys()) if (!seen.has(name)) changes.push({ removed: name });
    return changes;
  }

  /**
   * Applies the changes, yielding after about every `budget` units of work
   * (one unit: indexing or judging one node); returns the delta when done.
   * Nothing else may change the index until the generator is done.
   */
  *steps(changes: Iterable<NodeChange>, budget: number): Generator<void, DesiredDelta, void> {
    const delta = new DeltaBuilder();
    // What to judge, in age order: the changes' entries sorted once (cheaper than a heap for a
    // whole list), merged with a heap of the rivals found along the way.
    const initial: Entry[] = [];
    const later = new AgeHeap();
    const queued = new Set<Entry>();
    let judging = false;
    const enqueue = (e: Entry): void => {
      if (queued.has(e)) return;
      queued.add(e);
      if (judging) later.push(e);
      else initial.push(e);
    };
    let work = 0;
    for (const change of changes) {
      const name = 'removed' in change ? change.removed : change.node?.metadata?.name;
      if (typeof name !== 'string' || name === '') continue;
      const old = this.entries.get(name);
      delta.touch(name, old);
      if (old !== undefined) {
        // Only an accepted node blocks others: its claims go back to its younger rivals.
        if (old.accepted)
          this.forConflicts(old, (c) => {
            if (older(old, c)) enqueue(c);
          });
        this.unindex(old);
      }
      if ('node' in change) {
        // Its rivals need no visit now: older ones do not depend on it, younger ones are
        // queued when it is judged and found accepted (its acceptance flips from false).
        const e = this.entryOf(change.node, name);
        this.entries.set(name, e);
        this.index(e);
        enqueue(e);
      } else {
        this.entries.delete(name);
        this.settle(name, undefined);
      }
      if (++work >= budget) {
        work = 0;
        yield;
      }
    }
    initial.sort((a, b) => (older(a, b) ? -1 : older(b, a) ? 1 : 0));
    judging = true;
    let next = 0;
    const pop = (): Entry | undefined => {
      const top = later.peek();
      if (next < initial.length && (top === undefined || !older(top, initial[next]!))) return initial[next++];
      return later.pop();
    };
    for (let e = pop(); e !== undefined; e = pop()) {
      if (this.entries.get(e.name) !== e) continue; // replaced or removed meanwhile
      delta.touch(e.name, e);
      const was = e.accepted;
      this.judge(e);
      if (e.accepted !== was) {
        // Younger claimants may win (it let go) or lose (it took hold) now.
        this.forConflicts(e, (c) => {
          if (older(e, c)) enqueue(c);
        });
      }
      this.settle(e.name, e);
      if (++work >= budget) {
        work = 0;
        yield;
      }
    }
    return delta.build(this.entries);
  }

  private entryOf(node: CiliumNode, name: string): Entry {
    const r = vtepSpecFromCiliumNode(node, this.opts);
    return {
      name,
      created: typeof node.metadata?.creationTimestamp === 'string' ? node.metadata.creationTimestamp : NEVER,
      resourceVersion: node.metadata?.resourceVersion,
      spec: r.ok ? r.spec : undefined,
      ip: r.ok ? r.ip : -1,
      blocks: r.ok ? r.blocks : [],
      invalid: r.ok ? undefined : r.skip,
      accepted: false,
      skip: undefined,
    };
  }

  private index(e: Entry): void {
    if (e.spec === undefined) return;
    this.ips.add(e.ip, e);
    for (const b of e.blocks) this.blocks.add(b, e);
  }

  private unindex(e: Entry): void {
    if (e.spec === undefined) return;
    this.ips.remove(e.ip, e);
    for (const b of e.blocks) this.blocks.remove(b, e);
  }

  /** Every other candidate whose IP or pod CIDRs collide with e's. */
  private forConflicts(e: Entry, visit: (other: Entry) => void): void {
    if (e.spec === undefined) return;
    this.ips.forEach(e.ip, (o) => o !== e && visit(o));
    for (const b of e.blocks) this.blocks.overlapping(b, (o) => o !== e && visit(o));
  }

  /** Accepted unless an older accepted candidate holds its IP or overlaps one of its pod CIDRs. */
  private judge(e: Entry): void {
    if (e.spec === undefined) {
      e.accepted = false;
      e.skip = e.invalid;
      return;
    }
    let ipOwner: Entry | undefined;
    this.ips.forEach(e.ip, (o) => {
      if (o !== e && o.accepted && older(o, e) && (ipOwner === undefined || older(o, ipOwner))) ipOwner = o;
    });
    if (ipOwner !== undefined) {
      e.accepted = false;
      e.skip = { name: e.name, reason: 'internal-ip-claimed-by-other-node', detail: `InternalIP ${e.spec.nodeIP} is already used by node ${ipOwner.name}` };
      return;
    }
    for (const b of e.blocks) {
      let clash: { owner: Entry; first: number; prefix: number } | undefined;
      this.blocks.overlapping(b, (o, first, prefix) => {
        if (o !== e && o.accepted && older(o, e) && (clash === undefined || older(o, clash.owner))) clash = { owner: o, first, prefix };
      });
      if (clash !== undefined) {
        const theirs = cidrAt(clash.first, clash.prefix).text;
        e.accepted = false;
        e.skip = { name: e.name, reason: 'pod-cidr-claimed-by-other-node', detail: `pod CIDR ${b.text} overlaps ${theirs} of node ${clash.owner.name}` };
        return;
      }
    }
    e.accepted = true;
    e.skip = undefined;
  }

  /** Mirrors an entry's outcome into the desired set, the skip list and the reason counts. */
  private settle(name: string, e: Entry | undefined): void {
    if (e?.accepted === true && e.spec !== undefined) this.desired.set(name, e.spec);
    else this.desired.delete(name);
    const before = this.skips.get(name);
    const after = e?.skip;
    if (before === after) return;
    if (before !== undefined) {
      const n = (this.reasons.get(before.reason) ?? 1) - 1;
      if (n === 0) this.reasons.delete(before.reason);
      else this.reasons.set(before.reason, n);
      this.skips.delete(name);
    }
    if (after !== undefined) {
      this.reasons.set(after.reason, (this.reasons.get(after.reason) ?? 0) + 1);
      this.skips.set(name, after);
    }
  }
}
