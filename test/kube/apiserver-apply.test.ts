// Server-side apply on the stand-in, over raw HTTP, as the real API server does it
// (https://kubernetes.io/docs/reference/using-api/server-side-apply/ and
// structured-merge-diff, lab/README.md): PATCH application/apply-patch+yaml,
// managedFields for every write, merge by the CRD's list/map topology, pruning
// of what an applier stops applying, conflicts and force, and the refusals.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startKubeApiServer, type KubeApiServer, type StoreEvent } from '../../lab/kube-apiserver/index.js';

let srv: KubeApiServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const VTEP = '/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway';
const CN = '/apis/cilium.io/v2/ciliumnodes';
const APPLY = 'application/apply-patch+yaml';
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

type Entry = { manager: string; operation: string; apiVersion: string; time?: string; fieldsType: string; fieldsV1: Record<string, unknown>; subresource?: string };
type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & { resourceVersion: string; generation?: number; managedFields?: Entry[]; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: Record<string, unknown> & { endpoints?: Array<Record<string, string>> };
  status?: Record<string, unknown>;
};
interface Res {
  status: number;
  body: Obj & { message?: string; reason?: string; code?: number; details?: { causes?: Array<{ reason: string; message: string; field: string }>; kind?: string; group?: string } };
}

async function req(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(`${srv!.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Res['body'] };
}

function apply(manager: string | undefined, body: unknown, query = '', path = VTEP): Promise<Res> {
  const q = [manager === undefined ? '' : `fieldManager=${manager}`, query].filter((x) => x !== '').join('&');
  return req('PATCH', `${path}${q === '' ? '' : `?${q}`}`, body, { 'content-type': APPLY });
}

const EP = (name: string, cidr: string, tunnelEndpoint = '198.51.100.10'): Record<string, string> => ({ name, cidr, mac: '4a:88:b7:ac:5f:b5', tunnelEndpoint });
const OWNER = { 'eks-hybrid-gateway/owner': 'kube-system/gw' };
const config = (endpoints: unknown[], annotations: Record<string, string> | null = OWNER): Record<string, unknown> => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumVTEPConfig',
  metadata: { name: 'hybrid-gateway', ...(annotations ? { annotations } : {}) },
  spec: { endpoints },
});
const ITEM = { '.': {}, 'f:cidr': {}, 'f:mac': {}, 'f:name': {}, 'f:tunnelEndpoint': {} };
const A = EP('vpc-gateway-0-0', '198.18.0.0/17');
const B = EP('vpc-gateway-1-0', '198.18.128.0/17', '198.51.100.11');

function entry(o: Obj, manager: string, operation = 'Apply'): Entry | undefined {
  return o.metadata.managedFields?.find((e) => e.manager === manager && e.operation === operation);
}
function stored(): Obj {
  return srv!.store.find('ciliumvtepconfigs', 'hybrid-gateway') as Obj;
}
function names(o: Obj): string[] {
  return (o.spec?.endpoints ?? []).map((e) => e.name!);
}

describe('server-side apply: create and merge', () => {
  it('creates a missing object (201) from YAML, recording the applier in FieldsV1 with k:{"name":…} items; defaults, generation 1, ADDED', async () => {
    srv = await startKubeApiServer();
    const events: StoreEvent[] = [];
    srv.store.subscribe((e) => events.push(e));
    const yaml = `apiVersion: cilium.io/v2
kind: CiliumVTEPConfig
metadata:
  name: hybrid-gateway
  annotations:
    eks-hybrid-gateway/owner: kube-system/gw
spec:
  endpoints:
  - name: vpc-gateway-0-0
    cidr: 198.18.0.0/17
    mac: 4a:88:b7:ac:5f:b5
    tunnelEndpoint: 198.51.100.10
`;
    const r = await apply('shard-0', yaml);
    expect(r.status).toBe(201);
    expect(r.body.spec).toEqual({ endpoints: [A], cidrMask: '255.255.255.0' });
    expect(r.body.metadata.generation).toBe(1);
    expect(r.body.metadata.managedFields).toEqual([
      {
        manager: 'shard-0',
        operation: 'Apply',
        apiVersion: 'cilium.io/v2',
        time: expect.stringMatching(TIME),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:eks-hybrid-gateway/owner': {} } }, 'f:spec': { 'f:endpoints': { 'k:{"name":"vpc-gateway-0-0"}': ITEM } } },
      },
    ]);
    expect(events.map((e) => e.type)).toEqual(['ADDED']);
    expect(stored()).toEqual(r.body);
  });

  it('two managers applying disjoint endpoints of one object both keep theirs; a re-apply changes nothing (same resourceVersion, no event)', async () => {
    srv = await startKubeApiServer();
    expect((await apply('shard-0', config([A]))).status).toBe(201);
    const r1 = await apply('shard-1', config([B]));
    expect(r1.status).toBe(200);
    expect(names(r1.body)).toEqual(['vpc-gateway-0-0', 'vpc-gateway-1-0']);
    expect(r1.body.metadata.generation).toBe(2);
    expect(entry(r1.body, 'shard-1')!.fieldsV1).toEqual({ 'f:metadata': { 'f:annotations': { 'f:eks-hybrid-gateway/owner': {} } }, 'f:spec': { 'f:endpoints': { 'k:{"name":"vpc-gateway-1-0"}': ITEM } } });
    const rv = srv.store.resourceVersion;
    let events = 0;
    srv.store.subscribe(() => (events += 1));
    for (const [m, eps] of [['shard-0', [A]], ['shard-1', [B]]] as const) {
      const again = await apply(m, config([...eps]));
      expect(again.status).toBe(200);
      expect(again.body).toEqual(stored());
    }
    expect(srv.store.resourceVersion).toBe(rv);
    expect(events).toBe(0);
  });

  it('a manager that drops an endpoint removes only its own; a field two managers applied stays until both drop it', async () => {
    srv = await startKubeApiServer();
    const C = EP('vpc-gateway-0-1', '203.0.113.0/24');
    await apply('shard-0', config([A, C]));
    await apply('shard-1', config([B]));
    const dropped = await apply('shard-0', config([A]));
    expect(names(dropped.body)).toEqual(['vpc-gateway-0-0', 'vpc-gateway-1-0']);
    expect(JSON.stringify(entry(dropped.body, 'shard-0')!.fieldsV1)).not.toContain('vpc-gateway-0-1');
    // shard-1 applies A with the same values: shared ownership. The object does not change, only its
    // managedFields, so shard-1's time stays (it moves only when an apply changes the object).
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 3_600_000);
      const shared = await apply('shard-1', config([A, B]));
      expect(shared.body.metadata.resourceVersion).not.toBe(dropped.body.metadata.resourceVersion);
      expect(shared.body.spec).toEqual(dropped.body.spec);
      expect(entry(shared.body, 'shard-1')!.time).toBe(entry(dropped.body, 'shard-1')!.time);
      const moved = await apply('shard-1', config([A, { ...B, tunnelEndpoint: '198.51.100.12' }]));
      expect(Date.parse(entry(moved.body, 'shard-1')!.time!)).toBeGreaterThan(Date.parse(entry(dropped.body, 'shard-1')!.time!) + 3_000_000);
      await apply('shard-1', config([A, B]));
    } finally {
      vi.useRealTimers();
    }
    // shard-0 gives A up: shard-1 still owns it, so it stays.
    expect(names((await apply('shard-0', config([]))).body)).toEqual(['vpc-gateway-0-0', 'vpc-gateway-1-0']);
    // shard-1 gives it up too: nobody owns it, it goes.
    expect(names((await apply('shard-1', config([B]))).body)).toEqual(['vpc-gateway-1-0']);
    // An annotation two managers applied stays while one of them still applies it.
    const noAnn = await apply('shard-0', config([], null));
    expect(noAnn.body.metadata.annotations).toEqual({ 'eks-hybrid-gateway/owner': 'kube-system/gw' }); // shard-1 owns it too
    expect(entry(noAnn.body, 'shard-0')).toBeUndefined(); // owns nothing any more: no entry
    expect((await apply('shard-1', config([B], null))).body.metadata.annotations).toBeUndefined();
  });

  it('atomic lists are replaced whole and conflict as one field; granular maps (labels) merge per key', async () => {
    srv = await startKubeApiServer();
    const node = (addresses: string[], labels: Record<string, string>): Record<string, unknown> => ({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNode', metadata: { name: 'hyb-1', labels },
      spec: { addresses: addresses.map((ip) => ({ type: 'InternalIP', ip })) },
    });
    expect((await apply('a', node(['198.19.0.1', '198.19.0.2'], { x: '1' }), '', `${CN}/hyb-1`)).status).toBe(201);
    const b = await apply('b', node([], { y: '2' }), '', `${CN}/hyb-1`);
    expect(b.status).toBe(409);
    expect(b.body.message).toBe('Apply failed with 1 conflict: conflict with "a": .spec.addresses');
    const { spec: _s, ...labelsOnly } = node([], { y: '2' });
    const b2 = await apply('b', labelsOnly, '', `${CN}/hyb-1`);
    expect(b2.body.metadata.labels).toEqual({ x: '1', y: '2' });
    expect(entry(b2.body, 'a')!.fieldsV1).toEqual({ 'f:metadata': { 'f:labels': { 'f:x': {} } }, 'f:spec': { 'f:addresses': {} } });
    const forced = await apply('b', node(['198.19.0.9'], { y: '2' }), 'force=true', `${CN}/hyb-1`);
    expect(forced.status).toBe(200);
    expect(forced.body.spec).toEqual({ addresses: [{ type: 'InternalIP', ip: '198.19.0.9' }] });
    expect(entry(forced.body, 'a')!.fieldsV1).toEqual({ 'f:metadata': { 'f:labels': { 'f:x': {} } } });
  });
});

describe('server-side apply: conflicts', () => {
  it('a different value for a field another manager owns: 409 Conflict with FieldManagerConflict causes, nothing changes; force=true takes the field', async () => {
    srv = await startKubeApiServer();
    await apply('shard-0', config([A]));
    const before = stored();
    const one = await apply('intruder', config([{ ...A, cidr: '198.18.0.0/18' }]), 'force=false');
    expect(one.status).toBe(409);
    expect(one.body).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Conflict', code: 409,
      message: 'Apply failed with 1 conflict: conflict with "shard-0": .spec.endpoints[name="vpc-gateway-0-0"].cidr',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "shard-0"', field: '.spec.endpoints[name="vpc-gateway-0-0"].cidr' }] },
    });
    const two = await apply('intruder', config([{ ...A, cidr: '198.18.0.0/18', mac: '02:00:00:00:00:01' }]));
    expect(two.body.message).toBe(
      'Apply failed with 2 conflicts: conflicts with "shard-0":\n- .spec.endpoints[name="vpc-gateway-0-0"].cidr\n- .spec.endpoints[name="vpc-gateway-0-0"].mac',
    );
    expect(stored()).toEqual(before);
    const forced = await apply('intruder', config([{ ...A, cidr: '198.18.0.0/18' }]), 'force=true');
    expect(forced.status).toBe(200);
    expect(forced.body.spec!.endpoints).toEqual([{ ...A, cidr: '198.18.0.0/18' }]);
    const item = (e: Entry): Record<string, unknown> => ((e.fieldsV1['f:spec'] as Record<string, Record<string, Record<string, unknown>>>)['f:endpoints']!)['k:{"name":"vpc-gateway-0-0"}']!;
    expect(Object.keys(item(entry(forced.body, 'shard-0')!))).toEqual(['.', 'f:mac', 'f:name', 'f:tunnelEndpoint']);
    expect(Object.keys(item(entry(forced.body, 'intruder')!))).toEqual(['.', 'f:cidr', 'f:mac', 'f:name', 'f:tunnelEndpoint']);
    // Now shard-0 conflicts in turn.
    expect((await apply('shard-0', config([A]))).body.message).toBe('Apply failed with 1 conflict: conflict with "intruder": .spec.endpoints[name="vpc-gateway-0-0"].cidr');
  });

  it('a stale resourceVersion in the configuration is 409 (the object has been modified); a current one applies', async () => {
    srv = await startKubeApiServer();
    const c = await apply('shard-0', config([A]));
    await apply('shard-1', config([B]));
    const stale = await apply('shard-0', { ...config([A]), metadata: { name: 'hybrid-gateway', resourceVersion: c.body.metadata.resourceVersion } });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toBe('Operation cannot be fulfilled on ciliumvtepconfigs.cilium.io "hybrid-gateway": the object has been modified; please apply your changes to the latest version and try again');
    expect(stale.body.details?.causes).toBeUndefined();
    const cur = await apply('shard-0', { ...config([A]), metadata: { name: 'hybrid-gateway', resourceVersion: stored().metadata.resourceVersion } });
    expect(cur.status).toBe(200);
  });
});

describe('managedFields of the other writes', () => {
  it('POST/PUT/merge/JSON patch record operation Update under fieldManager, else the User-Agent program, else "unknown"; a changed applied field moves to the updater', async () => {
    srv = await startKubeApiServer();
    const c = await req('POST', '/apis/cilium.io/v2/ciliumvtepconfigs?fieldManager=creator', config([A]));
    expect(c.status).toBe(201);
    expect(c.body.metadata.managedFields).toEqual([
      {
        manager: 'creator', operation: 'Update', apiVersion: 'cilium.io/v2', time: expect.stringMatching(TIME), fieldsType: 'FieldsV1',
        // An Update owns what it added, containers included ("." on f:spec and f:annotations).
        // An Update owns what it added, containers included ("." on f:spec, f:annotations, f:endpoints), and the defaulted cidrMask.
        fieldsV1: {
          'f:metadata': { 'f:annotations': { '.': {}, 'f:eks-hybrid-gateway/owner': {} } },
          'f:spec': { '.': {}, 'f:cidrMask': {}, 'f:endpoints': { '.': {}, 'k:{"name":"vpc-gateway-0-0"}': ITEM } },
        },
      },
    ]);
    const m = await req('PATCH', VTEP, { metadata: { labels: { a: 'b' } } }, { 'content-type': 'application/merge-patch+json', 'user-agent': 'kubectl/v1.35.0 (linux/amd64) kubernetes/abc' });
    expect(entry(m.body, 'kubectl', 'Update')!.fieldsV1).toEqual({ 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } } });
    const j = await req('PATCH', VTEP, [{ op: 'add', path: '/metadata/labels/c', value: 'd' }], { 'content-type': 'application/json-patch+json', 'user-agent': '' });
    expect(entry(j.body, 'unknown', 'Update')!.fieldsV1).toEqual({ 'f:metadata': { 'f:labels': { 'f:c': {} } } });
    // Applying the values an Update wrote: shared, no conflict.
    const a = await apply('shard-0', config([A]));
    expect(a.status).toBe(200);
    const edited = stored();
    const put = await req('PUT', `${VTEP}?fieldManager=kubectl-edit`, { ...edited, spec: { ...edited.spec, endpoints: [{ ...A, tunnelEndpoint: '198.51.100.99' }] } });
    expect(put.status).toBe(200);
    const edit = entry(put.body, 'kubectl-edit', 'Update')!;
    expect(edit.fieldsV1).toEqual({ 'f:spec': { 'f:endpoints': { 'k:{"name":"vpc-gateway-0-0"}': { 'f:tunnelEndpoint': {} } } } });
    const back = await apply('shard-0', config([A]));
    expect(back.status).toBe(409);
    expect(back.body.message).toBe(`Apply failed with 1 conflict: conflict with "kubectl-edit" using cilium.io/v2 at ${edit.time}: .spec.endpoints[name="vpc-gateway-0-0"].tunnelEndpoint`);
  });

  it('writes through /status are recorded with subresource "status" and leave the spec owners alone', async () => {
    srv = await startKubeApiServer();
    await apply('shard-0', config([A]));
    const cur = stored();
    const st = await req('PUT', `${VTEP}/status?fieldManager=cilium-agent`, { ...cur, status: { endpointCount: 1 } });
    expect(st.status).toBe(200);
    expect(st.body.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: 'shard-0', operation: 'Apply' }),
      { manager: 'cilium-agent', operation: 'Update', apiVersion: 'cilium.io/v2', time: expect.stringMatching(TIME), fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { '.': {}, 'f:endpointCount': {} } }, subresource: 'status' },
    ]);
    // Status in an apply to the main resource is not the applier's (the strategy resets it).
    const withStatus = await apply('shard-0', { ...config([A]), status: { endpointCount: 7 } });
    expect(withStatus.body.status).toEqual({ endpointCount: 1 });
    expect(withStatus.body.metadata.resourceVersion).toBe(st.body.metadata.resourceVersion);
    // Apply and Update are different managers even under one name.
    const statusApply = { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway' }, status: { endpointCount: 2 } };
    const conflict = await apply('cilium-agent', statusApply, '', `${VTEP}/status`);
    const updater = entry(st.body, 'cilium-agent', 'Update')!;
    expect(conflict.body.message).toBe(`Apply failed with 1 conflict: conflict with "cilium-agent" with subresource "status" using cilium.io/v2 at ${updater.time}: .status.endpointCount`);
    const sa = await apply('cilium-agent', statusApply, 'force=true', `${VTEP}/status`);
    expect(sa.status).toBe(200);
    expect(sa.body.status).toEqual({ endpointCount: 2 });
    expect(entry(sa.body, 'cilium-agent', 'Apply')).toMatchObject({ subresource: 'status', fieldsV1: { 'f:status': { 'f:endpointCount': {} } } });
    expect(sa.body.metadata.generation).toBe(1);
  });

  it('managedFields sent back as read are kept; [{}] or [] clears them; entries that do not decode are ignored', async () => {
    srv = await startKubeApiServer();
    await apply('shard-0', config([A]));
    const cur = stored();
    const same = await req('PUT', VTEP, cur);
    expect(same.body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
    const bogus = await req('PATCH', VTEP, { metadata: { managedFields: [{ manager: 'x', operation: 'Delete' }] } }, { 'content-type': 'application/merge-patch+json' });
    expect(bogus.body.metadata.managedFields).toEqual(cur.metadata.managedFields);
    for (const reset of [[{}], []]) {
      await apply('shard-0', config([A]));
      const clear = await req('PATCH', VTEP, { metadata: { managedFields: reset } }, { 'content-type': 'application/merge-patch+json' });
      expect(clear.body.metadata.managedFields).toBeUndefined();
      // Nobody owns the endpoint now: dropping it from an apply leaves it.
      expect(names((await apply('shard-0', config([]))).body)).toEqual(['vpc-gateway-0-0']);
    }
  });
});

describe('server-side apply: refusals', () => {
  it('answers as the real server: 422 without fieldManager or with force on other patches, 400 for YAML/version/managedFields, 500 for what the typed conversion refuses, 404 for /status of a missing object', async () => {
    srv = await startKubeApiServer();
    const noManager = await apply(undefined, config([A]));
    expect(noManager.status).toBe(422);
    expect(noManager.body).toMatchObject({
      reason: 'Invalid', message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      details: { group: 'meta.k8s.io', kind: 'PatchOptions', causes: [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }] },
    });
    expect((await apply('m', 'spec: [unclosed')).status).toBe(400);
    expect((await apply('m', config([A]), 'force=maybe')).status).toBe(400);
    const wrongVersion = await apply('m', { ...config([A]), apiVersion: 'cilium.io/v1' });
    expect(wrongVersion.body).toMatchObject({ code: 400, message: 'Incorrect version specified in apply patch. Specified patch version: cilium.io/v1, expected: cilium.io/v2' });
    const withFields = await apply('m', { ...config([A]), metadata: { name: 'hybrid-gateway', managedFields: [] } });
    expect(withFields.body).toMatchObject({ code: 400, message: 'metadata.managedFields must be nil' });
    const undeclared = await apply('m', { ...config([A]), spec: { endpoints: [A], extra: 1 } });
    expect(undeclared.status).toBe(500);
    expect(undeclared.body.reason).toBeUndefined();
    expect(undeclared.body.message).toBe('failed to create typed patch object (/hybrid-gateway; cilium.io/v2, Kind=CiliumVTEPConfig): .spec.extra: field not declared in schema');
    const unkeyed = await apply('m', config([{ cidr: '198.18.0.0/17' }]));
    expect(unkeyed.body.message).toMatch(/\.spec\.endpoints: element 0: associative list with keys has an element that omits all key fields \["name"\]/);
    const dup = await apply('m', config([A, A]));
    expect(dup.body.message).toMatch(/\.spec\.endpoints: duplicate entries for key \[name="vpc-gateway-0-0"\]$/);
    expect((await apply('m', { ...config([A]), metadata: { name: 'other' } })).body.message).toBe('the name of the object (other) does not match the name on the URL (hybrid-gateway)');
    expect((await apply('m', config([A]), '', `${VTEP}/status`)).status).toBe(404);
    // Validation as for any write: the schema's 422.
    const invalid = await apply('m', config([{ ...A, mac: 'zz' }]));
    expect(invalid.status).toBe(422);
    expect(srv.store.find('ciliumvtepconfigs', 'hybrid-gateway')).toBeUndefined();
    // force is for apply only.
    await apply('m', config([A]));
    const mergeForce = await req('PATCH', `${VTEP}?force=false`, { metadata: { labels: { a: 'b' } } }, { 'content-type': 'application/merge-patch+json' });
    expect(mergeForce.body).toMatchObject({ code: 422, message: 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch' });
    expect(stored().metadata.labels).toBeUndefined();
  });
});
