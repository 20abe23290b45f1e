// Which CIDR blocks of a set overlap a given block, without scanning the set.
// Two CIDR blocks overlap exactly when one contains the other, so the blocks
// overlapping b are b's supernets in the set (one exact lookup per prefix
// length the set holds) and the blocks under b (found by walking down the
// implicit binary trie, only along branches that hold a block: every block
// counts itself at each of its supernets).
import { intToIPv4, type Cidr } from './ipv4.js';
import { MultiMap } from './multi-map.js';

function networkOf(address: number, prefix: number): number {
  return prefix === 0 ? 0 : (address & (0xffffffff << (32 - prefix))) >>> 0;
}

/** Map keys are the network address as a signed 32-bit integer: small integers hash fastest. */
const key = (first: number): number => first | 0;

export class BlockIndex<T extends object | number> {
  /** Per prefix length: network → owners of exactly that block. */
  private readonly exact = Array.from({ length: 33 }, () => new MultiMap<number, T>());
  /** Per prefix length: network → blocks at or under it. */
  private readonly below = Array.from({ length: 33 }, () => new Map<number, number>());
  /** Blocks held per prefix length. */
  private readonly lengths = new Array<number>(33).fill(0);
  private longest = -1;

  add(block: Cidr, owner: T): void {
    this.exact[block.prefix]!.add(key(block.first), owner);
    this.lengths[block.prefix]! += 1;
    this.longest = Math.max(this.longest, block.prefix);
    for (let p = 0; p <= block.prefix; p++) {
      const m = this.below[p]!;
      const a = key(networkOf(block.first, p));
      m.set(a, (m.get(a) ?? 0) + 1);
    }
  }

  remove(block: Cidr, owner: T): void {
    if (!this.exact[block.prefix]!.remove(key(block.first), owner)) return;
    this.lengths[block.prefix]! -= 1;
    while (this.longest >= 0 && this.lengths[this.longest] === 0) this.longest--;
    for (let p = 0; p <= block.prefix; p++) {
      const m = this.below[p]!;
      const a = key(networkOf(block.first, p));
      const n = (m.get(a) ?? 0) - 1;
      if (n <= 0) m.delete(a);
      else m.set(a, n);
    }
  }

  /** Calls `visit` with every owner whose block overlaps `block` (the same owner included), and that block. */
  overlapping(block: Cidr, visit: (owner: T, first: number, prefix: number) => void): void {
    for (let p = 0; p <= block.prefix; p++) {
      if (this.lengths[p] === 0) continue;
      const first = networkOf(block.first, p);
      this.exact[p]!.forEach(key(first), (o) => visit(o, first, p));
    }
    if (this.longest > block.prefix) this.under(block.first, block.prefix, visit);
  }

  private under(first: number, prefix: number, visit: (owner: T, first: number, prefix: number) => void): void {
    const p = prefix + 1;
    for (let half = 0; half < 2; half++) {
      const child = half === 0 ? first : first + 2 ** (32 - p);
      if ((this.below[p]!.get(key(child)) ?? 0) === 0) continue;
      this.exact[p]!.forEach(key(child), (o) => visit(o, child, p));
      if (p < this.longest) this.under(child, p, visit);
    }
  }
}

/** The block at `first`/`prefix` as a Cidr (for messages). */
export function cidrAt(first: number, prefix: number): Cidr {
  return { text: `${intToIPv4(first)}/${prefix}`, first, last: first + 2 ** (32 - prefix) - 1, prefix };
}
