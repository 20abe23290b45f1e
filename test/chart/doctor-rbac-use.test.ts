// doctor.rbac grants exactly what doctor uses: rbac-use.test.ts's proof, for
// `doctor` run in the gateway's pod. doctor's checks (runtime/doctor: the
// registry and context its CLI runs) read the Kubernetes stand-in with the
// environment the chart renders for the gateway container, once on an empty
// cluster (before the install) and once on one set up right
// (test/kube/doctor-lab.ts). doctor talks to a listener of its own on the
// stand-in's store, so every request that listener recorded is doctor's: no
// network namespaces, no root. The mapping and comparison are
// test/support/rbac-use.ts. Asserted:
// - every request is allowed by the gateway's roles plus doctor's;
// - every doctor grant (group, resource, verb, resourceName) was used, and no
//   cluster-wide one only where a Role reaches;
// - the gateway's roles alone deny doctor exactly its extra reads (why the
//   value exists).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClients, loadKubeConfig } from '../../effects/kube/index.js';
import type { VtepAgent } from '../../lab/cilium-vtep.js';
import { KubeApiHttpServer } from '../../lab/kube-apiserver/server.js';
import { parseConfig, type GatewayConfig } from '../../runtime/config/parse.js';
import { doctorContext } from '../../runtime/doctor/cli.js';
import { CHECKS } from '../../runtime/doctor/registry.js';
import { runChecks, type DoctorReport } from '../../runtime/doctor/report.js';
import { leaseNamespace } from '../../runtime/wiring/host.js';
import { doctorEnv, LEADER, LEASE, NS, seedHealthy, startAws, stopAws, type AwsLab } from '../kube/doctor-lab.js';
import { startLab, type Lab } from '../kube/helpers.js';
import { compareRbac, DEFAULT_AUTHENTICATED_GRANTS, describeAttrs, describeItem, formatUses, grantsFor, usesOf, type Grant, type RbacComparison, type Use } from '../support/rbac-use.js';
import { chartDir, findDoc, Helm, IMAGE_SET, parseManifests, RELEASE, type KubeDoc } from './helm.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
type DeploymentDoc = KubeDoc & { spec: { template: { spec: { containers: Array<{ name: string; env?: EnvVar[] }> } } } };

/** The gateway container's environment as the kubelet builds it (`kubectl exec` keeps it), the pod being the leader's. */
function podEnv(d: DeploymentDoc): Record<string, string> {
  const downward: Record<string, string> = {
    'metadata.name': LEADER.pod,
    'metadata.namespace': d.metadata.namespace ?? '',
    'metadata.uid': '0b8e4f7a-3c2d-4e1f-9a6b-5c4d3e2f1a0b',
    'status.hostIP': LEADER.hostIP,
    'spec.nodeName': `ip-${LEADER.hostIP.replace(/\./g, '-')}`,
  };
  const env: Record<string, string> = {};
  for (const e of d.spec.template.spec.containers.find((c) => c.name === 'gateway')?.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (w, n: string) => env[n] ?? w);
    else if (e.valueFrom?.fieldRef !== undefined) {
      const v = downward[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`no stand-in for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      env[e.name] = v;
    }
  }
  return env;
}

/** The grant's identity: which role, which rule, what it says. */
const grantKey = (g: Grant): string => JSON.stringify([g.role, g.namespace ?? null, g.ruleIndex, g.rule]);

let lab: Lab;
let aws: AwsLab;
let agent: VtepAgent | undefined;
let helm: Helm;
let doctorApi: KubeApiHttpServer;
let tmp: string;
let config: GatewayConfig;
let gatewayGrants: Grant[] = [];
let allGrants: Grant[] = [];
const reports: DoctorReport[] = [];

beforeAll(async () => {
  lab = await startLab();
  aws = await startAws();
  helm = new Helm();
  // The chart rendered for the doctor lab's installation: its namespace, Lease, CIDRs, route table, region and cluster.
  const labEnv = doctorEnv(lab);
  const sets = [
    `vpcCIDR=${labEnv.VPC_CIDR}`,
    `podCIDRs=${labEnv.POD_CIDRS}`,
    `routeTableIDs=${labEnv.ROUTE_TABLE_IDS}`,
    `awsRegion=${labEnv.AWS_REGION}`,
    `clusterName=${labEnv.CLUSTER_NAME}`,
    `leaderElection.id=${LEASE}`,
    IMAGE_SET,
  ];
  const render = async (extra: string[]): Promise<KubeDoc[]> => {
    const r = await helm.run(['template', RELEASE, chartDir, '--namespace', labEnv.POD_NAMESPACE!, ...[...sets, ...extra].flatMap((s) => ['--set', s])]);
    if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    return parseManifests(r.stdout);
  };
  const [off, on] = await Promise.all([render([]), render(['doctor.rbac=true'])]);
  const sa = findDoc(on, 'ServiceAccount', RELEASE);
  const account = { namespace: sa.metadata.namespace ?? labEnv.POD_NAMESPACE!, name: sa.metadata.name };
  gatewayGrants = grantsFor(off, account);
  allGrants = grantsFor(on, account);

  // doctor's own connection: the stand-in's HTTP server on the same store, at another port.
  doctorApi = new KubeApiHttpServer(lab.server.store);
  const { port } = await doctorApi.listen('127.0.0.1', 0);
  tmp = mkdtempSync(join(tmpdir(), 'doctor-rbac-'));
  const kubeconfig = join(tmp, 'kubeconfig');
  writeFileSync(kubeconfig, lab.server.kubeconfigYaml.replace(lab.server.url, `http://127.0.0.1:${port}`), { mode: 0o600 });
  // `kubectl exec … -- doctor` gets the container's environment, not its args; doctorMain's parse.
  const out = parseConfig([], { ...podEnv(findDoc(on, 'Deployment', RELEASE) as DeploymentDoc), KUBECONFIG: kubeconfig }, { optional: ['node-ip'] });
  if (out.kind !== 'config') throw new Error('the rendered environment asked for --help');
  config = out.config;

  // As doctorMain runs the checks (its clients from the kubeconfig), with the AWS stand-ins' clients.
  const doctor = (): Promise<DoctorReport> =>
    runChecks(CHECKS, doctorContext(config, kubeClients(loadKubeConfig(config.kubeconfig)), { ec2: () => Promise.resolve(aws.ec2), eks: () => Promise.resolve(aws.eks) }));
  reports.push(await doctor());
  agent = await seedHealthy(lab);
  reports.push(await doctor());
  // Every exchange is recorded once its connection is done: closing the listener ends them all.
  await doctorApi.close();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await stopAws(aws);
  await doctorApi?.close();
  await lab?.server.close();
  helm?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

let uses: Use[] | undefined;
const doctorUses = (): Use[] => {
  if (uses !== undefined) return uses;
  const records = doctorApi.requests;
  expect(records[0]?.seq, 'the listener kept every request record').toBe(1);
  uses = usesOf(records, () => 'doctor');
  console.info(`Kubernetes requests of doctor (${records.length}):\n${formatUses(uses)}`);
  return uses;
};
const doctorGrants = (): Grant[] => {
  const gateway = new Set(gatewayGrants.map(grantKey));
  return allGrants.filter((g) => !gateway.has(grantKey(g)));
};
const compared = (): RbacComparison => compareRbac(doctorUses(), doctorGrants(), [...DEFAULT_AUTHENTICATED_GRANTS, ...gatewayGrants]);

describe('doctor.rbac is what doctor uses (doctor against the stand-in, its requests, helm template)', () => {
  it('doctor ran with the pod’s environment: the empty cluster fails its checks, the one set up right passes every one', () => {
    expect(leaseNamespace(config)).toBe(NS);
    expect(reports.map((r) => r.summary.fail > 0)).toEqual([true, false]);
    expect(reports[1]!.checks.filter((c) => c.status !== 'pass')).toEqual([]);
  });

  it('the value keeps every gateway grant as it is and adds doctor’s', () => {
    const all = new Set(allGrants.map(grantKey));
    expect(gatewayGrants.filter((g) => !all.has(grantKey(g)))).toEqual([]);
    expect(doctorGrants().length).toBeGreaterThan(0);
  });

  it('every request doctor made is allowed by the gateway’s roles plus doctor’s', () => {
    const c = compared();
    expect(c.uses.length).toBeGreaterThan(0);
    expect(c.denied.map((u) => `${describeAttrs(u.attrs)} ×${u.count}, e.g. ${u.example}`)).toEqual([]);
  });

  it('every doctor grant was used; none cluster-wide where a Role reaches', () => {
    const c = compared();
    expect(c.unused.map(describeItem)).toEqual([]);
    expect(c.broaderThanUsed.map(describeItem)).toEqual([]);
  });

  it('with the gateway’s roles alone (the value off), doctor is denied exactly its extra reads', () => {
    const denied = compareRbac(doctorUses(), gatewayGrants).denied.map((u) => describeAttrs(u.attrs));
    expect(denied.sort()).toEqual(
      [
        'get apiextensions.k8s.io/customresourcedefinitions "ciliumvtepconfigs.cilium.io" (cluster-scoped)',
        'get core/configmaps "cilium-config" (namespace kube-system)',
        'get apps/daemonsets "aws-node" (namespace kube-system)',
        `get core/pods "${LEADER.pod}" (namespace ${NS})`,
        `list core/pods (namespace ${NS})`,
      ].sort(),
    );
  });
});
