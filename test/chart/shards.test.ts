// The chart's sharding values (issue 17): `shards` and `nodePodCIDRMaskSize`.
// shards = 1 (the default) renders byte for byte what the chart rendered before
// sharding existed: the files under fixtures/ are that render, taken before the
// values were added (after a deliberate change to the default render, rewrite
// them with `npx vitest run test/chart/shards.test.ts -u` and review the diff).
// shards > 1 passes both values to the gateway and widens the Lease rules
// (member Leases are named after pods, unknown at render time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../runtime/config/parse.js';
import { AUTO_SETS, chartDir, findDoc, Helm, kubeletEnv, MNG_SETS, NAMESPACE, parseManifests, RELEASE, type KubeDoc } from './helm.js';
import { CUSTOM_KINDS, validateBuiltIn, validateCustomResourceParts } from './validate.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

const gateway = (docs: KubeDoc[]): Container =>
  (findDoc(docs, 'Deployment', RELEASE) as KubeDoc & { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!;
const cleanupContainer = (docs: KubeDoc[]): Container =>
  (findDoc(docs, 'Job', `${RELEASE}-cleanup`) as KubeDoc & { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!;
const rules = (docs: KubeDoc[], name: string): PolicyRule[] => (findDoc(docs, 'Role', name) as KubeDoc & { rules: PolicyRule[] }).rules;
const envOf = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;


let helm: Helm;
beforeAll(() => {
  helm = new Helm();
});
afterAll(() => helm?.dispose());

async function render(sets: readonly string[]): Promise<string> {
  const r = await helm.run(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...sets.flatMap((s) => ['--set', s])]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('shards = 1: the render of the chart before sharding, byte for byte', () => {
  it.each([
    ['auto mode', AUTO_SETS, 'fixtures/unsharded-auto.yaml'],
    ['managed node groups', MNG_SETS, 'fixtures/unsharded-mng.yaml'],
  ])('%s, by default and with shards=1 set (nodePodCIDRMaskSize is then not read)', async (_name, sets, file) => {
    const byDefault = await render(sets);
    await expect(byDefault).toMatchFileSnapshot(file);
    expect(await render([...sets, 'shards=1'])).toBe(byDefault);
    expect(await render([...sets, 'shards=1', 'nodePodCIDRMaskSize=16'])).toBe(byDefault);
  });
});

describe('shards > 1', () => {
  const SHARDED = [...AUTO_SETS, 'shards=2'];
  let docs: KubeDoc[];
  beforeAll(async () => {
    docs = parseManifests(await render(SHARDED));
  });

  it('helm lint --strict passes and every rendered object validates', async () => {
    const r = await helm.run(['lint', '--strict', chartDir, ...SHARDED.flatMap((s) => ['--set', s])]);
    expect(r.stderr + r.stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const d of docs) {
      if (CUSTOM_KINDS.has(`${d.apiVersion} ${d.kind}`)) validateCustomResourceParts(d);
      else validateBuiltIn(d);
    }
  });

  it('the gateway gets SHARDS and NODE_POD_CIDR_MASK_SIZE, and parses them', async () => {
    const c = gateway(docs);
    expect(envOf(c, 'SHARDS')).toBe('2');
    expect(envOf(c, 'NODE_POD_CIDR_MASK_SIZE')).toBe('24');
    const out = parseConfig(c.args ?? [], kubeletEnv(c));
    expect(out.kind === 'config' && [out.config.shards, out.config.nodePodCidrMaskSize]).toEqual([2, 24]);
    const c8 = gateway(parseManifests(await render([...AUTO_SETS, 'shards=8', 'nodePodCIDRMaskSize=26'])));
    expect([envOf(c8, 'SHARDS'), envOf(c8, 'NODE_POD_CIDR_MASK_SIZE')]).toEqual(['8', '26']);
  });

  it('a split the hybrid nodes cannot take renders, and the gateway refuses it at start naming SHARDS', async () => {
    const c = gateway(parseManifests(await render([...AUTO_SETS, 'shards=2', 'nodePodCIDRMaskSize=16'])));
    expect(() => parseConfig(c.args ?? [], kubeletEnv(c))).toThrow(ConfigError);
    expect(() => parseConfig(c.args ?? [], kubeletEnv(c))).toThrow(/^invalid SHARDS "2": pod CIDR 10\.250\.0\.0\/16 split into 2 parts gives \/17 prefixes/);
  });

  it("the gateway's Role: the release namespace's Leases (member Leases are named after pods), Events as before", () => {
    expect(rules(docs, RELEASE)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'list', 'watch', 'update', 'delete'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'update'] },
    ]);
    expect(findDoc(docs, 'Role', RELEASE).metadata.namespace).toBe(NAMESPACE);
  });

  it('the ClusterRole lets each shard leader apply (PATCH) its endpoints of the one CiliumVTEPConfig, and nothing else more', async () => {
    const cluster = (d: KubeDoc[]) => (findDoc(d, 'ClusterRole', RELEASE) as KubeDoc & { rules: PolicyRule[] }).rules;
    const one = cluster(parseManifests(await render(AUTO_SETS)));
    const two = cluster(docs);
    const named = (r: PolicyRule[]) => r.find((x) => x.resources?.includes('ciliumvtepconfigs') && (x as { resourceNames?: string[] }).resourceNames !== undefined);
    expect(named(one)?.verbs).toEqual(['get', 'list', 'watch', 'update']);
    expect(named(two)?.verbs).toEqual(['get', 'list', 'watch', 'update', 'patch']);
    expect(two.filter((r) => r !== named(two))).toEqual(one.filter((r) => r !== named(one)));
  });

  it("the cleanup hook's Role: the Lease and the shard Leases <id>-0 … <id>-N-1, get and update", async () => {
    expect(rules(docs, `${RELEASE}-cleanup`)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['hybrid-gateway-leader', 'hybrid-gateway-leader-0', 'hybrid-gateway-leader-1'], verbs: ['get', 'update'] },
    ]);
    const three = parseManifests(await render([...AUTO_SETS, 'shards=3', 'leaderElection.id=my-lease']));
    expect(rules(three, `${RELEASE}-cleanup`)[1]!.resourceNames).toEqual(['my-lease', 'my-lease-0', 'my-lease-1', 'my-lease-2']);
    // cleanup is told SHARDS (it takes the shard Leases and looks at each shard's prefixes); nothing else changes.
    const env = cleanupContainer(docs).env ?? [];
    expect(env.find((e) => e.name === 'SHARDS')?.value).toBe('2');
    expect(env.filter((e) => e.name !== 'SHARDS')).toEqual(cleanupContainer(parseManifests(await render(AUTO_SETS))).env);
  });

  it('everything else renders as with shards = 1', async () => {
    // (the Roles, the ClusterRole and the cleanup Job's SHARDS: the tests above)
    const strip = (text: string) =>
      parseManifests(text).filter((d) => !(d.kind === 'Role' && [RELEASE, `${RELEASE}-cleanup`].includes(d.metadata.name)) && !(d.kind === 'ClusterRole' && d.metadata.name === RELEASE) && d.kind !== 'Deployment' && d.kind !== 'Job');
    expect(strip(await render(SHARDED))).toEqual(strip(await render(AUTO_SETS)));
    const env = (c: Container) => (c.env ?? []).filter((e) => e.name !== 'SHARDS' && e.name !== 'NODE_POD_CIDR_MASK_SIZE');
    expect(env(gateway(docs))).toEqual(env(gateway(parseManifests(await render(AUTO_SETS)))));
  });
});
