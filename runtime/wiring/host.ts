// What start-up finds out about this host, in one place: the init stages of
// the gateway statechart write it, the data plane and the leader work read
// it. Nothing else is shared between the runtime's modules.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { GATEWAY_ENIS_ANNOTATION, withEni } from '../../machines/domain/cleanup.js';
import type { InstanceIdentity } from '../../effects/aws/index.js';
import type { DeviceInfo } from '../../effects/netlink/index.js';
import type { GatewayConfig } from '../config/parse.js';

export const VXLAN_DEVICE = 'hybrid_vxlan0';

export interface Cloud {
  readonly id: InstanceIdentity;
  readonly ec2: EC2Client;
}

export class HostFacts {
  /** hybrid_vxlan0 as last ensured (init stage `device`, then the watchdog). */
  device: DeviceInfo | undefined;
  /** Instance, region, ENI and an EC2 client (init stage `cloudIdentity`). */
  cloud: Cloud | undefined;
  /** The CiliumNode informer has listed once. */
  informerSynced = false;
  /** The fleet has converged the kernel once. */
  converged = false;
}

/**
 * The Lease annotations of this pod's writes as holder: its ENI added to the installation's record
 * (machines/domain/cleanup.ts: cleanup deletes only routes to a recorded ENI). The ENI is known
 * before the pod competes, so the write that makes it leader carries it, before any route write.
 */
export function eniRecord(host: HostFacts): (current: Readonly<Record<string, string>>) => Record<string, string> {
  return (current): Record<string, string> => {
    const eni = host.cloud?.id.networkInterfaceId;
    if (eni === undefined) return {};
    return { [GATEWAY_ENIS_ANNOTATION]: withEni(current[GATEWAY_ENIS_ANNOTATION], eni) };
  };
}

/** Every IPv4 address on this host's interfaces (the pod runs in the host's network namespace). */
export function localIPv4Addresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

/** The Lease's namespace: flag/env, else the pod's service-account namespace, else "default". */
export function leaseNamespace(config: Pick<GatewayConfig, 'leaderElectionNamespace'>): string {
  if (config.leaderElectionNamespace) return config.leaderElectionNamespace;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}
