// aws.security-groups: the gateways' security groups admit VXLAN (UDP 8472)
// from every hybrid node. The hybrid nodes' addresses are their CiliumNodes'
// InternalIPs (the remote node network as the cluster sees it).
import { DescribeSecurityGroupsCommand, type IpPermission } from '@aws-sdk/client-ec2';
import { ipv4ToInt, isIPv4, parseCidr } from '../../../machines/domain/ipv4.js';
import { fail, pass, warn, type Check } from '../check.js';
import { AWS_READ_FIX, eniByIp } from '../reads-aws.js';
import { listHybridCiliumNodes, readGatewayPods } from '../reads.js';

export const VXLAN_PORT = 8472;

export interface SgRule {
  readonly protocol: string;
  readonly fromPort: number | undefined;
  readonly toPort: number | undefined;
  readonly cidrs: readonly string[];
}

export interface SecurityGroupsFacts {
  readonly gateways: ReadonlyArray<{ readonly pod: string; readonly eni: string; readonly groups: ReadonlyArray<{ readonly id: string; readonly rules: readonly SgRule[] }> }>;
  /** IPv4 InternalIPs of the hybrid CiliumNodes. */
  readonly nodeIPs: readonly string[];
}

function admits(rule: SgRule, ip: number): boolean {
  const proto = rule.protocol.toLowerCase();
  const portOk = proto === '-1' || ((proto === 'udp' || proto === '17') && (rule.fromPort ?? 0) <= VXLAN_PORT && VXLAN_PORT <= (rule.toPort ?? 65535));
  if (!portOk) return false;
  return rule.cidrs.some((c) => {
    const p = parseCidr(c);
    return p.ok && ip >= p.value.first && ip <= p.value.last;
  });
}

const toRule = (p: IpPermission): SgRule => ({
  protocol: p.IpProtocol ?? '',
  fromPort: p.FromPort,
  toPort: p.ToPort,
  cidrs: (p.IpRanges ?? []).flatMap((r) => (typeof r.CidrIp === 'string' ? [r.CidrIp] : [])),
});

export const securityGroupsCheck: Check<SecurityGroupsFacts> = {
  name: 'aws.security-groups',
  title: `the gateways' security groups admit UDP ${VXLAN_PORT} from every hybrid node`,
  reads: "gateway Pods' ENIs (DescribeNetworkInterfaces) and their security groups (DescribeSecurityGroups); hybrid CiliumNodes' InternalIPs",
  readFix: AWS_READ_FIX,
  async gather(ctx) {
    const [pods, nodes] = await Promise.all([readGatewayPods(ctx), listHybridCiliumNodes(ctx)]);
    const nodeIPs = nodes.flatMap((n) => {
      const addrs = (n.spec as { addresses?: Array<{ type?: string; ip?: string }> } | undefined)?.addresses ?? [];
      const ip = addrs.find((a) => a.type === 'InternalIP' && typeof a.ip === 'string' && isIPv4(a.ip))?.ip;
      return ip === undefined ? [] : [ip];
    });
    const enis = await Promise.all(pods.filter((p) => p.hostIP !== undefined).map(async (p) => ({ pod: p.name, eni: await eniByIp(ctx, p.hostIP!) })));
    const ids = [...new Set(enis.flatMap((e) => e.eni.securityGroupIds ?? []))];
    const ec2 = await ctx.ec2();
    const out = ids.length === 0 ? { SecurityGroups: [] } : await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ids }));
    const rules = new Map((out.SecurityGroups ?? []).map((g) => [g.GroupId ?? '', (g.IpPermissions ?? []).map(toRule)]));
    return {
      gateways: enis.map((e) => ({ pod: e.pod, eni: e.eni.networkInterfaceId, groups: (e.eni.securityGroupIds ?? []).map((id) => ({ id, rules: rules.get(id) ?? [] })) })),
      nodeIPs,
    };
  },
  judge(f) {
    if (f.gateways.length === 0) return fail('no gateway pod with a host IP', 'Fix gateway.pods first');
    if (f.nodeIPs.length === 0) return warn('no hybrid CiliumNode with an InternalIP: nothing to check the rules against', `Once hybrid nodes join, run doctor again; the gateways' security groups must admit UDP ${VXLAN_PORT} from the remote node network`);
    const problems: string[] = [];
    for (const g of f.gateways) {
      const refused = f.nodeIPs.filter((ip) => !g.groups.some((sg) => sg.rules.some((r) => admits(r, ipv4ToInt(ip)))));
      if (refused.length > 0) problems.push(`${g.pod} ${g.eni} (${g.groups.map((s) => s.id).join(', ') || 'no security group'}) refuses ${refused.join(', ')}`);
    }
    const scope = `${f.gateways.length} gateway ENI(s), ${f.nodeIPs.length} hybrid node(s)`;
    if (problems.length > 0) {
      const sg = f.gateways.flatMap((g) => g.groups.map((s) => s.id))[0] ?? '<sg>';
      return fail(
        `${scope}: ${problems.join('; ')}`,
        `Admit VXLAN from the remote node network on the gateways' security group: aws ec2 authorize-security-group-ingress --group-id ${sg} --ip-permissions 'IpProtocol=udp,FromPort=${VXLAN_PORT},ToPort=${VXLAN_PORT},IpRanges=[{CidrIp=<remote node network>}]' (the chart's NodeClass securityGroupSelectorTerms pick the group)`,
      );
    }
    return pass(`${scope}: UDP ${VXLAN_PORT} admitted from every one`);
  },
};
