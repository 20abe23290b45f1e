// The fleet's book-keeping (machines/domain/fleet-plan.ts): the per-node
// questions its guards ask and the book after each action, without a machine.
// A property walks random books and checks the invariant the fleet relies on:
// a node not in place is made in place by one forward or one hire.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_BOOK,
  NodeMap,
  changedNodes,
  hire,
  inPlace,
  isNodeActor,
  nodeOfActorId,
  retarget,
  retire,
  retryTargets,
  busyUnchecked,
  noteUnchecked,
  NodeSet,
  refusedLeftovers,
  settledChecks,
  unionUnchecked,
  type Unchecked,
  settledProgrammed,
  syncedChanges,
  planDesired,
  type FleetBook,
  type Worker,
} from '../../machines/domain/fleet-plan.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';

const spec = (name: string, last: number, cidrs = 1): VtepSpec => ({
  name,
  nodeIP: `198.19.0.${last}`,
  mac: `02:00:c6:13:00:${last.toString(16).padStart(2, '0')}`,
  podCIDRs: Array.from({ length: cidrs }, (_, i) => `198.18.${last}.${i * 8}/29`),
});
const a1 = spec('a', 1);
const a2 = spec('a', 2, 2);
const b1 = spec('b', 3);

function book(parts: { desired?: VtepSpec[]; programmed?: VtepSpec[]; busy?: Array<[string, Worker]>; spawned?: number }): FleetBook {
  return {
    desired: NodeMap((parts.desired ?? []).map((s) => [s.name, s])),
    programmed: NodeMap((parts.programmed ?? []).map((s) => [s.name, s])),
    busy: NodeMap(parts.busy ?? []),
    spawned: parts.spawned ?? 0,
  };
}

describe('fleet plan: one node', () => {
  it('a node is in place when the kernel holds its desired spec, or its actor works toward it', () => {
    expect(inPlace(book({ desired: [a1], programmed: [a1] }), { name: 'a' })).toBe(true);
    expect(inPlace(book({ desired: [a2], programmed: [a1] }), { name: 'a' })).toBe(false);
    expect(inPlace(book({ desired: [a2], busy: [['a', { id: 'vtep:a:1', target: a2 }]] }), { name: 'a' })).toBe(true);
    expect(inPlace(book({ desired: [a2], busy: [['a', { id: 'vtep:a:1', target: a1 }]] }), { name: 'a' })).toBe(false);
    // Not desired: in place when nothing of it is known in the kernel, or its actor removes it.
    expect(inPlace(book({}), { name: 'a' })).toBe(true);
    expect(inPlace(book({ programmed: [a1] }), { name: 'a' })).toBe(false);
    expect(inPlace(book({ busy: [['a', { id: 'vtep:a:1', target: undefined }]] }), { name: 'a' })).toBe(true);
    // A refused write as a leftover: not in place, unless it is what the kernel holds as desired.
    expect(inPlace(book({ desired: [a1] }), { name: 'a', leftovers: [a1] })).toBe(false);
    expect(inPlace(book({ desired: [a2], programmed: [a2] }), { name: 'a', leftovers: [a1] })).toBe(false);
    expect(inPlace(book({ desired: [a1], programmed: [a1] }), { name: 'a', leftovers: [a1] })).toBe(true);
  });

  it('a hire programs the desired spec over what may be in the kernel, or removes all of it', () => {
    const h = hire(book({ desired: [a2], programmed: [a1], spawned: 4 }), { name: 'a' });
    expect(h.order).toEqual({ id: 'vtep:a:5', task: 'program', spec: a2, previous: [a1] });
    expect(h.spawned).toBe(5);
    expect(h.programmed.has('a')).toBe(false);
    expect(h.busy.get('a')).toEqual({ id: 'vtep:a:5', target: a2 });
    // A refused write is a leftover too; the desired spec itself is not.
    expect(hire(book({ desired: [a2] }), { name: 'a', leftovers: [a1] }).order.previous).toEqual([a1]);
    expect(hire(book({ desired: [a1] }), { name: 'a', leftovers: [a1] }).order.previous).toEqual([]);
    // Not desired: remove what the book knows and the leftover, each once.
    expect(hire(book({ programmed: [a1] }), { name: 'a', leftovers: [a2] }).order).toEqual({ id: 'vtep:a:1', task: 'remove', spec: a1, previous: [a2] });
    expect(hire(book({ programmed: [a1] }), { name: 'a', leftovers: [a1] }).order).toEqual({ id: 'vtep:a:1', task: 'remove', spec: a1, previous: [] });
    expect(() => hire(book({}), { name: 'a' })).toThrow(/nothing to do/);
  });

  it('retarget tells the actor the desired spec, or to remove; retire frees the node', () => {
    const busy = book({ desired: [a2], busy: [['a', { id: 'vtep:a:1', target: a1 }]] });
    expect(retarget(busy, 'a')).toEqual({ busy: busy.busy.set('a', { id: 'vtep:a:1', target: a2 }), message: { id: 'vtep:a:1', event: { type: 'UPDATE', spec: a2 } } });
    expect(retarget({ ...busy, desired: NodeMap() }, 'a').message).toEqual({ id: 'vtep:a:1', event: { type: 'REMOVE' } });
    expect(() => retarget(book({ desired: [a1] }), 'a')).toThrow(/no vtep actor/);
    expect(retire(busy, 'a')).toEqual({ busy: NodeMap(), id: 'vtep:a:1' });
    expect(isNodeActor(busy, 'a', 'vtep:a:1')).toBe(true);
    expect(isNodeActor(busy, 'a', 'vtep:a:0')).toBe(false);
    expect(isNodeActor(busy, 'b', 'vtep:a:1')).toBe(false);
  });

  it('actor ids name their node', () => {
    expect(nodeOfActorId('vtep:hyb-1:12')).toBe('hyb-1');
    expect(nodeOfActorId('reconcileKernel')).toBeUndefined();
  });
});

describe('fleet plan: batches', () => {
  it('a batch names each node once; a full list is the change it makes', () => {
    expect(changedNodes([a1, b1, a2], ['a', 'c'])).toEqual([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const b = book({ desired: [a1, b1] });
    expect(syncedChanges(b, [a1, spec('c', 5)])).toEqual({ upserts: [spec('c', 5)], removes: ['b'] });
    expect(syncedChanges(b, [a2, b1])).toEqual({ upserts: [a2], removes: [] });
  });

  it('after a bulk reconcile the kernel holds what it wrote, but refused and busy nodes', () => {
    const written = NodeMap([['a', a1], ['b', b1]] as Array<[string, VtepSpec]>);
    expect(settledProgrammed(book({}), written, [])).toBe(written);
    expect([...settledProgrammed(book({}), written, ['a']).keys()]).toEqual(['b']);
    expect([...settledProgrammed(book({ busy: [['b', { id: 'vtep:b:1', target: b1 }]] }), written, []).keys()]).toEqual(['a']);
  });

  it('a refused node keeps as leftovers both the write the kernel refused and what it was programmed with before', () => {
    // Programmed a1; the sweep wrote a2 and the kernel refused it: either may be in the kernel.
    const before = book({ desired: [a2], programmed: [a1] });
    const written = NodeMap([['a', a2]] as Array<[string, VtepSpec]>);
    const leftovers = refusedLeftovers(before, written, ['a']);
    expect(leftovers.get('a')).toEqual([a2, a1]);
    const settled = { ...before, programmed: settledProgrammed(before, written, ['a']) };
    const [check] = settledChecks(settled, leftovers);
    expect(check).toEqual({ name: 'a', leftovers: [a2, a1] });
    // The actor hired for it programs a2 and cleans a1.
    expect(hire(settled, check!).order).toEqual({ id: 'vtep:a:1', task: 'program', spec: a2, previous: [a1] });
    // Refused again in a pass run at once (nothing programmed now): the earlier leftovers stay.
    expect(refusedLeftovers(settled, written, ['a'], leftovers).get('a')).toEqual([a2, a1]);
    // Written as it was programmed: one leftover.
    expect(refusedLeftovers(book({ programmed: [a1] }), NodeMap([['a', a1]] as Array<[string, VtepSpec]>), ['a']).get('a')).toEqual([a1]);
  });

  it('after a bulk reconcile, exactly the nodes not in place are checked, refused ones with their write as a leftover', () => {
    const written = NodeMap([['a', a1], ['b', b1], ['c', spec('c', 5)]] as Array<[string, VtepSpec]>);
    // Quiet: nothing to walk.
    const quiet = { ...book({}), desired: written, programmed: written };
    expect(settledChecks(quiet, NodeMap())).toEqual([]);
    // a refused; b changed meanwhile; c removed meanwhile; d added meanwhile; e's actor removed meanwhile; f busy and in place.
    const b = book({
      desired: [a1, spec('b', 4), spec('d', 6), spec('f', 7)],
      programmed: [b1, spec('c', 5)],
      busy: [['e', { id: 'vtep:e:1', target: spec('e', 8) }], ['f', { id: 'vtep:f:1', target: spec('f', 7) }]],
    });
    expect(settledChecks(b, refusedLeftovers(book({}), written, ['a']))).toEqual([{ name: 'a', leftovers: [a1] }, { name: 'b' }, { name: 'd' }, { name: 'e' }, { name: 'c' }]);
    expect(retryTargets(b)).toEqual(['vtep:f:1']);
  });
});

describe('fleet plan: the unchecked nodes bound the walk after a bulk reconcile', () => {
  it('notes changed and removed names, a full list as all; a busy node stays unchecked across a pass', () => {
    let u: Unchecked = NodeSet<string>();
    u = noteUnchecked(u, [a1], ['b']);
    expect(u !== 'all' && [...u].sort()).toEqual(['a', 'b']);
    expect(noteUnchecked(u, 'all')).toBe('all');
    expect(unionUnchecked(u, 'all')).toBe('all');
    expect(unionUnchecked(u, NodeSet(['c'])) !== 'all' && [...(unionUnchecked(u, NodeSet(['c'])) as NodeSet<string>)].sort()).toEqual(['a', 'b', 'c']);
    const busy = book({ busy: [['a', { id: 'vtep:a:1', target: a1 }]] }).busy;
    expect([...busyUnchecked(u, busy)]).toEqual(['a']);
    expect([...busyUnchecked('all', busy)]).toEqual(['a']);
  });

  it('looks only at the unchecked, busy and refused nodes (20,000 desired, one of them changed)', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => spec(`n${i}`, i + 1));
    const desired = NodeMap(many.map((v) => [v.name, v] as [string, VtepSpec]));
    const changed = spec('n7', 99_999);
    const b: FleetBook = { ...EMPTY_BOOK, desired: desired.set('n7', changed), programmed: desired };
    expect(settledChecks(b, NodeMap(), NodeSet(['n7']))).toEqual([{ name: 'n7' }]);
    // 'all' walks every node and finds the same.
    expect(settledChecks(b, NodeMap(), 'all')).toEqual([{ name: 'n7' }]);
    // A refused node is looked at without being unchecked.
    expect(settledChecks({ ...b, desired, programmed: desired.delete('n9') }, NodeMap([['n9', [many[9]!]]]), NodeSet())).toEqual([{ name: 'n9', leftovers: [many[9]] }]);
  });
});

describe('fleet plan: properties', () => {
  const names = ['a', 'b', 'c'];
  const arbSpec = (name: string) => fc.integer({ min: 1, max: 3 }).map((n) => spec(name, n + names.indexOf(name) * 3));
  const arbBook = fc
    .tuple(
      ...names.map((n) =>
        fc.record({
          desired: fc.option(arbSpec(n), { nil: undefined }),
          // Each node is programmed xor busy (or neither).
          where: fc.constantFrom('programmed', 'busy', 'none'),
          spec: arbSpec(n),
          target: fc.option(arbSpec(n), { nil: undefined }),
        }),
      ),
    )
    .map((rows) => {
      let b: FleetBook = EMPTY_BOOK;
      rows.forEach((r, i) => {
        const name = names[i]!;
        if (r.desired) b = { ...b, desired: b.desired.set(name, r.desired) };
        if (r.where === 'programmed') b = { ...b, programmed: b.programmed.set(name, r.spec) };
        if (r.where === 'busy') b = { ...b, busy: b.busy.set(name, { id: `vtep:${name}:0`, target: r.target }) };
      });
      return b;
    });

  it('a node not in place is in place after one forward (it has an actor) or one hire (it has none)', () => {
    fc.assert(
      fc.property(arbBook, fc.constantFrom(...names), fc.option(fc.constantFrom(...names.map((n) => spec(n, 9))), { nil: undefined }), (b, name, left) => {
        const check = left?.name === name ? { name, leftovers: [left] } : { name };
        if (inPlace(b, check)) return;
        const after = b.busy.has(name) ? { ...b, busy: retarget(b, name).busy } : (({ order: _order, ...rest }) => ({ ...b, ...rest }))(hire(b, check));
        expect(inPlace(after, { name })).toBe(true);
        // The node stays programmed xor busy.
        expect(after.programmed.has(name) && after.busy.has(name)).toBe(false);
      }),
    );
  });

  it('after settling, every node left out is checked, and only those', () => {
    fc.assert(
      fc.property(arbBook, fc.subarray(names), (b, refused) => {
        const written = b.desired;
        const leftovers = refusedLeftovers(b, written, refused);
        const settled = { ...b, programmed: settledProgrammed(b, written, refused) };
        const checks = settledChecks(settled, leftovers);
        const checked = new Set(checks.map((c) => c.name));
        expect(checked.size).toBe(checks.length);
        for (const name of names) {
          const left = leftovers.get(name) ?? [];
          expect(checked.has(name), name).toBe(!inPlace(settled, { name, leftovers: left }));
          // What the node was programmed with before is never forgotten while it may be in the kernel.
          const was = b.programmed.get(name);
          if (refused.includes(name) && was !== undefined) expect(left).toContainEqual(was);
        }
      }),
    );
  });
});

describe('planDesired with a whole list', () => {
  const book = (specs: VtepSpec[]): FleetBook => ({ ...EMPTY_BOOK, desired: NodeMap(specs.map((x) => [x.name, x] as const)) });

  it('a list the desired set already holds (the same specs, sent before in parts) leaves the book as it is', () => {
    const b = book([a1, b1]);
    expect(planDesired(b, [b1, a1], [], true)).toBe(b);
  });

  it('any difference rebuilds it to exactly the list: a spec changed, a node missing, a node more, a name twice', () => {
    const b = book([a1, b1]);
    expect([...planDesired(b, [a2, b1], [], true).desired.values()]).toEqual([a2, b1]);
    expect([...planDesired(b, [a1], [], true).desired.keys()]).toEqual(['a']);
    const c1 = spec('c', 4);
    expect([...planDesired(b, [a1, b1, c1], [], true).desired.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect([...planDesired(b, [a1, a1], [], true).desired.keys()]).toEqual(['a']);
    // An equal spec that is another object: rebuilt, with the same content.
    expect([...planDesired(b, [{ ...a1 }, b1], [], true).desired.values()]).toEqual([a1, b1]);
  });
});
