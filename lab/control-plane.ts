// The lab's control plane: the Kubernetes API and EC2/IMDS stand-ins for a set
// of gateway nodes, and the EKS stand-in when given a cluster, in one place
// (run inside the lab's control namespace).
import type { KObj } from './kube-apiserver/index.js';
import { startKubeApiServer, type KubeApiServer } from './kube-apiserver/index.js';
import { startEc2StandIn, type Ec2BehaviourOverrides, type Ec2ProfileName, type Ec2StandIn } from './ec2/index.js';
import { startEksStandIn, type EksClusterSpec, type EksStandIn } from './eks/index.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';
import { gatewaySecurityGroup, installationObjects, type InstallationOptions } from './installation.js';

export interface LabGatewayNode {
  readonly name: string;
  readonly instanceId: string;
  readonly eni: string;
  readonly mac: string;
  readonly ip: string;
}

export interface ControlPlaneOptions {
  /** Address the stand-ins listen on (the control namespace's address). */
  readonly host: string;
  readonly region: string;
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly subnetId: string;
  readonly routeTableIds: readonly string[];
  readonly gateways: readonly LabGatewayNode[];
  /**
   * How EC2 behaves: 'realistic' (documented throttling, pagination, route
   * quota; assumed latency and route propagation delay) or 'ideal' (none).
   * Default: LAB_EC2_PROFILE, else 'ideal'. See lab/README.md.
   */
  readonly ec2Profile?: Ec2ProfileName;
  /** Overrides on top of the profile, e.g. { "routesPerTable": 50, "propagation": { "ms": 2000 } }. */
  readonly ec2Behaviour?: Ec2BehaviourOverrides;
  /**
   * The Kubernetes stand-in applies the CRD schemas' defaults (default true: the
   * published CiliumVTEPConfig CRD defaults spec.cidrMask); false models the
   * EKS read-back without it. See lab/README.md.
   */
  readonly kubeCrdDefaults?: boolean;
  /** The EKS cluster the EKS stand-in serves (DescribeCluster, for doctor); none: no EKS stand-in. */
  readonly eksCluster?: EksClusterSpec;
  /**
   * The rest of a correctly configured EKS-with-Cilium install (lab/installation.ts): the
   * CRD object, cilium-config, aws-node, the gateways' security group. None: a bare stand-in.
   */
  readonly installation?: InstallationOptions;
}

export interface ControlPlane {
  readonly kube: KubeApiServer;
  readonly ec2: Ec2StandIn;
  /** The EKS stand-in (AWS_ENDPOINT_URL_EKS), when a cluster was given. */
  readonly eks: EksStandIn | undefined;
  /** OTLP/HTTP trace receiver the gateways export to (OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly otlp: OtlpReceiver;
  /** Where each gateway's route-table targets point: table → CIDR → ENI (or gateway id). */
  routes(): Record<string, Record<string, string>>;
  close(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const kube = await startKubeApiServer({ host: opts.host, namespace: 'kube-system', ...(opts.kubeCrdDefaults !== undefined ? { crdDefaults: opts.kubeCrdDefaults } : {}) });
  const ec2 = await startEc2StandIn({
    host: opts.host,
    instances: opts.gateways.map((g) => ({
      instanceId: g.instanceId,
      region: opts.region,
      az: `${opts.region}a`,
      eni: g.eni,
      mac: g.mac,
      privateIp: g.ip,
      subnetId: opts.subnetId,
      vpcId: opts.vpcId,
      sourceDestCheck: false,
      ...(opts.installation !== undefined ? { securityGroupIds: [opts.installation.securityGroupId] } : {}),
    })),
    ...(opts.installation !== undefined ? { securityGroups: [gatewaySecurityGroup(opts.installation, opts.vpcId)] } : {}),
    routeTables: opts.routeTableIds.map((routeTableId) => ({ routeTableId, vpcId: opts.vpcId, vpcCidr: opts.vpcCidr })),
    ...(opts.ec2Profile !== undefined ? { profile: opts.ec2Profile } : {}),
    ...(opts.ec2Behaviour !== undefined ? { behaviour: opts.ec2Behaviour } : {}),
  });
  for (const o of opts.installation !== undefined ? installationObjects(opts.installation) : []) kube.store.put(o.plural, o.body);
  const eks = opts.eksCluster !== undefined ? await startEksStandIn({ host: opts.host, region: opts.region, clusters: [opts.eksCluster] }) : undefined;
  const otlp = await startOtlpReceiver({ host: opts.host });
  return {
    kube,
    ec2,
    eks,
    otlp,
    routes() {
      const out: Record<string, Record<string, string>> = {};
      for (const [id, table] of ec2.state.routeTables) {
        out[id] = {};
        for (const [cidr, r] of table.routes) out[id][cidr] = r.networkInterfaceId ?? r.gatewayId ?? '';
      }
      return out;
    },
    async close() {
      await Promise.allSettled([kube.close(), ec2.close(), eks?.close(), otlp.close()]);
    },
  };
}

export type { KObj };
