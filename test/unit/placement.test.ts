// Placement of shards on live gateways (machines/domain/placement.ts):
// rendezvous scores with bounded loads, deterministic on every gateway, and the
// member-Lease liveness rule.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a32, isPreferred, liveMembers, placement, preferredGateway, rendezvousScore, shardPlacements } from '../../machines/domain/placement.js';

/** Pod-name-like identities: the Deployment's prefix and a random suffix, as Kubernetes names them. */
const identity = fc.stringMatching(/^gw-[a-z0-9]{5,10}$/);
const members = (min: number, max: number) => fc.uniqueArray(identity, { minLength: min, maxLength: max });

const loads = (plan: ReadonlyArray<string | undefined>): Map<string, number> => {
  const m = new Map<string, number>();
  for (const g of plan) if (g !== undefined) m.set(g, (m.get(g) ?? 0) + 1);
  return m;
};

/** Rank order of the design: score descending, then identity, then shard. */
const above = (a: [string, number], b: [string, number]): boolean => {
  const [sa, sb] = [rendezvousScore(...a), rendezvousScore(...b)];
  if (sa !== sb) return sa > sb;
  if (a[0] !== b[0]) return a[0] < b[0];
  return a[1] < b[1];
};

describe('the hash', () => {
  it('is FNV-1a 32-bit (its published test vectors) and never changes: gateways of two versions must agree', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // Pinned scores: a change here re-places every shard of a cluster mid-upgrade.
    expect([rendezvousScore('gw-a', 0), rendezvousScore('gw-a', 1), rendezvousScore('gw-b', 0)]).toEqual([1671166059, 4126774181, 3142411928]);
  });

  it('scores spread: a random pair of gateways each wins shard 0 about half the time', () => {
    const wins = fc.sample(members(2, 2), { numRuns: 2000, seed: 17 }).filter(([a, b]) => rendezvousScore(a!, 0) > rendezvousScore(b!, 0)).length;
    expect(wins).toBeGreaterThan(900);
    expect(wins).toBeLessThan(1100);
  });
});

describe('placement', () => {
  it('deterministic and independent of the order (and repetition) of the members', () => {
    fc.assert(
      fc.property(members(1, 6), fc.integer({ min: 1, max: 8 }), fc.integer(), (ms, shards, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray(ms, { minLength: ms.length, maxLength: ms.length }), { numRuns: 1, seed })[0]!;
        expect(placement([...shuffled, ...shuffled.slice(0, 1)], shards)).toEqual(placement(ms, shards));
        for (let k = 0; k < shards; k++) expect(preferredGateway(k, shuffled, shards)).toBe(placement(ms, shards)[k]);
      }),
    );
  });

  it('2 gateways × 2 shards: one each, for any pair of identities (bounded load)', () => {
    fc.assert(
      fc.property(members(2, 2), (ms) => {
        const plan = placement(ms, 2);
        expect([...plan].sort()).toEqual([...ms].sort());
      }),
      { numRuns: 1000 },
    );
  });

  it('3 gateways × 2 shards: two different leaders, one gateway idle', () => {
    fc.assert(
      fc.property(members(3, 3), (ms) => {
        const plan = placement(ms, 2);
        expect(new Set(plan).size).toBe(2);
        for (const g of plan) expect(ms).toContain(g);
      }),
    );
  });

  it('1 gateway leads every shard; no member: no leader', () => {
    expect(placement(['gw-only'], 5)).toEqual(Array(5).fill('gw-only'));
    expect(placement([], 3)).toEqual([undefined, undefined, undefined]);
    expect(preferredGateway(0, [], 2)).toBeUndefined();
  });

  it('property: every shard placed, no gateway above ceil(N / live), and no gateway that ranks a shard above its holder had room for it', () => {
    fc.assert(
      fc.property(members(1, 8), fc.integer({ min: 1, max: 8 }), (ms, shards) => {
        const plan = placement(ms, shards);
        const cap = Math.ceil(shards / ms.length);
        expect(plan.every((g) => g !== undefined && ms.includes(g))).toBe(true);
        for (const l of loads(plan).values()) expect(l).toBeLessThanOrEqual(cap);
        // The greedy's defining property: h outranks holder g on shard s only if h is full with shards it ranks above (h, s).
        plan.forEach((g, s) => {
          for (const h of ms) {
            if (h === g || !above([h, s], [g!, s])) continue;
            const better = plan.filter((x, t) => x === h && above([h, t], [h, s])).length;
            expect(better, `${h} outranks ${g} on shard ${s}`).toBe(cap);
          }
        });
      }),
    );
  });

  it('rendezvous stability: removing a member that leads nothing moves nothing; with one shard, or one member left, only its shards move', () => {
    fc.assert(
      fc.property(members(2, 8), fc.integer({ min: 1, max: 8 }), fc.nat(), (ms, shards, pick) => {
        const before = placement(ms, shards);
        const gone = ms[pick % ms.length]!;
        const after = placement(
          ms.filter((m) => m !== gone),
          shards,
        );
        const survivorsKept = before.every((g, k) => g === gone || after[k] === g);
        if (!before.includes(gone) || shards === 1 || ms.length === 2) expect(survivorsKept).toBe(true);
        expect(after).not.toContain(gone);
      }),
      { numRuns: 500 },
    );
  });

  it('bounded loads can move a survivor’s shard: gw-a leaving re-places both of two shards among gw-b and gw-c', () => {
    // The price of balance (placement.ts header): gw-b now has room for shard 1, which it ranks above shard 0.
    expect(placement(['gw-a', 'gw-b', 'gw-c'], 2)).toEqual(['gw-b', 'gw-a']);
    expect(placement(['gw-b', 'gw-c'], 2)).toEqual(['gw-c', 'gw-b']);
    expect(above(['gw-b', 1], ['gw-b', 0])).toBe(true);
  });

  it('isPreferred: with one shard every gateway is (today’s election); else only the placed one, and never a gateway that is not live', () => {
    expect(isPreferred('gw-x', 0, [], 1)).toBe(true);
    expect(isPreferred('gw-x', 0, ['gw-y'], 1)).toBe(true);
    const plan = placement(['gw-a', 'gw-b'], 2);
    expect(isPreferred(plan[0]!, 0, ['gw-b', 'gw-a'], 2)).toBe(true);
    expect(isPreferred(plan[1]!, 0, ['gw-b', 'gw-a'], 2)).toBe(false);
    expect(isPreferred('gw-c', 0, ['gw-a', 'gw-b'], 2)).toBe(false);
  });
});

describe('liveMembers', () => {
  const D = 3000;

  it('live while now < observedAt + lease duration (the boundary is expired), sorted', () => {
    const obs = [
      { identity: 'gw-c', observedAt: 1000 },
      { identity: 'gw-a', observedAt: 2000 },
      { identity: 'gw-b', observedAt: 1001 },
    ];
    expect(liveMembers(obs, new Set(), 3999, D)).toEqual(['gw-a', 'gw-b', 'gw-c']);
    expect(liveMembers(obs, new Set(), 4000, D)).toEqual(['gw-a', 'gw-b']);
    expect(liveMembers(obs, new Set(), 4001, D)).toEqual(['gw-a']);
    expect(liveMembers(obs, new Set(), 5000, D)).toEqual([]);
  });

  it('a member that let a shard Lease it held lapse is not counted, however fresh its member Lease', () => {
    const obs = [
      { identity: 'gw-a', observedAt: 1000 },
      { identity: 'gw-b', observedAt: 1000 },
    ];
    expect(liveMembers(obs, new Set(['gw-b']), 1500, D)).toEqual(['gw-a']);
    expect(liveMembers(obs, new Set(['gw-z']), 1500, D)).toEqual(['gw-a', 'gw-b']);
  });

  it('the newest observation of an identity counts; order of observations does not matter', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ identity: fc.constantFrom('gw-a', 'gw-b', 'gw-c'), observedAt: fc.integer({ min: 0, max: 10_000 }) })), fc.integer({ min: 0, max: 14_000 }), (obs, now) => {
        const got = liveMembers(obs, new Set(), now, D);
        expect(liveMembers([...obs].reverse(), new Set(), now, D)).toEqual(got);
        const newest = (id: string) => Math.max(...obs.filter((o) => o.identity === id).map((o) => o.observedAt));
        expect(got).toEqual(['gw-a', 'gw-b', 'gw-c'].filter((id) => obs.some((o) => o.identity === id) && now < newest(id) + D));
      }),
    );
  });
});

describe('shardPlacements: what each shard is told', () => {
  const D = 3000;
  it('two live members: each is preferred for one shard, and learns when the other was last seen', () => {
    const obs = [
      { identity: 'gw-a', observedAt: 1000 },
      { identity: 'gw-b', observedAt: 1500 },
    ];
    const leases = [
      { holder: 'gw-a', expiresAt: 4000 },
      { holder: 'gw-a', expiresAt: 4000 },
    ];
    const a = shardPlacements('gw-a', obs, leases, 2000, D);
    const b = shardPlacements('gw-b', obs, leases, 2000, D);
    expect(a.shards.map((s) => s.preferred).sort()).toEqual([false, true]);
    a.shards.forEach((s, k) => expect(b.shards[k]!.preferred).toBe(!s.preferred));
    const other = a.shards.find((s) => !s.preferred)!;
    expect(other.preferredAliveAt).toBe(1500);
    // The next change by time alone: the first lapse to come (gw-a's member Lease at 4000, its shard Leases at 4000).
    expect(a.nextChangeAt).toBe(4000);
  });

  it('a holder that let a shard Lease lapse is not counted: the survivor is preferred for every shard at once', () => {
    const obs = [
      { identity: 'gw-a', observedAt: 1000 },
      { identity: 'gw-b', observedAt: 1900 }, // its member Lease is still live at 3000…
    ];
    const leases = [
      { holder: 'gw-a', expiresAt: 9999 },
      { holder: 'gw-b', expiresAt: 2900 }, // …but its shard Lease lapsed at 2900
    ];
    const before = shardPlacements('gw-a', obs, leases, 2800, D);
    expect(before.shards.every((s) => s.preferred)).toBe(false);
    const after = shardPlacements('gw-a', obs, leases, 3000, D);
    expect(after.shards.map((s) => s.preferred)).toEqual([true, true]);
    expect(before.nextChangeAt).toBe(2900);
  });

  it('a gateway that has not joined is preferred for nothing; one member alone is preferred for all', () => {
    const alone = [{ identity: 'gw-b', observedAt: 0 }];
    const leases = [
      { holder: undefined, expiresAt: undefined },
      { holder: '', expiresAt: undefined },
    ];
    expect(shardPlacements('gw-a', alone, leases, 100, D).shards.map((s) => s.preferred)).toEqual([false, false]);
    expect(shardPlacements('gw-b', alone, leases, 100, D).shards.map((s) => s.preferred)).toEqual([true, true]);
    // …until its own member Lease lapses: then nobody is preferred.
    expect(shardPlacements('gw-b', alone, leases, D, D).shards.map((s) => s.preferred)).toEqual([false, false]);
  });
});
