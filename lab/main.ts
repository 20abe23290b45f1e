// The lab command (`npm run lab`, as root):
//   npm run lab            bring the lab up, run traffic, measure a node loss, a
//                          SIGTERM hand-over, a hybrid node added and removed;
//                          check MTUs (TCP bulk both ways, ICMP frag-needed) and
//                          the leader's idle cost (two drift periods); print the
//                          report, write it under lab-output/, tear down
//   npm run lab -- up      bring it up with traffic and keep it running until Ctrl-C
//   npm run lab -- down    remove every lab namespace and process (prefix ehlab-)
//   --profile realistic|ideal  how real the lab is (lab/profile.ts; default
//                          LAB_PROFILE, else realistic)
//   --shards N             the gateways run SHARDS=N (2..4; default 1, the lab
//                          above): a hybrid pod and a VPC pod per shard, traffic
//                          through every gateway, 3 node losses (each gateway in
//                          turn) with the return, the per-shard single-writer
//                          check; report under lab-output/shards-N/
// Ctrl-C or any failure tears everything down.
import { copyFile, mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ECHO_PORT, GATEWAYS, VPC_POD_IP } from './addresses.js';
import { checkMtu, checkShardWriters, measureIdleCost, type IdleCost, type MtuReport } from './checks.js';
import { Lab, now } from './lab.js';
import { createNetnsRun, deleteNamespaceSync, listNamespaces, REPO_ROOT, type NetnsRun } from './netns.js';
import { LAB_PROFILE_NAMES, resolveLabProfile, type LabProfileName } from './profile.js';
import { formatReport, formatShardReport, writeReport, writeShardReport, type ShardLabReport } from './report.js';
import {
  checkTrace,
  measureFailover,
  measureNodeAdd,
  measureNodeRemove,
  measureShardNodeLoss,
  shardTrafficSnapshot,
  type FailoverResult,
  type ShardNodeLossResult,
  type StepResult,
} from './scenarios.js';
import { LAB_MAX_SHARDS } from './shards.js';

export const LAB_PREFIX = 'ehlab-';
const OUTPUT = join(REPO_ROOT, 'lab-output');
const USAGE = `usage: npm run lab [-- [up | down] [--profile realistic|ideal] [--shards N] | --help]
  (no argument)  bring the lab up, measure node loss, SIGTERM hand-over, node add/remove, the MTU
                 checks and the leader's idle cost; report under lab-output/
  up             bring the lab up with traffic and keep it running until Ctrl-C
  down           remove every lab namespace (${LAB_PREFIX}*) and the processes in them
  --profile P    realistic (default; or LAB_PROFILE): MTUs as on AWS (VPC 9001, VPN path 1500),
                 the EC2 stand-in's throttling/pagination/latency/propagation, CRD defaults,
                 Cilium status refresh; ideal: the lab as before profiles (lab/README.md)
  --shards N     2..${LAB_MAX_SHARDS}: the gateways run SHARDS=N with a hybrid pod and a VPC pod on every shard;
                 measures traffic through every gateway, node losses (the other shards' flows must
                 lose nothing) and the returns (nothing lost), the per-shard single writer;
                 report under lab-output/shards-N/`;
/** Node losses of the sharded lab: each gateway in turn, medians over them. */
const SHARD_LOSSES = 3;

const log = (line: string): void => {
  process.stdout.write(`[lab ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
};

function down(): number {
  const mine = listNamespaces().filter((n) => n.startsWith(LAB_PREFIX));
  for (const ns of mine) deleteNamespaceSync(ns);
  log(mine.length === 0 ? 'nothing to remove' : `removed ${mine.length} namespaces: ${mine.join(' ')}`);
  return 0;
}

let active: { lab?: Lab; run: NetnsRun } | undefined;
let tearing: Promise<void> | undefined;

function teardown(): Promise<void> {
  tearing ??= (async () => {
    if (active === undefined) return;
    log('tearing down');
    await (active.lab?.teardown() ?? active.run.teardown());
    const left = listNamespaces().filter((n) => n.startsWith(LAB_PREFIX));
    for (const ns of left) deleteNamespaceSync(ns);
  })();
  return tearing;
}

let profileName: LabProfileName | undefined;
let shards: number | undefined;

async function bringUp(): Promise<Lab> {
  if (listNamespaces().some((n) => n.startsWith(LAB_PREFIX))) {
    throw new Error(`a lab is up already (namespaces ${LAB_PREFIX}*): stop it with Ctrl-C or \`npm run lab -- down\``);
  }
  const run = createNetnsRun({ prefix: LAB_PREFIX });
  active = { run };
  const lab = await Lab.create({ run, log, ...(profileName !== undefined ? { profile: profileName } : {}), ...(shards !== undefined ? { shards } : {}) });
  active.lab = lab;
  // If the control plane dies (e.g. `lab down` from another shell), stop too.
  lab.ctl.child.once('exit', () => {
    if (tearing === undefined) {
      log('the control plane exited; stopping');
      void teardown().then(() => process.exit(1));
    }
  });
  if (shards !== undefined) {
    log(`starting gateways gw-a and gw-b (runtime/main.ts) with SHARDS=${shards}`);
    for (const g of GATEWAYS) lab.startGateway(g.name);
    const leaders = await lab.waitBalanced(90_000);
    log(`converged: ${leaders.map((g, k) => `shard ${k} led by ${g}`).join(', ')}; starting traffic (UDP probe every 10 ms, both directions, every hybrid pod with its shard's VPC pod)`);
    for (const n of lab.hybrid.values()) await lab.startTraffic(n);
    return lab;
  }
  log('starting gateways gw-a and gw-b (runtime/main.ts)');
  for (const g of GATEWAYS) lab.startGateway(g.name);
  const leader = await lab.waitConverged(60_000);
  log(`converged: ${leader} leads; starting traffic (UDP probe every 10 ms, both directions, every hybrid pod)`);
  for (const n of lab.hybrid.values()) await lab.startTraffic(n);
  return lab;
}

async function full(): Promise<number> {
  const startedAt = new Date().toISOString();
  const lab = await bringUp();
  await new Promise((r) => setTimeout(r, 1000));
  const steps: StepResult[] = [];
  steps.push(await measureFailover(lab, 'node-loss', log));
  steps.push(await measureFailover(lab, 'sigterm', log));
  const next = Math.max(...[...lab.hybrid.values()].map((n) => n.index)) + 1;
  steps.push(await measureNodeAdd(lab, next, log));
  steps.push(await measureNodeRemove(lab, `hyb-${next}`, log));
  log('MTU checks: TCP bulk both ways (4 MiB echoed), path-MTU discovery through the leader, a 1500-byte DF datagram');
  let mtu: MtuReport | undefined;
  try {
    mtu = await checkMtu(lab);
  } catch (err) {
    log(`MTU checks failed: ${(err as Error).message}`);
  }
  log('idle cost: two drift periods (60 s) with nothing changing but the Cilium stand-ins\' status refresh');
  let idle: IdleCost | undefined;
  try {
    idle = await measureIdleCost(lab);
  } catch (err) {
    log(`idle cost not measured: ${(err as Error).message}`);
  }
  // The gateways run at the default lease timings (3 s / 2 s / 1 s): one retry period is 1 s.
  const traces = steps.filter((s): s is FailoverResult => s.step === 'node-loss' || s.step === 'sigterm').map((s) => checkTrace(s, 1000));
  const final = await lab.converged();
  const otlp = await lab.ask<unknown[]>({ op: 'otlpRequests' });
  const report = {
    profile: lab.profile.name,
    startedAt,
    finishedAt: new Date().toISOString(),
    leaseTimings: { durationS: 3, renewDeadlineS: 2, retryPeriodS: 1 },
    steps,
    traceChecks: traces,
    ...(mtu !== undefined ? { mtu } : {}),
    ...(idle !== undefined ? { idle } : {}),
    converged: final.ok,
  };
  const mtuOk = mtu !== undefined && mtu.tcp.every((t) => t.ok) && mtu.icmp.mtuSeen !== undefined;
  const idleOk = idle !== undefined && idle.crWrites === 0 && idle.throttled === 0 && idle.routeWrites === 0 && idle.describeRounds <= Math.round(idle.windowMs / idle.driftPeriodMs);
  process.stdout.write(`\nprofile: ${lab.profile.name}\n\n${formatReport(steps, { ...(mtu ? { mtu } : {}), ...(idle ? { idle } : {}) })}\n\nfailover traces against the outage:\n${traces.map((t) => `  ${t.line}`).join('\n')}\n\nfinal state: ${final.ok ? `converged, ${final.leader} leads` : `NOT converged: ${final.problems.join('; ')}`}\n`);
  const files = await writeReport(OUTPUT, report, otlp);
  process.stdout.write(`written: ${files.map((f) => relative(process.cwd(), f)).join(', ')}\n\n`);
  await teardown();
  if (!mtuOk) log('MTU checks: NOT all passed (see above)');
  if (!idleOk) log('idle cost: targets NOT met (see above)');
  const tracesOk = traces.every((t) => t.ok);
  if (!tracesOk) log('failover traces: NOT all within the outage bounds (see above)');
  return final.ok && mtuOk && idleOk && tracesOk ? 0 : 1;
}

/** `npm run lab -- --shards N`: the sharded lab's measurements and report. */
async function fullShards(n: number): Promise<number> {
  const startedAt = new Date().toISOString();
  const lab = await bringUp();
  await new Promise((r) => setTimeout(r, 1000));
  log('traffic through every gateway: hybrid_vxlan0 counters over 3 s, each flow\'s carrier');
  const traffic = await shardTrafficSnapshot(lab, 3000);
  const nodeLosses: ShardNodeLossResult[] = [];
  for (let i = 0; i < SHARD_LOSSES; i++) nodeLosses.push(await measureShardNodeLoss(lab, i % n, log));
  const steps: StepResult[] = [];
  const next = Math.max(...[...lab.hybrid.values()].map((h) => h.index)) + 1;
  steps.push(await measureNodeAdd(lab, next, log));
  steps.push(await measureNodeRemove(lab, `hyb-${next}`, log));
  log('MTU checks through shard 0\'s leader (TCP bulk, path-MTU discovery, a 1500-byte DF datagram)');
  let mtu: MtuReport | undefined;
  try {
    mtu = await checkMtu(lab);
  } catch (err) {
    log(`MTU checks failed: ${(err as Error).message}`);
  }
  const writers = await checkShardWriters(lab);
  let final = await lab.converged();
  if (final.ok) await lab.waitBalanced(30_000).catch((err: unknown) => (final = { ...final, ok: false, problems: [(err as Error).message] }));
  const report: ShardLabReport = {
    profile: lab.profile.name,
    shards: n,
    startedAt,
    finishedAt: new Date().toISOString(),
    leaseTimings: { durationS: 3, renewDeadlineS: 2, retryPeriodS: 1 },
    traffic,
    nodeLosses,
    steps,
    writers,
    ...(mtu !== undefined ? { mtu } : {}),
    converged: final.ok,
  };
  const dir = join(OUTPUT, `shards-${n}`);
  process.stdout.write(`\nprofile: ${lab.profile.name}, shards: ${n}\n\n${formatShardReport(report)}\n\nfinal state: ${final.ok ? `converged, ${(final.leaders ?? []).map((g, k) => `shard ${k} ${g}`).join(', ')}` : `NOT converged: ${final.problems.join('; ')}`}\n`);
  const files = await writeShardReport(dir, report, await lab.ask<unknown[]>({ op: 'otlpRequests' }), await lab.spans());
  process.stdout.write(`written: ${files.map((f) => relative(process.cwd(), f)).join(', ')}\n\n`);
  await teardown();
  const bothForward = Object.values(traffic.counters).every((c) => c.rxPackets > 0 && c.txPackets > 0) && new Set(traffic.holders).size === Math.min(n, GATEWAYS.length);
  const kept = nodeLosses.every((l) => l.otherShardsLost === 0);
  const returned = nodeLosses.every((l) => l.back.lost === 0);
  const mtuOk = mtu !== undefined && mtu.tcp.every((t) => t.ok) && mtu.icmp.mtuSeen !== undefined;
  if (!bothForward) log('traffic: NOT through every gateway (see above)');
  if (!kept) log('node loss: the other shards\' flows LOST probes (see above)');
  if (!returned) log('return: probes LOST during a hand-back (see above)');
  if (writers.violations.length > 0) log('single writer per shard: VIOLATED (see above)');
  if (!mtuOk) log('MTU checks: NOT all passed (see above)');
  return final.ok && bothForward && kept && returned && writers.violations.length === 0 && mtuOk ? 0 : 1;
}

async function up(): Promise<number> {
  const lab = await bringUp();
  await mkdir(OUTPUT, { recursive: true });
  const kubeconfig = join(OUTPUT, 'kubeconfig');
  await copyFile(lab.info.kubeconfig, kubeconfig);
  const n = lab.ns;
  const hyb = [...lab.hybrid.values()][0]!;
  process.stdout.write(`
The lab is up (Ctrl-C tears it down; \`npm run lab -- down\` from another shell does too).
Namespaces: ${[n.ctl, n.router, n.vpcPod, ...lab.vpcPods.slice(1).map((p) => p.ns), n.onprem, n.gw['gw-a'], n.gw['gw-b'], ...[...lab.hybrid.values()].flatMap((h) => [h.nodeNs, h.podNs])].join(' ')}

Explore:
  KUBECTL=$(bash scripts/k8s-tools.sh | tail -1)/kubectl
  ip netns exec ${n.ctl} $KUBECTL --kubeconfig ${relative(process.cwd(), kubeconfig)} get leases -n kube-system -w
  ip netns exec ${n.ctl} $KUBECTL --kubeconfig ${relative(process.cwd(), kubeconfig)} get ciliumnodes,ciliumvtepconfigs -o yaml
  ip -n ${n.router} route                                   # the VPC router: ${'198.19.0.0/16'} via the leader's ENI IP
  ip -n ${n.gw['gw-a']} route show dev hybrid_vxlan0        # a gateway's VTEP routes
  bridge -n ${n.gw['gw-a']} fdb show dev hybrid_vxlan0
  ip -n ${hyb.nodeNs} route                                 # a hybrid node: the VPC CIDR via the leader
  # a hybrid pod → the VPC pod's UDP echo (port ${ECHO_PORT}), through the gateway:
  ip netns exec ${hyb.podNs} node -e "const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log('echo:',String(m));process.exit(0)});s.send('hello',${ECHO_PORT},'${VPC_POD_IP}');setTimeout(()=>{console.log('no echo');process.exit(1)},1000)"
  ip netns exec ${n.gw['gw-a']} node -e "fetch('http://${GATEWAYS[0].ip}:10080/metrics').then(r=>r.text()).then(console.log)"
  kill -STOP / -9 the gateway processes (ip netns pids ${n.gw['gw-a']}) to watch a failover
`);
  await new Promise<never>(() => undefined);
  return 0;
}

async function main(rawArgv: readonly string[]): Promise<number> {
  const argv = [...rawArgv];
  const p = argv.findIndex((a) => a === '--profile' || a.startsWith('--profile='));
  if (p >= 0) {
    const value = argv[p]!.includes('=') ? argv[p]!.slice('--profile='.length) : argv[p + 1];
    argv.splice(p, argv[p]!.includes('=') ? 1 : 2);
    if (value === undefined || !(LAB_PROFILE_NAMES as readonly string[]).includes(value)) {
      process.stderr.write(`--profile: want ${LAB_PROFILE_NAMES.join(' or ')} (got ${value ?? 'nothing'})\n${USAGE}\n`);
      return 2;
    }
    profileName = value as LabProfileName;
  }
  const sh = argv.findIndex((a) => a === '--shards' || a.startsWith('--shards='));
  if (sh >= 0) {
    const value = argv[sh]!.includes('=') ? argv[sh]!.slice('--shards='.length) : argv[sh + 1];
    argv.splice(sh, argv[sh]!.includes('=') ? 1 : 2);
    const v = Number(value);
    if (value === undefined || !Number.isInteger(v) || v < 1 || v > LAB_MAX_SHARDS) {
      process.stderr.write(`--shards: want an integer from 1 to ${LAB_MAX_SHARDS} (got ${value ?? 'nothing'})\n${USAGE}\n`);
      return 2;
    }
    // --shards 1 is the lab as it always was.
    if (v > 1) shards = v;
  }
  const cmd = argv[0];
  if (cmd !== 'down' && cmd !== '--help' && cmd !== '-h' && cmd !== 'help') {
    try {
      profileName = resolveLabProfile(profileName).name;
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 2;
    }
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (cmd !== undefined && cmd !== 'up' && cmd !== 'down') {
    process.stderr.write(`unknown argument ${cmd}\n${USAGE}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('the lab needs root (network namespaces): run it as root\n');
    return 2;
  }
  if (cmd === 'down') return down();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`${sig}`);
      void teardown().then(() => process.exit(130));
    });
  }
  try {
    return cmd === 'up' ? await up() : shards !== undefined ? await fullShards(shards) : await full();
  } catch (err) {
    process.stderr.write(`lab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await teardown();
    return 1;
  }
}

const t = now();
const code = await main(process.argv.slice(2));
log(`done in ${((now() - t) / 1000).toFixed(1)} s`);
process.exit(code);
