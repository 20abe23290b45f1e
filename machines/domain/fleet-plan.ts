// The fleet's book-keeping as pure functions: what the fleet knows (desired
// specs, nodes whose entries are in place, nodes a vtep actor is working on),
// the questions its guards ask about one node, and the book after each of its
// actions. The fleet machine shows the decisions (is the node in place, has it
// an actor, which actor to hire, retire or message); these functions do the
// arithmetic, and tests check them without a kernel.
//
// Every node of `desired ∪ programmed ∪ busy` is in exactly one of:
//   programmed — the kernel holds exactly this spec; no actor;
//   busy       — a vtep actor owns its entries until it reports back.
// Once converged and between batches, `programmed` holds only desired nodes,
// as desired; while a bulk reconcile runs it may hold a reported spec that
// the desired set has left behind (settled when the reconcile is done).
//
// The maps are persistent (immutable.js): a plan that touches one node of
// 20,000 costs O(log N), not a copy of the map (which made a 1 % churn take
// seconds), and earlier snapshots of the fleet stay as they were.
import { Map as NodeMap, Set as NodeSet } from 'immutable';
import type { VtepSpec } from './vtep-spec.js';
import { sameVtepSpec } from './vtep-spec.js';

export { NodeMap, NodeSet };

/**
 * Nodes whose desired spec changed without the fleet looking at them (a
 * change taken while the kernel is written in bulk, or a batch swept in bulk);
 * 'all' after a full list replaced the desired set meanwhile. After a bulk
 * reconcile only these (and busy and refused nodes) can be out of place.
 */
export type Unchecked = NodeSet<string> | 'all';

/** The nodes a batch of changes (or a full list: 'all') adds to `unchecked`. */
export function noteUnchecked(unchecked: Unchecked, upserts: readonly VtepSpec[] | 'all', removes: readonly string[] = []): Unchecked {
  if (unchecked === 'all' || upserts === 'all') return 'all';
  return unchecked.withMutations((m) => {
    for (const s of upserts) m.add(s.name);
    for (const n of removes) m.add(n);
  });
}

/** The unchecked nodes a bulk reconcile does not write as desired: the busy ones (see bulkWrite). */
export function busyUnchecked(unchecked: Unchecked, busy: FleetBook['busy']): NodeSet<string> {
  const names = NodeSet<string>(busy.keys());
  return unchecked === 'all' ? names : unchecked.intersect(names);
}

export function unionUnchecked(a: Unchecked, b: Unchecked): Unchecked {
  return a === 'all' || b === 'all' ? 'all' : a.union(b);
}

export interface FleetBook {
  /** Desired spec per CiliumNode name. */
  readonly desired: NodeMap<string, VtepSpec>;
  /** Nodes whose entries are in the kernel as this spec, with no actor. */
  readonly programmed: NodeMap<string, VtepSpec>;
  /** Nodes a vtep actor works on. */
  readonly busy: NodeMap<string, Worker>;
  /** Actors hired so far (for unique ids). */
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

export type WorkerMessage = { readonly id: string; readonly event: { type: 'UPDATE'; spec: VtepSpec } | { type: 'REMOVE' } };

/**
 * One node for the fleet to look at. `leftovers`: specs of the node that may
 * be (partly) in the kernel although the book does not say so — after a bulk
 * reconcile the kernel refused for the node, both what it tried to write and
 * what the node was programmed with before.
 */
export interface NodeCheck {
  readonly name: string;
  readonly leftovers?: readonly VtepSpec[];
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

/**
 * The nodes marked refused (the kernel refused their entries in a bulk
 * reconcile, or their actor gave up) that still are: a mark goes when the
 * node is no longer desired or is programmed as desired. Cheap: the marks
 * are few, each checked in O(log N).
 */
export function pruneRefused(refused: NodeMap<string, string>, book: Pick<FleetBook, 'desired' | 'programmed'>): NodeMap<string, string> {
  if (refused.size === 0) return refused;
  return refused.filter((_reason, name) => {
    const want = book.desired.get(name);
    return want !== undefined && !sameVtepSpec(book.programmed.get(name), want);
  });
}

/** The desired set after a list (`replaceAll`) or a batch of changes; nothing else of the book changes. */
export function planDesired(book: FleetBook, upserts: readonly VtepSpec[], removes: readonly string[], replaceAll = false): FleetBook {
  // A list the desired set already holds (sent before in parts) leaves it as it is: looked up, not rebuilt.
  if (replaceAll && removes.length === 0 && upserts.length === book.desired.size && upserts.every((s) => book.desired.get(s.name) === s) && new Set(upserts.map((s) => s.name)).size === upserts.length) {
    return book;
  }
  const desired = (replaceAll ? NodeMap<string, VtepSpec>() : book.desired).withMutations((m) => {
    for (const s of upserts) m.set(s.name, s);
    for (const n of removes) m.delete(n);
  });
  return { ...book, desired };
}

/** A full list while converged, as the change it makes: the specs that differ from the desired set, and the desired nodes it no longer names. */
export function syncedChanges(book: FleetBook, vteps: readonly VtepSpec[]): { upserts: VtepSpec[]; removes: string[] } {
  const names = new Set(vteps.map((v) => v.name));
  return {
    upserts: vteps.filter((v) => !sameVtepSpec(book.desired.get(v.name), v)),
    removes: [...book.desired.keys()].filter((n) => !names.has(n)),
  };
}

/** The nodes a batch of changes names, each once (looked at after the desired set took the batch). */
export function changedNodes(upserts: readonly VtepSpec[], removes: readonly string[]): NodeCheck[] {
  const names = new Set<string>();
  for (const s of upserts) names.add(s.name);
  for (const n of removes) names.add(n);
  return [...names].map((name) => ({ name }));
}

/**
 * Nothing to do for the node: its actor already works toward the desired
 * spec (or toward removal, the node not desired); or, without an actor, the
 * kernel holds exactly the desired spec (or nothing, the node not desired)
 * and no leftover of it.
 */
export function inPlace(book: FleetBook, { name, leftovers = [] }: NodeCheck): boolean {
  const want = book.desired.get(name);
  const worker = book.busy.get(name);
  if (worker !== undefined) return sameVtepSpec(worker.target, want);
  return sameVtepSpec(book.programmed.get(name), want) && leftovers.every((l) => sameVtepSpec(l, want));
}

/** The node's actor gets a new target, the desired spec (UPDATE) or, the node not desired, removal (REMOVE). */
export function retarget(book: FleetBook, name: string): { busy: FleetBook['busy']; message: WorkerMessage } {
  const worker = book.busy.get(name);
  if (worker === undefined) throw new Error(`retarget: ${name} has no vtep actor`);
  const target = book.desired.get(name);
  return {
    busy: book.busy.set(name, { id: worker.id, target }),
    message: { id: worker.id, event: target === undefined ? { type: 'REMOVE' } : { type: 'UPDATE', spec: target } },
  };
}

/**
 * A new actor for a node that is not in place and has none: it programs the
 * desired spec, with whatever of the node may be in the kernel as leftovers,
 * or, the node not desired, removes all of that. The node is busy from now on
 * (no longer programmed); the order is for the fleet to spawn.
 */
export function hire(book: FleetBook, { name, leftovers = [] }: NodeCheck): Pick<FleetBook, 'busy' | 'programmed' | 'spawned'> & { order: WorkerOrder } {
  const want = book.desired.get(name);
  const inKernel = distinctSpecs([book.programmed.get(name), ...leftovers]);
  const spawned = book.spawned + 1;
  const id = vtepActorId(name, spawned);
  let order: WorkerOrder;
  if (want !== undefined) order = { id, task: 'program', spec: want, previous: inKernel.filter((s) => !sameVtepSpec(s, want)) };
  else if (inKernel.length > 0) order = { id, task: 'remove', spec: inKernel[0]!, previous: inKernel.slice(1) };
  else throw new Error(`hire: nothing to do for ${name} (neither desired nor in the kernel)`);
  return {
    busy: book.busy.set(name, { id, target: want }),
    programmed: book.programmed.delete(name),
    spawned,
    order,
  };
}

function distinctSpecs(specs: ReadonlyArray<VtepSpec | undefined>): VtepSpec[] {
  const out: VtepSpec[] = [];
  for (const s of specs) if (s !== undefined && !out.some((k) => sameVtepSpec(k, s))) out.push(s);
  return out;
}

/** The node's actor reported back and is retired: the node has no actor now. */
export function retire(book: FleetBook, name: string): { busy: FleetBook['busy']; id: string } {
  const worker = book.busy.get(name);
  if (worker === undefined) throw new Error(`retire: ${name} has no vtep actor`);
  return { busy: book.busy.delete(name), id: worker.id };
}

/** Is `id` the node's current actor (and not one retired before, or another node's)? */
export function isNodeActor(book: FleetBook, name: string, id: string): boolean {
  return book.busy.get(name)?.id === id;
}

/**
 * What a bulk reconcile writes: the desired set, but for each busy node what
 * its actor was last told (nothing, when it removes the node). The two then
 * never write different specs of one node, so whatever the kernel holds of a
 * busy node is a spec its actor knows; a change that has not reached an actor
 * yet goes to it when the reconcile is settled.
 */
export function bulkWrite(book: FleetBook): NodeMap<string, VtepSpec> {
  if (book.busy.size === 0) return book.desired;
  return book.desired.withMutations((m) => {
    for (const [name, worker] of book.busy) {
      if (worker.target === undefined) m.delete(name);
      else m.set(name, worker.target);
    }
  });
}

/**
 * A bulk reconcile finished: the kernel holds `written` (the desired set it
 * started with) but for the nodes it refused, and busy nodes stay with their
 * actors. The new `programmed`.
 */
export function settledProgrammed(book: FleetBook, written: NodeMap<string, VtepSpec>, refused: readonly string[]): FleetBook['programmed'] {
  // Nothing refused, nobody busy (a first converge, a quiet sweep): the kernel holds exactly what was written.
  if (refused.length === 0 && book.busy.size === 0) return written;
  return written.withMutations((m) => {
    for (const name of refused) m.delete(name);
    for (const name of book.busy.keys()) m.delete(name);
  });
}

/**
 * A bulk reconcile finished and the kernel refused some nodes' entries: per
 * refused node, what may be left of it in the kernel — the spec the
 * reconcile tried to write, the spec the node was programmed with before
 * (read from the book before it is settled), and what the previous pass
 * left of it when that pass was refused too (a reconcile run again at once).
 * A node not refused this time is held exactly as written: nothing is left.
 */
export function refusedLeftovers(
  book: FleetBook,
  written: NodeMap<string, VtepSpec>,
  refused: readonly string[],
  earlier: NodeMap<string, readonly VtepSpec[]> = NodeMap(),
): NodeMap<string, readonly VtepSpec[]> {
  return NodeMap<string, readonly VtepSpec[]>().withMutations((m) => {
    for (const name of refused) m.set(name, distinctSpecs([written.get(name), book.programmed.get(name), ...(earlier.get(name) ?? [])]));
  });
}

/**
 * After a bulk reconcile was settled (or a sweep failed: then no leftovers
 * and the book as it was), the nodes not in place, each once: changes that
 * arrived meanwhile, refused nodes (with what may be left of them),
 * actors whose node was removed meanwhile, entries of nodes no longer desired.
 * `unchecked` bounds the walk (see Unchecked); 'all' walks every node.
 */
export function settledChecks(book: FleetBook, leftovers: NodeMap<string, readonly VtepSpec[]>, unchecked: Unchecked = 'all'): NodeCheck[] {
  // Nothing changed meanwhile, nothing refused, nobody busy: every desired node is in place, with nothing to walk.
  if (book.programmed === book.desired && leftovers.size === 0 && book.busy.size === 0) return [];
  const out = new Map<string, NodeCheck>();
  const look = (name: string): void => {
    if (out.has(name)) return;
    const left = leftovers.get(name);
    const check: NodeCheck = left === undefined || left.length === 0 ? { name } : { name, leftovers: left };
    if (!inPlace(book, check)) out.set(name, check);
  };
  if (unchecked !== 'all') {
    // Only the nodes that can be out of place: a walk of a few names, not of 20,000 (which took ~100 ms).
    for (const name of unchecked) look(name);
    for (const name of book.busy.keys()) look(name);
    for (const name of leftovers.keys()) look(name);
    return [...out.values()];
  }
  for (const name of book.desired.keys()) look(name);
  for (const name of book.busy.keys()) if (!book.desired.has(name)) look(name);
  for (const name of book.programmed.keys()) if (!book.desired.has(name)) look(name);
  for (const name of leftovers.keys()) if (!book.desired.has(name)) look(name);
  return [...out.values()];
}

/** Actors that program the desired spec: after a sweep they get RETRY (a stalled one tries again, the others ignore it). */
export function retryTargets(book: FleetBook): string[] {
  const ids: string[] = [];
  for (const [name, worker] of book.busy) if (worker.target !== undefined && sameVtepSpec(worker.target, book.desired.get(name))) ids.push(worker.id);
  return ids;
}
