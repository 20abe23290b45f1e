// The Cilium stand-in's VTEP logic, written from what Cilium's CiliumVTEPConfig
// reconciler does (sources in lab/README.md, "What the stand-ins model"), not
// from the gateway: nothing here comes from effects/ or runtime/.
//
// Pure parts (unit-tested in test/lab/cilium-vtep.test.ts):
// - readVtepConfig(): what Cilium reads of a CiliumVTEPConfig: metadata.name,
//   metadata.generation and spec.endpoints[].{name, tunnelEndpoint, cidr, mac};
//   anything else (spec.cidrMask, unknown fields) is ignored.
// - validateVtepConfig(): the agent's own checks on top of the CRD schema
//   (1..8 endpoints, unique names, IPv4 tunnel endpoint and CIDR as Go's
//   net.ParseIP/ParseCIDR read them, no two CIDRs normalizing to one entry,
//   a MAC net.ParseMAC reads).
// - resolveDesired(): all configs → one table keyed by normalized CIDR; CIDRs
//   claimed by two configs are dropped from both (and reported); more than 8
//   entries in total apply nothing.
// - lpmLookup(): the BPF map is an LPM trie keyed {prefixlen, network}: a
//   destination goes to the endpoint with the longest matching prefix.
// - fullStatus()/failedStatus(): the status the agent writes back.
// VtepAgent wires them to a list+watch (lab/kube-http.ts), a dataplane (the
// kernel in the lab: cilium-agent.ts) and /status writes with conflict retries.
import { isIP } from 'node:net';
import { kubeRequest, ListWatcher, type KubeObject, type KubeTarget } from './kube-http.js';

/** Entries of the BPF map (defaults.MaxVTEPDevices). */
export const MAX_VTEP_ENTRIES = 8;
/** statusUpdateMaxRetries in Cilium's reconciler: UpdateStatus attempts, re-reading after each 409. */
export const STATUS_UPDATE_MAX_RETRIES = 3;
export const VTEP_CONFIGS_PATH = '/apis/cilium.io/v2/ciliumvtepconfigs';

export interface VtepEndpoint {
  readonly name: string;
  readonly tunnelEndpoint: string;
  readonly cidr: string;
  readonly mac: string;
}

export interface VtepConfig {
  readonly name: string;
  readonly generation: number;
  readonly endpoints: readonly VtepEndpoint[];
}

/** One BPF map entry: the endpoint that owns a normalized CIDR. */
export interface VtepEntry {
  /** Normalized "a.b.c.d/len" (host bits cleared), the LPM key. */
  readonly key: string;
  readonly network: number;
  readonly prefixLen: number;
  readonly endpoint: VtepEndpoint;
  readonly config: string;
  /** Position of the endpoint in its config's spec.endpoints. */
  readonly index: number;
}

// ---- parsing as Go's net package does ----

/** net.ParseIP for IPv4 dotted decimal: four fields, 0..255, no leading zeros. */
export function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0'))) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

function ipv4String(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** net.ParseCIDR for IPv4, normalized (host bits cleared, as cidr.ParseCIDR keys the map). */
export function parseCidr4(s: string): { network: number; prefixLen: number; key: string } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (m === null) return undefined;
  const ip = parseIPv4(m[1]!);
  const len = Number(m[2]);
  if (ip === undefined || len > 32 || (m[2]!.length > 1 && m[2]!.startsWith('0'))) return undefined;
  const network = (ip & maskOf(len)) >>> 0;
  return { network, prefixLen: len, key: `${ipv4String(network)}/${len}` };
}

/** net.ParseMAC: 6, 8 or 20 octets as xx:xx:…, xx-xx-… or xxxx.xxxx.…; Cilium's map takes 6 (mac.Uint64). */
export function parseMac(s: string): string | undefined {
  let hex: string[] | undefined;
  if (/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2})+$/.test(s) && (s.includes(':') ? !s.includes('-') : true)) hex = s.split(/[:-]/);
  else if (/^[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4})+$/.test(s)) hex = s.split('.').flatMap((g) => [g.slice(0, 2), g.slice(2)]);
  if (hex === undefined || ![6, 8, 20].includes(hex.length)) return undefined;
  return hex.map((h) => h.toLowerCase()).join(':');
}

// ---- reading and validating ----

function str(v: unknown): string {
  // Go decodes an absent string field as "" (and the CRD schema rejects any other type).
  return typeof v === 'string' ? v : '';
}

/** What the agent reads of a CiliumVTEPConfig (the typed Go struct): everything else is dropped. */
export function readVtepConfig(obj: KubeObject): VtepConfig {
  const spec = (obj.spec ?? {}) as { endpoints?: unknown };
  const eps = Array.isArray(spec.endpoints) ? spec.endpoints : [];
  return {
    name: str(obj.metadata?.name),
    generation: typeof obj.metadata?.generation === 'number' ? obj.metadata.generation : 0,
    endpoints: eps.map((e: unknown) => {
      const r = (e ?? {}) as Record<string, unknown>;
      return { name: str(r.name), tunnelEndpoint: str(r.tunnelEndpoint), cidr: str(r.cidr), mac: str(r.mac) };
    }),
  };
}

/** The agent's validation of one config: undefined when fine, else the reason (as Cilium words it). */
export function validateVtepConfig(c: VtepConfig): string | undefined {
  if (c.endpoints.length === 0) return 'at least one endpoint is required';
  if (c.endpoints.length > MAX_VTEP_ENTRIES) return `maximum ${MAX_VTEP_ENTRIES} endpoints allowed, got ${c.endpoints.length}`;
  const names = new Set<string>();
  const cidrs = new Map<string, string>();
  for (const ep of c.endpoints) {
    if (names.has(ep.name)) return `duplicate endpoint name: ${ep.name}`;
    names.add(ep.name);
    if (parseIPv4(ep.tunnelEndpoint) === undefined) {
      return isIP(ep.tunnelEndpoint) === 6 ? `tunnel endpoint must be IPv4 for ${ep.name}: ${ep.tunnelEndpoint}` : `invalid tunnel endpoint IP for ${ep.name}: ${ep.tunnelEndpoint}`;
    }
    const cidr = parseCidr4(ep.cidr);
    if (cidr === undefined) return `invalid CIDR for ${ep.name}: ${ep.cidr}`;
    const prev = cidrs.get(cidr.key);
    if (prev !== undefined) return `CIDR ${ep.cidr} normalizes to the same entry as ${prev} (endpoint ${ep.name})`;
    cidrs.set(cidr.key, ep.cidr);
    if (parseMac(ep.mac)?.split(':').length !== 6) return `invalid MAC for ${ep.name}: ${ep.mac}`;
  }
  return undefined;
}

export interface Resolution {
  /** The BPF map as it should be, longest prefixes first. */
  readonly entries: readonly VtepEntry[];
  /** Configs that apply here (every valid one: the committed CRD has no nodeSelector). */
  readonly matching: readonly string[];
  /** Configs refused by validateVtepConfig, with the reason. */
  readonly invalid: ReadonlyMap<string, string>;
  /** Per config, per endpoint name: why it is not in the map. */
  readonly endpointErrors: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Set when the entries of all configs exceed the map: nothing is applied then. */
  readonly tooMany?: string;
}

/** Every config → the desired BPF map (Cilium's syncDesiredStateLocked, in our words). */
export function resolveDesired(configs: Iterable<VtepConfig>): Resolution {
  const sorted = [...configs].sort((a, b) => a.name.localeCompare(b.name));
  const invalid = new Map<string, string>();
  const errors = new Map<string, Map<string, string>>();
  const err = (config: string, ep: string, msg: string): void => {
    let m = errors.get(config);
    if (m === undefined) errors.set(config, (m = new Map<string, string>()));
    m.set(ep, msg);
  };
  const desired = new Map<string, VtepEntry>();
  const claims = new Map<string, Array<{ config: string; ep: string }>>();
  const matching: string[] = [];
  for (const c of sorted) {
    const why = validateVtepConfig(c);
    if (why !== undefined) {
      invalid.set(c.name, why);
      continue;
    }
    matching.push(c.name);
    for (const [index, ep] of c.endpoints.entries()) {
      const cidr = parseCidr4(ep.cidr)!;
      const list = claims.get(cidr.key) ?? [];
      list.push({ config: c.name, ep: ep.name });
      claims.set(cidr.key, list);
      if (!desired.has(cidr.key)) desired.set(cidr.key, { ...cidr, endpoint: ep, config: c.name, index });
    }
  }
  for (const [key, list] of claims) {
    if (new Set(list.map((x) => x.config)).size < 2) continue;
    // A CIDR in two configs belongs to neither.
    desired.delete(key);
    for (const x of list) err(x.config, x.ep, `CIDR ${key} conflicts with other matching config(s)`);
  }
  const entries = [...desired.values()].sort((a, b) => b.prefixLen - a.prefixLen || a.network - b.network);
  if (entries.length > MAX_VTEP_ENTRIES) {
    return { entries: [], matching, invalid, endpointErrors: errors, tooMany: `total endpoints across matching configs (${entries.length}) exceeds maximum (${MAX_VTEP_ENTRIES})` };
  }
  return { entries, matching, invalid, endpointErrors: errors };
}

/** The BPF LPM lookup: the entry whose prefix contains `ip` and is longest; undefined when none does. */
export function lpmLookup(entries: readonly VtepEntry[], ip: string): VtepEntry | undefined {
  const addr = parseIPv4(ip);
  if (addr === undefined) return undefined;
  let best: VtepEntry | undefined;
  for (const e of entries) {
    if (((addr & maskOf(e.prefixLen)) >>> 0) === e.network && (best === undefined || e.prefixLen > best.prefixLen)) best = e;
  }
  return best;
}

// ---- status ----

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface EndpointStatus {
  name: string;
  synced?: boolean;
  lastSyncTime?: string;
  error?: string;
}

export interface VtepStatus {
  endpointCount?: number;
  conditions?: Condition[];
  endpointStatuses?: EndpointStatus[];
  [k: string]: unknown;
}

/** metav1.Time on the wire: RFC3339, whole seconds. */
export function metaTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Replaces the condition of its type; lastTransitionTime moves only when the status changes (Cilium's setCondition). */
function setCondition(conds: readonly Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const out = [...(conds ?? [])];
  const i = out.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? out[i] : undefined;
  const next: Condition = { ...c, lastTransitionTime: prev !== undefined && prev.status === c.status ? prev.lastTransitionTime : now };
  if (c.observedGeneration === undefined || c.observedGeneration === 0) delete next.observedGeneration;
  if (i >= 0) out[i] = next;
  else out.push(next);
  return out;
}

/** After a sync: one status per endpoint in spec, Ready True when none failed (omitempty fields left out, as Go does). */
export function fullStatus(c: VtepConfig, prev: VtepStatus | undefined, errors: ReadonlyMap<string, string> | undefined, nowMs: number): VtepStatus {
  const now = metaTime(nowMs);
  const endpointStatuses = c.endpoints.map((ep): EndpointStatus => {
    const e = errors?.get(ep.name);
    return e === undefined ? { name: ep.name, synced: true, lastSyncTime: now } : { name: ep.name, error: e };
  });
  const allSynced = errors === undefined || errors.size === 0;
  const out: VtepStatus = { ...(prev ?? {}) };
  if (c.endpoints.length > 0) out.endpointCount = c.endpoints.length;
  else delete out.endpointCount;
  out.endpointStatuses = endpointStatuses;
  out.conditions = setCondition(
    prev?.conditions,
    allSynced
      ? { type: 'Ready', status: 'True', reason: 'Synced', message: 'All endpoints synced to BPF map', observedGeneration: c.generation }
      : { type: 'Ready', status: 'False', reason: 'SyncFailed', message: 'Some endpoints failed to sync', observedGeneration: c.generation },
    now,
  );
  return out;
}

/** A config that could not be used at all: Ready False with the reason; endpoint statuses as they were. */
export function failedStatus(c: VtepConfig, prev: VtepStatus | undefined, message: string, nowMs: number): VtepStatus {
  const out: VtepStatus = { ...(prev ?? {}) };
  if (c.endpoints.length > 0) out.endpointCount = c.endpoints.length;
  else delete out.endpointCount;
  out.conditions = setCondition(prev?.conditions, { type: 'Ready', status: 'False', reason: 'SyncFailed', message, observedGeneration: c.generation }, metaTime(nowMs));
  return out;
}

// ---- the agent ----

/** Where the entries go: the kernel in the lab (cilium-agent.ts), a fake in tests. */
export interface VtepDataplane {
  /** Makes the map exactly `entries` (add before delete). Throws when it could not. */
  apply(entries: readonly VtepEntry[]): Promise<void>;
}

export interface VtepAgentOptions {
  readonly kube: KubeTarget;
  readonly dataplane: VtepDataplane;
  /**
   * Re-runs the sync and rewrites status (fresh lastSyncTime) this often; 0 turns it off. Default
   * 10 s: an assumption (Cilium's reconciler has no timer; it re-syncs on every CiliumVTEPConfig
   * event, status writes by other agents included, and on node-label changes). See lab/README.md.
   */
  readonly statusRefreshMs?: number;
  /** Called whenever the applied endpoint set changes. */
  readonly onApplied?: (endpoints: VtepEndpoint[], atMs: number) => void;
  readonly log?: (msg: string) => void;
  readonly now?: () => number;
}

export interface VtepAgentStats {
  syncs: number;
  statusWrites: number;
  statusConflicts: number;
  statusFailures: number;
}

export class VtepAgent {
  private readonly objects = new Map<string, KubeObject>();
  private applied: VtepEntry[] = [];
  private chain: Promise<void> = Promise.resolve();
  private watcher: ListWatcher | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private stopped = false;
  private synced = false;
  readonly stats: VtepAgentStats = { syncs: 0, statusWrites: 0, statusConflicts: 0, statusFailures: 0 };

  constructor(private readonly opts: VtepAgentOptions) {}

  /** Endpoints in the map now, in spec order. */
  get appliedEndpoints(): VtepEndpoint[] {
    return endpointsOf(this.applied);
  }

  get listWatch(): ListWatcher | undefined {
    return this.watcher;
  }

  start(): this {
    this.watcher = new ListWatcher(this.opts.kube, VTEP_CONFIGS_PATH, {
      onSync: (items) => {
        this.objects.clear();
        for (const o of items) this.objects.set(String(o.metadata?.name), o);
        this.synced = true;
        this.kick();
      },
      onUpsert: (o) => {
        this.objects.set(String(o.metadata?.name), o);
        this.kick();
      },
      onDelete: (o) => {
        this.objects.delete(String(o.metadata?.name));
        this.kick();
      },
      onError: (e) => this.opts.log?.(`cilium stand-in: ${e.message}`),
    }).start();
    const every = this.opts.statusRefreshMs ?? 10_000;
    if (every > 0) {
      this.refresh = setInterval(() => this.kick(), every);
      this.refresh.unref();
    }
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.stop();
    if (this.refresh !== undefined) clearInterval(this.refresh);
    await this.chain;
  }

  /** Resolves once every sync queued so far has run (tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  private kick(): void {
    if (!this.synced) return;
    this.chain = this.chain.then(() => this.sync()).catch((e: unknown) => this.opts.log?.(`cilium stand-in: sync failed: ${(e as Error).message}`));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** One reconciliation over the current cache: map, then status of every config. */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    this.stats.syncs += 1;
    const configs = [...this.objects.values()].map((o) => ({ obj: o, cfg: readVtepConfig(o) }));
    const r = resolveDesired(configs.map((c) => c.cfg));
    const writes: Array<Promise<void>> = [];
    if (r.tooMany !== undefined) {
      this.opts.log?.(`cilium stand-in: ${r.tooMany}`);
      for (const { obj, cfg } of configs) if (r.matching.includes(cfg.name)) writes.push(this.writeStatus(obj, (prev) => failedStatus(cfg, prev, r.tooMany!, this.now())));
    } else {
      const errors = new Map<string, Map<string, string>>([...r.endpointErrors].map(([k, v]) => [k, new Map(v)]));
      if (!sameEntries(r.entries, this.applied)) {
        try {
          await this.opts.dataplane.apply(r.entries);
          this.applied = [...r.entries];
          this.opts.onApplied?.(endpointsOf(this.applied), performance.timeOrigin + performance.now());
        } catch (e) {
          const msg = `failed to update BPF map: ${(e as Error).message}`;
          for (const en of r.entries) {
            const m = errors.get(en.config) ?? new Map<string, string>();
            m.set(en.endpoint.name, msg);
            errors.set(en.config, m);
          }
        }
      }
      for (const { obj, cfg } of configs) {
        if (r.matching.includes(cfg.name)) writes.push(this.writeStatus(obj, (prev) => fullStatus(cfg, prev, errors.get(cfg.name), this.now())));
      }
    }
    for (const { obj, cfg } of configs) {
      const why = r.invalid.get(cfg.name);
      if (why !== undefined) writes.push(this.writeStatus(obj, (prev) => failedStatus(cfg, prev, `invalid config: ${why}`, this.now())));
    }
    await Promise.all(writes);
  }

  /**
   * UpdateStatus with the status computed from the cached object, at its resourceVersion. On 409
   * the object is read again and the same status written onto it, at most STATUS_UPDATE_MAX_RETRIES
   * attempts in all (several agents write the same object's status). Always sent, even when equal:
   * the server turns an unchanged object into a no-op.
   */
  private async writeStatus(obj: KubeObject, make: (prev: VtepStatus | undefined) => VtepStatus): Promise<void> {
    const status = make(obj.status as VtepStatus | undefined);
    let cur = obj;
    const name = String(obj.metadata?.name);
    const path = `${VTEP_CONFIGS_PATH}/${encodeURIComponent(name)}`;
    for (let attempt = 0; attempt < STATUS_UPDATE_MAX_RETRIES; attempt++) {
      if (this.stopped) return;
      try {
        const r = await kubeRequest(this.opts.kube, 'PUT', `${path}/status`, { ...cur, status });
        if (r.status === 200) {
          this.stats.statusWrites += 1;
          return;
        }
        if (r.status !== 409) {
          this.stats.statusFailures += 1;
          this.opts.log?.(`cilium stand-in: status of ${name}: HTTP ${r.status} ${String(r.body.message)}`);
          return;
        }
        this.stats.statusConflicts += 1;
        const fresh = await kubeRequest(this.opts.kube, 'GET', path);
        if (fresh.status !== 200) return;
        cur = fresh.body;
      } catch (e) {
        this.stats.statusFailures += 1;
        this.opts.log?.(`cilium stand-in: status of ${name}: ${(e as Error).message}`);
        return;
      }
    }
  }
}

function endpointsOf(entries: readonly VtepEntry[]): VtepEndpoint[] {
  return [...entries]
    .sort((a, b) => a.config.localeCompare(b.config) || a.index - b.index)
    .map((e) => ({ name: e.endpoint.name, tunnelEndpoint: e.endpoint.tunnelEndpoint, cidr: e.endpoint.cidr, mac: e.endpoint.mac }));
}

function sameEntries(a: readonly VtepEntry[], b: readonly VtepEntry[]): boolean {
  const k = (x: readonly VtepEntry[]): string => JSON.stringify([...x].map((e) => [e.key, e.endpoint.tunnelEndpoint, e.endpoint.mac.toLowerCase(), e.config]).sort());
  return k(a) === k(b);
}
