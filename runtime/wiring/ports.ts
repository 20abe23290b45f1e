// What the gateway's wiring uses of each adapter effects/ constructs, and of
// the host's clock: startGateway passes the real ones (LeaseLock,
// VtepConfigClient, the netlink DataPlane, IMDS and EC2, performance.now and
// setInterval); the model-based tests pass doubles of exactly these, so the
// machine they replay on is the one provideGatewayMachine builds for production.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { DiscoverOptions, InstanceIdentity } from '../../effects/aws/index.js';
import type { EventRecorder, KubeClients, LeaseLock, MemberLease, VtepConfigClient } from '../../effects/kube/index.js';
import type { DataPlane } from '../../effects/netlink/index.js';

export type DataPlanePort = Pick<DataPlane, 'routeTable' | 'ensureDevice' | 'ensureRules' | 'ipForwardEnabled' | 'programVtep' | 'removeVtep' | 'reconcile'>;
export type LeaseLockPort = Pick<LeaseLock, 'identity' | 'observation' | 'tryAcquireOrRenew' | 'release' | 'watchLease' | 'fence' | 'isHeld' | 'heldSignal'>;
export type VtepConfigPort = Pick<VtepConfigClient, 'name' | 'get' | 'upsert' | 'applyEndpoints' | 'watch'>;
export type MemberPort = Pick<MemberLease, 'join' | 'renew' | 'leave'>;
export type EventsPort = Pick<EventRecorder, 'record'>;

/** Instance identity (IMDS) and an EC2 client for its region. */
export interface CloudPort {
  discover(options: DiscoverOptions): Promise<InstanceIdentity>;
  ec2(region: string): EC2Client;
}

export interface ClockPort {
  /** Monotonic milliseconds: lease renewals are stamped and the renew deadline counted with it. */
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called (the device watchdog). */
  every(ms: number, fn: () => void): () => void;
}

export interface GatewayAdapters {
  readonly dp: DataPlanePort;
  /** Shard k's Lease lock at index k (one with --shards 1). */
  readonly locks: readonly LeaseLockPort[];
  /** This gateway's member Lease, with more than one shard. */
  readonly member?: MemberPort | undefined;
  readonly vtepConfig: VtepConfigPort;
  /** For another installation's Lease (the ownership check). */
  readonly clients: KubeClients;
  readonly events: EventsPort;
  readonly cloud: CloudPort;
  readonly clock: ClockPort;
  /** The backoffs' jitter, in [0, 1). */
  readonly random: () => number;
}
