// effects/netlink: the data plane (hybrid_vxlan0 and per-node VTEP entries).
export {
  DataPlane,
  openDataPlane,
  DEFAULT_DEVICE_NAME,
  DEFAULT_VNI,
  DEFAULT_VXLAN_PORT,
  VXLAN_OVERHEAD,
  DEFAULT_VXLAN_MTU,
  type DataPlaneOptions,
  type DataPlaneStats,
  type DeviceInfo,
  type DeviceRef,
  type EnsureDeviceOptions,
  type Entry,
  type IfStats,
  type LinkRef,
  type ProgramResult,
  type ReconcileResult,
  type WriteOptions,
} from './data-plane.js';
export { deviceMacFor, deviceMacBytes } from './device-mac.js';
export { HYBRID_ROUTE_TABLE, HYBRID_RULE_PRIORITY, RTPROT_HYBRID_GATEWAY } from './entries.js';
export type { RulePlan } from './rule-plan.js';
export { NetlinkError, isNetlinkError, toNetlinkError, type NetlinkErrorCode } from './errors.js';
export { NETLINK_RETRY_POLICY, isRetryableNetlinkError, withNetlinkRetry } from './retry.js';
export { nodesTouched, programVtepActor, refusedNodes, removeVtepActor, reconcileKernelActor, type DeviceGetter } from './actors.js';
