// What cleanup does with Kubernetes, against the stand-in: the leaders' ENI
// record on the Lease (written by the lock with the write that makes a pod
// leader, kept through renewals, take-overs and releases), cleanup taking the
// Lease from a live leader (which then finds itself fenced) and giving it back,
// and the CiliumVTEPConfig deleted only at the version that was judged.
import { afterEach, describe, expect, it } from 'vitest';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { GATEWAY_ENIS_ANNOTATION } from '../../machines/domain/cleanup.js';
import type { InstanceIdentity } from '../../effects/aws/index.js';
import { formatMicroTime, LEASE_DURATION_MS_ANNOTATION, LeaseLock, readLease, releaseSeized, seizeLease, VtepConfigClient, type KubeObject } from '../../effects/kube/index.js';
import { eniRecord, HostFacts } from '../../runtime/wiring/host.js';
import { startLab, type Lab } from './helpers.js';

const NS = 'kube-system';
const NAME = 'hybrid-gateway-leader';
const ENI_A = 'eni-0a00000000000000a';
const ENI_B = 'eni-0b00000000000000b';
let lab: Lab | undefined;

afterEach(async () => {
  await lab?.server.close();
  lab = undefined;
});

/** The runtime's host facts once the cloud identity is known (the init stage before electing). */
function hostWith(eni: string | undefined): HostFacts {
  const host = new HostFacts();
  if (eni !== undefined) host.cloud = { id: { networkInterfaceId: eni } as InstanceIdentity, ec2: undefined as unknown as EC2Client };
  return host;
}

/** A gateway's lock, annotated as the runtime builds it (runtime/wiring/host.ts eniRecord). */
function gatewayLock(l: Lab, identity: string, eni: string | undefined, leaseDurationMs = 1000): LeaseLock {
  return new LeaseLock({ clients: l.newClients(), namespace: NS, name: NAME, identity, leaseDurationMs, requestTimeoutMs: 2000, annotate: eniRecord(hostWith(eni)) });
}

const stored = (l: Lab): KubeObject => l.server.store.find('leases', NAME, NS)!;
const annotations = (l: Lab): Record<string, string> => (stored(l).metadata?.annotations ?? {}) as Record<string, string>;
const holder = (l: Lab): unknown => (stored(l).spec as Record<string, unknown>).holderIdentity;

describe('the ENI record on the Lease', () => {
  it('the first leader records its ENI with the create; the next adds its own on take-over; renewals and releases keep the record', async () => {
    lab = await startLab();
    const a = gatewayLock(lab, 'gw-a', ENI_A);
    const b = gatewayLock(lab, 'gw-b', ENI_B);
    expect((await a.tryAcquireOrRenew()).outcome).toBe('acquired');
    expect(annotations(lab)[GATEWAY_ENIS_ANNOTATION]).toBe(ENI_A);
    const rv = stored(lab).metadata?.resourceVersion;
    expect((await a.tryAcquireOrRenew()).outcome).toBe('renewed');
    expect(annotations(lab)[GATEWAY_ENIS_ANNOTATION]).toBe(ENI_A);
    expect(stored(lab).metadata?.resourceVersion).not.toBe(rv);
    expect(await a.release()).toBe(true);
    expect(annotations(lab)[GATEWAY_ENIS_ANNOTATION]).toBe(ENI_A);
    expect((await b.tryAcquireOrRenew()).outcome).toBe('acquired');
    expect(annotations(lab)[GATEWAY_ENIS_ANNOTATION]).toBe(`${ENI_A},${ENI_B}`);
    expect(annotations(lab)[LEASE_DURATION_MS_ANNOTATION]).toBe('1000');
    // A standby's failed attempt writes nothing.
    const before = stored(lab).metadata?.resourceVersion;
    expect((await a.tryAcquireOrRenew()).outcome).toBe('held-by-other');
    expect(stored(lab).metadata?.resourceVersion).toBe(before);
  });

  it('a pod whose ENI is not known yet adds nothing (and removes nothing)', async () => {
    lab = await startLab();
    await gatewayLock(lab, 'gw-a', ENI_A).tryAcquireOrRenew();
    const c = gatewayLock(lab, 'gw-c', undefined);
    await gatewayLock(lab, 'gw-a', ENI_A).release();
    expect((await c.tryAcquireOrRenew()).outcome).toBe('acquired');
    expect(annotations(lab)[GATEWAY_ENIS_ANNOTATION]).toBe(ENI_A);
  });
});

describe('cleanup takes the Lease', () => {
  it('from a live leader: the record keeps its annotations, the leader is fenced at its next attempt, a standby waits the hold out', async () => {
    lab = await startLab();
    const a = gatewayLock(lab, 'gw-a', ENI_A, 3000);
    const b = gatewayLock(lab, 'gw-b', ENI_B, 3000);
    expect((await a.tryAcquireOrRenew()).held).toBe(true);
    const seized = await seizeLease({ clients: lab.newClients(), namespace: NS, name: NAME, identity: 'cleanup/job-1', holdMs: 600_000 });
    expect(seized.previous?.record.holderIdentity).toBe('gw-a');
    expect(seized.previous?.annotations[GATEWAY_ENIS_ANNOTATION]).toBe(ENI_A);
    const spec = stored(lab).spec as Record<string, unknown>;
    expect(spec).toMatchObject({ holderIdentity: 'cleanup/job-1', leaseDurationSeconds: 600, leaseTransitions: 1 });
    expect(annotations(lab)).toEqual({ [GATEWAY_ENIS_ANNOTATION]: ENI_A, [LEASE_DURATION_MS_ANNOTATION]: '600000' });
    // The leader's renewal loses (409 on its stale version), it re-reads and sees another holder.
    const renewal = await a.tryAcquireOrRenew();
    expect(renewal.held).toBe(false);
    expect(a.isHeld()).toBe(false);
    expect((await a.tryAcquireOrRenew()).outcome).toBe('held-by-other');
    expect((await b.tryAcquireOrRenew()).outcome).toBe('held-by-other');
    expect(holder(lab)).toBe('cleanup/job-1');
    // Taking it again (a second run) keeps the transitions count.
    await seizeLease({ clients: lab.newClients(), namespace: NS, name: NAME, identity: 'cleanup/job-1', holdMs: 600_000 });
    expect((stored(lab).spec as Record<string, unknown>).leaseTransitions).toBe(1);
  });

  it('creates the Lease when there is none, so no gateway can lead meanwhile', async () => {
    lab = await startLab();
    const seized = await seizeLease({ clients: lab.newClients(), namespace: NS, name: NAME, identity: 'cleanup/job-1', holdMs: 61_500 });
    expect(seized.previous).toBeUndefined();
    expect(stored(lab).spec).toMatchObject({ holderIdentity: 'cleanup/job-1', leaseDurationSeconds: 62 });
    expect((await gatewayLock(lab, 'gw-a', ENI_A).tryAcquireOrRenew()).outcome).toBe('held-by-other');
    expect(annotations(lab)[GATEWAY_ENIS_ANNOTATION]).toBeUndefined();
  });

  it('survives a conflicting write between its read and its write (it re-reads)', async () => {
    lab = await startLab();
    const a = gatewayLock(lab, 'gw-a', ENI_A, 3000);
    await a.tryAcquireOrRenew();
    // The leader renews between the seize's read and its write: the seize's version is stale.
    let raced = false;
    lab.server.faults.set({
      match: (req) => {
        if (!raced && req.method === 'PUT' && req.resource === 'leases') {
          raced = true;
          const cur = stored(lab!);
          lab!.server.store.put('leases', { ...cur, spec: { ...(cur.spec as object), renewTime: formatMicroTime(Date.now() * 1000) } });
        }
        return false;
      },
    });
    const seized = await seizeLease({ clients: lab.newClients(), namespace: NS, name: NAME, identity: 'cleanup/job-1', holdMs: 600_000 });
    expect(raced).toBe(true);
    const puts = lab.server.requests.filter((r) => r.method === 'PUT' && r.resource === 'leases');
    expect(puts.map((r) => r.status)).toEqual([409, 200]);
    expect(seized.previous?.record.holderIdentity).toBe('gw-a');
    expect(holder(lab)).toBe('cleanup/job-1');
  });

  it('gives it back only while it still holds it', async () => {
    lab = await startLab();
    const clients = lab.newClients();
    await seizeLease({ clients, namespace: NS, name: NAME, identity: 'cleanup/job-1', holdMs: 600_000 });
    expect(await releaseSeized({ clients, namespace: NS, name: NAME, identity: 'cleanup/job-2' })).toBe(false);
    expect(holder(lab)).toBe('cleanup/job-1');
    expect(await releaseSeized({ clients, namespace: NS, name: NAME, identity: 'cleanup/job-1' })).toBe(true);
    expect(stored(lab).spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    // Released: a gateway takes it at once.
    expect((await gatewayLock(lab, 'gw-a', ENI_A).tryAcquireOrRenew()).outcome).toBe('acquired');
    expect((await readLease(clients, { namespace: NS, name: NAME }))?.record.holderIdentity).toBe('gw-a');
  });
});

describe('the CiliumVTEPConfig delete', () => {
  const EP = [{ name: 'vpc-gateway', tunnelEndpoint: '198.51.100.10', cidr: '198.51.100.0/24', mac: '4a:88:b7:ac:5f:b5' }];

  it('deletes at the version judged; a write in between makes it a conflict and nothing is deleted; absent is not an error', async () => {
    lab = await startLab();
    const v = new VtepConfigClient({ clients: lab.newClients() });
    await v.upsert(EP, new AbortController().signal, { key: `${NS}/${NAME}` });
    const judged = (await v.get())!.metadata!.resourceVersion;
    await v.upsert([{ ...EP[0]!, tunnelEndpoint: '198.51.100.11' }], new AbortController().signal, { key: `${NS}/${NAME}` });
    await expect(v.deleteIfUnchanged(judged)).rejects.toMatchObject({ code: 'Conflict' });
    expect(await v.get()).toBeDefined();
    const now = (await v.get())!.metadata!.resourceVersion;
    expect(await v.deleteIfUnchanged(now)).toBe('deleted');
    expect(await v.get()).toBeUndefined();
    expect(await v.deleteIfUnchanged(now)).toBe('absent');
  });
});
