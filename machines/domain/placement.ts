// Which live gateway should lead which shard (issue 17), decided by every
// gateway on its own from the same member set, so they agree without talking.
//
// Rendezvous (highest-random-weight) hashing: each (gateway identity, shard)
// pair has a score, and a shard prefers the live gateway scoring highest, so a
// gateway joining or leaving changes only the preferences it wins or loses.
// Plain rendezvous can give one gateway every shard; bounded loads fix that:
// each gateway leads at most ceil(N / live) shards, pairs taken greedily from
// the highest score down (ties: identity, then shard). So two gateways lead one
// shard each of two. The price: a gateway leaving can move a survivor's shard
// too (a survivor that ranks the freed shard above its own takes it, and its
// own moves on; placement.test.ts shows a case).
//
// The hash is written here rather than taken from node:crypto or a library:
// machines/ import no node: module, and every gateway of a rolling upgrade must
// compute the same scores, so the function must never change under us (a test
// pins its values). FNV-1a (32-bit) over the UTF-8 bytes, then murmur3's
// 32-bit finaliser: FNV-1a alone passes the last byte through one multiply,
// so one identity's scores for shards 0 and 1 would lie a constant apart and
// the same gateway would top every shard; the finaliser decorrelates them.

export interface MemberObservation {
  /** The member Lease's holderIdentity (the pod name). */
  readonly identity: string;
  /** Local clock (ms) when this member's renewTime was last seen to change (client-go's observed time). */
  readonly observedAt: number;
}

const UTF8 = new TextEncoder();

/** FNV-1a, 32-bit, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of UTF8.encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's fmix32: every input bit reaches every output bit. */
function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The rendezvous score of (identity, shard): an unsigned 32-bit integer, the same on every gateway. */
export function rendezvousScore(identity: string, shard: number): number {
  // NUL cannot occur in a Kubernetes name, so "gw-1" + 0 and "gw-" + 10 never collide as texts.
  return fmix32(fnv1a32(`${identity}\u0000${shard}`));
}

interface Pair {
  readonly identity: string;
  readonly shard: number;
  readonly score: number;
}

function byScore(a: Pair, b: Pair): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.identity !== b.identity) return a.identity < b.identity ? -1 : 1;
  return a.shard - b.shard;
}

/**
 * The leader each shard should have: entry k is shard k's gateway, undefined only when there is
 * no member. Bounded loads: no gateway gets more than ceil(shards / members) shards. The order
 * and repetition of `members` do not matter.
 */
export function placement(members: readonly string[], shards: number): Array<string | undefined> {
  const live = [...new Set(members)];
  const out: Array<string | undefined> = Array.from({ length: shards }, () => undefined);
  if (live.length === 0) return out;
  const capacity = Math.ceil(shards / live.length);
  const pairs: Pair[] = [];
  for (const identity of live) for (let shard = 0; shard < shards; shard++) pairs.push({ identity, shard, score: rendezvousScore(identity, shard) });
  pairs.sort(byScore);
  const load = new Map<string, number>();
  let left = shards;
  for (const { identity, shard } of pairs) {
    if (left === 0) break;
    const l = load.get(identity) ?? 0;
    if (out[shard] !== undefined || l >= capacity) continue;
    out[shard] = identity;
    load.set(identity, l + 1);
    left--;
  }
  return out;
}

/** The gateway that should lead `shard` over these live members (undefined: none is live). */
export function preferredGateway(shard: number, members: readonly string[], shards: number): string | undefined {
  return placement(members, shards)[shard];
}

/**
 * Whether `identity` is the preferred leader of `shard`. With one shard every gateway is: the
 * election alone decides, as before sharding (there are no member Leases then).
 */
export function isPreferred(identity: string, shard: number, members: readonly string[], shards: number): boolean {
  return shards === 1 || preferredGateway(shard, members, shards) === identity;
}

/**
 * The live members, sorted: those whose member Lease was seen renewed within the lease duration
 * (live while now < observedAt + leaseDurationMs, client-go's rule, on the local clock only), less
 * those that let a shard Lease they held lapse (expired, not released): such a gateway renews its
 * member Lease but cannot keep a shard, and counting it would place shards where they lapse again.
 * How long an identity stays in `heldLapsed` is the caller's decision.
 */
export function liveMembers(observations: readonly MemberObservation[], heldLapsed: ReadonlySet<string>, now: number, leaseDurationMs: number): string[] {
  const latest = new Map<string, number>();
  for (const { identity, observedAt } of observations) latest.set(identity, Math.max(observedAt, latest.get(identity) ?? -Infinity));
  return [...latest]
    .filter(([identity, observedAt]) => now < observedAt + leaseDurationMs && !heldLapsed.has(identity))
    .map(([identity]) => identity)
    .sort();
}

/** A shard Lease as this gateway last saw it: holder (empty when released) and when it lapses locally. */
export interface ShardLeaseView {
  readonly holder: string | undefined;
  /** Local ms at which the holder's lease expires as judged here (undefined: none held). */
  readonly expiresAt: number | undefined;
}

export interface ShardPlacement {
  readonly preferred: boolean;
  /** The preferred gateway (another one): when its member Lease was last seen renewed (local ms). */
  readonly preferredAliveAt: number | undefined;
}

/**
 * Placement as this gateway sees it now, for each shard, and the next instant it can change by
 * time alone (a member Lease or a shard Lease lapsing; undefined: none pending). The members are
 * the member Leases seen (this gateway's own among them once it joined); a holder whose shard Lease
 * has lapsed is not counted live (liveMembers).
 */
export function shardPlacements(
  identity: string,
  observations: readonly MemberObservation[],
  shardLeases: readonly ShardLeaseView[],
  now: number,
  leaseDurationMs: number,
): { shards: ShardPlacement[]; nextChangeAt: number | undefined } {
  const lapsed = new Set<string>();
  const pending: number[] = [];
  for (const l of shardLeases) {
    if (l.holder === undefined || l.holder === '' || l.holder === identity || l.expiresAt === undefined) continue;
    if (now >= l.expiresAt) lapsed.add(l.holder);
    else pending.push(l.expiresAt);
  }
  for (const o of observations) if (o.observedAt + leaseDurationMs > now) pending.push(o.observedAt + leaseDurationMs);
  const live = liveMembers(observations, lapsed, now, leaseDurationMs);
  const seenAt = new Map<string, number>();
  for (const o of observations) seenAt.set(o.identity, Math.max(o.observedAt, seenAt.get(o.identity) ?? -Infinity));
  const placed = placement(live, shardLeases.length);
  const shards = placed.map((g): ShardPlacement => ({ preferred: g === identity, preferredAliveAt: g === undefined || g === identity ? undefined : seenAt.get(g) }));
  return { shards, nextChangeAt: pending.length === 0 ? undefined : Math.min(...pending) };
}
