// The Helm chart, offline: `helm lint --strict` and `helm template` for EKS
// Auto Mode and managed node groups with the reference's install values, every
// rendered object checked against the Kubernetes OpenAPI schemas
// (kubernetes-models), and assertions on what the gateway depends on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig, type GatewayConfig } from '../../runtime/config/parse.js';
import { EVENT_REASONS } from '../../effects/kube/events.js';
import { AUTO_SETS, IMAGE_REPOSITORY, IMAGE_SET, MNG_SETS, NAMESPACE, RELEASE, REFERENCE_SETS, chartDir, findDoc, Helm, kubeletEnv, type KubeDoc } from './helm.js';
import { CUSTOM_KINDS, validateBuiltIn, validateCustomResourceParts } from './validate.js';

// --- Typed views of the parts under test ----------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number; protocol: string }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
    seccompProfile?: { type: string };
  };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
}
interface PodSpec {
  serviceAccountName: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: { seccompProfile?: { type: string } };
  nodeSelector?: Record<string, string>;
  affinity?: {
    nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: Array<{ matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }> } };
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: Array<{ labelSelector: LabelSelector; topologyKey: string }>;
    };
  };
  tolerations?: Array<{ key?: string; operator?: string; effect?: string }>;
  containers: Container[];
  volumes?: Array<{ name: string; emptyDir?: unknown }>;
}
interface DeploymentDoc extends KubeDoc {
  spec: {
    replicas: number;
    selector: LabelSelector;
    strategy: { type: string; rollingUpdate?: { maxSurge: number; maxUnavailable: number } };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface RoleDoc extends KubeDoc {
  rules: PolicyRule[];
}
interface BindingDoc extends KubeDoc {
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}

const deployment = (docs: KubeDoc[]): DeploymentDoc => findDoc(docs, 'Deployment') as DeploymentDoc;
const podSpec = (docs: KubeDoc[]): PodSpec => deployment(docs).spec.template.spec;
const gateway = (docs: KubeDoc[]): Container => {
  const c = podSpec(docs).containers;
  expect(c.map((x) => x.name)).toEqual(['gateway']);
  return c[0] as Container;
};
const envOf = (c: Container, name: string): EnvVar | undefined => c.env?.find((e) => e.name === name);

/** Does this rule set allow the request? (RBAC semantics: any rule matching group, resource, verb and, when the rule names resources, the name.) */
function allows(rules: readonly PolicyRule[], req: { group: string; resource: string; verb: string; name?: string }): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups ?? []).some((g) => g === req.group || g === '*') &&
      (r.resources ?? []).some((x) => x === req.resource || x === '*') &&
      r.verbs.some((v) => v === req.verb || v === '*') &&
      (r.resourceNames === undefined || r.resourceNames.length === 0 || (req.name !== undefined && r.resourceNames.includes(req.name))),
  );
}


const DOWNWARD = {
  'status.hostIP': '198.18.0.10',
  'metadata.name': 'gw-abc12',
  'metadata.namespace': NAMESPACE,
  'metadata.uid': '5f0c3a9e-6f1b-4c1e-9a77-0d2d3c4b5a69',
  'spec.nodeName': 'ip-198-18-0-10',
};

function gatewayConfig(c: Container): GatewayConfig {
  const outcome = parseConfig(c.args ?? [], kubeletEnv(c, DOWNWARD));
  if (outcome.kind !== 'config') throw new Error('the rendered args asked for --help');
  return outcome.config;
}

// --- Tests ------------------------------------------------------------------

const chartMeta = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };

let helm: Helm;
let auto: KubeDoc[];
let mng: KubeDoc[];

beforeAll(async () => {
  helm = new Helm();
  [auto, mng] = await Promise.all([helm.template(AUTO_SETS), helm.template(MNG_SETS)]);
});

afterAll(() => {
  helm?.dispose();
});

describe('helm lint --strict', () => {
  it.each([
    ['auto mode', AUTO_SETS],
    ['managed node groups', MNG_SETS],
    ['every option on', [...AUTO_SETS, 'podMonitor.enabled=true', 'prometheusRule.enabled=true', 'dashboards.enabled=true', 'otel.endpoint=http://otel-collector.observability:4318', 'autoMode.nodeClass.create=true', 'autoMode.nodeClass.role=AmazonEKSAutoNodeRole', 'autoMode.nodeClass.subnetSelectorTerms[0].id=subnet-0123456789abcdef0', 'autoMode.nodeClass.securityGroupSelectorTerms[0].tags.aws:eks:cluster-name=demo', 'createNamespace=true', 'doctor.rbac=true']],
  ])('%s: no errors, no warnings', async (_name, sets) => {
    const r = await helm.run(['lint', '--strict', chartDir, ...sets.flatMap((s) => ['--set', s])]);
    expect(r.stderr + r.stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('fails without the required values (the schema names them)', async () => {
    const r = await helm.run(['lint', '--strict', chartDir]);
    expect(r.code).not.toBe(0);
    for (const v of ['vpcCIDR', 'podCIDRs', 'routeTableIDs']) expect(r.stdout + r.stderr).toContain(`/${v}`);
  });
});

describe('rendered objects against the Kubernetes OpenAPI schemas', () => {
  it.each([
    ['auto mode', () => auto],
    ['managed node groups', () => mng],
  ])('%s: every built-in object validates, every other kind is a known CRD', (_name, get) => {
    const docs = get();
    expect(docs.length).toBeGreaterThan(5);
    for (const d of docs) {
      if (CUSTOM_KINDS.has(`${d.apiVersion} ${d.kind}`)) validateCustomResourceParts(d);
      else validateBuiltIn(d);
    }
  });

  it('every option on: still valid (PodMonitor, PrometheusRule, dashboard ConfigMap, NodeClass, Namespace, OTEL, pull secrets, extra env)', async () => {
    const docs = await helm.template([
      ...AUTO_SETS,
      'podMonitor.enabled=true',
      'podMonitor.interval=15s',
      'prometheusRule.enabled=true',
      'dashboards.enabled=true',
      'otel.endpoint=http://otel-collector.observability:4318',
      'otel.headersSecret.name=otlp-auth',
      'autoMode.nodeClass.create=true',
      'autoMode.nodeClass.role=AmazonEKSAutoNodeRole',
      'autoMode.nodeClass.subnetSelectorTerms[0].id=subnet-0123456789abcdef0',
      'autoMode.nodeClass.securityGroupSelectorTerms[0].tags.aws:eks:cluster-name=demo',
      'createNamespace=true',
      'imagePullSecrets[0].name=regcred',
      'extraEnv[0].name=AWS_STS_REGIONAL_ENDPOINTS',
      'extraEnv[0].value=regional',
      'doctor.rbac=true',
    ]);
    const kinds = docs.map((d) => d.kind);
    expect(kinds).toEqual(expect.arrayContaining(['PodMonitor', 'PrometheusRule', 'ConfigMap', 'NodeClass', 'NodePool', 'Namespace']));
    for (const d of docs) {
      if (CUSTOM_KINDS.has(`${d.apiVersion} ${d.kind}`)) validateCustomResourceParts(d);
      else validateBuiltIn(d);
    }
  });

  it('the validator does reject a broken object (it can fail)', () => {
    const d = structuredClone(deployment(auto));
    (d.spec.template.spec.containers[0] as unknown as { ports: unknown[] }).ports = [{ name: 'metrics', containerPort: 'ten-thousand' }];
    expect(() => validateBuiltIn(d)).toThrow(/containerPort/);
    const noSelector = structuredClone(deployment(auto)) as unknown as { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    expect(() => validateBuiltIn(noSelector as unknown as KubeDoc)).toThrow(/selector/);
  });
});

describe('what each mode renders', () => {
  it('the same set of objects in both modes (the uninstall hook among them), plus the NodePool in auto mode only', () => {
    const names = (docs: KubeDoc[]): string[] => docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`).sort();
    const fullname = RELEASE; // the release name contains the chart name
    expect(names(mng)).toEqual(
      [
        `ClusterRole//${fullname}`,
        `ClusterRoleBinding//${fullname}`,
        `Deployment/${NAMESPACE}/${fullname}`,
        `PodDisruptionBudget/${NAMESPACE}/${fullname}`,
        `Role/${NAMESPACE}/${fullname}`,
        `Role/default/${fullname}-events`,
        `RoleBinding/${NAMESPACE}/${fullname}`,
        `RoleBinding/default/${fullname}-events`,
        `ServiceAccount/${NAMESPACE}/${fullname}`,
        // The uninstall hook (cleanup-hook.test.ts).
        `ClusterRole//${fullname}-cleanup`,
        `ClusterRoleBinding//${fullname}-cleanup`,
        `Job/${NAMESPACE}/${fullname}-cleanup`,
        `Role/${NAMESPACE}/${fullname}-cleanup`,
        `RoleBinding/${NAMESPACE}/${fullname}-cleanup`,
        `ServiceAccount/${NAMESPACE}/${fullname}-cleanup`,
      ].sort(),
    );
    expect(names(auto)).toEqual([...names(mng), 'NodePool//hybrid-gateway'].sort());
  });

  it('auto mode: the Karpenter NodePool labels and taints its nodes and refers to the eks.amazonaws.com NodeClass', () => {
    const np = findDoc(auto, 'NodePool') as KubeDoc & {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: {
            nodeClassRef: Record<string, string>;
            taints: Array<Record<string, string>>;
            requirements: Array<{ key: string; operator: string; values: string[] }>;
            expireAfter: string;
          };
        };
        disruption: { consolidationPolicy: string; consolidateAfter: string; budgets: Array<{ nodes: string }> };
      };
    };
    expect(np.apiVersion).toBe('karpenter.sh/v1');
    expect(np.metadata.namespace).toBeUndefined(); // cluster-scoped
    const t = np.spec.template;
    expect(t.metadata.labels).toEqual({ 'hybrid-gateway-node': 'true' });
    expect(t.spec.nodeClassRef).toEqual({ group: 'eks.amazonaws.com', kind: 'NodeClass', name: 'hybrid-gateway' });
    expect(t.spec.taints).toEqual([{ key: 'hybrid-gateway-node', effect: 'NoSchedule' }]);
    expect(t.spec.requirements).toContainEqual({ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] });
    // Karpenter v1 rules the CRD enforces: Gt/Lt take exactly one integer value; durations; policy enum.
    for (const r of t.spec.requirements) if (r.operator === 'Gt' || r.operator === 'Lt') expect(r.values).toEqual([expect.stringMatching(/^\d+$/)]);
    expect(t.spec.expireAfter).toMatch(/^((\d+(s|m|h))+|Never)$/);
    expect(['WhenEmpty', 'WhenEmptyOrUnderutilized']).toContain(np.spec.disruption.consolidationPolicy);
    expect(np.spec.disruption.consolidateAfter).toMatch(/^((\d+(s|m|h))+|Never)$/);
    for (const b of np.spec.disruption.budgets) expect(b.nodes).toMatch(/^((100|[0-9]{1,2})%|[0-9]+)$/);
  });

  it('auto mode: pods reach those nodes by required node affinity (no nodeSelector) and tolerate the taint', () => {
    const spec = podSpec(auto);
    expect(spec.nodeSelector).toBeUndefined();
    const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    expect(terms).toEqual([
      {
        matchExpressions: [
          { key: 'hybrid-gateway-node', operator: 'In', values: ['true'] },
          { key: 'eks.amazonaws.com/compute-type', operator: 'In', values: ['auto'] },
        ],
      },
    ]);
    expect(spec.tolerations).toContainEqual({ key: 'hybrid-gateway-node', operator: 'Exists', effect: 'NoSchedule' });
    // A surge pod gets a new node from the NodePool: the standby never goes missing.
    expect(deployment(auto).spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it('managed node groups: nodeSelector hybrid-gateway-node=true, no NodePool, no node affinity', () => {
    const spec = podSpec(mng);
    expect(spec.nodeSelector).toEqual({ 'hybrid-gateway-node': 'true' });
    expect(spec.affinity?.nodeAffinity).toBeUndefined();
    expect(mng.some((d) => d.kind === 'NodePool' || d.kind === 'NodeClass')).toBe(false);
    expect(spec.tolerations).toContainEqual({ key: 'hybrid-gateway-node', operator: 'Exists', effect: 'NoSchedule' });
    // Exactly two labelled nodes: no surge pod could ever be scheduled.
    expect(deployment(mng).spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  });

  it('autoMode.nodePool.create=false (a NodePool from the EKS user guide already exists): no NodePool, same affinity', async () => {
    const docs = await helm.template([...AUTO_SETS, 'autoMode.nodePool.create=false']);
    expect(docs.some((d) => d.kind === 'NodePool')).toBe(false);
    expect(podSpec(docs).affinity?.nodeAffinity).toEqual(podSpec(auto).affinity?.nodeAffinity);
  });
});

describe.each([
  ['auto mode', () => auto],
  ['managed node groups', () => mng],
])('the Deployment (%s)', (_mode, get) => {
  it('two replicas, host network, one pod per node (required anti-affinity on the hostname)', () => {
    const d = deployment(get());
    expect(d.spec.replicas).toBe(2);
    const spec = d.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    const req = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(req).toHaveLength(1);
    expect(req[0]?.topologyKey).toBe('kubernetes.io/hostname');
    // The anti-affinity selector, the Deployment selector and the PDB selector all match the pod's labels.
    const podLabels = d.spec.template.metadata.labels;
    const matches = (sel: LabelSelector | undefined): boolean => Object.entries(sel?.matchLabels ?? { none: 'none' }).every(([k, v]) => podLabels[k] === v);
    expect(matches(req[0]?.labelSelector)).toBe(true);
    expect(matches(d.spec.selector)).toBe(true);
    const pdb = findDoc(get(), 'PodDisruptionBudget') as KubeDoc & { spec: { minAvailable: number; selector: LabelSelector } };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(matches(pdb.spec.selector)).toBe(true);
  });

  it('downward API: NODE_IP from status.hostIP, POD_NAME, POD_NAMESPACE, POD_UID, NODE_NAME', () => {
    const c = gateway(get());
    expect(envOf(c, 'NODE_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.hostIP');
    expect(envOf(c, 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(envOf(c, 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(envOf(c, 'POD_UID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.uid');
    expect(envOf(c, 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    expect(envOf(c, 'VPC_CIDR')?.value).toBe('10.0.0.0/16');
    expect(envOf(c, 'POD_CIDRS')?.value).toBe('10.250.0.0/16');
    expect(envOf(c, 'ROUTE_TABLE_IDS')?.value).toBe('rtb-0123456789abcdef0,rtb-0fedcba9876543210');
    expect(envOf(c, 'VXLAN_VNI')?.value).toBe('2');
    // Tracing stays off unless an endpoint is given.
    expect(c.env?.some((e) => e.name.startsWith('OTEL_'))).toBe(false);
  });

  it('the environment and flags it renders are accepted by the gateway (runtime/config/parse.ts)', () => {
    const cfg = gatewayConfig(gateway(get()));
    expect(cfg).toMatchObject({
      nodeIP: '198.18.0.10',
      vpcCIDRs: ['10.0.0.0/16'],
      podCIDRs: ['10.250.0.0/16'],
      routeTableIDs: ['rtb-0123456789abcdef0', 'rtb-0fedcba9876543210'],
      leaderElectionID: 'hybrid-gateway-leader',
      leaderElectionNamespace: NAMESPACE,
      podName: 'gw-abc12',
      podUid: '5f0c3a9e-6f1b-4c1e-9a77-0d2d3c4b5a69',
      nodeName: 'ip-198-18-0-10',
      vxlanVNI: 2,
      vxlanMTU: 1450,
      debug: false,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 1000,
      metricsBindAddress: { host: '0.0.0.0', port: 10080 },
      healthProbeBindAddress: { host: '0.0.0.0', port: 8088 },
    });
  });

  it('probes on 8088 (/healthz, /readyz), metrics port 10080, VXLAN 8472/udp', () => {
    const c = gateway(get());
    expect(c.ports).toEqual([
      { name: 'healthz', containerPort: 8088, protocol: 'TCP' },
      { name: 'metrics', containerPort: 10080, protocol: 'TCP' },
      { name: 'vxlan', containerPort: 8472, protocol: 'UDP' },
    ]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'healthz' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'healthz' });
    expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'healthz' });
  });

  it('security: only NET_ADMIN, no escalation, read-only root, RuntimeDefault seccomp, not privileged', () => {
    const spec = podSpec(get());
    const sc = gateway(get()).securityContext;
    expect(sc?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN'] });
    expect(sc?.allowPrivilegeEscalation).toBe(false);
    expect(sc?.readOnlyRootFilesystem).toBe(true);
    expect(sc?.privileged).toBe(false);
    expect(sc?.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(spec.securityContext?.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    // UID 0 on purpose (see the chart README): a non-root UID would get no capability at all.
    expect(sc?.runAsUser).toBe(0);
    // The read-only root gets a small in-memory /tmp.
    expect(gateway(get()).volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  });

  it('resources, priority class, short grace period, image from the chart appVersion', () => {
    const spec = podSpec(get());
    const c = gateway(get());
    expect(Object.keys(c.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(c.resources?.limits?.memory).toBeDefined();
    expect(spec.priorityClassName).toBe('system-cluster-critical');
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(6);
    expect(spec.terminationGracePeriodSeconds).toBeLessThanOrEqual(15);
    expect(c.image).toBe(`${IMAGE_REPOSITORY}:${chartMeta.appVersion}`);
    expect(spec.serviceAccountName).toBe(findDoc(get(), 'ServiceAccount', RELEASE).metadata.name);
  });
});

describe('RBAC: least privilege', () => {
  const clusterRules = (): PolicyRule[] => (findDoc(auto, 'ClusterRole', RELEASE) as RoleDoc).rules;
  const nsRole = (): RoleDoc => findDoc(auto, 'Role', RELEASE) as RoleDoc;
  const eventsRole = (): RoleDoc => findDoc(auto, 'Role', `${RELEASE}-events`) as RoleDoc;

  it('no wildcards anywhere', () => {
    for (const d of auto.filter((x) => x.kind === 'Role' || x.kind === 'ClusterRole')) {
      for (const r of (d as RoleDoc).rules) expect([...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs]).not.toContain('*');
    }
  });

  // What the gateway uses is measured by rbac-use.test.ts (a lab run); these pin the rendered rules.
  it("ClusterRole: exactly the CiliumNode list/watch, the CiliumVTEPConfig hybrid-gateway reads and writes, and reading another installation's Lease", () => {
    expect(clusterRules()).toEqual([
      { apiGroups: ['cilium.io'], resources: ['ciliumnodes'], verbs: ['list', 'watch'] },
      { apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs'], verbs: ['create'] },
      { apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs'], resourceNames: ['hybrid-gateway'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
    ]);
    const rules = clusterRules();
    for (const verb of ['list', 'watch']) expect(allows(rules, { group: 'cilium.io', resource: 'ciliumnodes', verb })).toBe(true);
    for (const verb of ['get', 'update', 'list', 'watch']) expect(allows(rules, { group: 'cilium.io', resource: 'ciliumvtepconfigs', verb, name: 'hybrid-gateway' })).toBe(true);
    expect(allows(rules, { group: 'cilium.io', resource: 'ciliumvtepconfigs', verb: 'create' })).toBe(true);
    // Not another CiliumVTEPConfig, no patch, no deletes, no node reads by name or writes, nothing namespaced cluster-wide.
    expect(allows(rules, { group: 'cilium.io', resource: 'ciliumvtepconfigs', verb: 'update', name: 'someone-else' })).toBe(false);
    expect(allows(rules, { group: 'cilium.io', resource: 'ciliumvtepconfigs', verb: 'patch', name: 'hybrid-gateway' })).toBe(false);
    expect(allows(rules, { group: 'cilium.io', resource: 'ciliumvtepconfigs', verb: 'delete', name: 'hybrid-gateway' })).toBe(false);
    expect(allows(rules, { group: 'cilium.io', resource: 'ciliumnodes', verb: 'get', name: 'hyb-1' })).toBe(false);
    expect(allows(rules, { group: 'cilium.io', resource: 'ciliumnodes', verb: 'update' })).toBe(false);
    // Any Lease may be read (the owner annotation names one in any namespace); none written or watched cluster-wide.
    expect(allows(rules, { group: 'coordination.k8s.io', resource: 'leases', verb: 'get', name: 'hybrid-gateway-leader' })).toBe(true);
    for (const verb of ['list', 'watch', 'update', 'create', 'delete']) expect(allows(rules, { group: 'coordination.k8s.io', resource: 'leases', verb, name: 'hybrid-gateway-leader' })).toBe(false);
    expect(allows(rules, { group: '', resource: 'events', verb: 'create' })).toBe(false);
  });

  it('Role in the release namespace: its own Lease, core/v1 Events (create, update); no pod reads', () => {
    const role = nsRole();
    expect(role.metadata.namespace).toBe(NAMESPACE);
    const rules = role.rules;
    expect(rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['hybrid-gateway-leader'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'update'] },
    ]);
    for (const verb of ['get', 'list', 'watch', 'update']) expect(allows(rules, { group: 'coordination.k8s.io', resource: 'leases', verb, name: 'hybrid-gateway-leader' })).toBe(true);
    expect(allows(rules, { group: 'coordination.k8s.io', resource: 'leases', verb: 'create' })).toBe(true);
    expect(allows(rules, { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', name: 'kube-scheduler' })).toBe(false);
    expect(allows(rules, { group: 'coordination.k8s.io', resource: 'leases', verb: 'delete', name: 'hybrid-gateway-leader' })).toBe(false);
    for (const verb of ['create', 'update']) expect(allows(rules, { group: '', resource: 'events', verb })).toBe(true);
    expect(allows(rules, { group: '', resource: 'events', verb: 'patch' })).toBe(false);
    for (const verb of ['create', 'update', 'patch']) expect(allows(rules, { group: 'events.k8s.io', resource: 'events', verb })).toBe(false);
    expect(allows(rules, { group: '', resource: 'pods', verb: 'get', name: 'gw-abc12' })).toBe(false);
    expect(allows(rules, { group: '', resource: 'pods', verb: 'list' })).toBe(false);
    expect(allows(rules, { group: '', resource: 'secrets', verb: 'get' })).toBe(false);
    expect(allows(rules, { group: '', resource: 'events', verb: 'delete' })).toBe(false);
  });

  it('the Lease rule follows leaderElection.id, and the runtime reads the same name', async () => {
    const docs = await helm.template([...AUTO_SETS, 'leaderElection.id=my-gateway-lease']);
    const role = findDoc(docs, 'Role', RELEASE) as RoleDoc;
    expect(allows(role.rules, { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', name: 'my-gateway-lease' })).toBe(true);
    expect(allows(role.rules, { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', name: 'hybrid-gateway-leader' })).toBe(false);
    expect(gatewayConfig(gateway(docs)).leaderElectionID).toBe('my-gateway-lease');
  });

  it('Events about cluster-scoped objects: create/update core/v1 Events in "default" only', () => {
    const role = eventsRole();
    expect(role.metadata.namespace).toBe('default');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['events'], verbs: ['create', 'update'] }]);
  });

  it('bindings tie the roles to the chart ServiceAccount in the release namespace', () => {
    const sa = findDoc(auto, 'ServiceAccount', RELEASE);
    for (const [kind, roleKind, name] of [
      ['ClusterRoleBinding', 'ClusterRole', RELEASE],
      ['RoleBinding', 'Role', RELEASE],
      ['RoleBinding', 'Role', `${RELEASE}-events`],
    ] as const) {
      const b = findDoc(auto, kind, name) as BindingDoc;
      expect(b.roleRef).toMatchObject({ kind: roleKind, name });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NAMESPACE }]);
    }
  });
});

describe('values', () => {
  it('vxlanVNI 9 (dual-stack) reaches the gateway', async () => {
    const docs = await helm.template([...AUTO_SETS, 'vxlanVNI=9']);
    expect(envOf(gateway(docs), 'VXLAN_VNI')?.value).toBe('9');
    expect(gatewayConfig(gateway(docs)).vxlanVNI).toBe(9);
  });

  it('vxlanMTU 8951 (jumbo frames all the way to the hybrid nodes) reaches the gateway; 1450 by default', async () => {
    const docs = await helm.template([...AUTO_SETS, 'vxlanMTU=8951']);
    expect(envOf(gateway(docs), 'VXLAN_MTU')?.value).toBe('8951');
    expect(gatewayConfig(gateway(docs)).vxlanMTU).toBe(8951);
    expect(gatewayConfig(gateway(await helm.template(AUTO_SETS))).vxlanMTU).toBe(1450);
  });

  it('takeOwnership reaches the gateway; off by default', async () => {
    expect(gatewayConfig(gateway(await helm.template(AUTO_SETS))).takeOwnership).toBe(false);
    const docs = await helm.template([...AUTO_SETS, 'takeOwnership=true']);
    expect(envOf(gateway(docs), 'TAKE_OWNERSHIP')?.value).toBe('true');
    expect(gatewayConfig(gateway(docs)).takeOwnership).toBe(true);
  });

  it('clusterName reaches doctor as CLUSTER_NAME; not rendered by default', async () => {
    expect(envOf(gateway(auto), 'CLUSTER_NAME')).toBeUndefined();
    expect(gatewayConfig(gateway(auto)).clusterName).toBe('');
    const docs = await helm.template([...AUTO_SETS, 'clusterName=prod-hybrid_01']);
    expect(envOf(gateway(docs), 'CLUSTER_NAME')?.value).toBe('prod-hybrid_01');
    expect(gatewayConfig(gateway(docs)).clusterName).toBe('prod-hybrid_01');
  });

  it('lists as YAML lists or as comma-separated strings, several VPC CIDRs', async () => {
    const docs = await helm.template(['vpcCIDR={10.0.0.0/16,100.64.0.0/16}', 'podCIDRs=10.250.0.0/16\\, 10.251.0.0/16', 'routeTableIDs={rtb-0123456789abcdef0,rtb-01234567}', IMAGE_SET]);
    const cfg = gatewayConfig(gateway(docs));
    expect(cfg.vpcCIDRs).toEqual(['10.0.0.0/16', '100.64.0.0/16']);
    expect(cfg.podCIDRs).toEqual(['10.250.0.0/16', '10.251.0.0/16']);
    expect(cfg.routeTableIDs).toEqual(['rtb-0123456789abcdef0', 'rtb-01234567']);
  });

  it('image tag, digest and a numeric tag from --set', async () => {
    const tagged = await helm.template([...AUTO_SETS, 'image.repository=123456789012.dkr.ecr.us-west-2.amazonaws.com/gw', 'image.tag=1.2'], []);
    expect(gateway(tagged).image).toBe('123456789012.dkr.ecr.us-west-2.amazonaws.com/gw:1.2');
    const digest = `sha256:${'ab'.repeat(32)}`;
    const pinned = await helm.template([...AUTO_SETS, `image.digest=${digest}`]);
    expect(gateway(pinned).image).toBe(`${IMAGE_REPOSITORY}@${digest}`);
  });

  it('the image is the repository given, at the chart appVersion; without one, rendering stops with the build and push commands', async () => {
    expect(gateway(await helm.template(AUTO_SETS)).image).toBe(`${IMAGE_REPOSITORY}:0.1.0`);
    const r = await helm.run(['template', RELEASE, chartDir, ...REFERENCE_SETS.flatMap((s) => ['--set', s])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('image.repository is not set. Build this project\'s image and push it to your registry');
    expect(r.stderr).toContain('docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/eks-hybrid-gateway:0.1.0 --push .');
    expect(r.stderr).not.toContain('public.ecr.aws/eks/eks-hybrid-nodes-gateway');
  });

  it('otel: endpoint, service name, resource attributes with the pod identity, headers from a Secret', async () => {
    const docs = await helm.template([...AUTO_SETS, 'otel.endpoint=http://otel-collector.observability:4318', 'otel.resourceAttributes.deployment\\.environment=prod', 'otel.headersSecret.name=otlp-auth']);
    const c = gateway(docs);
    const env = kubeletEnv(c, DOWNWARD);
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector.observability:4318');
    expect(env.OTEL_SERVICE_NAME).toBe('eks-hybrid-gateway');
    expect(env.OTEL_RESOURCE_ATTRIBUTES).toBe(`k8s.pod.name=gw-abc12,k8s.namespace.name=${NAMESPACE},k8s.node.name=ip-198-18-0-10,deployment.environment=prod`);
    expect(envOf(c, 'OTEL_EXPORTER_OTLP_HEADERS')?.valueFrom?.secretKeyRef).toEqual({ name: 'otlp-auth', key: 'headers' });
  });

  it('podMonitor: scrapes the container port named metrics of these pods, in this namespace', async () => {
    const docs = await helm.template([...AUTO_SETS, 'podMonitor.enabled=true', 'podMonitor.interval=15s', 'podMonitor.additionalLabels.release=kube-prometheus-stack']);
    const pm = findDoc(docs, 'PodMonitor') as KubeDoc & {
      spec: { selector: LabelSelector; namespaceSelector: { matchNames: string[] }; podMetricsEndpoints: Array<{ port: string; path: string; interval?: string }> };
    };
    expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(pm.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(pm.spec.podMetricsEndpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s' }]);
    expect(gateway(docs).ports?.some((p) => p.name === 'metrics')).toBe(true);
    expect(pm.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    const podLabels = deployment(docs).spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels ?? {})) expect(podLabels[k]).toBe(v);
    expect(auto.some((d) => d.kind === 'PodMonitor')).toBe(false);
  });

  it('NodeClass (opt-in) disables the source/destination check', async () => {
    const docs = await helm.template([
      ...AUTO_SETS,
      'autoMode.nodeClass.create=true',
      'autoMode.nodeClass.role=AmazonEKSAutoNodeRole',
      'autoMode.nodeClass.subnetSelectorTerms[0].id=subnet-0123456789abcdef0',
      'autoMode.nodeClass.securityGroupSelectorTerms[0].tags.aws:eks:cluster-name=demo',
    ]);
    const nc = findDoc(docs, 'NodeClass') as KubeDoc & { spec: Record<string, unknown> };
    expect(nc.apiVersion).toBe('eks.amazonaws.com/v1');
    expect(nc.spec).toMatchObject({ role: 'AmazonEKSAutoNodeRole', advancedNetworking: { sourceDestCheck: 'DisabledPrimaryENI' }, subnetSelectorTerms: [{ id: 'subnet-0123456789abcdef0' }] });
    const np = findDoc(docs, 'NodePool') as KubeDoc & { spec: { template: { spec: { nodeClassRef: { name: string } } } } };
    expect(np.spec.template.spec.nodeClassRef.name).toBe(nc.metadata.name);
  });

  it('a namespace override moves every namespaced object and the RBAC subjects', async () => {
    const docs = await helm.template([...REFERENCE_SETS, IMAGE_SET, 'namespace=gateways', 'rbac.clusterEventsNamespace=']);
    for (const d of docs) if (d.kind !== 'ClusterRole' && d.kind !== 'ClusterRoleBinding' && d.kind !== 'NodePool') expect(d.metadata.namespace).toBe('gateways');
    expect((findDoc(docs, 'ClusterRoleBinding', RELEASE) as BindingDoc).subjects[0]?.namespace).toBe('gateways');
    expect((findDoc(docs, 'ClusterRoleBinding', `${RELEASE}-cleanup`) as BindingDoc).subjects[0]?.namespace).toBe('gateways');
    expect(docs.some((d) => d.metadata.name.endsWith('-events'))).toBe(false);
  });
});

describe('NOTES.txt', () => {
  it.each([
    ['auto mode', AUTO_SETS, /NodePool hybrid-gateway/],
    ['managed node groups', MNG_SETS, /kubectl label node <node> hybrid-gateway-node=true/],
  ])('%s: tells what to check (pods, Lease holder, CiliumVTEPConfig, route tables, metrics)', async (_mode, sets, modeLine) => {
    const r = await helm.run(['install', RELEASE, chartDir, '--dry-run=client', '--namespace', NAMESPACE, ...sets.flatMap((s) => ['--set', s])]);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toMatch(modeLine);
    expect(notes).toContain(`kubectl get pods -n ${NAMESPACE} -l app.kubernetes.io/name=eks-hybrid-nodes-gateway,app.kubernetes.io/instance=${RELEASE}`);
    expect(notes).toContain(`kubectl get lease hybrid-gateway-leader -n ${NAMESPACE}`);
    expect(notes).toContain('kubectl get ciliumvtepconfig hybrid-gateway');
    expect(notes).toContain('aws ec2 describe-route-tables --route-table-ids rtb-0123456789abcdef0 rtb-0fedcba9876543210');
    expect(notes).toContain('/metrics');
    // The Event reasons it tells the user to filter on are the ones the gateway records.
    const reasons = [...notes.matchAll(/--field-selector reason=(\w+)/g)].map((m) => m[1]);
    expect(reasons).toEqual([EVENT_REASONS.leaderElected, EVENT_REASONS.leadershipLost]);
  });
});
