// A large list taken in while the gateway leads: the gateway starts on an
// empty cluster and leads (an unconverged gateway does not compete for the
// lease, so leading first is what puts the intake under a held lease); then
// 5,000 hybrid CiliumNodes are written and, in the same step, the watch
// history compacted and the watches dropped, so the gateway re-lists them
// (410) and takes in one list of 5,000. Throughout the intake the gateway must stay a leader that renews its Lease on time, answer
// every /healthz probe, and never block its event loop for a second — checked
// through its own event-loop delay histogram and the stand-in's record of
// every Lease write — and end with exactly the 5,000 nodes' entries in its
// kernel. (Not a timing target: the bounds are the lease's own contract; the
// speed targets live in `npm run bench -- scale`.) Before the desired set was
// kept incrementally, taking in 5,000 nodes blocked the loop for over a minute.
// Addresses: 203.0.113.0/24 (VPC and control), 198.18.0.0/15 (lab/scale/nodes.ts).
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpcPeer } from '../../lab/ipc.js';
import { createNetnsRun, stderrTail, type NetnsRun } from '../../lab/netns.js';
import type { LeaseWrite } from '../../lab/scale/control-worker.js';
import { KernelWatch } from '../../lab/scale/kernel-watch.js';
import { expected, POD_CIDRS, scaleNode, VPC_CIDR } from '../../lab/scale/nodes.js';

const N = 5000;
const CONTROL_IP = '203.0.113.1';
const GW = { name: 'gw-a', instanceId: 'i-0aaaaaaaaaaaaaaa1', eni: 'eni-0aaaaaaaaaaaaaaa1', mac: '0a:00:00:00:00:0a', ip: '203.0.113.11' } as const;
const TABLES = ['rtb-0a1a1a1a1a1a1a1a1'];
const LEASE = { name: 'hybrid-gateway-leader', namespace: 'kube-system' };
const RENEW_DEADLINE_MS = 2000; // the default
const epoch = (): number => performance.timeOrigin + performance.now();

let run: NetnsRun;
let control: IpcPeer;
let prober: IpcPeer;
let watch: KernelWatch;
let gateway: ChildProcess;
const lines: string[] = [];
let spawnedAt = 0;
let convergedAt = 0;

async function ask<T>(peer: IpcPeer, body: Record<string, unknown>): Promise<T> {
  const r = await peer.request(body);
  if (!r.ok) throw new Error(String(r.error));
  return r.value as T;
}

/** One sample series of a histogram from a /metrics text: cumulative counts by `le`. */
function buckets(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))) out.set(m[1]!, Number(m[2]));
  return out;
}

describe(`a gateway taking in ${N} CiliumNodes`, () => {
  beforeAll(async () => {
    run = createNetnsRun();
    const ctl = await run.ns('ctl');
    const gw = await run.ns('gw');
    await run.veth({ ns: ctl, ifname: 'p-gw', addr: `${CONTROL_IP}/24` }, { ns: gw, ifname: 'eth0', addr: `${GW.ip}/24` });
    await run.sysctl(gw, 'net.ipv4.ip_forward', '1');
    const child = run.spawnNode(ctl, 'lab/scale/control-worker.ts', [
      JSON.stringify({
        host: CONTROL_IP,
        region: 'us-west-2',
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidr: VPC_CIDR,
        subnetId: 'subnet-0123456789abcdef0',
        routeTableIds: TABLES,
        gateways: [GW],
        leaseName: LEASE.name,
        leaseNamespace: LEASE.namespace,
      }),
    ]);
    const info = new Promise<{ kubeconfig: string; ec2Url: string; imds: Record<string, string> }>((r) => child.once('message', (m) => r(m as never)));
    control = new IpcPeer(child, 'control plane');
    await control.ready;
    const cinfo = await info;
    const nodes = Array.from({ length: N }, (_, i) => scaleNode(i));

    watch = new KernelWatch(gw);
    await watch.start();
    watch.expect(expected(nodes));
    prober = new IpcPeer(run.spawnNode(gw, 'lab/scale/health-prober.ts', [JSON.stringify({ url: `http://${GW.ip}:8088/healthz`, everyMs: 200, timeoutMs: 2000 })]), 'prober');
    await prober.ready;

    spawnedAt = epoch();
    gateway = run.spawnNode(gw, 'runtime/main.ts', [], {
      NODE_IP: GW.ip,
      VPC_CIDR,
      POD_CIDRS,
      ROUTE_TABLE_IDS: TABLES.join(','),
      POD_NAME: GW.name,
      POD_NAMESPACE: LEASE.namespace,
      KUBECONFIG: cinfo.kubeconfig,
      AWS_ENDPOINT_URL_EC2: cinfo.ec2Url,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: cinfo.imds[GW.instanceId]!,
      AWS_ACCESS_KEY_ID: 'AKIDLABEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'lab-secret',
      METRICS_BIND_ADDRESS: `${GW.ip}:10080`,
      HEALTH_PROBE_BIND_ADDRESS: `${GW.ip}:8088`,
    });
    createInterface({ input: gateway.stdout! }).on('line', (l) => lines.push(l));
    // Leading (on an empty cluster) before the nodes arrive.
    for (const deadline = Date.now() + 30_000; ; ) {
      const w = (await ask<LeaseWrite[]>(control, { op: 'leaseWrites' })).filter((x) => x.holder === GW.name);
      if (w.length > 0) break;
      if (Date.now() > deadline) throw new Error(`gateway did not lead: ${stderrTail(gateway)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const listsBefore = (await ask<unknown[]>(control, { op: 'listRequests' })).length;
    await ask(control, { op: 'putNodes', nodes, expireWatches: true });
    const exited = new Promise<never>((_, reject) => gateway.once('exit', (code) => reject(new Error(`gateway exited (${code}): ${stderrTail(gateway)}`))));
    convergedAt = await Promise.race([watch.converged(150_000, spawnedAt), exited]);
    // Taken in through a list, not as watch events.
    expect((await ask<unknown[]>(control, { op: 'listRequests' })).length).toBeGreaterThan(listsBefore);
    // A few renewals more after the intake, so the record covers it with margin.
    await new Promise((r) => setTimeout(r, 2500));
  }, 240_000);

  afterAll(async () => {
    watch?.stop();
    await run?.teardown();
  }, 30_000);

  it('ends with exactly the nodes’ entries in its kernel', () => {
    console.info(`intake of ${N} nodes: start → kernel converged ${Math.round(convergedAt - spawnedAt)} ms (tsx, not the image's bundle)`);
    expect(convergedAt).toBeGreaterThan(spawnedAt);
    expect(watch.mismatches === 0 || watch.dumpMatches()).toBe(true);
  });

  it('held the lease throughout: one holder, renewed within the renew deadline every time, no step-down', async () => {
    const writes = (await ask<LeaseWrite[]>(control, { op: 'leaseWrites' })).filter((w) => w.atMs >= spawnedAt);
    const ours = writes.filter((w) => w.holder === GW.name);
    expect(ours.length).toBeGreaterThan(3);
    const others = writes.filter((w) => w.holder !== GW.name);
    expect(others, `writes by another holder or none: ${JSON.stringify(others)}; gateway said: ${lines.filter((l) => /lease|leader/i.test(l)).slice(-8).join(' | ')}`).toEqual([]);
    // From the first acquisition to the end of the intake and after it.
    expect(ours[0]!.atMs).toBeLessThan(convergedAt);
    expect(ours.at(-1)!.atMs).toBeGreaterThan(convergedAt);
    const gaps = ours.slice(1).map((w, i) => w.atMs - ours[i]!.atMs);
    expect(Math.max(...gaps), `renewal gaps ${gaps.map(Math.round).join(',')}`).toBeLessThan(RENEW_DEADLINE_MS);
    expect(new Set(ours.map((w) => w.transitions)).size).toBe(1);
    expect(lines.filter((l) => l.includes('no longer leader'))).toEqual([]);
  });

  it('answered every /healthz probe, and its event loop never stalled for a second (its own histogram)', async () => {
    const h = await ask<{ probes: number; failures: number; maxMs: number }>(prober, { op: 'report', fromMs: spawnedAt, toMs: epoch() });
    expect(h.probes).toBeGreaterThan(5);
    expect(h.failures).toBe(0);
    const metrics = await ask<{ status: number; body: string }>(prober, { op: 'get', url: `http://${GW.ip}:10080/metrics` });
    expect(metrics.status).toBe(200);
    const b = buckets(metrics.body, 'hybrid_gateway_event_loop_delay_seconds');
    // Each second's worst delay is one observation: none of them above one second.
    expect(b.get('+Inf')).toBeGreaterThanOrEqual(2);
    expect(b.get('1'), `event-loop delay buckets ${JSON.stringify([...b])}`).toBe(b.get('+Inf'));
    expect(lines.filter((l) => l.includes('the event loop was blocked'))).toEqual([]);
  });
});
