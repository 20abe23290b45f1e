// aws.source-dest-check: EC2 delivers the traffic a gateway forwards only when
// its ENI's source/destination check is off (both gateways: either may lead).
import { sourceDestCheckReport } from '../../../effects/aws/index.js';
import { fail, pass, warn, type Check } from '../check.js';
import { AWS_READ_FIX, eniByIp } from '../reads-aws.js';
import { GATEWAY_POD_SELECTOR, readGatewayPods } from '../reads.js';

export interface EniFacts {
  readonly gateways: ReadonlyArray<{ readonly pod: string; readonly hostIP: string | undefined; readonly eni: string | undefined; readonly sourceDestCheck: boolean | undefined }>;
}

export const sourceDestCheck: Check<EniFacts> = {
  name: 'aws.source-dest-check',
  title: "source/destination check is off on every gateway's ENI",
  reads: `gateway Pods (-l ${GATEWAY_POD_SELECTOR}, and every Lease holder) and their host IPs; EC2 DescribeNetworkInterfaces`,
  readFix: AWS_READ_FIX,
  async gather(ctx) {
    const pods = await readGatewayPods(ctx);
    return {
      gateways: await Promise.all(
        pods.map(async (p) => {
          if (p.hostIP === undefined) return { pod: p.name, hostIP: undefined, eni: undefined, sourceDestCheck: undefined };
          const e = await eniByIp(ctx, p.hostIP);
          return { pod: p.name, hostIP: p.hostIP, eni: e.networkInterfaceId, sourceDestCheck: e.sourceDestCheck };
        }),
      ),
    };
  },
  judge(f) {
    if (f.gateways.length === 0) return fail('no gateway pod found', 'Install the chart (it labels the pods app.kubernetes.io/component=gateway) and check the Lease namespace (POD_NAMESPACE / --leader-election-namespace)');
    const saw = f.gateways.map((g) => `${g.pod} ${g.hostIP ?? 'no host IP'} ${g.eni ?? ''} check ${g.sourceDestCheck === false ? 'off' : g.sourceDestCheck === true ? 'ON' : 'unknown'}`.replace(/ {2,}/g, ' ')).join('; ');
    const on = f.gateways.filter((g) => g.sourceDestCheck !== false && g.eni !== undefined);
    if (on.length > 0) {
      return fail(
        saw,
        on
          .map((g) => sourceDestCheckReport({ networkInterfaceId: g.eni!, sourceDestCheck: g.sourceDestCheck, privateIpAddress: undefined, macAddress: undefined, vpcId: undefined, subnetId: undefined, instanceId: undefined }).message)
          .join('; ') + '. Set it in the node group or NodeClass so replacements come up with it off',
      );
    }
    if (f.gateways.some((g) => g.eni === undefined)) return warn(saw, 'A gateway pod has no host IP yet (Pending?): run doctor again once both are running');
    if (f.gateways.length < 2) return warn(saw, 'Only one gateway pod: the chart runs two (leader and standby) so that failover has somewhere to go');
    return pass(saw);
  },
};
