// aws-node.snat-excluded: the VPC CNI must not SNAT traffic to the hybrid pods,
// or replies from the VPC reach them from the node's address instead of the pod's.
import { insideOneOf } from '../../../machines/domain/admission.js';
import { parseCidr, type Cidr } from '../../../machines/domain/ipv4.js';
import { fail, pass, warn, type Check } from '../check.js';
import { readAwsNode } from '../reads.js';

export interface AwsNodeFacts {
  readonly present: boolean;
  /** The aws-node container's env (name → value; valueFrom entries are left out). */
  readonly env: Readonly<Record<string, string>>;
  readonly podCIDRs: readonly string[];
}

const cidrs = (text: string): Cidr[] => text.split(',').map((s) => s.trim()).filter((s) => s !== '').flatMap((c) => {
  const p = parseCidr(c);
  return p.ok ? [p.value] : [];
});

export const awsNodeSnatCheck: Check<AwsNodeFacts> = {
  name: 'aws-node.snat-excluded',
  title: 'aws-node does not SNAT traffic to the hybrid pod CIDRs',
  reads: 'DaemonSet kube-system/aws-node, container aws-node: AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS, AWS_VPC_K8S_CNI_EXTERNALSNAT',
  async gather(ctx) {
    const ds = await readAwsNode(ctx);
    return { present: ds !== undefined, env: ds ?? {}, podCIDRs: ctx.config.podCIDRs };
  },
  judge(f) {
    if (!f.present) return warn('DaemonSet kube-system/aws-node not found', 'Without the Amazon VPC CNI nothing here SNATs; if another CNI runs the VPC pods, make sure it does not masquerade traffic to POD_CIDRS');
    if (f.env.AWS_VPC_K8S_CNI_EXTERNALSNAT === 'true') return pass('AWS_VPC_K8S_CNI_EXTERNALSNAT is "true": aws-node does no SNAT');
    const raw = f.env.AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS ?? '';
    const excluded = cidrs(raw);
    const missing = f.podCIDRs.filter((c) => {
      const p = parseCidr(c);
      return !p.ok || !insideOneOf(excluded, p.value);
    });
    const saw = `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS is ${raw === '' ? 'not set' : JSON.stringify(raw)}`;
    if (missing.length > 0) {
      const want = [...new Set([...raw.split(',').map((s) => s.trim()).filter((s) => s !== ''), ...missing])].join(',');
      return fail(`${saw}: ${missing.join(', ')} not excluded`, `kubectl -n kube-system set env daemonset/aws-node AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS=${want} (or the EKS add-on's configuration values: env.AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS)`);
    }
    return pass(`${saw}: every POD_CIDR excluded`);
  },
};
