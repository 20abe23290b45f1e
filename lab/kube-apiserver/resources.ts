// The resources the stand-in serves, with what discovery publishes for them and
// the validation the real API server applies that clients can trip over. The
// two Cilium CRDs carry their published structural schemas (crds/*.json):
// pruning, defaulting and OpenAPI validation as the real server does them.
import { ApiError } from './errors.js';
import { loadCrd, StructuralSchema } from './structural.js';

export type KObj = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown> & {
    name?: string;
    generateName?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    generation?: number;
  };
};

export interface ResourceDef {
  readonly group: string; // '' for core
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly verbs: readonly string[];
  /** PUT without metadata.resourceVersion is allowed (strategy AllowUnconditionalUpdate): Pods and Events; not Leases or custom resources (422). */
  readonly allowUnconditionalUpdate: boolean;
  /**
   * PUT of a missing object creates it (strategy AllowCreateOnUpdate): Leases. (Events allow it too in the
   * real server; here they answer 404, which keeps the gateway's update-then-create path of
   * effects/kube/events.ts, and its test, as they are.)
   */
  readonly allowCreateOnUpdate: boolean;
  readonly isCustom: boolean;
  /** A /status subresource: writes to the main resource keep the stored status (CRDs also drop it on create). */
  readonly hasStatus: boolean;
  /**
   * How metadata.generation is kept: 'nonMetadata' (custom resources: 1 on create, +1 when anything but
   * metadata changes, status excluded by the subresource), 'spec' (Pods: +1 when spec changes),
   * 'none' (Leases, Events: the server never changes it; whatever a create sent stays).
   */
  readonly generation: 'nonMetadata' | 'spec' | 'none';
  /** The CRD's structural schema (custom resources only). */
  readonly schema?: StructuralSchema;
  /** Fields a fieldSelector may name (the server answers 400 for others). */
  readonly fieldSelectors: ReadonlySet<string>;
  /** Throws ApiError (400 BadRequest / 422 Invalid) for a body the real server refuses. */
  readonly validate?: (obj: KObj, def: ResourceDef) => void;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

export function groupVersion(def: ResourceDef): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** plural.group as the API server names a resource in its messages (leases.coordination.k8s.io). */
export function qualified(def: ResourceDef): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}

// RFC3339 with exactly 6 fractional digits: metav1.MicroTime's wire format.
// Go's parser with layout ".000000" refuses any other number of digits.
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

function microTime(obj: KObj, path: string[], def: ResourceDef): void {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return;
  if (typeof cur !== 'string' || !MICRO_TIME.test(cur)) {
    throw ApiError.badRequest(
      `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ` +
        `parsing time ${JSON.stringify(cur)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse (field ${path.join('.')})`,
    );
  }
}

function invalid(def: ResourceDef, name: string, causes: Array<{ field: string; message: string }>): ApiError {
  return ApiError.invalid(def, name, causes);
}

function validateLease(obj: KObj, def: ResourceDef): void {
  microTime(obj, ['spec', 'acquireTime'], def);
  microTime(obj, ['spec', 'renewTime'], def);
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const causes: Array<{ field: string; message: string }> = [];
  const d = spec.leaseDurationSeconds;
  if (d !== undefined && (typeof d !== 'number' || !Number.isInteger(d) || d <= 0)) {
    causes.push({ field: 'spec.leaseDurationSeconds', message: `Invalid value: ${JSON.stringify(d)}: must be greater than 0` });
  }
  const t = spec.leaseTransitions;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < 0)) {
    causes.push({ field: 'spec.leaseTransitions', message: `Invalid value: ${JSON.stringify(t)}: must be greater than or equal to 0` });
  }
  const h = spec.holderIdentity;
  if (h !== undefined && h !== null && typeof h !== 'string') {
    causes.push({ field: 'spec.holderIdentity', message: 'Invalid value: must be a string' });
  }
  if (causes.length > 0) throw invalid(def, obj.metadata?.name ?? '', causes);
}

function validateEvent(obj: KObj, def: ResourceDef): void {
  microTime(obj, ['eventTime'], def);
  const io = obj.involvedObject as Record<string, unknown> | undefined;
  const causes: Array<{ field: string; message: string }> = [];
  if (io === undefined || typeof io !== 'object') causes.push({ field: 'involvedObject', message: 'Required value' });
  else if (typeof io.namespace === 'string' && io.namespace !== '' && io.namespace !== obj.metadata?.namespace) {
    causes.push({ field: 'involvedObject.namespace', message: 'Invalid value: does not match event.namespace' });
  }
  if (causes.length > 0) throw invalid(def, obj.metadata?.name ?? '', causes);
}

const META_FIELDS = ['metadata.name', 'metadata.namespace'];

function def(d: Omit<ResourceDef, 'verbs' | 'fieldSelectors'> & { extraFields?: string[] }): ResourceDef {
  const { extraFields, ...rest } = d;
  return { ...rest, verbs: VERBS, fieldSelectors: new Set([...META_FIELDS, ...(extraFields ?? [])]) };
}

export const RESOURCES: readonly ResourceDef[] = [
  def({
    group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'],
    allowUnconditionalUpdate: true, allowCreateOnUpdate: false, isCustom: false, hasStatus: true, generation: 'spec', extraFields: ['spec.nodeName', 'status.phase'],
  }),
  def({
    group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'],
    allowUnconditionalUpdate: true, allowCreateOnUpdate: false, isCustom: false, hasStatus: false, generation: 'none',
    extraFields: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
      'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    validate: validateEvent,
  }),
  // Read by `doctor` (cilium-config in kube-system): plain data, no validation beyond the store's.
  def({
    group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'],
    allowUnconditionalUpdate: true, allowCreateOnUpdate: false, isCustom: false, hasStatus: false, generation: 'none',
  }),
  // Read by `doctor` (kube-system/aws-node, the VPC CNI's SNAT settings): stored as sent, no controller behind it.
  def({
    group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'],
    allowUnconditionalUpdate: false, allowCreateOnUpdate: false, isCustom: false, hasStatus: true, generation: 'spec',
  }),
  def({
    group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, shortNames: [],
    allowUnconditionalUpdate: false, allowCreateOnUpdate: true, isCustom: false, hasStatus: false, generation: 'none', validate: validateLease,
  }),
  def({
    group: 'cilium.io', version: 'v2', plural: 'ciliumnodes', singular: 'ciliumnode', kind: 'CiliumNode', namespaced: false,
    shortNames: ['cn', 'ciliumn'], allowUnconditionalUpdate: false, allowCreateOnUpdate: false, isCustom: true, hasStatus: true, generation: 'nonMetadata',
    schema: new StructuralSchema(loadCrd('ciliumnodes.cilium.io.json')),
  }),
  def({
    group: 'cilium.io', version: 'v2', plural: 'ciliumvtepconfigs', singular: 'ciliumvtepconfig', kind: 'CiliumVTEPConfig', namespaced: false,
    // The CRD's shortName cvtep is not published here: test/kube/kubectl.test.ts matches kubectl's discovery output without it.
    shortNames: [], allowUnconditionalUpdate: false, allowCreateOnUpdate: false, isCustom: true, hasStatus: true, generation: 'nonMetadata',
    schema: new StructuralSchema(loadCrd('ciliumvtepconfigs.cilium.io.json')),
  }),
  // The CRD objects themselves, for `doctor`'s "is the CRD installed" check. The stand-in serves the two
  // Cilium resources whether or not their CRD object is stored: tests put (or leave out) the object.
  def({
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', singular: 'customresourcedefinition', kind: 'CustomResourceDefinition',
    namespaced: false, shortNames: ['crd', 'crds'], allowUnconditionalUpdate: false, allowCreateOnUpdate: false, isCustom: false, hasStatus: true, generation: 'spec',
  }),
];

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/** By plural name alone (all our plurals are unique): store access for tests. */
export function resourceByPlural(plural: string): ResourceDef {
  const r = RESOURCES.find((x) => x.plural === plural);
  if (r === undefined) throw new Error(`kube-apiserver stand-in: unknown resource ${plural}`);
  return r;
}
