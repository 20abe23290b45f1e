// How EC2 behaves towards its client in the lab: 'ideal' (answers at once,
// never throttles, no quotas, route changes reach the VPC router before the
// API answers — the stand-in as it always was) or 'realistic' (EC2's
// documented throttling, pagination and route quota, plus assumed call
// latency and route propagation delay). lab/README.md lists the sources.
//
//   startEc2StandIn({ …, profile: 'realistic', behaviour: { routesPerTable: 50 } })
//   control-plane worker JSON: { …, "ec2Profile": "realistic", "ec2Behaviour": { "propagation": false } }
//
// Without a profile option, LAB_EC2_PROFILE (realistic | ideal) picks one, and
// without that the profile is 'ideal'.
import { EC2_THROTTLING, type ThrottleSpec } from './throttle.js';

/** A delay of ms plus a uniformly random extra in [0, jitterMs). */
export interface DelaySpec {
  readonly ms: number;
  readonly jitterMs?: number;
}

/** Per-call latency: one delay for every action, optionally overridden per action. */
export interface LatencySpec extends DelaySpec {
  readonly actions?: Readonly<Record<string, DelaySpec>>;
}

export interface Ec2Behaviour {
  /** Per-action token buckets (RequestLimitExceeded, HTTP 503, when empty); false = never throttle. */
  readonly throttling: ThrottleSpec | false;
  /** Delay before every API answer; false = answer at once. */
  readonly latency: LatencySpec | false;
  /** Honour MaxResults / NextToken (validated as EC2 does); false = ignore them and return everything. */
  readonly pagination: boolean;
  /** "Routes per route table (non-propagated routes)": CreateRoute beyond it fails with RouteLimitExceeded; false = no quota. */
  readonly routesPerTable: number | false;
  /**
   * Time from EC2 accepting a route write to the route taking effect in the
   * VPC data plane (the lab's router namespace); false = applied before the API answers.
   */
  readonly propagation: DelaySpec | false;
}

export type Ec2ProfileName = 'realistic' | 'ideal';

/** Overrides on top of a profile; throttling and latency objects are merged one level deep. */
export type Ec2BehaviourOverrides = {
  readonly [K in keyof Ec2Behaviour]?: K extends 'throttling' ? Partial<ThrottleSpec> | false : K extends 'latency' ? Partial<LatencySpec> | false : Ec2Behaviour[K];
};

export const EC2_PROFILE_NAMES: readonly Ec2ProfileName[] = ['realistic', 'ideal'];

/** Documented default of "Routes per route table (non-propagated routes)" (Amazon VPC quotas). */
export const DEFAULT_ROUTES_PER_TABLE = 500;
/** Its documented maximum after a quota increase. */
export const MAX_ROUTES_PER_TABLE = 1000;

export const EC2_PROFILES: Readonly<Record<Ec2ProfileName, Ec2Behaviour>> = Object.freeze({
  realistic: Object.freeze({
    throttling: EC2_THROTTLING,
    // Assumption (no public figure found): tens of ms per call, here 30–60 ms.
    latency: Object.freeze({ ms: 30, jitterMs: 30 }),
    pagination: true,
    routesPerTable: DEFAULT_ROUTES_PER_TABLE,
    // Assumption (no public figure found): 0.5–1 s from accepted write to data plane.
    propagation: Object.freeze({ ms: 500, jitterMs: 500 }),
  }),
  ideal: Object.freeze({
    throttling: false as const,
    latency: false as const,
    pagination: false,
    routesPerTable: false as const,
    propagation: false as const,
  }),
});

function checkDelay(what: string, d: DelaySpec): void {
  if (!(Number.isFinite(d.ms) && d.ms >= 0 && (d.jitterMs === undefined || (Number.isFinite(d.jitterMs) && d.jitterMs >= 0)))) {
    throw new Error(`EC2 behaviour: ${what} needs ms ≥ 0 and jitterMs ≥ 0 (got ${JSON.stringify(d)})`);
  }
}

/** The profile named by LAB_EC2_PROFILE, if set. */
export function ec2ProfileFromEnv(env: NodeJS.ProcessEnv = process.env): Ec2ProfileName | undefined {
  const v = env.LAB_EC2_PROFILE;
  return v === undefined || v === '' ? undefined : checkProfile(v, 'LAB_EC2_PROFILE');
}

function checkProfile(name: string, where: string): Ec2ProfileName {
  if (!(EC2_PROFILE_NAMES as readonly string[]).includes(name)) {
    throw new Error(`${where}: unknown EC2 profile "${name}" (want ${EC2_PROFILE_NAMES.join(' or ')})`);
  }
  return name as Ec2ProfileName;
}

/** A profile with overrides applied, validated. */
export function resolveEc2Behaviour(profile?: string, overrides: Ec2BehaviourOverrides = {}): Ec2Behaviour & { readonly profile: Ec2ProfileName } {
  const name = profile !== undefined ? checkProfile(profile, 'ec2 profile') : (ec2ProfileFromEnv() ?? 'ideal');
  const base = EC2_PROFILES[name];
  const throttling =
    overrides.throttling === undefined
      ? base.throttling
      : overrides.throttling === false
        ? false
        : ({ ...(base.throttling === false ? EC2_THROTTLING : base.throttling), ...overrides.throttling });
  const latency =
    overrides.latency === undefined
      ? base.latency
      : overrides.latency === false
        ? false
        : ({ ...(base.latency === false ? { ms: 0 } : base.latency), ...overrides.latency });
  const out = {
    profile: name,
    throttling,
    latency,
    pagination: overrides.pagination ?? base.pagination,
    routesPerTable: overrides.routesPerTable ?? base.routesPerTable,
    propagation: overrides.propagation ?? base.propagation,
  };
  if (out.latency !== false) {
    checkDelay('latency', out.latency);
    for (const [a, d] of Object.entries(out.latency.actions ?? {})) checkDelay(`latency of ${a}`, d);
  }
  if (out.propagation !== false) checkDelay('propagation', out.propagation);
  if (out.routesPerTable !== false && !(Number.isInteger(out.routesPerTable) && out.routesPerTable >= 1 && out.routesPerTable <= MAX_ROUTES_PER_TABLE)) {
    throw new Error(`EC2 behaviour: routesPerTable must be an integer from 1 to ${MAX_ROUTES_PER_TABLE}, EC2's adjustable maximum (got ${String(out.routesPerTable)})`);
  }
  return out;
}

/** One draw of a delay: ms + random() × jitterMs. */
export function drawDelay(d: DelaySpec, random: () => number = Math.random): number {
  return d.ms + (d.jitterMs ?? 0) * random();
}

/** The latency of one call of an action. */
export function latencyOf(l: LatencySpec, action: string, random: () => number = Math.random): number {
  return drawDelay(l.actions?.[action] ?? l, random);
}
