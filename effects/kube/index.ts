// Kubernetes adapters of the gateway (see README "effects/kube").
export { backoffDelay, DEFAULT_REQUEST_TIMEOUT_MS, kubeCall, kubeClients, loadKubeConfig, withKubeRetry, type CallOptions, type KubeClients, type KubeRetryOptions } from './client.js';
export { KubeApplyConflictError, KubeError, KubeFencedError, KubeMalformedError, statusToKubeError, toKubeError, type FieldConflict, type KubeErrorCode } from './errors.js';
export { ListWatch, type KubeObject, type ListPage, type ListWatchHandlers, type ListWatchOptions, type ListWatchTarget } from './list-watch.js';
export { collectionPath, customObjectsTarget, toListPage, type GroupResource } from './targets.js';
export { LeaseLock, type LeaseLockOptions } from './lease-lock.js';
export {
  formatMicroTime,
  LEASE_DURATION_MS_ANNOTATION,
  parseLeaseRecord,
  type LeaseAttempt,
  type LeaseObservation,
  type LeaseOutcome,
  type LeaseRecord,
} from './lease-record.js';
export {
  CILIUM_NODE_GROUP,
  CILIUM_NODE_PLURAL,
  CILIUM_NODE_VERSION,
  HYBRID_NODE_SELECTOR,
  startCiliumNodeInformer,
  type CiliumNodeHandlers,
  type CiliumNodeInformer,
  type CiliumNodeInformerOptions,
} from './cilium-nodes.js';
export {
  DEFAULT_VTEP_CONFIG_NAME,
  ownerOf,
  readEndpoints,
  REUSE_READ_MS,
  VtepConfigClient,
  VtepOwnedElsewhereError,
  vtepSpecEquals,
  type VtepConfigOptions,
  type VtepOwner,
  type VtepEndpoint,
  type VtepUpsertAction,
  type VtepUpsertResult,
} from './vtep-config.js';
export { appliedFields, applyConfiguration, conflictsWithinEndpoints, isApplied, vtepEndpointsPresent, type ApplyWanted, type ShardEndpoint } from './vtep-apply.js';
export { readOtherLease } from './other-lease.js';
export { readLease, releaseSeized, seizeLease, type LeaseRef, type LeaseView, type SeizedLease, type SeizeOptions } from './lease-seize.js';
export { ciliumNodeRef, EVENT_REASONS, EventRecorder, podRef, type EventReason, type EventRecorderOptions, type EventType, type ObjectRef, type RecordResult } from './events.js';
export {
  leaseWatchActor,
  memberHeartbeatActor,
  membersWatchActor,
  vtepWatchActor,
  type HeartbeatOptions,
  type LeaseWatchEvent,
  type MembersChangedEvent,
} from './actors.js';
export {
  MEMBER_LABEL,
  MemberLease,
  memberLeaseName,
  memberSelector,
  watchMembers,
  type MemberLeaseOptions,
  type MemberObservation,
  type MemberRenewal,
  type MembersRef,
  type MemberWatch,
  type MemberWatchOptions,
} from './members.js';
