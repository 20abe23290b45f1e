// The incremental desired set (machines/domain/desired-index.ts) against a
// deliberately naive reference written here: candidates in age order, each
// accepted unless an older accepted one shares its IP or overlaps one of its
// pod CIDRs (pairwise, O(n²)). Random node sets and random change sequences
// with many collisions (a handful of IPs and CIDR slots) must give exactly the
// reference's result after every change, and the deltas must replay to it.
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import type { AdmissionPolicy } from '../../machines/domain/admission.js';
import { BlockIndex, cidrAt } from '../../machines/domain/block-index.js';
import { vtepSpecFromCiliumNode, type CiliumNode } from '../../machines/domain/cilium-node.js';
import { DesiredIndex, type DesiredDelta, type NodeChange } from '../../machines/domain/desired-index.js';
import { intToIPv4, ipv4Value, overlaps, parseCidr, type Cidr } from '../../machines/domain/ipv4.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';

const cidr = (t: string): Cidr => {
  const p = parseCidr(t);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};
const VPC = [cidr('198.18.0.0/16')];
const POLICY: AdmissionPolicy = { vpcCidrs: VPC, podCidrs: [cidr('198.19.0.0/16')], gatewayAddresses: new Set([0xc612000a]) };
const BASE = 0xc6130000; // 198.19.0.0

interface NodeArgs {
  name: string;
  ip: number;
  cidrs: Array<[number, number]>;
  ts: number;
  rv: number;
}

const arbNode = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'),
  // A few IPs (collisions), sometimes one inside the VPC or malformed (skipped on its own).
  ip: fc.integer({ min: 0, max: 7 }),
  // Blocks of /22../28 at a few slots of 198.19.0.0/22: nested and overlapping on purpose.
  cidrs: fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 22, max: 28 })), { minLength: 0, maxLength: 3 }),
  ts: fc.integer({ min: 1, max: 4 }),
  rv: fc.nat(),
});

function toNode(a: NodeArgs): CiliumNode {
  const ip = a.ip === 7 ? 'not-an-ip' : a.ip === 6 ? '198.18.3.3' : `203.0.113.${a.ip + 1}`;
  return {
    metadata: { name: a.name, creationTimestamp: `2026-01-0${a.ts}T00:00:00Z`, resourceVersion: String(a.rv) },
    spec: {
      addresses: [{ type: 'InternalIP', ip }],
      ipam: {
        podCIDRs: a.cidrs.map(([slot, prefix]) => {
          const size = 2 ** (32 - prefix);
          const first = (BASE + slot * 64) & ~(size - 1);
          return `${intToIPv4(first >>> 0)}/${prefix}`;
        }),
      },
    },
  };
}

/** The reference: greedy by age with pairwise checks. */
function reference(nodes: Iterable<CiliumNode>): { vteps: Map<string, VtepSpec>; skipped: Map<string, string> } {
  const byName = new Map<string, CiliumNode>();
  for (const n of nodes) byName.set(n.metadata!.name!, n);
  const ordered = [...byName.values()].sort((x, y) => {
    const kx = `${x.metadata!.creationTimestamp}\u0000${x.metadata!.name}`;
    const ky = `${y.metadata!.creationTimestamp}\u0000${y.metadata!.name}`;
    return kx < ky ? -1 : kx > ky ? 1 : 0;
  });
  const vteps = new Map<string, VtepSpec>();
  const skipped = new Map<string, string>();
  for (const n of ordered) {
    const r = vtepSpecFromCiliumNode(n, POLICY);
    if (!r.ok) {
      skipped.set(r.skip.name, r.skip.reason);
      continue;
    }
    const s = r.spec;
    const accepted = [...vteps.values()];
    if (accepted.some((o) => o.nodeIP === s.nodeIP)) skipped.set(s.name, 'internal-ip-claimed-by-other-node');
    else if (accepted.some((o) => o.podCIDRs.some((c) => s.podCIDRs.some((d) => overlaps(cidr(c), cidr(d)))))) skipped.set(s.name, 'pod-cidr-claimed-by-other-node');
    else vteps.set(s.name, s);
  }
  return { vteps, skipped };
}

function view(index: DesiredIndex): { vteps: Map<string, VtepSpec>; skipped: Map<string, string> } {
  return { vteps: new Map(index.vteps), skipped: new Map([...index.skipped].map(([n, s]) => [n, s.reason])) };
}

function sorted<T>(m: Map<string, T>): Array<[string, T]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1));
}

const arbChange = fc.oneof(
  { weight: 4, arbitrary: arbNode.map((a) => ({ kind: 'upsert' as const, a })) },
  { weight: 1, arbitrary: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j').map((name) => ({ kind: 'remove' as const, name })) },
);

describe('DesiredIndex (incremental desired set)', () => {
  it('from scratch equals the naive reference', () => {
    fc.assert(
      fc.property(fc.array(arbNode, { maxLength: 12 }), (args) => {
        const nodes = args.map(toNode);
        const index = new DesiredIndex(POLICY);
        index.apply(nodes.map((node) => ({ node })));
        const want = reference(nodes);
        expect(sorted(view(index).vteps)).toEqual(sorted(want.vteps));
        expect(sorted(view(index).skipped)).toEqual(sorted(want.skipped));
      }),
      { numRuns: 400 },
    );
  });

  it('after every change of a random sequence it equals the reference, and its deltas replay to its state', () => {
    fc.assert(
      fc.property(fc.array(arbChange, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (seq, batch) => {
        const index = new DesiredIndex(POLICY);
        const live = new Map<string, CiliumNode>();
        const replay = new Map<string, VtepSpec>();
        const skips = new Map<string, string>();
        const play = (d: DesiredDelta): void => {
          for (const s of d.upserts) replay.set(s.name, s);
          for (const n of d.removes) replay.delete(n);
          for (const s of d.skipped) skips.set(s.name, s.reason);
          for (const n of d.cleared) skips.delete(n);
        };
        for (let i = 0; i < seq.length; i += batch) {
          const changes: NodeChange[] = seq.slice(i, i + batch).map((c) => {
            if (c.kind === 'remove') {
              live.delete(c.name);
              return { removed: c.name };
            }
            const node = toNode(c.a);
            live.set(c.a.name, node);
            return { node };
          });
          play(index.apply(changes));
          const want = reference(live.values());
          expect(sorted(view(index).vteps)).toEqual(sorted(want.vteps));
          expect(sorted(view(index).skipped)).toEqual(sorted(want.skipped));
          expect(sorted(replay)).toEqual(sorted(want.vteps));
          expect(sorted(skips)).toEqual(sorted(want.skipped));
          expect([...index.skippedByReason.values()].reduce((x, y) => x + y, 0)).toBe(want.skipped.size);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('steps() with a small budget yields along the way and ends where apply() does', () => {
    const nodes = Array.from({ length: 50 }, (_, i) =>
      toNode({ name: `n${i}`, ip: i % 6, cidrs: [[i % 16, 24 + (i % 5)]], ts: 1 + (i % 4), rv: i }),
    );
    const a = new DesiredIndex(POLICY);
    a.apply(nodes.map((node) => ({ node })));
    const b = new DesiredIndex(POLICY);
    const it = b.steps(
      nodes.map((node) => ({ node })),
      7,
    );
    let yields = 0;
    for (let r = it.next(); r.done !== true; r = it.next()) yields++;
    expect(yields).toBeGreaterThan(5);
    expect(sorted(view(b).vteps)).toEqual(sorted(view(a).vteps));
    expect(sorted(view(b).skipped)).toEqual(sorted(view(a).skipped));
  });

  it('a re-list changes only what changed (same resourceVersion: untouched) and removes the absent', () => {
    const index = new DesiredIndex(POLICY);
    const n1 = toNode({ name: 'a', ip: 0, cidrs: [[0, 26]], ts: 1, rv: 1 });
    const n2 = toNode({ name: 'b', ip: 1, cidrs: [[1, 26]], ts: 1, rv: 2 });
    index.apply([{ node: n1 }, { node: n2 }]);
    const n2b = toNode({ name: 'b', ip: 2, cidrs: [[1, 26]], ts: 1, rv: 3 });
    const changes = index.resyncChanges([n2b]);
    expect(changes).toEqual([{ node: n2b }, { removed: 'a' }]);
    const d = index.apply(changes);
    expect(d.removes).toEqual(['a']);
    expect(d.upserts.map((s) => s.nodeIP)).toEqual(['203.0.113.3']);
    expect(index.resyncChanges([n2b])).toEqual([]);
  });

  it('20,000 nodes without conflicts are all accepted; one change touches one node', () => {
    // Pod CIDRs in 100.64.0.0/10 and 192.0.2.0/24, node IPs in 198.19.128.0/17 (apart, as admission wants). No traffic: pure.
    const index = new DesiredIndex({ ...POLICY, podCidrs: [cidr('100.64.0.0/10'), cidr('192.0.2.0/24')] });
    const nodes = Array.from({ length: 20_000 }, (_, i): CiliumNode => ({
      metadata: { name: `hyb-${i}`, creationTimestamp: '2026-01-01T00:00:00Z', resourceVersion: String(i) },
      spec: { addresses: [{ type: 'InternalIP', ip: intToIPv4(0xc6138001 + i) }], ipam: { podCIDRs: [`${intToIPv4(0x64400000 + i * 4)}/30`] } },
    }));
    const d = index.apply(nodes.map((node) => ({ node })));
    expect(d.upserts.length).toBe(20_000);
    expect(index.vteps.size).toBe(20_000);
    const moved: CiliumNode = { ...nodes[5]!, metadata: { ...nodes[5]!.metadata, resourceVersion: 'x' }, spec: { ...nodes[5]!.spec, ipam: { podCIDRs: ['192.0.2.0/30'] } } };
    const d2 = index.apply([{ node: moved }]);
    expect(d2).toEqual({ upserts: [expect.objectContaining({ name: 'hyb-5', podCIDRs: ['192.0.2.0/30'] })], removes: [], skipped: [], cleared: [] });
  });
});

describe('BlockIndex', () => {
  it('finds exactly the blocks that overlap, like a brute-force scan', () => {
    const arbBlock = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 20, max: 32 })).map(([slot, prefix]) => {
      const size = 2 ** (32 - prefix);
      return cidr(`${intToIPv4(((BASE + slot * 16) & ~(size - 1)) >>> 0)}/${prefix}`);
    });
    fc.assert(
      fc.property(fc.array(arbBlock, { maxLength: 20 }), fc.array(fc.nat({ max: 19 }), { maxLength: 6 }), arbBlock, (blocks, removed, q) => {
        const idx = new BlockIndex<number>();
        blocks.forEach((b, i) => idx.add(b, i));
        const gone = new Set(removed.filter((i) => i < blocks.length));
        for (const i of gone) idx.remove(blocks[i]!, i);
        const found: number[] = [];
        idx.overlapping(q, (i, first, prefix) => {
          expect(cidrAt(first, prefix).text).toBe(blocks[i]!.text);
          found.push(i);
        });
        const want = blocks.map((b, i) => i).filter((i) => !gone.has(i) && overlaps(blocks[i]!, q));
        expect(found.sort((x, y) => x - y)).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ipv4Value (hand-written dotted-quad parser)', () => {
  it('accepts exactly what ipaddr.js accepts as a four-part decimal, with the same value', () => {
    const arbText = fc.oneof(
      fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 300 }), fc.nat({ max: 300 }), fc.nat({ max: 300 })).map((p) => p.join('.')),
      fc.stringMatching(/^[0-9.]{0,16}$/),
      fc.string({ maxLength: 16 }),
      fc.constantFrom('01.2.3.4', '1.2.3.04', '0.0.0.0', '255.255.255.255', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '0x1.2.3.4', ' 1.2.3.4'),
    );
    fc.assert(
      fc.property(arbText, (t) => {
        const ok = ipaddr.IPv4.isValidFourPartDecimal(t);
        const v = ipv4Value(t);
        expect(v >= 0, t).toBe(ok);
        if (ok) {
          const o = ipaddr.IPv4.parse(t).octets;
          expect(v).toBe(((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
