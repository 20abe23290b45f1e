// Fault scenarios against the whole lab (real gateway processes, the real
// kernel VXLAN path, the Kubernetes/EC2 stand-ins, Cilium stand-ins, traffic
// probes), sharing one lab under its profile (realistic by default,
// LAB_PROFILE=ideal for comparison): each scenario starts from and ends in a
// converged lab (one leader; route tables, VPC router, CiliumVTEPConfig, every
// Cilium stand-in and both gateways' kernel entries correct; traffic both
// ways), so nothing is lost between them. Scenarios: stale kernel entries from
// a crashed run, a malformed CiliumNode among good ones, watch drop + 410, a
// hybrid node changing IP, a Kubernetes API outage of 10 s, an EC2 throttling
// storm during a node-loss failover, both gateways restarted at once. Every
// route write of the file is checked for a single writer holding the Lease.
// On the same lab (one lab start saved), before the faults: the MTUs as on AWS
// (VPC side 9001, the path to on-premises 1500, Cilium's device and route MTUs
// on the hybrid nodes), TCP bulk transfers both ways through the leader,
// path-MTU discovery through the gateway, an oversize DF datagram answered
// with "fragmentation needed" naming 1450, and the leader's cost while nothing
// changes (two drift periods with the Cilium stand-ins refreshing status),
// counted from the stand-ins' own request logs.
// Addresses: lab/addresses.ts (198.18.0.0/15 and TEST-NETs only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ciliumNode, gateway, GATEWAYS, nodeMacFor, POD_CIDRS, REGION, ROUTE_TABLE_IDS, type GatewayName } from '../../lab/addresses.js';
import { checkFragNeeded, checkTcpBulk, measureIdleCost, observedMtus, TCP_BULK_BYTES } from '../../lab/checks.js';
import { Lab, now, until, VXLAN_DEVICE } from '../../lab/lab.js';
import { createNetnsRun, type NetnsRun } from '../../lab/netns.js';
import { resolveLabProfile } from '../../lab/profile.js';
import { gatewayDeviceMac } from '../../lab/mac.js';
import { checkSingleWriter, leaderActive, sleep } from './helpers.js';

let run: NetnsRun;
let lab: Lab;
const ifindexBefore: Partial<Record<GatewayName, number>> = {};
const other = (g: GatewayName): GatewayName => (g === 'gw-a' ? 'gw-b' : 'gw-a');

/** The gateway's documented default VXLAN MTU (README, `VXLAN_MTU`): a 1500-byte path minus 50. */
const GATEWAY_VXLAN_MTU = 1450;
const profile = resolveLabProfile();

// A crashed earlier run's leftovers on hybrid_vxlan0, and what the gateway must remove.
const BOGUS = { ip: '203.0.113.200', cidr: '198.19.200.0/24' };

describe(`lab fault scenarios, MTUs and idle cost (${profile.name} profile)`, () => {
  beforeAll(async () => {
    run = createNetnsRun();
    lab = await Lab.create({ run, hybridNodes: 2 });
    // Stale kernel entries from a crashed run: the device as the gateway makes it, with entries nobody wants.
    for (const g of GATEWAYS) {
      const ns = lab.ns.gw[g.name];
      await run.ip(ns, ['link', 'add', VXLAN_DEVICE, 'type', 'vxlan', 'id', '2', 'dstport', '8472', 'local', g.ip, 'dev', 'eth0', 'nolearning']);
      await run.ip(ns, ['link', 'set', VXLAN_DEVICE, 'address', gatewayDeviceMac(g.ip), 'mtu', '1450', 'up']);
      await run.ip(ns, ['route', 'add', BOGUS.cidr, 'via', BOGUS.ip, 'dev', VXLAN_DEVICE, 'onlink']);
      await run.ip(ns, ['neigh', 'add', BOGUS.ip, 'lladdr', nodeMacFor(BOGUS.ip), 'dev', VXLAN_DEVICE, 'nud', 'permanent']);
      await run.exec(ns, ['bridge', 'fdb', 'append', nodeMacFor(BOGUS.ip), 'dev', VXLAN_DEVICE, 'dst', BOGUS.ip, 'self', 'permanent']);
      const links = await run.ipJson<Array<{ ifindex: number }>>(ns, ['link', 'show', VXLAN_DEVICE]);
      ifindexBefore[g.name] = links[0]!.ifindex;
    }
    // Malformed CiliumNodes among the good ones.
    await lab.ask({ op: 'put', plural: 'ciliumnodes', body: ciliumNode('bad-ip', 'not-an-ip', ['198.19.201.0/24']) });
    await lab.ask({ op: 'put', plural: 'ciliumnodes', body: ciliumNode('bad-cidr', '203.0.113.201', ['198.19.202.0/33']) });
    const noSpec = ciliumNode('no-spec', '203.0.113.202', []);
    delete noSpec.spec;
    // The CRD requires spec (the server answers 422); an object written under an older schema may still lack it.
    await lab.ask({ op: 'inject', plural: 'ciliumnodes', body: noSpec });
    for (const g of GATEWAYS) lab.startGateway(g.name);
    await lab.waitConverged(60_000);
    for (const n of lab.hybrid.values()) await lab.startTraffic(n);
  }, 120_000);

  afterAll(async () => {
    await lab?.teardown();
  }, 60_000);

  it('removes stale kernel entries of a crashed run (adopting the device) and skips malformed CiliumNodes', async () => {
    const c = await lab.converged();
    expect(c.problems).toEqual([]);
    for (const g of GATEWAYS) {
      const e = await lab.kernelEntries(g.name);
      expect(e.routes.some((r) => r.startsWith(BOGUS.cidr))).toBe(false);
      expect(e.fdb.some((f) => f.endsWith(BOGUS.ip))).toBe(false);
      expect(e.neigh.some((n) => n.startsWith(`${BOGUS.ip} `))).toBe(false);
      // Nothing of the malformed nodes was programmed (exact sets compared by converged() too).
      expect(e.routes.some((r) => /198\.19\.20[12]\./.test(r))).toBe(false);
      const links = await run.ipJson<Array<{ ifindex: number }>>(lab.ns.gw[g.name], ['link', 'show', VXLAN_DEVICE]);
      expect(links[0]!.ifindex).toBe(ifindexBefore[g.name]);
      expect(lab.running(g.name)).toBe(true);
      const metrics = (await lab.gatewayHttp(g.name, 10080, '/metrics')).body;
      expect(metrics).toMatch(/^hybrid_gateway_hybrid_nodes_configured 2$/m);
    }
  });

  it('doctor, run as gw-a (its namespace, its environment), finds every check passing against the lab: exit 0, no warning, no failure', async () => {
    // The malformed CiliumNodes served the test before; doctor rightly fails nodes.admissible on them.
    for (const name of ['bad-ip', 'bad-cidr', 'no-spec']) await lab.ask({ op: 'remove', plural: 'ciliumnodes', name });
    // The kubelet stand-in probes /readyz every 5 s (the chart's period): wait for both pods Ready.
    await until('both gateway pods Ready', async () => {
      const pods = await lab.ask<Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }>>({ op: 'list', plural: 'pods', namespace: 'kube-system' });
      const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 2 ? true : undefined;
    }, 20_000, 250);
    const env = Object.fromEntries(Object.entries(lab.gatewayEnv('gw-a')).filter(([k]) => /^(NODE_IP|VPC_CIDR|POD_CIDRS|ROUTE_TABLE_IDS|POD_NAME|POD_NAMESPACE|NODE_NAME|KUBECONFIG|AWS_|CLUSTER_NAME)/.test(k)));
    const child = run.spawnNode(lab.ns.gw['gw-a'], 'runtime/main.ts', ['doctor', '--output', 'json'], env);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const report = JSON.parse(out) as { checks: Array<{ name: string; status: string; saw: string }>; summary: Record<string, number> };
    expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(report.checks.length).toBe(15);
    expect(report.summary).toMatchObject({ pass: 15, warn: 0, fail: 0 });
    expect(code).toBe(0);
  }, 60_000);

  it('TCP bulk transfers (4 MiB each way) between the VPC pod and a hybrid pod complete, also when the hybrid pod’s MSS exceeds the VXLAN path (path-MTU discovery through the gateway)', async () => {
    const leader = await lab.waitConverged(30_000);
    const node = lab.hybrid.get('hyb-1')!;
    const { links, hybridPodRouteMtu } = await observedMtus(lab, leader, node);
    console.info(`MTUs (${profile.name}): ${JSON.stringify(links)}, hybrid pod route MTU ${hybridPodRouteMtu ?? 'none'}`);
    // The lab is built as the profile says (checked on the kernel, not on the lab's own options).
    expect(links['vpc-pod eth0']).toBe(profile.mtu.vpc);
    expect(links[`${leader} eth0`]).toBe(profile.mtu.vpc);
    expect(links['router vpc0']).toBe(profile.mtu.vpc);
    expect(links['router r-onprem']).toBe(profile.mtu.onprem);
    expect(links['hyb-1 eth0']).toBe(profile.mtu.onprem);
    expect(links['hyb-1 cilium_vxlan']).toBe(profile.mtu.ciliumVxlan);
    expect(hybridPodRouteMtu).toBe(profile.mtu.hybridPodRoute);
    expect(links[`${leader} ${VXLAN_DEVICE}`]).toBe(GATEWAY_VXLAN_MTU);

    const tcp = await checkTcpBulk(lab, node, TCP_BULK_BYTES);
    for (const t of tcp) console.info(`TCP ${t.variant} ${t.flow}: ${t.ok ? 'ok' : `FAILED (${t.error})`}, ${t.received}/${t.bytes} bytes back in ${t.ms.toFixed(0)} ms (${t.mbitPerS.toFixed(0)} Mbit/s both ways), gateway ICMP unreachables ${t.gatewayIcmpUnreachSent}, VPC pod PMTU ${t.vpcPodPmtu ?? 'none'}`);
    expect(tcp.map((t) => t.variant)).toEqual(['cilium-pod', 'cilium-pod', 'mss-above-path']);
    for (const t of tcp) {
      expect(t.error, t.flow).toBeUndefined();
      expect(t.received, t.flow).toBe(TCP_BULK_BYTES);
      expect(t.receivedSha256, t.flow).toBe(t.sentSha256);
      expect(t.ok, t.flow).toBe(true);
    }
    // With the hybrid pod's segments larger than hybrid_vxlan0 carries, the leader said so and the VPC pod's kernel learnt it.
    const pmtud = tcp[2]!;
    expect(pmtud.gatewayIcmpUnreachSent).toBeGreaterThan(0);
    expect(pmtud.vpcPodPmtu).toBe(GATEWAY_VXLAN_MTU);
  }, 120_000);

  it('an oversize datagram with DF set from the VPC pod gets ICMP "fragmentation needed" from the leader naming MTU 1450, and the VPC pod’s kernel keeps that PMTU', async () => {
    const leader = await lab.waitConverged(30_000);
    const icmp = await checkFragNeeded(lab, lab.hybrid.get('hyb-2')!, 1500);
    console.info(`DF ${icmp.packetBytes}-byte datagram: ${icmp.pingLine ?? 'no ICMP error seen'}; PMTU before ${icmp.kernelPmtuBefore ?? 'none'}, after ${icmp.kernelPmtuAfter ?? 'none'}`);
    expect(icmp.kernelPmtuBefore).toBeUndefined();
    expect(icmp.pingLine).toMatch(/Frag needed and DF set/);
    expect(icmp.from).toBe(gateway(leader).ip);
    expect(icmp.mtuSeen).toBe(GATEWAY_VXLAN_MTU);
    expect(icmp.kernelPmtuAfter).toBe(GATEWAY_VXLAN_MTU);
  }, 60_000);

  it('idle cost over two drift periods while Cilium refreshes status: no CiliumVTEPConfig write, at most one describe round per period, no route write, no throttling (from the stand-ins’ logs)', async () => {
    const idle = await measureIdleCost(lab, { periods: 2 });
    console.info(`idle cost (${profile.name}): ${JSON.stringify(idle)}`);
    expect(idle.sameLeader).toBe(true);
    // Something did change meanwhile: the Cilium stand-ins rewrote status (lastSyncTime moved), as Cilium does.
    expect(idle.ciliumStatusWrites).toBeGreaterThan(0);
    expect(idle.lastSyncAdvancedMs).toBeGreaterThanOrEqual(idle.driftPeriodMs);
    expect(idle.generation.after).toBe(idle.generation.before);
    // What the leader cost.
    expect(idle.crWrites).toBe(0);
    expect(idle.routeWrites).toBe(0);
    expect(idle.throttled).toBe(0);
    expect(idle.describeRounds).toBeGreaterThanOrEqual(1); // it does re-assert (drift repair), …
    expect(idle.describeRounds).toBeLessThanOrEqual(2); // … once per period
    expect(idle.ec2Calls.DescribeRouteTables ?? 0).toBeLessThanOrEqual(2 * ROUTE_TABLE_IDS.length);
    expect(idle.standbyEc2Calls).toBe(0);
  }, 120_000);

  it('watch drop + 410: a node registered and one removed while the watches are down reach both gateways', async () => {
    const extra = await lab.addHybridNode(3, false);
    type Req = { method: string; path: string; watch: boolean; atMs: number; remoteAddress?: string };
    const t0 = now();
    // In one step: history compacted past every watcher's resourceVersion, every watch ended, so
    // each resume answers 410 (re-list). (Compacting alone is not enough: a watcher whose last
    // bookmark carried the newest resourceVersion resumes legitimately, which made this flaky.)
    await lab.ask({ op: 'expireWatches' });
    await lab.registerHybridNode(extra.name);
    await lab.waitConverged(30_000);
    // A dropped watch alone resumes from its resourceVersion; only the 410 makes a gateway list CiliumNodes again.
    const relists = (await lab.ask<Req[]>({ op: 'kubeRequests' })).filter((r) => r.atMs >= t0 && r.method === 'GET' && !r.watch && r.path === '/apis/cilium.io/v2/ciliumnodes');
    for (const g of GATEWAYS) expect(relists.filter((r) => r.remoteAddress === g.ip).length, `${g.name} re-listed`).toBeGreaterThanOrEqual(1);
    await lab.ask({ op: 'expireWatches' });
    await lab.unregisterHybridNode(extra.name);
    await lab.waitConverged(30_000);
    for (const g of GATEWAYS) expect((await lab.kernelEntries(g.name)).routes.some((r) => r.startsWith(extra.podCidr))).toBe(false);
  }, 60_000);

  it('a hybrid node changing IP: old entries go, new ones come, on both gateways; traffic follows', async () => {
    const oldIp = lab.hybrid.get('hyb-1')!.ip;
    const moved = await lab.changeHybridNodeIp('hyb-1', '203.0.113.111');
    await lab.waitConverged(30_000);
    for (const g of GATEWAYS) {
      const e = await lab.kernelEntries(g.name);
      expect(e.routes).toContain(`${moved.podCidr} via 203.0.113.111`);
      expect(e.fdb.some((f) => f.endsWith(` dst ${oldIp}`))).toBe(false);
      expect(e.neigh.some((n) => n.startsWith(`${oldIp} `))).toBe(false);
    }
  }, 60_000);

  it('Kubernetes API outage of 10 s: the leader steps down, the data plane stays on both gateways and forwards; one leader afterwards', async () => {
    const leader = await lab.waitConverged(30_000);
    const want = lab.desiredEntries();
    const outageStarts = now();
    await lab.ask({ op: 'kubeOutage', ms: 10_000 });
    const outageEnds = Date.now() + 10_000;
    // The leader cannot renew within its deadline: it stops leading (fenced) while the API is still down.
    await until(`${leader} to step down`, async () => ((await leaderActive(lab, leader)) === 0 ? true : undefined), 9000, 200);
    expect(Date.now()).toBeLessThan(outageEnds);
    expect(await leaderActive(lab, other(leader))).toBe(0);
    for (const g of GATEWAYS) {
      expect(lab.running(g.name)).toBe(true);
      const e = await lab.kernelEntries(g.name);
      expect(e).toEqual(want);
    }
    // Routes still point at the old leader's node and its kernel still forwards: traffic flows during the outage.
    await sleep(Math.max(0, outageEnds - Date.now()));
    const during = await lab.flowReports(outageStarts);
    console.info(`flows during the API outage: ${JSON.stringify(during)}`);
    for (const [flow, r] of Object.entries(during)) {
      expect(r.ok, flow).toBeGreaterThan(0);
      expect(r.windows, flow).toEqual([]);
    }
    await lab.waitConverged(30_000);
  }, 60_000);

  it('EC2 throttling storm during a node-loss failover: the new leader gets every route through; nothing lost', async () => {
    const leader = await lab.waitConverged(30_000);
    const next = other(leader);
    const ROUTE_ACTIONS = ['DescribeRouteTables', 'CreateRoute', 'ReplaceRoute'];
    const callsBefore = (await lab.ask<unknown[]>({ op: 'ec2CallLog' })).length;
    // The first 6 route calls are throttled for sure, then 60 % of them, with a tiny token bucket on top.
    await lab.ec2Fault({ kind: 'failNext', count: 6, failure: { code: 'RequestLimitExceeded', actions: ROUTE_ACTIONS } });
    await lab.ec2Fault({ kind: 'fail', failure: { code: 'RequestLimitExceeded', actions: ROUTE_ACTIONS }, probability: 0.6 });
    await lab.ec2Fault({ kind: 'tokenBuckets', spec: { mutating: { capacity: 2, refillPerSecond: 1 }, describe: { capacity: 5, refillPerSecond: 2 } } });
    try {
      await lab.nodeLoss(leader);
      await until(`${next} to hold the lease`, async () => ((await lab.lease()).holder === next ? true : undefined), 20_000);
      // The storm goes on while the new leader repoints: wait until it has been throttled repeatedly.
      const throttled = await until(
        'the new leader to be throttled',
        async () => {
          const calls = (await lab.ask<Array<{ code?: string; accessKeyId?: string }>>({ op: 'ec2CallLog' })).slice(callsBefore);
          const n = calls.filter((c) => c.code === 'RequestLimitExceeded' && c.accessKeyId === gateway(next).accessKeyId).length;
          return n >= 6 ? n : undefined;
        },
        20_000,
        200,
      );
      expect(throttled).toBeGreaterThanOrEqual(6);
      await sleep(2000);
      await lab.ec2Fault({ kind: 'reset' });
      // Converged with the old leader's node still lost: the new leader carries everything alone.
      expect(await lab.waitConverged(40_000)).toBe(next);
      expect(lab.running(next)).toBe(true);
    } finally {
      await lab.ec2Fault({ kind: 'reset' });
      if (lab.gateways[leader].down) await lab.restoreNode(leader);
    }
    await lab.waitConverged(40_000);
  }, 120_000);

  it('both gateways restarted at once: one leader again, entries and traffic intact', async () => {
    const before = (await lab.lease()).transitions;
    await Promise.all(GATEWAYS.map((g) => lab.signalGateway(g.name, 'SIGKILL')));
    for (const g of GATEWAYS) lab.startGateway(g.name);
    const leader = await lab.waitConverged(40_000);
    expect(GATEWAYS.map((g) => g.name)).toContain(leader);
    expect((await lab.lease()).transitions).toBeGreaterThanOrEqual(before);
    for (const g of GATEWAYS) await lab.waitReady(g.name);
  }, 60_000);

  it('all along: every route write came from the Lease holder, within its lease', async () => {
    const check = await checkSingleWriter(lab);
    expect(check.writes).toBeGreaterThan(0);
    expect(check.violations).toEqual([]);
  });

  it('the single-writer check catches a route write by a gateway that does not hold the Lease', async () => {
    const leader = await lab.waitConverged(30_000);
    const rogue = gateway(other(leader));
    // A ReplaceRoute signed with the standby's key, pointing the table at the standby (as a split brain would).
    const body = new URLSearchParams({ Action: 'ReplaceRoute', Version: '2016-11-15', RouteTableId: ROUTE_TABLE_IDS[1], DestinationCidrBlock: POD_CIDRS, NetworkInterfaceId: rogue.eni });
    const auth = `AWS4-HMAC-SHA256 Credential=${rogue.accessKeyId}/20260101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=00`;
    const script = `fetch(process.argv[1],{method:'POST',headers:{'content-type':'application/x-www-form-urlencoded',authorization:process.argv[2]},body:process.argv[3]}).then(r=>process.stdout.write(String(r.status)))`;
    const out = await run.exec(lab.ns.ctl, [process.execPath, '-e', script, lab.info.ec2Url, auth, body.toString()]);
    expect(out.stdout).toBe('200');
    const check = await checkSingleWriter(lab);
    expect(check.violations).toHaveLength(1);
    expect(check.violations[0]).toContain(`${rogue.name} wrote ${ROUTE_TABLE_IDS[1]} while the Lease named ${leader}`);
    // The leader repairs the drift (it re-asserts its routes periodically).
    await lab.waitConverged(40_000);
  }, 60_000);
});
