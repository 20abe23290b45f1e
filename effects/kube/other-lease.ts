// Reading a Lease by namespace/name: getLease (the lock reads its own with it), and
// readOtherLease, another installation's Lease for the ownership check
// (machines/domain/ownership.ts): only what decides whether it is still held. readOtherLease never
// throws: an unreadable Lease (no permission, API down, malformed) is reported as such, and the
// pure verdict treats it as held.
import { kubeCall, type CallOptions, type KubeClients } from './client.js';
import { KubeError, toKubeError } from './errors.js';
import type { KubeObject } from './list-watch.js';
import { LEASE_GROUP, LEASE_PLURAL, LEASE_VERSION, parseLeaseRecord } from './lease-record.js';
import type { OtherLease } from '../../machines/domain/ownership.js';

/** RFC 3339 (metav1.MicroTime) to epoch ms; undefined when it does not parse. */
function epochMs(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The Lease as stored, or undefined when it does not exist; a KubeError otherwise. */
export async function getLease(clients: KubeClients, ref: { readonly namespace: string; readonly name: string }, opts: CallOptions): Promise<KubeObject | undefined> {
  const what = `get lease ${ref.namespace}/${ref.name}`;
  try {
    const raw: unknown = await kubeCall(what, opts, (o) =>
      clients.custom.getNamespacedCustomObject({ group: LEASE_GROUP, version: LEASE_VERSION, namespace: ref.namespace, plural: LEASE_PLURAL, name: ref.name }, o),
    );
    if (raw === null || typeof raw !== 'object') throw new KubeError('Malformed', `${what}: not an object`, true);
    return raw as KubeObject;
  } catch (err) {
    const ke = toKubeError(err, what);
    if (ke.code === 'NotFound') return undefined;
    throw ke;
  }
}

export async function readOtherLease(
  clients: KubeClients,
  ref: { readonly namespace: string; readonly name: string },
  opts: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {},
): Promise<OtherLease> {
  let raw: KubeObject | undefined;
  try {
    raw = await getLease(clients, ref, { signal: opts.signal, timeoutMs: opts.timeoutMs ?? 5000 });
  } catch (err) {
    return { kind: 'unreadable', error: toKubeError(err, `get lease ${ref.namespace}/${ref.name}`, opts.signal).message.slice(0, 200) };
  }
  if (raw === undefined) return { kind: 'absent' };
  const rec = parseLeaseRecord(raw);
  if (rec === undefined) return { kind: 'unreadable', error: 'not a Lease' };
  return { kind: 'read', holderIdentity: rec.holderIdentity, renewedAtMs: epochMs(rec.renewTime ?? rec.acquireTime), leaseDurationMs: rec.leaseDurationMs };
}
