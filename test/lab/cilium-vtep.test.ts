// The Cilium stand-in's VTEP logic (lab/cilium-vtep.ts): what it reads of a
// CiliumVTEPConfig, its validation, the longest-prefix mapping of the BPF LPM
// map, the status it writes; and the agent's list+watch and /status writes
// against the kube-apiserver stand-in on 127.0.0.1 (no namespaces, no root:
// the dataplane is a recording fake).
import { afterEach, describe, expect, it } from 'vitest';
import {
  failedStatus,
  fullStatus,
  lpmLookup,
  parseCidr4,
  parseIPv4,
  parseMac,
  readVtepConfig,
  resolveDesired,
  validateVtepConfig,
  VtepAgent,
  type VtepConfig,
  type VtepEndpoint,
  type VtepEntry,
  type VtepStatus,
} from '../../lab/cilium-vtep.js';
import { readKubeconfig } from '../../lab/kube-http.js';
import { startKubeApiServer, type KubeApiServer, type KObj } from '../../lab/kube-apiserver/index.js';

const ep = (name: string, cidr: string, tunnelEndpoint = '198.18.0.11', mac = '02:00:c6:12:00:0b'): VtepEndpoint => ({ name, tunnelEndpoint, cidr, mac });
const cfg = (name: string, endpoints: VtepEndpoint[], generation = 1): VtepConfig => ({ name, generation, endpoints });

describe('parsing as Go net does', () => {
  it('IPv4 without leading zeros, CIDRs normalized, MACs in the forms net.ParseMAC takes', () => {
    expect(parseIPv4('198.18.0.11')).toBe(0xc612000b);
    for (const bad of ['198.018.0.11', '198.18.0', '198.18.0.256', '::1', '198.18.0.1 ']) expect(parseIPv4(bad)).toBeUndefined();
    expect(parseCidr4('198.18.5.77/16')).toEqual({ network: 0xc6120000, prefixLen: 16, key: '198.18.0.0/16' });
    expect(parseCidr4('0.0.0.0/0')?.key).toBe('0.0.0.0/0');
    for (const bad of ['198.18.0.0/33', '198.18.0.0', '198.18.0.0/016', '2001:db8::/32']) expect(parseCidr4(bad)).toBeUndefined();
    expect(parseMac('02:00:C6:12:00:0B')).toBe('02:00:c6:12:00:0b');
    expect(parseMac('02-00-c6-12-00-0b')).toBe('02:00:c6:12:00:0b');
    expect(parseMac('0200.c612.000b')).toBe('02:00:c6:12:00:0b');
    expect(parseMac('02:00:c6:12:00')).toBeUndefined();
  });
});

describe('reading and validating a CiliumVTEPConfig', () => {
  it('reads name, generation and spec.endpoints[].{name,tunnelEndpoint,cidr,mac}; ignores the rest', () => {
    const c = readVtepConfig({ metadata: { name: 'hybrid-gateway', generation: 3 }, spec: { cidrMask: '255.255.255.0', endpoints: [{ ...ep('a', '198.18.0.0/16'), extra: 1 }] }, status: { endpointCount: 9 } });
    expect(c).toEqual({ name: 'hybrid-gateway', generation: 3, endpoints: [ep('a', '198.18.0.0/16')] });
  });

  it('refuses what Cilium\'s agent refuses, with its reasons', () => {
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/16')]))).toBeUndefined();
    expect(validateVtepConfig(cfg('c', []))).toBe('at least one endpoint is required');
    expect(validateVtepConfig(cfg('c', Array.from({ length: 9 }, (_, i) => ep(`e${i}`, `198.18.${i}.0/24`))))).toBe('maximum 8 endpoints allowed, got 9');
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/16'), ep('a', '198.19.0.0/16')]))).toBe('duplicate endpoint name: a');
    // Passes the CRD's pattern ([01]?[0-9][0-9]?), not Go's parser.
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/16', '198.018.0.11')]))).toBe('invalid tunnel endpoint IP for a: 198.018.0.11');
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/16', '2001:db8::1')]))).toBe('tunnel endpoint must be IPv4 for a: 2001:db8::1');
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/33')]))).toBe('invalid CIDR for a: 198.18.0.0/33');
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/16'), ep('b', '198.18.9.9/16')]))).toBe('CIDR 198.18.9.9/16 normalizes to the same entry as 198.18.0.0/16 (endpoint b)');
    expect(validateVtepConfig(cfg('c', [ep('a', '198.18.0.0/16', '198.18.0.11', '02:00:c6:12:00:0b:00:01')]))).toBe('invalid MAC for a: 02:00:c6:12:00:0b:00:01');
  });
});

describe('the endpoint mapping (BPF LPM trie)', () => {
  const entries = (configs: VtepConfig[]): readonly VtepEntry[] => resolveDesired(configs).entries;

  it('sends each destination to the endpoint with the most specific matching CIDR', () => {
    const e = entries([
      cfg('hybrid-gateway', [
        ep('vpc', '198.18.0.0/15', '198.18.0.11', '02:00:c6:12:00:0b'),
        ep('vpc-sub', '198.18.5.0/24', '198.18.0.12', '02:00:c6:12:00:0c'),
        ep('host', '198.18.5.7/32', '198.18.0.13', '02:00:c6:12:00:0d'),
        ep('other', '203.0.113.0/24', '198.18.0.14', '02:00:c6:12:00:0e'),
      ]),
    ]);
    const to = (ip: string): string | undefined => lpmLookup(e, ip)?.endpoint.name;
    expect(to('198.18.5.7')).toBe('host');
    expect(to('198.18.5.8')).toBe('vpc-sub');
    expect(to('198.18.6.1')).toBe('vpc');
    expect(to('198.19.255.255')).toBe('vpc');
    expect(to('203.0.113.9')).toBe('other');
    expect(to('198.20.0.1')).toBeUndefined();
    expect(to('not-an-ip')).toBeUndefined();
    // Longest prefixes first, keys normalized.
    expect(e.map((x) => x.key)).toEqual(['198.18.5.7/32', '198.18.5.0/24', '203.0.113.0/24', '198.18.0.0/15']);
  });

  it('a default route endpoint catches everything else; order of the spec does not matter', () => {
    const a = entries([cfg('c', [ep('all', '0.0.0.0/0'), ep('vpc', '198.18.0.0/16', '198.18.0.12')])]);
    const b = entries([cfg('c', [ep('vpc', '198.18.0.0/16', '198.18.0.12'), ep('all', '0.0.0.0/0')])]);
    for (const e of [a, b]) {
      expect(lpmLookup(e, '198.18.1.1')?.endpoint.name).toBe('vpc');
      expect(lpmLookup(e, '192.0.2.1')?.endpoint.name).toBe('all');
    }
  });

  it('across configs: a CIDR claimed by two configs goes to neither; more than 8 entries apply none; invalid configs apply nothing', () => {
    const r = resolveDesired([cfg('a', [ep('x', '198.18.0.0/16'), ep('y', '198.19.0.0/16')]), cfg('b', [ep('z', '198.18.7.7/16')]), cfg('bad', [])]);
    expect(r.entries.map((e) => `${e.config}/${e.endpoint.name}`)).toEqual(['a/y']);
    expect(r.matching).toEqual(['a', 'b']);
    expect(r.invalid).toEqual(new Map([['bad', 'at least one endpoint is required']]));
    expect(r.endpointErrors.get('a')?.get('x')).toBe('CIDR 198.18.0.0/16 conflicts with other matching config(s)');
    expect(r.endpointErrors.get('b')?.get('z')).toBe('CIDR 198.18.0.0/16 conflicts with other matching config(s)');
    const many = resolveDesired([cfg('a', Array.from({ length: 5 }, (_, i) => ep(`a${i}`, `198.18.${i}.0/24`))), cfg('b', Array.from({ length: 5 }, (_, i) => ep(`b${i}`, `198.19.${i}.0/24`)))]);
    expect(many.entries).toEqual([]);
    expect(many.tooMany).toBe('total endpoints across matching configs (10) exceeds maximum (8)');
  });
});

describe('the status the agent writes', () => {
  const T0 = Date.parse('2026-04-18T06:00:37.250Z');

  it('Ready/Synced with observedGeneration, endpointCount, endpointStatuses with lastSyncTime; lastTransitionTime moves only on a status change', () => {
    const c = cfg('hybrid-gateway', [ep('vpc-gateway', '198.18.0.0/16')], 3);
    const s1 = fullStatus(c, undefined, undefined, T0);
    expect(s1).toEqual({
      endpointCount: 1,
      endpointStatuses: [{ name: 'vpc-gateway', synced: true, lastSyncTime: '2026-04-18T06:00:37Z' }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'All endpoints synced to BPF map', observedGeneration: 3, lastTransitionTime: '2026-04-18T06:00:37Z' }],
    });
    const s2 = fullStatus({ ...c, generation: 4 }, s1, undefined, T0 + 26 * 60_000);
    expect(s2.conditions![0]).toMatchObject({ observedGeneration: 4, lastTransitionTime: '2026-04-18T06:00:37Z' });
    expect(s2.endpointStatuses![0]!.lastSyncTime).toBe('2026-04-18T06:26:37Z');
    const s3 = fullStatus(c, s2, new Map([['vpc-gateway', 'failed to update BPF map: boom']]), T0 + 27 * 60_000);
    expect(s3.conditions![0]).toMatchObject({ status: 'False', reason: 'SyncFailed', message: 'Some endpoints failed to sync', lastTransitionTime: '2026-04-18T06:27:37Z' });
    expect(s3.endpointStatuses).toEqual([{ name: 'vpc-gateway', error: 'failed to update BPF map: boom' }]);
    const f = failedStatus(c, s1, 'invalid config: x', T0 + 60_000);
    expect(f.conditions![0]).toMatchObject({ status: 'False', reason: 'SyncFailed', message: 'invalid config: x' });
    expect(f.endpointStatuses).toEqual(s1.endpointStatuses);
  });
});

// ---- the agent against the stand-in ----

let api: KubeApiServer | undefined;
const agents: VtepAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await api?.close();
  api = undefined;
});

class FakeDataplane {
  applies: VtepEntry[][] = [];
  fail = false;
  get current(): readonly VtepEntry[] {
    return this.applies.at(-1) ?? [];
  }
  apply(entries: readonly VtepEntry[]): Promise<void> {
    if (this.fail) return Promise.reject(new Error('no map'));
    this.applies.push([...entries]);
    return Promise.resolve();
  }
}

const VTEPS = '/apis/cilium.io/v2/ciliumvtepconfigs';

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; body: KObj }> {
  const r = await fetch(`${api!.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as KObj };
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function startAgent(dp: FakeDataplane, opts: { statusRefreshMs?: number; now?: () => number } = {}): VtepAgent {
  const a = new VtepAgent({ kube: readKubeconfig(api!.kubeconfigPath), dataplane: dp, statusRefreshMs: opts.statusRefreshMs ?? 0, now: opts.now }).start();
  agents.push(a);
  return a;
}

const stored = (): KObj & { status?: VtepStatus; metadata: { generation: number; resourceVersion: string } } =>
  api!.store.find('ciliumvtepconfigs', 'hybrid-gateway') as KObj & { status?: VtepStatus; metadata: { generation: number; resourceVersion: string } };

describe('VtepAgent (own list+watch, /status writes) against the stand-in', () => {
  it('applies the config and writes status with observedGeneration = generation; follows spec changes; refreshes lastSyncTime', async () => {
    api = await startKubeApiServer();
    let skew = 0;
    const now = (): number => Date.now() + skew;
    const c = await http('POST', VTEPS, { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway' }, spec: { endpoints: [ep('vpc-gateway', '198.18.0.0/16')] } });
    expect(c.status).toBe(201);
    const dps = [new FakeDataplane(), new FakeDataplane()];
    const [a] = dps.map((dp) => startAgent(dp, { statusRefreshMs: 200, now }));
    const ready = (gen: number) => () => {
      const s = stored();
      return s.status?.conditions?.[0]?.observedGeneration === gen && s.metadata.generation === gen ? s : undefined;
    };
    const s1 = await until('status for generation 1', ready(1));
    expect(s1.status).toMatchObject({
      endpointCount: 1,
      endpointStatuses: [{ name: 'vpc-gateway', synced: true }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'All endpoints synced to BPF map', observedGeneration: 1 }],
    });
    expect(s1.status!.endpointStatuses![0]!.lastSyncTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(s1.spec).toEqual({ endpoints: [ep('vpc-gateway', '198.18.0.0/16')], cidrMask: '255.255.255.0' });
    for (const dp of dps) expect(dp.current.map((e) => e.key)).toEqual(['198.18.0.0/16']);
    expect(a!.appliedEndpoints).toEqual([ep('vpc-gateway', '198.18.0.0/16')]);

    // The gateway-side write: new tunnel endpoint and a second, more specific CIDR.
    const cur = await http('GET', `${VTEPS}/hybrid-gateway`);
    const next = [ep('vpc-gateway', '198.18.0.0/16', '198.18.0.12', '02:00:c6:12:00:0c'), ep('vpc-gateway-1', '198.18.9.0/24', '198.18.0.13', '02:00:c6:12:00:0d')];
    expect((await http('PUT', `${VTEPS}/hybrid-gateway`, { ...cur.body, spec: { endpoints: next } })).status).toBe(200);
    const s2 = await until('status for generation 2', ready(2));
    expect(s2.status!.endpointCount).toBe(2);
    expect(s2.status!.endpointStatuses!.map((x) => x.name)).toEqual(['vpc-gateway', 'vpc-gateway-1']);
    for (const dp of dps) {
      await until('entries applied', () => dp.current.length === 2);
      expect(lpmLookup(dp.current, '198.18.9.4')?.endpoint.tunnelEndpoint).toBe('198.18.0.13');
      expect(lpmLookup(dp.current, '198.18.8.4')?.endpoint.tunnelEndpoint).toBe('198.18.0.12');
    }

    // The periodic refresh moves lastSyncTime (whole seconds on the wire), not lastTransitionTime.
    const before = s2.status!.endpointStatuses![0]!.lastSyncTime!;
    const transition = s2.status!.conditions![0]!.lastTransitionTime;
    skew = 5_000;
    const s3 = await until('lastSyncTime refreshed', () => {
      const s = stored();
      return s.status!.endpointStatuses![0]!.lastSyncTime! > before ? s : undefined;
    });
    expect(s3.status!.conditions![0]!.lastTransitionTime).toBe(transition);
    expect(s3.status!.conditions![0]!.observedGeneration).toBe(2);
    expect(s3.metadata.generation).toBe(2); // status writes never bump it
  });

  it('two agents writing one status: 409s are re-read and retried; a config the agent refuses is reported and unprogrammed', async () => {
    api = await startKubeApiServer();
    const dps = [new FakeDataplane(), new FakeDataplane()];
    const ags = dps.map((dp) => startAgent(dp));
    await http('POST', VTEPS, { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway' }, spec: { endpoints: [ep('vpc-gateway', '198.18.0.0/16')] } });
    await until('synced', () => stored()?.status?.conditions?.[0]?.status === 'True');
    // Every other /status write is refused with 409 for a while.
    let n = 0;
    const refused = new WeakMap<object, boolean>();
    api.faults.set({
      conflictRate: 1,
      match: (r) => {
        if (r.method !== 'PUT' || !r.path.endsWith('/status')) return false;
        if (!refused.has(r)) refused.set(r, n++ % 2 === 0);
        return refused.get(r)!;
      },
    });
    const cur = await http('GET', `${VTEPS}/hybrid-gateway`);
    // 198.018.0.11 passes the CRD's pattern, not the agent's parser.
    expect((await http('PUT', `${VTEPS}/hybrid-gateway`, { ...cur.body, spec: { endpoints: [ep('vpc-gateway', '198.18.0.0/16', '198.018.0.11')] } })).status).toBe(200);
    const s = await until('refused config reported', () => {
      const o = stored();
      return o.status?.conditions?.[0]?.status === 'False' && o.status.conditions[0].observedGeneration === 2 ? o : undefined;
    });
    expect(s.status!.conditions![0]).toMatchObject({ reason: 'SyncFailed', message: 'invalid config: invalid tunnel endpoint IP for vpc-gateway: 198.018.0.11' });
    for (const dp of dps) await until('entries removed', () => dp.current.length === 0);
    expect(ags.reduce((x, a) => x + a.stats.statusConflicts, 0)).toBeGreaterThan(0);
    expect(ags.reduce((x, a) => x + a.stats.statusFailures, 0)).toBe(0);
    api.faults.clear();
  });

  it('a 409 on /status is answered by re-reading the object and writing the same status onto it', async () => {
    api = await startKubeApiServer();
    let refusals = 1;
    const refused = new WeakMap<object, boolean>();
    api.faults.set({
      conflictRate: 1,
      match: (r) => {
        if (r.method !== 'PUT' || !r.path.endsWith('/status')) return false;
        if (!refused.has(r)) refused.set(r, refusals-- > 0);
        return refused.get(r)!;
      },
    });
    const dp = new FakeDataplane();
    const a = startAgent(dp);
    await http('POST', VTEPS, { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway' }, spec: { endpoints: [ep('vpc-gateway', '198.18.0.0/16')] } });
    await until('status written after the 409', () => stored()?.status?.conditions?.[0]?.status === 'True');
    expect(a.stats).toMatchObject({ statusConflicts: 1, statusFailures: 0 });
    expect(api.requests.filter((r) => r.method === 'GET' && r.path === `${VTEPS}/hybrid-gateway`).length).toBe(1);
  });

  it('resumes after a dropped watch and lists again after 410; a deleted config empties the map', async () => {
    api = await startKubeApiServer({ historyLimit: 3 });
    const dp = new FakeDataplane();
    const a = startAgent(dp);
    await until('first list', () => a.listWatch!.counts.lists === 1 && api!.openWatches === 1);
    await http('POST', VTEPS, { apiVersion: 'cilium.io/v2', kind: 'CiliumVTEPConfig', metadata: { name: 'hybrid-gateway' }, spec: { endpoints: [ep('vpc-gateway', '198.18.0.0/16')] } });
    await until('applied', () => dp.current.length === 1);
    api.faults.dropWatches();
    const cur = await http('GET', `${VTEPS}/hybrid-gateway`);
    await http('PUT', `${VTEPS}/hybrid-gateway`, { ...cur.body, spec: { endpoints: [ep('vpc-gateway', '198.19.0.0/16')] } });
    await until('change seen after the drop', () => dp.current[0]?.key === '198.19.0.0/16');
    expect(a.listWatch!.counts.lists).toBe(1); // resumed, not re-listed
    // History forgotten while the watch is down: the resume gets 410 and lists again.
    api.faults.outage(300, 'reset');
    api.store.remove('ciliumvtepconfigs', 'hybrid-gateway');
    api.store.compact();
    await until('re-listed after 410', () => a.listWatch!.counts.gone >= 1 && a.listWatch!.counts.lists >= 2, 15_000);
    await until('map emptied', () => dp.current.length === 0);
    expect(a.appliedEndpoints).toEqual([]);
  });
});
