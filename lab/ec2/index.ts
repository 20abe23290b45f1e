// The lab's EC2 + IMDSv2 stand-in (see stand-in.ts).
export { startEc2StandIn, type Ec2StandIn, type Ec2StandInOptions, type Ec2Call, type RouteChangeListener } from './stand-in.js';
export { Faults, EC2_BUCKETS, FAULT_STATUS, requestLimitMessage, type FaultOutcome, type FaultsOptions, type Hold, type LateDelivery, type RequestOrigin, type ScriptedFailure } from './faults.js';
export {
  EC2_THROTTLING,
  UNFILTERED_UNPAGINATED_ACTIONS,
  Throttle,
  TokenBucket,
  systemClock,
  type BucketSpec,
  type Clock,
  type ThrottleDecision,
  type ThrottleSpec,
} from './throttle.js';
export {
  DEFAULT_ROUTES_PER_TABLE,
  EC2_PROFILES,
  EC2_PROFILE_NAMES,
  MAX_ROUTES_PER_TABLE,
  drawDelay,
  ec2ProfileFromEnv,
  latencyOf,
  resolveEc2Behaviour,
  type DelaySpec,
  type Ec2Behaviour,
  type Ec2BehaviourOverrides,
  type Ec2ProfileName,
  type LatencySpec,
} from './profile.js';
export { createPropagator, type Propagator, type PropagatorOptions, type ScheduledRouteChange } from './propagation.js';
export {
  ACCOUNT_ID,
  Ec2Fault,
  Ec2World,
  MAX_RESULTS_RANGE,
  checkMaxResults,
  type Ec2WorldOptions,
  type InstanceSpec,
  type InterfaceSpec,
  type Page,
  type PageRequest,
  type RouteTableSpec,
  type RouteSpec,
  type RouteChange,
  type RouteTarget,
  type IngressRule,
  type SecurityGroup,
  type SecurityGroupSpec,
} from './model.js';
export type { ImdsCall } from './imds.js';
