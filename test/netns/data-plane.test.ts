// effects/netlink on the real kernel, inside namespaces made for this file.
// The adapter runs in a worker inside the "gw" namespace; the test checks the
// kernel with `ip -j` / `bridge -j`.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deviceMacFor, type DeviceInfo } from '../../effects/netlink/index.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { vtepMacForNode } from '../../machines/domain/ipv4.js';
import { createNetnsRun, type NetnsRun } from '../support/netns.js';
import { startDataPlane, type RemoteDataPlane } from '../support/netns-clients.js';

const NODE_IP = '198.18.2.1';
const DEV = 'hybrid_vxlan0';

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address: string;
  linkinfo?: { info_kind: string; info_data?: Record<string, unknown> };
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  flags: string[];
  protocol?: string;
}
interface IpNeigh {
  dst: string;
  lladdr?: string;
  state: string[];
}
interface Fdb {
  mac: string;
  dst?: string;
  flags: string[];
  state?: string;
}

function spec(name: string, nodeIP: string, podCIDRs: string[]): VtepSpec {
  return { name, nodeIP, mac: vtepMacForNode(nodeIP), podCIDRs };
}

let run: NetnsRun;
let gw: string;
let peer: string;
let dp: RemoteDataPlane;

async function link(name = DEV): Promise<IpLink> {
  const [l] = await run.ipJson<IpLink[]>(gw, ['-d', 'link', 'show', name]);
  if (l === undefined) throw new Error(`${name} not found`);
  return l;
}
/** The gateway's table (HYBRID_ROUTE_TABLE). */
const TABLE = '8472';
// `table all`: naming an empty table is an error ("FIB table does not exist"). The main table's routes carry no `table`.
const allRoutes = async (): Promise<Array<IpRoute & { table?: string }>> => run.ipJson<Array<IpRoute & { table?: string }>>(gw, ['-4', 'route', 'show', 'table', 'all', 'dev', DEV]);
const routes = async (): Promise<IpRoute[]> => (await allRoutes()).filter((r) => r.table === TABLE);
const mainRoutes = async (): Promise<IpRoute[]> => (await allRoutes()).filter((r) => r.table === undefined || r.table === 'main');
const neighs = async (): Promise<IpNeigh[]> => run.ipJson<IpNeigh[]>(gw, ['-4', 'neigh', 'show', 'dev', DEV]);
const fdbs = async (): Promise<Fdb[]> => run.bridgeJson<Fdb[]>(gw, ['fdb', 'show', 'dev', DEV]);
const routeSet = async (): Promise<string[]> => (await routes()).map((r) => `${r.dst} via ${r.gateway ?? '-'}${r.flags.includes('onlink') ? ' onlink' : ''}`).sort();
const neighSet = async (): Promise<string[]> =>
  (await neighs()).map((n) => `${n.dst} ${n.lladdr ?? '-'} ${n.state.includes('PERMANENT') ? 'permanent' : n.state.join(',')}`).sort();
const fdbSet = async (): Promise<string[]> =>
  (await fdbs()).map((f) => `${f.mac} ${f.dst ?? '-'} ${f.flags.includes('self') ? 'self' : ''} ${f.state ?? ''}`.trim()).sort();

async function freshDevice(): Promise<DeviceInfo> {
  await run.ip(gw, ['link', 'del', DEV]).catch(() => undefined);
  return dp.ensureDevice({ nodeIP: NODE_IP });
}

beforeAll(async () => {
  run = createNetnsRun();
  try {
    gw = await run.ns('gw');
    peer = await run.ns('peer');
    await run.veth({ ns: gw, ifname: 'u0', addr: `${NODE_IP}/24` }, { ns: peer, ifname: 'u0', addr: '198.18.2.2/24' });
    await run.veth({ ns: gw, ifname: 'u1', addr: '198.18.4.1/24', mtu: 9000 }, { ns: peer, ifname: 'u1', addr: '198.18.4.2/24', mtu: 9000 });
    dp = await startDataPlane(run, gw);
  } catch (err) {
    await run.teardown();
    throw err;
  }
});

afterAll(async () => {
  await dp?.stop();
  await run?.teardown();
});

describe('device lifecycle', () => {
  it('creates hybrid_vxlan0 with the contract parameters: VNI 2, port 8472, local NODE_IP, NIC, nolearning, MTU-50, up, derived MAC, no IPv4', async () => {
    const dev = await freshDevice();
    expect(dev.action).toBe('created');
    expect(dev).toMatchObject({ name: DEV, mtu: 1450, vni: 2, port: 8472, nodeIP: NODE_IP, up: true, mac: deviceMacFor(NODE_IP) });
    expect(dev.underlay).toMatchObject({ name: 'u0', mtu: 1500 });
    const l = await link();
    expect(l.ifindex).toBe(dev.ifindex);
    expect(l.mtu).toBe(1450);
    expect(l.address).toBe(deviceMacFor(NODE_IP));
    expect(l.flags).toContain('UP');
    expect(l.linkinfo?.info_kind).toBe('vxlan');
    expect(l.linkinfo?.info_data).toMatchObject({ id: 2, port: 8472, local: NODE_IP, link: 'u0', learning: false });
    const addrs = await run.ipJson<Array<{ addr_info: Array<{ family: string }> }>>(gw, ['addr', 'show', 'dev', DEV]);
    expect(addrs[0]?.addr_info.filter((a) => a.family === 'inet')).toEqual([]);
  });

  it('honours a configured VNI (dual-stack clusters use 9)', async () => {
    await run.ip(gw, ['link', 'del', DEV]).catch(() => undefined);
    const dev = await dp.ensureDevice({ nodeIP: NODE_IP, vni: 9 });
    expect(dev.vni).toBe(9);
    expect((await link()).linkinfo?.info_data).toMatchObject({ id: 9 });
    const back = await dp.ensureDevice({ nodeIP: NODE_IP });
    expect(back.action).toBe('recreated');
    expect((await link()).linkinfo?.info_data).toMatchObject({ id: 2 });
  });

  it('adopts a correct device and keeps its entries', async () => {
    const dev = await freshDevice();
    await dp.programVtep(dev, spec('n1', '198.18.20.1', ['198.18.100.0/29']), []);
    const again = await dp.ensureDevice({ nodeIP: NODE_IP });
    expect(again.action).toBe('adopted');
    expect(again.changes).toEqual([]);
    expect(again.ifindex).toBe(dev.ifindex);
    expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.1 onlink']);
    expect(await fdbSet()).toEqual([`${vtepMacForNode('198.18.20.1')} 198.18.20.1 self permanent`]);
  });

  it('fixes MTU, MAC and down state in place, keeping the device and its entries', async () => {
    const dev = await freshDevice();
    await dp.programVtep(dev, spec('n1', '198.18.20.1', ['198.18.100.0/29']), []);
    await run.ip(gw, ['link', 'set', DEV, 'down']);
    await run.ip(gw, ['link', 'set', DEV, 'mtu', '1300', 'address', '02:00:00:00:00:99']);
    const fixed = await dp.ensureDevice({ nodeIP: NODE_IP });
    expect(fixed.action).toBe('fixed');
    expect(fixed.ifindex).toBe(dev.ifindex);
    expect(fixed.changes.join(' ')).toMatch(/mtu 1300→1450/);
    expect(fixed.changes.join(' ')).toMatch(/mac 02:00:00:00:00:99→/);
    expect(fixed.changes).toContain('down→up');
    const l = await link();
    expect([l.mtu, l.address, l.flags.includes('UP')]).toEqual([1450, deviceMacFor(NODE_IP), true]);
    expect(await fdbSet()).toEqual([`${vtepMacForNode('198.18.20.1')} 198.18.20.1 self permanent`]);
    // Neighbour and route went down with the link state; reconcile restores them.
    const r = await dp.reconcile(fixed, [spec('n1', '198.18.20.1', ['198.18.100.0/29'])]);
    expect(r.failed).toEqual([]);
    expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.1 onlink']);
  });

  it.each([
    ['wrong VNI', ['type', 'vxlan', 'id', '5', 'dstport', '8472', 'local', NODE_IP, 'dev', 'u0', 'nolearning'], /vni 5≠2/],
    ['wrong port', ['type', 'vxlan', 'id', '2', 'dstport', '4789', 'local', NODE_IP, 'dev', 'u0', 'nolearning'], /port 4789≠8472/],
    ['learning on', ['type', 'vxlan', 'id', '2', 'dstport', '8472', 'local', NODE_IP, 'dev', 'u0', 'learning'], /learning on/],
    ['wrong local', ['type', 'vxlan', 'id', '2', 'dstport', '8472', 'local', '198.18.4.1', 'dev', 'u0', 'nolearning'], /local 198\.18\.4\.1≠/],
    ['wrong underlay', ['type', 'vxlan', 'id', '2', 'dstport', '8472', 'local', NODE_IP, 'dev', 'u1', 'nolearning'], /dev \d+≠/],
    ['not vxlan at all', ['type', 'bridge'], /kind bridge≠vxlan/],
  ])('recreates a device with %s', async (_what, args, reason) => {
    await run.ip(gw, ['link', 'del', DEV]).catch(() => undefined);
    await run.ip(gw, ['link', 'add', DEV, ...args]);
    const before = await link();
    const dev = await dp.ensureDevice({ nodeIP: NODE_IP });
    expect(dev.action).toBe('recreated');
    expect(dev.changes.join(', ')).toMatch(reason);
    const l = await link();
    expect(l.ifindex).not.toBe(before.ifindex);
    expect(l.linkinfo?.info_data).toMatchObject({ id: 2, port: 8472, local: NODE_IP, link: 'u0', learning: false });
    expect(l.mtu).toBe(1450);
  });

  it('keeps MTU 1450 on a jumbo NIC (9000) unless told otherwise, and takes a larger one it is given', async () => {
    await run.ip(gw, ['addr', 'add', '198.18.4.9/24', 'dev', 'u1']);
    try {
      await run.ip(gw, ['link', 'del', DEV]).catch(() => undefined);
      const dev = await dp.ensureDevice({ nodeIP: '198.18.4.9' });
      expect(dev.underlay).toMatchObject({ name: 'u1', mtu: 9000 });
      expect(dev.mtu).toBe(1450);
      const jumbo = await dp.ensureDevice({ nodeIP: '198.18.4.9', mtu: 8950 });
      expect([jumbo.action, jumbo.changes.join(' '), jumbo.mtu]).toEqual(['fixed', 'mtu 1450→8950', 8950]);
      expect((await link()).mtu).toBe(8950);
    } finally {
      await run.ip(gw, ['addr', 'del', '198.18.4.9/24', 'dev', 'u1']);
      await run.ip(gw, ['link', 'del', DEV]).catch(() => undefined);
    }
  });

  it('refuses a VXLAN MTU the NIC cannot carry, naming both MTUs and the option', async () => {
    await run.ip(gw, ['link', 'del', DEV]).catch(() => undefined);
    await expect(dp.ensureDevice({ nodeIP: NODE_IP, mtu: 1451 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/VXLAN MTU 1451 needs MTU 1501 on u0, the link holding NODE_IP, which has 1500: lower --vxlan-mtu \(VXLAN_MTU\) to at most 1450/) as unknown,
    });
    expect(await run.ip(gw, ['link', 'show', DEV]).then(() => 'exists', () => 'absent')).toBe('absent');
    await dp.ensureDevice({ nodeIP: NODE_IP });
  });

  it('gives a clear error when NODE_IP is on no link', async () => {
    await expect(dp.ensureDevice({ nodeIP: '198.18.9.9' })).rejects.toMatchObject({
      code: 'EADDRNOTAVAIL',
      message: expect.stringMatching(/NODE_IP 198\.18\.9\.9 is on no link/) as unknown,
    });
  });

  it('refuses bad input with BAD_INPUT before touching the kernel', async () => {
    await expect(dp.ensureDevice({ nodeIP: '198.18.2' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(dp.ensureDevice({ nodeIP: NODE_IP, vni: 0 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(dp.ensureDevice({ nodeIP: NODE_IP, port: 70000 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(dp.ensureDevice({ nodeIP: NODE_IP, name: 'a-name-far-too-long' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const dev = await freshDevice();
    await expect(dp.programVtep(dev, spec('bad', '198.18.20.1', ['198.18.100.1/29']), [])).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/host bits/) as unknown,
    });
    await expect(dp.programVtep(dev, { ...spec('bad', '198.18.20.1', []), mac: 'zz:00:00:00:00:00' }, [])).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(
      dp.reconcile(dev, [spec('a', '198.18.20.1', ['198.18.100.0/29']), spec('b', '198.18.20.2', ['198.18.100.0/29'])]),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/two nodes/) as unknown });
    expect(await routeSet()).toEqual([]);
  });

  it('maps kernel refusals to typed errors (ENODEV for a device that is gone)', async () => {
    const dev = await freshDevice();
    await run.ip(gw, ['link', 'del', DEV]);
    await expect(dp.programVtep(dev, spec('n1', '198.18.20.1', ['198.18.100.0/29']), [])).rejects.toMatchObject({
      code: 'ENODEV',
      retryable: false,
    });
  });

  it('reports ip_forward of its own namespace', async () => {
    await run.sysctl(gw, 'net.ipv4.ip_forward', '0');
    expect(await dp.ipForwardEnabled()).toBe(false);
    await run.sysctl(gw, 'net.ipv4.ip_forward', '1');
    expect(await dp.ipForwardEnabled()).toBe(true);
  });
});

describe('VTEP entries', () => {
  let dev: DeviceInfo;
  beforeEach(async () => {
    dev = await freshDevice();
  });

  it('programs a route per pod CIDR (onlink), a permanent neighbour and a self/permanent FDB entry; idempotently', async () => {
    const s = spec('hyb-1', '198.18.20.1', ['198.18.100.0/29', '198.18.100.8/29', '198.18.101.0/24']);
    const res = await dp.programVtep(dev, s, []);
    // FDB, neighbour, the node's nexthop, three routes through it.
    expect(res.applied).toHaveLength(6);
    const want = {
      routes: ['198.18.100.0/29 via 198.18.20.1 onlink', '198.18.100.8/29 via 198.18.20.1 onlink', '198.18.101.0/24 via 198.18.20.1 onlink'],
      neigh: [`198.18.20.1 ${s.mac} permanent`],
      fdb: [`${s.mac} 198.18.20.1 self permanent`],
    };
    expect(await routeSet()).toEqual(want.routes);
    expect(await neighSet()).toEqual(want.neigh);
    expect(await fdbSet()).toEqual(want.fdb);
    await dp.programVtep(dev, s, []);
    await dp.programVtep(dev, s, [s]);
    expect(await routeSet()).toEqual(want.routes);
    expect(await neighSet()).toEqual(want.neigh);
    expect(await fdbSet()).toEqual(want.fdb);
  });

  it('converges a node IP change without leftovers', async () => {
    const old = spec('hyb-1', '198.18.20.1', ['198.18.100.0/29', '198.18.100.8/29']);
    const neu = spec('hyb-1', '198.18.20.7', ['198.18.100.0/29', '198.18.100.8/29']);
    await dp.programVtep(dev, old, []);
    const res = await dp.programVtep(dev, neu, [old]);
    expect(res.removed).toEqual(
      expect.arrayContaining([
        { kind: 'neighbour', ip: '198.18.20.1', mac: old.mac },
        { kind: 'fdb', mac: old.mac, dst: '198.18.20.1' },
      ]),
    );
    expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.7 onlink', '198.18.100.8/29 via 198.18.20.7 onlink']);
    expect(await neighSet()).toEqual([`198.18.20.7 ${neu.mac} permanent`]);
    expect(await fdbSet()).toEqual([`${neu.mac} 198.18.20.7 self permanent`]);
  });

  it('converges a pod CIDR change without leftovers', async () => {
    const old = spec('hyb-1', '198.18.20.1', ['198.18.100.0/29', '198.18.100.8/29']);
    const neu = spec('hyb-1', '198.18.20.1', ['198.18.100.8/29', '198.18.100.16/29']);
    await dp.programVtep(dev, old, []);
    const res = await dp.programVtep(dev, neu, [old]);
    expect(res.removed).toEqual([{ kind: 'route', dst: '198.18.100.0/29', via: '198.18.20.1' }]);
    expect(await routeSet()).toEqual(['198.18.100.16/29 via 198.18.20.1 onlink', '198.18.100.8/29 via 198.18.20.1 onlink']);
    expect(await neighSet()).toEqual([`198.18.20.1 ${old.mac} permanent`]);
  });

  it('does not remove a dropped CIDR that another node took over meanwhile', async () => {
    const a = spec('a', '198.18.20.1', ['198.18.100.0/29']);
    const b = spec('b', '198.18.20.2', ['198.18.100.0/29']);
    await dp.programVtep(dev, a, []);
    await dp.programVtep(dev, b, []);
    await dp.programVtep(dev, { ...a, podCIDRs: [] }, [a]);
    expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.2 onlink']);
  });

  // An InternalIP handed from one CiliumNode to another: both nodes' entries are keyed by it (nexthop id,
  // neighbour, FDB MAC). The fleet may program the new owner before the old one's removal or leftover
  // cleanup runs (found by test/runtime/hostile-nodes.test.ts); that must not take the new owner's entries.
  describe('an IP another node was programmed with since', () => {
    const X = '198.18.20.1';
    const a = spec('a', X, ['198.18.100.0/29']);
    const b = spec('b', X, ['198.18.100.8/29']);
    const holdsB = async (): Promise<void> => {
      expect(await routeSet()).toEqual(['198.18.100.8/29 via 198.18.20.1 onlink']);
      expect(await neighSet()).toEqual([`${X} ${b.mac} permanent`]);
      expect(await fdbSet()).toEqual([`${b.mac} ${X} self permanent`]);
    };

    it('removing the old node takes only its own routes', async () => {
      await dp.programVtep(dev, a, []);
      await dp.programVtep(dev, b, []);
      await dp.removeVtep(dev, a);
      await holdsB();
      // The owner's own removal takes everything.
      await dp.removeVtep(dev, b);
      expect([await routeSet(), await neighSet(), await fdbSet()]).toEqual([[], [], []]);
    });

    it('the old node moving to another IP cleans only its own leftovers', async () => {
      await dp.programVtep(dev, a, []);
      await dp.programVtep(dev, b, []);
      const moved = spec('a', '198.18.20.2', ['198.18.100.0/29']);
      await dp.programVtep(dev, moved, [a]);
      expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.2 onlink', '198.18.100.8/29 via 198.18.20.1 onlink']);
      expect(await neighSet()).toEqual([`${X} ${b.mac} permanent`, `198.18.20.2 ${moved.mac} permanent`]);
      expect(await fdbSet()).toEqual([`${moved.mac} 198.18.20.2 self permanent`, `${b.mac} ${X} self permanent`].sort());
    });

    it('a node renamed (same IP and pod CIDRs): removing the old name leaves them', async () => {
      const renamed = spec('b', X, ['198.18.100.0/29']);
      await dp.programVtep(dev, a, []);
      await dp.programVtep(dev, renamed, []);
      await dp.removeVtep(dev, a);
      expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.1 onlink']);
      expect(await neighSet()).toEqual([`${X} ${a.mac} permanent`]);
    });

    it('the same, programmed and removed in one batch', async () => {
      await dp.programVtep(dev, a, []);
      await Promise.all([dp.programVtep(dev, b, []), dp.removeVtep(dev, a)]);
      await holdsB();
    });

    it('two removals naming one IP in one batch: the second sees the nexthop the first deleted (no EINVAL)', async () => {
      await dp.programVtep(dev, a, []);
      // b was never written here: its removal is a leftover's (an actor removing every spec it may have left).
      await Promise.all([dp.removeVtep(dev, a), dp.removeVtep(dev, b)]);
      expect([await routeSet(), await neighSet(), await fdbSet()]).toEqual([[], [], []]);
    });

    it('a bulk reconcile makes its desired set the owners', async () => {
      await dp.programVtep(dev, a, []);
      await dp.reconcile(dev, [b]);
      await dp.removeVtep(dev, a);
      await holdsB();
    });
  });

  it('removes all three (the FDB delete names the MAC), idempotently', async () => {
    const s = spec('hyb-1', '198.18.20.1', ['198.18.100.0/29', '198.18.100.8/29']);
    const other = spec('hyb-2', '198.18.20.2', ['198.18.100.16/29']);
    await dp.programVtep(dev, s, []);
    await dp.programVtep(dev, other, []);
    const removed = await dp.removeVtep(dev, s);
    expect(removed).toHaveLength(5);
    expect(await routeSet()).toEqual(['198.18.100.16/29 via 198.18.20.2 onlink']);
    expect(await neighSet()).toEqual([`198.18.20.2 ${other.mac} permanent`]);
    expect(await fdbSet()).toEqual([`${other.mac} 198.18.20.2 self permanent`]);
    expect(await dp.removeVtep(dev, s)).toEqual([]);
  });

  it('refuses every write once the caller has aborted (fencing), leaving the kernel as it was', async () => {
    const s = spec('hyb-1', '198.18.20.1', ['198.18.100.0/29']);
    await expect(dp.callRaw('programVtep', [dev, s, [], { aborted: true }])).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(dp.callRaw('reconcile', [dev, [s], { aborted: true }])).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await routeSet()).toEqual([]);
    await dp.programVtep(dev, s, []);
    await expect(dp.callRaw('removeVtep', [dev, s, { aborted: true }])).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.1 onlink']);
    await run.ip(gw, ['link', 'set', DEV, 'mtu', '1400']);
    await expect(dp.callRaw('ensureDevice', [{ nodeIP: NODE_IP, aborted: true }])).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await link()).mtu).toBe(1400);
  });

  it('counts entries and link state in stats', async () => {
    await dp.programVtep(dev, spec('hyb-1', '198.18.20.1', ['198.18.100.0/29', '198.18.100.8/29']), []);
    await dp.programVtep(dev, spec('hyb-2', '198.18.20.2', ['198.18.100.16/29']), []);
    const st = await dp.stats(dev);
    expect(st).toMatchObject({ fdbEntries: 2, routeCount: 3, vxlanUp: true });
    expect(st.vxlan.name).toBe(DEV);
    expect(st.primary.name).toBe('u0');
    expect(typeof st.primary.rxBytes).toBe('number');
    await run.ip(gw, ['link', 'set', DEV, 'down']);
    expect((await dp.stats(dev)).vxlanUp).toBe(false);
  });
});

describe('reconcile', () => {
  const nodes = [
    spec('hyb-1', '198.18.20.1', ['198.18.100.0/29']),
    spec('hyb-2', '198.18.20.2', ['198.18.100.8/29', '198.18.100.64/26']),
    spec('hyb-3', '198.18.20.3', ['198.18.100.16/29']),
  ];
  const wantRoutes = [
    '198.18.100.0/29 via 198.18.20.1 onlink',
    '198.18.100.16/29 via 198.18.20.3 onlink',
    '198.18.100.64/26 via 198.18.20.2 onlink',
    '198.18.100.8/29 via 198.18.20.2 onlink',
  ];
  const wantNeigh = nodes.map((n) => `${n.nodeIP} ${n.mac} permanent`).sort();
  const wantFdb = nodes.map((n) => `${n.mac} ${n.nodeIP} self permanent`).sort();

  it('programs everything from empty, then finds nothing to do', async () => {
    const dev = await freshDevice();
    const first = await dp.reconcile(dev, nodes);
    expect(first).toMatchObject({ removed: [], fixed: [], unchanged: 0, failed: [] });
    expect(first.added).toHaveLength(4 + 3 + 3 + 3);
    expect(await routeSet()).toEqual(wantRoutes);
    expect(await neighSet()).toEqual(wantNeigh);
    expect(await fdbSet()).toEqual(wantFdb);
    const second = await dp.reconcile(dev, nodes);
    expect(second).toEqual({ added: [], removed: [], fixed: [], unchanged: 13, failed: [] });
  });

  it('removes stale entries, restores deleted ones, fixes edited ones, and leaves kernel-owned entries alone', async () => {
    const dev = await freshDevice();
    await dp.reconcile(dev, nodes);
    // Stale: a crashed run's node that no longer exists.
    await run.ip(gw, ['route', 'add', '198.18.120.0/24', 'via', '198.18.60.1', 'dev', DEV, 'onlink', 'table', TABLE]);
    // An earlier version's route in the main table.
    await run.ip(gw, ['route', 'add', '198.18.100.16/29', 'via', '198.18.20.3', 'dev', DEV, 'onlink', 'proto', '110']);
    await run.ip(gw, ['neigh', 'add', '198.18.60.1', 'lladdr', '02:00:c6:12:3c:01', 'dev', DEV, 'nud', 'permanent']);
    await run.exec(gw, ['bridge', 'fdb', 'append', '02:00:c6:12:3c:01', 'dev', DEV, 'dst', '198.18.60.1', 'self', 'permanent']);
    // A wanted MAC pointing at the wrong node, one with a foreign port.
    await run.exec(gw, ['bridge', 'fdb', 'replace', nodes[0]!.mac, 'dev', DEV, 'dst', '198.18.61.1', 'self', 'permanent']);
    await run.exec(gw, ['bridge', 'fdb', 'replace', nodes[1]!.mac, 'dev', DEV, 'dst', '198.18.20.2', 'port', '4789', 'self', 'permanent']);
    // Deleted by hand.
    await run.ip(gw, ['route', 'del', '198.18.100.16/29', 'table', TABLE]);
    await run.ip(gw, ['neigh', 'del', '198.18.20.3', 'dev', DEV]);
    await run.exec(gw, ['bridge', 'fdb', 'del', nodes[2]!.mac, 'dev', DEV, 'dst', '198.18.20.3', 'self']);
    // Edited by hand.
    await run.ip(gw, ['route', 'replace', '198.18.100.0/29', 'via', '198.18.20.9', 'dev', DEV, 'onlink', 'table', TABLE]);
    await run.ip(gw, ['route', 'add', '198.18.100.8/29', 'via', '198.18.20.2', 'dev', DEV, 'onlink', 'metric', '50', 'table', TABLE]);
    await run.ip(gw, ['neigh', 'replace', '198.18.20.2', 'lladdr', '02:00:00:00:00:42', 'dev', DEV, 'nud', 'permanent']);
    // Not ours: the all-zero flood entry, a dynamic neighbour, a route on another device.
    await run.exec(gw, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', DEV, 'dst', '198.18.2.2', 'self', 'permanent']);
    await run.ip(gw, ['neigh', 'add', '198.18.70.1', 'lladdr', '02:00:00:00:00:70', 'dev', DEV, 'nud', 'stale']);
    await run.ip(gw, ['route', 'add', '198.18.130.0/24', 'via', '198.18.2.2', 'dev', 'u0']);

    const r = await dp.reconcile(dev, nodes);
    expect(r.failed).toEqual([]);
    const keys = (es: typeof r.added): string[] =>
      es
        .map((e) => (e.kind === 'route' ? `route ${e.dst}` : e.kind === 'neighbour' ? `neighbour ${e.ip}` : e.kind === 'nexthop' ? `nexthop ${e.via}` : `fdb ${e.mac} ${e.dst}`))
        .sort();
    expect(keys(r.added)).toEqual([`fdb ${nodes[2]!.mac} 198.18.20.3`, 'neighbour 198.18.20.3', 'route 198.18.100.16/29']);
    expect(keys(r.fixed)).toEqual(
      [`fdb ${nodes[0]!.mac} 198.18.20.1`, `fdb ${nodes[1]!.mac} 198.18.20.2`, 'neighbour 198.18.20.2', 'route 198.18.100.0/29'].sort(),
    );
    expect(keys(r.removed)).toEqual(
      [
        'fdb 02:00:c6:12:3c:01 198.18.60.1',
        'neighbour 198.18.60.1',
        'route 198.18.100.16/29',
        'route 198.18.100.8/29',
        'route 198.18.120.0/24',
      ].sort(),
    );
    expect(await mainRoutes()).toEqual([]);

    expect(await routeSet()).toEqual(wantRoutes);
    expect((await routes()).every((x) => x.dst !== '198.18.100.8/29' || (x as { metric?: number }).metric === undefined)).toBe(true);
    expect(await neighSet()).toEqual([...wantNeigh, '198.18.70.1 02:00:00:00:00:70 STALE'].sort());
    expect(await fdbSet()).toEqual([...wantFdb, '00:00:00:00:00:00 198.18.2.2 self permanent'].sort());
    const other = await run.ipJson<IpRoute[]>(gw, ['route', 'show', '198.18.130.0/24']);
    expect(other).toHaveLength(1);

    const again = await dp.reconcile(dev, nodes);
    expect(again).toMatchObject({ added: [], removed: [], fixed: [], failed: [] });
  });

  it('reports refused writes per entry and carries on with the rest (nexthops on a down device: ENETDOWN)', async () => {
    const dev = await freshDevice();
    await run.ip(gw, ['link', 'set', DEV, 'down']);
    const r = await dp.reconcile(dev, nodes);
    // The nexthops are refused, so are the routes through them (the kernel has no such nexthop id).
    expect(r.failed.map((f) => [f.entry.kind, f.op, f.error.code])).toEqual([
      ['nexthop', 'add', 'ENETDOWN'],
      ['nexthop', 'add', 'ENETDOWN'],
      ['nexthop', 'add', 'ENETDOWN'],
      ['route', 'add', 'EINVAL'],
      ['route', 'add', 'EINVAL'],
      ['route', 'add', 'EINVAL'],
      ['route', 'add', 'EINVAL'],
    ]);
    expect(r.failed[0]?.error.message).toMatch(/replace nexthop id \d+ via 198\.18\.20\.\d onlink dev hybrid_vxlan0/);
    expect(r.added.map((e) => e.kind).sort()).toEqual(['fdb', 'fdb', 'fdb', 'neighbour', 'neighbour', 'neighbour']);
    expect(await fdbSet()).toEqual(wantFdb);
    await expect(dp.programVtep(dev, nodes[0]!, [])).rejects.toMatchObject({ code: 'ENETDOWN', retryable: false });
  });

  it('removes all of ours when nothing is wanted', async () => {
    const dev = await freshDevice();
    await dp.reconcile(dev, nodes);
    const r = await dp.reconcile(dev, []);
    expect(r.removed).toHaveLength(13);
    expect(await routeSet()).toEqual([]);
    expect(await neighSet()).toEqual([]);
    expect(await fdbSet()).toEqual([]);
  });

  it('converges node IP and pod CIDR changes through the desired set alone', async () => {
    const dev = await freshDevice();
    await dp.reconcile(dev, nodes);
    const moved = [spec('hyb-1', '198.18.20.11', ['198.18.100.0/29']), spec('hyb-2', '198.18.20.2', ['198.18.100.8/29']), nodes[2]!];
    const r = await dp.reconcile(dev, moved);
    expect(r.failed).toEqual([]);
    expect(await routeSet()).toEqual(['198.18.100.0/29 via 198.18.20.11 onlink', '198.18.100.16/29 via 198.18.20.3 onlink', '198.18.100.8/29 via 198.18.20.2 onlink']);
    expect(await neighSet()).toEqual(moved.map((n) => `${n.nodeIP} ${n.mac} permanent`).sort());
    expect(await fdbSet()).toEqual(moved.map((n) => `${n.mac} ${n.nodeIP} self permanent`).sort());
  });
});

interface IpRule {
  priority: number;
  dst?: string;
  dstlen?: number;
  table: string;
  protocol?: string;
}

describe('the gateway table and its policy rules', () => {
  const ours = async (): Promise<string[]> =>
    (await run.ipJson<IpRule[]>(gw, ['-4', 'rule', 'show']))
      .filter((r) => r.table === TABLE)
      .map((r) => `${r.priority} to ${r.dst}/${r.dstlen} lookup ${r.table}`)
      .sort();
  // The namespace has no default route: a destination nothing routes is "unreachable".
  const via = async (dst: string): Promise<{ dev: string; table?: string }> =>
    run.ipJson<Array<{ dev: string; table?: string }>>(gw, ['route', 'get', dst]).then(
      (r) => r[0]!,
      () => ({ dev: 'unreachable' }),
    );

  it('adds one rule per pod CIDR, keeps them, repairs and narrows them', async () => {
    await run.ip(gw, ['rule', 'flush', 'table', TABLE]).catch(() => undefined);
    expect(await dp.ensureRules(['198.18.100.0/24', '198.18.101.0/24'])).toMatchObject({ add: [{}, {}], remove: [], unchanged: 0 });
    expect(await ours()).toEqual(['1000 to 198.18.100.0/24 lookup 8472', '1000 to 198.18.101.0/24 lookup 8472']);
    expect(await dp.ensureRules(['198.18.100.0/24', '198.18.101.0/24'])).toMatchObject({ add: [], remove: [], unchanged: 2 });
    // Deleted by hand, a widened one added by hand: repaired.
    await run.ip(gw, ['rule', 'del', 'to', '198.18.101.0/24', 'lookup', TABLE]);
    await run.ip(gw, ['rule', 'add', 'to', '0.0.0.0/1', 'lookup', TABLE, 'priority', '1000']);
    expect(await dp.ensureRules(['198.18.100.0/24', '198.18.101.0/24'])).toMatchObject({ add: [{}], remove: [{}], unchanged: 1 });
    expect(await ours()).toEqual(['1000 to 198.18.100.0/24 lookup 8472', '1000 to 198.18.101.0/24 lookup 8472']);
    // The host's own rules are untouched.
    const all = await run.ipJson<IpRule[]>(gw, ['-4', 'rule', 'show']);
    expect(all.filter((r) => ['local', 'main', 'default'].includes(r.table)).map((r) => r.priority)).toEqual([0, 32766, 32767]);
  });

  it('a route for the connected subnet never replaces the connected route, and the gateway’s own traffic never follows it', async () => {
    const dev = await freshDevice();
    await dp.ensureRules(['198.18.100.0/24']);
    // Pod CIDRs the admission rules would refuse: the gateway's own subnet (198.18.2.0/24 on u0) and IMDS.
    const hostile = spec('hostile', '198.18.20.7', ['169.254.169.254/32', '198.18.2.0/24']);
    await dp.programVtep(dev, hostile, []);
    await dp.programVtep(dev, spec('hyb-1', '198.18.20.1', ['198.18.100.0/29']), []);
    const connected = await run.ipJson<Array<{ dst: string; dev: string; protocol: string }>>(gw, ['route', 'show', 'table', 'main', '198.18.2.0/24']);
    expect(connected).toEqual([expect.objectContaining({ dst: '198.18.2.0/24', dev: 'u0', protocol: 'kernel' })]);
    expect((await via('198.18.2.2')).dev).toBe('u0');
    expect((await via('169.254.169.254')).dev).not.toBe(DEV);
    // Traffic to the hybrid pod network does take the table.
    expect(await via('198.18.100.1')).toMatchObject({ dev: DEV, table: TABLE });
    expect(await mainRoutes()).toEqual([]);
    await dp.reconcile(dev, []);
  });
});
