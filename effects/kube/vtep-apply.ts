// What one shard's server-side apply of the CiliumVTEPConfig sends, and whether
// it would change anything (pure; VtepConfigClient.applyEndpoints reads, asks,
// and writes only when it would). The configuration holds only what the shard
// manages: the name, the owner annotation (every shard manager applies the same
// value, so they share it), the labels and the shard's endpoints. The API
// server records a manager's fields in metadata.managedFields as FieldsV1
// (https://kubernetes.io/docs/reference/using-api/server-side-apply/): an apply
// is a no-op exactly when the object already holds these values and the
// manager's Apply entry lists exactly these fields; an entry with more fields
// means the server would prune them (an endpoint this shard dropped).
import { OWNER_ANNOTATION } from '../../machines/domain/ownership.js';
import type { KubeObject } from './list-watch.js';

export interface ShardEndpoint {
  readonly name: string;
  readonly tunnelEndpoint: string;
  readonly cidr: string;
  readonly mac: string;
}

export interface ApplyWanted {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly ownerKey: string;
  readonly endpoints: readonly ShardEndpoint[];
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

type FieldsV1 = { [k: string]: FieldsV1 };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True when every one of `endpoints` is in the object as given (others' endpoints may be there too). */
export function vtepEndpointsPresent(obj: unknown, endpoints: readonly ShardEndpoint[]): boolean {
  const spec = isObject(obj) ? obj.spec : undefined;
  const have = isObject(spec) && Array.isArray(spec.endpoints) ? (spec.endpoints as unknown[]) : [];
  return endpoints.every((e) => {
    const h = have.find((x) => isObject(x) && x.name === e.name);
    return isObject(h) && h.tunnelEndpoint === e.tunnelEndpoint && h.cidr === e.cidr && h.mac === e.mac;
  });
}

/** The apply configuration; `resourceVersion` makes it conditional on the object the caller judged. */
export function applyConfiguration(w: ApplyWanted, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: w.apiVersion,
    kind: w.kind,
    metadata: {
      name: w.name,
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      ...(w.labels !== undefined && Object.keys(w.labels).length > 0 ? { labels: { ...w.labels } } : {}),
      annotations: { [OWNER_ANNOTATION]: w.ownerKey },
    },
    spec: { endpoints: w.endpoints.map((e) => ({ name: e.name, tunnelEndpoint: e.tunnelEndpoint, cidr: e.cidr, mac: e.mac })) },
  };
}

/** The fields the server records for that configuration: spec.endpoints is a list-map keyed by name (Cilium's CRD). */
export function appliedFields(w: ApplyWanted): FieldsV1 {
  const metadata: FieldsV1 = { 'f:annotations': { [`f:${OWNER_ANNOTATION}`]: {} } };
  if (w.labels !== undefined && Object.keys(w.labels).length > 0) metadata['f:labels'] = Object.fromEntries(Object.keys(w.labels).map((k) => [`f:${k}`, {}]));
  const out: FieldsV1 = { 'f:metadata': metadata };
  if (w.endpoints.length > 0) {
    const items: FieldsV1 = {};
    for (const e of w.endpoints) items[`k:${JSON.stringify({ name: e.name })}`] = { '.': {}, 'f:cidr': {}, 'f:mac': {}, 'f:name': {}, 'f:tunnelEndpoint': {} };
    out['f:spec'] = { 'f:endpoints': items };
  }
  return out;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

/** The fieldsV1 of `manager`'s Apply entry on the main resource, undefined when it has none. */
export function appliedEntry(obj: KubeObject, manager: string): unknown {
  const entries = obj.metadata?.managedFields;
  if (!Array.isArray(entries)) return undefined;
  const e: unknown = (entries as unknown[]).find((x) => isObject(x) && x.manager === manager && x.operation === 'Apply' && (x.subresource === undefined || x.subresource === ''));
  return isObject(e) ? (e.fieldsV1 ?? {}) : undefined;
}

/** True when applying `w` as `manager` would change nothing: the values are there and the manager owns exactly these fields. */
export function isApplied(obj: KubeObject | undefined, manager: string, w: ApplyWanted): boolean {
  if (obj === undefined) return false;
  const ann = obj.metadata?.annotations;
  if (!isObject(ann) || ann[OWNER_ANNOTATION] !== w.ownerKey) return false;
  for (const [k, v] of Object.entries(w.labels ?? {})) if (obj.metadata?.labels?.[k] !== v) return false;
  if (!vtepEndpointsPresent(obj, w.endpoints)) return false;
  const entry = appliedEntry(obj, manager);
  return entry !== undefined && JSON.stringify(canonical(entry)) === JSON.stringify(canonical(appliedFields(w)));
}

/**
 * True when every field of an apply conflict lies inside one of `endpoints` (this shard's own items,
 * `.spec.endpoints[name="…"]…`): someone edited them with a plain write (kubectl edit, a PUT), which
 * made the editor their manager. Anything else (the owner annotation, another endpoint) is not.
 */
export function conflictsWithinEndpoints(conflicts: ReadonlyArray<{ readonly field: string }>, endpoints: ReadonlyArray<{ readonly name: string }>): boolean {
  if (conflicts.length === 0) return false;
  const own = endpoints.map((e) => `.spec.endpoints[name="${e.name}"]`);
  return conflicts.every((c) => own.some((prefix) => c.field === prefix || c.field.startsWith(`${prefix}.`)));
}
