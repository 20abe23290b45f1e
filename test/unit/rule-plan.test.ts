// The policy-rule diff without a kernel: one `to <POD_CIDR> lookup 8472
// priority 1000` per pod CIDR; rules of ours that differ are removed; other
// rules (the kernel's local/main/default, the VPC CNI's) are never touched.
import { describe, expect, it } from 'vitest';
import { planRules, type ObservedRule } from '../../effects/netlink/rule-plan.js';

const T = 8472;
const P = 1000;
const PROTO = 110;
const ip = (t: string): number => t.split('.').reduce((n, b) => n * 256 + Number(b), 0) >>> 0;
const rule = (dst: string, extra: Partial<ObservedRule> = {}): ObservedRule => {
  const [a, len] = dst.split('/');
  return { dst: ip(a!), dstLen: Number(len), table: T, priority: P, protocol: PROTO, plain: true, ...extra };
};
const want = (...cidrs: string[]) => cidrs.map((c) => ({ dst: ip(c.split('/')[0]!), dstLen: Number(c.split('/')[1]) }));
// What a host has anyway: local (0), main (32766), default (32767), a VPC CNI rule (1536 from a pod to its ENI table).
const SYSTEM: ObservedRule[] = [
  rule('0.0.0.0/0', { table: 255, priority: 0, protocol: 2 }),
  rule('0.0.0.0/0', { table: 254, priority: 32766, protocol: 2 }),
  rule('0.0.0.0/0', { table: 253, priority: 32767, protocol: 2 }),
  rule('0.0.0.0/0', { table: 2, priority: 1536, protocol: 0, plain: false }),
];

describe('planRules', () => {
  it('adds one rule per pod CIDR on a fresh host and leaves the system rules alone', () => {
    const plan = planRules(SYSTEM, want('198.19.0.0/17', '198.19.128.0/17'), T, P, PROTO);
    expect(plan.add).toEqual(want('198.19.0.0/17', '198.19.128.0/17'));
    expect(plan.remove).toEqual([]);
  });

  it('writes nothing when the rules are there', () => {
    const plan = planRules([...SYSTEM, rule('198.19.0.0/17')], want('198.19.0.0/17'), T, P, PROTO);
    expect(plan).toEqual({ add: [], remove: [], unchanged: 1 });
  });

  it('removes rules of ours that are stale, widened, duplicated or at another priority', () => {
    const stale = rule('198.20.0.0/16');
    const other = rule('198.19.0.0/17', { priority: 5 });
    const dup = rule('198.19.0.0/17');
    const selector = rule('198.19.0.0/17', { plain: false });
    const byProtocol = rule('0.0.0.0/0', { table: 254, protocol: PROTO });
    const plan = planRules([...SYSTEM, rule('198.19.0.0/17'), dup, stale, other, selector, byProtocol], want('198.19.0.0/17'), T, P, PROTO);
    expect(plan.add).toEqual([]);
    expect(plan.remove).toEqual([dup, stale, other, selector, byProtocol]);
    expect(plan.unchanged).toBe(1);
  });

  it('a changed POD_CIDRS: the new rule is added, the old one removed', () => {
    const plan = planRules([rule('198.19.0.0/16')], want('198.19.0.0/17'), T, P, PROTO);
    expect(plan.add).toEqual(want('198.19.0.0/17'));
    expect(plan.remove).toEqual([rule('198.19.0.0/16')]);
  });
});
