// Fault injection for the EC2 stand-in: latency, scripted failures (throttling,
// 5xx, permission errors), EC2's token buckets, a hold that parks requests
// until released (to abort a caller mid-update deterministically), and late
// delivery: requests from one origin reach EC2 only after a delay and are
// then applied as usual (a write that was on the wire when its sender stopped
// waiting, as a slow network path would deliver it — fault injection, not
// modelled AWS behaviour).
// The profile's baseline (its throttling and per-call latency, see
// profile.ts) runs in the same pipeline; reset() returns to that baseline.
import { latencyOf, type LatencySpec } from './profile.js';
import { EC2_THROTTLING, Throttle, systemClock, type BucketSpec, type Clock, type ThrottleSpec } from './throttle.js';

export type { BucketSpec } from './throttle.js';

/** EC2's documented mutating and Describe figures (kept for callers of the category view). */
export const EC2_BUCKETS: { readonly mutating: BucketSpec; readonly describe: BucketSpec } = {
  mutating: EC2_THROTTLING.mutating,
  describe: EC2_THROTTLING.describe,
};

/** The message EC2 sends with RequestLimitExceeded today (see lab/README.md). */
export function requestLimitMessage(accountId: string, action: string): string {
  return `Request limit exceeded. Account ${accountId} has been throttled on ec2:${action} because it exceeded its request rate limit.`;
}

/** The HTTP status EC2 returns with each code the stand-in can inject. */
export const FAULT_STATUS: Readonly<Record<string, number>> = {
  RequestLimitExceeded: 503,
  Throttling: 400,
  InternalError: 500,
  ServiceUnavailable: 503,
  Unavailable: 503,
  UnauthorizedOperation: 403,
  AccessDenied: 403,
  AuthFailure: 401,
};

export interface ScriptedFailure {
  /** An EC2 error code: RequestLimitExceeded, InternalError, UnauthorizedOperation… */
  readonly code: string;
  /** Actions it applies to; all when omitted. */
  readonly actions?: readonly string[];
  /** Overrides the status from FAULT_STATUS (default 400 for unknown codes). */
  readonly status?: number;
  readonly message?: string;
}

export interface Hold {
  /** Requests parked so far. */
  readonly held: number;
  /** Resolves once at least n requests are parked. */
  waitForHeld(n: number): Promise<void>;
  /** Lets every parked request (and every later one) through. */
  release(): void;
}

/** Who sent a request, as the stand-in sees it. */
export interface RequestOrigin {
  /** The client's IP address (the TCP peer; an IPv4-mapped IPv6 form matches its IPv4 address). */
  readonly address?: string;
  /** The access key id of the request's SigV4 Authorization header. */
  readonly accessKeyId?: string;
}

/**
 * Matching requests are delivered late: each waits `ms` on arrival, before
 * anything else is done with it (holds, token bucket, latency, failures), and
 * is then handled as usual — a write is applied then, however long ago its
 * sender stopped waiting for the answer.
 */
export interface LateDelivery {
  readonly ms: number;
  /** Actions it applies to; all when omitted. */
  readonly actions?: readonly string[];
  /** Only requests from this origin (every field given must match); all when omitted. */
  readonly from?: RequestOrigin;
  /** How many matching requests are delayed; every one until reset when omitted. */
  readonly count?: number;
}

const applies = (actions: readonly string[] | undefined, action: string): boolean => actions === undefined || actions.includes(action);

export interface FaultsOptions {
  /** The profile's throttling (false/omitted: none). */
  readonly throttling?: ThrottleSpec | false;
  /** The profile's per-call latency (false/omitted: none). */
  readonly latency?: LatencySpec | false;
  /** Time source of the token buckets (ms; default performance.now). */
  readonly clock?: Clock;
  /** Jitter source (default Math.random). */
  readonly random?: () => number;
  /** How a delay is waited (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const plainAddress = (a: string | undefined): string | undefined => (a?.startsWith('::ffff:') === true ? a.slice(7) : a);

function fromOrigin(want: RequestOrigin | undefined, got: RequestOrigin): boolean {
  if (want === undefined) return true;
  if (want.address !== undefined && plainAddress(want.address) !== plainAddress(got.address)) return false;
  return want.accessKeyId === undefined || want.accessKeyId === got.accessKeyId;
}

/** What the pipeline decided for one request. */
export interface FaultOutcome {
  /** Late delivery waited on arrival (lateDelivery), ms; 0 when none. */
  readonly lateMs: number;
  /** The failure to send, if any. */
  readonly failure?: ScriptedFailure;
  /** The token bucket consulted (undefined when not throttling). */
  readonly bucket?: string;
  /** Delay waited before answering (profile latency + injected latency), ms. */
  readonly delayMs: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Faults {
  private latencyMs = 0;
  private latencyActions: readonly string[] | undefined;
  private scripted: Array<{ remaining: number; failure: ScriptedFailure }> = [];
  private standing: Array<{ probability: number; failure: ScriptedFailure }> = [];
  /** undefined: the profile's throttle; null: none (tokenBuckets(false)); else an injected one. */
  private throttleOverride: Throttle | null | undefined;
  private baselineThrottle: Throttle | undefined;
  private holds: Array<{ actions: readonly string[] | undefined; park(): Promise<void> }> = [];
  private late: Array<{ remaining: number; spec: LateDelivery }> = [];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly baselineLatency: LatencySpec | false;

  constructor(private readonly options: FaultsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? defaultSleep;
    this.baselineLatency = options.latency ?? false;
    this.baselineThrottle = options.throttling ? new Throttle(options.throttling, this.clock) : undefined;
  }

  /** The token buckets in force now (the profile's, or injected with tokenBuckets), if any. */
  get throttle(): Throttle | undefined {
    return this.throttleOverride === undefined ? this.baselineThrottle : (this.throttleOverride ?? undefined);
  }

  /** Delay every request (or those of the given actions) by ms before it is handled, on top of the profile's latency. */
  latency(ms: number, actions?: readonly string[]): this {
    this.latencyMs = ms;
    this.latencyActions = actions;
    return this;
  }

  /** The next `count` matching requests fail with the given error. */
  failNext(count: number, failure: ScriptedFailure): this {
    this.scripted.push({ remaining: count, failure });
    return this;
  }

  /** Every matching request fails with the given probability (1 = always) until reset. */
  fail(failure: ScriptedFailure, probability = 1): this {
    this.standing.push({ probability, failure });
    return this;
  }

  /** Permission failure for the given actions (UnauthorizedOperation by default) until reset. */
  deny(actions: readonly string[], code: 'UnauthorizedOperation' | 'AccessDenied' = 'UnauthorizedOperation'): this {
    return this.fail({ code, actions });
  }

  /**
   * Replace the profile's token buckets until reset(): true = EC2's documented
   * figures (fresh, full buckets), false = no throttling, or a spec (per-action
   * buckets unless its scope is 'category'; describeUnfiltered defaults to describe).
   */
  tokenBuckets(spec: boolean | ThrottleSpec): this {
    this.throttleOverride = spec === false ? null : new Throttle(spec === true ? EC2_THROTTLING : spec, this.clock);
    return this;
  }

  /**
   * Deliver matching requests `ms` late (see LateDelivery): e.g. every ReplaceRoute from one
   * gateway's address, once, so that a write it sent lands after it has stopped leading.
   */
  lateDelivery(spec: LateDelivery): this {
    if (!(Number.isFinite(spec.ms) && spec.ms >= 0)) throw new Error(`lateDelivery: ms must be ≥ 0 (got ${spec.ms})`);
    if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 1)) throw new Error(`lateDelivery: count must be a positive integer (got ${spec.count})`);
    this.late.push({ remaining: spec.count ?? Infinity, spec });
    return this;
  }

  /** Park matching requests (before they are handled) until release(). */
  hold(actions?: readonly string[]): Hold {
    let released = false;
    let held = 0;
    const parked: Array<() => void> = [];
    const waiters: Array<{ n: number; resolve: () => void }> = [];
    const entry = {
      actions,
      park: (): Promise<void> => {
        if (released) return Promise.resolve();
        held += 1;
        for (const w of waiters.filter((x) => held >= x.n)) w.resolve();
        return new Promise<void>((resolve) => parked.push(resolve));
      },
    };
    this.holds.push(entry);
    return {
      get held() {
        return held;
      },
      waitForHeld: (n) =>
        held >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
      release: () => {
        released = true;
        this.holds = this.holds.filter((h) => h !== entry);
        for (const r of parked.splice(0)) r();
      },
    };
  }

  /** Drops every injected fault and returns to the profile's baseline (its buckets start full again). */
  reset(): this {
    this.latencyMs = 0;
    this.latencyActions = undefined;
    this.scripted = [];
    this.standing = [];
    // A request already delivered late is not called back: it lands when its delay is over.
    this.late = [];
    this.throttleOverride = undefined;
    this.baselineThrottle = this.options.throttling ? new Throttle(this.options.throttling, this.clock) : undefined;
    // Holds are released by whoever took them (Hold.release()).
    return this;
  }

  /**
   * @internal the stand-in's pipeline for one signed request to a known action
   * from `origin`: late delivery (only after it does the request reach EC2),
   * holds, then the token bucket (decided on arrival: every such request takes
   * a token, including ones refused later for permission or validation, or
   * answering DryRunOperation; a refused one takes none), then the delay
   * (profile latency + injected latency, for every answer), then scripted failures.
   */
  async apply(action: string, params: ReadonlyMap<string, string> = new Map(), origin: RequestOrigin = {}): Promise<FaultOutcome> {
    const late = this.late.find((l) => l.remaining > 0 && applies(l.spec.actions, action) && fromOrigin(l.spec.from, origin));
    const lateMs = late?.spec.ms ?? 0;
    if (late !== undefined) {
      late.remaining -= 1;
      if (lateMs > 0) await this.sleep(lateMs);
    }
    for (const h of this.holds) if (applies(h.actions, action)) await h.park();
    const throttle = this.throttle;
    const decision = throttle?.take(action, params);
    let delayMs = this.baselineLatency === false ? 0 : latencyOf(this.baselineLatency, action, this.random);
    if (this.latencyMs > 0 && applies(this.latencyActions, action)) delayMs += this.latencyMs;
    if (delayMs > 0) await this.sleep(delayMs);
    const bucket = decision?.bucket;
    if (decision !== undefined && !decision.allowed) return { failure: { code: 'RequestLimitExceeded' }, bucket, delayMs, lateMs };
    const s = this.scripted.find((x) => x.remaining > 0 && applies(x.failure.actions, action));
    if (s) {
      s.remaining -= 1;
      return { failure: s.failure, bucket, delayMs, lateMs };
    }
    for (const f of this.standing) if (applies(f.failure.actions, action) && this.random() < f.probability) return { failure: f.failure, bucket, delayMs, lateMs };
    return { bucket, delayMs, lateMs };
  }
}
