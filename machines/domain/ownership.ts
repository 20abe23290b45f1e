// Who may write the cluster-scoped CiliumVTEPConfig `hybrid-gateway`. The
// Lease that elects a leader is namespaced, but the CiliumVTEPConfig (and the
// VPC route tables) are global: two installations (two releases, in two
// namespaces) would each elect a leader and overwrite each other without a
// word. So the object carries an annotation naming the Lease (namespace/name)
// of the installation that writes it; a leader of another installation writes
// it only when that Lease is no longer held, or when told to take it over.
// Pure: the runtime reads the other Lease and acts on the verdict.

export const OWNER_ANNOTATION = 'eks-hybrid-gateway/owner-lease';

/** What the other installation's Lease shows, as read (or why it could not be). */
export type OtherLease =
  | { readonly kind: 'absent' }
  /** It could not be read (no permission, API error): nobody can tell it is free. */
  | { readonly kind: 'unreadable'; readonly error: string }
  | {
      readonly kind: 'read';
      readonly holderIdentity: string;
      /** renewTime, else acquireTime, as epoch ms (undefined when neither parses). */
      readonly renewedAtMs: number | undefined;
      readonly leaseDurationMs: number | undefined;
    };

export type OwnershipVerdict =
  | { readonly write: true; readonly why: 'ours' | 'unowned' | 'owner-gone' | 'owner-expired' | 'taken-over' }
  | { readonly write: false; readonly why: string };

/** Clock skew between this node and the other holder's allowed for: its Lease counts as held this much longer. */
export const OWNER_SKEW_MS = 5000;

/** `namespace/name` of a Lease, the annotation's value. */
export function leaseKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** A well-formed annotation value: `namespace/name` (DNS label / DNS subdomain). */
export function parseLeaseKey(value: string): { namespace: string; name: string } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(value);
  return m === null ? undefined : { namespace: m[1]!, name: m[3]! };
}

/**
 * May the leader whose Lease is `ours` write the object whose annotation is `current`?
 * `other` is only consulted when the object names another Lease.
 */
export function ownershipVerdict(current: string | undefined, ours: string, other: OtherLease | undefined, nowMs: number, takeOwnership: boolean): OwnershipVerdict {
  if (current === undefined || current === '') return { write: true, why: 'unowned' };
  if (current === ours) return { write: true, why: 'ours' };
  if (takeOwnership) return { write: true, why: 'taken-over' };
  if (parseLeaseKey(current) === undefined) return { write: false, why: `owner annotation "${current.slice(0, 80)}" is not namespace/name` };
  if (other === undefined) return { write: false, why: `owned by Lease ${current}, not read` };
  if (other.kind === 'absent') return { write: true, why: 'owner-gone' };
  if (other.kind === 'unreadable') return { write: false, why: `owned by Lease ${current}, which cannot be read (${other.error})` };
  if (other.holderIdentity === '') return { write: true, why: 'owner-expired' };
  if (other.renewedAtMs === undefined || other.leaseDurationMs === undefined) {
    return { write: false, why: `owned by Lease ${current}, held by ${other.holderIdentity} (no renew time or duration to judge expiry)` };
  }
  const until = other.renewedAtMs + other.leaseDurationMs + OWNER_SKEW_MS;
  if (nowMs > until) return { write: true, why: 'owner-expired' };
  return { write: false, why: `owned by Lease ${current}, held by ${other.holderIdentity}` };
}
