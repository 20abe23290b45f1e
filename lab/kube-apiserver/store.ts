// The stand-in's storage: one global resourceVersion counter (like etcd's
// revision), objects per resource, and a bounded history of change events that
// watches replay from. A watch from a resourceVersion older than the history
// keeps is answered with 410 Expired, as the real watch cache does.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ApiError } from './errors.js';
import { applyConfig, decodeManaged, encodeManaged, isReset, recordUpdate, type Managers } from './managed-fields.js';
import type { KObj, ResourceDef } from './resources.js';
import { groupVersion, resourceByPlural } from './resources.js';
import { rootType, TypedError, typedErrors } from './typed.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One committed change. `object` and `prev` are frozen copies: never mutate. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly rv: number;
  readonly def: ResourceDef;
  readonly object: KObj;
  /** The object before the change (MODIFIED, DELETED). */
  readonly prev?: KObj;
  /** performance.now() when the change was committed (same clock as the tests' processes). */
  readonly at: number;
}

export type StoreListener = (e: StoreEvent) => void;

/** The `fieldValidation` query parameter: what happens to fields a custom resource's schema does not declare. */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface WriteOptions {
  /** Default 'Warn', as the real server when the parameter is absent (kubectl sends Strict). */
  readonly fieldValidation?: FieldValidation;
  /** Receives the warnings the server sends back as `Warning: 299 - "..."` headers. */
  readonly warnings?: string[];
  /**
   * The field manager the write is recorded under in metadata.managedFields (operation Update): the
   * request's fieldManager, else its User-Agent's program name. Default DEFAULT_FIELD_MANAGER.
   */
  readonly manager?: string;
}

/** A server-side apply: the manager is required, `force` takes fields other managers own. */
export interface ApplyOptions extends WriteOptions {
  readonly manager: string;
  readonly force: boolean;
}

/** What the real server records when a request names no manager and sends no User-Agent (buildManagerInfo). */
export const DEFAULT_FIELD_MANAGER = 'unknown';

/** apply() computed managedFields itself: create/replace store them as they are. */
const KEEP_FIELDS = true;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Go's GroupVersionKind.String(), as the typed-conversion error prints it. */
function gvkString(def: ResourceDef): string {
  return `${def.group}/${def.version}, Kind=${def.kind}`;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/** Equal as decoded JSON (map key order does not matter, as apiequality.Semantic.DeepEqual on unstructured objects). */
function semanticEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function withoutMetadata(o: KObj): Record<string, unknown> {
  const { metadata: _m, ...rest } = o;
  return rest;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function keyOf(ns: string | undefined, name: string): string {
  return `${ns ?? ''}/${name}`;
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

export interface StoreOptions {
  /** Change events kept for watches to resume from (default 1000). */
  historyLimit?: number;
  /** First resourceVersion (default 1000, so clients never rely on small numbers). */
  initialResourceVersion?: number;
  /**
   * Apply the CRD schemas' `default`s (default true, as the API server does). The published
   * CiliumVTEPConfig schema defaults spec.cidrMask to "255.255.255.0"; the object read back on EKS
   * in AWS's walkthrough had no cidrMask, so false models a build whose CRD has no such default.
   */
  crdDefaults?: boolean;
}

export class Store {
  private rvCounter: number;
  private readonly objects = new Map<ResourceDef, Map<string, KObj>>();
  private readonly history: StoreEvent[] = [];
  private readonly historyLimit: number;
  /** A watch may start from rv >= this; older answers 410 Expired. */
  private minWatchRV: number;
  private readonly listeners = new Set<StoreListener>();
  /** Each resource's objects in key order, rebuilt on the first list after a change. */
  private readonly sorted = new Map<ResourceDef, KObj[]>();
  private readonly crdDefaults: boolean;

  constructor(opts: StoreOptions = {}) {
    this.crdDefaults = opts.crdDefaults ?? true;
    this.historyLimit = opts.historyLimit ?? 1000;
    this.rvCounter = opts.initialResourceVersion ?? 1000;
    this.minWatchRV = this.rvCounter;
  }

  /** The current global resourceVersion (of the latest committed change). */
  get resourceVersion(): number {
    return this.rvCounter;
  }

  /** Oldest resourceVersion a watch may still start from. */
  get oldestWatchableResourceVersion(): number {
    return this.minWatchRV;
  }

  private bucket(def: ResourceDef): Map<string, KObj> {
    let m = this.objects.get(def);
    if (m === undefined) {
      m = new Map();
      this.objects.set(def, m);
    }
    return m;
  }

  /** Every committed change, synchronously, in resourceVersion order. */
  subscribe(fn: StoreListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** History events after `rv` for replay; throws 410 when `rv` is older than the history keeps. */
  since(rv: number): StoreEvent[] {
    if (rv < this.minWatchRV) {
      throw ApiError.gone(`too old resource version: ${rv} (${this.minWatchRV})`);
    }
    return this.history.filter((e) => e.rv > rv);
  }

  /** Forgets all history: every watch resuming from an earlier resourceVersion gets 410. */
  compact(): void {
    this.history.length = 0;
    this.minWatchRV = this.rvCounter;
  }

  private commit(type: WatchEventType, def: ResourceDef, object: KObj, prev: KObj | undefined): StoreEvent {
    const e: StoreEvent = { type, rv: this.rvCounter, def, object, prev, at: performance.now() };
    this.sorted.delete(def);
    this.history.push(e);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift()!;
      this.minWatchRV = dropped.rv;
    }
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch {
        // a listener's failure is its own business
      }
    }
    return e;
  }

  get(def: ResourceDef, ns: string | undefined, name: string): KObj {
    const o = this.bucket(def).get(keyOf(def.namespaced ? ns : undefined, name));
    if (o === undefined) throw ApiError.notFound(def, name);
    return o;
  }

  tryGet(def: ResourceDef, ns: string | undefined, name: string): KObj | undefined {
    return this.bucket(def).get(keyOf(def.namespaced ? ns : undefined, name));
  }

  /**
   * Objects of a resource (in one namespace, or all when ns is undefined) in
   * key order (namespace/name, byte order: etcd's key order, which the real
   * server lists in and continue tokens rely on).
   */
  list(def: ResourceDef, ns?: string): KObj[] {
    let all = this.sorted.get(def);
    if (all === undefined) {
      const keyed = [...this.bucket(def).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      all = keyed.map(([, o]) => o);
      this.sorted.set(def, all);
    }
    return !def.namespaced || ns === undefined ? [...all] : all.filter((o) => o.metadata?.namespace === ns);
  }

  private prepareBody(def: ResourceDef, ns: string | undefined, body: unknown): KObj {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw ApiError.badRequest('the body must be a JSON object');
    const obj = structuredClone(body) as KObj;
    const gv = groupVersion(def);
    if (obj.apiVersion !== undefined && obj.apiVersion !== gv) {
      throw ApiError.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`);
    }
    if (obj.kind !== undefined && obj.kind !== def.kind) {
      throw ApiError.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${def.kind})`);
    }
    obj.apiVersion = gv;
    obj.kind = def.kind;
    if (obj.metadata === undefined || obj.metadata === null || typeof obj.metadata !== 'object') obj.metadata = {};
    const md = obj.metadata;
    if (def.namespaced) {
      if (md.namespace !== undefined && md.namespace !== '' && md.namespace !== ns) {
        throw ApiError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      md.namespace = ns;
    } else {
      delete md.namespace;
    }
    return obj;
  }

  private validateName(def: ResourceDef, name: unknown): asserts name is string {
    if (typeof name !== 'string' || name === '') {
      throw ApiError.invalid(def, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' }]);
    }
    if (name.length > 253 || !NAME_RE.test(name)) {
      throw ApiError.invalid(def, name, [{ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` }]);
    }
  }

  /**
   * What the server's decoder does to a custom resource's body: prunes unknown fields (a warning each,
   * or 400 with fieldValidation=Strict) and applies the schema's defaults.
   */
  private decode(def: ResourceDef, obj: KObj, opts: WriteOptions): void {
    if (def.schema === undefined) return;
    const dropped = def.schema.decode(obj, this.crdDefaults);
    if (dropped.length === 0) return;
    const mode = opts.fieldValidation ?? 'Warn';
    if (mode === 'Strict') {
      throw ApiError.badRequest(
        `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${dropped.map((f) => `unknown field "${f}"`).join(', ')}`,
      );
    }
    if (mode === 'Warn') opts.warnings?.push(...dropped.map((f) => `unknown field "${f}"`));
  }

  /** The schema's causes (422 Invalid), then the resource's own checks. */
  private validateObject(def: ResourceDef, obj: KObj): void {
    if (def.schema !== undefined) {
      const causes = def.schema.validate(obj);
      if (causes.length > 0) throw ApiError.invalid(def, obj.metadata?.name ?? '', causes);
    }
    def.validate?.(obj, def);
  }

  create(def: ResourceDef, ns: string | undefined, body: unknown, opts: WriteOptions = {}, keepFields = false): KObj {
    const obj = this.prepareBody(def, ns, body);
    const md = obj.metadata!;
    const sentFields = md.managedFields;
    if ((md.name === undefined || md.name === '') && typeof md.generateName === 'string' && md.generateName !== '') {
      md.name = `${md.generateName}${randomSuffix()}`;
    }
    this.validateName(def, md.name);
    if (md.resourceVersion !== undefined && md.resourceVersion !== '') {
      throw ApiError.badRequest('resourceVersion should not be set on objects to be created');
    }
    this.decode(def, obj, opts);
    // A custom resource with the status subresource cannot set status on create (customResourceStrategy.PrepareForCreate).
    if (def.hasStatus && def.isCustom) delete obj.status;
    if (def.generation === 'none') {
      if (typeof md.generation !== 'number') delete md.generation;
    } else md.generation = 1;
    if (!keepFields) this.recordFields(def, undefined, obj, sentFields, undefined, opts);
    this.validateObject(def, obj);
    const key = keyOf(md.namespace, md.name);
    const bucket = this.bucket(def);
    if (bucket.has(key)) throw ApiError.alreadyExists(def, md.name);
    this.rvCounter += 1;
    md.uid = randomUUID();
    md.creationTimestamp = nowRfc3339();
    md.resourceVersion = String(this.rvCounter);
    deepFreeze(obj);
    bucket.set(key, obj);
    this.commit('ADDED', def, obj, undefined);
    return obj;
  }

  /**
   * PUT: optimistic concurrency on metadata.resourceVersion (422 without one unless the resource allows
   * unconditional updates, 409 when stale). On the main resource the stored status is kept; on
   * `subresource` 'status' only status changes. A missing object is created when the resource allows it.
   */
  update(def: ResourceDef, ns: string | undefined, name: string, body: unknown, subresource?: 'status', opts: WriteOptions = {}): KObj {
    const obj = this.prepareBody(def, ns, body);
    const md = obj.metadata!;
    if (md.name !== undefined && md.name !== name) {
      throw ApiError.badRequest(`the name of the object (${String(md.name)}) does not match the name on the URL (${name})`);
    }
    const bucket = this.bucket(def);
    const key = keyOf(def.namespaced ? ns : undefined, name);
    const cur = bucket.get(key);
    if (cur === undefined) {
      if (subresource === undefined && def.allowCreateOnUpdate) return this.create(def, ns, { ...obj, metadata: { ...md, name, resourceVersion: undefined } }, opts);
      throw ApiError.notFound(def, name);
    }
    const rv = md.resourceVersion;
    if (rv === undefined || rv === '') {
      if (!def.allowUnconditionalUpdate) {
        throw ApiError.invalid(def, name, [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
      }
    } else if (rv !== cur.metadata?.resourceVersion) {
      throw ApiError.conflict(def, name);
    }
    return this.replace(def, key, cur, obj, subresource, opts);
  }

  /** PATCH: `apply` computes the new object from a mutable copy of the current one; then as update(). */
  patch(def: ResourceDef, ns: string | undefined, name: string, apply: (cur: KObj) => unknown, subresource?: 'status', opts: WriteOptions = {}): KObj {
    const bucket = this.bucket(def);
    const key = keyOf(def.namespaced ? ns : undefined, name);
    const cur = bucket.get(key);
    if (cur === undefined) throw ApiError.notFound(def, name);
    const patched = apply(structuredClone(cur));
    const obj = this.prepareBody(def, ns, patched);
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== cur.metadata?.resourceVersion) throw ApiError.conflict(def, name);
    if (obj.metadata?.name !== name) throw ApiError.badRequest('metadata.name cannot be changed by a patch');
    return this.replace(def, key, cur, obj, subresource, opts);
  }

  /** The update strategies (main resource or status subresource), validation, and the commit. */
  private replace(def: ResourceDef, key: string, cur: KObj, body: KObj, subresource: 'status' | undefined, opts: WriteOptions, keepFields = false): KObj {
    const sentFields = body.metadata?.managedFields;
    if (body.metadata?.uid !== undefined && body.metadata.uid !== '' && body.metadata.uid !== cur.metadata?.uid) {
      throw ApiError.conflict(def, cur.metadata!.name!, `Precondition failed: UID in precondition: ${String(body.metadata.uid)}, UID in object meta: ${String(cur.metadata?.uid)}`);
    }
    this.decode(def, body, opts);
    let next: KObj;
    if (subresource === 'status') {
      // statusStrategy.PrepareForUpdate: the stored object with the request's status; metadata and spec changes are ignored.
      next = structuredClone<KObj>(cur);
      if (body.status === undefined) delete next.status;
      else next.status = body.status;
    } else {
      next = body;
      if (def.hasStatus) {
        // With the status subresource, the main resource keeps the stored status.
        if (cur.status === undefined) delete next.status;
        else next.status = structuredClone(cur.status);
      }
    }
    const md = (next.metadata ??= {});
    md.name = cur.metadata!.name;
    if (def.namespaced) md.namespace = cur.metadata!.namespace;
    md.uid = cur.metadata!.uid;
    md.creationTimestamp = cur.metadata!.creationTimestamp;
    // Requests cannot set the generation (rest.BeforeUpdate); the strategy bumps it.
    const gen = cur.metadata?.generation;
    if (typeof gen === 'number') md.generation = gen;
    else delete md.generation;
    if (subresource === undefined && typeof gen === 'number') {
      const changed =
        def.generation === 'nonMetadata'
          ? !semanticEqual(withoutMetadata(next), withoutMetadata(cur))
          : def.generation === 'spec' && !semanticEqual(next.spec, cur.spec);
      if (changed) md.generation = gen + 1;
    }
    if (keepFields) {
      if (sentFields === undefined) delete md.managedFields;
      else md.managedFields = sentFields;
    } else this.recordFields(def, cur, next, subresource === undefined ? sentFields : undefined, subresource, opts);
    this.validateObject(def, next);
    return this.commitUpdate(def, key, cur, next);
  }

  /**
   * metadata.managedFields of `next` after an Update by opts.manager. The managers start from the
   * ones the request sent when they decode (a client may rewrite them; `[{}]` clears them), else from
   * the live object's (decodeLiveOrNew; a /status write always starts from the live ones).
   */
  private recordFields(def: ResourceDef, cur: KObj | undefined, next: KObj, sent: unknown, subresource: 'status' | undefined, opts: WriteOptions): void {
    const live: Managers = decodeManaged(cur?.metadata?.managedFields) ?? new Map<string, never>();
    let base: Managers = live;
    if (isReset(sent)) base = new Map();
    else {
      const fromRequest = decodeManaged(sent);
      if (fromRequest !== undefined && fromRequest.size > 0) base = fromRequest;
    }
    const writer = { manager: opts.manager ?? DEFAULT_FIELD_MANAGER, apiVersion: groupVersion(def), ...(subresource ? { subresource } : {}) };
    let managers: Managers;
    try {
      managers = recordUpdate(rootType(def.schema?.schema), cur, next, base, writer, nowRfc3339());
    } catch (e) {
      if (!(e instanceof TypedError)) throw e;
      // UpdateNoErrors: an object the field manager cannot type (validation refuses it next) loses its managedFields.
      managers = new Map();
    }
    const encoded = encodeManaged(managers);
    if (encoded === undefined) delete next.metadata!.managedFields;
    else next.metadata!.managedFields = encoded;
  }

  /**
   * Server-side apply (PATCH application/apply-patch+yaml) of `config` by opts.manager: merged into
   * the object by its schema, or creating it when absent (created: true); then the same pruning,
   * defaulting, validation, strategies and optimistic concurrency as any write. Throws 409 with
   * FieldManagerConflict causes when the apply would change fields other managers own (unless
   * opts.force), 409 Conflict for a stale metadata.resourceVersion in the configuration.
   */
  apply(def: ResourceDef, ns: string | undefined, name: string, config: unknown, subresource: 'status' | undefined, opts: ApplyOptions): { object: KObj; created: boolean } {
    const gv = groupVersion(def);
    if (!isObject(config) || config.apiVersion !== gv) {
      const sent = isObject(config) && typeof config.apiVersion === 'string' ? config.apiVersion : '';
      throw ApiError.badRequest(`Incorrect version specified in apply patch. Specified patch version: ${sent}, expected: ${gv}`);
    }
    if (config.kind !== def.kind) throw ApiError.badRequest(`the kind in the data (${typeof config.kind === 'string' ? config.kind : ''}) does not match the expected kind (${def.kind})`);
    const md = isObject(config.metadata) ? config.metadata : {};
    if (md.managedFields !== undefined) throw ApiError.badRequest('metadata.managedFields must be nil');
    const type = rootType(def.schema?.schema);
    const errs = typedErrors(config, type);
    if (errs.length > 0) {
      // A plain error in the real server, so a 500 without a reason (kubernetes/kubernetes#122480).
      const what = errs.length === 1 ? errs[0]! : ['errors:', ...errs.map((e) => `  ${e}`)].join('\n');
      throw new ApiError(500, '', `failed to create typed patch object (${typeof md.namespace === 'string' ? md.namespace : ''}/${typeof md.name === 'string' ? md.name : ''}; ${gvkString(def)}): ${what}`);
    }
    const key = keyOf(def.namespaced ? ns : undefined, name);
    const cur = this.bucket(def).get(key);
    if (cur === undefined && subresource !== undefined) throw ApiError.notFound(def, name);
    // The strategies' reset fields: through the main resource status is not the writer's, through /status only status is.
    const cfg: Record<string, unknown> = structuredClone(config);
    if (def.hasStatus && subresource === 'status') {
      for (const k of Object.keys(cfg)) if (!['apiVersion', 'kind', 'metadata', 'status'].includes(k)) delete cfg[k];
      const { name: n, namespace: nsp, resourceVersion: rv, uid } = md;
      cfg.metadata = Object.fromEntries(Object.entries({ name: n, namespace: nsp, resourceVersion: rv, uid }).filter(([, v]) => v !== undefined));
    } else if (def.hasStatus) delete cfg.status;
    const base: Managers = decodeManaged(cur?.metadata?.managedFields) ?? new Map<string, never>();
    const writer = { manager: opts.manager, apiVersion: gv, ...(subresource ? { subresource } : {}) };
    let applied: ReturnType<typeof applyConfig>;
    try {
      applied = applyConfig(type, cur, cfg, base, writer, opts.force, nowRfc3339());
    } catch (e) {
      if (!(e instanceof TypedError)) throw e;
      throw new ApiError(500, '', `failed to create typed live object (${ns ?? ''}/${name}; ${gvkString(def)}): ${e.message}`);
    }
    const { object, managers } = applied;
    const merged = object as KObj;
    const mmd = (merged.metadata ??= {});
    const encoded = encodeManaged(managers);
    if (encoded === undefined) delete mmd.managedFields;
    else mmd.managedFields = encoded;
    if (mmd.name !== name) throw ApiError.badRequest(`the name of the object (${String(mmd.name ?? '')}) does not match the name on the URL (${name})`);
    if (cur === undefined) {
      // Store.Update checks a resourceVersion only against an existing object.
      delete mmd.resourceVersion;
      return { object: this.create(def, ns, merged, opts, KEEP_FIELDS), created: true };
    }
    const obj = this.prepareBody(def, ns, merged);
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== cur.metadata?.resourceVersion) throw ApiError.conflict(def, name);
    return { object: this.replace(def, key, cur, obj, subresource, opts, KEEP_FIELDS), created: false };
  }

  private commitUpdate(def: ResourceDef, key: string, cur: KObj, next: KObj): KObj {
    const md = next.metadata!;
    // A no-op update does not bump the resourceVersion (the real server skips the etcd write).
    const { resourceVersion: _a, ...mdNext } = md;
    const { resourceVersion: _b, ...mdCur } = cur.metadata!;
    if (semanticEqual({ ...next, metadata: mdNext }, { ...cur, metadata: mdCur })) return cur;
    this.rvCounter += 1;
    md.resourceVersion = String(this.rvCounter);
    deepFreeze(next);
    this.bucket(def).set(key, next);
    this.commit('MODIFIED', def, next, cur);
    return next;
  }

  delete(def: ResourceDef, ns: string | undefined, name: string, preconditions?: { resourceVersion?: string; uid?: string }): KObj {
    const bucket = this.bucket(def);
    const key = keyOf(def.namespaced ? ns : undefined, name);
    const cur = bucket.get(key);
    if (cur === undefined) throw ApiError.notFound(def, name);
    if (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== cur.metadata?.resourceVersion) {
      throw ApiError.conflict(def, name, `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${String(cur.metadata?.resourceVersion)}`);
    }
    if (preconditions?.uid !== undefined && preconditions.uid !== cur.metadata?.uid) {
      throw ApiError.conflict(def, name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${String(cur.metadata?.uid)}`);
    }
    bucket.delete(key);
    this.rvCounter += 1;
    // The DELETED event carries the object at the deletion's resourceVersion.
    const gone = structuredClone(cur);
    gone.metadata!.resourceVersion = String(this.rvCounter);
    deepFreeze(gone);
    this.commit('DELETED', def, gone, cur);
    return gone;
  }

  // ---- conveniences for tests and the lab (by plural name) ----

  /**
   * Create or replace (unconditionally) an object: test setup. It goes through the same pruning,
   * defaulting, validation and strategies as a request (422 for a body the real server refuses); with
   * `status`, the status is then written through the status subresource.
   */
  put(plural: string, body: KObj): KObj {
    const def = resourceByPlural(plural);
    const ns = def.namespaced ? (body.metadata?.namespace ?? 'default') : undefined;
    const name = body.metadata?.name ?? '';
    const cur = this.tryGet(def, ns, name);
    let out =
      cur === undefined
        ? this.create(def, ns, { ...body, metadata: { ...body.metadata, resourceVersion: undefined } })
        : this.update(def, ns, name, { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } });
    if (def.hasStatus && body.status !== undefined && JSON.stringify(out.status) !== JSON.stringify(body.status)) {
      out = this.update(def, ns, name, { ...out, status: body.status }, 'status');
    }
    return out;
  }

  /**
   * Stores an object as it could sit in etcd without passing today's validation (written under an older
   * CRD schema, or straight to etcd): no pruning, defaulting, validation or strategy. Test setup for
   * clients' handling of malformed objects; resourceVersion, uid and timestamps are still assigned.
   */
  inject(plural: string, body: KObj): KObj {
    const def = resourceByPlural(plural);
    const ns = def.namespaced ? (body.metadata?.namespace ?? 'default') : undefined;
    const obj = this.prepareBody(def, ns, body);
    const md = obj.metadata!;
    this.validateName(def, md.name);
    const key = keyOf(md.namespace, md.name);
    const cur = this.bucket(def).get(key);
    this.rvCounter += 1;
    md.uid = cur?.metadata?.uid ?? randomUUID();
    md.creationTimestamp = cur?.metadata?.creationTimestamp ?? nowRfc3339();
    md.resourceVersion = String(this.rvCounter);
    deepFreeze(obj);
    this.bucket(def).set(key, obj);
    this.commit(cur === undefined ? 'ADDED' : 'MODIFIED', def, obj, cur);
    return obj;
  }

  find(plural: string, name: string, namespace?: string): KObj | undefined {
    const def = resourceByPlural(plural);
    return this.tryGet(def, def.namespaced ? (namespace ?? 'default') : undefined, name);
  }

  all(plural: string, namespace?: string): KObj[] {
    return this.list(resourceByPlural(plural), namespace);
  }

  remove(plural: string, name: string, namespace?: string): boolean {
    const def = resourceByPlural(plural);
    const ns = def.namespaced ? (namespace ?? 'default') : undefined;
    if (this.tryGet(def, ns, name) === undefined) return false;
    this.delete(def, ns, name);
    return true;
  }
}
