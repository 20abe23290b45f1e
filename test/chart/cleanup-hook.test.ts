// The uninstall hook, rendered (`helm template`, offline): a pre-delete Job
// running `cleanup` with the gateway's image and configuration, its own
// ServiceAccount and RBAC (hook objects too, created before the Job and
// deleted after it), exactly the grants cleanup uses (rbac-use.test.ts runs
// it), IRSA annotations on its ServiceAccount only; nothing of it when
// cleanupOnUninstall is false.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCleanupConfig } from '../../runtime/config/cleanup.js';
import { parseConfig } from '../../runtime/config/parse.js';
import { AUTO_SETS, chartDir, DOWNWARD_STAND_INS, findDoc, Helm, kubeletEnv, MNG_SETS, NAMESPACE, parseManifests, RELEASE, type KubeDoc } from './helm.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  serviceAccountName: string;
  restartPolicy?: string;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: unknown; podAntiAffinity?: unknown };
  tolerations?: Array<{ key?: string; operator?: string; effect?: string }>;
  securityContext?: Record<string, unknown>;
  containers: Container[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}
interface JobDoc extends KubeDoc {
  spec: { backoffLimit: number; activeDeadlineSeconds: number; template: PodTemplate };
}
interface RoleDoc extends KubeDoc {
  rules: Array<{ apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }>;
}
interface BindingDoc extends KubeDoc {
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}

const HOOK = `${RELEASE}-cleanup`;
const annotationsOf = (d: KubeDoc): Record<string, string> => (d.metadata.annotations ?? {}) as Record<string, string>;
const job = (docs: KubeDoc[]): JobDoc => findDoc(docs, 'Job', HOOK) as JobDoc;
const container = (docs: KubeDoc[]): Container => job(docs).spec.template.spec.containers[0]!;
const gatewayPod = (docs: KubeDoc[]): PodTemplate => (findDoc(docs, 'Deployment', RELEASE) as KubeDoc & { spec: { template: PodTemplate } }).spec.template;
const hookDocs = (docs: KubeDoc[]): KubeDoc[] => docs.filter((d) => d.metadata.name === HOOK);


let helm: Helm;
let auto: KubeDoc[];
let mng: KubeDoc[];
beforeAll(async () => {
  helm = new Helm();
  [auto, mng] = await Promise.all([helm.template(AUTO_SETS), helm.template(MNG_SETS)]);
});
afterAll(() => helm?.dispose());

describe('the cleanup hook (cleanupOnUninstall, default true)', () => {
  it('six hook objects: pre-delete, the ServiceAccount and RBAC first (weight -10), then the Job; replaced on a retry, deleted once it succeeded', () => {
    const docs = hookDocs(auto);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Job', 'Role', 'RoleBinding', 'ServiceAccount']);
    for (const d of docs) {
      expect(annotationsOf(d)).toMatchObject({
        'helm.sh/hook': 'pre-delete',
        'helm.sh/hook-weight': d.kind === 'Job' ? '0' : '-10',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      expect(d.metadata.labels?.['app.kubernetes.io/component']).toBe('cleanup');
    }
    // Nothing else is a hook: the gateway's objects are ordinary release objects.
    for (const d of auto.filter((x) => x.metadata.name !== HOOK)) expect(annotationsOf(d)['helm.sh/hook']).toBeUndefined();
  });

  it('the Job runs `cleanup` with the gateway’s image and configuration, as its own ServiceAccount, once per try', () => {
    const j = job(auto);
    const pod = j.spec.template.spec;
    const c = container(auto);
    expect(c.args).toEqual(['cleanup']);
    expect(c.image).toBe(gatewayPod(auto).spec.containers[0]!.image);
    expect(pod.serviceAccountName).toBe(HOOK);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.hostNetwork).toBeUndefined();
    expect(j.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 300 });
    const cleanup = parseCleanupConfig(c.args!.slice(1), kubeletEnv(c, { ...DOWNWARD_STAND_INS, 'metadata.name': `${HOOK}-x1y2z` }));
    const gwC = gatewayPod(auto).spec.containers[0]!;
    const gateway = parseConfig(gwC.args ?? [], kubeletEnv(gwC, { ...DOWNWARD_STAND_INS, 'metadata.name': 'gw-abc12' }));
    if (cleanup.kind !== 'config' || gateway.kind !== 'config') throw new Error('help');
    expect(cleanup.config).toMatchObject({
      podCIDRs: gateway.config.podCIDRs,
      routeTableIDs: gateway.config.routeTableIDs,
      leaderElectionID: gateway.config.leaderElectionID,
      leaderElectionNamespace: gateway.config.leaderElectionNamespace,
      podName: `${HOOK}-x1y2z`,
      dryRun: false,
    });
  });

  it('region, extra environment and the Lease name reach the Job as they reach the gateway', async () => {
    const docs = await helm.template([...AUTO_SETS, 'awsRegion=us-west-2', 'extraEnv[0].name=AWS_STS_REGIONAL_ENDPOINTS', 'extraEnv[0].value=regional', 'leaderElection.id=my-lease']);
    const env = kubeletEnv(container(docs), { ...DOWNWARD_STAND_INS, 'metadata.name': 'p' });
    expect(env).toMatchObject({ AWS_REGION: 'us-west-2', AWS_STS_REGIONAL_ENDPOINTS: 'regional', LEADER_ELECTION_ID: 'my-lease' });
    const role = findDoc(docs, 'Role', HOOK) as RoleDoc;
    expect(role.rules[1]?.resourceNames).toEqual(['my-lease']);
    expect(kubeletEnv(container(auto), { ...DOWNWARD_STAND_INS, 'metadata.name': 'p' }).AWS_REGION).toBeUndefined();
  });

  it('RBAC: the Lease (create; get and update by name) in the release namespace, the CiliumVTEPConfig hybrid-gateway (get, delete); bound to the hook’s ServiceAccount only', () => {
    const role = findDoc(auto, 'Role', HOOK) as RoleDoc;
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['hybrid-gateway-leader'], verbs: ['get', 'update'] },
    ]);
    expect((findDoc(auto, 'ClusterRole', HOOK) as RoleDoc).rules).toEqual([{ apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs'], resourceNames: ['hybrid-gateway'], verbs: ['get', 'delete'] }]);
    for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
      const b = findDoc(auto, kind, HOOK) as BindingDoc;
      expect(b.roleRef).toMatchObject({ kind: kind === 'RoleBinding' ? 'Role' : 'ClusterRole', name: HOOK });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: HOOK, namespace: NAMESPACE }]);
    }
    // The gateway's account gets none of it: only the hook's bindings name the hook's roles, and only its account.
    for (const b of auto.filter((d): d is BindingDoc => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding')) {
      if (b.metadata.name !== HOOK) expect(b.roleRef.name).not.toBe(HOOK);
      if (b.roleRef.name === HOOK) expect(b.subjects.every((s) => s.name === HOOK)).toBe(true);
    }
  });

  it('IAM: cleanup.serviceAccount.annotations (IRSA) land on the hook’s ServiceAccount, the gateway’s on the gateway’s', async () => {
    const docs = await helm.template([...AUTO_SETS, 'cleanup.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/gw-cleanup', 'serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/gw']);
    expect(annotationsOf(findDoc(docs, 'ServiceAccount', HOOK))['eks.amazonaws.com/role-arn']).toBe('arn:aws:iam::123456789012:role/gw-cleanup');
    expect(annotationsOf(findDoc(docs, 'ServiceAccount', HOOK))['helm.sh/hook']).toBe('pre-delete');
    expect(annotationsOf(findDoc(docs, 'ServiceAccount', RELEASE))['eks.amazonaws.com/role-arn']).toBe('arn:aws:iam::123456789012:role/gw');
  });

  it('the hook pod is not one of the gateway pods: no gateway selector (Deployment, PDB, anti-affinity, PodMonitor) matches its labels', () => {
    const labels = job(auto).spec.template.metadata.labels;
    const selector = (findDoc(auto, 'Deployment', RELEASE) as KubeDoc & { spec: { selector: { matchLabels: Record<string, string> } } }).spec.selector.matchLabels;
    expect(Object.entries(selector).every(([k, v]) => labels[k] === v)).toBe(false);
    const pdb = (findDoc(auto, 'PodDisruptionBudget', RELEASE) as KubeDoc & { spec: { selector: { matchLabels: Record<string, string> } } }).spec.selector.matchLabels;
    expect(Object.entries(pdb).every(([k, v]) => labels[k] === v)).toBe(false);
  });

  it('runs on the gateway nodes (tolerating their taint), non-root, no capabilities, read-only root', () => {
    const a = job(auto).spec.template.spec;
    expect(JSON.stringify(a.affinity?.nodeAffinity)).toContain('hybrid-gateway-node');
    expect(a.affinity?.podAntiAffinity).toBeUndefined();
    expect(a.tolerations).toContainEqual({ key: 'hybrid-gateway-node', operator: 'Exists', effect: 'NoSchedule' });
    const m = job(mng).spec.template.spec;
    expect(m.nodeSelector).toEqual({ 'hybrid-gateway-node': 'true' });
    expect(a.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container(auto).securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, privileged: false });
  });

  it('cleanupOnUninstall=false: no hook object at all (helm uninstall leaves routes and CiliumVTEPConfig)', async () => {
    const docs = await helm.template([...AUTO_SETS, 'cleanupOnUninstall=false']);
    expect(hookDocs(docs)).toEqual([]);
    expect(docs.some((d) => annotationsOf(d)['helm.sh/hook'] !== undefined)).toBe(false);
    expect(docs.some((d) => d.kind === 'Deployment')).toBe(true);
  });

  it('a long release name still gives names of at most 63 characters', async () => {
    const r = await helm.run(['template', 'a'.repeat(53), chartDir, '--namespace', NAMESPACE, ...[...AUTO_SETS, `fullnameOverride=${'b'.repeat(63)}`].flatMap((s) => ['--set', s])]);
    expect(r.code, r.stderr).toBe(0);
    const j = parseManifests(r.stdout).find((d) => d.kind === 'Job')!;
    expect(j.metadata.name.length).toBeLessThanOrEqual(63);
    expect(j.metadata.name.endsWith('-cleanup')).toBe(true);
  });
});
