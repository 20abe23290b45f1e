// A small Kubernetes API client for the lab's stand-ins (the Cilium stand-in),
// written apart from the gateway's effects/kube on purpose: a defect the two
// shared would go unseen. Plain node:http(s) and JSON:
// - readKubeconfig(): server URL, bearer token and TLS skip from a kubeconfig's
//   current context;
// - kubeRequest(): one request, the decoded body and status;
// - ListWatcher: list, then watch from the list's resourceVersion; resumes
//   from the last resourceVersion seen (events, bookmarks) when the stream
//   drops, lists again on 410 Gone / an ERROR event with code 410, and backs
//   off (100 ms doubling to 2 s) while the server fails.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parse as parseYaml } from 'yaml';

export interface KubeTarget {
  readonly server: string;
  readonly token?: string;
  readonly insecureSkipTlsVerify?: boolean;
}

export type KubeObject = Record<string, unknown> & {
  metadata?: Record<string, unknown> & { name?: string; resourceVersion?: string; generation?: number };
  spec?: unknown;
  status?: unknown;
};

interface KubeconfigDoc {
  'current-context'?: string;
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name: string; cluster?: { server?: string; 'insecure-skip-tls-verify'?: boolean } }>;
  users?: Array<{ name: string; user?: { token?: string } }>;
}

/** The current context's cluster and user (token only: the lab's stand-in knows no other credential). */
export function readKubeconfig(path: string): KubeTarget {
  const doc = parseYaml(readFileSync(path, 'utf8')) as KubeconfigDoc;
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context'])?.context;
  const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
  if (cluster?.server === undefined) throw new Error(`kubeconfig ${path}: no server for context ${String(doc['current-context'])}`);
  const user = doc.users?.find((u) => u.name === ctx?.user)?.user;
  return { server: cluster.server, token: user?.token, insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true };
}

export class KubeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function open(t: KubeTarget, method: string, path: string, body: string | undefined, onResponse: (res: IncomingMessage) => void, onError: (e: Error) => void): ClientRequest {
  const url = new URL(path, t.server);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (t.token !== undefined) headers.authorization = `Bearer ${t.token}`;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const req =
    url.protocol === 'https:'
      ? httpsRequest(url, { method, headers, rejectUnauthorized: t.insecureSkipTlsVerify !== true }, onResponse)
      : httpRequest(url, { method, headers }, onResponse);
  req.on('error', onError);
  req.end(body);
  return req;
}

/** One request; resolves with the status and the decoded JSON body (a metav1.Status for failures). */
export function kubeRequest(t: KubeTarget, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: KubeObject }> {
  return new Promise((resolve, reject) => {
    const req = open(
      t,
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: (text === '' ? {} : JSON.parse(text)) as KubeObject });
          } catch {
            reject(new KubeHttpError(res.statusCode ?? 0, 'Malformed', `${method} ${path}: not JSON: ${text.slice(0, 200)}`));
          }
        });
      },
      reject,
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
  });
}

/** As kubeRequest, but a non-2xx answer throws KubeHttpError (status, reason from the Status body). */
export async function kubeCall(t: KubeTarget, method: string, path: string, body?: unknown): Promise<KubeObject> {
  const r = await kubeRequest(t, method, path, body);
  if (r.status >= 200 && r.status < 300) return r.body;
  throw new KubeHttpError(r.status, typeof r.body.reason === 'string' ? r.body.reason : '', typeof r.body.message === 'string' ? r.body.message : `HTTP ${r.status}`);
}

export interface ListWatchHandlers {
  /** A complete list: the whole current set (after the first list and after every re-list). */
  onSync(items: KubeObject[]): void;
  onUpsert(obj: KubeObject): void;
  onDelete(obj: KubeObject): void;
  onError?(err: Error): void;
}

export class ListWatcher {
  private stopped = false;
  private rv = '';
  private current: ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  /** Lists done (the first and every re-list), watches opened: for tests. */
  readonly counts = { lists: 0, watches: 0, gone: 0 };

  constructor(
    private readonly target: KubeTarget,
    /** Collection path, e.g. /apis/cilium.io/v2/ciliumvtepconfigs */
    private readonly path: string,
    private readonly handlers: ListWatchHandlers,
  ) {}

  start(): this {
    void this.list();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.current?.destroy();
  }

  private retry(what: () => void, err?: Error): void {
    if (this.stopped) return;
    if (err !== undefined) this.handlers.onError?.(err);
    this.backoffMs = Math.min(2000, this.backoffMs === 0 ? 100 : this.backoffMs * 2);
    this.timer = setTimeout(what, this.backoffMs);
  }

  private async list(): Promise<void> {
    if (this.stopped) return;
    try {
      const body = await kubeCall(this.target, 'GET', this.path);
      const rv = (body.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
      if (typeof rv !== 'string' || rv === '') throw new Error(`list ${this.path}: no resourceVersion`);
      this.counts.lists += 1;
      this.rv = rv;
      this.backoffMs = 0;
      this.handlers.onSync(Array.isArray(body.items) ? (body.items as KubeObject[]) : []);
      this.watch();
    } catch (err) {
      this.retry(() => void this.list(), err as Error);
    }
  }

  private watch(): void {
    if (this.stopped) return;
    this.counts.watches += 1;
    let relist = false;
    let sawEvent = false;
    const q = new URLSearchParams({ watch: '1', resourceVersion: this.rv, allowWatchBookmarks: 'true' });
    let ended = false;
    const again = (err?: Error): void => {
      if (ended) return;
      ended = true;
      this.current = undefined;
      if (this.stopped) return;
      if (relist) {
        this.counts.gone += 1;
        this.backoffMs = 0;
        void this.list();
      } else if (sawEvent && err === undefined) this.watch(); // a clean end (timeout, drop after events): resume at once
      else this.retry(() => this.watch(), err);
    };
    this.current = open(
      this.target,
      'GET',
      `${this.path}?${q.toString()}`,
      undefined,
      (res) => {
        if (res.statusCode === 410) {
          relist = true;
          res.resume();
          res.on('end', () => again());
          return;
        }
        if (res.statusCode !== 200) {
          res.resume();
          res.on('end', () => again(new KubeHttpError(res.statusCode ?? 0, '', `watch ${this.path}: HTTP ${String(res.statusCode)}`)));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line !== '') this.event(line, () => (relist = true), () => (sawEvent = true));
          }
        });
        res.on('end', () => again());
        res.on('aborted', () => again());
        res.on('error', (e) => again(e));
        res.on('close', () => again());
      },
      (e) => again(e),
    );
  }

  private event(line: string, gone: () => void, seen: () => void): void {
    let ev: { type?: string; object?: KubeObject };
    try {
      ev = JSON.parse(line) as { type?: string; object?: KubeObject };
    } catch {
      return;
    }
    const obj = ev.object;
    if (obj === undefined || obj === null || typeof obj !== 'object') return;
    if (ev.type === 'ERROR') {
      // A Status: 410 Expired means our resourceVersion is gone from the watch cache.
      if ((obj as { code?: unknown }).code === 410) gone();
      else this.handlers.onError?.(new Error(`watch ${this.path}: ${String((obj as { message?: unknown }).message)}`));
      this.current?.destroy();
      return;
    }
    seen();
    this.backoffMs = 0;
    const rv = obj.metadata?.resourceVersion;
    if (typeof rv === 'string' && rv !== '') this.rv = rv;
    if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.handlers.onUpsert(obj);
    else if (ev.type === 'DELETED') this.handlers.onDelete(obj);
  }
}
