// How real the lab is: the lab PROFILE (lab/README.md, "Lab profiles", lists
// each behaviour with its source).
//
//   realistic (the default): the VPC side at MTU 9001 (EC2's jumbo frames:
//     gateway NICs, the VPC router's VPC-facing interfaces, the VPC pod), the
//     on-prem link, the hybrid site and the hybrid nodes at 1500 (the path over
//     a Site-to-Site VPN); the Cilium stand-in sized as Cilium sizes itself on
//     a 1500-byte node (cilium_vxlan at the device MTU 1500, pod routes at the
//     route MTU 1450); the Kubernetes stand-in with the published CRD's
//     defaults (spec.cidrMask is defaulted: the object read back differs from
//     the one written, the harder case for a client comparing what it wrote);
//     the Cilium stand-in refreshing status every 10 s; the EC2 stand-in's
//     realistic profile (throttling, pagination, quota, latency, propagation).
//   ideal: the lab as it was before profiles (every link 1500, cilium_vxlan
//     1450, no route MTU in the hybrid pods, the EC2 stand-in's ideal profile;
//     the Kubernetes and Cilium stand-ins as in realistic, which is how they
//     already behaved).
//
// Chosen by LabOptions.profile, else LAB_PROFILE, else realistic; the lab
// command takes `--profile realistic|ideal`. LAB_EC2_PROFILE, when set,
// still picks the EC2 part alone (as it did before).
import { ec2ProfileFromEnv, type Ec2ProfileName } from './ec2/index.js';

export type LabProfileName = 'realistic' | 'ideal';
export const LAB_PROFILE_NAMES: readonly LabProfileName[] = ['realistic', 'ideal'];
export const DEFAULT_LAB_PROFILE: LabProfileName = 'realistic';

export interface LabMtus {
  /** Gateway NICs, the VPC router's VPC-facing interfaces (bridge vpc0, its ports, r-pod) and the VPC pod. */
  readonly vpc: number;
  /** The control link (router ⇄ the stand-ins). */
  readonly control: number;
  /** The on-prem link, the hybrid site's bridge and the hybrid nodes' NICs. */
  readonly onprem: number;
  /** The Cilium stand-in's vxlan device (cilium_vxlan). */
  readonly ciliumVxlan: number;
  /** The hybrid pods' interface and the node side of their veth (Cilium's device MTU). */
  readonly hybridPodDevice: number;
  /** `mtu` on the hybrid pods' routes (Cilium's route MTU: device MTU − 50 in tunnel mode); undefined = none. */
  readonly hybridPodRoute: number | undefined;
}

export interface LabProfile {
  readonly name: LabProfileName;
  readonly mtu: LabMtus;
  /** The Kubernetes stand-in applies the CRD schemas' defaults (spec.cidrMask of CiliumVTEPConfig). */
  readonly kubeCrdDefaults: boolean;
  /** The Cilium stand-in's status refresh period (ms; 0 = only on events). */
  readonly ciliumStatusRefreshMs: number;
  readonly ec2Profile: Ec2ProfileName;
}

/** Cilium's tunnel overhead (pkg/mtu TunnelOverhead: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const CILIUM_TUNNEL_OVERHEAD = 50;
/** EC2's jumbo-frame MTU. */
export const EC2_JUMBO_MTU = 9001;
/** The path to on-premises over a Site-to-Site VPN (EC2 "Traffic over a VPN connection" is limited to 1500). */
export const VPN_PATH_MTU = 1500;

const ONPREM = VPN_PATH_MTU;

export const LAB_PROFILES: Readonly<Record<LabProfileName, LabProfile>> = Object.freeze({
  realistic: Object.freeze({
    name: 'realistic' as const,
    mtu: Object.freeze({
      vpc: EC2_JUMBO_MTU,
      control: EC2_JUMBO_MTU,
      onprem: ONPREM,
      // Cilium: the tunnel device gets the device MTU (= the base MTU detected from the node's NIC) …
      ciliumVxlan: ONPREM,
      hybridPodDevice: ONPREM,
      // … and the routes in the pod the route MTU (base − tunnel overhead).
      hybridPodRoute: ONPREM - CILIUM_TUNNEL_OVERHEAD,
    }),
    kubeCrdDefaults: true,
    ciliumStatusRefreshMs: 10_000,
    ec2Profile: 'realistic' as const,
  }),
  ideal: Object.freeze({
    name: 'ideal' as const,
    mtu: Object.freeze({ vpc: 1500, control: 1500, onprem: 1500, ciliumVxlan: 1450, hybridPodDevice: 1500, hybridPodRoute: undefined }),
    kubeCrdDefaults: true,
    ciliumStatusRefreshMs: 10_000,
    ec2Profile: 'ideal' as const,
  }),
});

function checkName(name: string, where: string): LabProfileName {
  if (!(LAB_PROFILE_NAMES as readonly string[]).includes(name)) {
    throw new Error(`${where}: unknown lab profile "${name}" (want ${LAB_PROFILE_NAMES.join(' or ')})`);
  }
  return name as LabProfileName;
}

/** The profile named by LAB_PROFILE, if set. */
export function labProfileFromEnv(env: NodeJS.ProcessEnv = process.env): LabProfileName | undefined {
  const v = env.LAB_PROFILE;
  return v === undefined || v === '' ? undefined : checkName(v, 'LAB_PROFILE');
}

/** The profile in force: the name given, else LAB_PROFILE, else realistic; LAB_EC2_PROFILE overrides its EC2 part. */
export function resolveLabProfile(name?: string, env: NodeJS.ProcessEnv = process.env): LabProfile {
  const base = LAB_PROFILES[name !== undefined ? checkName(name, 'lab profile') : (labProfileFromEnv(env) ?? DEFAULT_LAB_PROFILE)];
  const ec2 = ec2ProfileFromEnv(env);
  return ec2 === undefined || ec2 === base.ec2Profile ? base : { ...base, ec2Profile: ec2 };
}
