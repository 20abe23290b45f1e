// The CiliumNode informer's callbacks → the fleet's events, through the
// incremental desired set (machines/domain/desired-index.ts).
//
// - Nothing reaches the fleet before the first complete list: the list's
//   items also arrive one by one first (as upserts) and are ignored, since
//   the list that follows holds them all.
// - Changes are coalesced: those that arrive while the event loop is busy
//   (a watch chunk of many events, a re-list) are applied together, and the
//   fleet gets one NODES.CHANGED per batch.
// - A large batch (the first list of 20,000 nodes) is applied in slices,
//   handing the event loop back whenever one has run for the slice budget
//   (8 ms), so lease renewals and probes are served on time while the nodes
//   are taken in.
// - A large first list also reaches the fleet in parts: NODES.CHANGED of at
//   most `listChunk` nodes each, a turn of the loop between them, then
//   NODES.SYNCED with the whole list, which then changes nothing (the fleet
//   takes a list equal to its desired set without rebuilding it). One event
//   of 20,000 nodes was one transition of ~200 ms; the fleet converges only
//   on NODES.SYNCED, so the kernel never sees a partial list.
import { SLICE_BUDGET_MS } from '../../effects/breathe.js';
import { DesiredIndex, type DesiredDelta, type NodeChange } from '../../machines/domain/desired-index.js';
import type { CiliumNode, Skip, SkipReason } from '../../machines/domain/cilium-node.js';
import type { AdmissionPolicy } from '../../machines/domain/admission.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import type { FleetEvent } from '../../machines/fleet.machine.js';

export interface DesiredFeedOptions {
  /** Which nodes may be programmed (POD_CIDRS, the VPC, the gateway's own addresses). */
  readonly policy: AdmissionPolicy;
  send(event: Extract<FleetEvent, { type: 'NODES.SYNCED' | 'NODES.CHANGED' }>): void;
  /** Nodes newly skipped (or for a new reason), and the counts of all skipped nodes by reason. */
  onSkipped?(fresh: readonly Skip[], byReason: ReadonlyMap<SkipReason, number>): void;
  /** Units of work (one node indexed or judged) between looks at the clock; default 100. */
  readonly sliceSize?: number;
  /** Hand the loop back once a batch has run this long since its last turn (default SLICE_BUDGET_MS; 0: after every slice). */
  readonly budgetMs?: number;
  /** Hands the event loop back; default setImmediate. */
  readonly yieldToLoop?: () => Promise<void>;
  /** A first list of more nodes than this goes to the fleet in parts of this many first (default LIST_CHUNK). */
  readonly listChunk?: number;
}

/** Nodes per part of a large first list: a few milliseconds of the fleet's work each. */
export const LIST_CHUNK = 1000;

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class DesiredFeed {
  private readonly index: DesiredIndex;
  private pending = new Map<string, NodeChange>();
  /** A complete list waiting to be applied (it supersedes the pending changes before it). */
  private pendingList: readonly CiliumNode[] | undefined;
  private synced = false;
  /** A complete list has arrived (applied or not): from then on every change counts. */
  private listed = false;
  private draining: Promise<void> | undefined;

  constructor(private readonly opts: DesiredFeedOptions) {
    this.index = new DesiredIndex(opts.policy);
  }

  /** A complete (re-)list: the desired set becomes exactly these nodes. */
  resync(all: readonly CiliumNode[]): void {
    this.listed = true;
    this.pendingList = all;
    this.pending.clear();
    this.schedule();
  }

  upsert(node: CiliumNode): void {
    const name = node?.metadata?.name;
    if (typeof name !== 'string' || !this.listed) return;
    this.pending.set(name, { node });
    this.schedule();
  }

  remove(node: CiliumNode): void {
    const name = node?.metadata?.name;
    if (typeof name !== 'string' || !this.listed) return;
    this.pending.set(name, { removed: name });
    this.schedule();
  }

  /** The desired specs right now (after the last applied batch). */
  get current(): ReadonlyMap<string, VtepSpec> {
    return this.index.vteps;
  }

  get skippedNodes(): readonly Skip[] {
    return [...this.index.skipped.values()];
  }

  /** Resolves once every change received so far has been applied and sent. */
  async settled(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  private schedule(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.pendingList !== undefined || this.pending.size > 0) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    const yieldToLoop = this.opts.yieldToLoop ?? immediate;
    // Let the rest of this burst arrive (a watch chunk holds many events).
    await yieldToLoop();
    while (this.pendingList !== undefined || this.pending.size > 0) {
      const list = this.pendingList;
      this.pendingList = undefined;
      const changes = list !== undefined ? this.index.resyncChanges(list) : [...this.pending.values()];
      if (list === undefined) this.pending = new Map();
      const first = !this.synced && list !== undefined;
      const steps = this.index.steps(changes, this.opts.sliceSize ?? 100);
      const budgetMs = this.opts.budgetMs ?? SLICE_BUDGET_MS;
      let delta: DesiredDelta;
      let since = performance.now();
      for (;;) {
        const r = steps.next();
        if (r.done === true) {
          delta = r.value;
          break;
        }
        if (performance.now() - since >= budgetMs) {
          await yieldToLoop();
          since = performance.now();
        }
      }
      if (first) {
        this.synced = true;
        const vteps = [...this.index.vteps.values()];
        const chunk = Math.max(1, this.opts.listChunk ?? LIST_CHUNK);
        if (vteps.length > chunk) {
          for (let i = 0; i < vteps.length; i += chunk) {
            this.opts.send({ type: 'NODES.CHANGED', upserts: vteps.slice(i, i + chunk), removes: [] });
            await yieldToLoop();
          }
        }
        this.opts.send({ type: 'NODES.SYNCED', vteps });
      } else if (delta.upserts.length > 0 || delta.removes.length > 0) {
        this.opts.send({ type: 'NODES.CHANGED', upserts: delta.upserts, removes: delta.removes });
      }
      if (delta.skipped.length > 0 || delta.cleared.length > 0) this.opts.onSkipped?.(delta.skipped, this.index.skippedByReason);
      // Changes that arrived during the slices wait for the next round (a list replaces them).
    }
  }
}
