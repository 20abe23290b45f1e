// Fault injection for the stand-in: latency, 5xx and 409 rates, dropped
// watches, outages. Decisions use an injectable random source so a test can
// replay a seed.

export interface RequestInfo {
  readonly method: string;
  readonly path: string;
  /** Plural of the resource addressed (undefined for discovery and other paths). */
  readonly resource: string | undefined;
  readonly watch: boolean;
}

export interface FaultConfig {
  /** Extra latency before a request is handled: fixed ms or a uniform [min, max] range. */
  latencyMs?: number | readonly [number, number];
  /** Extra latency after a write was applied, before its response is sent ([min, max] or fixed). */
  responseLatencyMs?: number | readonly [number, number];
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
  /** Injected counts, for tests' reports. */
  readonly injected = { errors: 0, conflicts: 0, outageRefusals: 0, droppedWatches: 0 };

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

  private pick(v: number | readonly [number, number] | undefined): number {
    if (v === undefined) return 0;
    if (typeof v === 'number') return v;
    return v[0] + this.random() * (v[1] - v[0]);
  }

  latencyFor(req: RequestInfo): number {
    return this.applies(req) ? this.pick(this.cfg.latencyMs) : 0;
  }

  responseLatencyFor(req: RequestInfo): number {
    return this.applies(req) ? this.pick(this.cfg.responseLatencyMs) : 0;
  }

  /** The status to inject instead of handling the request, if any. */
  errorFor(req: RequestInfo): number | undefined {
    if (!this.applies(req)) return undefined;
    if ((this.cfg.errorRate ?? 0) > 0 && this.random() < (this.cfg.errorRate ?? 0)) {
      this.injected.errors += 1;
      return this.cfg.errorStatus ?? 500;
    }
    if ((req.method === 'PUT' || req.method === 'PATCH') && (this.cfg.conflictRate ?? 0) > 0 && this.random() < (this.cfg.conflictRate ?? 0)) {
      this.injected.conflicts += 1;
      return 409;
    }
    return undefined;
  }
}
