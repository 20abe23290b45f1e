// Who may write the cluster-wide CiliumVTEPConfig: the pure verdict over the
// owner annotation and what the named Lease shows.
import { describe, expect, it } from 'vitest';
import { OWNER_SKEW_MS, leaseKey, ownershipVerdict, parseLeaseKey, type OtherLease } from '../../machines/domain/ownership.js';

const OURS = leaseKey('gateway', 'hybrid-gateway-leader');
const THEIRS = 'team-b/hybrid-gateway-leader';
const NOW = Date.parse('2026-12-01T12:00:00Z');
const held = (renewedAgoMs: number, holder = 'gw-b-0'): OtherLease => ({ kind: 'read', holderIdentity: holder, renewedAtMs: NOW - renewedAgoMs, leaseDurationMs: 3000 });

describe('ownership verdict', () => {
  it('an object without an owner, or with ours, is written', () => {
    expect(ownershipVerdict(undefined, OURS, undefined, NOW, false)).toEqual({ write: true, why: 'unowned' });
    expect(ownershipVerdict('', OURS, undefined, NOW, false)).toEqual({ write: true, why: 'unowned' });
    expect(ownershipVerdict(OURS, OURS, undefined, NOW, false)).toEqual({ write: true, why: 'ours' });
  });

  it("another installation's Lease still held: not written, naming the Lease and its holder", () => {
    const v = ownershipVerdict(THEIRS, OURS, held(1000), NOW, false);
    expect(v.write).toBe(false);
    expect(v.why).toBe('owned by Lease team-b/hybrid-gateway-leader, held by gw-b-0');
  });

  it('held is judged with the clock skew allowed: expired only past renew + duration + skew', () => {
    expect(ownershipVerdict(THEIRS, OURS, held(3000 + OWNER_SKEW_MS), NOW, false).write).toBe(false);
    expect(ownershipVerdict(THEIRS, OURS, held(3000 + OWNER_SKEW_MS + 1), NOW, false)).toEqual({ write: true, why: 'owner-expired' });
  });

  it('a released Lease (no holder) or a deleted one frees the object', () => {
    expect(ownershipVerdict(THEIRS, OURS, held(0, ''), NOW, false)).toEqual({ write: true, why: 'owner-expired' });
    expect(ownershipVerdict(THEIRS, OURS, { kind: 'absent' }, NOW, false)).toEqual({ write: true, why: 'owner-gone' });
  });

  it('what cannot be judged counts as held: unreadable Lease, no renew time or duration, not read, a malformed annotation', () => {
    expect(ownershipVerdict(THEIRS, OURS, { kind: 'unreadable', error: '403 Forbidden' }, NOW, false)).toEqual({
      write: false,
      why: 'owned by Lease team-b/hybrid-gateway-leader, which cannot be read (403 Forbidden)',
    });
    expect(ownershipVerdict(THEIRS, OURS, { kind: 'read', holderIdentity: 'gw-b-0', renewedAtMs: undefined, leaseDurationMs: 3000 }, NOW, false).write).toBe(false);
    expect(ownershipVerdict(THEIRS, OURS, { kind: 'read', holderIdentity: 'gw-b-0', renewedAtMs: NOW, leaseDurationMs: undefined }, NOW, false).write).toBe(false);
    expect(ownershipVerdict(THEIRS, OURS, undefined, NOW, false).write).toBe(false);
    const bad = ownershipVerdict('Not/A Lease!', OURS, { kind: 'absent' }, NOW, false);
    expect(bad).toEqual({ write: false, why: 'owner annotation "Not/A Lease!" is not namespace/name' });
  });

  it('--take-ownership writes whatever the other Lease shows', () => {
    expect(ownershipVerdict(THEIRS, OURS, held(0), NOW, true)).toEqual({ write: true, why: 'taken-over' });
    expect(ownershipVerdict('garbage', OURS, undefined, NOW, true)).toEqual({ write: true, why: 'taken-over' });
  });

  it('the annotation value is namespace/name, and parses back; anything else does not', () => {
    expect(parseLeaseKey(OURS)).toEqual({ namespace: 'gateway', name: 'hybrid-gateway-leader' });
    expect(parseLeaseKey('kube-system/a.b-c')).toEqual({ namespace: 'kube-system', name: 'a.b-c' });
    for (const v of ['', 'x', '/x', 'x/', 'a/b/c', 'A/b', 'a/B', `${'a'.repeat(64)}/b`, 'a b/c']) expect(parseLeaseKey(v), v).toBeUndefined();
  });
});
