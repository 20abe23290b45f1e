// The `cleanup` subcommand against the EC2 and Kubernetes stand-ins (127.0.0.1):
// the leaders' locks record their ENIs as the gateway does; cleanup takes the
// Lease from the live leader, deletes the POD_CIDR routes pointing at a
// recorded ENI and the CiliumVTEPConfig this installation owns, and leaves
// everything else (routes to another ENI or a gateway, other destinations,
// another installation's CiliumVTEPConfig), saying why. A second run does
// nothing; --dry-run changes nothing; a failure gives the Lease back.
import type { EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { OWNER_ANNOTATION } from '../../machines/domain/ownership.js';
import { createEc2Client, type InstanceIdentity } from '../../effects/aws/index.js';
import { kubeClients, LeaseLock, loadKubeConfig, VtepConfigClient, type KubeClients } from '../../effects/kube/index.js';
import { parseCleanupConfig, type CleanupConfig } from '../../runtime/config/cleanup.js';
import { cleanupCommand } from '../../runtime/cleanup/command.js';
import { runCleanup, type CleanupDeps } from '../../runtime/cleanup/run.js';
import { eniRecord, HostFacts } from '../../runtime/wiring/host.js';
import { startEc2StandIn, type Ec2StandIn, type InstanceSpec } from '../../lab/ec2/index.js';
import { startKubeApiServer, type KubeApiServer } from '../../lab/kube-apiserver/index.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

const NS = 'gateway';
const LEASE = 'hybrid-gateway-leader';
const OWNER = `${NS}/${LEASE}`;
const VPC = 'vpc-0123456789abcdef0';
const PODS = ['198.19.0.0/17', '198.19.128.0/17'];
const [T1, T2, T3] = ['rtb-0000000a', 'rtb-0000000b', 'rtb-0000000c'] as const;
const instance = (n: number, letter: string): InstanceSpec => ({
  instanceId: `i-0${letter.repeat(15)}${n}`,
  region: 'us-west-2',
  az: 'us-west-2a',
  eni: `eni-0${letter}${'0'.repeat(14)}${letter}`,
  mac: `02:00:c6:12:00:0${n}`,
  privateIp: `198.18.0.1${n}`,
  subnetId: 'subnet-0aaaa11110000000a',
  vpcId: VPC,
});
const GW_A = instance(1, 'a');
const GW_B = instance(2, 'b');
/** Another installation's gateway in the same VPC. */
const OTHER = instance(3, 'd');

let ec2Stand: Ec2StandIn | undefined;
let kube: KubeApiServer | undefined;
let ec2: EC2Client | undefined;
afterEach(async () => {
  ec2?.destroy();
  await ec2Stand?.close();
  await kube?.close();
  ec2Stand = kube = ec2 = undefined;
});

interface World {
  readonly s: Ec2StandIn;
  readonly k: KubeApiServer;
  readonly ec2: EC2Client;
  clients(): KubeClients;
  target(table: string, cidr: string): string | undefined;
}

async function world(): Promise<World> {
  ec2Stand = await startEc2StandIn({
    instances: [GW_A, GW_B, OTHER],
    routeTables: [
      // Ours (gw-a leads now), plus a non-pod route to our ENI that is not the gateway's.
      { routeTableId: T1, vpcId: VPC, vpcCidr: '198.18.0.0/16', routes: [...PODS.map((c) => ({ destinationCidrBlock: c, networkInterfaceId: GW_A.eni })), { destinationCidrBlock: '203.0.113.0/24', networkInterfaceId: GW_A.eni }] },
      // One to another installation's gateway, one left on gw-b (an earlier leader of ours) and blackholed.
      { routeTableId: T2, vpcId: VPC, vpcCidr: '198.18.0.0/16', routes: [{ destinationCidrBlock: PODS[0]!, networkInterfaceId: OTHER.eni }, { destinationCidrBlock: PODS[1]!, networkInterfaceId: GW_B.eni, state: 'blackhole' }] },
      // A pod CIDR routed to a gateway (say, a VPN), the other absent.
      { routeTableId: T3, vpcId: VPC, vpcCidr: '198.18.0.0/16', routes: [{ destinationCidrBlock: PODS[0]!, gatewayId: 'vgw-0123456789abcdef0' }] },
    ],
  });
  kube = await startKubeApiServer();
  ec2 = createEc2Client({ region: 'us-west-2', endpoint: ec2Stand.url, credentials: { accessKeyId: 'AKIDLABCLEANUP000001', secretAccessKey: 'lab-secret' } });
  const s = ec2Stand;
  const k = kube;
  return { s, k, ec2, clients: () => kubeClients(loadKubeConfig(k.kubeconfigPath)), target: (t, c) => s.state.routeTarget(t, c) };
}

/** A gateway's lock, annotated as the runtime builds it once its ENI is known (runtime/wiring/host.ts). */
function gatewayLock(w: World, identity: string, eni: string): LeaseLock {
  const host = new HostFacts();
  host.cloud = { id: { networkInterfaceId: eni } as InstanceIdentity, ec2: w.ec2 };
  return new LeaseLock({ clients: w.clients(), namespace: NS, name: LEASE, identity, leaseDurationMs: 3000, annotate: eniRecord(host) });
}

/** gw-b led first, then gw-a took over and leads now; gw-a wrote the CiliumVTEPConfig with `owner`. */
async function installation(w: World, owner = OWNER): Promise<LeaseLock> {
  const b = gatewayLock(w, 'gw-b', GW_B.eni);
  await b.tryAcquireOrRenew();
  await b.release();
  const a = gatewayLock(w, 'gw-a', GW_A.eni);
  expect((await a.tryAcquireOrRenew()).held).toBe(true);
  const ep = [{ name: 'vpc-gateway', tunnelEndpoint: GW_A.privateIp, cidr: '198.18.0.0/16', mac: '02:00:c6:12:00:01' }];
  await new VtepConfigClient({ clients: w.clients() }).upsert(ep, new AbortController().signal, { key: owner });
  return a;
}

function config(extra: string[] = []): CleanupConfig {
  const o = parseCleanupConfig([...extra], { POD_CIDRS: PODS.join(','), ROUTE_TABLE_IDS: [T1, T2, T3].join(','), POD_NAMESPACE: NS, AWS_REGION: 'us-west-2' });
  if (o.kind !== 'config') throw new Error('help');
  return o.config;
}

function deps(w: World, lines: string[], waits: number[] = []): CleanupDeps {
  return { clients: w.clients(), ec2: w.ec2, namespace: NS, identity: 'cleanup/job-1', out: (l) => lines.push(l), sleep: (ms) => (waits.push(ms), Promise.resolve()) };
}

const deletes = (s: Ec2StandIn) => s.calls.filter((c) => c.action === 'DeleteRoute');
const vtepOf = (w: World) => w.k.store.find('ciliumvtepconfigs', 'hybrid-gateway');
const leaseHolder = (w: World) => (w.k.store.find('leases', LEASE, NS)?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;

describe('cleanup', () => {
  it("deletes this installation's routes and CiliumVTEPConfig, leaves every other route, and the leader stands by", async () => {
    const w = await world();
    const leader = await installation(w);
    const lines: string[] = [];
    const waits: number[] = [];
    const r = await runCleanup(config(), deps(w, lines, waits));
    expect(r).toMatchObject({ ok: true, left: 2, failed: 0, vtepConfig: 'deleted', released: false });
    expect(r.deleted).toEqual([
      { routeTableId: T1, cidr: PODS[0] },
      { routeTableId: T1, cidr: PODS[1] },
      { routeTableId: T2, cidr: PODS[1] },
    ]);
    // Deleted: ours. Survive: another installation's ENI, a VPN gateway, a non-pod route to our ENI.
    expect(w.target(T1, PODS[0]!)).toBeUndefined();
    expect(w.target(T1, PODS[1]!)).toBeUndefined();
    expect(w.target(T2, PODS[1]!)).toBeUndefined();
    expect(w.target(T2, PODS[0]!)).toBe(OTHER.eni);
    expect(w.target(T3, PODS[0]!)).toBe('vgw-0123456789abcdef0');
    expect(w.target(T1, '203.0.113.0/24')).toBe(GW_A.eni);
    expect(vtepOf(w)).toBeUndefined();
    // Waited for the leader's lease (3 s) and the late-write window (10 s) before reading.
    expect(waits).toEqual([13_000]);
    // The leader is fenced: its renewal finds the Lease held by cleanup.
    expect((await leader.tryAcquireOrRenew()).held).toBe(false);
    expect(leaseHolder(w)).toBe('cleanup/job-1');
    expect(lines).toEqual([
      `cleanup of the installation whose Lease is ${OWNER}: route tables ${T1}, ${T2}, ${T3}; pod CIDRs ${PODS.join(', ')}`,
      `Lease ${OWNER}: taken, held by cleanup/job-1 for 600s (it was held by gw-a): the gateways stand by`,
      `gateway ENIs recorded on the Lease: ${GW_B.eni}, ${GW_A.eni}`,
      "waiting 13.0s: the last leader's lease duration, and for a route write it sent before stepping down to land",
      `route ${T1} ${PODS[0]} → ${GW_A.eni}: deleted`,
      `route ${T1} ${PODS[1]} → ${GW_A.eni}: deleted`,
      `route ${T2} ${PODS[0]} → ${OTHER.eni}: left: points at ${OTHER.eni}, not at one of this installation's gateway ENIs (${GW_B.eni}, ${GW_A.eni})`,
      `route ${T2} ${PODS[1]} → ${GW_B.eni}: deleted`,
      `route ${T3} ${PODS[0]} → vgw-0123456789abcdef0: left: points at vgw-0123456789abcdef0, not at one of this installation's gateway ENIs (${GW_B.eni}, ${GW_A.eni})`,
      `route ${T3} ${PODS[1]}: absent, nothing to delete`,
      `CiliumVTEPConfig hybrid-gateway: deleted (owned by this installation's Lease ${OWNER})`,
      'done: deleted 3 routes, left 2; CiliumVTEPConfig deleted',
    ]);

    // A second run (the Job retried, or run by hand) finds nothing to do and does not wait.
    const again: string[] = [];
    const waits2: number[] = [];
    const calls = deletes(w.s).length;
    const r2 = await runCleanup(config(), deps(w, again, waits2));
    expect(r2).toMatchObject({ ok: true, deleted: [], left: 2, vtepConfig: 'absent' });
    expect(deletes(w.s).length).toBe(calls);
    expect(waits2).toEqual([]);
    expect(again.at(-1)).toBe('done: deleted 0 routes, left 2; CiliumVTEPConfig absent');
  });

  it('SHARDS=2: every shard Lease is taken, every leader’s ENI read, each shard’s halves deleted (and the unsharded routes an earlier run left)', async () => {
    const w = await world();
    // gw-a leads shard 0, gw-b shard 1; each records its ENI on its own shard Lease.
    const shardLock = (identity: string, eni: string, k: number): LeaseLock => {
      const host = new HostFacts();
      host.cloud = { id: { networkInterfaceId: eni } as InstanceIdentity, ec2: w.ec2 };
      return new LeaseLock({ clients: w.clients(), namespace: NS, name: `${LEASE}-${k}`, identity, leaseDurationMs: 3000, annotate: eniRecord(host) });
    };
    const leaders = [shardLock('gw-a', GW_A.eni, 0), shardLock('gw-b', GW_B.eni, 1)];
    for (const l of leaders) expect((await l.tryAcquireOrRenew()).held).toBe(true);
    // The halves of each POD_CIDR (198.19.0.0/17 → /18s): the lower to shard 0's leader, the upper to shard 1's.
    const halves = { [GW_A.eni]: ['198.19.0.0/18', '198.19.128.0/18'], [GW_B.eni]: ['198.19.64.0/18', '198.19.192.0/18'] };
    for (const [eni, cidrs] of Object.entries(halves)) for (const c of cidrs) w.s.state.createRoute({ routeTableId: T3, cidr: c, networkInterfaceId: eni });
    const ep = [{ name: 'vpc-gateway-0-0', tunnelEndpoint: GW_A.privateIp, cidr: '198.18.0.0/17', mac: '02:00:c6:12:00:01' }];
    await new VtepConfigClient({ clients: w.clients() }).applyEndpoints('eks-hybrid-gateway/x', ep, new AbortController().signal, { key: `${NS}/${LEASE}-0` });
    const lines: string[] = [];
    const r = await runCleanup(config(['--shards', '2']), deps(w, lines));
    expect(r).toMatchObject({ ok: true, vtepConfig: 'deleted', released: false });
    for (const [, cidrs] of Object.entries(halves)) for (const c of cidrs) expect(w.target(T3, c)).toBeUndefined();
    // The unsharded POD_CIDR routes to gw-a in T1 go too (an installation that ran with one shard before).
    expect(w.target(T1, PODS[0]!)).toBeUndefined();
    // Every Lease of the installation is held by cleanup: no shard leader re-creates anything.
    for (const name of [LEASE, `${LEASE}-0`, `${LEASE}-1`]) expect((w.k.store.find('leases', name, NS)?.spec as { holderIdentity?: string }).holderIdentity).toBe('cleanup/job-1');
    for (const l of leaders) expect((await l.tryAcquireOrRenew()).held).toBe(false);
    expect(lines[0]).toBe(`cleanup of the installation whose Lease is ${OWNER} (and its shard Leases ${LEASE}-0, ${LEASE}-1): route tables ${T1}, ${T2}, ${T3}; pod CIDRs ${PODS.join(', ')}, 198.19.0.0/18, 198.19.128.0/18, 198.19.64.0/18, 198.19.192.0/18`);
    expect(lines).toContain(`gateway ENIs recorded on the Lease: ${GW_A.eni}, ${GW_B.eni}`);
  });

  it("another installation's CiliumVTEPConfig survives (and one without an owner); the routes still go", async () => {
    const w = await world();
    await installation(w, 'team-b/hybrid-gateway-leader');
    const lines: string[] = [];
    const r = await runCleanup(config(), deps(w, lines));
    expect(r).toMatchObject({ ok: true, vtepConfig: 'left' });
    expect(r.deleted).toHaveLength(3);
    expect(vtepOf(w)?.metadata?.annotations?.[OWNER_ANNOTATION]).toBe('team-b/hybrid-gateway-leader');
    expect(lines).toContain(`CiliumVTEPConfig hybrid-gateway: left: its owner annotation names Lease team-b/hybrid-gateway-leader, another installation (this one is ${OWNER})`);
    const cur = vtepOf(w)!;
    w.k.store.put('ciliumvtepconfigs', { ...cur, metadata: { ...cur.metadata, annotations: {} } });
    const r2 = await runCleanup(config(), deps(w, []));
    expect(r2.vtepConfig).toBe('left');
    expect(vtepOf(w)).toBeDefined();
  });

  it('--dry-run says what it would delete and changes nothing (the Lease is not taken)', async () => {
    const w = await world();
    await installation(w);
    const rv = w.k.store.resourceVersion;
    const lines: string[] = [];
    const r = await runCleanup(config(['--dry-run']), deps(w, lines));
    expect(r).toMatchObject({ ok: true, vtepConfig: 'would-delete' });
    expect(r.deleted).toHaveLength(3);
    expect(deletes(w.s)).toEqual([]);
    expect(w.k.store.resourceVersion).toBe(rv);
    expect(leaseHolder(w)).toBe('gw-a');
    expect(lines).toContain(`route ${T1} ${PODS[0]} → ${GW_A.eni}: would be deleted (it points at this installation's gateway ENI)`);
    expect(lines.at(-1)).toBe('dry run: would delete 3 routes, left 2; CiliumVTEPConfig would-delete');
  });

  it('a route it may not delete: exit 1 naming AWS’s error, the Lease given back so the gateways resume', async () => {
    const w = await world();
    await installation(w);
    w.s.faults.deny(['DeleteRoute']);
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), clients: () => w.clients(), ec2: () => w.ec2 };
    const env = { POD_CIDRS: PODS.join(','), ROUTE_TABLE_IDS: T1, POD_NAMESPACE: NS, AWS_REGION: 'us-west-2', POD_NAME: 'job-1' };
    const code = await cleanupCommand(['--late-write-window=0s'], env, io);
    expect(code).toBe(1);
    const text = out.join('');
    expect(text).toContain(`route ${T1} ${PODS[0]} → ${GW_A.eni}: FAILED: DeleteRoute (${T1} ${PODS[0]}) failed: UnauthorizedOperation`);
    expect(text).toContain('giving the Lease back');
    expect(leaseHolder(w)).toBe('');
    expect(w.target(T1, PODS[0]!)).toBe(GW_A.eni);
    // The gateways take the Lease at once.
    expect((await gatewayLock(w, 'gw-b', GW_B.eni).tryAcquireOrRenew()).outcome).toBe('acquired');
  }, 20_000);

  it('no Lease at all: cleanup creates it (no gateway may lead meanwhile); with no ENI recorded no route is deleted', async () => {
    const w = await world();
    await new VtepConfigClient({ clients: w.clients() }).upsert([{ name: 'vpc-gateway', tunnelEndpoint: GW_A.privateIp, cidr: '198.18.0.0/16', mac: '02:00:c6:12:00:01' }], new AbortController().signal, { key: OWNER });
    const lines: string[] = [];
    const r = await runCleanup(config(), deps(w, lines));
    expect(r).toMatchObject({ ok: true, deleted: [], vtepConfig: 'deleted', waitedMs: 0 });
    expect(leaseHolder(w)).toBe('cleanup/job-1');
    expect(w.target(T1, PODS[0]!)).toBe(GW_A.eni);
    expect(lines).toContain('gateway ENIs recorded on the Lease: none');
    expect(lines.some((l) => l.includes('no gateway ENI is recorded for this installation'))).toBe(true);
  });

  it('configuration: --help exits 0, an unknown flag or a bad value exits 2 naming it', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    expect(await cleanupCommand(['--help'], {}, io)).toBe(0);
    expect(out.join('')).toContain('Usage: eks-hybrid-gateway cleanup [flags]');
    expect(out.join('')).toContain('--dry-run');
    expect(await cleanupCommand(['--node-ip=198.18.0.1'], {}, io)).toBe(2);
    expect(err.join('')).toContain("config: cleanup: Unknown option '--node-ip'");
    err.length = 0;
    expect(await cleanupCommand(['--hold-lease=5s'], { POD_CIDRS: '198.19.0.0/33', ROUTE_TABLE_IDS: 'rtb-xyz' }, io)).toBe(2);
    const e = err.join('');
    expect(e).toContain('config: invalid POD_CIDRS "198.19.0.0/33"');
    expect(e).toContain('config: invalid ROUTE_TABLE_IDS "rtb-xyz"');
    expect(e).toContain('config: invalid --hold-lease "5s": must be at least 60s');
  });
});
