// CiliumVTEPConfig upsert: create when missing, no write when equal, update
// when different, conflict-safe, fenced by its AbortSignal, and restored by a
// leader-style watch when deleted or edited. The server is the stand-in with
// the CRD's semantics (schema defaults such as spec.cidrMask, the /status
// subresource, generation), and Cilium's status writes come from the lab's
// own Cilium stand-in (lab/cilium-vtep.ts), not from a copy of our client.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KubeFencedError, REUSE_READ_MS, VtepConfigClient, vtepSpecEquals, type KubeObject, type VtepEndpoint } from '../../effects/kube/index.js';
import { VtepAgent, type VtepDataplane } from '../../lab/cilium-vtep.js';
import { readKubeconfig } from '../../lab/kube-http.js';
import { startLab, waitFor, type Lab } from './helpers.js';

let lab: Lab | undefined;
let agent: VtepAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await lab?.server.close();
  lab = undefined;
});

/** Cilium's agent on one node: a map that takes whatever it is given, and status written back every `refreshMs`. */
function startCilium(l: Lab, refreshMs: number): VtepAgent {
  const dataplane: VtepDataplane = { apply: () => Promise.resolve() };
  agent = new VtepAgent({ kube: readKubeconfig(l.server.kubeconfigPath), dataplane, statusRefreshMs: refreshMs }).start();
  return agent;
}

const ONE: VtepEndpoint[] = [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.10', cidr: '198.51.100.0/24', mac: '4a:88:b7:ac:5f:b5' }];
const TWO: VtepEndpoint[] = [
  { name: 'vpc-gateway-0', tunnelEndpoint: '198.51.100.10', cidr: '198.51.100.0/24', mac: '4a:88:b7:ac:5f:b5' },
  { name: 'vpc-gateway-1', tunnelEndpoint: '198.51.100.10', cidr: '203.0.113.0/24', mac: '4a:88:b7:ac:5f:b5' },
];

const writes = (l: Lab): number => l.server.requests.filter((r) => r.resource === 'ciliumvtepconfigs' && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method)).length;

describe('VtepConfigClient', () => {
  it('creates when missing, does not write when equal, updates when different', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    expect((await v.upsert(ONE, live)).action).toBe('created');
    const obj = lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!;
    expect(obj.kind).toBe('CiliumVTEPConfig');
    // The CRD defaults cidrMask: a field the server adds is not a difference.
    expect(obj.spec).toEqual({ endpoints: ONE, cidrMask: '255.255.255.0' });
    const rv = lab.server.store.resourceVersion;
    const w = writes(lab);
    for (let i = 0; i < 5; i++) expect((await v.upsert(ONE, live)).action).toBe('unchanged');
    expect(writes(lab)).toBe(w);
    expect(lab.server.store.resourceVersion).toBe(rv);
    expect((await v.upsert(TWO, live)).action).toBe('updated');
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toEqual({ endpoints: TWO, cidrMask: '255.255.255.0' });
  });

  it('as EKS reads it back (no cidrMask default): equal, no write', async () => {
    lab = await startLab({ crdDefaults: false });
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    expect((await v.upsert(ONE, live)).action).toBe('created');
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toEqual({ endpoints: ONE });
    const w = writes(lab);
    expect((await v.upsert(ONE, live)).action).toBe('unchanged');
    expect(writes(lab)).toBe(w);
  });

  it('rewrites an edited endpoint and keeps the spec fields it does not own', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    await v.upsert(ONE, live);
    const cur = lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!;
    lab.server.store.put('ciliumvtepconfigs', { ...cur, spec: { cidrMask: '255.255.0.0', endpoints: [{ ...ONE[0]!, tunnelEndpoint: '198.51.100.11' }] } });
    expect((await v.upsert(ONE, live)).action).toBe('updated');
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toEqual({ cidrMask: '255.255.0.0', endpoints: ONE });
  });

  it("Cilium's status refreshes are not changes: no write, and the leader's watch filter sees its own spec", async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    await v.upsert(TWO, live);
    const cilium = startCilium(lab, 50);
    await waitFor(() => cilium.stats.statusWrites >= 4, 'four status writes by Cilium');
    const obj = lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!;
    expect(obj.status).toMatchObject({
      endpointCount: 2,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'All endpoints synced to BPF map', observedGeneration: 1 }],
    });
    expect(obj.metadata?.generation).toBe(1);
    expect(vtepSpecEquals(obj, TWO)).toBe(true);
    const w = writes(lab);
    for (let i = 0; i < 3; i++) expect((await v.upsert(TWO, live)).action).toBe('unchanged');
    expect(writes(lab)).toBe(w);
  });

  it('absorbs 409s within its bound and gives up with Conflict beyond it', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients, maxConflictRetries: 3 });
    const live = new AbortController().signal;
    await v.upsert(ONE, live);
    lab.server.faults.set({ conflictRate: 1 });
    await expect(v.upsert(TWO, live)).rejects.toMatchObject({ code: 'Conflict' });
    expect(lab.server.faults.injected.conflicts).toBe(4);
    // Two conflicts, then the write goes through.
    const draws = [0, 0];
    lab.server.faults.random = () => draws.shift() ?? 0.99;
    lab.server.faults.set({ conflictRate: 0.5 });
    const res = await v.upsert(TWO, live);
    expect(res).toMatchObject({ action: 'updated', conflicts: 2 });
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toMatchObject({ endpoints: TWO });
  });

  it('refuses to write once its signal is aborted (fencing)', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const ctl = new AbortController();
    ctl.abort();
    await expect(v.upsert(ONE, ctl.signal)).rejects.toBeInstanceOf(KubeFencedError);
    expect(writes(lab)).toBe(0);
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')).toBeUndefined();
  });

  it('aborting during a slow write fences it', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    lab.server.faults.set({ latencyMs: 5000, match: (r) => r.method === 'POST' });
    const ctl = new AbortController();
    const p = v.upsert(ONE, ctl.signal);
    await waitFor(() => lab!.server.requests.length > 0 && lab!.server.inFlight > 0, 'POST held by the server');
    ctl.abort();
    await expect(p).rejects.toBeInstanceOf(KubeFencedError);
    await waitFor(() => lab!.server.inFlight === 0, 'server done');
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')).toBeUndefined();
  });

  it('rejects bad endpoints with a clear error, before any request', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    await expect(v.upsert([{ ...ONE[0]!, mac: '' }], new AbortController().signal)).rejects.toThrow(/mac must be a non-empty string/);
    await expect(v.upsert([ONE[0]!, ONE[0]!], new AbortController().signal)).rejects.toThrow(/duplicate name/);
    expect(lab.server.requests).toHaveLength(0);
  });

  it('a leader-style watch restores it after delete and edit', async () => {
    lab = await startLab({ bookmarkIntervalMs: 100 });
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController();
    const seen: Array<KubeObject | undefined> = [];
    let restores = 0;
    const w = v.watch((obj) => {
      seen.push(obj);
      v.upsert(TWO, live.signal).then(
        (r) => {
          if (r.action !== 'unchanged') restores += 1;
        },
        () => undefined, // fenced at the end of the test
      );
    });
    try {
      await waitFor(() => lab!.server.store.find('ciliumvtepconfigs', 'hybrid-gateway') !== undefined, 'initial create from the watch');
      lab.server.store.remove('ciliumvtepconfigs', 'hybrid-gateway');
      await waitFor(() => restores >= 2 && lab!.server.store.find('ciliumvtepconfigs', 'hybrid-gateway') !== undefined, 'restored after delete');
      const cur = lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!;
      lab.server.store.put('ciliumvtepconfigs', { ...cur, spec: { endpoints: ONE } });
      await waitFor(() => restores >= 3, 'restored after edit');
      await waitFor(() => vtepSpecEquals(lab!.server.store.find('ciliumvtepconfigs', 'hybrid-gateway'), TWO), 'spec back');
      expect(seen).toContain(undefined);
    } finally {
      live.abort();
      await w.stop();
    }
  });
});

describe('VtepConfigClient: the ownership read and the write', () => {
  const gets = (l: Lab): number => l.server.requests.filter((r) => r.resource === 'ciliumvtepconfigs' && r.method === 'GET' && !r.watch).length;

  it('a write right after a get() reuses that read: one GET and one PUT, not two GETs', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    await v.upsert(ONE, live);
    const g = gets(lab);
    const w = writes(lab);
    expect(await v.get(live)).toBeDefined();
    expect((await v.upsert(TWO, live)).action).toBe('updated');
    expect(gets(lab) - g).toBe(1);
    expect(writes(lab) - w).toBe(1);
    // Absent when read: the create goes out without a second read.
    lab.server.store.remove('ciliumvtepconfigs', 'hybrid-gateway');
    expect(await v.get(live)).toBeUndefined();
    expect((await v.upsert(ONE, live)).action).toBe('created');
    expect(gets(lab) - g).toBe(2);
  });

  it('a read that went stale meanwhile costs a refused write and a re-read, never a lost update', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    await v.upsert(ONE, live);
    expect(await v.get(live)).toBeDefined();
    // Someone edits the object between our read and our write.
    const other = new VtepConfigClient({ clients: lab.clients });
    await other.upsert(TWO, live);
    const res = await v.upsert(ONE, live);
    expect(res).toMatchObject({ action: 'updated' });
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toMatchObject({ endpoints: ONE });
    // Created by someone else after we read it as absent: AlreadyExists, re-read, update.
    lab.server.store.remove('ciliumvtepconfigs', 'hybrid-gateway');
    expect(await v.get(live)).toBeUndefined();
    await other.upsert(TWO, live);
    expect(await v.upsert(ONE, live)).toMatchObject({ action: 'updated', conflicts: 1 });
  });

  it('"nothing to write" is never concluded from a reused read: it is confirmed by a read of its own', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    await v.upsert(ONE, live);
    expect(await v.get(live)).toBeDefined();
    const g = gets(lab);
    // Equal as read: upsert confirms with a GET of its own before it says so.
    expect((await v.upsert(ONE, live)).action).toBe('unchanged');
    expect(gets(lab)).toBe(g + 1);
    // Changed since our read, equal as we read it: the confirming read sees the change and writes.
    expect(await v.get(live)).toBeDefined();
    await new VtepConfigClient({ clients: lab.clients }).upsert(TWO, live);
    expect((await v.upsert(ONE, live)).action).toBe('updated');
    expect(lab.server.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toMatchObject({ endpoints: ONE });
  });

  it('a read older than REUSE_READ_MS is not reused', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    const live = new AbortController().signal;
    await v.upsert(ONE, live);
    expect(await v.get(live)).toBeDefined();
    const realNow = performance.now.bind(performance);
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => realNow() + REUSE_READ_MS + 1);
    try {
      const g = gets(lab);
      const w = writes(lab);
      expect((await v.upsert(TWO, live)).action).toBe('updated');
      expect(gets(lab)).toBe(g + 1);
      expect(writes(lab)).toBe(w + 1);
    } finally {
      spy.mockRestore();
    }
  });
});
