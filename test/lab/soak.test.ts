// A randomized soak of the whole lab: at random moments it kills -9,
// freezes (SIGSTOP … SIGCONT), SIGTERMs or takes the node away from (links
// down + kill -9) a gateway, or kills both at once, then brings it back.
// Throughout, no two leaders may write: every route write the EC2 stand-in
// applied must come from the gateway the Lease named (within its duration)
// at that instant. At the end the lab must converge: one leader; route
// tables, the VPC router, CiliumVTEPConfig, every Cilium stand-in and both
// gateways' kernel entries correct; traffic both ways. No gateway may exit on
// its own. The same soak runs again with SHARDS=2 (shorter, for CI): there
// every route and endpoint write must come from the holder of its shard's
// Lease (lab/shard-writers.ts), and at the end each gateway leads one shard.
//   LAB_SOAK_SEED=<n>        replay a run (the seed is printed; both soaks use it)
//   LAB_SOAK_MS=<ms>         chaos phase length (default 100 000)
//   LAB_SOAK_SHARDS_MS=<ms>  the same with 2 shards (default 40 000)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAYS, type GatewayName } from '../../lab/addresses.js';
import { checkShardWriters } from '../../lab/checks.js';
import { Lab } from '../../lab/lab.js';
import { createNetnsRun, stderrTail } from '../../lab/netns.js';
import { checkSingleWriter, sleep } from './helpers.js';

const SEED = process.env.LAB_SOAK_SEED !== undefined ? Number(process.env.LAB_SOAK_SEED) : Math.floor(Math.random() * 2 ** 31);
const CHAOS_MS = Number(process.env.LAB_SOAK_MS ?? 100_000);
const SHARDS_CHAOS_MS = Number(process.env.LAB_SOAK_SHARDS_MS ?? 40_000);

/** mulberry32: a small seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Action = 'kill-9' | 'node-loss' | 'sigstop' | 'sigterm' | 'kill-both';
const ACTIONS: readonly Action[] = ['kill-9', 'node-loss', 'sigstop', 'sigstop', 'sigterm', 'kill-both'];

function soak(shards: number, chaosMs: number): void {
  let lab: Lab;

  describe(`randomized soak${shards > 1 ? ` with SHARDS=${shards}` : ''} (LAB_SOAK_SEED=${SEED}, ${chaosMs} ms)`, () => {
    beforeAll(async () => {
      lab = await Lab.create({ run: createNetnsRun(), hybridNodes: 2, shards });
      for (const g of GATEWAYS) lab.startGateway(g.name);
      await lab.waitConverged(60_000);
      for (const n of lab.hybrid.values()) await lab.startTraffic(n);
    }, 120_000);

    afterAll(async () => {
      await lab?.teardown();
    }, 60_000);

    it(
      'never two leaders writing; converged at the end',
      async () => {
        const rnd = prng(SEED);
        const between = (lo: number, hi: number): number => Math.round(lo + rnd() * (hi - lo));
        const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
        const unexpected: string[] = [];
        const steps: string[] = [];
        const deadline = Date.now() + chaosMs;
        const t0 = Date.now();
        while (Date.now() < deadline) {
          // A gateway that exited without being told to is a failure (and is restarted to go on).
          for (const g of GATEWAYS) {
            if (!lab.running(g.name) && !lab.gateways[g.name].down) {
              unexpected.push(`${g.name} exited on its own: ${stderrTail(lab.gateways[g.name].child!)}`);
              lab.startGateway(g.name);
            }
          }
          const holder = (shards === 1 ? (await lab.lease()).holder : (await lab.shardLease(Math.floor(rnd() * shards))).holder) as GatewayName | undefined;
          const victim: GatewayName = holder !== undefined && rnd() < 0.65 ? holder : pick(GATEWAYS.map((g) => g.name));
          const action = pick(ACTIONS);
          const pause = action === 'sigstop' ? between(500, 6000) : between(0, 3500);
          steps.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${action} ${action === 'kill-both' ? 'both' : victim} (holder ${holder ?? '-'}), back after ${pause} ms`);
          switch (action) {
            case 'kill-9':
              await lab.signalGateway(victim, 'SIGKILL');
              await sleep(pause);
              lab.startGateway(victim);
              break;
            case 'node-loss':
              await lab.nodeLoss(victim);
              await sleep(pause);
              await lab.restoreNode(victim);
              break;
            case 'sigstop':
              await lab.signalGateway(victim, 'SIGSTOP');
              // Long enough, often, for the lease to expire under the frozen leader.
              await sleep(pause);
              await lab.signalGateway(victim, 'SIGCONT');
              break;
            case 'sigterm': {
              const code = await lab.signalGateway(victim, 'SIGTERM');
              const signal = lab.gateways[victim].child?.signalCode;
              // SIGTERM before node installed its handlers (the process was still starting) kills it: not the gateway's doing.
              if (signal === 'SIGTERM') steps.push(`  (${victim} was still starting: ended by the signal itself)`);
              else if (code !== 0 && code !== undefined) unexpected.push(`${victim} exited ${code}${signal ? ` (${signal}: no exit within 8 s)` : ''} on SIGTERM`);
              await sleep(pause);
              lab.startGateway(victim);
              break;
            }
            case 'kill-both':
              await Promise.all(GATEWAYS.map((g) => lab.signalGateway(g.name, 'SIGKILL')));
              await sleep(Math.min(pause, 1500));
              for (const g of GATEWAYS) lab.startGateway(g.name);
              break;
          }
          await sleep(between(200, 3000));
        }
        console.info(`soak${shards > 1 ? ` (${shards} shards)` : ''} seed ${SEED}:\n  ${steps.join('\n  ')}`);
        for (const g of GATEWAYS) if (!lab.running(g.name)) lab.startGateway(g.name);
        if (shards === 1) {
          const leader = await lab.waitConverged(60_000);
          expect(GATEWAYS.map((g) => g.name)).toContain(leader);
          const writers = await checkSingleWriter(lab);
          console.info(`soak: ${steps.length} actions, ${writers.writes} route writes checked, leader at the end ${leader}`);
          expect(writers.writes).toBeGreaterThan(0);
          expect(writers.violations).toEqual([]);
        } else {
          // Converged, and each gateway back on its shard (the hand-over after the last return).
          const leaders = await lab.waitBalanced(60_000);
          expect(new Set(leaders)).toEqual(new Set(GATEWAYS.map((g) => g.name)));
          const writers = await checkShardWriters(lab);
          console.info(`soak (${shards} shards): ${steps.length} actions, ${writers.perShard.map((s) => `shard ${s.shard}: ${s.routeWrites} route and ${s.endpointWrites} endpoint writes by ${JSON.stringify(s.writers)}`).join('; ')}; leaders at the end ${leaders.join(', ')}`);
          for (const s of writers.perShard) expect(s.routeWrites, `shard ${s.shard}`).toBeGreaterThan(0);
          expect(writers.violations).toEqual([]);
        }
        expect(unexpected).toEqual([]);
      },
      chaosMs + 120_000,
    );
  });
}

soak(1, CHAOS_MS);
soak(2, SHARDS_CHAOS_MS);
