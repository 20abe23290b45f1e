// The lab's EC2 + IMDSv2 stand-in (see stand-in.ts).
export { startEc2StandIn, type Ec2StandIn, type Ec2StandInOptions, type Ec2Call, type RouteChangeListener } from './stand-in.js';
export { Faults, EC2_BUCKETS, FAULT_STATUS, type BucketSpec, type Hold, type ScriptedFailure } from './faults.js';
export {
  ACCOUNT_ID,
  Ec2Fault,
  Ec2World,
  type InstanceSpec,
  type InterfaceSpec,
  type RouteTableSpec,
  type RouteSpec,
  type RouteChange,
  type RouteTarget,
} from './model.js';
export type { ImdsCall } from './imds.js';
