// The lab's Amazon EKS stand-in (see stand-in.ts): DescribeCluster only.
export { clusterArn, startEksStandIn, type EksCall, type EksCluster, type EksClusterSpec, type EksStandIn, type EksStandInOptions } from './stand-in.js';
