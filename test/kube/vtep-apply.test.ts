// VtepConfigClient.applyEndpoints: one shard's endpoints of the shared
// CiliumVTEPConfig by server-side apply, one field manager per shard, against
// the stand-in (which applies as the real API server does, lab/README.md).
// Shards write disjoint items and keep them; re-applies and Cilium's status
// writes cost no write; a dropped endpoint goes, only the shard's own; a
// conflicting manager is refused with a typed error; the owner rule and the
// fence are upsert's.
import { afterEach, describe, expect, it } from 'vitest';
import {
  appliedFields,
  conflictsWithinEndpoints,
  KubeApplyConflictError,
  KubeFencedError,
  VtepConfigClient,
  VtepOwnedElsewhereError,
  type KubeObject,
  type VtepEndpoint,
  type VtepOwner,
} from '../../effects/kube/index.js';
import { VtepAgent, type VtepDataplane } from '../../lab/cilium-vtep.js';
import { readKubeconfig } from '../../lab/kube-http.js';
import { OWNER_ANNOTATION } from '../../machines/domain/ownership.js';
import { startLab, waitFor, type Lab } from './helpers.js';

let lab: Lab | undefined;
let agent: VtepAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await lab?.server.close();
  lab = undefined;
});

const ep = (shard: number, n: number, cidr: string, ip: string): VtepEndpoint => ({ name: `vpc-gateway-${shard}-${n}`, cidr, tunnelEndpoint: ip, mac: '4a:88:b7:ac:5f:b5' });
const S0 = [ep(0, 0, '198.18.0.0/17', '198.51.100.10'), ep(0, 1, '203.0.113.0/25', '198.51.100.10')];
const S1 = [ep(1, 0, '198.18.128.0/17', '198.51.100.11')];
const M0 = 'eks-hybrid-gateway-shard-0';
const M1 = 'eks-hybrid-gateway-shard-1';
const OWNER: VtepOwner = { key: 'kube-system/hybrid-gateway-leader' };

const writes = (l: Lab): number => l.server.requests.filter((r) => r.resource === 'ciliumvtepconfigs' && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method)).length;
const gets = (l: Lab): number => l.server.requests.filter((r) => r.resource === 'ciliumvtepconfigs' && r.method === 'GET' && !r.watch).length;
const stored = (l: Lab): KubeObject => l.server.store.find('ciliumvtepconfigs', 'hybrid-gateway') as KubeObject;
const endpointsOf = (o: KubeObject): VtepEndpoint[] => (o.spec as { endpoints: VtepEndpoint[] }).endpoints;
const entryOf = (o: KubeObject, manager: string): { fieldsV1: unknown } | undefined =>
  (o.metadata?.managedFields as Array<{ manager: string; operation: string; fieldsV1: unknown }> | undefined)?.find((e) => e.manager === manager && e.operation === 'Apply');

/** Two shard leaders: separate clients, as separate gateway processes. */
function shards(l: Lab): [VtepConfigClient, VtepConfigClient] {
  return [new VtepConfigClient({ clients: l.clients }), new VtepConfigClient({ clients: l.newClients() })];
}

describe('VtepConfigClient.applyEndpoints', () => {
  it('two shard managers writing disjoint endpoints of one object both keep them; every re-apply is idempotent (no write)', async () => {
    lab = await startLab();
    const [a, b] = shards(lab);
    const live = new AbortController().signal;
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('created');
    expect((await b.applyEndpoints(M1, S1, live, OWNER)).action).toBe('updated');
    const obj = stored(lab);
    expect(endpointsOf(obj)).toEqual([...S0, ...S1]);
    expect(obj.metadata?.annotations).toEqual({ [OWNER_ANNOTATION]: OWNER.key });
    // What the client predicts the server records is what it records (the idempotence check relies on it).
    const wanted = (endpoints: VtepEndpoint[]) => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', name: 'hybrid-gateway', ownerKey: OWNER.key, endpoints });
    expect(entryOf(obj, M0)!.fieldsV1).toEqual(appliedFields(wanted(S0)));
    expect(entryOf(obj, M1)!.fieldsV1).toEqual(appliedFields(wanted(S1)));
    const w = writes(lab);
    const rv = lab.server.store.resourceVersion;
    for (let i = 0; i < 3; i++) {
      expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('unchanged');
      expect((await b.applyEndpoints(M1, S1, live, OWNER)).action).toBe('unchanged');
    }
    expect(writes(lab)).toBe(w);
    expect(lab.server.store.resourceVersion).toBe(rv);
  });

  it('a shard that drops an endpoint removes only its own; a moved endpoint is rewritten', async () => {
    lab = await startLab();
    const [a, b] = shards(lab);
    const live = new AbortController().signal;
    await a.applyEndpoints(M0, S0, live, OWNER);
    await b.applyEndpoints(M1, S1, live, OWNER);
    expect((await a.applyEndpoints(M0, [S0[0]!], live, OWNER)).action).toBe('updated');
    expect(endpointsOf(stored(lab))).toEqual([S0[0], ...S1]);
    expect((await a.applyEndpoints(M0, [S0[0]!], live, OWNER)).action).toBe('unchanged');
    // shard 1's leader moved to another gateway: its endpoint follows, shard 0's stays.
    const moved = { ...S1[0]!, tunnelEndpoint: '198.51.100.12', mac: '02:00:c6:33:64:0c' };
    expect((await b.applyEndpoints(M1, [moved], live, OWNER)).action).toBe('updated');
    expect(endpointsOf(stored(lab))).toEqual([S0[0], moved]);
    // A shard with nothing to carry gives its endpoints up; the object keeps the others'.
    expect((await b.applyEndpoints(M1, [], live, OWNER)).action).toBe('updated');
    expect(endpointsOf(stored(lab))).toEqual([S0[0]]);
    expect((await b.applyEndpoints(M1, [], live, OWNER)).action).toBe('unchanged');
  });

  it('a write by another manager that would change a shard\'s endpoint is refused with KubeApplyConflictError and loses nothing', async () => {
    lab = await startLab();
    const [a, b] = shards(lab);
    const live = new AbortController().signal;
    await a.applyEndpoints(M0, S0, live, OWNER);
    const before = stored(lab);
    const err = await b.applyEndpoints(M1, [{ ...S0[0]!, tunnelEndpoint: '198.51.100.11' }], live, OWNER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApplyConflictError);
    expect(err).toMatchObject({ code: 'Conflict', status: 409, retryable: false, conflicts: [{ manager: M0, field: '.spec.endpoints[name="vpc-gateway-0-0"].tunnelEndpoint' }] });
    expect((err as Error).message).toContain('Apply failed with 1 conflict: conflict with "eks-hybrid-gateway-shard-0"');
    expect(stored(lab)).toEqual(before);
    // The same values are no conflict: shared, and the object does not change.
    expect((await b.applyEndpoints(M1, [S0[0]!], live, OWNER)).action).toBe('updated');
    expect(endpointsOf(stored(lab))).toEqual(endpointsOf(before));
  });

  it('a hand edit of a shard\'s endpoint (a plain PUT, as kubectl edit) makes its fields the editor\'s: the next apply conflicts only inside that endpoint, and one with force takes them back', async () => {
    lab = await startLab();
    const [a, b] = shards(lab);
    const live = new AbortController().signal;
    await a.applyEndpoints(M0, S0, live, OWNER);
    await b.applyEndpoints(M1, S1, live, OWNER);
    // kubectl edit: GET, change shard 0's first endpoint, PUT (an Update under the editor's manager).
    const edited = structuredClone(stored(lab));
    (edited.spec as { endpoints: Array<{ tunnelEndpoint: string }> }).endpoints[0]!.tunnelEndpoint = '192.0.2.99';
    const put = await fetch(`${lab.server.url}/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway?fieldManager=kubectl-edit`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(edited) });
    expect(put.status).toBe(200);
    const err = await a.applyEndpoints(M0, S0, live, OWNER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApplyConflictError);
    const conflicts = (err as KubeApplyConflictError).conflicts;
    expect(conflicts.map((c) => c.manager)).toEqual(['kubectl-edit']);
    // Inside shard 0's own endpoints: the gateway's leader takes them back (its statechart's `reclaiming`)…
    expect(conflictsWithinEndpoints(conflicts, S0)).toBe(true);
    // …while the same conflict is no business of shard 1's, and an annotation conflict is never one's own.
    expect(conflictsWithinEndpoints(conflicts, S1)).toBe(false);
    expect(conflictsWithinEndpoints([...conflicts, { field: `.metadata.annotations.${OWNER_ANNOTATION}` }], S0)).toBe(false);
    expect(conflictsWithinEndpoints([], S0)).toBe(false);
    expect((await a.applyEndpoints(M0, S0, live, OWNER, { force: true })).action).toBe('updated');
    expect(endpointsOf(stored(lab))).toEqual([...S0, ...S1]);
    // Its own again: the next apply is a no-op.
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('unchanged');
  });

  it('the owner rule: another live owner is OWNED_ELSEWHERE before anything is sent; a replaceable one is taken over', async () => {
    lab = await startLab();
    // Written by another installation (a PUT-based writer: its manager is not a shard's).
    const other = { name: 'vpc-gateway', cidr: '198.18.0.0/16', tunnelEndpoint: '198.51.100.20', mac: '02:00:c6:33:64:14' };
    lab.server.store.put('ciliumvtepconfigs', { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway', annotations: { [OWNER_ANNOTATION]: 'other/lease' } }, spec: { endpoints: [other] } });
    const before = stored(lab);
    const [a] = shards(lab);
    const live = new AbortController().signal;
    const err = await a.applyEndpoints(M0, S0, live, OWNER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VtepOwnedElsewhereError);
    expect(err).toMatchObject({ code: 'OWNED_ELSEWHERE', owner: 'other/lease' });
    expect(writes(lab)).toBe(0);
    expect(stored(lab)).toEqual(before);
    // The ownership check judged the other installation gone: its annotation is taken (forced: another
    // manager holds it), its endpoint is not ours to remove.
    expect((await a.applyEndpoints(M0, S0, live, { ...OWNER, replaceable: 'other/lease' })).action).toBe('updated');
    const after = stored(lab);
    expect(after.metadata?.annotations).toEqual({ [OWNER_ANNOTATION]: OWNER.key });
    expect(endpointsOf(after)).toEqual([other, ...S0]);
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('unchanged');
  });

  it('refuses to write once its signal is aborted: before the read nothing is sent, during the apply nothing is stored', async () => {
    lab = await startLab();
    const [a] = shards(lab);
    const ctl = new AbortController();
    ctl.abort();
    await expect(a.applyEndpoints(M0, S0, ctl.signal, OWNER)).rejects.toBeInstanceOf(KubeFencedError);
    expect(lab.server.requests).toHaveLength(0);
    lab.server.faults.set({ latencyMs: 5000, match: (r) => r.method === 'PATCH' });
    const slow = new AbortController();
    const p = a.applyEndpoints(M0, S0, slow.signal, OWNER);
    await waitFor(() => lab!.server.inFlight > 0 && gets(lab!) === 1, 'PATCH held by the server');
    slow.abort();
    await expect(p).rejects.toBeInstanceOf(KubeFencedError);
    await waitFor(() => lab!.server.inFlight === 0, 'server done');
    expect(stored(lab)).toBeUndefined();
  });

  it("Cilium's status writes cost nothing: the shard reads, sees its endpoints, and writes nothing", async () => {
    lab = await startLab();
    const [a, b] = shards(lab);
    const live = new AbortController().signal;
    await a.applyEndpoints(M0, S0, live, OWNER);
    await b.applyEndpoints(M1, S1, live, OWNER);
    const dataplane: VtepDataplane = { apply: () => Promise.resolve() };
    agent = new VtepAgent({ kube: readKubeconfig(lab.server.kubeconfigPath), dataplane, statusRefreshMs: 50 }).start();
    await waitFor(() => agent!.stats.statusWrites >= 3, 'three status writes by Cilium');
    expect(stored(lab).status).toMatchObject({ endpointCount: 3 });
    const w = writes(lab) - agent.stats.statusWrites;
    for (let i = 0; i < 3; i++) {
      expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('unchanged');
      expect((await b.applyEndpoints(M1, S1, live, OWNER)).action).toBe('unchanged');
    }
    expect(writes(lab) - agent.stats.statusWrites).toBe(w);
  });

  it('applies on the read the ownership check made: a change since then is a 409 that re-reads; "unchanged" is confirmed by a read of its own', async () => {
    lab = await startLab();
    const [a] = shards(lab);
    const live = new AbortController().signal;
    await a.applyEndpoints(M0, S0, live, OWNER);
    expect(await a.get(live)).toBeDefined();
    const g = gets(lab);
    // Equal as read: confirmed with a GET of its own before it says so.
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('unchanged');
    expect(gets(lab)).toBe(g + 1);
    // Changed between the ownership read and the apply (here: a label by someone else).
    expect(await a.get(live)).toBeDefined();
    const cur = stored(lab);
    lab.server.store.put('ciliumvtepconfigs', { ...cur, metadata: { ...cur.metadata, labels: { x: 'y' } } });
    const res = await a.applyEndpoints(M0, [S0[0]!], live, OWNER);
    expect(res).toMatchObject({ action: 'updated', conflicts: 1 });
    expect(endpointsOf(stored(lab))).toEqual([S0[0]]);
    expect(stored(lab).metadata?.labels).toEqual({ x: 'y' });
  });

  it('the client\'s labels are applied too (shared by the shards), and re-applies stay unchanged', async () => {
    lab = await startLab();
    const labels = { 'app.kubernetes.io/managed-by': 'eks-hybrid-gateway' };
    const a = new VtepConfigClient({ clients: lab.clients, labels });
    const b = new VtepConfigClient({ clients: lab.newClients(), labels });
    const live = new AbortController().signal;
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('created');
    expect((await b.applyEndpoints(M1, S1, live, OWNER)).action).toBe('updated');
    expect(stored(lab).metadata?.labels).toEqual(labels);
    const w = writes(lab);
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('unchanged');
    expect((await b.applyEndpoints(M1, S1, live, OWNER)).action).toBe('unchanged');
    expect(writes(lab)).toBe(w);
    // Someone removes the label: the next apply puts it back.
    const cur = stored(lab);
    lab.server.store.put('ciliumvtepconfigs', { ...cur, metadata: { ...cur.metadata, labels: {} } });
    expect((await a.applyEndpoints(M0, S0, live, OWNER)).action).toBe('updated');
    expect(stored(lab).metadata?.labels).toEqual(labels);
  });

  it('rejects bad endpoints and an empty field manager before any request', async () => {
    lab = await startLab();
    const [a] = shards(lab);
    const live = new AbortController().signal;
    await expect(a.applyEndpoints(M0, [{ ...S0[0]!, cidr: '' }], live, OWNER)).rejects.toThrow(/cidr must be a non-empty string/);
    await expect(a.applyEndpoints(M0, [S0[0]!, S0[0]!], live, OWNER)).rejects.toThrow(/duplicate name/);
    await expect(a.applyEndpoints('', S0, live, OWNER)).rejects.toThrow(/field manager is required/);
    expect(lab.server.requests).toHaveLength(0);
  });
});
