// The netlink actors inside the real vtep statechart, on the real kernel:
// program, re-program over the previous spec (pod CIDR and node IP), an
// update while programming, remove; a refused write takes the machine to its
// retry path; reconcileKernel resolves with counts and names the nodes whose
// writes the kernel refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vtepMacForNode } from '../../machines/domain/ipv4.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { createNetnsRun, type NetnsRun } from '../support/netns.js';
import { startVtepActors, type RemoteVtepActors } from '../support/netns-clients.js';

const DEV = 'hybrid_vxlan0';
let run: NetnsRun;
let gw: string;
let actors: RemoteVtepActors;

const spec = (nodeIP: string, podCIDRs: string[]): VtepSpec => ({ name: 'hyb-1', nodeIP, mac: vtepMacForNode(nodeIP), podCIDRs });
const routes = async (): Promise<string[]> =>
  (await run.ipJson<Array<{ dst: string; gateway?: string }>>(gw, ['-4', 'route', 'show', 'table', 'all', 'dev', DEV])).map((r) => `${r.dst} via ${r.gateway}`).sort();
const neighbours = async (): Promise<string[]> =>
  (await run.ipJson<Array<{ dst: string }>>(gw, ['-4', 'neigh', 'show', 'dev', DEV, 'nud', 'permanent'])).map((n) => n.dst).sort();
const fdb = async (): Promise<string[]> => (await run.bridgeJson<Array<{ mac: string; dst?: string }>>(gw, ['fdb', 'show', 'dev', DEV])).map((f) => `${f.mac} ${f.dst}`).sort();

beforeAll(async () => {
  run = createNetnsRun();
  try {
    gw = await run.ns('gw');
    const peer = await run.ns('peer');
    await run.veth({ ns: gw, ifname: 'u0', addr: '198.18.2.1/24' }, { ns: peer, ifname: 'u0', addr: '198.18.2.2/24' });
    actors = await startVtepActors(run, gw);
    await actors.command('device', { nodeIP: '198.18.2.1' });
  } catch (err) {
    await run.teardown();
    throw err;
  }
});

afterAll(async () => {
  await actors?.stop();
  await run?.teardown();
});

describe('netlink actors in the vtep statechart', () => {
  it('programs, re-programs over the previous spec and removes one node, one actor per piece of work', async () => {
    const a = spec('198.18.20.1', ['198.18.100.0/29']);
    await actors.command('start', { spec: a });
    await actors.command('wait', { state: 'programmed' });
    expect(await routes()).toEqual(['198.18.100.0/29 via 198.18.20.1']);

    // New pod CIDRs: the fleet hires an actor with the spec in the kernel as the leftover.
    const b = spec('198.18.20.1', ['198.18.100.8/29', '198.18.100.16/29']);
    await actors.command('start', { spec: b, previous: [a] });
    await actors.command('wait', { state: 'programmed' });
    expect(await routes()).toEqual(['198.18.100.16/29 via 198.18.20.1', '198.18.100.8/29 via 198.18.20.1']);

    // A new node IP: the old IP's nexthop, neighbour and FDB entry go (UPDATE while in flight: test/model).
    const c = spec('198.18.20.9', ['198.18.100.8/29', '198.18.100.16/29']);
    await actors.command('start', { spec: c, previous: [b] });
    await actors.command('wait', { state: 'programmed' });
    expect(await routes()).toEqual(['198.18.100.16/29 via 198.18.20.9', '198.18.100.8/29 via 198.18.20.9']);
    expect(await neighbours()).toEqual(['198.18.20.9']);
    expect(await fdb()).toEqual([`${c.mac} 198.18.20.9`]);

    await actors.command('start', { spec: c, task: 'remove' });
    await actors.command('wait', { state: 'removed' });
    expect([await routes(), await neighbours(), await fdb()]).toEqual([[], [], []]);
  });

  it('takes the retry path when the kernel refuses, and recovers', async () => {
    await run.ip(gw, ['link', 'set', DEV, 'down']);
    await actors.command('start', { spec: spec('198.18.20.2', ['198.18.101.0/29']) });
    const stalled = (await actors.command('wait', { state: 'stalled' })) as { lastError?: string; attempts: number };
    expect(stalled.attempts).toBe(2);
    expect(stalled.lastError).toMatch(/ENETDOWN/);
    await run.ip(gw, ['link', 'set', DEV, 'up']);
    await actors.command('send', { event: { type: 'RETRY' } });
    await actors.command('wait', { state: 'programmed' });
    expect(await routes()).toEqual(['198.18.101.0/29 via 198.18.20.2']);
  });

  it('reconcileKernel resolves with counts, and names the nodes whose writes the kernel refused', async () => {
    const vteps = [spec('198.18.20.3', ['198.18.102.0/29']), { ...spec('198.18.20.4', ['198.18.102.8/29']), name: 'hyb-2' }];
    // Two nodes' FDB, neighbour, nexthop and route added; the previous test's node (the same four) removed.
    expect(await actors.command('reconcile', { vteps })).toEqual({ added: 8, removed: 4, fixed: 0, failedNodes: [], failedReasons: {} });
    expect(await actors.command('reconcile', { vteps })).toEqual({ added: 0, removed: 0, fixed: 0, failedNodes: [], failedReasons: {} });
    // Device down: the kernel drops the routes through it and refuses to add any, so every node's route fails.
    await run.ip(gw, ['link', 'set', DEV, 'down']);
    const r = (await actors.command('reconcile', { vteps: [...vteps, { ...spec('198.18.20.5', ['198.18.102.16/29']), name: 'hyb-3' }] })) as { failedNodes: string[]; failedReasons: Record<string, string> };
    expect([...r.failedNodes].sort()).toEqual(['hyb-1', 'hyb-2', 'hyb-3']);
    expect(r.failedReasons['hyb-3']).toMatch(/ENETDOWN|EINVAL/);
    await run.ip(gw, ['link', 'set', DEV, 'up']);
  });
});
