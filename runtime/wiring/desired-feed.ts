// The CiliumNode informer's callbacks → the fleet's events. Keeps the raw
// cache, recomputes the desired set with the pure core on each change (it
// settles cross-node conflicts, so one node's change can affect another), and
// sends only the differences. Skipped nodes are reported once per new reason.
import { desiredVteps } from '../../machines/domain/desired-state.js';
import type { CiliumNode, Skip } from '../../machines/domain/cilium-node.js';
import type { Cidr } from '../../machines/domain/ipv4.js';
import { sameVtepSpec, type VtepSpec } from '../../machines/domain/vtep-spec.js';
import type { FleetEvent } from '../../machines/fleet.machine.js';

export interface DesiredFeedOptions {
  vpcCidrs: readonly Cidr[];
  send(event: FleetEvent): void;
  /** Newly skipped nodes (or with a new reason), and the full current list. */
  onSkipped?(fresh: readonly Skip[], current: readonly Skip[], nodes: ReadonlyMap<string, CiliumNode>): void;
}

export class DesiredFeed {
  private readonly nodes = new Map<string, CiliumNode>();
  private desired = new Map<string, VtepSpec>();
  private skipped = new Map<string, Skip>();
  private synced = false;

  constructor(private readonly opts: DesiredFeedOptions) {}

  /** A complete (re-)list: the cache becomes exactly these nodes. */
  resync(all: readonly CiliumNode[]): void {
    this.nodes.clear();
    for (const n of all) {
      const name = n?.metadata?.name;
      if (typeof name === 'string') this.nodes.set(name, n);
    }
    const next = this.compute();
    this.synced = true;
    this.opts.send({ type: 'NODES.SYNCED', vteps: [...next.values()] });
    this.desired = next;
  }

  upsert(node: CiliumNode): void {
    const name = node?.metadata?.name;
    if (typeof name !== 'string') return;
    this.nodes.set(name, node);
    this.apply();
  }

  remove(node: CiliumNode): void {
    const name = node?.metadata?.name;
    if (typeof name !== 'string' || !this.nodes.delete(name)) return;
    this.apply();
  }

  get current(): ReadonlyMap<string, VtepSpec> {
    return this.desired;
  }

  get skippedNodes(): readonly Skip[] {
    return [...this.skipped.values()];
  }

  private compute(): Map<string, VtepSpec> {
    const { vteps, skipped } = desiredVteps(this.nodes.values(), this.opts.vpcCidrs);
    const before = this.skipped;
    this.skipped = new Map(skipped.map((s) => [s.name, s]));
    const fresh = skipped.filter((s) => before.get(s.name)?.reason !== s.reason);
    const cleared = [...before.keys()].some((name) => !this.skipped.has(name));
    if (fresh.length > 0 || cleared) this.opts.onSkipped?.(fresh, skipped, this.nodes);
    return new Map(vteps);
  }

  private apply(): void {
    const next = this.compute();
    if (!this.synced) {
      // Before the first full list the fleet only gathers; keep it informed.
      this.desired = next;
      return;
    }
    for (const [name, spec] of next) if (!sameVtepSpec(this.desired.get(name), spec)) this.opts.send({ type: 'NODE.UPSERT', spec });
    for (const name of this.desired.keys()) if (!next.has(name)) this.opts.send({ type: 'NODE.REMOVE', name });
    this.desired = next;
  }
}
