// The EC2 reads doctor's AWS checks share, through the gateway's own adapters
// (effects/aws), without retries: doctor reports what it sees now.
import { findNetworkInterfaceByPrivateIp, NO_RETRY, type EniInfo } from '../../effects/aws/index.js';
import { kubeCall } from '../../effects/kube/index.js';
import type { DoctorContext } from './check.js';
import { readHolder } from './reads.js';

/** Labels the chart puts on every gateway pod whatever the release name or nameOverride. */
export const GATEWAY_POD_SELECTOR = 'app.kubernetes.io/component=gateway,app.kubernetes.io/part-of=eks-hybrid-nodes-gateway';

export const AWS_READ_FIX =
  "Check the AWS settings doctor shares with the gateway: the region (--aws-region / AWS_REGION, else IMDS), credentials (the SDK's default chain: env, IRSA, Pod Identity, the instance profile) and AWS_ENDPOINT_URL_EC2 if set";

/** The interface holding `ip` (a gateway's host IP), read once per run. */
export function eniByIp(ctx: DoctorContext, ip: string): Promise<EniInfo> {
  return ctx.memo(`eni ${ip}`, async () => findNetworkInterfaceByPrivateIp(await ctx.ec2(), ip, { retry: NO_RETRY }));
}

/** The Lease holder, its host IP and its ENI; eni is undefined when there is no holder with a host IP. */
export async function readLeaderEni(ctx: DoctorContext): Promise<{ holder: string; hostIP: string | undefined; eni: EniInfo | undefined }> {
  const h = await readHolder(ctx);
  if (h.hostIP === undefined) return { holder: h.holder, hostIP: undefined, eni: undefined };
  return { holder: h.holder, hostIP: h.hostIP, eni: await eniByIp(ctx, h.hostIP) };
}

export interface GatewayPod {
  readonly name: string;
  readonly hostIP: string | undefined;
  readonly nodeName: string | undefined;
  /** The pod's Ready condition is True. */
  readonly ready: boolean;
}

/** The gateway pods (chart labels) with their host IPs, the Lease holder always among them. */
export function readGatewayPods(ctx: DoctorContext): Promise<GatewayPod[]> {
  return ctx.memo('gateway pods', async () => {
    const what = `list pods ${ctx.namespace} -l ${GATEWAY_POD_SELECTOR}`;
    const list = await kubeCall(what, {}, (o) => ctx.clients.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: GATEWAY_POD_SELECTOR }, o));
    const pods: GatewayPod[] = list.items
      .map((p) => ({
        name: p.metadata?.name ?? '',
        hostIP: p.status?.hostIP || undefined,
        nodeName: p.spec?.nodeName || undefined,
        ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      }))
      .filter((p) => p.name !== '');
    const h = await readHolder(ctx);
    if (h.holder !== '' && h.podFound && !pods.some((p) => p.name === h.holder)) pods.push({ name: h.holder, hostIP: h.hostIP, nodeName: undefined, ready: false });
    return pods.sort((a, b) => a.name.localeCompare(b.name));
  });
}
