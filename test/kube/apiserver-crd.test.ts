// The stand-in's custom-resource semantics, as the real API server has them
// for CRDs with a structural schema and the status subresource (Cilium's
// published ciliumvtepconfigs / ciliumnodes CRDs, lab/kube-apiserver/crds/):
// metadata.generation, /status isolation both ways, pruning, defaulting, and
// 422 Invalid with one cause per schema rule.
import { afterEach, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer, type KubeApiServerOptions } from '../../lab/kube-apiserver/index.js';
import { waitFor } from './helpers.js';

let srv: KubeApiServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const VTEPS = '/apis/cilium.io/v2/ciliumvtepconfigs';
const CN = '/apis/cilium.io/v2/ciliumnodes';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';
type Obj = Record<string, unknown> & { metadata: Record<string, unknown> & { resourceVersion: string; generation?: number }; spec?: Record<string, unknown>; status?: Record<string, unknown> };

interface Res {
  status: number;
  body: Obj & { details?: { causes?: Array<{ reason: string; field: string; message: string }> }; message?: string; reason?: string };
  warnings: string[];
}

async function req(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Res> {
  const res = await fetch(`${srv!.url}${path}`, { method, headers: { 'content-type': contentType }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const warnings = (res.headers.get('warning') ?? '').split(/,\s*(?=299 )/).filter((w) => w !== '');
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Res['body'], warnings };
}

const EP = (i: number, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: `vpc-gateway-${i}`,
  tunnelEndpoint: '198.18.0.11',
  cidr: `198.18.${i}.0/24`,
  mac: '02:00:c6:12:00:0b',
  ...over,
});
const vtep = (endpoints: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumVTEPConfig',
  metadata: { name: 'hybrid-gateway' },
  spec: { endpoints, ...extra },
});

async function start(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  srv = await startKubeApiServer(opts);
  return srv;
}

async function created(body: Record<string, unknown> = vtep([EP(0)])): Promise<Obj> {
  const c = await req('POST', VTEPS, body);
  expect(c.status).toBe(201);
  return c.body;
}

/** One 422: its causes as "reason field". */
async function causesOf(body: unknown): Promise<string[]> {
  const r = await req('POST', VTEPS, body);
  expect(r.status, JSON.stringify(r.body)).toBe(422);
  expect(r.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422, details: { name: 'hybrid-gateway', group: 'cilium.io', kind: 'CiliumVTEPConfig' } });
  expect(r.body.message).toMatch(/^CiliumVTEPConfig\.cilium\.io "hybrid-gateway" is invalid: /);
  return r.body.details!.causes!.map((c) => `${c.reason} ${c.field}`);
}

describe('metadata.generation', () => {
  it('is 1 on create and bumps only when spec changes (not metadata, not status, not a no-op)', async () => {
    await start();
    const c = await created();
    expect(c.metadata.generation).toBe(1);
    const labelled = await req('PUT', `${VTEPS}/hybrid-gateway`, { ...c, metadata: { ...c.metadata, labels: { a: 'b' } } });
    expect(labelled.status).toBe(200);
    expect(labelled.body.metadata.generation).toBe(1);
    expect(Number(labelled.body.metadata.resourceVersion)).toBeGreaterThan(Number(c.metadata.resourceVersion));
    const st = await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...labelled.body, status: { endpointCount: 1 } });
    expect(st.body.metadata.generation).toBe(1);
    const noop = await req('PUT', `${VTEPS}/hybrid-gateway`, st.body);
    expect(noop.body.metadata.resourceVersion).toBe(st.body.metadata.resourceVersion);
    // A client cannot set the generation itself.
    const forged = await req('PUT', `${VTEPS}/hybrid-gateway`, { ...st.body, metadata: { ...st.body.metadata, generation: 7 } });
    expect(forged.body.metadata.generation).toBe(1);
    const spec = await req('PUT', `${VTEPS}/hybrid-gateway`, { ...st.body, spec: { endpoints: [EP(0, { tunnelEndpoint: '198.18.0.12' })] } });
    expect(spec.body.metadata.generation).toBe(2);
    const patched = await req('PATCH', `${VTEPS}/hybrid-gateway`, { spec: { endpoints: [EP(1)] } }, 'application/merge-patch+json');
    expect(patched.body.metadata.generation).toBe(3);
  });

  it('is left to the client on Leases, which have neither spec-driven generation nor a status subresource', async () => {
    await start();
    const lease = (holder: string, md: Record<string, unknown> = {}) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', ...md }, spec: { holderIdentity: holder } });
    const c = await req('POST', LEASES, lease('a'));
    expect(c.status).toBe(201);
    expect(c.body.metadata).not.toHaveProperty('generation');
    const u = await req('PUT', `${LEASES}/l`, lease('b', { resourceVersion: c.body.metadata.resourceVersion, generation: 5 }));
    expect(u.status).toBe(200);
    expect(u.body.metadata).not.toHaveProperty('generation');
  });
});

describe('the status subresource', () => {
  it('a write to the main resource keeps the stored status; create drops a status', async () => {
    await start();
    const c = await created({ ...vtep([EP(0)]), status: { endpointCount: 9 } });
    expect(c).not.toHaveProperty('status');
    const st = await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, status: { endpointCount: 1 } });
    expect(st.body.status).toEqual({ endpointCount: 1 });
    const main = await req('PUT', `${VTEPS}/hybrid-gateway`, { ...st.body, spec: { endpoints: [EP(2)] }, status: { endpointCount: 5 } });
    expect(main.status).toBe(200);
    expect(main.body.status).toEqual({ endpointCount: 1 });
    expect((main.body.spec!.endpoints as unknown[])[0]).toMatchObject({ name: 'vpc-gateway-2' });
    const mp = await req('PATCH', `${VTEPS}/hybrid-gateway`, { status: null }, 'application/merge-patch+json');
    expect(mp.body.status).toEqual({ endpointCount: 1 });
  });

  it('a write to /status changes only status (spec and metadata changes in it are ignored)', async () => {
    await start();
    const c = await created();
    const st = await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, metadata: { ...c.metadata, labels: { x: 'y' } }, spec: { endpoints: [EP(3)] }, status: { endpointCount: 1 } });
    expect(st.status).toBe(200);
    expect(st.body.spec).toEqual(c.spec);
    expect(st.body.metadata.labels).toBeUndefined();
    expect(st.body.status).toEqual({ endpointCount: 1 });
    const sp = await req('PATCH', `${VTEPS}/hybrid-gateway/status`, { spec: { endpoints: [EP(4)] }, status: { endpointCount: 2 } }, 'application/merge-patch+json');
    expect(sp.body.spec).toEqual(c.spec);
    expect(sp.body.status).toEqual({ endpointCount: 2 });
    expect(srv!.store.find('ciliumvtepconfigs', 'hybrid-gateway')!.spec).toEqual(c.spec);
  });

  it('both are conditional on resourceVersion (409 stale, 422 missing) and both produce MODIFIED events', async () => {
    await start();
    const c = await created();
    const events: Array<{ type: string; object: Obj }> = [];
    const ctl = new AbortController();
    const res = await fetch(`${srv!.url}${VTEPS}?watch=1&resourceVersion=${c.metadata.resourceVersion}`, { signal: ctl.signal });
    const reading = (async () => {
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += Buffer.from(chunk).toString();
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            events.push(JSON.parse(buf.slice(0, i)) as { type: string; object: Obj });
            buf = buf.slice(i + 1);
          }
        }
      } catch {
        // aborted
      }
    })();
    try {
      const st = await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, status: { endpointCount: 1 } });
      expect(st.status).toBe(200);
      expect((await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, status: { endpointCount: 2 } })).body).toMatchObject({ code: 409, reason: 'Conflict' });
      expect((await req('PUT', `${VTEPS}/hybrid-gateway`, { ...c, spec: { endpoints: [EP(5)] } })).body).toMatchObject({ code: 409, reason: 'Conflict' });
      const { resourceVersion: _rv, ...noRv } = c.metadata;
      expect((await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, metadata: noRv, status: { endpointCount: 2 } })).status).toBe(422);
      const again = await req('PATCH', `${VTEPS}/hybrid-gateway/status`, { status: { endpointCount: 3 } }, 'application/merge-patch+json');
      expect(again.status).toBe(200);
      await waitFor(() => events.length >= 2, 'two MODIFIED events');
      expect(events.map((e) => [e.type, e.object.status])).toEqual([
        ['MODIFIED', { endpointCount: 1 }],
        ['MODIFIED', { endpointCount: 3 }],
      ]);
      expect(events[0]!.object.metadata.resourceVersion).toBe(st.body.metadata.resourceVersion);
    } finally {
      ctl.abort();
      await reading;
    }
    expect((await req('DELETE', `${VTEPS}/hybrid-gateway/status`)).status).toBe(405);
  });
});

describe('CiliumVTEPConfig schema (Cilium\'s published CRD)', () => {
  it('accepts a valid object', async () => {
    await start();
    const eps = Array.from({ length: 8 }, (_, i) => EP(i, { mac: i % 2 === 0 ? '02:00:C6:12:00:0B' : '02:00:c6:12:00:0b' }));
    const c = await created(vtep(eps, { cidrMask: '255.255.0.0' }));
    expect(c.spec).toEqual({ endpoints: eps, cidrMask: '255.255.0.0' });
  });

  it('422: a bad MAC, a bad CIDR, a bad tunnel endpoint, a bad name', async () => {
    await start();
    expect(await causesOf(vtep([EP(0, { mac: '02:00:c6:12:00' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].mac']);
    expect(await causesOf(vtep([EP(0, { mac: '02-00-c6-12-00-0b' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].mac']);
    expect(await causesOf(vtep([EP(0, { cidr: '198.18.0.0/33' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].cidr']);
    expect(await causesOf(vtep([EP(0, { cidr: '198.18.0.0' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].cidr']);
    expect(await causesOf(vtep([EP(0, { tunnelEndpoint: '198.18.0.256' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].tunnelEndpoint']);
    expect(await causesOf(vtep([EP(0, { tunnelEndpoint: '2001:db8::1' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].tunnelEndpoint']);
    expect(await causesOf(vtep([EP(0, { name: 'VPC_gateway' })]))).toEqual(['FieldValueInvalid spec.endpoints[0].name']);
    expect(await causesOf(vtep([EP(0, { name: 'a'.repeat(64) })]))).toEqual(['FieldValueTooLong spec.endpoints[0].name']);
    expect(await causesOf(vtep([EP(0)], { cidrMask: '255.255.255' }))).toEqual(['FieldValueInvalid spec.cidrMask']);
    // The wording of apiextensions-apiserver's validation errors.
    const r = await req('POST', VTEPS, vtep([EP(0, { mac: 'zz' })]));
    expect(r.body.details!.causes![0]!.message).toBe(`Invalid value: "zz": spec.endpoints[0].mac in body should match '^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$'`);
  });

  it('422: every endpoint field is required, and so are spec and spec.endpoints', async () => {
    await start();
    for (const field of ['name', 'tunnelEndpoint', 'cidr', 'mac']) {
      const { [field]: _gone, ...ep } = EP(0);
      expect(await causesOf(vtep([ep]))).toEqual([`FieldValueRequired spec.endpoints[0].${field}`]);
    }
    expect(await causesOf({ ...vtep([]), spec: undefined })).toEqual(['FieldValueRequired spec']);
    expect(await causesOf({ ...vtep([]), spec: {} })).toEqual(['FieldValueRequired spec.endpoints']);
    const r = await req('POST', VTEPS, vtep([{ ...EP(0), mac: undefined }]));
    expect(r.body.details!.causes![0]).toEqual({ reason: 'FieldValueRequired', field: 'spec.endpoints[0].mac', message: 'Required value' });
  });

  it('422: 1 to 8 endpoints', async () => {
    await start();
    const nine = Array.from({ length: 9 }, (_, i) => EP(i));
    expect(await causesOf(vtep(nine))).toEqual(['FieldValueTooMany spec.endpoints']);
    const r = await req('POST', VTEPS, vtep(nine));
    expect(r.body.details!.causes![0]!.message).toBe('Too many: 9: must have at most 8 items');
    expect(await causesOf(vtep([]))).toEqual(['FieldValueInvalid spec.endpoints']);
  });

  it('422: endpoints are a list-map keyed by name (duplicate names refused, reported at the second one)', async () => {
    await start();
    const r = await req('POST', VTEPS, vtep([EP(0), EP(1, { name: 'vpc-gateway-0' }), EP(2)]));
    expect(r.status).toBe(422);
    expect(r.body.details!.causes).toEqual([{ reason: 'FieldValueDuplicate', field: 'spec.endpoints[1]', message: 'Duplicate value: map[string]interface {}{"name":"vpc-gateway-0"}' }]);
    // Same CIDR under two names is not the schema's business (Cilium's agent refuses it).
    expect((await req('POST', VTEPS, vtep([EP(0), EP(1, { cidr: '198.18.0.0/24' })]))).status).toBe(201);
  });

  it('422: wrong types, several causes at once; status is validated too', async () => {
    await start();
    expect((await causesOf(vtep([EP(0, { name: 7, mac: 'x' })]))).sort()).toEqual(['FieldValueInvalid spec.endpoints[0].mac', 'FieldValueTypeInvalid spec.endpoints[0].name']);
    expect(await causesOf({ ...vtep([]), spec: 'x' })).toEqual(['FieldValueTypeInvalid spec']);
    const c = await created();
    const bad = await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, status: { conditions: [{ type: 'Ready', status: 'Yes', reason: 'Synced', message: '', lastTransitionTime: '2026-04-18T06:00:37Z' }] } });
    expect(bad.body.details!.causes).toEqual([{ reason: 'FieldValueNotSupported', field: 'status.conditions[0].status', message: 'Unsupported value: "Yes": supported values: "True", "False", "Unknown"' }]);
    const noTime = await req('PUT', `${VTEPS}/hybrid-gateway/status`, { ...c, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: '' }] } });
    expect(noTime.body.details!.causes!.map((x) => x.field)).toEqual(['status.conditions[0].lastTransitionTime']);
  });

  it('defaults spec.cidrMask to 255.255.255.0 on every write that leaves it out (as the published CRD declares)', async () => {
    await start();
    const c = await created();
    expect(c.spec).toEqual({ endpoints: [EP(0)], cidrMask: '255.255.255.0' });
    // A client writing back what it wrote (without cidrMask) changes nothing: the default comes back.
    const put = await req('PUT', `${VTEPS}/hybrid-gateway`, { ...c, spec: { endpoints: [EP(0)] } });
    expect(put.body.metadata.resourceVersion).toBe(c.metadata.resourceVersion);
    expect(put.body.spec).toEqual(c.spec);
    const other = await req('PUT', `${VTEPS}/hybrid-gateway`, { ...c, spec: { endpoints: [EP(0)], cidrMask: '255.255.0.0' } });
    expect(other.body.spec!.cidrMask).toBe('255.255.0.0');
    expect(other.body.metadata.generation).toBe(2);
  });

  it('without CRD defaults (crdDefaults: false), what is read back is what was written', async () => {
    await start({ crdDefaults: false });
    expect((await created()).spec).toEqual({ endpoints: [EP(0)] });
  });

  it('prunes unknown fields: a Warning by default, 400 with fieldValidation=Strict, silence with Ignore', async () => {
    await start();
    const w = await req('POST', VTEPS, vtep([EP(0, { standby: { mac: 'x' } })], { nodeSelector: {} }));
    expect(w.status).toBe(201);
    expect(w.body.spec).toEqual({ endpoints: [EP(0)], cidrMask: '255.255.255.0' });
    expect(w.warnings.sort()).toEqual(['299 - "unknown field \\"spec.endpoints[0].standby\\""', '299 - "unknown field \\"spec.nodeSelector\\""']);
    const strict = await req('PUT', `${VTEPS}/hybrid-gateway?fieldValidation=Strict`, { ...w.body, spec: { endpoints: [EP(0)], extra: 1 } });
    expect(strict.status).toBe(400);
    expect(strict.body.message).toBe('CiliumVTEPConfig in version "v2" cannot be handled as a CiliumVTEPConfig: strict decoding error: unknown field "spec.extra"');
    const ignore = await req('PUT', `${VTEPS}/hybrid-gateway?fieldValidation=Ignore`, { ...w.body, top: 1 });
    expect(ignore.status).toBe(200);
    expect(ignore.warnings).toEqual([]);
    expect(ignore.body).not.toHaveProperty('top');
    expect((await req('POST', `${VTEPS}?fieldValidation=Loud`, vtep([EP(1)]))).status).toBe(400);
  });
});

describe('CiliumNode schema (Cilium\'s published CRD)', () => {
  it('validates types and prunes unknown fields', async () => {
    await start();
    const node = (spec: unknown) => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNode', metadata: { name: 'n1' }, spec });
    const bad = await req('POST', CN, node({ addresses: { ip: '203.0.113.10' }, ipam: { podCIDRs: ['198.19.1.0/24', 7] } }));
    expect(bad.status).toBe(422);
    expect(bad.body.details!.causes!.map((c) => `${c.reason} ${c.field}`).sort()).toEqual(['FieldValueTypeInvalid spec.addresses', 'FieldValueTypeInvalid spec.ipam.podCIDRs[1]']);
    expect((await req('POST', CN, { ...node({}), spec: undefined })).body.details!.causes).toEqual([{ reason: 'FieldValueRequired', field: 'spec', message: 'Required value' }]);
    const ok = await req('POST', CN, node({ addresses: [{ type: 'InternalIP', ip: '203.0.113.10', zone: 'x' }], ipam: { podCIDRs: ['198.19.1.0/24'] }, foo: 1 }));
    expect(ok.status).toBe(201);
    expect(ok.body.spec).toEqual({ addresses: [{ type: 'InternalIP', ip: '203.0.113.10' }], ipam: { podCIDRs: ['198.19.1.0/24'] } });
    expect(ok.warnings.length).toBe(2);
  });

  it('store.inject() keeps an object today\'s schema would refuse (written before the schema, or to etcd directly)', async () => {
    await start();
    srv!.store.inject('ciliumnodes', { apiVersion: 'cilium.io/v2', kind: 'CiliumNode', metadata: { name: 'old' }, spec: 'not-an-object' });
    expect((await req('GET', `${CN}/old`)).body.spec).toBe('not-an-object');
    expect(() => srv!.store.put('ciliumnodes', { metadata: { name: 'new' }, spec: 'not-an-object' })).toThrow(/is invalid/);
  });
});
