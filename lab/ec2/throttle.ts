// EC2's request rate limiting, as "Request throttling for the Amazon EC2 API"
// documents it (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):
// a token bucket per account and Region *per API action* ("each API is
// evaluated individually"; "Limits are applied to individual API actions, not
// API action categories"), sized by the action's category:
//
//   non-mutating (Describe*, List*, Search*, Get*)        100 tokens, +20/s
//   unfiltered and unpaginated non-mutating               50 tokens, +10/s
//     (DescribeInstances, DescribeInstanceStatus, DescribeNetworkInterfaces,
//      DescribeSecurityGroups, DescribeSnapshots, DescribeSpotInstanceRequests,
//      DescribeVolumes, when sent with neither a filter nor pagination)
//   mutating (everything else)                             50 tokens, +5/s
//   uncategorized: ModifyNetworkInterfaceAttribute        100 tokens, +5/s
//
// Only the categories of the actions the gateway sends are modelled (the
// resource-intensive, console and resource-token buckets are left out).
// Refill is continuous (a token every 1/rate seconds), the usual token-bucket
// reading of "a set number of tokens is added back to it every second".

/** One bucket's size and refill rate. */
export interface BucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

export interface ThrottleSpec {
  /** Mutating actions (CreateRoute, ReplaceRoute, DeleteRoute…). */
  readonly mutating: BucketSpec;
  /** Non-mutating actions (DescribeRouteTables, filtered or paginated DescribeNetworkInterfaces…). */
  readonly describe: BucketSpec;
  /** The smaller bucket of the unfiltered-and-unpaginated subset; the describe bucket's spec when omitted. */
  readonly describeUnfiltered?: BucketSpec;
  /** Per-action specs ("uncategorized actions" with their own figures). */
  readonly actions?: Readonly<Record<string, BucketSpec>>;
  /**
   * 'action' (default, as EC2 documents it): every action has its own bucket.
   * 'category': one bucket shared by all actions of a category (harsher than EC2).
   */
  readonly scope?: 'action' | 'category';
}

/** EC2's documented figures for the actions the gateway uses. */
export const EC2_THROTTLING: ThrottleSpec = Object.freeze({
  mutating: Object.freeze({ capacity: 50, refillPerSecond: 5 }),
  describe: Object.freeze({ capacity: 100, refillPerSecond: 20 }),
  describeUnfiltered: Object.freeze({ capacity: 50, refillPerSecond: 10 }),
  actions: Object.freeze({ ModifyNetworkInterfaceAttribute: Object.freeze({ capacity: 100, refillPerSecond: 5 }) }),
  scope: 'action' as const,
});

/** The unfiltered-and-unpaginated subset of the documentation's table. */
export const UNFILTERED_UNPAGINATED_ACTIONS: ReadonlySet<string> = new Set([
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeNetworkInterfaces',
  'DescribeSecurityGroups',
  'DescribeSnapshots',
  'DescribeSpotInstanceRequests',
  'DescribeVolumes',
]);

/** Milliseconds from an arbitrary origin, never going back (performance.now by default). */
export type Clock = () => number;

export const systemClock: Clock = () => performance.now();

export function isNonMutating(action: string): boolean {
  return /^(Describe|List|Search|Get)[A-Z]/.test(action);
}

function checkSpec(what: string, s: BucketSpec): void {
  if (!(Number.isFinite(s.capacity) && s.capacity >= 1 && Number.isFinite(s.refillPerSecond) && s.refillPerSecond >= 0)) {
    throw new Error(`EC2 throttling: ${what} needs capacity ≥ 1 and refillPerSecond ≥ 0 (got ${JSON.stringify(s)})`);
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly clock: Clock = systemClock,
  ) {
    checkSpec('a bucket', spec);
    this.tokens = spec.capacity;
    this.last = clock();
  }

  private refill(): void {
    const now = this.clock();
    if (now > this.last) this.tokens = Math.min(this.spec.capacity, this.tokens + ((now - this.last) / 1000) * this.spec.refillPerSecond);
    this.last = Math.max(this.last, now);
  }

  /** Tokens in the bucket now (fractional between refills). */
  level(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes one token; false (and nothing taken) when fewer than one is left. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface ThrottleDecision {
  /** The bucket consulted, e.g. "CreateRoute" or "DescribeNetworkInterfaces (unfiltered)". */
  readonly bucket: string;
  readonly allowed: boolean;
}

type Params = ReadonlyMap<string, string>;

/** The account's buckets, created on first use. */
export class Throttle {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly spec: ThrottleSpec,
    private readonly clock: Clock = systemClock,
  ) {
    checkSpec('mutating', spec.mutating);
    checkSpec('describe', spec.describe);
    if (spec.describeUnfiltered) checkSpec('describeUnfiltered', spec.describeUnfiltered);
    for (const [a, s] of Object.entries(spec.actions ?? {})) checkSpec(a, s);
  }

  /** Which bucket a request draws from, and its spec. */
  bucketOf(action: string, params: Params = new Map()): { key: string; spec: BucketSpec } {
    const own = this.spec.actions?.[action];
    if (own !== undefined) return { key: action, spec: own };
    const perAction = (this.spec.scope ?? 'action') === 'action';
    if (!isNonMutating(action)) return { key: perAction ? action : 'mutating', spec: this.spec.mutating };
    const filteredOrPaginated = [...params.keys()].some((k) => k.startsWith('Filter.') || k === 'MaxResults' || k === 'NextToken');
    if (UNFILTERED_UNPAGINATED_ACTIONS.has(action) && !filteredOrPaginated) {
      return { key: perAction ? `${action} (unfiltered)` : 'describe (unfiltered)', spec: this.spec.describeUnfiltered ?? this.spec.describe };
    }
    return { key: perAction ? action : 'describe', spec: this.spec.describe };
  }

  take(action: string, params: Params = new Map()): ThrottleDecision {
    const { key, spec } = this.bucketOf(action, params);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(spec, this.clock);
      this.buckets.set(key, bucket);
    }
    return { bucket: key, allowed: bucket.take() };
  }

  /** Tokens left in a bucket (its capacity if it was never used). */
  level(action: string, params: Params = new Map()): number {
    const { key, spec } = this.bucketOf(action, params);
    return this.buckets.get(key)?.level() ?? spec.capacity;
  }
}
