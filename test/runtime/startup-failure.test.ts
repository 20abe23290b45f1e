// A gateway that cannot serve its probes (address not on this host) says why
// and exits 1 after a clean stop, instead of running on without probes.
// Runs in a throw-away namespace with only lo: nothing touches the host.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsRun, type NetnsRun } from '../support/netns.js';

let run: NetnsRun;
let ns: string;
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
});
