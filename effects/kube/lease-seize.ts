// Cleanup's hold on its installation's Lease. The lock (lease-lock.ts) never
// takes a Lease another live holder has; cleanup must: while a gateway leads,
// it repairs drift, and would re-create every route and the CiliumVTEPConfig
// cleanup deletes. So seizeLease() writes cleanup's identity into the record
// whoever holds it, with a long duration: the leader sees another holder and
// steps down (its writes are fenced at once), the standbys wait the duration
// out. A conditional replace (resourceVersion): a 409 re-reads and tries again.
// The Lease is created when it does not exist (so no gateway can lead in the
// meantime). Every annotation of the record stays (the ENI record among them).
// releaseSeized() gives the Lease back (holder cleared) when cleanup failed,
// so the gateways resume at once.
import { kubeCall, type KubeClients } from './client.js';
import { KubeError, toKubeError } from './errors.js';
import { formatMicroTime, LEASE_DURATION_MS_ANNOTATION, LEASE_GROUP, LEASE_PLURAL, LEASE_VERSION, parseLeaseRecord, type LeaseRecord } from './lease-record.js';
import type { KubeObject } from './list-watch.js';
import { getLease } from './other-lease.js';

export interface LeaseRef {
  readonly namespace: string;
  readonly name: string;
}

export interface SeizeOptions extends LeaseRef {
  readonly clients: KubeClients;
  readonly identity: string;
  /** How long the record says cleanup holds it (rounded up to whole seconds in leaseDurationSeconds). */
  readonly holdMs: number;
  readonly signal?: AbortSignal;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
  /** Epoch microseconds (default: now). */
  readonly wallMicros?: () => number;
}

/** The Lease as read: its record and annotations. */
export interface LeaseView {
  readonly record: LeaseRecord;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface SeizedLease {
  /** The Lease before cleanup took it; undefined when cleanup created it. */
  readonly previous: LeaseView | undefined;
}

const MAX_CONFLICTS = 5;

function annotationsOf(raw: KubeObject): Record<string, string> {
  const a = raw.metadata?.annotations;
  if (a === null || typeof a !== 'object' || Array.isArray(a)) return {};
  return Object.fromEntries(Object.entries(a as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The Lease's record and annotations, or undefined when it does not exist. */
export async function readLease(clients: KubeClients, ref: LeaseRef, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<LeaseView | undefined> {
  const raw = await getLease(clients, ref, { signal: opts.signal, timeoutMs: opts.timeoutMs });
  if (raw === undefined) return undefined;
  const record = parseLeaseRecord(raw);
  if (record === undefined) throw new KubeError('Malformed', `lease ${ref.namespace}/${ref.name}: not a Lease record`, false);
  return { record, annotations: annotationsOf(raw) };
}

function now(wallMicros: (() => number) | undefined): string {
  return formatMicroTime(wallMicros?.() ?? Date.now() * 1000);
}

/** Makes `identity` the Lease's holder for `holdMs`, whoever held it. Throws KubeError when it cannot. */
export async function seizeLease(o: SeizeOptions): Promise<SeizedLease> {
  if (o.identity === '') throw new Error('seizeLease: identity must not be empty');
  const holdMs = Math.max(1000, Math.ceil(o.holdMs / 1000) * 1000);
  const spec = (transitions: number) => ({ holderIdentity: o.identity, leaseDurationSeconds: holdMs / 1000, acquireTime: now(o.wallMicros), renewTime: now(o.wallMicros), leaseTransitions: transitions });
  const call = { signal: o.signal, timeoutMs: o.timeoutMs, write: true };
  const where = { group: LEASE_GROUP, version: LEASE_VERSION, namespace: o.namespace, plural: LEASE_PLURAL };
  for (let conflicts = 0; ; conflicts += 1) {
    const raw = await getLease(o.clients, o, { signal: o.signal, timeoutMs: o.timeoutMs });
    try {
      if (raw === undefined) {
        const body = {
          apiVersion: `${LEASE_GROUP}/${LEASE_VERSION}`,
          kind: 'Lease',
          metadata: { name: o.name, namespace: o.namespace, annotations: { [LEASE_DURATION_MS_ANNOTATION]: String(holdMs) } },
          spec: spec(0),
        };
        await kubeCall(`create lease ${o.namespace}/${o.name}`, call, (c) => o.clients.custom.createNamespacedCustomObject({ ...where, body }, c));
        return { previous: undefined };
      }
      const record = parseLeaseRecord(raw);
      if (record === undefined) throw new KubeError('Malformed', `lease ${o.namespace}/${o.name}: not a Lease record`, false);
      const annotations = annotationsOf(raw);
      const transitions = record.leaseTransitions + (record.holderIdentity === o.identity ? 0 : 1);
      const body = {
        ...raw,
        apiVersion: `${LEASE_GROUP}/${LEASE_VERSION}`,
        kind: 'Lease',
        metadata: { ...raw.metadata, annotations: { ...annotations, [LEASE_DURATION_MS_ANNOTATION]: String(holdMs) }, resourceVersion: record.resourceVersion },
        spec: spec(transitions),
      };
      await kubeCall(`take lease ${o.namespace}/${o.name}`, call, (c) => o.clients.custom.replaceNamespacedCustomObject({ ...where, name: o.name, body }, c));
      return { previous: { record, annotations } };
    } catch (err) {
      const ke = toKubeError(err, `take lease ${o.namespace}/${o.name}`, o.signal);
      if ((ke.code === 'Conflict' || ke.code === 'AlreadyExists') && conflicts < MAX_CONFLICTS) continue;
      throw ke;
    }
  }
}

/** Clears the holder if the record still names `identity` (the gateways may lead again at once). True when released. */
export async function releaseSeized(o: Omit<SeizeOptions, 'holdMs'>): Promise<boolean> {
  const where = { group: LEASE_GROUP, version: LEASE_VERSION, namespace: o.namespace, plural: LEASE_PLURAL, name: o.name };
  for (let conflicts = 0; conflicts <= MAX_CONFLICTS; conflicts += 1) {
    const raw = await getLease(o.clients, o, { signal: o.signal, timeoutMs: o.timeoutMs });
    const record = raw === undefined ? undefined : parseLeaseRecord(raw);
    if (raw === undefined || record === undefined || record.holderIdentity !== o.identity) return false;
    const body = {
      ...raw,
      metadata: { ...raw.metadata, annotations: { ...annotationsOf(raw), [LEASE_DURATION_MS_ANNOTATION]: '1000' }, resourceVersion: record.resourceVersion },
      spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now(o.wallMicros), renewTime: now(o.wallMicros), leaseTransitions: record.leaseTransitions },
    };
    try {
      await kubeCall(`release lease ${o.namespace}/${o.name}`, { signal: o.signal, timeoutMs: o.timeoutMs, write: true }, (c) => o.clients.custom.replaceNamespacedCustomObject({ ...where, body }, c));
      return true;
    } catch (err) {
      const ke = toKubeError(err, `release lease ${o.namespace}/${o.name}`, o.signal);
      if (ke.code !== 'Conflict') throw ke;
    }
  }
  return false;
}
