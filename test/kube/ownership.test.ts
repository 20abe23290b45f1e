// The owner annotation on the cluster-wide CiliumVTEPConfig, against the
// stand-in API server: every write carries it, an object owned by another
// installation is not written, and the other installation's Lease is read as
// it is (held, released, deleted, unreadable).
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseLock, readOtherLease, VtepConfigClient, VtepOwnedElsewhereError, type VtepEndpoint } from '../../effects/kube/index.js';
import { OWNER_ANNOTATION } from '../../machines/domain/ownership.js';
import { startLab, type Lab } from './helpers.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.server.close();
  lab = undefined;
});

const A: VtepEndpoint[] = [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.10', cidr: '198.51.100.0/24', mac: '4a:88:b7:ac:5f:b5' }];
const B: VtepEndpoint[] = [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.20', cidr: '198.51.100.0/24', mac: 'b6:ef:fc:21:39:ab' }];
const OURS = 'gateway/hybrid-gateway-leader';
const THEIRS = 'team-b/hybrid-gateway-leader';
const live = (): AbortSignal => new AbortController().signal;
interface Stored {
  metadata: { annotations?: Record<string, string> } & Record<string, unknown>;
  spec: { endpoints: VtepEndpoint[] };
}
const stored = (l: Lab): Stored => l.server.store.find('ciliumvtepconfigs', 'hybrid-gateway') as unknown as Stored;
const putStored = (l: Lab, annotations: Record<string, string>): void => {
  const cur = stored(l);
  l.server.store.put('ciliumvtepconfigs', { ...cur, metadata: { ...cur.metadata, annotations } });
};
const writes = (l: Lab): number => l.server.requests.filter((r) => r.resource === 'ciliumvtepconfigs' && ['POST', 'PUT', 'PATCH'].includes(r.method)).length;

describe('CiliumVTEPConfig owner annotation', () => {
  it('created and updated with the owner annotation; annotations of others are kept', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    expect((await v.upsert(A, live(), { key: OURS })).action).toBe('created');
    expect(stored(lab).metadata.annotations).toEqual({ [OWNER_ANNOTATION]: OURS });
    putStored(lab, { [OWNER_ANNOTATION]: OURS, 'team/note': 'kept' });
    expect((await v.upsert(B, live(), { key: OURS })).action).toBe('updated');
    expect(stored(lab).metadata.annotations).toEqual({ [OWNER_ANNOTATION]: OURS, 'team/note': 'kept' });
    const w = writes(lab);
    expect((await v.upsert(B, live(), { key: OURS })).action).toBe('unchanged');
    expect(writes(lab)).toBe(w);
  });

  it('an object without an owner (an earlier version, the reference) is claimed even when its spec is already right', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.clients });
    await v.upsert(A, live()); // no owner: as earlier versions wrote it
    expect(stored(lab).metadata.annotations).toBeUndefined();
    expect((await v.upsert(A, live(), { key: OURS })).action).toBe('updated');
    expect(stored(lab).metadata.annotations?.[OWNER_ANNOTATION]).toBe(OURS);
  });

  it("another installation's object is not written: the error names the owner and carries OWNED_ELSEWHERE", async () => {
    lab = await startLab();
    const theirs = new VtepConfigClient({ clients: lab.newClients() });
    await theirs.upsert(B, live(), { key: THEIRS });
    const w = writes(lab);
    const ours = new VtepConfigClient({ clients: lab.clients });
    const err = await ours.upsert(A, live(), { key: OURS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VtepOwnedElsewhereError);
    expect(err).toMatchObject({ code: 'OWNED_ELSEWHERE', owner: THEIRS, message: expect.stringMatching(/owned by Lease team-b\/hybrid-gateway-leader/) });
    expect(writes(lab)).toBe(w);
    expect(stored(lab).spec.endpoints).toEqual(B);
  });

  it('the owner the ownership check found free may be replaced, once: the object is then ours', async () => {
    lab = await startLab();
    await new VtepConfigClient({ clients: lab.newClients() }).upsert(B, live(), { key: THEIRS });
    const ours = new VtepConfigClient({ clients: lab.clients });
    expect((await ours.upsert(A, live(), { key: OURS, replaceable: THEIRS })).action).toBe('updated');
    expect(stored(lab).metadata.annotations?.[OWNER_ANNOTATION]).toBe(OURS);
    expect(stored(lab).spec.endpoints).toEqual(A);
    // A third installation's name is not the one that was found free.
    putStored(lab, { [OWNER_ANNOTATION]: 'team-c/x' });
    await expect(ours.upsert(A, live(), { key: OURS, replaceable: THEIRS })).rejects.toMatchObject({ code: 'OWNED_ELSEWHERE', owner: 'team-c/x' });
  });
});

describe('readOtherLease', () => {
  it('held, released, deleted and unreadable, as the verdict needs them', async () => {
    lab = await startLab();
    const ref = { namespace: 'team-b', name: 'hybrid-gateway-leader' };
    expect(await readOtherLease(lab.clients, ref)).toEqual({ kind: 'absent' });

    const theirs = new LeaseLock({ clients: lab.newClients(), namespace: ref.namespace, name: ref.name, identity: 'gw-b-0', leaseDurationMs: 3000 });
    const before = Date.now();
    expect((await theirs.tryAcquireOrRenew(live())).held).toBe(true);
    const held = await readOtherLease(lab.clients, ref);
    expect(held).toMatchObject({ kind: 'read', holderIdentity: 'gw-b-0', leaseDurationMs: 3000 });
    if (held.kind !== 'read') throw new Error('unreachable');
    expect(held.renewedAtMs).toBeGreaterThanOrEqual(before - 1000);
    expect(held.renewedAtMs).toBeLessThanOrEqual(Date.now() + 1000);

    await theirs.release(live());
    expect(await readOtherLease(lab.clients, ref)).toMatchObject({ kind: 'read', holderIdentity: '' });

    lab.server.faults.set({ errorRate: 1, errorStatus: 500, match: (r) => r.resource === 'leases' });
    const bad = await readOtherLease(lab.clients, ref);
    expect(bad.kind).toBe('unreadable');
    lab.server.faults.clear();

    lab.server.store.remove('leases', ref.name, ref.namespace);
    expect(await readOtherLease(lab.clients, ref)).toEqual({ kind: 'absent' });
  });
});
