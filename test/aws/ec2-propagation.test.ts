// Route propagation: the realistic profile's delay between EC2 accepting a
// route write and the route taking effect in the VPC data plane (the lab's
// router namespace). The scheduler on an injected clock, then the
// control-plane worker's vpcRouter hook against a real namespace's kernel
// routes, read back from the route log (routerDueMs / routerAppliedMs).
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRouteCommand, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { createEc2Client } from '../../effects/aws/index.js';
import { createPropagator, type RouteChange } from '../../lab/ec2/index.js';
import type { RouteWrite } from '../../lab/control-plane-worker.js';
import { IpcPeer, type Reply } from '../support/netns-clients.js';
import { REPO_ROOT, createNetnsRun, type NetnsRun } from '../support/netns.js';
import { CREDENTIALS, GW_A, GW_B, REGION, VPC, VPC_CIDR } from './fixture.js';

/** A manual clock: sleeps resolve when advance() passes their deadline. */
function fakeTime(start = 1_000_000) {
  let t = start;
  const timers: Array<{ at: number; resolve: () => void }> = [];
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 20; i += 1) await Promise.resolve();
  };
  return {
    now: () => t,
    sleep: (ms: number) => new Promise<void>((r) => timers.push({ at: t + ms, resolve: r })),
    async advance(ms: number): Promise<void> {
      const end = t + ms;
      for (;;) {
        await flush();
        const due = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        t = Math.max(t, due.at);
        timers.splice(timers.indexOf(due), 1);
        due.resolve();
      }
      t = end;
      await flush();
    },
  };
}

const change = (cidr: string, privateIp: string): RouteChange => ({
  routeTableId: 'rtb-0000000a',
  cidr,
  target: { kind: 'interface', networkInterfaceId: 'eni-0a00000000000000a', privateIp, instanceId: 'i-0aaaaaaaaaaaaaaa1' },
});

describe('createPropagator on an injected clock', () => {
  it('applies a change after ms + random × jitter, not before', async () => {
    const time = fakeTime();
    const applied: Array<[string, number]> = [];
    const p = createPropagator({ delay: { ms: 500, jitterMs: 500 }, random: () => 0.5, now: time.now, sleep: time.sleep, apply: (c) => (applied.push([c.cidr, time.now()]), Promise.resolve()) });
    const s = p.schedule(change('198.19.1.0/24', '198.18.0.10'));
    expect([s.delayMs, s.dueMs - s.acceptedMs]).toEqual([750, 750]);
    await time.advance(749);
    expect(applied).toEqual([]);
    expect(p.pending).toBe(1);
    await time.advance(1);
    expect(applied).toEqual([['198.19.1.0/24', s.acceptedMs + 750]]);
    expect(await s.done).toEqual({ appliedMs: s.acceptedMs + 750 });
    expect(p.pending).toBe(0);
  });

  it('keeps the write order per CIDR (a later, shorter-delayed write waits), and other CIDRs go their own pace', async () => {
    const time = fakeTime();
    const draws = [0.9, 0, 0];
    const applied: string[] = [];
    const p = createPropagator({ delay: { ms: 500, jitterMs: 500 }, random: () => draws.shift() ?? 0, now: time.now, sleep: time.sleep, apply: (c) => (applied.push(`${c.cidr} via ${c.target?.kind === 'interface' ? c.target.privateIp : '-'} @${time.now() - 1_000_000}`), Promise.resolve()) });
    p.schedule(change('198.19.1.0/24', '198.18.0.10')); // due +950
    await time.advance(100);
    p.schedule(change('198.19.1.0/24', '198.18.0.11')); // due +600, but after the first
    p.schedule(change('198.19.2.0/24', '198.18.0.11')); // due +600, independent
    await time.advance(2_000);
    expect(applied).toEqual(['198.19.2.0/24 via 198.18.0.11 @600', '198.19.1.0/24 via 198.18.0.10 @950', '198.19.1.0/24 via 198.18.0.11 @950']);
    await p.idle();
  });

  it('without a delay the change is applied at once (no sleep); a failed apply is reported, not thrown', async () => {
    const time = fakeTime();
    let slept = 0;
    const p = createPropagator({
      delay: false,
      now: time.now,
      sleep: (ms) => ((slept += 1), time.sleep(ms)),
      apply: (c) => (c.cidr === '198.19.9.0/24' ? Promise.reject(new Error('RTNETLINK answers: Network is unreachable')) : Promise.resolve()),
    });
    expect(await p.schedule(change('198.19.1.0/24', '198.18.0.10')).done).toEqual({ appliedMs: time.now() });
    expect(await p.schedule(change('198.19.9.0/24', '198.18.0.10')).done).toEqual({ error: 'RTNETLINK answers: Network is unreachable' });
    expect(slept).toBe(0);
  });
});

// ---------------------------------------------------------------------------
// The control-plane worker (on 127.0.0.1) driving a router namespace's kernel.

const root = process.getuid?.() === 0;
if (!root) process.stderr.write('test/aws/ec2-propagation: skipping the vpcRouter tests: they need root (network namespaces)\n');

const TABLE = 'rtb-0000000a';
const GATEWAYS = [
  { name: 'gw-a', instanceId: GW_A.instanceId, eni: GW_A.eni, mac: GW_A.mac, ip: GW_A.privateIp },
  { name: 'gw-b', instanceId: GW_B.instanceId, eni: GW_B.eni, mac: GW_B.mac, ip: GW_B.privateIp },
];

interface Worker {
  peer: IpcPeer;
  child: ChildProcess;
  info: { ec2Url: string; ec2Profile: string };
  ask<T>(body: Record<string, unknown>): Promise<T>;
}

describe.skipIf(!root)('the control-plane worker applies route changes to the VPC router', () => {
  let run: NetnsRun;
  let router: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    run = createNetnsRun();
    router = await run.ns('router');
    // The VPC subnet the gateways' ENIs sit on, so their private IPs are on-link next hops.
    const vpc = await run.ns('vpc');
    await run.veth({ ns: router, ifname: 'vpc0', addr: '198.18.0.1/24' }, { ns: vpc, ifname: 'eth0', addr: '198.18.0.2/24' });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await run?.teardown();
  }, 30_000);

  async function startWorker(extra: Record<string, unknown>): Promise<Worker> {
    const opts = { host: '127.0.0.1', region: REGION, vpcId: VPC, vpcCidr: VPC_CIDR, subnetId: GW_A.subnetId, routeTableIds: [TABLE], gateways: GATEWAYS, vpcRouter: { ns: router, routeTableId: TABLE }, ...extra };
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'lab/control-plane-worker.ts'), JSON.stringify(opts)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    children.push(child);
    child.stderr?.resume();
    const ready = new Promise<Worker['info']>((r) => child.once('message', (m) => r(m as Worker['info'])));
    const peer = new IpcPeer(child, 'control plane');
    await peer.ready;
    const info = await ready;
    return {
      peer,
      child,
      info,
      async ask<T>(body: Record<string, unknown>): Promise<T> {
        const r: Reply = await peer.request(body);
        if (!r.ok) throw new Error(String(r.error));
        return r.value as T;
      },
    };
  }

  const kernelVia = async (cidr: string): Promise<string | undefined> =>
    (await run.ipJson<Array<{ dst: string; gateway?: string }>>(router, ['route', 'show', cidr]))[0]?.gateway;

  async function untilApplied(w: Worker, cidr: string, eni: string, timeoutMs = 10_000): Promise<RouteWrite> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = (await w.ask<RouteWrite[]>({ op: 'routeLog' })).find((e) => e.cidr === cidr && e.eni === eni && (e.routerAppliedMs !== undefined || e.routerError !== undefined));
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`route ${cidr} → ${eni} never took effect`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('realistic: EC2 answers on acceptance; the kernel route follows after the propagation delay, logged as routerDueMs / routerAppliedMs', async () => {
    const w = await startWorker({ ec2Profile: 'realistic', ec2Behaviour: { latency: false, propagation: { ms: 1500, jitterMs: 0 } } });
    expect(w.info.ec2Profile).toBe('realistic');
    expect(await w.ask<{ profile: string; propagation: unknown }>({ op: 'ec2Behaviour' })).toMatchObject({ profile: 'realistic', propagation: { ms: 1500, jitterMs: 0 } });
    const ec2 = createEc2Client({ region: REGION, endpoint: w.info.ec2Url, credentials: CREDENTIALS });
    try {
      const cidr = '198.19.1.0/24';
      await ec2.send(new CreateRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr, NetworkInterfaceId: GW_A.eni }));
      const answeredMs = Date.now();
      const early = await kernelVia(cidr);
      const log = await w.ask<RouteWrite[]>({ op: 'routeLog' });
      const entry = log.find((e) => e.cidr === cidr);
      expect(entry?.routerDueMs).toBeDefined();
      // Checked only while the route is still due (a stalled machine may read it later).
      if (Date.now() < (entry?.routerDueMs ?? 0)) expect(early).toBeUndefined();
      expect(answeredMs).toBeLessThan(entry?.routerDueMs ?? 0);

      const applied = await untilApplied(w, cidr, GW_A.eni);
      expect(applied.routerError).toBeUndefined();
      expect((applied.routerDueMs ?? 0) - applied.atMs).toBe(1500);
      expect(applied.routerAppliedMs).toBeGreaterThanOrEqual(applied.routerDueMs ?? Infinity);
      expect(await kernelVia(cidr)).toBe(GW_A.privateIp);

      // Two writes in a row to one CIDR take effect in write order: the router ends on the second.
      await ec2.send(new ReplaceRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr, NetworkInterfaceId: GW_B.eni }));
      await ec2.send(new ReplaceRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr, NetworkInterfaceId: GW_A.eni }));
      const writes = (await w.ask<RouteWrite[]>({ op: 'routeLog' })).filter((e) => e.cidr === cidr);
      const end = Date.now() + 10_000;
      while (writes.length < 3 || writes.some((e) => e.routerAppliedMs === undefined)) {
        if (Date.now() > end) throw new Error('the replaces never took effect');
        await new Promise((r) => setTimeout(r, 50));
        writes.splice(0, writes.length, ...(await w.ask<RouteWrite[]>({ op: 'routeLog' })).filter((e) => e.cidr === cidr));
      }
      expect(writes.map((e) => e.eni)).toEqual([GW_A.eni, GW_B.eni, GW_A.eni]);
      expect(writes[2]!.routerAppliedMs).toBeGreaterThanOrEqual(writes[1]!.routerAppliedMs!);
      expect(await kernelVia(cidr)).toBe(GW_A.privateIp);
    } finally {
      ec2.destroy();
      await w.peer.stop();
    }
  }, 30_000);

  it('ideal: the kernel route is in place before the API answers (as before)', async () => {
    const w = await startWorker({ ec2Profile: 'ideal' });
    expect(w.info.ec2Profile).toBe('ideal');
    const ec2 = createEc2Client({ region: REGION, endpoint: w.info.ec2Url, credentials: CREDENTIALS });
    try {
      const cidr = '198.19.2.0/24';
      await ec2.send(new CreateRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: cidr, NetworkInterfaceId: GW_B.eni }));
      const answeredMs = Date.now();
      expect(await kernelVia(cidr)).toBe(GW_B.privateIp);
      const entry = (await w.ask<RouteWrite[]>({ op: 'routeLog' })).find((e) => e.cidr === cidr);
      expect(entry?.routerAppliedMs).toBeLessThanOrEqual(answeredMs);
      expect(entry?.routerDueMs).toBe(entry?.atMs);
    } finally {
      ec2.destroy();
      await w.peer.stop();
    }
  }, 30_000);
});
