// Proof of forwarding through the gateway's data plane on the real kernel:
//
//   vpc ──veth── gw ══ underlay veth ══ hyb ──veth── pod
//   198.18.1.2   198.18.1.1 / NODE_IP   198.18.2.2   198.18.3.1 / 198.18.3.2
//                198.18.2.1             (plain Linux vxlan endpoint: VNI 2,
//                hybrid_vxlan0 via      port 8472, FDB/neighbour/route back to
//                effects/netlink        the gateway device's MAC and NODE_IP,
//                                       as Cilium's VTEP config does)
//
// A Node probe (node:dgram, node:net) in vpc talks to an echo server in pod
// and back. The MTU case: hybrid_vxlan0 gets MTU 1450 (NIC 1500 − 50); a
// datagram of exactly 1450 bytes of IP passes; a bigger one with DF set (the
// Linux default for UDP sockets) is refused by the gateway with ICMP
// "fragmentation needed", which vpc's kernel records as a path-MTU exception
// of 1450 for the pod's address (read with `ip -j route get`) and counts in
// /proc/net/snmp (Icmp InDestUnreachs); after that, the same datagram gets
// through in fragments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPlaneStats, DeviceInfo } from '../../effects/netlink/index.js';
import { vtepMacForNode } from '../../machines/domain/ipv4.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { createNetnsRun, type NetnsRun } from '../support/netns.js';
import { startDataPlane, startProbe, type Probe, type RemoteDataPlane } from '../support/netns-clients.js';

const NODE_IP = '198.18.2.1';
const HYB_IP = '198.18.2.2';
const VPC_IP = '198.18.1.2';
const POD_IP = '198.18.3.2';
const UDP_PORT = 7001;
const TCP_PORT = 7002;
const IP_UDP_HEADERS = 28;

let run: NetnsRun;
let ns: { vpc: string; gw: string; hyb: string; pod: string };
let dp: RemoteDataPlane;
let dev: DeviceInfo;
let vpcProbe: Probe;
let podProbe: Probe;
const hybrid: VtepSpec = { name: 'hyb-1', nodeIP: HYB_IP, mac: vtepMacForNode(HYB_IP), podCIDRs: ['198.18.3.0/24'] };

async function icmpDestUnreachIn(nsName: string): Promise<number> {
  const snmp = (await run.exec(nsName, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const [head, values] = snmp.map((l) => l.trim().split(/\s+/));
  const i = head?.indexOf('InDestUnreachs') ?? -1;
  return Number(values?.[i]);
}

async function pmtuTowardPod(): Promise<number | undefined> {
  const [r] = await run.ipJson<Array<{ metrics?: Array<{ mtu?: number }> }>>(ns.vpc, ['route', 'get', POD_IP]);
  return r?.metrics?.find((m) => m.mtu !== undefined)?.mtu;
}

beforeAll(async () => {
  run = createNetnsRun();
  try {
    ns = { vpc: await run.ns('vpc'), gw: await run.ns('gw'), hyb: await run.ns('hyb'), pod: await run.ns('pod') };
    await run.veth({ ns: ns.vpc, ifname: 'eth0', addr: `${VPC_IP}/24` }, { ns: ns.gw, ifname: 'v0', addr: '198.18.1.1/24' });
    await run.veth({ ns: ns.gw, ifname: 'u0', addr: `${NODE_IP}/24` }, { ns: ns.hyb, ifname: 'u0', addr: `${HYB_IP}/24` });
    await run.veth({ ns: ns.hyb, ifname: 'p0', addr: '198.18.3.1/24' }, { ns: ns.pod, ifname: 'eth0', addr: `${POD_IP}/24` });
    await run.ip(ns.vpc, ['route', 'add', 'default', 'via', '198.18.1.1']);
    await run.ip(ns.pod, ['route', 'add', 'default', 'via', '198.18.3.1']);
    for (const n of [ns.gw, ns.hyb]) await run.sysctl(n, 'net.ipv4.ip_forward', '1');
    // Strict reverse-path filtering on the gateway (as many distributions set it): the policy rule that
    // selects the gateway table also serves the reverse lookup of traffic coming out of the tunnel.
    await run.sysctl(ns.gw, 'net.ipv4.conf.all.rp_filter', '1');
    await run.sysctl(ns.hyb, 'net.ipv4.conf.all.rp_filter', '0');

    // The gateway: device and VTEP entries through the adapter under test.
    dp = await startDataPlane(run, ns.gw);
    dev = await dp.ensureDevice({ nodeIP: NODE_IP });
    await dp.ensureRules(['198.18.3.0/24']);
    await dp.programVtep(dev, hybrid, []);

    // The hybrid node: a plain Linux vxlan endpoint pointed back at the gateway.
    await run.ip(ns.hyb, ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '2', 'dstport', '8472', 'local', HYB_IP, 'dev', 'u0', 'nolearning']);
    await run.ip(ns.hyb, ['link', 'set', 'vx0', 'address', hybrid.mac, 'up']);
    await run.ip(ns.hyb, ['neigh', 'add', NODE_IP, 'lladdr', dev.mac, 'dev', 'vx0', 'nud', 'permanent']);
    await run.exec(ns.hyb, ['bridge', 'fdb', 'append', dev.mac, 'dev', 'vx0', 'dst', NODE_IP, 'self', 'permanent']);
    await run.ip(ns.hyb, ['route', 'add', '198.18.1.0/24', 'via', NODE_IP, 'dev', 'vx0', 'onlink']);

    podProbe = await startProbe(run, ns.pod);
    await podProbe.udpEcho(POD_IP, UDP_PORT);
    await podProbe.tcpEcho(POD_IP, TCP_PORT);
    vpcProbe = await startProbe(run, ns.vpc);
  } catch (err) {
    await run.teardown();
    throw err;
  }
});

afterAll(async () => {
  await vpcProbe?.stop();
  await podProbe?.stop();
  await dp?.stop();
  await run?.teardown();
});

describe('forwarding through hybrid_vxlan0', () => {
  it('is set up as the contract says (ip_forward on, device MTU 1450)', async () => {
    expect(await dp.ipForwardEnabled()).toBe(true);
    expect(dev.mtu).toBe(1450);
  });

  it('carries UDP from the VPC to a hybrid pod and back, and moves the counters', async () => {
    const before: DataPlaneStats = await dp.stats(dev);
    for (let i = 0; i < 5; i++) expect(await vpcProbe.udp(POD_IP, UDP_PORT, 200)).toEqual({ ok: true });
    const after: DataPlaneStats = await dp.stats(dev);
    expect(after.vxlan.txPackets - before.vxlan.txPackets).toBeGreaterThanOrEqual(5);
    expect(after.vxlan.rxPackets - before.vxlan.rxPackets).toBeGreaterThanOrEqual(5);
    expect(after.vxlan.txBytes - before.vxlan.txBytes).toBeGreaterThanOrEqual(5 * 228);
    expect(after.primary.txPackets - before.primary.txPackets).toBeGreaterThanOrEqual(5);
    expect(after.primary.rxBytes - before.primary.rxBytes).toBeGreaterThanOrEqual(5 * (228 + 50));
    expect(after).toMatchObject({ fdbEntries: 1, routeCount: 1, vxlanUp: true });
  });

  it('carries a TCP stream both ways', async () => {
    expect(await vpcProbe.tcp(POD_IP, TCP_PORT, 256 * 1024)).toEqual({ ok: true, bytes: 256 * 1024 });
  });

  it('passes a datagram of exactly the device MTU', async () => {
    const size = dev.mtu - IP_UDP_HEADERS;
    expect(await vpcProbe.udp(POD_IP, UDP_PORT, size)).toEqual({ ok: true });
    expect(await podProbe.received()).toContain(size);
  });

  it('answers an oversize DF datagram with ICMP frag-needed (PMTU 1450 learnt), then lets it through in fragments', async () => {
    const size = dev.mtu - IP_UDP_HEADERS + 1;
    // Forget what earlier tests (TCP) taught vpc about the path.
    await run.ip(ns.vpc, ['route', 'flush', 'cache']);
    await run.ip(ns.pod, ['route', 'flush', 'cache']);
    expect(await pmtuTowardPod()).toBeUndefined();
    const unreachBefore = await icmpDestUnreachIn(ns.vpc);
    const first = await vpcProbe.udp(POD_IP, UDP_PORT, size, 1000);
    expect(first.ok).toBe(false);
    expect(await podProbe.received()).not.toContain(size);
    expect(await icmpDestUnreachIn(ns.vpc)).toBeGreaterThan(unreachBefore);
    expect(await pmtuTowardPod()).toBe(dev.mtu);
    // Now vpc fragments; the pod's echo may itself need one PMTU round on the way back.
    let ok = false;
    for (let i = 0; i < 3 && !ok; i++) ok = (await vpcProbe.udp(POD_IP, UDP_PORT, size, 1000)).ok;
    expect(ok).toBe(true);
    expect(await podProbe.received()).toContain(size);
  });

  it('survives a gateway restart: the new process adopts the device and finds its entries in place', async () => {
    await dp.stop();
    expect(await vpcProbe.udp(POD_IP, UDP_PORT, 100)).toEqual({ ok: true }); // no process, kernel still forwards
    dp = await startDataPlane(run, ns.gw);
    const again = await dp.ensureDevice({ nodeIP: NODE_IP });
    expect(again).toMatchObject({ action: 'adopted', ifindex: dev.ifindex, mac: dev.mac });
    expect(await dp.reconcile(again, [hybrid])).toMatchObject({ added: [], removed: [], fixed: [], unchanged: 4 }); // route, nexthop, neighbour, FDB
    expect(await vpcProbe.udp(POD_IP, UDP_PORT, 100)).toEqual({ ok: true });
  });

  it('stops forwarding once the node is removed, and resumes after reprogramming', async () => {
    await dp.removeVtep(dev, hybrid);
    expect((await vpcProbe.udp(POD_IP, UDP_PORT, 100, 500)).ok).toBe(false);
    await dp.reconcile(dev, [hybrid]);
    expect(await vpcProbe.udp(POD_IP, UDP_PORT, 100)).toEqual({ ok: true });
  });
});
