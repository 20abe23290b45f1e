// A list+watch loop (a reflector, in client-go's words) over client-node's
// Watch class, written here because client-node's makeInformer stops for good
// on any non-410 watch error. It keeps a cache of raw objects and:
// - lists (paginated), then watches from the list's resourceVersion with
//   allowWatchBookmarks, following BOOKMARKs;
// - on 410 Gone (HTTP or an ERROR event) re-lists;
// - on any other error waits (exponential backoff, full jitter) and resumes the
//   watch from the last resourceVersion seen, or re-lists if that is gone;
// - removes an object only on a DELETED event or when a complete re-list no
//   longer contains it: errors and restarts never drop cached objects.
// It validates nothing beyond what it needs to key an object (metadata.name);
// an object without one is reported through onMalformed and skipped.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigurationOptions } from '@kubernetes/client-node';
import { backoffDelay, kubeCall, type KubeClients } from './client.js';
import { KubeError, statusToKubeError, toKubeError } from './errors.js';

/** A Kubernetes object as it came over the wire (raw JSON). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continueToken?: string;
}

export interface ListWatchTarget {
  /** Human name for errors ("ciliumnodes"). */
  readonly what: string;
  /** Collection path for the watch: /apis/cilium.io/v2/ciliumnodes, /apis/coordination.k8s.io/v1/namespaces/ns/leases. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** One page of the list; pass `options` (signal, timeout) on to the client-node call. */
  list(q: { continueToken?: string; limit: number; labelSelector?: string; fieldSelector?: string }, options: ConfigurationOptions): Promise<ListPage>;
}

export interface ListWatchHandlers<T extends KubeObject = KubeObject> {
  /** After every complete (re-)list, with the whole cache. */
  onSynced?(all: T[]): void;
  /** Added or changed (`old` is what the cache kept of the previous version, if any). */
  onUpsert?(obj: T, old: T | undefined): void;
  /** Confirmed gone: a DELETED event (its object), or absent from a complete re-list (what the cache kept). */
  onDelete?(obj: T): void;
  /** An object the loop could not key (no metadata.name). Never thrown. */
  onMalformed?(raw: unknown, why: string): void;
  /** A failure; the loop carries on after `retryInMs`. */
  onError?(err: KubeError, info: { phase: 'list' | 'watch'; failures: number; retryInMs: number }): void;
  /** Watch (re)connected from `resourceVersion`. */
  onWatching?(resourceVersion: string): void;
}

export interface ListWatchOptions<T extends KubeObject = KubeObject> {
  /**
   * What the cache keeps of each object (as client-go's SetTransform, but for
   * the cache only: handlers still get whole objects). A caller that takes
   * what it needs from the handlers keeps, say, only metadata, so 20,000
   * cached objects cost little. It must keep metadata.name, namespace and
   * resourceVersion; list() and get() return what it kept.
   */
  keep?: (obj: T) => T;
  /** First retry delay after an error (default 250 ms), doubling up to maxBackoffMs (default 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout, re-watched on expiry (default 300 s, randomized ×[1,2) like client-go). */
  watchTimeoutSeconds?: number;
  /** List page size (default 500). */
  pageSize?: number;
  /** Per list request timeout (default 30 s). */
  requestTimeoutMs?: number;
  random?: () => number;
}

type WatchEnd = { kind: 'closed' } | { kind: 'gone'; err: KubeError } | { kind: 'error'; err: KubeError };

function keyOf(o: KubeObject): string | undefined {
  const name = o.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const ns = o.metadata?.namespace;
  return typeof ns === 'string' && ns !== '' ? `${ns}/${name}` : name;
}

function isObject(v: unknown): v is KubeObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class ListWatch<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private rv: string | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly stopCtl = new AbortController();
  private currentWatch: AbortController | undefined;
  private hasSynced = false;
  private failures = 0;
  private quickGones = 0;
  private readonly opts: Required<Omit<ListWatchOptions<T>, 'random' | 'keep'>> & { random: () => number; keep: (obj: T) => T };

  constructor(
    private readonly clients: KubeClients,
    private readonly target: ListWatchTarget,
    private readonly handlers: ListWatchHandlers<T>,
    opts: ListWatchOptions<T> = {},
  ) {
    this.opts = {
      initialBackoffMs: opts.initialBackoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
      pageSize: opts.pageSize ?? 500,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      random: opts.random ?? Math.random,
      keep: opts.keep ?? ((o) => o),
    };
  }

  /** Starts the loop (idempotent). */
  start(): this {
    this.running ??= this.run();
    return this;
  }

  /** Stops the loop and closes the watch; the cache stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopCtl.abort();
    this.currentWatch?.abort();
    await this.running;
  }

  /** True once a complete list has been applied. */
  get synced(): boolean {
    return this.hasSynced;
  }

  get resourceVersion(): string | undefined {
    return this.rv;
  }

  /** Snapshot of the cache. */
  list(): T[] {
    return [...this.cache.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch {
      // a handler's exception must not stop the loop
    }
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      let phase: 'list' | 'watch' = needList ? 'list' : 'watch';
      let failure: KubeError | undefined;
      try {
        if (needList) {
          await this.relist();
          needList = false;
          this.failures = 0;
        }
        if (this.stopped) break;
        phase = 'watch';
        const started = Date.now();
        const end = await this.watchOnce();
        if (this.stopped) break;
        // A watch that ran healthy for a while starts a new incident when it fails.
        if (Date.now() - started >= 5000) this.failures = 0;
        if (end.kind !== 'gone') this.quickGones = 0;
        if (end.kind === 'gone') {
          needList = true;
          // A 410 re-lists at once (as client-go) unless the previous watch, straight after a
          // re-list, was also answered 410: then back off rather than spin on full lists.
          this.quickGones = Date.now() - started < 1000 ? this.quickGones + 1 : 0;
          if (this.quickGones > 1) failure = end.err;
        } else if (end.kind === 'error' && !(end.err.code === 'Timeout' && Date.now() - started >= 5000)) {
          failure = end.err;
        } else if (end.kind === 'error') {
          // client-node's Watch aborts a watch after 30 s without a byte (its inactivity timer):
          // on a quiet but healthy watch that is routine, not a failure. Resume at once.
          this.failures = 0;
        } else if (Date.now() - started < 1000) {
          // A watch that the server closes at once, over and over: do not spin.
          failure = new KubeError('Unavailable', `${this.target.what}: watch closed immediately`, true);
        } else {
          this.failures = 0;
        }
      } catch (err) {
        if (this.stopped) break;
        failure = toKubeError(err, `${this.target.what}: ${phase}`);
        if (failure.code === 'Gone') needList = true;
      }
      if (failure !== undefined && !this.stopped) {
        this.failures += 1;
        const delay = backoffDelay(this.failures, this.opts.initialBackoffMs, this.opts.maxBackoffMs, this.opts.random);
        const f = failure;
        this.safe(() => this.handlers.onError?.(f, { phase, failures: this.failures, retryInMs: delay }));
        try {
          await sleep(delay, undefined, { signal: this.stopCtl.signal });
        } catch {
          break; // stopped
        }
      }
    }
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let rv: string | undefined;
    do {
      const page = await kubeCall(`${this.target.what}: list`, { signal: this.stopCtl.signal, timeoutMs: this.opts.requestTimeoutMs }, (options) =>
        this.target.list({ continueToken, limit: this.opts.pageSize, labelSelector: this.target.labelSelector, fieldSelector: this.target.fieldSelector }, options),
      );
      for (const raw of page.items) {
        if (!isObject(raw)) {
          this.safe(() => this.handlers.onMalformed?.(raw, 'list item is not an object'));
          continue;
        }
        const key = keyOf(raw);
        if (key === undefined) {
          this.safe(() => this.handlers.onMalformed?.(raw, 'list item without metadata.name'));
          continue;
        }
        fresh.set(key, raw as T);
      }
      rv = page.resourceVersion;
      continueToken = page.continueToken !== undefined && page.continueToken !== '' ? page.continueToken : undefined;
    } while (continueToken !== undefined && !this.stopped);
    if (this.stopped) return;
    // Apply the complete list: only now may objects be removed.
    const old = new Map(this.cache);
    this.cache.clear();
    for (const [k, v] of fresh) this.cache.set(k, this.opts.keep(v));
    this.rv = rv;
    for (const [k, v] of old) if (!fresh.has(k)) this.safe(() => this.handlers.onDelete?.(v));
    for (const [k, v] of fresh) {
      const prev = old.get(k);
      if (prev === undefined || prev.metadata?.resourceVersion !== v.metadata?.resourceVersion) this.safe(() => this.handlers.onUpsert?.(v, prev));
    }
    this.hasSynced = true;
    // The whole objects of this list (the cache may keep less of them).
    this.safe(() => this.handlers.onSynced?.([...fresh.values()]));
  }

  private watchOnce(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      let ended = false;
      let ctl: AbortController | undefined;
      const onStop = (): void => finish({ kind: 'closed' });
      const finish = (end: WatchEnd): void => {
        if (ended) return;
        ended = true;
        this.stopCtl.signal.removeEventListener('abort', onStop);
        ctl?.abort();
        this.currentWatch = undefined;
        resolve(end);
      };
      const timeout = Math.round(this.opts.watchTimeoutSeconds * (1 + this.opts.random()));
      const query: Record<string, string | number | boolean | undefined> = {
        allowWatchBookmarks: true,
        resourceVersion: this.rv,
        timeoutSeconds: timeout,
        labelSelector: this.target.labelSelector,
        fieldSelector: this.target.fieldSelector,
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (ended || this.stopped) return;
        if (type === 'ERROR') {
          const err = statusToKubeError(obj, `${this.target.what}: watch`);
          finish(err.code === 'Gone' ? { kind: 'gone', err } : { kind: 'error', err });
          return;
        }
        if (!isObject(obj)) {
          this.safe(() => this.handlers.onMalformed?.(obj, `watch ${type} event without an object`));
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          if (typeof rv === 'string' && rv !== '') this.rv = rv;
          return;
        }
        const key = keyOf(obj);
        if (key === undefined) {
          if (typeof rv === 'string' && rv !== '') this.rv = rv;
          this.safe(() => this.handlers.onMalformed?.(obj, `watch ${type} event for an object without metadata.name`));
          return;
        }
        if (typeof rv === 'string' && rv !== '') this.rv = rv;
        if (type === 'ADDED' || type === 'MODIFIED') {
          const old = this.cache.get(key);
          this.cache.set(key, this.opts.keep(obj as T));
          this.safe(() => this.handlers.onUpsert?.(obj as T, old));
        } else if (type === 'DELETED') {
          const had = this.cache.get(key);
          this.cache.delete(key);
          if (had !== undefined) this.safe(() => this.handlers.onDelete?.(obj as T));
        } else {
          this.safe(() => this.handlers.onMalformed?.(obj, `unknown watch event type ${type}`));
        }
      };
      const onDone = (err: unknown): void => {
        if (err === null || err === undefined) finish({ kind: 'closed' });
        else {
          const ke = toKubeError(err, `${this.target.what}: watch`);
          finish(ke.code === 'Gone' ? { kind: 'gone', err: ke } : { kind: 'error', err: ke });
        }
      };
      this.clients.watch
        .watch(this.target.path, query, onEvent, onDone)
        .then((c) => {
          ctl = c;
          if (ended || this.stopped) c.abort();
          else {
            this.currentWatch = c;
            this.safe(() => this.handlers.onWatching?.(this.rv ?? ''));
          }
        })
        .catch((err: unknown) => onDone(err ?? new Error('watch failed')));
      if (this.stopped) finish({ kind: 'closed' });
      else this.stopCtl.signal.addEventListener('abort', onStop, { once: true });
    });
  }
}
