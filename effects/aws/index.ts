// effects/aws: IMDSv2 identity discovery, VPC route tables (a pure plan in
// route-plan.ts, carried out by route-tables.ts, every write fenced on the
// wire by fence.ts) and the ENI's source/destination check, over
// @aws-sdk/client-ec2, with typed errors and caller-chosen retry policies
// (p-retry). delete-routes.ts is cleanup's: the tables as they are, and DeleteRoute.
// eks-client.ts and eks-cluster.ts (doctor's DescribeCluster) are left out of
// this barrel so that the gateway, which imports it, never loads the EKS SDK.
export { createEc2Client, type Ec2ClientOptions } from './ec2-client.js';
export { AwsInputError, Ec2Error, EksError, FencedError, ImdsError, classifyAwsCode, toEc2Error, toEksError, type AwsErrorKind, type ImdsErrorCode } from './errors.js';
export { WritesOnWire } from './fence.js';
export { DEFAULT_AWS_RETRY_POLICY, NO_RETRY, withRetry, type RetryInfo, type RetryOptions, type RetryPolicy } from './retry.js';
export {
  ImdsClient,
  IMDS_IPV4_ENDPOINT,
  IMDS_IPV6_ENDPOINT,
  MAX_TOKEN_TTL_SECONDS,
  discoverInstanceIdentity,
  discoverRegion,
  resolveImdsEndpoint,
  type DiscoverOptions,
  type ImdsClientOptions,
  type InstanceIdentity,
} from './imds.js';
export {
  checkSourceDestCheck,
  describeNetworkInterface,
  findNetworkInterfaceByPrivateIp,
  sourceDestCheckReport,
  type CallOptions,
  type EniInfo,
  type SourceDestCheckReport,
} from './eni.js';
export {
  ensureRoutes,
  routesFailure,
  type EnsureRoutesOptions,
  type EnsureRoutesResult,
  type RouteAction,
  type RouteResult,
  type RouteRetryEvent,
  type RouteStatus,
  type RouteStrategy,
  type RouteUpdateEvent,
  type TableResult,
} from './route-tables.js';
export { deleteRoutes, describeRouteTables, type DeleteResult, type DeleteRoutesOptions, type DeleteStatus, type RouteKey } from './delete-routes.js';
export type { Described, RouteView, TableView } from './route-plan.js';
