// The Kubernetes reads doctor's checks share, each made once per run (ctx.memo).
// Raw JSON through the gateway's own clients and request wrapper (effects/kube);
// NotFound is an answer (undefined), every other failure throws a KubeError.
import { kubeCall, parseLeaseRecord, toKubeError, type KubeObject, type LeaseRecord } from '../../effects/kube/index.js';
import { getLease } from '../../effects/kube/other-lease.js';
import { CILIUM_NODE_GROUP, CILIUM_NODE_PLURAL, CILIUM_NODE_VERSION, HYBRID_NODE_SELECTOR } from '../../effects/kube/cilium-nodes.js';
import { DEFAULT_VTEP_CONFIG_NAME, VTEP_GROUP, VTEP_PLURAL, VTEP_VERSION } from '../../effects/kube/vtep-config.js';
import { shardLeaseName, shardPlan, type ShardEndpoint } from '../../machines/domain/shards.js';
import type { DoctorContext } from './check.js';

/** Where Cilium's Helm chart puts its agent configuration. */
export const CILIUM_CONFIG = { namespace: 'kube-system', name: 'cilium-config' } as const;
export const VTEP_CRD_NAME = `${VTEP_PLURAL}.${VTEP_GROUP}`;

async function orUndefined<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    const ke = toKubeError(err, what);
    if (ke.code === 'NotFound') return undefined;
    throw ke;
  }
}

export function readCrd(ctx: DoctorContext, name: string): Promise<KubeObject | undefined> {
  const what = `get customresourcedefinition ${name}`;
  return ctx.memo(what, () =>
    orUndefined(what, () =>
      kubeCall(what, {}, (o) => ctx.clients.custom.getClusterCustomObject({ group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', name }, o)),
    ) as Promise<KubeObject | undefined>,
  );
}

/** cilium-config's data, or undefined when the ConfigMap does not exist. */
export function readCiliumConfig(ctx: DoctorContext): Promise<Record<string, string> | undefined> {
  const what = `get configmap ${CILIUM_CONFIG.namespace}/${CILIUM_CONFIG.name}`;
  return ctx.memo(what, async () => {
    const cm = await orUndefined(what, () => kubeCall(what, {}, (o) => ctx.clients.core.readNamespacedConfigMap({ ...CILIUM_CONFIG }, o)));
    return cm === undefined ? undefined : { ...(cm.data ?? {}) };
  });
}

export interface LeaseFacts {
  readonly namespace: string;
  readonly name: string;
  /** undefined: the Lease does not exist. */
  readonly record: LeaseRecord | undefined;
}

/** The Lease named `name` in the Lease's namespace. */
export function readLeaseNamed(ctx: DoctorContext, name: string): Promise<LeaseFacts> {
  const ref = { namespace: ctx.namespace, name };
  return ctx.memo(`lease ${name}`, async () => {
    const raw = await getLease(ctx.clients, ref, {});
    return { ...ref, record: raw === undefined ? undefined : parseLeaseRecord(raw) };
  });
}

/** The Lease named LEADER_ELECTION_ID (with one shard, the only one). */
export function readLease(ctx: DoctorContext): Promise<LeaseFacts> {
  return readLeaseNamed(ctx, ctx.config.leaderElectionID);
}

/** The host IP of the pod named `name` in the Lease's namespace: the holder's tunnel endpoint. */
export function readPodHostIP(ctx: DoctorContext, name: string): Promise<{ found: boolean; hostIP: string | undefined }> {
  const what = `get pod ${ctx.namespace}/${name}`;
  return ctx.memo(what, async () => {
    const pod = await orUndefined(what, () => kubeCall(what, {}, (o) => ctx.clients.core.readNamespacedPod({ namespace: ctx.namespace, name }, o)));
    return { found: pod !== undefined, hostIP: pod?.status?.hostIP || undefined };
  });
}

export interface HolderFacts {
  readonly lease: LeaseFacts;
  readonly holder: string;
  readonly podFound: boolean;
  readonly hostIP: string | undefined;
}

async function holderOf(ctx: DoctorContext, lease: LeaseFacts): Promise<HolderFacts> {
  const holder = lease.record?.holderIdentity ?? '';
  if (holder === '') return { lease, holder, podFound: false, hostIP: undefined };
  const pod = await readPodHostIP(ctx, holder);
  return { lease, holder, podFound: pod.found, hostIP: pod.hostIP };
}

/** The holder's host IP, when the Lease names a holder whose pod exists. */
export async function readHolder(ctx: DoctorContext): Promise<HolderFacts> {
  return holderOf(ctx, await readLease(ctx));
}

/** One shard as the gateway splits the work (machines/domain/shards.ts), and its Lease's holder. */
export interface ShardHolder extends HolderFacts {
  readonly shard: number;
  /** The POD_CIDR parts its leader points at its ENI. */
  readonly podPrefixes: readonly string[];
  /** Its CiliumVTEPConfig endpoints (names and CIDRs); its leader is their tunnel endpoint. */
  readonly endpoints: readonly ShardEndpoint[];
}

/**
 * Every shard's Lease holder, shard order. With one shard: the Lease LEADER_ELECTION_ID, POD_CIDRS
 * as given and the unsharded endpoint names; with SHARDS = N: the Leases `<id>-0` … `<id>-(N-1)`.
 */
export function readShardHolders(ctx: DoctorContext): Promise<ShardHolder[]> {
  return ctx.memo('shard holders', () => {
    const { podCIDRs, vpcCIDRs, shards, leaderElectionID } = ctx.config;
    return Promise.all(
      shardPlan(podCIDRs, vpcCIDRs, shards).map(async (part) => ({
        ...(await holderOf(ctx, await readLeaseNamed(ctx, shardLeaseName(leaderElectionID, shards, part.shard)))),
        shard: part.shard,
        podPrefixes: part.podPrefixes,
        endpoints: part.endpoints,
      })),
    );
  });
}

export function readVtepConfig(ctx: DoctorContext): Promise<KubeObject | undefined> {
  const what = `get ciliumvtepconfig ${DEFAULT_VTEP_CONFIG_NAME}`;
  return ctx.memo(what, () =>
    orUndefined(what, () =>
      kubeCall(what, {}, (o) => ctx.clients.custom.getClusterCustomObject({ group: VTEP_GROUP, version: VTEP_VERSION, plural: VTEP_PLURAL, name: DEFAULT_VTEP_CONFIG_NAME }, o)),
    ) as Promise<KubeObject | undefined>,
  );
}

export function listHybridCiliumNodes(ctx: DoctorContext): Promise<KubeObject[]> {
  const what = 'list hybrid ciliumnodes';
  return ctx.memo(what, async () => {
    const list = (await kubeCall(what, { timeoutMs: 60_000 }, (o) =>
      ctx.clients.custom.listClusterCustomObject({ group: CILIUM_NODE_GROUP, version: CILIUM_NODE_VERSION, plural: CILIUM_NODE_PLURAL, labelSelector: HYBRID_NODE_SELECTOR }, o),
    )) as { items?: KubeObject[] };
    return list.items ?? [];
  });
}

/** The env of the aws-node container of DaemonSet kube-system/aws-node (literal values only), or undefined when absent. */
export function readAwsNode(ctx: DoctorContext): Promise<Record<string, string> | undefined> {
  const what = 'get daemonset kube-system/aws-node';
  return ctx.memo(what, async () => {
    const ds = (await orUndefined(what, () =>
      kubeCall(what, {}, (o) => ctx.clients.custom.getNamespacedCustomObject({ group: 'apps', version: 'v1', namespace: 'kube-system', plural: 'daemonsets', name: 'aws-node' }, o)),
    )) as { spec?: { template?: { spec?: { containers?: Array<{ name?: string; env?: Array<{ name?: string; value?: unknown }> }> } } } } | undefined;
    if (ds === undefined) return undefined;
    const c = ds.spec?.template?.spec?.containers?.find((x) => x.name === 'aws-node');
    return Object.fromEntries((c?.env ?? []).filter((e) => typeof e.name === 'string' && typeof e.value === 'string').map((e) => [e.name as string, e.value as string]));
  });
}

/** Labels the chart puts on every gateway pod whatever the release name or nameOverride. */
export const GATEWAY_POD_SELECTOR = 'app.kubernetes.io/component=gateway,app.kubernetes.io/part-of=eks-hybrid-nodes-gateway';

export interface GatewayPod {
  readonly name: string;
  readonly hostIP: string | undefined;
  readonly nodeName: string | undefined;
  /** The pod's Ready condition is True. */
  readonly ready: boolean;
}

/** The gateway pods (chart labels) with their host IPs, every (shard) Lease holder always among them. */
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
    for (const h of await readShardHolders(ctx)) {
      if (h.holder !== '' && h.podFound && !pods.some((p) => p.name === h.holder)) pods.push({ name: h.holder, hostIP: h.hostIP, nodeName: undefined, ready: false });
    }
    return pods.sort((a, b) => a.name.localeCompare(b.name));
  });
}
