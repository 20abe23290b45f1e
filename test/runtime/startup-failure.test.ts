// A gateway that cannot serve its probes (address not on this host), or whose
// VXLAN MTU the NIC cannot carry, says why and exits 1 after a clean stop,
// instead of running on without probes or retrying a refusal forever.
// Runs in throw-away namespaces: nothing touches the host.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsRun, type NetnsRun } from '../support/netns.js';

let run: NetnsRun;
let ns: string;
let small: string;
const dir = mkdtempSync(join(tmpdir(), 'ehg-startup-'));
// An API server nobody answers (loopback of the empty namespace): the gateway retries it, as it would.
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]', 'users: [{name: u, user: {}}]', 'contexts: [{name: x, context: {cluster: c, user: u}}]', 'current-context: x', ''].join('\n'),
);

beforeAll(async () => {
  run = createNetnsRun();
  ns = await run.ns('lonely');
  // A NIC of MTU 1400 (a tunnel underlay, say): 1450 + 50 does not fit.
  small = await run.ns('small-nic');
  const peer = await run.ns('small-peer');
  await run.veth({ ns: small, ifname: 'eth0', addr: '198.18.98.10/24', mtu: 1400 }, { ns: peer, ifname: 'eth0', addr: '198.18.98.1/24', mtu: 1400 });
});
afterAll(async () => {
  await run?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway start-up failure', () => {
  it('exits 1 naming the problem when the health address cannot be bound', async () => {
    const child = run.spawnNode(ns, 'runtime/main.ts', [], {
      NODE_IP: '198.18.99.10',
      VPC_CIDR: '198.18.0.0/16',
      POD_CIDRS: '198.19.0.0/16',
      ROUTE_TABLE_IDS: 'rtb-0123456789abcdef0',
      POD_NAME: 'gw-x',
      POD_NAMESPACE: 'kube-system',
      KUBECONFIG: kubeconfig,
      HEALTH_PROBE_BIND_ADDRESS: '198.18.99.1:8088',
      METRICS_BIND_ADDRESS: '0',
      OTEL_SDK_DISABLED: 'true',
    });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(out).toContain('cannot serve health or metrics');
    expect(out).toContain('EADDRNOTAVAIL');
  }, 30_000);

  it('exits 1 naming both MTUs and the option when the NIC cannot carry the VXLAN MTU, and creates no device', async () => {
    const child = run.spawnNode(small, 'runtime/main.ts', [], {
      NODE_IP: '198.18.98.10',
      VPC_CIDR: '198.18.0.0/16',
      POD_CIDRS: '198.19.0.0/16',
      ROUTE_TABLE_IDS: 'rtb-0123456789abcdef0',
      POD_NAME: 'gw-x',
      POD_NAMESPACE: 'kube-system',
      KUBECONFIG: kubeconfig,
      HEALTH_PROBE_BIND_ADDRESS: '0',
      METRICS_BIND_ADDRESS: '0',
      OTEL_SDK_DISABLED: 'true',
    });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(out).toContain('VXLAN MTU 1450 needs MTU 1500 on eth0, the link holding NODE_IP, which has 1400: lower --vxlan-mtu (VXLAN_MTU) to at most 1350');
    expect(out).toContain('not retrying');
    await expect(run.ip(small, ['link', 'show', 'hybrid_vxlan0'])).rejects.toThrow();
  }, 30_000);
});
