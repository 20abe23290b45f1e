// The kube-apiserver stand-in's protocol, over plain fetch: Status bodies,
// optimistic concurrency, selectors, pagination, patches, watches (replay,
// 410 as an ERROR event, bookmarks, selector transitions), faults, auth.
import { afterEach, describe, expect, it } from 'vitest';
import { LOADED_API_SERVER_LATENCY, startKubeApiServer, type KubeApiServer } from '../../lab/kube-apiserver/index.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from '../../lab/kube-apiserver/selectors.js';
import { jsonPatch, mergePatch } from '../../lab/kube-apiserver/patch.js';
import { waitFor } from './helpers.js';

let srv: KubeApiServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const CN = '/apis/cilium.io/v2/ciliumnodes';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';

async function req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${srv!.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Opens a watch and collects its events until close() is called. */
async function watch(path: string): Promise<{ events: Array<{ type: string; object: Record<string, unknown> }>; close(): void; done: Promise<void> }> {
  const ctl = new AbortController();
  const res = await fetch(`${srv!.url}${path}`, { signal: ctl.signal });
  const events: Array<{ type: string; object: Record<string, unknown> }> = [];
  const done = (async () => {
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)) as { type: string; object: Record<string, unknown> });
          buf = buf.slice(i + 1);
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, close: () => ctl.abort(), done };
}

const node = (name: string, labels: Record<string, string> = { 'eks.amazonaws.com/compute-type': 'hybrid' }) => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNode',
  metadata: { name, labels },
  spec: { addresses: [{ type: 'InternalIP', ip: '198.19.0.1' }] },
});

describe('selectors', () => {
  it('parses equality and set-based label selectors', () => {
    const l = { a: '1', b: 'x' };
    const m = (s: string) => parseLabelSelector(s)(l);
    expect(m('a=1')).toBe(true);
    expect(m('a==1,b=x')).toBe(true);
    expect(m('a!=1')).toBe(false);
    expect(m('c!=1')).toBe(true);
    expect(m('a in (1, 2)')).toBe(true);
    expect(m('a notin (1,2)')).toBe(false);
    expect(m('c notin (1)')).toBe(true);
    expect(m('b')).toBe(true);
    expect(m('!b')).toBe(false);
    expect(m('a>0,a<2')).toBe(true);
    expect(m('')).toBe(true);
    expect(parseLabelSelector('eks.amazonaws.com/compute-type=hybrid')({ 'eks.amazonaws.com/compute-type': 'hybrid' })).toBe(true);
    for (const bad of ['a=(', 'a in (1', '=x', 'a in 1']) expect(() => parseLabelSelector(bad)).toThrow(SelectorError);
  });
  it('parses field selectors and refuses unsupported fields', () => {
    expect(parseFieldSelector('metadata.name=x')({ metadata: { name: 'x' } })).toBe(true);
    expect(parseFieldSelector('metadata.name!=x')({ metadata: { name: 'x' } })).toBe(false);
    expect(() => parseFieldSelector('spec.foo=1', new Set(['metadata.name']))).toThrow(/not supported/);
  });
});

describe('patches', () => {
  it('merge patch (RFC 7386) and JSON patch (RFC 6902)', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] })).toEqual({ a: 1, b: { d: 3, e: 4 }, f: [1] });
    expect(
      jsonPatch({ a: [1, 2], b: { c: 1 } }, [
        { op: 'add', path: '/a/1', value: 9 },
        { op: 'replace', path: '/b/c', value: 2 },
        { op: 'copy', from: '/b', path: '/d' },
        { op: 'move', from: '/d/c', path: '/e' },
        { op: 'test', path: '/e', value: 2 },
        { op: 'remove', path: '/a/0' },
      ]),
    ).toEqual({ a: [9, 2], b: { c: 2 }, d: {}, e: 2 });
    expect(() => jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toThrow(/testing value/);
  });
});

describe('kube-apiserver stand-in', () => {
  it('serves discovery and /version', async () => {
    srv = await startKubeApiServer();
    expect((await req('GET', '/version')).body).toMatchObject({ major: '1', minor: '35' });
    expect((await req('GET', '/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await req('GET', '/apis')).body.groups as Array<{ name: string }>;
    expect(groups.map((g) => g.name).sort()).toEqual(['apiextensions.k8s.io', 'apps', 'cilium.io', 'coordination.k8s.io']);
    const rl = (await req('GET', '/apis/cilium.io/v2')).body;
    expect(rl).toMatchObject({ kind: 'APIResourceList', groupVersion: 'cilium.io/v2' });
    expect((rl.resources as Array<{ name: string; namespaced: boolean }>).find((r) => r.name === 'ciliumvtepconfigs')).toMatchObject({ namespaced: false, kind: 'CiliumVTEPConfig' });
    expect((await req('GET', '/openapi/v3')).body.paths).toHaveProperty(['apis/cilium.io/v2']);
    expect((await req('GET', '/apis/nope/v1')).status).toBe(404);
  });

  it('create/get/update/delete with resourceVersion, and Status bodies for 404, 409 and 422', async () => {
    srv = await startKubeApiServer();
    const c = await req('POST', CN, node('n1'));
    expect(c.status).toBe(201);
    const md = c.body.metadata as Record<string, string>;
    expect(md.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(md.creationTimestamp).toMatch(/Z$/);
    const dup = await req('POST', CN, node('n1'));
    expect(dup).toMatchObject({ status: 409, body: { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: 'ciliumnodes.cilium.io "n1" already exists', details: { name: 'n1', group: 'cilium.io', kind: 'ciliumnodes' } } });
    const nf = await req('GET', `${CN}/nope`);
    expect(nf).toMatchObject({ status: 404, body: { reason: 'NotFound', message: 'ciliumnodes.cilium.io "nope" not found' } });
    const upd = await req('PUT', `${CN}/n1`, { ...c.body, spec: { x: 1 } });
    expect(upd.status).toBe(200);
    expect(Number((upd.body.metadata as Record<string, string>).resourceVersion)).toBeGreaterThan(Number(md.resourceVersion));
    expect((upd.body.metadata as Record<string, number>).generation).toBe(2);
    const stale = await req('PUT', `${CN}/n1`, { ...c.body, spec: { x: 2 } });
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
    expect(stale.body.message).toContain('the object has been modified');
    const noRv = await req('PUT', `${CN}/n1`, { ...node('n1'), spec: { x: 3 } });
    expect(noRv).toMatchObject({ status: 422, body: { reason: 'Invalid' } }); // custom resources need the resourceVersion
    const badName = await req('POST', CN, node('Bad_Name'));
    expect(badName).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    const del = await req('DELETE', `${CN}/n1`, { preconditions: { resourceVersion: '1' } });
    expect(del.status).toBe(409);
    expect((await req('DELETE', `${CN}/n1`)).status).toBe(200);
    expect((await req('DELETE', `${CN}/n1`)).status).toBe(404);
  });

  it('refuses Lease timestamps that are not RFC3339 micro and non-integer durations', async () => {
    srv = await startKubeApiServer();
    const lease = (spec: Record<string, unknown>) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec });
    expect((await req('POST', LEASES, lease({ renewTime: '2026-11-25T00:27:02.123Z' }))).status).toBe(400);
    expect((await req('POST', LEASES, lease({ leaseDurationSeconds: 1.5 }))).status).toBe(422);
    expect((await req('POST', LEASES, lease({ holderIdentity: 'a', leaseDurationSeconds: 1, renewTime: '2026-11-25T00:27:02.123456Z' }))).status).toBe(201);
    // Leases refuse unconditional updates (leaseStrategy.AllowUnconditionalUpdate is false) but a PUT may create one.
    expect((await req('PUT', `${LEASES}/l`, lease({ holderIdentity: 'b', leaseDurationSeconds: 1 })))).toMatchObject({ status: 422, body: { reason: 'Invalid', details: { causes: [{ field: 'metadata.resourceVersion' }] } } });
    const rv = (srv.store.find('leases', 'l', 'kube-system')!.metadata!.resourceVersion)!;
    expect((await req('PUT', `${LEASES}/l`, { ...lease({ holderIdentity: 'b', leaseDurationSeconds: 1 }), metadata: { name: 'l', resourceVersion: rv } })).status).toBe(200);
    expect((await req('PUT', `${LEASES}/l2`, { ...lease({ holderIdentity: 'c' }), metadata: { name: 'l2' } })).status).toBe(201);
  });

  it('lists with label and field selectors, and paginates with limit/continue', async () => {
    srv = await startKubeApiServer();
    for (let i = 0; i < 7; i++) srv.store.put('ciliumnodes', node(`n${i}`, i % 2 === 0 ? { 'eks.amazonaws.com/compute-type': 'hybrid' } : { other: 'x' }));
    const sel = await req('GET', `${CN}?labelSelector=${encodeURIComponent('eks.amazonaws.com/compute-type=hybrid')}`);
    expect((sel.body.items as unknown[]).length).toBe(4);
    expect(sel.body).toMatchObject({ kind: 'CiliumNodeList', apiVersion: 'cilium.io/v2' });
    const fs = await req('GET', `${CN}?fieldSelector=metadata.name%3Dn3`);
    expect((fs.body.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name)).toEqual(['n3']);
    expect((await req('GET', `${CN}?labelSelector=a%20in%20(`)).status).toBe(400);
    const names: string[] = [];
    let cont = '';
    let pages = 0;
    do {
      const p = await req('GET', `${CN}?limit=3${cont ? `&continue=${cont}` : ''}`);
      pages += 1;
      names.push(...(p.body.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name));
      cont = ((p.body.metadata as Record<string, string>).continue ?? '');
    } while (cont !== '');
    expect(pages).toBe(3);
    expect(names).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
  });

  it('PATCH: merge, strategic (as merge) and JSON patch; 415 for an unknown patch type', async () => {
    srv = await startKubeApiServer();
    srv.store.put('ciliumnodes', node('n1'));
    const mp = await req('PATCH', `${CN}/n1`, { metadata: { labels: { extra: 'y' } } }, { 'content-type': 'application/merge-patch+json' });
    expect((mp.body.metadata as { labels: Record<string, string> }).labels).toEqual({ 'eks.amazonaws.com/compute-type': 'hybrid', extra: 'y' });
    const sp = await req('PATCH', `${CN}/n1`, { spec: { ipam: { podCIDRs: ['198.18.0.0/29'] } } }, { 'content-type': 'application/strategic-merge-patch+json' });
    expect(sp.body.spec).toMatchObject({ ipam: { podCIDRs: ['198.18.0.0/29'] } });
    const jp = await req('PATCH', `${CN}/n1`, [{ op: 'remove', path: '/metadata/labels/extra' }], { 'content-type': 'application/json-patch+json' });
    expect((jp.body.metadata as { labels: Record<string, string> }).labels).toEqual({ 'eks.amazonaws.com/compute-type': 'hybrid' });
    expect((await req('PATCH', `${CN}/n1`, 'x: 1', { 'content-type': 'application/yaml' })).status).toBe(415);
    const before = srv.store.resourceVersion;
    expect((await req('PATCH', `${CN}/n1?dryRun=All`, { spec: { z: 1 } }, { 'content-type': 'application/merge-patch+json' })).status).toBe(400);
    expect(srv.store.resourceVersion).toBe(before);
    expect((await req('PATCH', `${CN}/nope`, {}, { 'content-type': 'application/merge-patch+json' })).status).toBe(404);
  });

  it('watch: initial state, replay from a resourceVersion, selector transitions, bookmarks, 410 as an ERROR event', async () => {
    srv = await startKubeApiServer({ bookmarkIntervalMs: 30, historyLimit: 5 });
    srv.store.put('ciliumnodes', node('a'));
    const rv0 = srv.store.resourceVersion;
    srv.store.put('ciliumnodes', node('b'));
    const sel = encodeURIComponent('eks.amazonaws.com/compute-type=hybrid');
    const w1 = await watch(`${CN}?watch=1&labelSelector=${sel}`);
    const w2 = await watch(`${CN}?watch=1&resourceVersion=${rv0}&allowWatchBookmarks=true&labelSelector=${sel}`);
    try {
      await waitFor(() => w1.events.length >= 2 && w2.events.length >= 1, 'initial events');
      expect(w1.events.slice(0, 2).map((e) => [e.type, (e.object.metadata as { name: string }).name])).toEqual([['ADDED', 'a'], ['ADDED', 'b']]);
      expect(w2.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'b' } } });
      srv.store.put('ciliumnodes', node('a', { other: 'x' })); // leaves the selector
      srv.store.put('ciliumnodes', node('a')); // comes back
      srv.store.remove('ciliumnodes', 'b');
      const kinds = (w: typeof w1) => w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type}:${(e.object.metadata as { name: string }).name}`);
      await waitFor(() => kinds(w2).length >= 4, 'transitions');
      expect(kinds(w2)).toEqual(['ADDED:b', 'DELETED:a', 'ADDED:a', 'DELETED:b']);
      await waitFor(() => w2.events.some((e) => e.type === 'BOOKMARK'), 'bookmark');
      expect(w1.events.some((e) => e.type === 'BOOKMARK')).toBe(false);
      const bm = w2.events.find((e) => e.type === 'BOOKMARK')!;
      expect(bm.object).toMatchObject({ kind: 'CiliumNode', apiVersion: 'cilium.io/v2' });
    } finally {
      w1.close();
      w2.close();
      await Promise.all([w1.done, w2.done]);
    }
    for (let i = 0; i < 10; i++) srv.store.put('ciliumnodes', node(`x${i}`));
    const old = await watch(`${CN}?watch=1&resourceVersion=${rv0}`);
    await old.done;
    expect(old.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) as unknown }]);
  });

  it('faults: 5xx rate, injected 409, latency, outage, dropped watches', async () => {
    srv = await startKubeApiServer();
    srv.store.put('ciliumnodes', node('a'));
    srv.faults.set({ errorRate: 1, errorStatus: 503 });
    expect((await req('GET', CN)).status).toBe(503);
    srv.faults.set({ conflictRate: 1 });
    const cur = srv.store.find('ciliumnodes', 'a')!;
    expect((await req('PUT', `${CN}/a`, cur)).status).toBe(409);
    expect((await req('GET', CN)).status).toBe(200);
    // Latency on one path only: a later request elsewhere overtakes it.
    srv.faults.set({ latencyMs: 1000, match: (r) => r.path.endsWith('/a') });
    const order: string[] = [];
    const slow = req('GET', `${CN}/a`).then(() => order.push('slow'));
    await new Promise((r) => setImmediate(r));
    await req('GET', CN).then(() => order.push('fast'));
    await slow;
    expect(order).toEqual(['fast', 'slow']);
    srv.faults.clear();
    const w = await watch(`${CN}?watch=1`);
    await waitFor(() => srv!.openWatches === 1, 'watch open');
    srv.faults.outage(200);
    await w.done; // the outage dropped it
    expect(srv.openWatches).toBe(0);
    expect((await req('GET', CN)).status).toBe(503);
    expect((await req('GET', '/version')).status).toBe(200); // discovery stays up
    srv.faults.endOutage();
    expect((await req('GET', CN)).status).toBe(200);
  });

  it('faults: a latency mix is drawn by weight, then within its bucket; delayed requests and 5xx per resource are recorded', async () => {
    srv = await startKubeApiServer();
    const info = { method: 'PUT', path: `${LEASES}/x`, resource: 'leases', watch: false };
    // Each draw takes two numbers: the bucket (by weight), then the place within it.
    const draws = [0.1, 0.5, 0.85, 0, 0.995, 1, 0.5, 0.25];
    let i = 0;
    srv.faults.random = () => draws[i++ % draws.length]!;
    srv.faults.set({ latencyMs: LOADED_API_SERVER_LATENCY });
    expect([1, 2, 3, 4].map(() => srv!.faults.latencyFor(info))).toEqual([15, 25, 700, 10]);
    expect(srv.faults.latencyFor({ ...info, resource: undefined, path: '/version' })).toBe(0);
    // The loaded-server mix: every request gets some delay, and p99 by construction ≥ 300 ms.
    const weights = LOADED_API_SERVER_LATENCY.mix.map((b) => b.weight);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    const tail = LOADED_API_SERVER_LATENCY.mix.filter((b) => typeof b.ms !== 'number' && b.ms[0] >= 300);
    expect(tail.reduce((a, b) => a + b.weight, 0)).toBeGreaterThan(0.01);

    srv.faults.random = Math.random;
    srv.faults.set({ latencyMs: 1, errorRate: 1 });
    expect((await req('GET', `${LEASES}/x`)).status).toBe(500);
    expect((await req('GET', CN)).status).toBe(500);
    expect((await req('GET', '/version')).status).toBe(200); // not a resource: neither delayed nor failed
    expect(srv.faults.injected).toMatchObject({ errors: 2, delayed: 2, errorsByResource: { leases: 1, ciliumnodes: 1 } });
    expect(srv.faults.delays.map((d) => [d.method, d.resource, d.watch, d.drawnMs, d.cut])).toEqual([
      ['GET', 'leases', false, 1, false],
      ['GET', 'ciliumnodes', false, 1, false],
    ]);
    expect(srv.faults.delays.every((d) => d.ms >= 0 && d.atMs > 0)).toBe(true);
    // A client that gives up during the delay: its wait is recorded as cut short, nothing is handled.
    srv.faults.set({ latencyMs: 60_000 });
    const ctl = new AbortController();
    const gaveUp = fetch(`${srv.url}${LEASES}/x`, { signal: ctl.signal }).catch(() => 'aborted');
    await waitFor(() => srv!.inFlight === 1, 'the request waiting out its delay');
    ctl.abort();
    expect(await gaveUp).toBe('aborted');
    await waitFor(() => srv!.faults.delays.length === 3, 'the cut delay recorded');
    expect(srv.faults.delays[2]).toMatchObject({ resource: 'leases', drawnMs: 60_000, cut: true });
    expect(srv.faults.delays[2]!.ms).toBeLessThan(60_000);
  });

  it('answers Table requests (kubectl get) with printer columns', async () => {
    srv = await startKubeApiServer();
    srv.store.put('ciliumnodes', { ...node('a'), spec: { addresses: [{ type: 'InternalIP', ip: '198.19.0.7' }] } });
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
    const t = await req('GET', CN, undefined, { accept });
    expect(t.body).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1' });
    expect((t.body.columnDefinitions as Array<{ name: string }>).map((c) => c.name)).toEqual(['Name', 'CiliumInternalIP', 'InternalIP', 'Age']);
    expect((t.body.rows as Array<{ cells: unknown[]; object: { kind: string } }>)[0]).toMatchObject({ cells: ['a', '', '198.19.0.7', expect.stringMatching(/^\d+s$/) as unknown], object: { kind: 'PartialObjectMetadata' } });
    expect((await req('GET', CN)).body.kind).toBe('CiliumNodeList');
  });

  it('token auth when configured', async () => {
    srv = await startKubeApiServer({ token: 's3cret' });
    expect((await req('GET', CN)).status).toBe(401);
    expect((await req('GET', CN, undefined, { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect(srv.kubeconfigYaml).toContain('token: s3cret');
  });
});
