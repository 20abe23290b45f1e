// Reads another installation's Lease for the ownership check (machines/domain/ownership.ts):
// only what decides whether it is still held. Never throws: an unreadable Lease (no permission,
// API down, malformed) is reported as such, and the pure verdict treats it as held.
import { kubeCall, type KubeClients } from './client.js';
import { toKubeError } from './errors.js';
import { LEASE_GROUP, LEASE_PLURAL, LEASE_VERSION, parseLeaseRecord } from './lease-record.js';
import type { OtherLease } from '../../machines/domain/ownership.js';

/** RFC 3339 (metav1.MicroTime) to epoch ms; undefined when it does not parse. */
function epochMs(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

export async function readOtherLease(
  clients: KubeClients,
  ref: { readonly namespace: string; readonly name: string },
  opts: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {},
): Promise<OtherLease> {
  const what = `get lease ${ref.namespace}/${ref.name}`;
  let raw: unknown;
  try {
    raw = await kubeCall(what, { signal: opts.signal, timeoutMs: opts.timeoutMs ?? 5000 }, (o) =>
      clients.custom.getNamespacedCustomObject({ group: LEASE_GROUP, version: LEASE_VERSION, namespace: ref.namespace, plural: LEASE_PLURAL, name: ref.name }, o),
    );
  } catch (err) {
    const ke = toKubeError(err, what, opts.signal);
    if (ke.code === 'NotFound') return { kind: 'absent' };
    return { kind: 'unreadable', error: ke.message.slice(0, 200) };
  }
  const rec = parseLeaseRecord(raw);
  if (rec === undefined) return { kind: 'unreadable', error: 'not a Lease' };
  return { kind: 'read', holderIdentity: rec.holderIdentity, renewedAtMs: epochMs(rec.renewTime ?? rec.acquireTime), leaseDurationMs: rec.leaseDurationMs };
}
