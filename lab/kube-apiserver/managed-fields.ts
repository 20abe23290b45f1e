// The field manager: metadata.managedFields for every write, and server-side
// apply. Modelled on k8s.io/apimachinery/pkg/util/managedfields/internal
// (fieldmanager.go, managedfieldsupdater.go, stripmeta.go, structuredmerge.go,
// conflict.go, manager.go) over structured-merge-diff merge/update.go
// (Updater.Update, Updater.Apply, prune); sources in lab/README.md.
//  - Update (POST, PUT, non-apply PATCH): the fields the write added or changed
//    move to its manager (operation Update, under fieldManager or the
//    User-Agent's program name); removed fields leave every manager; the
//    manager's time moves only when it gained fields.
//  - Apply: the configuration's fields become the applier's set; fields it
//    applied last time and omits now are removed unless another manager owns
//    them; a field another manager owns that the apply would change is a
//    conflict (409) unless forced, which moves it to the applier; the time
//    moves only when the object changed.
import { ApiError, type StatusCause } from './errors.js';
import { FieldSet, pathString, type FieldPath } from './fieldset.js';
import { compare, deepEqual, mergeValue, removeItems, toFieldSet, type TypeRef } from './typed.js';

export type Operation = 'Apply' | 'Update';

export interface ManagerEntry {
  readonly manager: string;
  readonly operation: Operation;
  readonly apiVersion: string;
  readonly subresource?: string;
  readonly time?: string;
  readonly set: FieldSet;
}

/** Managers by identifier (BuildManagerIdentifier). */
export type Managers = Map<string, ManagerEntry>;

/** Who is writing: the manager name, the operation, and the subresource ('status' or none). */
export interface Writer {
  readonly manager: string;
  readonly apiVersion: string;
  readonly subresource?: 'status';
}

/** The JSON of the entry without fieldsType, fieldsV1 and time (and apiVersion for appliers), as BuildManagerIdentifier. */
export function managerId(e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  const o: Record<string, string> = { manager: e.manager, operation: e.operation };
  if (e.operation === 'Update') o.apiVersion = e.apiVersion;
  if (e.subresource !== undefined && e.subresource !== '') o.subresource = e.subresource;
  return JSON.stringify(o);
}

/** Never in a manager's set (stripmeta.go): identity and server-set metadata. */
const STRIP = new FieldSet();
for (const p of [['apiVersion'], ['kind'], ['metadata'], ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map((f) => ['metadata', f])]) {
  STRIP.insert(p.map((f) => `f:${f}`));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** metadata.managedFields decoded; undefined when they do not decode (the server then keeps the live ones). */
export function decodeManaged(raw: unknown): Managers | undefined {
  const out: Managers = new Map();
  if (raw === undefined || raw === null) return out;
  if (!Array.isArray(raw)) return undefined;
  try {
    for (const e of raw) {
      if (!isObject(e) || (e.operation !== 'Apply' && e.operation !== 'Update')) return undefined;
      if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1') return undefined;
      const entry: ManagerEntry = {
        manager: typeof e.manager === 'string' ? e.manager : '',
        operation: e.operation,
        apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
        ...(typeof e.subresource === 'string' && e.subresource !== '' ? { subresource: e.subresource } : {}),
        ...(typeof e.time === 'string' ? { time: e.time } : {}),
        set: FieldSet.fromFieldsV1(e.fieldsV1 ?? {}),
      };
      const id = managerId(entry);
      if (out.has(id)) return undefined;
      out.set(id, entry);
    }
  } catch {
    return undefined;
  }
  return out;
}

/**
 * `[{}]` or `[]` clears managedFields (isResetManagedFields and its test TestResetManagedFieldsEmptyList;
 * the server-side-apply page says an empty list does not: the code is followed, lab/README.md).
 */
export function isReset(raw: unknown): boolean {
  if (!Array.isArray(raw)) return false;
  return raw.length === 0 || (raw.length === 1 && isObject(raw[0]) && Object.keys(raw[0]).length === 0);
}

/** As stored: sorted by operation, time, manager, apiVersion, subresource (sortEncodedManagedFields); undefined when none. */
export function encodeManaged(m: Managers): Array<Record<string, unknown>> | undefined {
  const seconds = (t: string | undefined): number => (t === undefined ? 0 : Math.floor(Date.parse(t) / 1000));
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const entries = [...m.values()].filter((e) => !e.set.isEmpty());
  entries.sort((p, q) => cmp(p.operation, q.operation) || seconds(p.time) - seconds(q.time) || cmp(p.manager, q.manager) || cmp(p.apiVersion, q.apiVersion) || cmp(p.subresource ?? '', q.subresource ?? ''));
  if (entries.length === 0) return undefined;
  return entries.map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    ...(e.time !== undefined ? { time: e.time } : {}),
    fieldsType: 'FieldsV1',
    fieldsV1: e.set.toFieldsV1(),
    ...(e.subresource !== undefined ? { subresource: e.subresource } : {}),
  }));
}

function withoutManagedFields(o: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(o.metadata) || !('managedFields' in o.metadata)) return o;
  const { managedFields: _m, ...metadata } = o.metadata;
  return { ...o, metadata };
}

function withSet(e: ManagerEntry, set: FieldSet, time?: string): ManagerEntry {
  return { ...e, set, ...(time !== undefined ? { time } : {}) };
}

/** Each other manager loses `lost`; managers left with nothing are dropped. */
function takeFromOthers(m: Managers, self: string, lost: FieldSet): void {
  for (const [id, e] of [...m]) {
    if (id === self) continue;
    const set = e.set.difference(lost);
    if (set.isEmpty()) m.delete(id);
    else m.set(id, withSet(e, set));
  }
}

/**
 * The managers after an Update from `live` (undefined: a create) to `next`, starting from `base`
 * (the live ones, or the request's own managedFields when it sent valid ones).
 */
export function recordUpdate(type: TypeRef, live: Record<string, unknown> | undefined, next: Record<string, unknown>, base: Managers, w: Writer, now: string): Managers {
  const m: Managers = new Map(base);
  const before = live === undefined ? { apiVersion: next.apiVersion, kind: next.kind } : withoutManagedFields(live);
  const c = compare(before, withoutManagedFields(next), type);
  const gained = c.added.union(c.modified).difference(STRIP);
  const removed = c.removed.difference(STRIP);
  const entry: ManagerEntry = { manager: w.manager, operation: 'Update', apiVersion: w.apiVersion, ...(w.subresource ? { subresource: w.subresource } : {}), set: new FieldSet() };
  const id = managerId(entry);
  takeFromOthers(m, id, gained.union(removed));
  const prev = m.get(id);
  const kept = (prev?.set ?? new FieldSet()).difference(removed);
  if (!gained.isEmpty()) m.set(id, withSet(prev ?? entry, kept.union(gained), now));
  else if (prev !== undefined) {
    if (kept.isEmpty()) m.delete(id);
    else m.set(id, withSet(prev, kept));
  }
  return m;
}

export interface ApplyResult {
  readonly object: Record<string, unknown>;
  readonly managers: Managers;
}

/** The Status of an apply refused for conflicts (internal/conflict.go NewConflictError). */
function printManager(e: ManagerEntry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource !== undefined) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += e.time === undefined ? ` using ${e.apiVersion}` : ` using ${e.apiVersion} at ${e.time}`;
  return s;
}

export function conflictError(conflicts: ReadonlyArray<{ readonly id: string; readonly entry: ManagerEntry; readonly path: FieldPath }>): ApiError {
  const causes: StatusCause[] = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c.entry)}`, field: pathString(c.path) }));
  let message: string;
  if (conflicts.length === 1) message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0]!.entry)}: ${pathString(conflicts[0]!.path)}`;
  else {
    const lines: string[] = [];
    for (const id of [...new Set(conflicts.map((c) => c.id))].sort()) {
      const mine = conflicts.filter((c) => c.id === id);
      lines.push(`conflicts with ${printManager(mine[0]!.entry)}:`, ...mine.map((c) => `- ${pathString(c.path)}`));
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}

/**
 * Server-side apply of `config` onto `live` (undefined: the object is created) by `w.manager`;
 * throws the 409 of conflictError() unless `force`.
 */
export function applyConfig(type: TypeRef, live: Record<string, unknown> | undefined, config: Record<string, unknown>, base: Managers, w: Writer, force: boolean, now: string): ApplyResult {
  const m: Managers = new Map(base);
  const before = live === undefined ? { apiVersion: config.apiVersion, kind: config.kind } : withoutManagedFields(live);
  const entry: ManagerEntry = { manager: w.manager, operation: 'Apply', apiVersion: w.apiVersion, ...(w.subresource ? { subresource: w.subresource } : {}), set: toFieldSet(config, type).difference(STRIP) };
  const id = managerId(entry);
  const last = m.get(id);
  m.set(id, last?.time !== undefined ? withSet(entry, entry.set, last.time) : entry);
  let merged = mergeValue(before, config, type) as Record<string, unknown>;
  if (last !== undefined) {
    // prune: what this manager applied last time and omits now goes, unless a manager (it included)
    // owns it now; only fields and items the merged object sets go (addBackOwnedItems, addBackDanglingItems).
    let owned = new FieldSet();
    for (const e of m.values()) owned = owned.union(e.set);
    const gone = last.set.difference(owned).intersection(toFieldSet(merged, type));
    merged = (removeItems(merged, gone, type) ?? {}) as Record<string, unknown>;
  }
  const c = compare(before, merged, type);
  const changed = c.added.union(c.modified);
  const conflicts: Array<{ id: string; entry: ManagerEntry; path: FieldPath }> = [];
  for (const [oid, e] of [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (oid === id) continue;
    for (const path of e.set.intersection(changed).paths()) conflicts.push({ id: oid, entry: e, path });
  }
  if (conflicts.length > 0 && !force) throw conflictError(conflicts);
  takeFromOthers(m, id, changed.union(c.removed));
  if (!deepEqual(before, merged)) m.set(id, withSet(m.get(id)!, m.get(id)!.set, now));
  return { object: merged, managers: m };
}
