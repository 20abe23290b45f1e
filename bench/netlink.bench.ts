// Data-plane benchmark (`npm run bench netlink`, as root): 5,000 hybrid nodes
// (a /29 pod CIDR each out of 198.18.0.0/16, node IPs out of 198.19.0.0/16)
// on hybrid_vxlan0 in a namespace of its own with a dummy (or, where the
// dummy driver is missing, veth) underlay:
//   cold      program all from empty (reconcile: dump, diff, batched writes;
//             a nexthop per node and routes through it)
//   re-apply  the same desired set again: nothing to do (dump once, diff in memory)
//   churn     1% of the nodes change (half their pod CIDR, half their node IP)
//   single    one more node added with programVtep, latency until the kernel acked it
//   remove    all removed (reconcile to the empty set)
// against, in the same run, the kernel-bound baseline: `bridge -batch` +
// `ip -batch` of the same entries (and, for reference, gateway-style routes). Targets: cold ≤ 1.5× baseline, re-apply
// < 100 ms, single add < 10 ms median.
//
// The adapter acts in the namespace of its process, so this file re-runs
// itself inside the namespace (EHG_NETLINK_BENCH_WORKER=1) and reports over IPC.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDataPlane, type DataPlane, type DeviceInfo } from '../effects/netlink/index.js';
import { intToIPv4, vtepMacForNode } from '../machines/domain/ipv4.js';
import type { VtepSpec } from '../machines/domain/vtep-spec.js';
import { createNetnsRun } from '../test/support/netns.js';

const NODES = 5000;
const NODE_IP = '203.0.113.1';
const DEV = 'hybrid_vxlan0';
const POD_BASE = 0xc6120000; // 198.18.0.0
const NODE_BASE = 0xc6130000; // 198.19.0.0
const SINGLE_ADDS = 100;
const REPS = 3;

type Figures = Record<string, number>;

/** Node i: its pod CIDR is the podIdx-th /29 of 198.18.0.0/16, its IP the ipIdx-th address of 198.19.0.0/16. */
function node(i: number, podIdx = i, ipIdx = i + 1): VtepSpec {
  const nodeIP = intToIPv4(NODE_BASE + ipIdx);
  return { name: `hyb-${i}`, nodeIP, mac: vtepMacForNode(nodeIP), podCIDRs: [`${intToIPv4(POD_BASE + podIdx * 8)}/29`] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function count(): { routes: number; fdb: number; neigh: number } {
  const lines = (cmd: string, args: string[]): number =>
    spawnSync(cmd, args, { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() !== '').length;
  return {
    routes: lines('ip', ['-4', 'route', 'show', 'table', 'all', 'dev', DEV]),
    neigh: lines('ip', ['-4', 'neigh', 'show', 'dev', DEV, 'nud', 'permanent']),
    fdb: lines('bridge', ['fdb', 'show', 'dev', DEV]),
  };
}

function expectCount(n: number, what: string): void {
  const c = count();
  if (c.routes !== n || c.fdb !== n || c.neigh !== n) throw new Error(`${what}: expected ${n} of each, kernel has ${JSON.stringify(c)}`);
}

async function freshDevice(dp: DataPlane): Promise<DeviceInfo> {
  spawnSync('ip', ['link', 'del', DEV]);
  return dp.ensureDevice({ nodeIP: NODE_IP });
}

/** Runs inside the namespace. */
async function worker(): Promise<Figures> {
  const f: Figures = {};
  const specs = Array.from({ length: NODES }, (_, i) => node(i));
  const dp = openDataPlane();
  const dpSeq = openDataPlane({ writeMode: 'ack-each' });
  const tmp = mkdtempSync(join(tmpdir(), 'ehg-netlink-bench-'));
  try {
    // --- baseline: bridge -batch + ip -batch of the same entries ----------
    const fdbAdd = specs.map((s) => `fdb replace ${s.mac} dev ${DEV} dst ${s.nodeIP} self permanent`).join('\n');
    // The same entries as the gateway writes: a nexthop per node (id = its IP as a number), routes through it.
    const nhId = (ip: string): number => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
    const ipAdd = [
      ...specs.map((s) => `neigh replace ${s.nodeIP} lladdr ${s.mac} dev ${DEV} nud permanent`),
      ...specs.map((s) => `nexthop replace id ${nhId(s.nodeIP)} via ${s.nodeIP} dev ${DEV} onlink`),
      ...specs.flatMap((s) => s.podCIDRs.map((c) => `route replace ${c} nhid ${nhId(s.nodeIP)}`)),
    ].join('\n');
    const ipDel = [
      ...specs.flatMap((s) => s.podCIDRs.map((c) => `route del ${c} nhid ${nhId(s.nodeIP)}`)),
      ...specs.map((s) => `nexthop del id ${nhId(s.nodeIP)}`),
      ...specs.map((s) => `neigh del ${s.nodeIP} dev ${DEV}`),
    ].join('\n');
    // For reference: gateway-style routes (the reference's and earlier versions' form).
    const ipAddClassic = [
      ...specs.map((s) => `neigh replace ${s.nodeIP} lladdr ${s.mac} dev ${DEV} nud permanent`),
      ...specs.flatMap((s) => s.podCIDRs.map((c) => `route replace ${c} via ${s.nodeIP} dev ${DEV} onlink`)),
    ].join('\n');
    writeFileSync(join(tmp, 'ip-add-classic'), ipAddClassic + '\n');
    const fdbDel = specs.map((s) => `fdb del ${s.mac} dev ${DEV} dst ${s.nodeIP} self`).join('\n');
    writeFileSync(join(tmp, 'fdb-add'), fdbAdd + '\n');
    writeFileSync(join(tmp, 'ip-add'), ipAdd + '\n');
    writeFileSync(join(tmp, 'ip-del'), ipDel + '\n');
    writeFileSync(join(tmp, 'fdb-del'), fdbDel + '\n');
    const baseCold: number[] = [];
    const baseRemove: number[] = [];
    for (let r = 0; r < REPS; r++) {
      await freshDevice(dp);
      const t0 = performance.now();
      sh('bridge', ['-batch', join(tmp, 'fdb-add')]);
      sh('ip', ['-batch', join(tmp, 'ip-add')]);
      baseCold.push(performance.now() - t0);
      expectCount(NODES, 'baseline cold');
      const t1 = performance.now();
      sh('ip', ['-batch', join(tmp, 'ip-del')]);
      sh('bridge', ['-batch', join(tmp, 'fdb-del')]);
      baseRemove.push(performance.now() - t1);
      expectCount(0, 'baseline remove');
    }
    f.baselineColdMs = median(baseCold);
    f.baselineRemoveMs = median(baseRemove);
    const classic: number[] = [];
    for (let r = 0; r < REPS; r++) {
      await freshDevice(dp);
      const t0 = performance.now();
      sh('bridge', ['-batch', join(tmp, 'fdb-add')]);
      sh('ip', ['-batch', join(tmp, 'ip-add-classic')]);
      classic.push(performance.now() - t0);
    }
    f.classicColdMs = median(classic);

    // --- ours, one acknowledged request at a time (as ip -batch), for comparison
    const seqCold: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const dev = await freshDevice(dpSeq);
      const [ms, res] = await timed(() => dpSeq.reconcile(dev, specs));
      if (res.failed.length > 0) throw new Error(`sequential cold: ${res.failed.length} failed, e.g. ${res.failed[0]?.error.message}`);
      seqCold.push(ms);
      expectCount(NODES, 'sequential cold');
    }
    f.sequentialColdMs = median(seqCold);

    // --- ours, batched -----------------------------------------------------
    const cold: number[] = [];
    const reapply: number[] = [];
    const churn: number[] = [];
    const remove: number[] = [];
    const single: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const dev = await freshDevice(dp);
      const [ms, res] = await timed(() => dp.reconcile(dev, specs));
      if (res.failed.length > 0 || res.added.length !== 4 * NODES) throw new Error(`cold: ${res.failed.length} failed, ${res.added.length} added`);
      cold.push(ms);
      expectCount(NODES, 'cold');

      for (let k = 0; k < 5; k++) {
        const [msRe, re] = await timed(() => dp.reconcile(dev, specs));
        if (re.added.length + re.removed.length + re.fixed.length > 0) throw new Error('re-apply changed something');
        reapply.push(msRe);
      }

      // 1% churn (50 nodes): 25 move their pod CIDR, 25 change their node IP.
      const churned = specs.map((s, i) =>
        i % 200 === 0 ? node(i, NODES + i / 200) : i % 200 === 100 ? node(i, i, 20_000 + i) : s,
      );
      const [msChurn, ch] = await timed(() => dp.reconcile(dev, churned));
      if (ch.failed.length > 0) throw new Error(`churn: ${ch.failed.length} failed`);
      churn.push(msChurn);
      f.churnWrites = ch.added.length + ch.removed.length + ch.fixed.length;
      expectCount(NODES, 'churn');

      for (let k = 0; k < SINGLE_ADDS; k++) {
        const s = node(NODES + k, NODES + 100 + k, 40_000 + k);
        const [msOne] = await timed(() => dp.programVtep(dev, s, []));
        single.push(msOne);
      }
      expectCount(NODES + SINGLE_ADDS, 'single adds');

      const [msRm, rm] = await timed(() => dp.reconcile(dev, []));
      if (rm.failed.length > 0) throw new Error(`remove: ${rm.failed.length} failed`);
      remove.push(msRm);
      expectCount(0, 'remove');
    }
    f.coldMs = median(cold);
    f.reapplyMs = median(reapply);
    f.reapplyMaxMs = Math.max(...reapply);
    f.reapplyP90Ms = [...reapply].sort((a, b) => a - b)[Math.floor(reapply.length * 0.9)]!;
    f.reapplySamples = reapply.length;
    f.churnMs = median(churn);
    f.singleAddMedianMs = median(single);
    f.singleAddP95Ms = [...single].sort((a, b) => a - b)[Math.floor(single.length * 0.95)]!;
    f.removeMs = median(remove);
    spawnSync('ip', ['link', 'del', DEV]);
    return f;
  } finally {
    await dp.close();
    await dpSeq.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<void> {
  const run = createNetnsRun();
  try {
    const ns = await run.ns('bench');
    try {
      await run.ip(ns, ['link', 'add', 'u0', 'type', 'dummy']);
      await run.ip(ns, ['link', 'set', 'u0', 'up']);
      await run.ip(ns, ['addr', 'add', `${NODE_IP}/24`, 'dev', 'u0']);
    } catch {
      // No dummy driver here: a veth pair with both ends in the namespace.
      const peer = await run.ns('bench-peer');
      await run.veth({ ns, ifname: 'u0', addr: `${NODE_IP}/24` }, { ns: peer, ifname: 'u0' });
    }
    const child = run.spawnNode(ns, 'bench/netlink.bench.ts', [], { EHG_NETLINK_BENCH_WORKER: '1' });
    const f = await new Promise<Figures>((resolve, reject) => {
      child.on('message', (m: unknown) => {
        const msg = m as { figures?: Figures; error?: string };
        if (msg.figures !== undefined) resolve(msg.figures);
        else if (msg.error !== undefined) reject(new Error(msg.error));
      });
      child.on('exit', (code) => reject(new Error(`bench worker exited (${code})`)));
    });
    const ms = (x: number | undefined): string => `${(x ?? NaN).toFixed(1).padStart(8)} ms`;
    const line = (label: string, value: string, note = ''): void => {
      process.stdout.write(`${label.padEnd(44)}${value}${note !== '' ? `   ${note}` : ''}\n`);
    };
    const coldRatio = f.coldMs! / f.baselineColdMs!;
    line(`nodes`, `${NODES}`.padStart(11), '(1 route, nexthop, neighbour and FDB entry each)');
    line('baseline cold (bridge -batch + ip -batch)', ms(f.baselineColdMs), '(the same entries: nexthop per node)');
    line('  the same with gateway-style routes', ms(f.classicColdMs), '(for reference: the kernel takes these in O(N²))');
    line('ours cold, batched (reconcile from empty)', ms(f.coldMs), `ratio ${coldRatio.toFixed(2)}× baseline (target ≤ 1.5×) ${coldRatio <= 1.5 ? 'OK' : 'MISSED'}`);
    line('ours cold, one ACKed request at a time', ms(f.sequentialColdMs), `ratio ${(f.sequentialColdMs! / f.baselineColdMs!).toFixed(2)}× baseline`);
    line(
      'ours re-apply, nothing to do (median)',
      ms(f.reapplyMs),
      `p90 ${f.reapplyP90Ms!.toFixed(1)} ms, max ${f.reapplyMaxMs!.toFixed(1)} ms of ${f.reapplySamples} (target < 100 ms) ${f.reapplyMs! < 100 ? 'OK' : 'MISSED'}${f.reapplyMaxMs! >= 100 ? ' (max over)' : ''}`,
    );
    line('ours churn 1% (50 nodes)', ms(f.churnMs), `${f.churnWrites} writes`);
    line('ours single node add (median)', ms(f.singleAddMedianMs), `p95 ${f.singleAddP95Ms!.toFixed(2)} ms (target < 10 ms) ${f.singleAddMedianMs! < 10 ? 'OK' : 'MISSED'}`);
    line('baseline remove all (ip -batch + bridge -batch)', ms(f.baselineRemoveMs));
    line('ours remove all (reconcile to empty)', ms(f.removeMs), `ratio ${(f.removeMs! / f.baselineRemoveMs!).toFixed(2)}× baseline`);
    process.stdout.write(`(medians of ${REPS} runs; single add over ${SINGLE_ADDS * REPS} adds with ${NODES} nodes present)\n`);
  } finally {
    await run.teardown();
  }
}

if (process.env.EHG_NETLINK_BENCH_WORKER === '1') {
  try {
    process.send?.({ figures: await worker() });
  } catch (err) {
    process.send?.({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
  process.disconnect?.();
}
