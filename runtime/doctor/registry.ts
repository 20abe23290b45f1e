// Every check doctor runs, in the order it prints them. The README's
// "Before you install" list is checked against this one (test/unit/doctor-readme.test.ts).
import { register, type RegisteredCheck } from './check.js';
import { crdCheck } from './checks/crd.js';
import { l7ProxyDisabledCheck, vniCheck, vtepEnabledCheck } from './checks/cilium-config.js';
import { leaseCheck } from './checks/lease.js';
import { pointsAtLeaderCheck, vtepReadyCheck } from './checks/vtep-config.js';
import { ciliumNodesCheck } from './checks/cilium-nodes.js';
import { gatewayPodsCheck } from './checks/gateway-pods.js';
import { awsNodeSnatCheck } from './checks/aws-node.js';
import { routesCheck } from './checks/aws-routes.js';
import { sourceDestCheck } from './checks/aws-eni.js';
import { securityGroupsCheck } from './checks/aws-security-groups.js';
import { remotePodNetworksCheck } from './checks/aws-remote-pod-networks.js';
import { iamCheck } from './checks/aws-iam.js';

export const CHECKS: readonly RegisteredCheck[] = [
  register(crdCheck),
  register(vtepEnabledCheck),
  register(l7ProxyDisabledCheck),
  register(vniCheck),
  register(gatewayPodsCheck),
  register(leaseCheck),
  register(pointsAtLeaderCheck),
  register(vtepReadyCheck),
  register(ciliumNodesCheck),
  register(awsNodeSnatCheck),
  register(routesCheck),
  register(sourceDestCheck),
  register(securityGroupsCheck),
  register(remotePodNetworksCheck),
  register(iamCheck),
];
