// The HTTP side of the kube-apiserver stand-in: discovery, the REST verbs on the
// resources of resources.ts, streaming watches (JSON lines, bookmarks, 410 for
// expired resourceVersions), and fault injection. Plain HTTP on 127.0.0.1.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { ApiError, type StatusCause } from './errors.js';
import { Faults, type RequestInfo } from './faults.js';
import { openApiV3Doc, openApiV3Root } from './openapi.js';
import { jsonPatch, mergePatch } from './patch.js';
import { findResource, groupVersion, RESOURCES, type KObj, type ResourceDef } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import type { Store, StoreEvent, WriteOptions } from './store.js';
import { toTable, wantsTable } from './table.js';
import { listen as listenOn } from '../listen.js';

export interface ServerOptions {
  /** Bookmark period of watches that ask for them (default 1000 ms; the real server sends one a minute). */
  bookmarkIntervalMs?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Kubernetes version reported by /version (default 1.35). */
  minor?: string;
}

/**
 * The request a store change is made for: a store listener (called synchronously by the commit)
 * reads it to know which client wrote, e.g. the lab's per-shard single-writer log.
 */
export const requestOrigin = new AsyncLocalStorage<{ readonly remoteAddress: string | undefined; readonly method: string }>();

/** One handled request, kept for tests' reports (bounded). */
export interface RequestRecord {
  /** 1, 2, 3 … in the order the exchanges ended: a reader sees from the first one kept whether older ones were dropped. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly resource: string | undefined;
  readonly name: string | undefined;
  readonly watch: boolean;
  readonly status: number;
  /** Epoch ms when the exchange ended (for a watch: when it closed). */
  readonly atMs: number;
  /** The client's address (in the lab each process has its own namespace and address). */
  readonly remoteAddress: string | undefined;
  /** The request's query string without "?" ("" when none), e.g. resourceVersion and watch. */
  readonly query: string;
}

interface Route {
  def: ResourceDef;
  ns: string | undefined;
  name: string | undefined;
  subresource: 'status' | undefined;
}

interface WatchConn {
  res: ServerResponse;
  stop: () => void;
}

const JSON_TYPE = 'application/json';
const APPLY_TYPE = 'application/apply-patch+yaml';

/** prefixFromUserAgent (handlers/create.go): the User-Agent up to its first "/", printable characters only, at most 128 bytes. */
function prefixFromUserAgent(ua: string | undefined): string {
  let out = '';
  for (const ch of (ua ?? '').split('/')[0]!) {
    if (!/\P{C}/u.test(ch)) continue;
    if (Buffer.byteLength(out + ch) > 128) break;
    out += ch;
  }
  return out;
}

/** A request's options refused (ValidatePatchOptions and friends): 422 on `<Kind>Options.meta.k8s.io`. */
function invalidOptions(kind: 'CreateOptions' | 'UpdateOptions' | 'PatchOptions', causes: StatusCause[]): ApiError {
  const list = causes.map((c) => `${c.field ?? ''}: ${c.message}`).join(', ');
  return new ApiError(422, 'Invalid', `${kind}.meta.k8s.io "" is invalid: ${causes.length > 1 ? `[${list}]` : list}`, { group: 'meta.k8s.io', kind, causes });
}

/** ValidateFieldManager: at most 128 bytes, printable characters only. */
function fieldManagerCauses(fm: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (Buffer.byteLength(fm) > 128) causes.push({ field: 'fieldManager', reason: 'FieldValueTooLong', message: 'Too long: may not be more than 128 bytes' });
  [...fm].forEach((ch, i) => {
    if (!/\P{C}/u.test(ch)) {
      const cp = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      causes.push({ field: 'fieldManager', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(fm)}: invalid character ${cp} (at position ${i})` });
    }
  });
  return causes;
}

/** strconv.ParseBool, as the query parameter decoder reads `force`. */
function parseBool(raw: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  throw ApiError.badRequest(`strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
}

function parseRoute(segments: string[]): Route | ApiError | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 2) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else return undefined;
  let ns: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ns = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return undefined;
  const def = findResource(group, version, rest[0]!);
  if (def === undefined) return ApiError.notFoundPath();
  if (ns !== undefined && !def.namespaced) return ApiError.notFoundPath();
  if (rest.length === 3 && (rest[2] !== 'status' || !def.hasStatus)) return ApiError.notFoundPath();
  if (def.namespaced && ns === undefined && rest.length > 1) return ApiError.notFoundPath();
  return { def, ns, name: rest[1], subresource: rest.length === 3 ? 'status' : undefined };
}

function apiResource(def: ResourceDef): Record<string, unknown> {
  return {
    name: def.plural,
    singularName: def.singular,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: def.verbs,
    ...(def.shortNames.length > 0 ? { shortNames: def.shortNames } : {}),
    ...(def.isCustom ? { categories: ['cilium'] } : {}),
    storageVersionHash: Buffer.from(`${groupVersion(def)}/${def.kind}`).toString('base64').slice(0, 11),
  };
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ v: 'lab/v1', rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: string; rv?: number; after?: string };
    if (o.v === 'lab/v1' && typeof o.rv === 'number' && typeof o.after === 'string') return { rv: o.rv, after: o.after };
  } catch {
    // fall through
  }
  throw ApiError.badRequest('continue key is not valid');
}

export class KubeApiHttpServer {
  readonly faults: Faults;
  readonly requests: RequestRecord[] = [];
  private readonly server: Server;
  private readonly watches = new Set<WatchConn>();
  private readonly sockets = new Set<Socket>();
  private readonly bookmarkIntervalMs: number;
  private inFlightCount = 0;
  private recorded = 0;

  constructor(
    readonly store: Store,
    private readonly opts: ServerOptions = {},
  ) {
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    this.faults = new Faults(() => this.dropAllWatches());
    this.server = createServer((req, res) => {
      this.inFlightCount += 1;
      requestOrigin
        .run({ remoteAddress: req.socket.remoteAddress?.replace(/^::ffff:/, ''), method: (req.method ?? 'GET').toUpperCase() }, () => this.handle(req, res))
        .catch((err: unknown) => {
          this.sendError(res, err instanceof ApiError ? err : ApiError.internal(String(err)));
        })
        .finally(() => {
          this.inFlightCount -= 1;
        });
    });
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port);
  }

  async close(): Promise<void> {
    this.dropAllWatches();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  /** Requests being handled (watches count only until their stream starts). */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Number of watches currently open. */
  get openWatches(): number {
    return this.watches.size;
  }

  private dropAllWatches(): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) {
      w.stop();
      w.res.destroy();
    }
    this.watches.clear();
    return n;
  }

  private record(r: Omit<RequestRecord, 'seq'>): void {
    this.recorded += 1;
    this.requests.push({ seq: this.recorded, ...r });
    if (this.requests.length > 20_000) this.requests.splice(0, 10_000);
  }

  private send(res: ServerResponse, status: number, body: unknown, warnings: readonly string[] = []): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    const headers: Record<string, string | string[]> = { 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-cache, private' };
    // RFC 7234 warn-code 299 with the text quoted, as k8s.io/apiserver/pkg/warning writes it.
    if (warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    res.writeHead(status, headers);
    res.end(text);
  }

  private sendError(res: ServerResponse, err: ApiError): void {
    this.send(res, err.code, err.status());
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private parseJson(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw ApiError.badRequest(`couldn't decode the request body as JSON: ${(e as Error).message}`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = url.pathname.split('/').filter((s) => s !== '');
    const q = url.searchParams;
    const isWatch = q.get('watch') === '1' || q.get('watch') === 'true';
    const route = parseRoute(segments);
    const info: RequestInfo = {
      method,
      path: url.pathname,
      resource: route instanceof ApiError || route === undefined ? undefined : route.def.plural,
      watch: isWatch,
    };
    // Recorded when the exchange ends; 499 (nginx's "client closed request") when the client left first.
    const remoteAddress = req.socket.remoteAddress?.replace(/^::ffff:/, '');
    res.on('close', () => {
      this.record({
        method,
        path: url.pathname,
        resource: info.resource,
        name: route instanceof ApiError ? undefined : route?.name,
        watch: isWatch,
        status: res.headersSent ? res.statusCode : 499,
        atMs: performance.timeOrigin + performance.now(),
        remoteAddress,
        query: url.search.replace(/^\?/, ''),
      });
    });

    if (this.opts.token !== undefined && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      this.sendError(res, ApiError.unauthorized());
      return;
    }
    const outage = this.faults.inOutage();
    if (outage !== undefined && info.resource !== undefined) {
      this.faults.injected.outageRefusals += 1;
      if (outage === 'reset') req.socket.destroy();
      else this.sendError(res, ApiError.unavailable());
      return;
    }
    const delay = this.faults.latencyFor(info);
    if (delay > 0) {
      // The wait ends early when the client goes away.
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      res.once('close', onClose);
      const from = performance.now();
      await sleep(delay, undefined, { signal: gone.signal }).catch(() => undefined);
      res.off('close', onClose);
      // The wait the request had (timers and a busy event loop can add to the drawn delay; a client
      // that went away cut it short).
      this.faults.noteDelay(info, delay, performance.now() - from, gone.signal.aborted, performance.timeOrigin + from);
    }
    // A client that gave up while the request waited: like the real server's cancelled request
    // context, nothing is stored.
    if (req.destroyed || res.destroyed) return;
    if (this.faults.inOutage() !== undefined && info.resource !== undefined) {
      this.faults.injected.outageRefusals += 1;
      this.sendError(res, ApiError.unavailable());
      return;
    }

    if (route === undefined) {
      this.handleNonResource(method, segments, req, res);
      return;
    }
    if (route instanceof ApiError) {
      this.sendError(res, route);
      return;
    }
    const injected = this.faults.errorFor(info);
    if (injected !== undefined) {
      const name = route.name ?? '';
      if (injected === 409) this.sendError(res, ApiError.conflict(route.def, name));
      else if (injected === 503) this.sendError(res, ApiError.unavailable());
      else if (injected === 429) this.sendError(res, new ApiError(429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later', { retryAfterSeconds: 1 }));
      else if (injected === 504) this.sendError(res, new ApiError(504, 'Timeout', 'the server was unable to return a response in the time allotted'));
      else this.sendError(res, ApiError.internal());
      return;
    }
    try {
      await this.handleResource(method, route, q, isWatch, req, res, info);
    } catch (err) {
      if (err instanceof ApiError) this.sendError(res, err);
      else if (err instanceof SelectorError) this.sendError(res, ApiError.badRequest(err.message));
      else throw err;
    }
  }

  private handleNonResource(method: string, segments: string[], req: IncomingMessage, res: ServerResponse): void {
    if (method !== 'GET') {
      this.sendError(res, ApiError.methodNotAllowed());
      return;
    }
    const p = `/${segments.join('/')}`;
    const host = req.headers.host ?? '127.0.0.1';
    const groups = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))];
    const groupObj = (g: string): Record<string, unknown> => {
      const versions = [...new Set(RESOURCES.filter((r) => r.group === g).map((r) => r.version))];
      return {
        name: g,
        versions: versions.map((v) => ({ groupVersion: `${g}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${g}/${versions[0]!}`, version: versions[0]! },
      };
    };
    if (p === '/version') {
      const minor = this.opts.minor ?? '35';
      this.send(res, 200, {
        major: '1', minor, gitVersion: `v1.${minor}.0-lab`, gitCommit: 'stand-in', gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.25', compiler: 'gc', platform: 'linux/amd64',
      });
    } else if (p === '/healthz' || p === '/readyz' || p === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    } else if (p === '/api') {
      this.send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }] });
    } else if (p === '/apis') {
      this.send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupObj) });
    } else if (segments[0] === 'apis' && segments.length === 2 && groups.includes(segments[1]!)) {
      this.send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...groupObj(segments[1]!) });
    } else if ((segments[0] === 'api' && segments.length === 2) || (segments[0] === 'apis' && segments.length === 3)) {
      const group = segments[0] === 'api' ? '' : segments[1]!;
      const version = segments[segments.length - 1]!;
      const defs = RESOURCES.filter((r) => r.group === group && r.version === version);
      if (defs.length === 0) {
        this.sendError(res, ApiError.notFoundPath());
        return;
      }
      const resources: Array<Record<string, unknown>> = [];
      for (const d of defs) {
        resources.push(apiResource(d));
        if (d.hasStatus) resources.push({ name: `${d.plural}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['get', 'patch', 'update'] });
      }
      this.send(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? version : `${group}/${version}`, resources });
    } else if (p === '/openapi/v3') {
      this.send(res, 200, openApiV3Root());
    } else if (segments[0] === 'openapi' && segments[1] === 'v3' && openApiV3Doc(segments.slice(2).join('/')) !== undefined) {
      const text = openApiV3Doc(segments.slice(2).join('/'))!;
      res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'public, immutable' });
      res.end(text);
    } else {
      // /openapi/v2 (protobuf in the real server) included: kubectl does not need it when v3 answers (openapi.ts).
      this.sendError(res, ApiError.notFoundPath());
    }
  }

  private async handleResource(method: string, route: Route, q: URLSearchParams, isWatch: boolean, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<void> {
    const { def, ns, name, subresource } = route;
    const store = this.store;
    if (method !== 'GET' && (q.get('dryRun') ?? '') !== '') {
      // Refused rather than ignored: ignoring it would store what the client meant only to try.
      throw ApiError.badRequest('dryRun is not supported by the lab kube-apiserver stand-in');
    }
    const fv = q.get('fieldValidation');
    if (fv !== null && fv !== '' && fv !== 'Ignore' && fv !== 'Warn' && fv !== 'Strict') {
      throw ApiError.badRequest(`fieldValidation parameter unsupported: ${fv}`);
    }
    const fieldManager = q.get('fieldManager') ?? '';
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      const causes = fieldManagerCauses(fieldManager);
      if (causes.length > 0) throw invalidOptions(method === 'POST' ? 'CreateOptions' : method === 'PUT' ? 'UpdateOptions' : 'PatchOptions', causes);
    }
    // managerOrUserAgent; an empty result is recorded as "unknown" (buildManagerInfo).
    const manager = fieldManager !== '' ? fieldManager : prefixFromUserAgent(req.headers['user-agent']) || 'unknown';
    const writeOpts: WriteOptions = { fieldValidation: fv === null || fv === '' ? undefined : fv, warnings: [], manager };
    const respondWrite = async (status: number, obj: KObj): Promise<void> => {
      const d = this.faults.responseLatencyFor(info);
      if (d > 0) await sleep(d);
      this.send(res, status, obj, writeOpts.warnings);
    };
    if (name === undefined) {
      const table = wantsTable(req.headers.accept);
      if (method === 'GET' && isWatch) {
        this.startWatch(def, ns, q, res, table);
        return;
      }
      if (method === 'GET') {
        const list = this.list(def, ns, q);
        if (table) {
          const { resourceVersion, ...rest } = list.metadata as Record<string, unknown>;
          this.send(res, 200, toTable(def, list.items as KObj[], String(resourceVersion), q.get('includeObject'), rest));
        } else this.send(res, 200, list);
        return;
      }
      if (method === 'POST') {
        const body = this.parseJson(await this.readBody(req));
        await respondWrite(201, store.create(def, ns, body, writeOpts));
        return;
      }
      if (method === 'DELETE') {
        const lm = parseLabelSelector(q.get('labelSelector'));
        const fm = parseFieldSelector(q.get('fieldSelector'), def.fieldSelectors);
        const items = store.list(def, ns).filter((o) => lm(o.metadata?.labels) && fm(o));
        const deleted = items.map((o) => store.delete(def, o.metadata?.namespace, o.metadata!.name!));
        this.send(res, 200, { kind: `${def.kind}List`, apiVersion: groupVersion(def), metadata: { resourceVersion: String(store.resourceVersion) }, items: deleted });
        return;
      }
      this.sendError(res, ApiError.methodNotAllowed());
      return;
    }
    if (subresource !== undefined && method !== 'GET' && method !== 'PUT' && method !== 'PATCH') {
      this.sendError(res, ApiError.methodNotAllowed());
      return;
    }
    if (method === 'GET') {
      const obj = store.get(def, ns, name);
      if (wantsTable(req.headers.accept)) this.send(res, 200, toTable(def, [obj], String(obj.metadata?.resourceVersion ?? ''), q.get('includeObject')));
      else this.send(res, 200, obj);
      return;
    }
    if (method === 'PUT') {
      const body = this.parseJson(await this.readBody(req));
      const existed = store.tryGet(def, ns, name) !== undefined;
      const saved = store.update(def, ns, name, body, subresource, writeOpts);
      await respondWrite(existed ? 200 : 201, saved);
      return;
    }
    if (method === 'PATCH') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const text = await this.readBody(req);
      if (type === APPLY_TYPE) {
        await this.serverSideApply(route, name, q, fieldManager, text, writeOpts, respondWrite);
        return;
      }
      if (q.has('force')) throw invalidOptions('PatchOptions', [{ field: 'force', reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch' }]);
      let apply: (cur: KObj) => unknown;
      if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
        const patch = this.parseJson(text);
        apply = (cur) => mergePatch(cur, patch);
      } else if (type === 'application/json-patch+json') {
        const patch = this.parseJson(text);
        apply = (cur) => jsonPatch(cur, patch);
      } else {
        throw ApiError.unsupportedMediaType(type);
      }
      await respondWrite(200, store.patch(def, ns, name, apply, subresource, writeOpts));
      return;
    }
    if (method === 'DELETE') {
      const text = await this.readBody(req);
      let pre: { resourceVersion?: string; uid?: string } | undefined;
      if (text.trim() !== '') {
        const opts = this.parseJson(text) as { preconditions?: { resourceVersion?: string; uid?: string } };
        pre = opts?.preconditions ?? undefined;
      }
      await respondWrite(200, store.delete(def, ns, name, pre));
      return;
    }
    this.sendError(res, ApiError.methodNotAllowed());
  }

  /** PATCH application/apply-patch+yaml (the body may be JSON, which is YAML): 201 when it created the object. */
  private async serverSideApply(route: Route, name: string, q: URLSearchParams, fieldManager: string, text: string, writeOpts: WriteOptions, respond: (status: number, obj: KObj) => Promise<void>): Promise<void> {
    if (fieldManager === '') {
      // "This field is defaulted to "kubectl" by kubectl, but HAS TO be explicitly set by controllers."
      throw invalidOptions('PatchOptions', [{ field: 'fieldManager', reason: 'FieldValueRequired', message: 'Required value: is required for apply patch' }]);
    }
    const forceRaw = q.get('force');
    const force = forceRaw === null || forceRaw === '' ? false : parseBool(forceRaw);
    let config: unknown;
    try {
      // sigs.k8s.io/yaml reads YAML 1.1 (go-yaml v2): yes/no/on/off are booleans there.
      config = parseYaml(text, { version: '1.1', merge: true });
    } catch (e) {
      throw ApiError.badRequest(`error decoding YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (config !== null && config !== undefined && (typeof config !== 'object' || Array.isArray(config))) {
      throw ApiError.badRequest('error decoding YAML: the body of an apply patch must be a mapping');
    }
    const { object, created } = this.store.apply(route.def, route.ns, name, config ?? {}, route.subresource, { ...writeOpts, manager: fieldManager, force });
    await respond(created ? 201 : 200, object);
  }

  private list(def: ResourceDef, ns: string | undefined, q: URLSearchParams): Record<string, unknown> {
    const lm = parseLabelSelector(q.get('labelSelector'));
    const fm = parseFieldSelector(q.get('fieldSelector'), def.fieldSelectors);
    const limitRaw = q.get('limit');
    const limit = limitRaw === null || limitRaw === '' ? 0 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 0) throw ApiError.badRequest(`invalid limit: ${limitRaw}`);
    let rv = this.store.resourceVersion;
    let after: string | undefined;
    const cont = q.get('continue');
    if (cont !== null && cont !== '') {
      const c = decodeContinue(cont);
      if (c.rv < this.store.oldestWatchableResourceVersion) {
        throw ApiError.gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      rv = c.rv;
      after = c.after;
    }
    const keyOf = (o: KObj): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    let items = this.store.list(def, ns).filter((o) => lm(o.metadata?.labels) && fm(o));
    if (after !== undefined) items = items.filter((o) => keyOf(o) > after);
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && items.length > limit) {
      const page = items.slice(0, limit);
      metadata.continue = encodeContinue(rv, keyOf(page[page.length - 1]!));
      metadata.remainingItemCount = items.length - limit;
      items = page;
    }
    return { kind: `${def.kind}List`, apiVersion: groupVersion(def), metadata, items };
  }

  private startWatch(def: ResourceDef, ns: string | undefined, q: URLSearchParams, res: ServerResponse, table = false): void {
    const lm = parseLabelSelector(q.get('labelSelector'));
    const fm = parseFieldSelector(q.get('fieldSelector'), def.fieldSelectors);
    const matches = (o: KObj | undefined): boolean =>
      o !== undefined && (ns === undefined || !def.namespaced || o.metadata?.namespace === ns) && lm(o.metadata?.labels) && fm(o);
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    const rvParam = q.get('resourceVersion') ?? '';
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0');
    const sendInitial = q.get('sendInitialEvents');

    res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const includeObject = q.get('includeObject');
    const write = (type: string, object: unknown): void => {
      if (res.destroyed || res.writableEnded) return;
      // Table watches carry each object as a one-row Table (ERROR and BOOKMARK stay as they are).
      const o = table && type !== 'ERROR' && type !== 'BOOKMARK' ? toTable(def, [object as KObj], String((object as KObj).metadata?.resourceVersion ?? ''), includeObject) : object;
      res.write(`${JSON.stringify({ type, object: o })}\n`);
    };

    const toEvent = (e: StoreEvent): { type: string; object: KObj } | undefined => {
      if (e.def !== def) return undefined;
      const cur = matches(e.object);
      const prev = matches(e.prev);
      if (e.type === 'ADDED') return cur ? { type: 'ADDED', object: e.object } : undefined;
      if (e.type === 'DELETED') return prev ? { type: 'DELETED', object: e.object } : undefined;
      if (cur && prev) return { type: 'MODIFIED', object: e.object };
      if (cur) return { type: 'ADDED', object: e.object };
      if (prev) {
        // Left the selector: the watch cache sends DELETED with the old object at the new resourceVersion.
        const old = structuredClone<KObj>(e.prev!);
        old.metadata!.resourceVersion = String(e.rv);
        return { type: 'DELETED', object: old };
      }
      return undefined;
    };

    let replay: StoreEvent[] = [];
    let initial: KObj[] | undefined;
    if (rvParam === '' || rvParam === '0' || sendInitial === 'true') {
      initial = this.store.list(def, ns).filter((o) => matches(o));
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < 0) {
        write('ERROR', ApiError.badRequest(`invalid resource version: ${rvParam}`).status());
        res.end();
        return;
      }
      try {
        replay = this.store.since(from);
      } catch (err) {
        // The watch cache answers an expired resourceVersion with a 200 and one ERROR event.
        write('ERROR', (err as ApiError).status());
        res.end();
        return;
      }
    }
    const unsubscribe = this.store.subscribe((e) => {
      const ev = toEvent(e);
      if (ev !== undefined) write(ev.type, ev.object);
    });
    let bookmarkTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    const conn: WatchConn = {
      res,
      stop: () => {
        unsubscribe();
        if (bookmarkTimer !== undefined) clearInterval(bookmarkTimer);
        if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
      },
    };
    this.watches.add(conn);
    res.on('close', () => {
      conn.stop();
      this.watches.delete(conn);
    });
    const bookmark = (annotations?: Record<string, string>): void =>
      write('BOOKMARK', {
        kind: def.kind,
        apiVersion: groupVersion(def),
        metadata: { resourceVersion: String(this.store.resourceVersion), ...(annotations ? { annotations } : {}) },
      });
    if (initial !== undefined) {
      for (const o of initial) write('ADDED', o);
      if (sendInitial === 'true' && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    }
    for (const e of replay) {
      const ev = toEvent(e);
      if (ev !== undefined) write(ev.type, ev.object);
    }
    if (bookmarks) {
      bookmarkTimer = setInterval(() => bookmark(), this.bookmarkIntervalMs);
      bookmarkTimer.unref();
    }
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
      timeoutTimer = setTimeout(() => {
        conn.stop();
        this.watches.delete(conn);
        res.end();
      }, timeoutSeconds * 1000);
      timeoutTimer.unref();
    }
  }
}
