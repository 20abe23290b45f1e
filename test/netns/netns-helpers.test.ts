// The namespace helpers other tests build on: unique prefixes, the traffic
// rule guard, and a teardown that leaves nothing behind (namespaces,
// processes), also when a run is abandoned.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetnsRun, isTestAddress, NETNS_BASE, sweepOrphanNamespaces, type NetnsRun } from '../support/netns.js';
import { startProbe } from '../support/netns-clients.js';

const namespaces = (): string[] =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const runs: NetnsRun[] = [];
afterAll(async () => {
  for (const r of runs) await r.teardown();
});

describe('netns helpers', () => {
  it('accepts only 198.18.0.0/15, the TEST-NETs and 127/8', () => {
    for (const ok of ['198.18.0.1', '198.19.255.254', '192.0.2.7', '198.51.100.1', '203.0.113.9', '127.0.0.1']) expect(isTestAddress(ok)).toBe(true);
    for (const bad of ['10.0.0.1', '172.16.0.1', '192.168.1.1', '198.20.0.1', '8.8.8.8', '203.0.114.1', 'x']) expect(isTestAddress(bad)).toBe(false);
  });

  it('refuses addresses outside the allowed ranges and namespaces of other runs', async () => {
    const run = createNetnsRun();
    runs.push(run);
    const a = await run.ns('a');
    const b = await run.ns('b');
    await expect(run.veth({ ns: a, ifname: 'x0', addr: '10.1.2.3/24' }, { ns: b, ifname: 'x0' })).rejects.toThrow(/tests may only use/);
    await expect(run.ip('some-other-ns', ['link'])).rejects.toThrow(/not one of this run's/);
  });

  it('gives each run its own prefix, and teardown removes its namespaces and kills its processes', async () => {
    const one = createNetnsRun();
    const two = createNetnsRun();
    runs.push(one, two);
    expect(one.prefix).not.toBe(two.prefix);
    expect(one.prefix.startsWith(`${NETNS_BASE}${process.pid}-`)).toBe(true);
    const a = await one.ns('a');
    const b = await one.ns('b');
    await one.veth({ ns: a, ifname: 'e0', addr: '198.18.250.1/30' }, { ns: b, ifname: 'e0', addr: '198.18.250.2/30' });
    const other = await two.ns('a');
    const probe = await startProbe(one, b);
    await probe.udpEcho('198.18.250.2', 7100);
    const client = await startProbe(one, a);
    expect(await client.udp('198.18.250.2', 7100, 64)).toEqual({ ok: true });
    const pids = spawnSync('ip', ['netns', 'pids', b], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '').map(Number);
    expect(pids.length).toBeGreaterThan(0);
    await one.teardown();
    expect(namespaces().filter((n) => n.startsWith(one.prefix))).toEqual([]);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(namespaces()).toContain(other);
    await two.teardown();
    expect(namespaces()).not.toContain(other);
  });

  it('sweeps namespaces left by a run whose process is gone', () => {
    const dead = spawnSync('true').pid;
    const orphan = `${NETNS_BASE}${dead}-ffffff-left`;
    expect(spawnSync('ip', ['netns', 'add', orphan]).status).toBe(0);
    try {
      expect(sweepOrphanNamespaces()).toContain(orphan);
      expect(namespaces()).not.toContain(orphan);
    } finally {
      spawnSync('ip', ['netns', 'delete', orphan]);
    }
  });
});
