// Two real gateway processes, each in its own network namespace, against the
// lab's Kubernetes and EC2/IMDS stand-ins in a control namespace: one leads
// and the route tables and CiliumVTEPConfig point at it; both program the
// hybrid node's entries; kill -9 of the leader hands over at lease expiry;
// SIGTERM hands over at once (the lease is released) and exits 0, leaving the
// data plane in place. Addresses: 198.18.10.0/24 (control link), 198.19.0.0/16
// (hybrid pod CIDRs), 203.0.113.0/24 (hybrid node IPs); nothing leaves the
// namespaces this test creates.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceMacFor } from '../../effects/netlink/index.js';
import { until } from '../../lab/lab.js';
import { IpcPeer, type Reply } from '../support/netns-clients.js';
import { createNetnsRun, stderrTail, type NetnsRun } from '../support/netns.js';

const REGION = 'us-west-2';
const TABLES = ['rtb-0a1a1a1a1a1a1a1a1', 'rtb-0b2b2b2b2b2b2b2b2'];
const POD_CIDRS = '198.19.0.0/17,198.19.128.0/17';
const NODES = [
  { name: 'gw-a', instanceId: 'i-0aaaaaaaaaaaaaaa1', eni: 'eni-0aaaaaaaaaaaaaaa1', mac: '0a:00:00:00:00:0a', ip: '198.18.10.11' },
  { name: 'gw-b', instanceId: 'i-0bbbbbbbbbbbbbbb2', eni: 'eni-0bbbbbbbbbbbbbbb2', mac: '0a:00:00:00:00:0b', ip: '198.18.10.12' },
  // A second installation of the gateway (another release, namespace team-b) in the same cluster.
  { name: 'gw-c', instanceId: 'i-0ccccccccccccccc3', eni: 'eni-0ccccccccccccccc3', mac: '0a:00:00:00:00:0c', ip: '198.18.10.13' },
] as const;
type GwName = (typeof NODES)[number]['name'];

const hybridNode = (name: string, ip: string, cidrs: string[]) => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNode',
  metadata: { name, labels: { 'eks.amazonaws.com/compute-type': 'hybrid' } },
  spec: { addresses: [{ type: 'InternalIP', ip }], ipam: { podCIDRs: cidrs } },
});

let run: NetnsRun;
let ctl: IpcPeer;
let ctlInfo: { kubeUrl: string; kubeconfig: string; ec2Url: string; otlpUrl: string; imds: Record<string, string> };
const ns: Record<GwName, string> = { 'gw-a': '', 'gw-b': '', 'gw-c': '' };
const NAMESPACE: Record<GwName, string> = { 'gw-a': 'kube-system', 'gw-b': 'kube-system', 'gw-c': 'team-b' };
const procs: Partial<Record<GwName, ChildProcess>> = {};

async function ask<T>(body: Record<string, unknown>): Promise<T> {
  const r: Reply = await ctl.request(body);
  if (!r.ok) throw new Error(String(r.error));
  return r.value as T;
}

function startGateway(name: GwName): ChildProcess {
  const node = NODES.find((n) => n.name === name)!;
  const child = run.spawnNode(ns[name], 'runtime/main.ts', [], {
    NODE_IP: node.ip,
    VPC_CIDR: '198.18.0.0/16',
    POD_CIDRS,
    ROUTE_TABLE_IDS: TABLES.join(','),
    POD_NAME: name,
    POD_NAMESPACE: NAMESPACE[name],
    NODE_NAME: `node-${name}`,
    KUBECONFIG: ctlInfo.kubeconfig,
    AWS_ENDPOINT_URL_EC2: ctlInfo.ec2Url,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: ctlInfo.imds[node.instanceId]!,
    AWS_ACCESS_KEY_ID: 'AKIDLABEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'lab-secret',
    METRICS_BIND_ADDRESS: `${node.ip}:10080`,
    HEALTH_PROBE_BIND_ADDRESS: `${node.ip}:8088`,
    OTEL_EXPORTER_OTLP_ENDPOINT: ctlInfo.otlpUrl,
    OTEL_SERVICE_NAME: `gateway-${name}`,
    OTEL_BSP_SCHEDULE_DELAY: '200',
  });
  procs[name] = child;
  return child;
}

/** Who the control plane says leads: lease holder, route targets and VTEP endpoint all agree. */
async function leaderEverywhere(): Promise<GwName | undefined> {
  const lease = await ask<{ spec?: { holderIdentity?: string } } | null>({ op: 'get', plural: 'leases', name: 'hybrid-gateway-leader', namespace: 'kube-system' });
  const holder = lease?.spec?.holderIdentity;
  const node = NODES.find((n) => n.name === holder);
  if (!node) return undefined;
  const routes = await ask<Record<string, Record<string, string>>>({ op: 'routes' });
  for (const t of TABLES) for (const c of POD_CIDRS.split(',')) if (routes[t]?.[c] !== node.eni) return undefined;
  const vtep = await ask<{ spec?: { endpoints?: Array<{ name: string; tunnelEndpoint: string; cidr: string; mac: string }> } } | null>({
    op: 'get',
    plural: 'ciliumvtepconfigs',
    name: 'hybrid-gateway',
  });
  const ep = vtep?.spec?.endpoints;
  if (ep?.length !== 1 || ep[0]!.tunnelEndpoint !== node.ip || ep[0]!.mac !== deviceMacFor(node.ip) || ep[0]!.cidr !== '198.18.0.0/16' || ep[0]!.name !== 'vpc-gateway') return undefined;
  return node.name;
}

/** hyb-1's routes (or another node's, by its IP) in a gateway's kernel. */
async function kernelRoutes(name: GwName, via = '203.0.113.10'): Promise<string[]> {
  const routes = await run.ipJson<Array<{ dst: string; gateway?: string; flags?: string[] }>>(ns[name], ['-4', 'route', 'show', 'table', 'all', 'dev', 'hybrid_vxlan0']);
  return routes.filter((r) => r.gateway === via).map((r) => `${r.dst} via ${r.gateway ?? '?'}${r.flags?.includes('onlink') ? ' onlink' : ''}`).sort();
}

// hyb-held: a node whose nexthop id (its IP as a number) gw-a's kernel already holds for another device,
// so gw-a's kernel cannot take its entries (gw-b's can).
const HELD_IP = '203.0.113.20';
const HELD_ID = String(HELD_IP.split('.').reduce((n, b) => n * 256 + Number(b), 0));

async function httpGet(name: GwName, port: number, path: string): Promise<{ status: number; body: string }> {
  const node = NODES.find((n) => n.name === name)!;
  // node:http from inside the namespace (the test process sits in the root namespace).
  const script = `require('http').get('http://${node.ip}:${port}${path}',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{process.stdout.write(JSON.stringify({status:r.statusCode,body:b}))})}).on('error',e=>{process.stdout.write(JSON.stringify({status:0,body:String(e)}))})`;
  const out = await run.exec(ns[name], [process.execPath, '-e', script]);
  return JSON.parse(out.stdout) as { status: number; body: string };
}

function other(name: GwName): 'gw-a' | 'gw-b' {
  return name === 'gw-a' ? 'gw-b' : 'gw-a';
}

describe('two gateway processes against the lab stand-ins', () => {
  beforeAll(async () => {
    run = createNetnsRun();
    const c = await run.ns('ctl');
    ns['gw-a'] = await run.ns('gwa');
    ns['gw-b'] = await run.ns('gwb');
    ns['gw-c'] = await run.ns('gwc');
    await run.ip(c, ['link', 'add', 'br0', 'type', 'bridge']);
    await run.ip(c, ['addr', 'add', '198.18.10.1/24', 'dev', 'br0']);
    await run.ip(c, ['link', 'set', 'br0', 'up']);
    for (const node of NODES) {
      const peer = `p-${node.name}`;
      await run.veth({ ns: c, ifname: peer }, { ns: ns[node.name], ifname: 'eth0', addr: `${node.ip}/24` });
      await run.ip(c, ['link', 'set', peer, 'master', 'br0']);
      await run.sysctl(ns[node.name], 'net.ipv4.ip_forward', '1');
    }
    const child = run.spawnNode(c, 'lab/control-plane-worker.ts', [
      JSON.stringify({
        host: '198.18.10.1',
        region: REGION,
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidr: '198.18.0.0/16',
        subnetId: 'subnet-0123456789abcdef0',
        routeTableIds: TABLES,
        gateways: NODES,
      }),
    ]);
    const ready = new Promise<typeof ctlInfo>((resolve) => child.once('message', (m) => resolve(m as typeof ctlInfo)));
    ctl = new IpcPeer(child, 'control plane');
    await ctl.ready;
    ctlInfo = await ready;
    await ask({ op: 'put', plural: 'ciliumnodes', body: hybridNode('hyb-1', '203.0.113.10', ['198.19.1.0/24', '198.19.2.0/24']) });
    // A malformed node among good ones: skipped, never programmed.
    await ask({ op: 'put', plural: 'ciliumnodes', body: hybridNode('hyb-bad', '2001:db8::1', ['198.19.3.0/24']) });
    await run.ip(ns['gw-a'], ['nexthop', 'add', 'id', HELD_ID, 'dev', 'eth0']);
    await ask({ op: 'put', plural: 'ciliumnodes', body: hybridNode('hyb-held', HELD_IP, ['198.19.9.0/24']) });
    startGateway('gw-a');
    startGateway('gw-b');
  }, 60_000);

  afterAll(async () => {
    await run?.teardown();
  }, 30_000);

  let firstLeader: GwName;

  it('one gateway leads: lease, both route tables and CiliumVTEPConfig point at it', async () => {
    firstLeader = await until('a leader everywhere', leaderEverywhere, 30_000);
    expect(['gw-a', 'gw-b']).toContain(firstLeader);
  }, 40_000);

  it('with one shard (the default) the objects are the ones written before sharding existed: one Lease, POD_CIDRS as given, the PUT-written endpoint', async () => {
    const leases = await ask<Array<{ metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec: Record<string, unknown> }>>({ op: 'list', plural: 'leases', namespace: 'kube-system' });
    // No shard Leases, no member Leases.
    expect(leases.map((l) => l.metadata.name)).toEqual(['hybrid-gateway-leader']);
    const lease = leases[0]!;
    expect(Object.keys(lease.metadata.annotations ?? {}).sort()).toEqual(['eks-hybrid-gateway/gateway-enis', 'eks-hybrid-gateway/lease-duration-ms']);
    expect(lease.metadata.labels).toBeUndefined();
    expect(Object.keys(lease.spec).sort()).toEqual(['acquireTime', 'holderIdentity', 'leaseDurationSeconds', 'leaseTransitions', 'renewTime']);
    // The route tables hold POD_CIDRS exactly as given, nothing more specific.
    const routes = await ask<Record<string, Record<string, string>>>({ op: 'routes' });
    for (const t of TABLES) expect(Object.keys(routes[t] ?? {}).filter((c) => c.startsWith('198.19.')).sort()).toEqual(POD_CIDRS.split(',').sort());
    // One endpoint named as the reference names it, written by PUT (an Update), never by apply.
    const node = NODES.find((n) => n.name === firstLeader)!;
    const vtep = await ask<{ metadata: { annotations?: Record<string, string>; managedFields?: Array<{ manager: string; operation: string }> }; spec: Record<string, unknown> }>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' });
    expect(vtep.spec.endpoints).toEqual([{ name: 'vpc-gateway', tunnelEndpoint: node.ip, cidr: '198.18.0.0/16', mac: deviceMacFor(node.ip) }]);
    expect(vtep.metadata.annotations?.['eks-hybrid-gateway/owner-lease']).toBe('kube-system/hybrid-gateway-leader');
    expect((vtep.metadata.managedFields ?? []).filter((f) => f.operation === 'Apply')).toEqual([]);
  }, 20_000);

  it('both gateways program the hybrid node (all its pod CIDRs) and skip the malformed one', async () => {
    const want = ['198.19.1.0/24 via 203.0.113.10 onlink', '198.19.2.0/24 via 203.0.113.10 onlink'];
    for (const name of ['gw-a', 'gw-b'] as const) {
      await until(`${name} routes`, async () => ((await kernelRoutes(name)).join() === want.join() ? true : undefined));
      const fdb = await run.bridgeJson<Array<{ mac: string; dst?: string }>>(ns[name], ['fdb', 'show', 'dev', 'hybrid_vxlan0']);
      expect(fdb.filter((f) => f.dst === '203.0.113.10').map((f) => f.mac)).toEqual(['02:00:cb:00:71:0a']);
    }
  }, 30_000);

  it('serves /readyz, /healthz and the reference metrics', async () => {
    for (const name of ['gw-a', 'gw-b'] as const) {
      const ready = await until(`${name} ready`, async () => {
        const r = await httpGet(name, 8088, '/readyz');
        return r.status === 200 ? r : undefined;
      });
      expect(JSON.parse(ready.body)).toMatchObject({ checks: { vxlanUp: true, informerSynced: true, dataPlaneConverged: true } });
      expect((await httpGet(name, 8088, '/healthz')).status).toBe(200);
    }
    const metrics = (await httpGet(firstLeader, 10080, '/metrics')).body;
    expect(metrics).toMatch(/^hybrid_gateway_leader_is_active 1$/m);
    expect(metrics).toMatch(new RegExp(`^hybrid_gateway_hybrid_nodes_configured ${firstLeader === 'gw-a' ? 1 : 2}$`, 'm'));
    expect(metrics).toMatch(/^hybrid_gateway_vxlan_interface_up 1$/m);
    expect(metrics).toMatch(new RegExp(`^hybrid_gateway_vxlan_route_count ${firstLeader === 'gw-a' ? 2 : 3}$`, 'm'));
    expect(metrics).toMatch(/^hybrid_gateway_cilium_nodes_skipped\{reason="ipv6-only-internal-ip"\} 1$/m);
    expect(metrics).toMatch(/^hybrid_gateway_aws_route_table_update_total [1-9]/m);
    expect(metrics).toMatch(/^hybrid_gateway_gateway_state\{state="leader"\} 1$/m);
    expect(metrics).toMatch(/^hybrid_gateway_ready 1$/m);
    expect(metrics).toMatch(/^hybrid_gateway_primary_nic_info\{interface_name="eth0"\} 1$/m);
    const standby = (await httpGet(other(firstLeader), 10080, '/metrics')).body;
    expect(standby).toMatch(/^hybrid_gateway_leader_is_active 0$/m);
    expect(standby).toMatch(/^hybrid_gateway_gateway_state\{state="standby"\} 1$/m);
  }, 30_000);

  it('a node one kernel refuses: that gateway stays ready, lists it in /readyz, counts it and records an Event; the others are forwarded; a retry programs it once the kernel takes it', async () => {
    const ready = JSON.parse((await httpGet('gw-a', 8088, '/readyz')).body) as { status: string; refusedCount: number; refusedNodes: Array<{ node: string; reason: string }> };
    expect(ready).toMatchObject({ status: 'ok', refusedCount: 1 });
    expect(ready.refusedNodes[0]).toMatchObject({ node: 'hyb-held', reason: expect.stringMatching(new RegExp(`nexthop id ${HELD_ID}`)) as unknown });
    expect((await httpGet('gw-a', 10080, '/metrics')).body).toMatch(/^hybrid_gateway_vtep_nodes_refused 1$/m);
    expect(await kernelRoutes('gw-a', HELD_IP)).toEqual([]);
    // The other gateway's kernel took it.
    await until('gw-b holds hyb-held', async () => ((await kernelRoutes('gw-b', HELD_IP)).length === 1 ? true : undefined));
    expect(JSON.parse((await httpGet('gw-b', 8088, '/readyz')).body)).toMatchObject({ status: 'ok', refusedCount: 0 });
    const events = await ask<Array<{ reason?: string; involvedObject?: { kind?: string; name?: string } }>>({ op: 'list', plural: 'events', namespace: 'default' });
    expect(events.some((e) => e.reason === 'VtepRefused' && e.involvedObject?.kind === 'CiliumNode' && e.involvedObject.name === 'hyb-held')).toBe(true);
    // The foreign object goes: the next retry (the actor's own, or the sweep's) programs the node.
    await run.ip(ns['gw-a'], ['nexthop', 'del', 'id', HELD_ID]);
    await until('gw-a programs hyb-held', async () => ((await kernelRoutes('gw-a', HELD_IP)).length === 1 ? true : undefined), 40_000);
    await until('gw-a lists nothing', async () => ((JSON.parse((await httpGet('gw-a', 8088, '/readyz')).body) as { refusedCount: number }).refusedCount === 0 ? true : undefined));
  }, 60_000);

  let killHandoverMs = 0;
  let secondLeader: GwName;

  it('kill -9 of the leader: the standby takes over once the lease expires', async () => {
    const victim = firstLeader;
    const t0 = Date.now();
    procs[victim]!.kill('SIGKILL');
    secondLeader = await until('the standby to lead everywhere', async () => {
      const l = await leaderEverywhere();
      return l !== undefined && l !== victim ? l : undefined;
    });
    killHandoverMs = Date.now() - t0;
    expect(secondLeader).toBe(other(victim));
    // The killed gateway's data plane is untouched by its death.
    expect(await kernelRoutes(victim)).toHaveLength(2);
    console.info(`kill -9 hand-over: ${killHandoverMs} ms`);
  }, 30_000);

  it('SIGTERM of the leader: releases the lease, the other takes over faster, exit 0, data plane kept', async () => {
    const restarted = other(secondLeader);
    startGateway(restarted);
    await until(`${restarted} ready again`, async () => ((await httpGet(restarted, 8088, '/readyz')).status === 200 ? true : undefined));

    const leader = procs[secondLeader]!;
    const exited = new Promise<number | null>((resolve) => leader.once('exit', (code) => resolve(code)));
    const t0 = Date.now();
    leader.kill('SIGTERM');
    const third = await until('hand-over after SIGTERM', async () => {
      const l = await leaderEverywhere();
      return l !== undefined && l !== secondLeader ? l : undefined;
    });
    const termHandoverMs = Date.now() - t0;
    expect(third).toBe(restarted);
    const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 6000))]);
    expect(code, stderrTail(leader)).toBe(0);
    expect(await kernelRoutes(secondLeader)).toHaveLength(2);
    console.info(`SIGTERM hand-over: ${termHandoverMs} ms (kill -9: ${killHandoverMs} ms)`);
    expect(termHandoverMs).toBeLessThan(killHandoverMs);
  }, 40_000);

  it('traces: each failover is one trace with the lease, per-table route, VTEP config and transition spans', async () => {
    type Span = {
      traceId: string;
      spanId: string;
      parentSpanId?: string;
      name: string;
      startMs: number;
      endMs: number;
      attributes: Record<string, unknown>;
      events: Array<{ name: string }>;
      service?: string;
    };
    const spans = await until('failover traces from both hand-overs', async () => {
      const all = await ask<Span[]>({ op: 'spans' });
      return all.filter((s) => s.name === 'gateway.failover').length >= 3 ? all : undefined;
    });
    const failovers = spans.filter((s) => s.name === 'gateway.failover');
    // The last one is the SIGTERM hand-over: its children and events tell the story in order.
    const last = failovers.sort((a, b) => a.startMs - b.startMs).at(-1)!;
    const children = spans.filter((s) => s.traceId === last.traceId && s.parentSpanId === last.spanId);
    const names = children.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['lease.acquire', 'routeTables.repoint', 'vtepConfig.write', 'state.transition']));
    // One round of leader work: nothing asked for a re-assert during the hand-over.
    expect(names.filter((n) => n === 'routeTables.repoint')).toHaveLength(1);
    // It starts at the old leader's last sign of life this gateway saw: its release (seen on the watch, or
    // by the attempt that found the lease free, whichever came first).
    const events = last.events.map((e) => e.name);
    expect(events.filter((n) => n !== 'lease.holder-last-seen')).toEqual(['lease.expiry-seen', 'leader.ready']);
    if (events.includes('lease.holder-last-seen')) expect(events[0]).toBe('lease.holder-last-seen');
    // The kill -9 failover waited for the lease to expire: that wait is a span of its own, from the
    // dead leader's last renewal this gateway saw.
    const killed = failovers[1]!;
    const killedKids = spans.filter((x) => x.traceId === killed.traceId && x.parentSpanId === killed.spanId).map((x) => x.name);
    expect(killedKids).toContain('lease.wait-for-expiry');
    expect(killed.events[0]?.name).toBe('lease.holder-last-seen');
    const repoint = children.find((s) => s.name === 'routeTables.repoint')!;
    const tables = spans.filter((s) => s.parentSpanId === repoint.spanId).map((s) => s.name).sort();
    expect(tables).toEqual(TABLES.map((t) => `routeTable ${t}`));
    const transitions = children.filter((s) => s.name === 'state.transition');
    expect(transitions.some((t) => t.attributes['xstate.machine'] === 'shard' && String(t.attributes['xstate.to']).includes('leader'))).toBe(true);
    // The fleet's transitions are traced too (a node's own actor only lives while it needs work: see the next test).
    expect(spans.some((s) => s.name === 'state.transition' && s.attributes['xstate.machine'] === 'fleet')).toBe(true);
    console.info(`failover traces: ${failovers.map((f) => `${f.service}: ${Math.round(f.endMs - f.startMs)} ms`).join(', ')}`);
  }, 30_000);

  it('a deleted CiliumNode loses its entries on the running gateway, through a vtep actor whose transitions are traced', async () => {
    const live = (await leaderEverywhere())!;
    await ask({ op: 'remove', plural: 'ciliumnodes', name: 'hyb-1' });
    await until('entries removed', async () => ((await kernelRoutes(live)).length === 0 ? true : undefined));
    const fdb = await run.bridgeJson<Array<{ mac: string; dst?: string }>>(ns[live], ['fdb', 'show', 'dev', 'hybrid_vxlan0']);
    expect(fdb.filter((f) => f.dst === '203.0.113.10')).toEqual([]);
    // Hybrid node actors' transitions carry the node's name.
    type Span = { name: string; attributes: Record<string, unknown> };
    await until('the removal traced', async () => {
      const spans = await ask<Span[]>({ op: 'spans' });
      return spans.some((s) => s.name === 'state.transition' && s.attributes['xstate.machine'] === 'vtep' && s.attributes['hybrid.node'] === 'hyb-1' && s.attributes['xstate.to'] === 'removed')
        ? true
        : undefined;
    });
  }, 30_000);

  it("a second installation (namespace team-b) leads its own Lease but writes nothing shared while the first one's Lease is held; it says so, and takes over once the object is free", async () => {
    const first = (await leaderEverywhere())!;
    expect(first).toBeDefined();
    const vtepBefore = await ask<{ metadata: { annotations?: Record<string, string> } }>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' });
    expect(vtepBefore.metadata.annotations?.['eks-hybrid-gateway/owner-lease']).toBe('kube-system/hybrid-gateway-leader');
    const t0 = Date.now();
    startGateway('gw-c');
    await until('gw-c leads team-b', async () => {
      const lease = await ask<{ spec?: { holderIdentity?: string } } | null>({ op: 'get', plural: 'leases', name: 'hybrid-gateway-leader', namespace: 'team-b' });
      return lease?.spec?.holderIdentity === 'gw-c' ? true : undefined;
    });
    await until('gw-c reports the conflict', async () =>
      /^hybrid_gateway_vtep_config_owner_conflict 1$/m.test((await httpGet('gw-c', 10080, '/metrics')).body) ? true : undefined,
    );
    expect(await leaderEverywhere()).toBe(first);
    const kubeWrites = (await ask<Array<{ method: string; path: string; remoteAddress?: string }>>({ op: 'kubeRequests' })).filter(
      (r) => r.remoteAddress === '198.18.10.13' && r.path.includes('ciliumvtepconfigs') && r.method !== 'GET',
    );
    expect(kubeWrites).toEqual([]);
    const routeWrites = (await ask<Array<{ action: string; eni?: string; atMs: number }>>({ op: 'ec2CallLog' })).filter((c) => c.eni === 'eni-0ccccccccccccccc3');
    expect(routeWrites).toEqual([]);
    const events = await ask<Array<{ reason?: string; message?: string }>>({ op: 'list', plural: 'events', namespace: 'team-b' });
    const conflict = events.find((e) => e.reason === 'OwnershipConflict');
    expect(conflict?.message).toMatch(/owned by Lease kube-system\/hybrid-gateway-leader, held by gw-/);

    // The first installation is uninstalled (its gateway stopped, the object it wrote deleted): gw-c takes over.
    procs[first]!.kill('SIGTERM');
    await ask({ op: 'remove', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' });
    await until(
      'gw-c writes routes and CiliumVTEPConfig',
      async () => {
        const routes = await ask<Record<string, Record<string, string>>>({ op: 'routes' });
        if (!TABLES.every((t) => POD_CIDRS.split(',').every((c) => routes[t]?.[c] === 'eni-0ccccccccccccccc3'))) return undefined;
        const v = await ask<{ metadata: { annotations?: Record<string, string> }; spec: { endpoints: Array<{ tunnelEndpoint: string }> } } | null>({
          op: 'get',
          plural: 'ciliumvtepconfigs',
          name: 'hybrid-gateway',
        });
        return v?.spec.endpoints[0]?.tunnelEndpoint === '198.18.10.13' && v.metadata.annotations?.['eks-hybrid-gateway/owner-lease'] === 'team-b/hybrid-gateway-leader' ? true : undefined;
      },
      20_000,
    );
    expect((await httpGet('gw-c', 10080, '/metrics')).body).toMatch(/^hybrid_gateway_vtep_config_owner_conflict 0$/m);
    console.info(`second installation: conflict reported, took over after the first was removed (${Date.now() - t0} ms in all)`);
  }, 60_000);
});
