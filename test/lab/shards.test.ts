// The lab with two shards (`npm run lab -- --shards 2`, shortened): the
// gateways run SHARDS=2, a hybrid pod and a VPC pod on each shard's half of
// POD_CIDR and of the VPC CIDR. Both gateways forward at once (each leads one
// shard: its hybrid_vxlan0 counts packets both ways, and each flow crosses its
// shard's leader both ways); the node loss of one gateway cuts only its
// shard's flows (the other shard's lose no probe) and the flows it cut come
// back; its return (a new process) hands its shard back without one lost
// probe; every route and endpoint write came from its shard's Lease holder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAYS, gateway } from '../../lab/addresses.js';
import { checkShardWriters } from '../../lab/checks.js';
import { Lab } from '../../lab/lab.js';
import { createNetnsRun } from '../../lab/netns.js';
import { measureShardNodeLoss, shardTrafficSnapshot, type ShardNodeLossResult, type ShardTrafficSnapshot } from '../../lab/scenarios.js';

let lab: Lab;
let snapshot: ShardTrafficSnapshot;
let loss: ShardNodeLossResult;

describe('the lab with --shards 2', () => {
  beforeAll(async () => {
    lab = await Lab.create({ run: createNetnsRun(), shards: 2 });
    for (const g of GATEWAYS) lab.startGateway(g.name);
    await lab.waitBalanced(90_000);
    for (const n of lab.hybrid.values()) await lab.startTraffic(n);
  }, 150_000);

  afterAll(async () => {
    await lab?.teardown();
  }, 60_000);

  it('runs the gateways with SHARDS=2 and a hybrid pod and a VPC pod on each shard', () => {
    expect(lab.gatewayEnv('gw-a').SHARDS).toBe('2');
    const flows = lab.flowNames().map((f) => lab.flowInfo(f));
    expect(new Set(flows.map((f) => f.podShard))).toEqual(new Set([0, 1]));
    expect(new Set(flows.map((f) => f.vpcShard))).toEqual(new Set([0, 1]));
    for (const f of flows) expect(f.vpcShard).toBe(f.podShard);
  });

  it('forwards through both gateways: each leads one shard and carries its flows both ways', async () => {
    snapshot = await shardTrafficSnapshot(lab, 2000);
    expect(new Set(snapshot.holders)).toEqual(new Set(['gw-a', 'gw-b']));
    for (const [k, holder] of snapshot.holders.entries()) {
      expect(snapshot.shardLeaderMetric[holder as 'gw-a' | 'gw-b'][String(k)]).toBe(1);
      for (const f of snapshot.flows.filter((x) => x.shard === k)) {
        expect(f.toHybrid, f.flow).toBe(holder);
        expect(f.toVpc, f.flow).toBe(holder);
      }
    }
    // Two flows per shard at 100 probes/s each, a request and an echo each: ~200 packets/s each way.
    const floor = (snapshot.windowMs / 1000) * 100;
    for (const g of GATEWAYS) {
      expect(snapshot.counters[g.name].rxPackets, `${g.name} rx`).toBeGreaterThan(floor);
      expect(snapshot.counters[g.name].txPackets, `${g.name} tx`).toBeGreaterThan(floor);
    }
  }, 90_000);

  it('a node loss cuts only the lost gateway’s shard; its return hands the shard back without a lost probe', async () => {
    loss = await measureShardNodeLoss(lab, 0);
    console.info(JSON.stringify({ flows: loss.flows.map((f) => [f.flow, f.shard, f.cut, Math.round(f.outageMs), f.lost]), takeovers: loss.takeovers, back: { ...loss.back, flows: loss.back.flows.map((f) => [f.flow, f.lost]) } }));
    expect(loss.lostShards).toEqual([0]);
    const cut = loss.flows.filter((f) => f.cut);
    const kept = loss.flows.filter((f) => !f.cut);
    expect(cut.length).toBe(2);
    expect(kept.length).toBe(2);
    for (const f of kept) expect(f.lost, `${f.flow} (shard ${f.shard}, not the lost gateway's)`).toBe(0);
    // The cut flows fail over: they lost probes and came back within the lease duration + a retry period + writes.
    for (const f of cut) {
      expect(f.lost, f.flow).toBeGreaterThan(0);
      expect(f.outageMs, f.flow).toBeLessThan(10_000);
    }
    expect(loss.leadersDuring).toEqual([loss.survivor, loss.survivor]);
    expect(loss.back.lost, JSON.stringify(loss.back.flows)).toBe(0);
    for (const f of loss.back.flows) expect(f.lost, `${f.flow} during the return`).toBe(0);
    expect(loss.back.leadersAfter).toEqual(loss.leadersBefore);
    expect(loss.back.handedBack[0]?.releasedMs, 'the survivor released the shard (hand-over)').toBeDefined();
  }, 150_000);

  it('every route and endpoint write came from its shard’s Lease holder', async () => {
    const check = await checkShardWriters(lab);
    expect(check.violations).toEqual([]);
    for (const s of check.perShard) {
      expect(s.routeWrites, `shard ${s.shard} route writes`).toBeGreaterThan(0);
      expect(s.endpointWrites, `shard ${s.shard} endpoint writes`).toBeGreaterThan(0);
    }
    // Shard 0 moved to the survivor and back: both gateways wrote it.
    expect(Object.keys(check.perShard[0]!.writers).sort()).toEqual(GATEWAYS.map((g) => g.name).sort());
    expect(gateway(loss.lostGateway)).toBeDefined();
  }, 60_000);
});
