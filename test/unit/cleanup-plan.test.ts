// What cleanup deletes, decided without I/O (machines/domain/cleanup.ts): the
// ENI record the leaders keep on their Lease, the wait for the last leader's
// writes, and the plan: a route goes only when it is for a POD_CIDR and points
// at a recorded ENI; the CiliumVTEPConfig only when this installation owns it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLEANUP_HOLDER_PREFIX,
  GATEWAY_ENIS_ANNOTATION,
  MAX_RECORDED_ENIS,
  MAX_SETTLE_LEASE_MS,
  parseEniList,
  planCleanup,
  settleWaitMs,
  withEni,
  type CleanupFacts,
  type RouteSeen,
} from '../../machines/domain/cleanup.js';
import { OWNER_ANNOTATION, OWNER_SKEW_MS } from '../../machines/domain/ownership.js';

const A = 'eni-0a00000000000000a';
const B = 'eni-0b00000000000000b';
const OTHER = 'eni-0d00000000000000d';
const OURS = 'gateway/hybrid-gateway-leader';
const PODS = ['198.19.0.0/17', '198.19.128.0/17'];

const table = (routes: Record<string, string | undefined>): ReadonlyMap<string, RouteSeen> => new Map(Object.entries(routes).map(([cidr, target]) => [cidr, { target }]));

function facts(over: Partial<CleanupFacts> = {}): CleanupFacts {
  return {
    routeTableIds: ['rtb-0000000a', 'rtb-0000000b'],
    podCidrs: PODS,
    tables: new Map([
      ['rtb-0000000a', table({ '198.19.0.0/17': A, '198.19.128.0/17': B, '203.0.113.0/24': A, '198.18.0.0/16': 'local' })],
      ['rtb-0000000b', table({ '198.19.0.0/17': OTHER, '0.0.0.0/0': 'igw-0123456789abcdef0' })],
    ]),
    ourEnis: [B, A],
    ownerKey: OURS,
    vtepConfig: { present: true, owner: OURS, resourceVersion: '42' },
    ...over,
  };
}

describe('the ENI record on the Lease', () => {
  it('lists ENI ids, ignoring anything else; appends a new one; leaves the text alone when it is listed', () => {
    expect(parseEniList(undefined)).toEqual([]);
    expect(parseEniList(` ${A}, nonsense,${B},${A},eni-XYZ`)).toEqual([A, B]);
    expect(withEni(undefined, A)).toBe(A);
    expect(withEni(A, B)).toBe(`${A},${B}`);
    expect(withEni(`${A}, ${B}`, A)).toBe(`${A}, ${B}`);
    expect(withEni(A, 'not-an-eni')).toBe(A);
  });

  it(`keeps the newest ${MAX_RECORDED_ENIS}: the oldest goes first`, () => {
    let v: string | undefined;
    const enis = Array.from({ length: MAX_RECORDED_ENIS + 3 }, (_, i) => `eni-${i.toString(16).padStart(17, '0')}`);
    for (const e of enis) v = withEni(v, e);
    expect(parseEniList(v)).toEqual(enis.slice(3));
  });

  it('property: recording is idempotent and never loses the ENI just recorded', () => {
    const eni = fc.stringMatching(/^eni-[0-9a-f]{17}$/);
    fc.assert(
      fc.property(fc.array(eni, { maxLength: 40 }), eni, (history, e) => {
        const v = history.reduce<string | undefined>((acc, x) => withEni(acc, x), undefined);
        const once = withEni(v, e);
        expect(withEni(once, e)).toBe(once);
        expect(parseEniList(once)).toContain(e);
        expect(parseEniList(once).length).toBeLessThanOrEqual(MAX_RECORDED_ENIS);
      }),
    );
  });
});

describe('the wait after taking the Lease', () => {
  const NOW = Date.parse('2026-12-01T12:00:00Z');
  it('a live or recent holder: its lease duration plus the late-write window', () => {
    expect(settleWaitMs({ holder: 'gw-a', renewedAtMs: NOW - 500, durationMs: 3000 }, NOW, 10_000, 3000)).toBe(13_000);
    // Released a moment ago: a write sent before the release may still land.
    expect(settleWaitMs({ holder: '', renewedAtMs: NOW - 1000, durationMs: 1000 }, NOW, 10_000, 3000)).toBe(11_000);
    // Unknown duration: the default; unparsable renew time: assume recent.
    expect(settleWaitMs({ holder: 'gw-a', renewedAtMs: undefined, durationMs: undefined }, NOW, 10_000, 3000)).toBe(13_000);
    // A huge duration is not waited out in full.
    expect(settleWaitMs({ holder: 'gw-a', renewedAtMs: NOW, durationMs: 3_600_000 }, NOW, 0, 3000)).toBe(MAX_SETTLE_LEASE_MS);
  });

  it('nothing to wait for: no Lease, a cleanup held it, or the last renewal is long past', () => {
    expect(settleWaitMs(undefined, NOW, 10_000, 3000)).toBe(0);
    expect(settleWaitMs({ holder: `${CLEANUP_HOLDER_PREFIX}job-x`, renewedAtMs: NOW, durationMs: 600_000 }, NOW, 10_000, 3000)).toBe(0);
    expect(settleWaitMs({ holder: 'gw-a', renewedAtMs: NOW - (3000 + 10_000 + OWNER_SKEW_MS + 1), durationMs: 3000 }, NOW, 10_000, 3000)).toBe(0);
    expect(settleWaitMs({ holder: 'gw-a', renewedAtMs: NOW - (3000 + 10_000 + OWNER_SKEW_MS), durationMs: 3000 }, NOW, 10_000, 3000)).toBe(13_000);
  });
});

describe('the plan', () => {
  it('deletes the POD_CIDR routes that point at a recorded ENI, and only those', () => {
    const p = planCleanup(facts());
    expect(p.routes).toEqual([
      { table: 'rtb-0000000a', cidr: '198.19.0.0/17', action: 'delete', target: A },
      { table: 'rtb-0000000a', cidr: '198.19.128.0/17', action: 'delete', target: B },
      { table: 'rtb-0000000b', cidr: '198.19.0.0/17', action: 'keep', target: OTHER, why: `points at ${OTHER}, not at one of this installation's gateway ENIs (${B}, ${A})` },
      { table: 'rtb-0000000b', cidr: '198.19.128.0/17', action: 'absent' },
    ]);
    // Other destinations are never looked at, even when they point at one of our ENIs.
    expect(p.routes.some((r) => r.cidr === '203.0.113.0/24' || r.cidr === '0.0.0.0/0')).toBe(false);
    expect(p.unread).toEqual([]);
    expect(p.vtepConfig).toEqual({ action: 'delete', resourceVersion: '42' });
  });

  it('with no ENI recorded, no route is known to be ours: every one is left, saying so', () => {
    const p = planCleanup(facts({ ourEnis: [] }));
    expect(p.routes.filter((r) => r.action === 'delete')).toEqual([]);
    const kept = p.routes.find((r) => r.action === 'keep' && r.target === A);
    expect(kept).toMatchObject({ why: expect.stringContaining(`no gateway ENI is recorded for this installation (Lease annotation ${GATEWAY_ENIS_ANNOTATION})`) });
  });

  it('the CiliumVTEPConfig: kept when another installation owns it or nobody does; nothing when absent', () => {
    expect(planCleanup(facts({ vtepConfig: { present: true, owner: 'team-b/hybrid-gateway-leader', resourceVersion: '7' } })).vtepConfig).toEqual({
      action: 'keep',
      why: `its owner annotation names Lease team-b/hybrid-gateway-leader, another installation (this one is ${OURS})`,
    });
    expect(planCleanup(facts({ vtepConfig: { present: true, owner: '', resourceVersion: '7' } })).vtepConfig).toEqual({
      action: 'keep',
      why: `it has no owner annotation (${OWNER_ANNOTATION}): not known to be this installation's`,
    });
    expect(planCleanup(facts({ vtepConfig: { present: false } })).vtepConfig).toEqual({ action: 'absent' });
  });

  it('a table that could not be read is reported (gone, or an error) and nothing of it is planned', () => {
    const tables = new Map([...facts().tables, ['rtb-0000000c', { error: 'DescribeRouteTables failed: UnauthorizedOperation', gone: false }] as const]);
    const p = planCleanup(facts({ routeTableIds: ['rtb-0000000a', 'rtb-0000000c', 'rtb-0000000d'], tables }));
    expect(p.unread).toEqual([
      { table: 'rtb-0000000c', error: 'DescribeRouteTables failed: UnauthorizedOperation', gone: false },
      { table: 'rtb-0000000d', error: 'not described', gone: false },
    ]);
    expect(new Set(p.routes.map((r) => r.table))).toEqual(new Set(['rtb-0000000a']));
  });

  it('property: a route is deleted exactly when it is for a POD_CIDR and its target is recorded', () => {
    const target = fc.constantFrom(A, B, OTHER, 'igw-0123456789abcdef0', undefined);
    const cidr = fc.constantFrom(...PODS, '203.0.113.0/24');
    fc.assert(
      fc.property(fc.dictionary(cidr, target), fc.subarray([A, B, OTHER]), (routes, ours) => {
        const p = planCleanup(facts({ routeTableIds: ['rtb-0000000a'], tables: new Map([['rtb-0000000a', table(routes)]]), ourEnis: ours }));
        for (const c of PODS) {
          const d = p.routes.find((r) => r.cidr === c)!;
          const t = routes[c];
          if (!(c in routes)) expect(d.action).toBe('absent');
          else expect(d.action).toBe(t !== undefined && ours.includes(t) ? 'delete' : 'keep');
        }
        expect(p.routes).toHaveLength(PODS.length);
      }),
    );
  });
});
