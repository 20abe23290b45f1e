// What structured-merge-diff does with an object and its schema, for
// server-side apply and managedFields (sigs.k8s.io/structured-merge-diff
// typed/{tofieldset,compare,merge,remove,validate,helpers}.go):
//  - the schema's topology: an object with `properties` is a struct (a field
//    is a member of a set only when null or {}; undeclared keys always are),
//    `additionalProperties` a granular map (every key a member),
//    `x-kubernetes-map-type: atomic` a leaf; a list is atomic unless
//    `x-kubernetes-list-type` is `map` (items keyed by
//    `x-kubernetes-list-map-keys`) or `set`;
//  - objects without a schema (the built-in kinds here, which the stand-in
//    has no schemas for): every object a struct, every list atomic;
//    `x-kubernetes-preserve-unknown-fields`: the "deduced" type (maps
//    granular, lists atomic);
//  - metadata follows ObjectMeta (labels/annotations granular maps,
//    ownerReferences keyed by uid, finalizers a set), not the CRD's
//    `metadata: {type: object}`.
import { FieldSet, fieldElement, keyElement, pathString, valueElement, type PathElement } from './fieldset.js';
import type { SchemaProps } from './structural.js';

/** A schema node, or one of the two schema-less topologies. */
export type TypeRef = SchemaProps | 'deduced' | 'loose';

type Shape =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'struct'; readonly fields: Readonly<Record<string, SchemaProps>>; readonly rest: TypeRef | undefined; readonly restMembers: boolean }
  | { readonly kind: 'assoc'; readonly keys: readonly string[] | undefined; readonly elem: TypeRef };

const STR: SchemaProps = { type: 'string' };
const STR_MAP: SchemaProps = { type: 'object', additionalProperties: STR };

/** ObjectMeta's topology (k8s.io/apimachinery/pkg/apis/meta/v1 types.go list/map markers). */
export const OBJECT_META: SchemaProps = {
  type: 'object',
  properties: {
    name: STR, generateName: STR, namespace: STR, selfLink: STR, uid: STR, resourceVersion: STR,
    generation: { type: 'integer' }, creationTimestamp: STR, deletionTimestamp: STR, deletionGracePeriodSeconds: { type: 'integer' },
    labels: STR_MAP,
    annotations: STR_MAP,
    ownerReferences: {
      type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['uid'],
      items: { type: 'object', properties: { apiVersion: STR, kind: STR, name: STR, uid: STR, controller: { type: 'boolean' }, blockOwnerDeletion: { type: 'boolean' } } },
    },
    finalizers: { type: 'array', 'x-kubernetes-list-type': 'set', items: STR },
    managedFields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  },
};

/** The type of a resource's objects: its CRD schema with ObjectMeta for metadata, or schema-less. */
export function rootType(schema: SchemaProps | undefined): SchemaProps {
  if (schema === undefined) return { type: 'object', properties: { metadata: OBJECT_META }, 'x-lab-loose': true };
  return { ...schema, properties: { ...schema.properties, metadata: OBJECT_META } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function resolve(t: TypeRef, v: unknown): Shape {
  if (t === 'deduced' || t === 'loose') {
    if (isObject(v)) return { kind: 'struct', fields: {}, rest: t, restMembers: t === 'deduced' };
    return { kind: 'leaf' };
  }
  const isArray = t.type === 'array' || (t.type === undefined && t.items !== undefined);
  if (isArray) {
    const lt = t['x-kubernetes-list-type'];
    if (lt === 'map' || lt === 'set') return { kind: 'assoc', keys: lt === 'map' ? (t['x-kubernetes-list-map-keys'] ?? []) : undefined, elem: t.items ?? 'deduced' };
    return { kind: 'leaf' };
  }
  const isObj = t.type === 'object' || t.properties !== undefined || t.additionalProperties !== undefined;
  if (!isObj) return t['x-kubernetes-preserve-unknown-fields'] === true && t.type === undefined ? resolve('deduced', v) : { kind: 'leaf' };
  if (t['x-kubernetes-map-type'] === 'atomic') return { kind: 'leaf' };
  const addl = t.additionalProperties;
  const rest: TypeRef | undefined =
    t['x-lab-loose'] === true ? 'loose'
    : addl !== undefined && typeof addl === 'object' ? addl
    : addl === true || t['x-kubernetes-preserve-unknown-fields'] === true || t.properties === undefined ? 'deduced'
    : undefined;
  return { kind: 'struct', fields: t.properties ?? {}, rest, restMembers: t['x-lab-loose'] !== true };
}

function fieldType(sh: Extract<Shape, { kind: 'struct' }>, key: string): { type: TypeRef; declared: boolean } {
  const f = Object.prototype.hasOwnProperty.call(sh.fields, key) ? sh.fields[key] : undefined;
  if (f !== undefined) return { type: f, declared: true };
  return { type: sh.rest ?? 'deduced', declared: false };
}

/** A typed-conversion failure: the real server answers it with a 500 (its error is not a Status). */
export class TypedError extends Error {}

/** The path element of a list-map or set item (helpers.go listItemToPathElement). */
function itemElement(sh: Extract<Shape, { kind: 'assoc' }>, item: unknown): PathElement {
  if (sh.keys === undefined) {
    if (isObject(item) || Array.isArray(item)) throw new TypedError('associative list without keys has an element that\'s a map or list');
    return valueElement(item);
  }
  if (item === null) throw new TypedError('associative list with keys may not have a null element');
  if (!isObject(item)) throw new TypedError('associative list with keys may not have non-map elements');
  const key: Record<string, unknown> = {};
  for (const k of sh.keys) if (Object.prototype.hasOwnProperty.call(item, k)) key[k] = item[k];
  if (sh.keys.length > 0 && Object.keys(key).length === 0) {
    throw new TypedError(`associative list with keys has an element that omits all key fields ${JSON.stringify(sh.keys)} (and doesn't have default values for any key fields)`);
  }
  return keyElement(key);
}

/** Items by path element, first occurrence of each (live objects may hold duplicates). */
function indexItems(sh: Extract<Shape, { kind: 'assoc' }>, list: readonly unknown[]): { pes: PathElement[]; items: Map<PathElement, unknown> } {
  const pes: PathElement[] = [];
  const items = new Map<PathElement, unknown>();
  for (const item of list) {
    const pe = itemElement(sh, item);
    if (items.has(pe)) continue;
    items.set(pe, item);
    pes.push(pe);
  }
  return { pes, items };
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function emptyish(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** Whether v is a container of the kind the shape expects (else it is compared and merged as a leaf). */
function container(sh: Shape, v: unknown): boolean {
  return (sh.kind === 'struct' && isObject(v)) || (sh.kind === 'assoc' && Array.isArray(v));
}

// ---- ToFieldSet ----

function walkSet(v: unknown, t: TypeRef, path: PathElement[], set: FieldSet): void {
  const sh = resolve(t, v);
  if (!container(sh, v)) {
    set.insert(path);
    return;
  }
  if (sh.kind === 'struct') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const { type, declared } = fieldType(sh, k);
      const p = [...path, fieldElement(k)];
      walkSet(x, type, p, set);
      if (x === null || (isObject(x) && Object.keys(x).length === 0) || (!declared && sh.restMembers)) set.insert(p);
    }
  } else if (sh.kind === 'assoc') {
    const { pes, items } = indexItems(sh, v as unknown[]);
    for (const pe of pes) {
      const p = [...path, pe];
      walkSet(items.get(pe), sh.elem, p, set);
      set.insert(p);
    }
  }
}

/** The fields an object sets (TypedValue.ToFieldSet). */
export function toFieldSet(v: unknown, t: TypeRef): FieldSet {
  const set = new FieldSet();
  walkSet(v, t, [], set);
  return set;
}

// ---- Compare ----

export interface Comparison {
  readonly added: FieldSet;
  readonly removed: FieldSet;
  readonly modified: FieldSet;
}

function walkCompare(l: unknown, r: unknown, t: TypeRef, path: PathElement[], c: Comparison): void {
  if (l === undefined && r === undefined) return;
  const lsh = l === undefined ? undefined : resolve(t, l);
  const rsh = r === undefined ? undefined : resolve(t, r);
  const lc = lsh !== undefined && container(lsh, l);
  const rc = rsh !== undefined && container(rsh, r);
  const leaf = (l !== undefined && !lc) || (r !== undefined && !rc) || (emptyish(l) && emptyish(r)) || (lc && rc && lsh.kind !== rsh.kind);
  if (leaf) {
    // A container replaced by a leaf (or the other way round): its descendants come and go too.
    if (lc && !emptyish(l)) walkCompare(l, undefined, t, path, c);
    if (rc && !emptyish(r)) walkCompare(undefined, r, t, path, c);
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
    else if (!deepEqual(l, r)) c.modified.insert(path);
    return;
  }
  const sh = (lsh ?? rsh)!;
  if (sh.kind === 'struct') {
    const lo = (l ?? {}) as Record<string, unknown>;
    const ro = (r ?? {}) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(lo), ...Object.keys(ro)])) walkCompare(lo[k], ro[k], fieldType(sh, k).type, [...path, fieldElement(k)], c);
  } else if (sh.kind === 'assoc') {
    const li = indexItems(sh, (l ?? []) as unknown[]).items;
    const ri = indexItems(sh, (r ?? []) as unknown[]).items;
    for (const pe of new Set([...li.keys(), ...ri.keys()])) walkCompare(li.get(pe), ri.get(pe), sh.elem, [...path, pe], c);
  }
  if (l === undefined) c.added.insert(path);
  else if (r === undefined) c.removed.insert(path);
}

/** Fields added, removed and modified from `l` to `r` (TypedValue.Compare). */
export function compare(l: unknown, r: unknown, t: TypeRef): Comparison {
  const c: Comparison = { added: new FieldSet(), removed: new FieldSet(), modified: new FieldSet() };
  walkCompare(l, r, t, [], c);
  return c;
}

// ---- Merge (the applied configuration wins) ----

function mergeList(sh: Extract<Shape, { kind: 'assoc' }>, l: unknown[], r: unknown[]): unknown[] {
  // merge.go visitListItems: items only in the live list keep their place, the configuration's
  // items come in its order, and items in both follow the configuration's order.
  const L = indexItems(sh, l);
  const R = indexItems(sh, r);
  const shared = R.pes.filter((pe) => L.items.has(pe));
  let si = 0;
  let nextShared = shared[si++];
  const mergedR = new Set<PathElement>();
  const out: unknown[] = [];
  let li = 0;
  let ri = 0;
  while (li < L.pes.length || ri < R.pes.length) {
    if (li < L.pes.length && ri < R.pes.length) {
      const pe = L.pes[li]!;
      if (pe === R.pes[ri]) {
        mergedR.add(pe);
        out.push(mergeValue(L.items.get(pe), R.items.get(pe), sh.elem));
        li++;
        ri++;
        nextShared = shared[si++];
        continue;
      }
      if (R.items.has(pe) && nextShared !== undefined && nextShared !== pe) {
        li++;
        continue;
      }
    }
    if (li < L.pes.length) {
      const pe = L.pes[li]!;
      if (!R.items.has(pe)) {
        out.push(structuredClone(L.items.get(pe)));
        li++;
        continue;
      } else if (mergedR.has(pe)) li++;
    }
    if (ri < R.pes.length) {
      const pe = R.pes[ri]!;
      mergedR.add(pe);
      out.push(mergeValue(L.items.get(pe), R.items.get(pe), sh.elem));
      ri++;
      if (nextShared !== undefined && nextShared === pe) nextShared = shared[si++];
    }
  }
  return out;
}

/** The live value `l` with the configuration `r` merged in (TypedValue.Merge, ruleKeepRHS). */
export function mergeValue(l: unknown, r: unknown, t: TypeRef): unknown {
  if (r === undefined) return structuredClone(l);
  if (l === undefined || l === null || r === null) return structuredClone(r);
  const sh = resolve(t, r);
  if (!container(sh, r) || !container(sh, l) || (emptyish(l) && emptyish(r))) return structuredClone(r);
  if (sh.kind === 'assoc') return mergeList(sh, l as unknown[], r as unknown[]);
  if (sh.kind !== 'struct') return structuredClone(r);
  const lo = l as Record<string, unknown>;
  const ro = r as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(lo), ...Object.keys(ro)])) out[k] = mergeValue(lo[k], ro[k], fieldType(sh, k).type);
  return out;
}

// ---- RemoveItems ----

/**
 * `v` without the fields and items in `set` (TypedValue.RemoveItems). A container left empty is
 * dropped (the real walker leaves null, which the CRD decoder then prunes); an item that stays keeps
 * its key fields.
 */
export function removeItems(v: unknown, set: FieldSet, t: TypeRef): unknown {
  const sh = resolve(t, v);
  if (!container(sh, v) || emptyish(v)) return v;
  if (sh.kind === 'struct') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const pe = fieldElement(k);
      if (set.members.has(pe)) continue;
      const sub = set.children.get(pe);
      const kept = sub === undefined ? x : removeItems(x, sub, fieldType(sh, k).type);
      if (kept !== undefined) out[k] = kept;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  if (sh.kind !== 'assoc') return v;
  const out: unknown[] = [];
  for (const item of v as unknown[]) {
    const pe = itemElement(sh, item);
    if (set.members.has(pe)) continue;
    let sub = set.children.get(pe);
    if (sub !== undefined && sh.keys !== undefined) {
      const keys = new FieldSet();
      for (const k of sh.keys) keys.insert([fieldElement(k)]);
      sub = sub.difference(keys);
    }
    out.push(sub === undefined ? item : (removeItems(item, sub, sh.elem) ?? {}));
  }
  return out.length > 0 ? out : undefined;
}

// ---- Validation of an applied configuration (ObjectToTyped) ----

function walkValidate(v: unknown, t: TypeRef, path: PathElement[], errs: string[]): void {
  const sh = resolve(t, v);
  if (!container(sh, v)) return;
  if (sh.kind === 'struct') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = [...path, fieldElement(k)];
      if (!Object.prototype.hasOwnProperty.call(sh.fields, k) && sh.rest === undefined) errs.push(`${pathString(p)}: field not declared in schema`);
      else walkValidate(x, fieldType(sh, k).type, p, errs);
    }
    return;
  }
  if (sh.kind !== 'assoc') return;
  const seen = new Set<PathElement>();
  (v as unknown[]).forEach((item, i) => {
    let pe: PathElement;
    try {
      pe = itemElement(sh, item);
    } catch (e) {
      errs.push(`${pathString(path)}: element ${i}: ${(e as Error).message}`);
      return;
    }
    if (seen.has(pe)) errs.push(`${pathString(path)}: duplicate entries for key ${pathString([pe])}`);
    seen.add(pe);
    walkValidate(item, sh.elem, [...path, pe], errs);
  });
}

/** What the typed conversion of an applied configuration refuses: undeclared fields, unkeyed or duplicate list-map items. */
export function typedErrors(v: unknown, t: TypeRef): string[] {
  const errs: string[] = [];
  walkValidate(v, t, [], errs);
  return errs;
}
