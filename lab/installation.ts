// What a correctly configured EKS-with-Cilium installation has in the cluster
// beyond what the gateways write, for doctor to read (lab/README.md, "What
// doctor reads in the lab", says where each comes from):
// - the CiliumVTEPConfig CRD object, as Cilium's chart installs it;
// - ConfigMap kube-system/cilium-config with the keys Cilium's Helm chart
//   writes for the values VTEP needs (vtep.enabled, l7Proxy=false, ipv6 off);
// - the VPC CNI's DaemonSet kube-system/aws-node, its aws-node container told
//   not to SNAT traffic to the hybrid pods (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS);
// - on the EC2 side, the gateways' security group admitting VXLAN (UDP 8472)
//   from the remote node network.
import { crdObject, type KObj } from './kube-apiserver/index.js';
import type { SecurityGroupSpec } from './ec2/index.js';

export interface InstallationOptions {
  /** POD_CIDRS: what aws-node must not SNAT. */
  readonly podCidrs: readonly string[];
  /** The hybrid nodes' network (the cluster's remote node network). */
  readonly remoteNodeNetworks: readonly string[];
  /** The gateways' security group (named on their ENIs). */
  readonly securityGroupId: string;
}

/** VXLAN's port as Cilium uses it (tunnel-port default 8472). */
export const VXLAN_PORT = 8472;

/** The Kubernetes objects, in the order an install creates them. */
export function installationObjects(opts: InstallationOptions): Array<{ plural: string; body: KObj }> {
  return [
    { plural: 'customresourcedefinitions', body: crdObject('ciliumvtepconfigs.cilium.io.json') },
    {
      plural: 'configmaps',
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { namespace: 'kube-system', name: 'cilium-config' },
        // Helm values vtep.enabled=true, l7Proxy=false, ipv4.enabled=true, ipv6.enabled=false as the chart
        // writes them. No vtep-endpoint/-cidr/-mac: the CiliumVTEPConfig object replaces those keys.
        data: { 'enable-vtep': 'true', 'enable-l7-proxy': 'false', 'enable-ipv4': 'true', 'enable-ipv6': 'false' },
      },
    },
    {
      plural: 'daemonsets',
      body: {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { namespace: 'kube-system', name: 'aws-node', labels: { 'k8s-app': 'aws-node' } },
        spec: {
          selector: { matchLabels: { 'k8s-app': 'aws-node' } },
          template: {
            metadata: { labels: { 'k8s-app': 'aws-node' } },
            spec: {
              hostNetwork: true,
              containers: [{ name: 'aws-node', image: 'amazon-k8s-cni', env: [{ name: 'AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS', value: opts.podCidrs.join(',') }] }],
            },
          },
        },
      },
    },
  ];
}

/** The gateways' security group: VXLAN from the hybrid nodes. */
export function gatewaySecurityGroup(opts: InstallationOptions, vpcId: string): SecurityGroupSpec {
  return {
    groupId: opts.securityGroupId,
    groupName: 'hybrid-gateway',
    vpcId,
    ingress: [{ protocol: 'udp', fromPort: VXLAN_PORT, toPort: VXLAN_PORT, cidrs: [...opts.remoteNodeNetworks] }],
  };
}
