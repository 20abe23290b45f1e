// CiliumVTEPConfig (cilium.io/v2, cluster-scoped) upsert and watch. The caller
// gives the endpoints (naming them vpc-gateway / vpc-gateway-N is its business);
// this adapter creates the object when missing, replaces spec.endpoints only
// when it differs (no write when equal), and is conflict-safe: a 409 re-reads
// and retries, a bounded number of times. It owns the four fields of each
// endpoint and nothing else: fields the API server defaults (spec.cidrMask in
// Cilium's CRD), fields of newer Cilium builds and Cilium's status are neither
// compared nor overwritten, so Cilium's status refreshes cost no write. Every write takes an AbortSignal and
// is refused once it is aborted (fencing of a leader that stepped down).
// Given an owner, every write carries the owner annotation (machines/domain/ownership.ts) and
// is refused, before anything is sent, when the object names an owner that is neither this
// installation nor the one the ownership check allowed to be replaced. deleteIfUnchanged() is
// cleanup's (runtime/cleanup/): a delete conditional on the version cleanup judged.
// applyEndpoints() is the sharded write: one shard's endpoints by server-side apply, under a field
// manager of its own, so shard leaders write disjoint items of the one object (vtep-apply.ts).
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { OWNER_ANNOTATION } from '../../machines/domain/ownership.js';
import { kubeCall, type KubeClients } from './client.js';
import { KubeApplyConflictError, KubeError, KubeFencedError, toKubeError } from './errors.js';
import { ListWatch, type KubeObject, type ListWatchOptions } from './list-watch.js';
import { customObjectsTarget } from './targets.js';
import { applyConfiguration, isApplied, type ApplyWanted } from './vtep-apply.js';

export const VTEP_GROUP = 'cilium.io';
export const VTEP_VERSION = 'v2';
export const VTEP_PLURAL = 'ciliumvtepconfigs';
export const VTEP_KIND = 'CiliumVTEPConfig';
export const DEFAULT_VTEP_CONFIG_NAME = 'hybrid-gateway';

export interface VtepEndpoint {
  readonly name: string;
  readonly tunnelEndpoint: string;
  readonly cidr: string;
  readonly mac: string;
}

/** Who writes: the owner annotation's value, and the other owner the ownership check found free. */
export interface VtepOwner {
  /** `namespace/name` of this installation's Lease. */
  readonly key: string;
  /** Another owner's annotation this write may replace (its Lease was judged gone or expired). */
  readonly replaceable?: string | undefined;
}

/** The object names another installation as its owner (code OWNED_ELSEWHERE, the statechart's guard). */
export class VtepOwnedElsewhereError extends Error {
  readonly code = 'OWNED_ELSEWHERE';
  readonly retryable = false;
  constructor(
    readonly objectName: string,
    readonly owner: string,
  ) {
    super(`CiliumVTEPConfig ${objectName} is owned by Lease ${owner.slice(0, 120)}, another installation; not written`);
    this.name = 'VtepOwnedElsewhereError';
  }
}

/** The owner annotation of an object, '' when it has none. */
export function ownerOf(obj: unknown): string {
  const ann = obj !== null && typeof obj === 'object' ? (obj as KubeObject).metadata?.annotations : undefined;
  const v = ann !== null && typeof ann === 'object' ? (ann as Record<string, unknown>)[OWNER_ANNOTATION] : undefined;
  return typeof v === 'string' ? v : '';
}

export type VtepUpsertAction = 'created' | 'updated' | 'unchanged';

export interface VtepUpsertResult {
  readonly action: VtepUpsertAction;
  readonly resourceVersion: string | undefined;
  /** Conflicts (409) absorbed on the way. */
  readonly conflicts: number;
}

export interface VtepConfigOptions {
  readonly clients: KubeClients;
  /** Default hybrid-gateway. */
  readonly name?: string;
  /** Conflict retries inside one upsert (default 5). */
  readonly maxConflictRetries?: number;
  /** Per-request timeout (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Labels put on the object when this adapter creates it. */
  readonly labels?: Record<string, string>;
}

/** spec.endpoints read defensively: undefined when the shape is not the expected one. */
export function readEndpoints(obj: unknown): VtepEndpoint[] | undefined {
  if (obj === null || typeof obj !== 'object') return undefined;
  const spec = (obj as { spec?: unknown }).spec;
  if (spec === null || typeof spec !== 'object') return undefined;
  const eps = (spec as { endpoints?: unknown }).endpoints;
  if (!Array.isArray(eps)) return undefined;
  const out: VtepEndpoint[] = [];
  for (const e of eps) {
    if (e === null || typeof e !== 'object') return undefined;
    const r = e as Record<string, unknown>;
    if (typeof r.name !== 'string' || typeof r.tunnelEndpoint !== 'string' || typeof r.cidr !== 'string' || typeof r.mac !== 'string') return undefined;
    out.push({ name: r.name, tunnelEndpoint: r.tunnelEndpoint, cidr: r.cidr, mac: r.mac });
  }
  return out;
}

/**
 * Equal when spec.endpoints holds the same endpoints in the same order, judged on the four fields this
 * adapter writes. Other spec fields, other endpoint fields, metadata and status do not count.
 */
export function vtepSpecEquals(obj: unknown, endpoints: readonly VtepEndpoint[]): boolean {
  const have = readEndpoints(obj);
  if (have === undefined || have.length !== endpoints.length) return false;
  return endpoints.every((e, i) => {
    const h = have[i]!;
    return h.name === e.name && h.tunnelEndpoint === e.tunnelEndpoint && h.cidr === e.cidr && h.mac === e.mac;
  });
}

function validateEndpoints(endpoints: readonly VtepEndpoint[]): void {
  const names = new Set<string>();
  for (const e of endpoints) {
    for (const k of ['name', 'tunnelEndpoint', 'cidr', 'mac'] as const) {
      if (typeof e[k] !== 'string' || e[k] === '') throw new KubeError('BadRequest', `CiliumVTEPConfig endpoint: ${k} must be a non-empty string`, false);
    }
    if (names.has(e.name)) throw new KubeError('BadRequest', `CiliumVTEPConfig endpoint: duplicate name ${e.name}`, false);
    names.add(e.name);
  }
}

/** How old a read upsert() may still write from (the ownership check and the write are one hop apart). */
export const REUSE_READ_MS = 1000;

export class VtepConfigClient {
  readonly name: string;
  private readonly clients: KubeClients;
  private readonly maxConflictRetries: number;
  private readonly requestTimeoutMs: number;
  private readonly labels: Record<string, string> | undefined;
  /**
   * The object as the last get() saw it (undefined: absent). The leader reads the object to
   * judge its ownership and writes it right after: upsert() takes this read instead of a
   * second GET when it is at most REUSE_READ_MS old, once. Safe under optimistic concurrency:
   * if the object changed meanwhile, the PUT (its resourceVersion) or the POST is refused
   * with 409 Conflict / AlreadyExists, and upsert reads again.
   */
  private lastRead: { readonly obj: KubeObject | undefined; readonly atMs: number } | undefined;

  constructor(opts: VtepConfigOptions) {
    this.clients = opts.clients;
    this.name = opts.name ?? DEFAULT_VTEP_CONFIG_NAME;
    this.maxConflictRetries = opts.maxConflictRetries ?? 5;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.labels = opts.labels;
  }

  private ref(): { group: string; version: string; plural: string; name: string } {
    return { group: VTEP_GROUP, version: VTEP_VERSION, plural: VTEP_PLURAL, name: this.name };
  }

  /** The current object, or undefined when it does not exist. */
  async get(signal?: AbortSignal): Promise<KubeObject | undefined> {
    try {
      const raw: unknown = await kubeCall(`get ciliumvtepconfig ${this.name}`, { signal, timeoutMs: this.requestTimeoutMs }, (o) =>
        this.clients.custom.getClusterCustomObject(this.ref(), o),
      );
      if (raw === null || typeof raw !== 'object') throw new KubeError('Malformed', `get ciliumvtepconfig ${this.name}: not an object`, true);
      this.lastRead = { obj: raw as KubeObject, atMs: performance.now() };
      return raw as KubeObject;
    } catch (err) {
      this.lastRead = undefined;
      const ke = toKubeError(err, `get ciliumvtepconfig ${this.name}`, signal);
      if (ke.code === 'NotFound') {
        this.lastRead = { obj: undefined, atMs: performance.now() };
        return undefined;
      }
      throw ke;
    }
  }

  /** The last read if fresh enough to write from (see lastRead), consumed. */
  private takeFreshRead(): { obj: KubeObject | undefined } | undefined {
    const r = this.lastRead;
    this.lastRead = undefined;
    return r !== undefined && performance.now() - r.atMs <= REUSE_READ_MS ? r : undefined;
  }

  /**
   * Makes spec.endpoints equal `endpoints`: create when missing, replace when different,
   * nothing when equal. Throws KubeFencedError once `signal` is aborted, KubeError otherwise
   * (Conflict after maxConflictRetries).
   */
  /**
   * The object a write starts from: on a write's first attempt the read made just before (the
   * ownership check), if fresh; else (a retry, or no such read) read now. Only a read made outside
   * the write is ever reused.
   */
  private async readForWrite(first: boolean, signal: AbortSignal, what: string): Promise<{ cur: KubeObject | undefined; reused: boolean }> {
    try {
      const fresh = first ? this.takeFreshRead() : undefined;
      const cur = fresh !== undefined ? fresh.obj : await this.get(signal);
      this.lastRead = undefined;
      return { cur, reused: fresh !== undefined };
    } catch (err) {
      if (signal.aborted) throw new KubeFencedError(what, { cause: err });
      throw err;
    }
  }

  async upsert(endpoints: readonly VtepEndpoint[], signal: AbortSignal, owner?: VtepOwner): Promise<VtepUpsertResult> {
    validateEndpoints(endpoints);
    const desiredSpec = { endpoints: endpoints.map((e) => ({ name: e.name, tunnelEndpoint: e.tunnelEndpoint, cidr: e.cidr, mac: e.mac })) };
    let conflicts = 0;
    let first = true;
    for (;;) {
      if (signal.aborted) throw new KubeFencedError(`upsert ciliumvtepconfig ${this.name}`);
      const { cur, reused } = await this.readForWrite(first, signal, `upsert ciliumvtepconfig ${this.name}`);
      first = false;
      const curOwner = cur === undefined ? '' : ownerOf(cur);
      if (owner !== undefined && curOwner !== '' && curOwner !== owner.key && curOwner !== owner.replaceable) {
        throw new VtepOwnedElsewhereError(this.name, curOwner);
      }
      if (cur !== undefined && vtepSpecEquals(cur, endpoints) && (owner === undefined || curOwner === owner.key)) {
        // A write is refused if the object changed since the read; "nothing to write" is not: confirm it with a read of our own.
        if (reused) continue;
        return { action: 'unchanged', resourceVersion: cur.metadata?.resourceVersion, conflicts };
      }
      const annotations = owner === undefined ? undefined : { [OWNER_ANNOTATION]: owner.key };
      try {
        let saved: unknown;
        if (cur === undefined) {
          const body = {
            apiVersion: `${VTEP_GROUP}/${VTEP_VERSION}`,
            kind: VTEP_KIND,
            metadata: { name: this.name, ...(this.labels ? { labels: this.labels } : {}), ...(annotations ? { annotations } : {}) },
            spec: desiredSpec,
          };
          saved = await kubeCall(`create ciliumvtepconfig ${this.name}`, { signal, timeoutMs: this.requestTimeoutMs, write: true }, (o) =>
            this.clients.custom.createClusterCustomObject({ group: VTEP_GROUP, version: VTEP_VERSION, plural: VTEP_PLURAL, body }, o),
          );
        } else {
          // The rest of spec (a defaulted cidrMask, fields of a newer Cilium) is not ours: keep it.
          const curSpec = cur.spec !== null && typeof cur.spec === 'object' && !Array.isArray(cur.spec) ? (cur.spec as Record<string, unknown>) : {};
          const meta = annotations === undefined ? cur.metadata : { ...cur.metadata, annotations: { ...(cur.metadata?.annotations ?? {}), ...annotations } };
          const body = { ...cur, metadata: meta, apiVersion: `${VTEP_GROUP}/${VTEP_VERSION}`, kind: VTEP_KIND, spec: { ...curSpec, ...desiredSpec } };
          saved = await kubeCall(`update ciliumvtepconfig ${this.name}`, { signal, timeoutMs: this.requestTimeoutMs, write: true }, (o) =>
            this.clients.custom.replaceClusterCustomObject({ ...this.ref(), body }, o),
          );
        }
        const rv = saved !== null && typeof saved === 'object' ? (saved as KubeObject).metadata?.resourceVersion : undefined;
        return { action: cur === undefined ? 'created' : 'updated', resourceVersion: rv, conflicts };
      } catch (err) {
        const ke = toKubeError(err, `upsert ciliumvtepconfig ${this.name}`, signal);
        if ((ke.code === 'Conflict' || ke.code === 'AlreadyExists') && conflicts < this.maxConflictRetries) {
          conflicts += 1;
          continue; // re-read and try again
        }
        throw ke;
      }
    }
  }

  /**
   * One shard's endpoints by server-side apply (PATCH application/apply-patch+yaml, field manager
   * `fieldManager`): the configuration holds only the name, the owner annotation (the same value for
   * every shard, so shared), the labels and spec.endpoints = `endpoints`. Endpoints other managers
   * applied stay theirs; those this manager applied before and omits now the API server removes.
   * Reads first and sends nothing when the object holds these endpoints and this manager's recorded
   * fields are exactly these (Cilium's status writes cost nothing: 'unchanged').
   * Ownership as upsert(): VtepOwnedElsewhereError, before anything is sent, for an owner that is
   * neither `owner.key` nor `owner.replaceable`. The apply carries the resourceVersion of the read it
   * judged, so a change in between is a 409 that re-reads (bounded by maxConflictRetries). force is
   * false, except when taking the object over from `owner.replaceable` (its managers' annotation is
   * then ours to take, as upsert's PUT takes it); a field another manager owns with another value is
   * a KubeApplyConflictError (not retried here); `opts.force` applies with force (the statechart's
   * `reclaiming`: fields of this shard's own endpoints a hand edit took). Fenced by `signal` as every write.
   */
  async applyEndpoints(fieldManager: string, endpoints: readonly VtepEndpoint[], signal: AbortSignal, owner: VtepOwner, opts: { force?: boolean } = {}): Promise<VtepUpsertResult> {
    const what = `apply ciliumvtepconfig ${this.name} as ${fieldManager}`;
    if (fieldManager === '') throw new KubeError('BadRequest', `${what}: a field manager is required`, false);
    validateEndpoints(endpoints);
    const wanted: ApplyWanted = { apiVersion: `${VTEP_GROUP}/${VTEP_VERSION}`, kind: VTEP_KIND, name: this.name, ownerKey: owner.key, endpoints, labels: this.labels };
    let conflicts = 0;
    let first = true;
    for (;;) {
      if (signal.aborted) throw new KubeFencedError(what);
      const { cur, reused } = await this.readForWrite(first, signal, what);
      first = false;
      const curOwner = cur === undefined ? '' : ownerOf(cur);
      if (curOwner !== '' && curOwner !== owner.key && curOwner !== owner.replaceable) throw new VtepOwnedElsewhereError(this.name, curOwner);
      if (isApplied(cur, fieldManager, wanted)) {
        if (reused) continue;
        return { action: 'unchanged', resourceVersion: cur?.metadata?.resourceVersion, conflicts };
      }
      const body = applyConfiguration(wanted, cur?.metadata?.resourceVersion);
      // opts.force: the caller takes back fields of its own endpoints that a hand edit made someone else's.
      const force = opts.force === true || (curOwner !== '' && curOwner !== owner.key);
      try {
        const res = await kubeCall(what, { signal, timeoutMs: this.requestTimeoutMs, write: true }, (o) =>
          this.clients.custom.patchClusterCustomObjectWithHttpInfo({ ...this.ref(), body, fieldManager, force }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply, o)),
        );
        const saved: unknown = res.data;
        const rv = saved !== null && typeof saved === 'object' ? (saved as KubeObject).metadata?.resourceVersion : undefined;
        return { action: res.httpStatusCode === 201 ? 'created' : 'updated', resourceVersion: rv, conflicts };
      } catch (err) {
        if (err instanceof KubeApplyConflictError) throw err;
        if (err instanceof KubeError && err.code === 'Conflict' && conflicts < this.maxConflictRetries) {
          conflicts += 1;
          continue; // the object changed since the read: judge it again
        }
        throw err;
      }
    }
  }

  /**
   * Deletes the object if it is still at `resourceVersion` (a delete precondition: had anyone written
   * it since it was read, the server answers 409 Conflict and nothing is deleted). 'absent' when it
   * is gone already. Cleanup uses it; the gateway never deletes.
   */
  async deleteIfUnchanged(resourceVersion: string | undefined, signal?: AbortSignal): Promise<'deleted' | 'absent'> {
    const what = `delete ciliumvtepconfig ${this.name}`;
    const body = resourceVersion === undefined ? undefined : { preconditions: { resourceVersion } };
    try {
      await kubeCall(what, { signal, timeoutMs: this.requestTimeoutMs, write: true }, (o) => this.clients.custom.deleteClusterCustomObject({ ...this.ref(), ...(body ? { body } : {}) }, o));
      return 'deleted';
    } catch (err) {
      const ke = toKubeError(err, what, signal);
      if (ke.code === 'NotFound') return 'absent';
      throw ke;
    }
  }

  /**
   * Watches the object (list+watch on its name, restarted after errors): `onChange(obj)` on
   * every create/edit, `onChange(undefined)` when it is deleted or absent after a list. The
   * leader calls upsert() from there to restore it.
   */
  watch(onChange: (obj: KubeObject | undefined) => void, opts: ListWatchOptions & { onError?: (err: KubeError) => void } = {}): { stop(): Promise<void> } {
    const target = customObjectsTarget(this.clients, { group: VTEP_GROUP, version: VTEP_VERSION, plural: VTEP_PLURAL }, { fieldSelector: `metadata.name=${this.name}` });
    const lw = new ListWatch(this.clients, target, {
      onSynced: (all) => {
        if (all.length === 0) onChange(undefined);
      },
      onUpsert: (obj) => onChange(obj),
      onDelete: () => onChange(undefined),
      onError: (err) => opts.onError?.(err),
    }, opts).start();
    return { stop: () => lw.stop() };
  }
}
