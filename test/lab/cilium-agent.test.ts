// The Cilium stand-in process (lab/cilium-agent.ts) on the real kernel, in a
// namespace this test creates, with the kube-apiserver stand-in running in the
// same namespace on its 127.0.0.1: the vxlan device, the entries of a
// CiliumVTEPConfig as routes/neighbours/FDB (the kernel's longest-prefix match
// picks the endpoint), status written back, the IPC contract lab.ts uses
// ({ready}, {applied: {endpoints, atMs}}, the `applied` command), and removal.
// Addresses: 203.0.113.0/24 underlay, 198.18.0.0/15 endpoints.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentApplied } from '../../lab/cilium-agent.js';
import { IpcPeer } from '../../lab/ipc.js';
import { createNetnsRun, type NetnsRun } from '../support/netns.js';

let run: NetnsRun;
let node: string;
let dir: string;
let agent: IpcPeer;
let apiUrl = '';
const applied: AgentApplied[] = [];
const VTEPS = '/apis/cilium.io/v2/ciliumvtepconfigs';

/** A request to the stand-in from inside the namespace (its 127.0.0.1 is not ours). */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const script = `const r = await fetch(${JSON.stringify(apiUrl + path)}, { method: ${JSON.stringify(method)}, headers: { 'content-type': 'application/json' }, body: ${body === undefined ? 'undefined' : JSON.stringify(JSON.stringify(body))} }); process.stdout.write(JSON.stringify({ status: r.status, body: await r.json() }));`;
  const out = await run.exec(node, [process.execPath, '--input-type=module', '-e', script]);
  return JSON.parse(out.stdout) as { status: number; body: Record<string, unknown> };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const routeVia = async (dst: string): Promise<string> => {
  const [r] = await run.ipJson<Array<{ gateway?: string; dev?: string }>>(node, ['route', 'get', dst]);
  return `${r?.gateway ?? 'direct'} dev ${r?.dev ?? '?'}`;
};

beforeAll(async () => {
  run = createNetnsRun();
  dir = mkdtempSync(join(tmpdir(), 'cilium-agent-test-'));
  try {
    node = await run.ns('hyb');
    const site = await run.ns('site');
    await run.veth({ ns: node, ifname: 'eth0', addr: '203.0.113.10/24' }, { ns: site, ifname: 'eth0', addr: '203.0.113.1/24' });
    await run.ip(node, ['route', 'add', 'default', 'via', '203.0.113.1']);
    const kubeconfig = join(dir, 'kubeconfig');
    const kube = run.spawnNode(node, 'lab/kube-apiserver/main.ts', ['--port', '0', '--kubeconfig', kubeconfig]);
    apiUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      kube.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
      });
      kube.once('exit', (code) => reject(new Error(`kube-apiserver stand-in exited ${code}`)));
    });
    const child = run.spawnNode(node, 'lab/cilium-agent.ts', [JSON.stringify({ nodeIp: '203.0.113.10', nic: 'eth0', underlayGateway: '203.0.113.1', kubeconfig, statusRefreshMs: 0 })]);
    child.on('message', (m: unknown) => {
      const a = (m as { applied?: AgentApplied }).applied;
      if (a !== undefined) applied.push(a);
    });
    agent = new IpcPeer(child, 'Cilium stand-in');
    await agent.ready;
  } catch (err) {
    await run.teardown();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
});

afterAll(async () => {
  await agent?.stop();
  await run?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Cilium stand-in process in a namespace', () => {
  it('programs the endpoints (longest prefix wins in the kernel), writes status, reports over IPC, and removes them', async () => {
    const [link] = await run.ipJson<Array<{ address: string; linkinfo?: { info_data?: { id?: number; port?: number } } }>>(node, ['-d', 'link', 'show', 'cilium_vxlan']);
    expect(link).toMatchObject({ address: '02:00:cb:00:71:0a', linkinfo: { info_data: { id: 2, port: 8472 } } });

    const endpoints = [
      { name: 'vpc-gateway', tunnelEndpoint: '198.18.0.11', cidr: '198.18.0.0/16', mac: '02:00:c6:12:00:0b' },
      { name: 'vpc-gateway-1', tunnelEndpoint: '198.18.0.12', cidr: '198.18.9.0/24', mac: '02:00:c6:12:00:0c' },
    ];
    const c = await api('POST', VTEPS, { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway' }, spec: { endpoints } });
    expect(c.status).toBe(201);
    await until('both applied', () => applied.at(-1)?.endpoints.length === 2);
    expect(applied.at(-1)!.endpoints).toEqual(endpoints);
    expect((await agent.request({ cmd: 'applied' })).value).toEqual(endpoints);
    expect(await routeVia('198.18.9.4')).toBe('198.18.0.12 dev cilium_vxlan');
    expect(await routeVia('198.18.8.4')).toBe('198.18.0.11 dev cilium_vxlan');
    expect(await routeVia('198.18.0.12')).toBe('203.0.113.1 dev eth0'); // the tunnel endpoint itself stays on the underlay
    const neigh = await run.ipJson<Array<{ dst: string; lladdr: string }>>(node, ['neigh', 'show', 'dev', 'cilium_vxlan', 'nud', 'permanent']);
    expect(neigh.map((n) => `${n.dst} ${n.lladdr}`).sort()).toEqual(['198.18.0.11 02:00:c6:12:00:0b', '198.18.0.12 02:00:c6:12:00:0c']);
    const fdb = await run.bridgeJson<Array<{ mac: string; dst?: string }>>(node, ['fdb', 'show', 'dev', 'cilium_vxlan']);
    expect(fdb.filter((f) => f.dst !== undefined).map((f) => `${f.mac} ${f.dst}`).sort()).toEqual(['02:00:c6:12:00:0b 198.18.0.11', '02:00:c6:12:00:0c 198.18.0.12']);

    const st = await until('status', async () => {
      const o = (await api('GET', `${VTEPS}/hybrid-gateway`)).body as { metadata: { generation: number }; status?: { conditions?: Array<Record<string, unknown>>; endpointCount?: number } };
      return o.status?.conditions?.[0]?.status === 'True' ? o : undefined;
    });
    expect(st.status).toMatchObject({ endpointCount: 2, conditions: [{ type: 'Ready', reason: 'Synced', observedGeneration: st.metadata.generation }] });

    expect((await api('DELETE', `${VTEPS}/hybrid-gateway`)).status).toBe(200);
    await until('removed', () => applied.at(-1)?.endpoints.length === 0);
    expect(await run.ipJson<unknown[]>(node, ['route', 'show', 'dev', 'cilium_vxlan'])).toEqual([]);
    expect(await run.ipJson<unknown[]>(node, ['neigh', 'show', 'dev', 'cilium_vxlan', 'nud', 'permanent'])).toEqual([]);
    expect(await routeVia('198.18.9.4')).toBe('203.0.113.1 dev eth0');
  });
});
