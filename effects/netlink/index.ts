// effects/netlink: the data plane (hybrid_vxlan0 and per-node VTEP entries).
export { DataPlane, openDataPlane, type DataPlaneOptions } from './data-plane.js';
export {
  DEFAULT_DEVICE_NAME,
  DEFAULT_VNI,
  DEFAULT_VXLAN_PORT,
  VXLAN_OVERHEAD,
  DEFAULT_VXLAN_MTU,
  type DeviceInfo,
  type EnsureDeviceOptions,
  type LinkRef,
} from './device.js';
export type { Entry } from './entries.js';
export type { DataPlaneStats, IfStats } from './stats.js';
export type { DeviceRef, ProgramResult, ReconcileResult, WriteOptions } from './types.js';
export { deviceMacFor, deviceMacBytes } from './device-mac.js';
export { HYBRID_ROUTE_TABLE, HYBRID_RULE_PRIORITY, RTPROT_HYBRID_GATEWAY } from './entries.js';
export type { RulePlan } from './rule-plan.js';
export { NetlinkError, isNetlinkError, toNetlinkError, type NetlinkErrorCode } from './errors.js';
export { nodesTouched, programVtepActor, refusedNodes, removeVtepActor, reconcileKernelActor, type DeviceGetter } from './actors.js';
