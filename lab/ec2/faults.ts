// Fault injection for the EC2 stand-in: latency, scripted failures (throttling,
// 5xx, permission errors), EC2's real token buckets, and a hold that parks
// requests until released (to abort a caller mid-update deterministically).

/** EC2 API rate limiting: mutating calls and Describe calls have separate buckets. */
export interface BucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** EC2's documented defaults per account: mutating 50 + 5/s, Describe 100 + 20/s. */
export const EC2_BUCKETS: { readonly mutating: BucketSpec; readonly describe: BucketSpec } = {
  mutating: { capacity: 50, refillPerSecond: 5 },
  describe: { capacity: 100, refillPerSecond: 20 },
};

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

class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(readonly spec: BucketSpec) {
    this.tokens = spec.capacity;
  }
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.spec.capacity, this.tokens + ((now - this.last) / 1000) * this.spec.refillPerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface Hold {
  /** Requests parked so far. */
  readonly held: number;
  /** Resolves once at least n requests are parked. */
  waitForHeld(n: number): Promise<void>;
  /** Lets every parked request (and every later one) through. */
  release(): void;
}

const applies = (actions: readonly string[] | undefined, action: string): boolean => actions === undefined || actions.includes(action);

export class Faults {
  private latencyMs = 0;
  private latencyActions: readonly string[] | undefined;
  private scripted: Array<{ remaining: number; failure: ScriptedFailure }> = [];
  private standing: Array<{ probability: number; failure: ScriptedFailure }> = [];
  private buckets: { mutating: TokenBucket; describe: TokenBucket } | undefined;
  private holds: Array<{ actions: readonly string[] | undefined; park(): Promise<void> }> = [];

  /** Delay every request (or those of the given actions) by ms before it is handled. */
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

  /** Enforce EC2's token buckets (true = the documented defaults). */
  tokenBuckets(spec: boolean | { mutating: BucketSpec; describe: BucketSpec }): this {
    if (spec === false) this.buckets = undefined;
    else {
      const s = spec === true ? EC2_BUCKETS : spec;
      this.buckets = { mutating: new TokenBucket(s.mutating), describe: new TokenBucket(s.describe) };
    }
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

  reset(): this {
    this.latencyMs = 0;
    this.latencyActions = undefined;
    this.scripted = [];
    this.standing = [];
    this.buckets = undefined;
    // Holds are released by whoever took them (Hold.release()).
    return this;
  }

  /** @internal the stand-in's pipeline: waits, then returns the failure to send, if any. */
  async apply(action: string, mutating: boolean): Promise<ScriptedFailure | undefined> {
    for (const h of this.holds) if (applies(h.actions, action)) await h.park();
    if (this.latencyMs > 0 && applies(this.latencyActions, action)) await new Promise((r) => setTimeout(r, this.latencyMs));
    const s = this.scripted.find((x) => x.remaining > 0 && applies(x.failure.actions, action));
    if (s) {
      s.remaining -= 1;
      return s.failure;
    }
    for (const f of this.standing) if (applies(f.failure.actions, action) && Math.random() < f.probability) return f.failure;
    if (this.buckets && !(mutating ? this.buckets.mutating : this.buckets.describe).take()) {
      return { code: 'RequestLimitExceeded', message: 'Request limit exceeded.' };
    }
    return undefined;
  }
}
