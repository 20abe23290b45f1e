// Fault injection for the stand-in: latency, 5xx and 409 rates, dropped
// watches, outages. Decisions use an injectable random source so a test can
// replay a seed. Latency is a fixed value, a uniform range or a weighted mix
// of those (LOADED_API_SERVER_LATENCY below, for the failover benchmark's
// soak); every request delayed is recorded with the wait it had, every
// injected error counted per resource, so a report can state what was
// injected rather than what was configured.

export interface RequestInfo {
  readonly method: string;
  readonly path: string;
  /** Plural of the resource addressed (undefined for discovery and other paths). */
  readonly resource: string | undefined;
  readonly watch: boolean;
}

/**
 * A weighted mix of latencies: a bucket is drawn by weight (weights need not sum to 1), then a value
 * in it (fixed, or uniform in [min, max]). Plain data, so it crosses the lab's IPC as JSON.
 */
export interface LatencyMix {
  readonly mix: ReadonlyArray<{ readonly weight: number; readonly ms: number | readonly [number, number] }>;
}

/** A latency: fixed ms, a uniform [min, max] range, or a weighted mix. */
export type LatencySpec = number | readonly [number, number] | LatencyMix;

/**
 * A loaded API server, as the failover benchmark's soak injects it on every request (an
 * ASSUMPTION; lab/README.md, "The Kubernetes API under load", says where the numbers come from):
 * most requests quick, some queued, a tail of hundreds of ms. p50 ≈ 17.5 ms, p90 ≈ 94 ms,
 * p99 = 500 ms, max 700 ms: within the upstream SLO for mutating single-object calls (p99 ≤ 1 s).
 */
export const LOADED_API_SERVER_LATENCY: LatencyMix = Object.freeze({
  mix: Object.freeze([
    Object.freeze({ weight: 0.8, ms: Object.freeze([5, 25] as const) }),
    Object.freeze({ weight: 0.18, ms: Object.freeze([25, 150] as const) }),
    Object.freeze({ weight: 0.02, ms: Object.freeze([300, 700] as const) }),
  ]),
});

/**
 * A request the latency fault delayed: when it arrived (epoch ms), what it was, the delay drawn for
 * it and the wait it had (ms); `cut` when the client went away before the delay was over.
 */
export interface DelayRecord {
  readonly atMs: number;
  readonly method: string;
  readonly resource: string | undefined;
  readonly watch: boolean;
  readonly drawnMs: number;
  readonly ms: number;
  readonly cut: boolean;
}

/** Delay records kept (the newest). */
export const DELAY_RECORDS_KEPT = 200_000;

export interface FaultConfig {
  /** Extra latency before a request is handled: fixed ms, a uniform [min, max] range, or a mix. */
  latencyMs?: LatencySpec;
  /** Extra latency after a write was applied, before its response is sent (fixed, [min, max] or a mix). */
  responseLatencyMs?: LatencySpec;
  /** Probability (0..1) that a request is answered with `errorStatus` instead of being handled. */
  errorRate?: number;
  /** Status for injected errors: 500 (InternalError), 503 (ServiceUnavailable), 429 (TooManyRequests). Default 500. */
  errorStatus?: 500 | 503 | 429 | 504;
  /** Probability (0..1) that a PUT/PATCH is answered 409 Conflict without being applied. */
  conflictRate?: number;
  /** Which requests the faults above apply to (default: every resource request). */
  match?: (req: RequestInfo) => boolean;
}

export type OutageMode = 'unavailable' | 'reset';

export class Faults {
  private cfg: FaultConfig = {};
  private outageUntil = 0;
  private outageMode: OutageMode = 'unavailable';
  /** Injected counts, for tests' reports; errorsByResource splits `errors` by plural. */
  readonly injected = { errors: 0, conflicts: 0, outageRefusals: 0, droppedWatches: 0, delayed: 0, errorsByResource: {} as Record<string, number> };
  /** Every request delayed by `latencyMs`, oldest first (the newest DELAY_RECORDS_KEPT). */
  readonly delays: DelayRecord[] = [];

  constructor(
    private readonly dropAll: () => number,
    public random: () => number = Math.random,
  ) {}

  /** Replaces the fault configuration (pass {} or call clear() to stop injecting). */
  set(cfg: FaultConfig): void {
    this.cfg = { ...cfg };
  }

  /** Merges into the current configuration. */
  update(cfg: Partial<FaultConfig>): void {
    this.cfg = { ...this.cfg, ...cfg };
  }

  clear(): void {
    this.cfg = {};
    this.outageUntil = 0;
  }

  get config(): Readonly<FaultConfig> {
    return this.cfg;
  }

  /** Ends every open watch now (abruptly: the socket is destroyed). Returns how many. */
  dropWatches(): number {
    const n = this.dropAll();
    this.injected.droppedWatches += n;
    return n;
  }

  /**
   * For `ms` milliseconds every request fails: 'unavailable' answers 503,
   * 'reset' destroys the connection. Open watches are dropped at once.
   */
  outage(ms: number, mode: OutageMode = 'unavailable'): void {
    this.outageUntil = Date.now() + ms;
    this.outageMode = mode;
    this.dropWatches();
  }

  /** Ends an outage early. */
  endOutage(): void {
    this.outageUntil = 0;
  }

  inOutage(): OutageMode | undefined {
    return Date.now() < this.outageUntil ? this.outageMode : undefined;
  }

  private applies(req: RequestInfo): boolean {
    if (this.cfg.match !== undefined) return this.cfg.match(req);
    return req.resource !== undefined;
  }

  private pick(v: LatencySpec | undefined): number {
    if (v === undefined) return 0;
    if (typeof v === 'number') return v;
    if (isRange(v)) return v[0] + this.random() * (v[1] - v[0]);
    const total = v.mix.reduce((s, b) => s + Math.max(0, b.weight), 0);
    if (total <= 0) return 0;
    let r = this.random() * total;
    for (const b of v.mix) {
      r -= Math.max(0, b.weight);
      if (r < 0) return this.pick(b.ms);
    }
    return this.pick(v.mix.at(-1)!.ms);
  }

  latencyFor(req: RequestInfo): number {
    return this.applies(req) ? this.pick(this.cfg.latencyMs) : 0;
  }

  /** Records the delay drawn for a request (latencyFor) and the wait it had (the server measures it). */
  noteDelay(req: RequestInfo, drawnMs: number, ms: number, cut: boolean, atMs: number = performance.timeOrigin + performance.now()): void {
    this.injected.delayed += 1;
    this.delays.push({ atMs, method: req.method, resource: req.resource, watch: req.watch, drawnMs, ms, cut });
    if (this.delays.length > DELAY_RECORDS_KEPT + DELAY_RECORDS_KEPT / 10) this.delays.splice(0, this.delays.length - DELAY_RECORDS_KEPT);
  }

  responseLatencyFor(req: RequestInfo): number {
    return this.applies(req) ? this.pick(this.cfg.responseLatencyMs) : 0;
  }

  /** The status to inject instead of handling the request, if any. */
  errorFor(req: RequestInfo): number | undefined {
    if (!this.applies(req)) return undefined;
    if ((this.cfg.errorRate ?? 0) > 0 && this.random() < (this.cfg.errorRate ?? 0)) {
      this.injected.errors += 1;
      const k = req.resource ?? '';
      this.injected.errorsByResource[k] = (this.injected.errorsByResource[k] ?? 0) + 1;
      return this.cfg.errorStatus ?? 500;
    }
    if ((req.method === 'PUT' || req.method === 'PATCH') && (this.cfg.conflictRate ?? 0) > 0 && this.random() < (this.cfg.conflictRate ?? 0)) {
      this.injected.conflicts += 1;
      return 409;
    }
    return undefined;
  }
}

function isRange(v: readonly [number, number] | LatencyMix): v is readonly [number, number] {
  return Array.isArray(v);
}
