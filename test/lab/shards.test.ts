// The lab with two shards (`npm run lab -- --shards 2`, shortened): the
// gateways run SHARDS=2, a hybrid pod and a VPC pod on each shard's half of
// POD_CIDR and of the VPC CIDR. Both gateways forward at once (each leads one
// shard: its hybrid_vxlan0 counts packets both ways, and each flow crosses its
// shard's leader both ways); the node loss of one gateway cuts only its
// shard's flows (the other shard's lose no probe) and the flows it cut come
// back; its return (a new process) hands its shard back without one lost
// probe; every route and endpoint write came from its shard's Lease holder,
// and a write of shard 0's route and endpoint by shard 1's leader is caught
// by that check (and repaired by shard 0's leader).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAYS, POD_CIDRS, REGION, ROUTE_TABLE_IDS, gateway } from '../../lab/addresses.js';
import { checkShardWriters } from '../../lab/checks.js';
import { readKubeconfig } from '../../lab/kube-http.js';
import { Lab } from '../../lab/lab.js';
import { createNetnsRun } from '../../lab/netns.js';
import { labShardPrefixes } from '../../lab/shards.js';
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

  it('the per-shard check catches the other shard’s leader writing a shard’s route and endpoint; the shard’s leader repairs both', async () => {
    const leaders = await lab.waitBalanced(30_000);
    const rogue = gateway(leaders[1]!);
    const victimShard = 0;
    const prefix = labShardPrefixes(POD_CIDRS, 2, victimShard)[0]!;
    // A ReplaceRoute of shard 0's half signed with shard 1's leader's key, pointing at itself (as a split brain would).
    const body = new URLSearchParams({ Action: 'ReplaceRoute', Version: '2016-11-15', RouteTableId: ROUTE_TABLE_IDS[1], DestinationCidrBlock: prefix, NetworkInterfaceId: rogue.eni });
    const auth = `AWS4-HMAC-SHA256 Credential=${rogue.accessKeyId}/20260101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=00`;
    const post = `fetch(process.argv[1],{method:'POST',headers:{'content-type':'application/x-www-form-urlencoded',authorization:process.argv[2]},body:process.argv[3]}).then(r=>process.stdout.write(String(r.status)))`;
    expect((await lab.run.exec(lab.ns.ctl, [process.execPath, '-e', post, lab.info.ec2Url, auth, body.toString()])).stdout).toBe('200');
    // Shard 0's endpoint applied by shard 1's leader under shard 0's field manager, pointing at itself
    // (a stale shard-0 leader process on that gateway would write so), from that gateway's address.
    const kube = readKubeconfig(lab.info.kubeconfig);
    const apply = `const [u,t,ip,mac]=process.argv.slice(1);const h={...(t?{authorization:'Bearer '+t}:{})};
fetch(u,{headers:h}).then(r=>r.json()).then(o=>{const e=o.spec.endpoints.find(x=>x.name==='vpc-gateway-0-0');
const body={apiVersion:'cilium.io/v2',kind:'CiliumVTEPConfig',metadata:{name:o.metadata.name,annotations:o.metadata.annotations},spec:{endpoints:[{...e,tunnelEndpoint:ip,mac}]}};
return fetch(u+'?fieldManager='+encodeURIComponent('eks-hybrid-gateway/kube-system/hybrid-gateway-leader-0')+'&force=false',{method:'PATCH',headers:{...h,'content-type':'application/apply-patch+yaml'},body:JSON.stringify(body)})}).then(r=>process.stdout.write(String(r.status)))`;
    const url = `${kube.server}/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway`;
    const mac = Lab.vtepEndpointFor(rogue.name).mac;
    expect((await lab.run.exec(lab.ns.gw[rogue.name], [process.execPath, '-e', apply, url, kube.token ?? '', rogue.ip, mac])).stdout).toBe('200');
    const check = await checkShardWriters(lab);
    expect(check.violations).toHaveLength(2);
    expect(check.violations[0]).toContain(`shard 0: ${rogue.name} wrote ${ROUTE_TABLE_IDS[1]} ${prefix} while Lease hybrid-gateway-leader-0 named ${leaders[0]}`);
    expect(check.violations[1]).toContain(`shard 0: ${rogue.name} wrote endpoint vpc-gateway-0-0`);
    // Shard 0's leader puts both back (drift repair: the CiliumVTEPConfig change at once, the routes within a drift period).
    expect(await lab.waitBalanced(45_000)).toEqual(leaders);
  }, 90_000);

  it('a hand edit of a shard’s endpoint (a PUT, as kubectl edit does) is taken back by that shard’s leader at once, not retried forever', async () => {
    const leaders = await lab.waitBalanced(45_000);
    const kube = readKubeconfig(lab.info.kubeconfig);
    const url = `${kube.server}/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway`;
    // GET, point vpc-gateway-0-0 elsewhere, PUT under the editor's own manager (what kubectl edit sends).
    const edit = `const [u,t]=process.argv.slice(1);const h={...(t?{authorization:'Bearer '+t}:{})};
fetch(u,{headers:h}).then(r=>r.json()).then(o=>{o.spec.endpoints.find(x=>x.name==='vpc-gateway-0-0').tunnelEndpoint='192.0.2.99';
return fetch(u+'?fieldManager=kubectl-edit',{method:'PUT',headers:{...h,'content-type':'application/json'},body:JSON.stringify(o)})}).then(r=>process.stdout.write(String(r.status)))`;
    const t0 = Date.now();
    expect((await lab.run.exec(lab.ns.ctl, [process.execPath, '-e', edit, url, kube.token ?? ''])).stdout).toBe('200');
    // Balanced again: shard 0's endpoint points at shard 0's leader in the object and in every Cilium
    // agent, well before a drift period (30 s) would look again (the watch's REASSERT, one refused
    // apply, one with force). Without `reclaiming` the apply is refused forever.
    expect(await lab.waitBalanced(10_000)).toEqual(leaders);
    console.info(`hand edit of vpc-gateway-0-0 taken back in ${Date.now() - t0} ms`);
  }, 60_000);
});
