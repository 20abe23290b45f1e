// What the real API server does with a custom resource's body, from its CRD's
// structural OpenAPI v3 schema (k8s.io/apiextensions-apiserver):
//  - pruning: fields the schema does not declare are dropped (reported as
//    warnings, or a 400 with fieldValidation=Strict);
//  - defaulting: `default` values are filled in where a field is absent;
//  - validation: type, pattern, enum, min/max, length, format and required, as
//    422 Invalid with one cause per violation, in the wording of
//    apiextensions-apiserver/pkg/apiserver/validation (kubeOpenAPIResultToFieldErrors)
//    and apimachinery/pkg/util/validation/field;
//  - x-kubernetes-list-type map/set: uniqueness of list-map keys / set items
//    (apiextensions-apiserver/pkg/apiserver/schema/listtype), which JSON Schema
//    cannot say and ajv therefore does not check.
// The schemas are data (crds/*.json, trimmed from Cilium's published CRDs);
// the JSON-Schema keywords are checked by ajv.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { StatusCause } from './errors.js';

/** The subset of JSONSchemaProps that structural schemas use. */
export interface SchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, SchemaProps>;
  additionalProperties?: SchemaProps | boolean;
  items?: SchemaProps;
  required?: string[];
  default?: unknown;
  nullable?: boolean;
  format?: string;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  [k: string]: unknown;
}

/** One CRD version as committed under crds/ (see the `source` block of each file). */
export interface CrdFile {
  source: { repository: string; path: string; commit: string; generatedBy?: string; trimmed?: string };
  group: string;
  version: string;
  names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
  scope: 'Cluster' | 'Namespaced';
  subresources?: { status?: Record<string, never> };
  additionalPrinterColumns?: Array<{ jsonPath: string; name: string; type: string }>;
  openAPIV3Schema: SchemaProps;
}

export function loadCrd(file: string): CrdFile {
  return JSON.parse(readFileSync(new URL(`./crds/${file}`, import.meta.url), 'utf8')) as CrdFile;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function child(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Drops every field the schema does not declare, in place; returns their paths
 * ("spec.endpoints[0].extra"). At the root, apiVersion, kind and metadata are
 * kept (metadata is ObjectMeta, handled by the server, not by the schema).
 */
export function prune(obj: unknown, schema: SchemaProps, path = '', root = true): string[] {
  const dropped: string[] = [];
  if (Array.isArray(obj)) {
    if (schema.items !== undefined) obj.forEach((v, i) => dropped.push(...prune(v, schema.items!, `${path}[${i}]`, false)));
    return dropped;
  }
  if (!isObject(obj)) return dropped;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const key of Object.keys(obj)) {
    if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    const sub = schema.properties?.[key] ?? (isObject(schema.additionalProperties) ? (schema.additionalProperties) : undefined);
    if (sub !== undefined) dropped.push(...prune(obj[key], sub, child(path, key), false));
    else if (!preserve && schema.additionalProperties !== true) {
      delete obj[key];
      dropped.push(child(path, key));
    }
  }
  return dropped;
}

/** Structural defaulting, in place: absent (or null, when not nullable) fields with a `default` get a copy of it. */
export function applyDefaults(obj: unknown, schema: SchemaProps): void {
  if (Array.isArray(obj)) {
    if (schema.items !== undefined) for (const v of obj) applyDefaults(v, schema.items);
    return;
  }
  if (!isObject(obj)) return;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (sub.default !== undefined && (obj[key] === undefined || (obj[key] === null && sub.nullable !== true))) obj[key] = structuredClone(sub.default);
  }
  for (const [key, v] of Object.entries(obj)) {
    const sub = schema.properties?.[key] ?? (isObject(schema.additionalProperties) ? (schema.additionalProperties) : undefined);
    if (sub !== undefined) applyDefaults(v, sub);
  }
}

// ---- validation ----

/** OpenAPI v3 (structural subset) → JSON Schema for ajv: nullable becomes a type union, extensions stay (ignored). */
function toJsonSchema(s: SchemaProps): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties' && isObject(v)) out.properties = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, toJsonSchema(pv as SchemaProps)]));
    else if (k === 'items' && isObject(v)) out.items = toJsonSchema(v);
    else if (k === 'additionalProperties' && isObject(v)) out.additionalProperties = toJsonSchema(v);
    else if (k === 'nullable' || k === 'default' || k.startsWith('x-kubernetes-') || k === 'description') continue;
    else out[k] = v;
  }
  if (s.nullable === true && typeof s.type === 'string') out.type = [s.type, 'null'];
  return out;
}

// The formats Kubernetes checks (k8s.io/kube-openapi/pkg/validation/strfmt) that these schemas use.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const FORMATS: Record<string, (v: string) => boolean> = {
  'date-time': (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)),
  cidr: (v) => {
    const m = /^(.*)\/(\d{1,3})$/.exec(v);
    if (m === null) return false;
    const fam = isIP(m[1]!);
    const bits = Number(m[2]);
    return (fam === 4 && bits <= 32) || (fam === 6 && bits <= 128);
  },
  int32: () => true,
  int64: () => true,
};

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance === undefined) {
    // strict: false — OpenAPI vendor extensions (x-kubernetes-*) are not JSON-Schema keywords.
    ajvInstance = new Ajv({ allErrors: true, strict: false, logger: false, validateFormats: true });
    for (const [name, fn] of Object.entries(FORMATS)) ajvInstance.addFormat(name, { type: 'string', validate: fn });
  }
  return ajvInstance;
}

/** Go's %v / %q of a value in a field error ("Invalid value: <this>: ..."). */
function goValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[]interface {}{${v.map(goValue).join(', ')}}`;
  return `map[string]interface {}{${Object.entries(v as Json).map(([k, x]) => `${JSON.stringify(k)}:${goValue(x)}`).join(', ')}}`;
}

/** The JSON type name go-openapi reports for a value of the wrong type. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** ajv's instancePath ("/spec/endpoints/0/mac") → the field path Kubernetes prints ("spec.endpoints[0].mac"). */
function fieldPath(root: unknown, instancePath: string): { path: string; value: unknown } {
  let path = '';
  let cur: unknown = root;
  for (const raw of instancePath.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path += `[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      path = child(path, seg);
      cur = isObject(cur) ? cur[seg] : undefined;
    }
  }
  return { path, value: cur };
}

function causeFor(root: unknown, e: ErrorObject): StatusCause {
  const { path, value } = fieldPath(root, e.instancePath);
  const p = e.params as Record<string, unknown>;
  const invalid = (detail: string): StatusCause => ({ field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${goValue(value)}: ${detail}` });
  switch (e.keyword) {
    case 'required':
      return { field: child(path, String(p.missingProperty)), reason: 'FieldValueRequired', message: 'Required value' };
    case 'type':
      return { field: path, reason: 'FieldValueTypeInvalid', message: `Invalid value: ${JSON.stringify(jsonType(value))}: ${path} in body must be of type ${String(p.type)}: ${JSON.stringify(jsonType(value))}` };
    case 'pattern':
      return invalid(`${path} in body should match '${String(p.pattern)}'`);
    case 'enum':
      return { field: path, reason: 'FieldValueNotSupported', message: `Unsupported value: ${goValue(value)}: supported values: ${(p.allowedValues as unknown[]).map((x) => (typeof x === 'string' ? JSON.stringify(x) : JSON.stringify(JSON.stringify(x)))).join(', ')}` };
    case 'maxItems':
      return { field: path, reason: 'FieldValueTooMany', message: `Too many: ${(value as unknown[]).length}: must have at most ${String(p.limit)} items` };
    case 'minItems':
      return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${(value as unknown[]).length}: ${path} in body should have at least ${String(p.limit)} items` };
    case 'maxLength':
      return { field: path, reason: 'FieldValueTooLong', message: `Too long: may not be longer than ${String(p.limit)}` };
    case 'minLength':
      return invalid(`${path} in body should be at least ${String(p.limit)} chars long`);
    case 'minimum':
      return invalid(`${path} in body should be greater than or equal to ${String(p.limit)}`);
    case 'maximum':
      return invalid(`${path} in body should be less than or equal to ${String(p.limit)}`);
    case 'format':
      return invalid(`${path} in body must be of type ${String(p.format)}: ${goValue(value)}`);
    default:
      return invalid(e.message ?? e.keyword);
  }
}

/** x-kubernetes-list-type map (unique key tuples) and set (unique items), as listtype.ValidateListSetsAndMaps. */
export function listTypeCauses(obj: unknown, schema: SchemaProps, path = ''): StatusCause[] {
  const out: StatusCause[] = [];
  if (Array.isArray(obj)) {
    const lt = schema['x-kubernetes-list-type'];
    if (lt === 'set' || lt === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const keyOf = (x: unknown): unknown => {
        if (lt === 'set') return x;
        const k: Json = {};
        if (isObject(x)) for (const name of keys) if (name in x) k[name] = x[name];
        return k;
      };
      const bad = lt === 'map' ? obj.findIndex((x) => x !== null && !isObject(x)) : -1;
      if (bad >= 0) out.push({ field: `${path}[${bad}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${goValue(obj[bad])}: must be an object for an array of list-type map` });
      else {
        // Like validateListSet: each repeated key is reported once, at its second appearance.
        const seen = new Map<string, number>();
        obj.forEach((x, i) => {
          const k = JSON.stringify(keyOf(x));
          const n = seen.get(k) ?? 0;
          seen.set(k, n + 1);
          if (n === 1) out.push({ field: `${path}[${i}]`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${goValue(keyOf(x))}` });
        });
      }
    }
    if (schema.items !== undefined) obj.forEach((x, i) => out.push(...listTypeCauses(x, schema.items!, `${path}[${i}]`)));
    return out;
  }
  if (!isObject(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    const sub = schema.properties?.[k] ?? (isObject(schema.additionalProperties) ? (schema.additionalProperties) : undefined);
    if (sub !== undefined) out.push(...listTypeCauses(v, sub, child(path, k)));
  }
  return out;
}

/** A CRD version's schema, compiled once. */
export class StructuralSchema {
  private readonly check: ValidateFunction;

  constructor(readonly crd: CrdFile) {
    this.check = ajv().compile(toJsonSchema(crd.openAPIV3Schema));
  }

  get schema(): SchemaProps {
    return this.crd.openAPIV3Schema;
  }

  get hasStatusSubresource(): boolean {
    return this.crd.subresources?.status !== undefined;
  }

  /** Pruning then defaulting, in place (what the server's decoder does to a request body); returns the pruned paths. */
  decode(obj: Json, defaults = true): string[] {
    const dropped = prune(obj, this.schema);
    if (defaults) applyDefaults(obj, this.schema);
    return dropped;
  }

  /** Every violation, as metav1.StatusCause (empty when valid). metadata is not the schema's business. */
  validate(obj: Json): StatusCause[] {
    const { metadata: _m, ...rest } = obj;
    const causes: StatusCause[] = [];
    if (!this.check({ ...rest, metadata: {} })) {
      for (const e of this.check.errors ?? []) causes.push(causeFor(obj, e));
    }
    causes.push(...listTypeCauses(obj, this.schema));
    return causes;
  }
}

/**
 * The CustomResourceDefinition object of a trimmed CRD file, as Cilium's chart installs it
 * (apiextensions.k8s.io/v1): for tests that store it, e.g. doctor's "is the CRD installed" check.
 */
export function crdObject(file: string): Record<string, unknown> {
  const f = loadCrd(file);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${f.names.plural}.${f.group}` },
    spec: {
      group: f.group,
      names: f.names,
      scope: f.scope,
      versions: [
        { name: f.version, served: true, storage: true, schema: { openAPIV3Schema: f.openAPIV3Schema }, subresources: f.subresources, additionalPrinterColumns: f.additionalPrinterColumns },
      ],
    },
  };
}
