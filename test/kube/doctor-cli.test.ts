// The real CLI end to end: `node --import tsx runtime/main.ts doctor …` against
// the stand-in, as `npm start -- doctor` runs it: the text, --output json, and
// the exit codes (0 all pass, 1 a check failed, 2 bad usage naming the value).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VtepAgent } from '../../lab/cilium-vtep.js';
import { CHECKS } from '../../runtime/doctor/registry.js';
import { doctorEnv as labEnv, LEADER, putCiliumConfig, putLease, seedHealthy, startAws, stopAws, type AwsLab } from './doctor-lab.js';
import { startLab, type Lab } from './helpers.js';

let lab: Lab;
let agent: VtepAgent;
let aws: AwsLab;
beforeAll(async () => {
  lab = await startLab();
  agent = await seedHealthy(lab);
  aws = await startAws();
});
const doctorEnv = (l: Lab): Record<string, string> => labEnv(l, {}, aws);
afterAll(async () => {
  await agent?.stop();
  await stopAws(aws);
  await lab?.server.close();
});

/** Spawned asynchronously: the stand-in answers from this process's event loop. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Nothing renews the lab's Lease: renew it as the leader would, just before doctor looks.
  putLease(lab, LEADER.pod, Date.now());
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts', 'doctor', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Each spawn starts tsx and the SDKs: seconds each on a busy machine. */
const SPAWNS = 150_000;

describe('doctor CLI', () => {
  it('all checks pass: text, exit 0; then one fails: exit 1 with the fix, and --output json', async () => {
    const ok = await run([], doctorEnv(lab));
    expect(ok.stderr).not.toContain('doctor:');
    expect(ok.code).toBe(0);
    for (const c of CHECKS) expect(ok.stdout).toContain(`PASS  ${c.name}  ${c.title}`);
    expect(ok.stdout).toContain(`${CHECKS.length} passed, 0 warned, 0 failed`);
    // The spawned doctor found the EKS stand-in through AWS_ENDPOINT_URL_EKS, as the SDK's standard setting.
    expect(aws.eksStandIn.calls.some((c) => c.operation === 'DescribeCluster' && c.status === 200)).toBe(true);

    putCiliumConfig(lab, { 'enable-vtep': 'true', 'enable-l7-proxy': 'true' });
    const bad = await run([], doctorEnv(lab));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('FAIL  cilium.l7-proxy-disabled  cilium-config has enable-l7-proxy: "false"\n      saw: enable-l7-proxy is "true"\n      fix: Set the Helm value l7Proxy=false');
    expect(bad.stdout).toContain(`${CHECKS.length - 1} passed, 0 warned, 1 failed`);

    const json = await run(['--output', 'json'], doctorEnv(lab));
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { checks: Array<{ name: string; status: string; saw: string; fix: string }>; summary: Record<string, number> };
    expect(report.summary).toEqual({ pass: CHECKS.length - 1, warn: 0, fail: 1 });
    expect(report.checks.map((c) => c.name)).toEqual(CHECKS.map((c) => c.name));
    expect(report.checks.find((c) => c.status === 'fail')).toMatchObject({ name: 'cilium.l7-proxy-disabled', saw: 'enable-l7-proxy is "true"' });
    putCiliumConfig(lab, { 'enable-vtep': 'true', 'enable-l7-proxy': 'false' });
  }, SPAWNS);

  it('bad usage exits 2 naming the value; --help lists the checks', async () => {
    const out = await run(['--output', 'yaml'], doctorEnv(lab));
    expect(out).toMatchObject({ code: 2, stdout: '' });
    expect(out.stderr).toBe('doctor: invalid --output "yaml": want text or json\n');
    const cfg = await run([], { ...doctorEnv(lab), VXLAN_VNI: 'nine' });
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toContain('doctor: config: invalid VXLAN_VNI "nine": not a VNI');
    const missing = await run([], { KUBECONFIG: lab.server.kubeconfigPath });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --vpc-cidr / VPC_CIDR');
    expect(missing.stderr).not.toContain('NODE_IP');
    const cluster = await run([], { ...doctorEnv(lab), CLUSTER_NAME: 'my cluster' });
    expect(cluster.code).toBe(2);
    expect(cluster.stderr).toContain('doctor: config: invalid CLUSTER_NAME "my cluster": not an EKS cluster name');
    const help = await run(['--help'], {});
    expect(help.code).toBe(0);
    for (const c of CHECKS) expect(help.stdout).toContain(c.name);
  }, SPAWNS);
});
