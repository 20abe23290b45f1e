// The fleet's book-keeping as pure functions: given what the fleet knows
// (desired specs, nodes whose entries are in place, nodes a vtep actor is
// working on) and what happened, the new book and the vtep actors to spawn,
// message and stop. The fleet machine runs these plans; tests check them
// without a kernel.
//
// Every node of `desired ∪ programmed ∪ busy` is in exactly one of:
//   programmed — the kernel holds exactly its desired spec; no actor;
//   busy       — a vtep actor owns its entries until it reports back.
//
// The maps are persistent (immutable.js): a plan that touches one node of
// 20,000 costs O(log N), not a copy of the map (which made a 1 % churn take
// seconds), and earlier snapshots of the fleet stay as they were.
import { Map as NodeMap } from 'immutable';
import type { VtepSpec } from './vtep-spec.js';
import { sameVtepSpec } from './vtep-spec.js';

export { NodeMap };

export interface FleetBook {
  /** Desired spec per CiliumNode name. */
  readonly desired: NodeMap<string, VtepSpec>;
  /** Nodes whose entries are in the kernel as this spec, with no actor. */
  readonly programmed: NodeMap<string, VtepSpec>;
  /** Nodes a vtep actor works on. */
  readonly busy: NodeMap<string, Worker>;
  /** Actors spawned so far (for unique ids). */
  readonly spawned: number;
}

/** A vtep actor and what it was last told to do: program `target`, or remove (undefined). */
export interface Worker {
  readonly id: string;
  readonly target: VtepSpec | undefined;
}

/** A vtep actor to spawn: program `spec` (leftovers `previous`), or remove every spec given. */
export interface WorkerOrder {
  readonly id: string;
  readonly task: 'program' | 'remove';
  readonly spec: VtepSpec;
  readonly previous: readonly VtepSpec[];
}

export type WorkerMessage = { readonly id: string; readonly event: { type: 'UPDATE'; spec: VtepSpec } | { type: 'REMOVE' } | { type: 'RETRY' } };

export interface FleetPlan {
  readonly book: FleetBook;
  readonly spawn: readonly WorkerOrder[];
  readonly send: readonly WorkerMessage[];
  readonly stop: readonly string[];
}

export const EMPTY_BOOK: FleetBook = { desired: NodeMap(), programmed: NodeMap(), busy: NodeMap(), spawned: 0 };

/** `vtep:<node>:<n>`: node names never hold ':' (RFC 1123), so the node is recoverable from the id. */
export function vtepActorId(name: string, n: number): string {
  return `vtep:${name}:${n}`;
}

/** The node a vtep actor id belongs to, or undefined for other ids. */
export function nodeOfActorId(id: string): string | undefined {
  if (!id.startsWith('vtep:')) return undefined;
  const end = id.lastIndexOf(':');
  return end > 4 ? id.slice(5, end) : undefined;
}

/** A plan under way: the book's maps as they are updated, and the orders collected. */
class Draft {
  d: NodeMap<string, VtepSpec>;
  p: NodeMap<string, VtepSpec>;
  b: NodeMap<string, Worker>;
  spawned: number;
  readonly spawn: WorkerOrder[] = [];
  readonly send: WorkerMessage[] = [];
  readonly stop: string[] = [];

  constructor(base: FleetBook) {
    this.d = base.desired;
    this.p = base.programmed;
    this.b = base.busy;
    this.spawned = base.spawned;
  }

  hire(task: WorkerOrder['task'], spec: VtepSpec, previous: readonly VtepSpec[]): void {
    const id = vtepActorId(spec.name, ++this.spawned);
    this.spawn.push({ id, task, spec, previous });
    this.b = this.b.set(spec.name, { id, target: task === 'program' ? spec : undefined });
    this.p = this.p.delete(spec.name);
  }

  /** Tells a busy node's actor its new target (UPDATE or REMOVE). */
  retarget(name: string, worker: Worker, target: VtepSpec | undefined): void {
    this.send.push({ id: worker.id, event: target === undefined ? { type: 'REMOVE' } : { type: 'UPDATE', spec: target } });
    this.b = this.b.set(name, { id: worker.id, target });
  }

  plan(): FleetPlan {
    return {
      book: { desired: this.d, programmed: this.p, busy: this.b, spawned: this.spawned },
      spawn: this.spawn,
      send: this.send,
      stop: this.stop,
    };
  }
}

/**
 * The nodes marked refused (the kernel refused their entries in a bulk
 * reconcile, or their actor gave up) that still are: a mark goes when the
 * node is no longer desired or is programmed as desired. Cheap: the marks
 * are few, each checked in O(log N).
 */
export function pruneRefused(refused: NodeMap<string, string>, book: FleetBook): NodeMap<string, string> {
  if (refused.size === 0) return refused;
  return refused.filter((_reason, name) => {
    const want = book.desired.get(name);
    return want !== undefined && !sameVtepSpec(book.programmed.get(name), want);
  });
}

/** Before the first convergence: the desired set only (the bulk reconcile will write it). */
export function planDesired(book: FleetBook, upserts: readonly VtepSpec[], removes: readonly string[], replaceAll = false): FleetBook {
  const desired = (replaceAll ? NodeMap<string, VtepSpec>() : book.desired).withMutations((m) => {
    for (const s of upserts) m.set(s.name, s);
    for (const n of removes) m.delete(n);
  });
  return { ...book, desired };
}

/** A full list while converged: every node absent from it is removed. */
export function syncedChanges(book: FleetBook, vteps: readonly VtepSpec[]): { upserts: readonly VtepSpec[]; removes: string[] } {
  const names = new Set(vteps.map((v) => v.name));
  return { upserts: vteps, removes: [...book.desired.keys()].filter((n) => !names.has(n)) };
}

/** Changes of the desired set once converged: each node to its actor, or a new actor when its entries must change. */
export function planChanges(book: FleetBook, upserts: readonly VtepSpec[], removes: readonly string[]): FleetPlan {
  const w = new Draft(book);
  for (const spec of upserts) {
    const name = spec.name;
    if (sameVtepSpec(w.d.get(name), spec) && (w.b.has(name) || sameVtepSpec(w.p.get(name), spec))) continue;
    w.d = w.d.set(name, spec);
    const worker = w.b.get(name);
    if (worker !== undefined) w.retarget(name, worker, spec);
    else {
      const inKernel = w.p.get(name);
      w.hire('program', spec, inKernel === undefined ? [] : [inKernel]);
    }
  }
  for (const name of removes) {
    const spec = w.d.get(name);
    if (spec === undefined) continue;
    w.d = w.d.delete(name);
    const worker = w.b.get(name);
    if (worker !== undefined) w.retarget(name, worker, undefined);
    else {
      const inKernel = w.p.get(name) ?? spec;
      w.hire('remove', inKernel, []);
    }
  }
  return w.plan();
}

/**
 * A vtep actor reported back: retire it; hire another if its node changed
 * meanwhile. `hold` (a bulk reconcile is running): hire nobody now, the plan
 * after the reconcile settles the node.
 */
export function planReport(
  book: FleetBook,
  report: { type: 'VTEP.PROGRAMMED'; name: string; spec: VtepSpec } | { type: 'VTEP.REMOVED'; name: string },
  hold = false,
): FleetPlan {
  const w = new Draft(book);
  const worker = w.b.get(report.name);
  if (worker === undefined) return w.plan(); // not ours (a stopped actor's late report)
  w.stop.push(worker.id);
  w.b = w.b.delete(report.name);
  const want = w.d.get(report.name);
  if (report.type === 'VTEP.PROGRAMMED') {
    if (sameVtepSpec(want, report.spec)) w.p = w.p.set(report.name, report.spec);
    else if (hold) {
      // The kernel holds the reported spec: keep it on the book until the reconcile settles the node,
      // so that a failed sweep still knows it as a leftover (only while a bulk reconcile runs may
      // `programmed` differ from `desired`).
      w.p = w.p.set(report.name, report.spec);
      return w.plan();
    }
    else if (want !== undefined) w.hire('program', want, [report.spec]);
    else w.hire('remove', report.spec, []);
  } else if (want !== undefined && !hold) {
    w.hire('program', want, []);
  }
  return w.plan();
}

/**
 * A bulk reconcile finished: the kernel holds `written` (the desired set it
 * was started with) except for the nodes it refused, and busy nodes stay
 * with their actors. Everything that differs from the desired set now —
 * changes that arrived meanwhile, refused nodes — goes to actors: new ones
 * for idle nodes, a new target (or a RETRY, for a stalled one) for busy ones.
 */
export function planSettled(book: FleetBook, written: NodeMap<string, VtepSpec>, refused: readonly string[]): FleetPlan {
  const w = new Draft(book);
  // Nothing changed meanwhile, nothing refused, nobody busy (a first converge, a quiet sweep):
  // every desired node is in place as written, with nothing to walk.
  if (w.d === written && refused.length === 0 && w.b.size === 0) {
    w.p = written;
    return w.plan();
  }
  const failed = new Set(refused);
  const programmed = written.withMutations((m) => {
    for (const name of failed) m.delete(name);
    for (const name of w.b.keys()) m.delete(name);
  });
  w.p = programmed;
  for (const [name, want] of w.d) {
    const worker = w.b.get(name);
    if (worker !== undefined) {
      if (sameVtepSpec(worker.target, want)) w.send.push({ id: worker.id, event: { type: 'RETRY' } });
      else w.retarget(name, worker, want);
    } else if (!sameVtepSpec(programmed.get(name), want)) {
      const there = written.get(name);
      w.hire('program', want, there === undefined ? [] : [there]);
    }
  }
  for (const [name, worker] of w.b) if (!w.d.has(name) && worker.target !== undefined) w.retarget(name, worker, undefined);
  for (const [name, spec] of written) if (!w.d.has(name) && !w.b.has(name)) w.hire('remove', spec, []);
  return w.plan();
}
