// Fencing: once the caller's AbortSignal fires (or its writeGuard says no), no
// further write reaches EC2, and a write in flight is abandoned (the caller
// stops waiting; the request runs to its answer, in WritesOnWire) — checked at
// the stand-in, which records every request on arrival, before any injected
// hold or delay. The guard is asked again as each request leaves the SDK
// (a middleware of the command), so a lease that lapses while a request is
// being built stops it.
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, setup, toPromise } from 'xstate';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { FencedError, WritesOnWire, ensureRoutes, type EnsureRoutesOptions } from '../../effects/aws/index.js';
import type { Ec2StandIn } from '../../lab/ec2/index.js';
import { CIDRS, FAST_RETRY, GW_A, GW_B, TABLES, allPointAt, targets, writeCalls, useWorld } from './fixture.js';

let standIn: Ec2StandIn;
let ec2: EC2Client;

useWorld((w) => ({ standIn, ec2 } = w));

const leader = (eni: string, extra: Partial<EnsureRoutesOptions> = {}): EnsureRoutesOptions => ({
  ec2,
  routeTableIds: [...TABLES],
  cidrs: [...CIDRS],
  networkInterfaceId: eni,
  retry: FAST_RETRY,
  checkSourceDestCheck: false,
  ...extra,
});

describe('fencing with an AbortSignal', () => {
  it('abort mid-update: the writes in flight are abandoned at once, no other write is sent', async () => {
    const hold = standIn.faults.hold(['ReplaceRoute', 'CreateRoute']);
    const lease = new AbortController();
    // For gw-b: table a needs 4 CreateRoute, table b is already right, table c needs 4 ReplaceRoute.
    const run = ensureRoutes(leader(GW_B.eni, { signal: lease.signal, maxConcurrentWrites: 4 }));
    await hold.waitForHeld(4);
    lease.abort(new Error('lease lost'));
    // The run ends while EC2 still holds the four requests: nobody waits for them.
    const result = await run;
    const arrivedAtAbort = writeCalls(standIn).length;
    hold.release();

    expect(arrivedAtAbort).toBe(4);
    expect(writeCalls(standIn)).toHaveLength(4);
    expect(result.fenced).toBe(true);
    expect(result.ok).toBe(false);
    expect(result.counts).toEqual({ unchanged: 4, replaced: 0, created: 0, failed: 0, fenced: 8 });
    const fenced = result.tables.flatMap((t) => t.routes).filter((r) => r.status === 'fenced');
    expect(fenced.every((r) => r.error instanceof FencedError)).toBe(true);
    // Four were on the wire (one attempt each), four never left.
    expect(fenced.map((r) => r.attempts).sort()).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('an aborted signal aborts a write in flight: the caller is not kept waiting for EC2', async () => {
    const hold = standIn.faults.hold(['ReplaceRoute', 'CreateRoute']);
    const lease = new AbortController();
    const run = ensureRoutes(leader(GW_B.eni, { signal: lease.signal, routeTableIds: [TABLES[2]], cidrs: [CIDRS[2]], strategy: 'write-first' }));
    await hold.waitForHeld(1);
    const t0 = performance.now();
    lease.abort(new Error('renew deadline passed'));
    const result = await run;
    const waitedMs = performance.now() - t0;
    hold.release();
    expect(waitedMs).toBeLessThan(1000);
    expect(result.tables[0]?.routes[0]).toMatchObject({ status: 'fenced', attempts: 1 });
    expect(result.tables[0]?.routes[0]?.error).toBeInstanceOf(FencedError);
    expect(writeCalls(standIn)).toHaveLength(1);
  });
  it('a write abandoned in flight is not cut off: it stays on the wire until EC2 answers, and lands (what stepping down waits for before releasing the Lease)', async () => {
    const hold = standIn.faults.hold(['ReplaceRoute', 'CreateRoute']);
    const lease = new AbortController();
    const onWire = new WritesOnWire();
    const run = ensureRoutes(leader(GW_B.eni, { signal: lease.signal, routeTableIds: [TABLES[2]], cidrs: [CIDRS[2]], strategy: 'write-first', onWire }));
    await hold.waitForHeld(1);
    lease.abort(new Error('SIGTERM'));
    const result = await run;
    expect(result.tables[0]?.routes[0]).toMatchObject({ status: 'fenced', attempts: 1 });
    // The run returned; the request is still open, and the set knows it.
    expect(onWire.size).toBe(1);
    let settled = false;
    const waiting = onWire.settled().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    hold.release();
    await waiting;
    // By the time the set settles, EC2 has applied the write: a release after this cannot precede it.
    expect(standIn.state.routeTarget(TABLES[2], CIDRS[2])).toBe(GW_B.eni);
    expect(onWire.size).toBe(0);
  });

  it('abort during a backoff wait ends the run without another attempt', async () => {
    standIn.faults.fail({ code: 'RequestLimitExceeded', actions: ['ReplaceRoute', 'CreateRoute'] });
    const lease = new AbortController();
    const run = ensureRoutes(leader(GW_B.eni, { signal: lease.signal, strategy: 'write-first', retry: { ...FAST_RETRY, minTimeoutMs: 60_000, maxTimeoutMs: 60_000 } }));
    // Every route's first attempt is refused; all are now waiting a minute to retry.
    while (writeCalls(standIn).filter((c) => c.status !== undefined).length < 12) await new Promise((r) => setTimeout(r, 5));
    lease.abort();
    const result = await run;
    expect(result.counts.fenced).toBe(12);
    expect(writeCalls(standIn)).toHaveLength(12);
  });

  it('an already-aborted signal sends nothing at all, not even a describe', async () => {
    const lease = new AbortController();
    lease.abort();
    const result = await ensureRoutes({ ...leader(GW_A.eni, { signal: lease.signal }), checkSourceDestCheck: true });
    expect(result.fenced).toBe(true);
    expect(result.counts.fenced).toBe(12);
    expect(standIn.calls).toHaveLength(0);
  });

  it('a writeGuard turning false stops writes at that point', async () => {
    // The guard allows five writes (it sees what reached EC2); gw-b needs eight.
    const result = await ensureRoutes(leader(GW_B.eni, { maxConcurrentWrites: 1, writeGuard: () => writeCalls(standIn).length < 5 }));
    expect(writeCalls(standIn)).toHaveLength(5);
    expect(result.counts).toEqual({ unchanged: 4, replaced: 1, created: 4, failed: 0, fenced: 3 });
  });

  it('a write whose guard turns false between planning and sending is not sent', async () => {
    // The lease lapses while the SDK builds the first request (after the check that gave it its slot).
    let held = true;
    ec2.middlewareStack.add(
      (next) => (args) => {
        held = false;
        return next(args);
      },
      { step: 'build', name: 'leaseLapsesHere' },
    );
    const result = await ensureRoutes(leader(GW_B.eni, { writeGuard: () => held, strategy: 'write-first', maxConcurrentWrites: 1 }));
    expect(writeCalls(standIn)).toHaveLength(0);
    expect(result.counts).toEqual({ unchanged: 0, replaced: 0, created: 0, failed: 0, fenced: 12 });
    expect(result.tables.flatMap((t) => t.routes).every((r) => r.attempts === 0 && r.error instanceof FencedError)).toBe(true);
  });

  it('all tables share one limiter: never more writes in flight than maxConcurrentWrites', async () => {
    const hold = standIn.faults.hold(['ReplaceRoute', 'CreateRoute']);
    const run = ensureRoutes(leader(GW_A.eni, { strategy: 'write-first', maxConcurrentWrites: 5 }));
    await hold.waitForHeld(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(writeCalls(standIn)).toHaveLength(5);
    hold.release();
    const result = await run;
    expect(result.ok).toBe(true);
    expect(writeCalls(standIn).length).toBeGreaterThanOrEqual(12);
  });
});

describe('two leaders', () => {
  it('a fenced old leader cannot interleave writes with the new one', async () => {
    // Leader A is mid-update (4 writes on the wire) when its lease is lost.
    const hold = standIn.faults.hold(['ReplaceRoute', 'CreateRoute']);
    const leaseA = new AbortController();
    const runA = ensureRoutes(leader(GW_A.eni, { signal: leaseA.signal, maxConcurrentWrites: 4 }));
    await hold.waitForHeld(4);
    leaseA.abort(new Error('renew deadline passed'));
    const a = await runA;
    hold.release();
    // The four requests EC2 had received still land (a write on the wire cannot be recalled).
    while (writeCalls(standIn).some((c) => c.status === undefined)) await new Promise((r) => setTimeout(r, 5));
    const writesOfA = writeCalls(standIn).length;

    // B acquires (after A's lease expired, which outlasts A's renew deadline) and converges.
    const b = await ensureRoutes(leader(GW_B.eni));
    expect(b.ok).toBe(true);

    // A's drift-repair loop fires again with its fenced signal: refused locally.
    const again = await ensureRoutes(leader(GW_A.eni, { signal: leaseA.signal }));
    expect(again.counts.fenced).toBe(12);

    const writes = writeCalls(standIn);
    const byA = writes.filter((c) => c.params.NetworkInterfaceId === GW_A.eni);
    const byB = writes.filter((c) => c.params.NetworkInterfaceId === GW_B.eni);
    expect(a.fenced).toBe(true);
    expect(byA).toHaveLength(writesOfA);
    expect(byA.length).toBeLessThanOrEqual(4);
    expect(Math.max(...byA.map((c) => c.seq))).toBeLessThan(Math.min(...byB.map((c) => c.seq)));
    expect(targets(standIn)).toEqual(allPointAt(GW_B.eni));
  });

  it('a shared lease record: the guard of the leader that lost it refuses, the new holder writes', async () => {
    const lease = { holder: 'A' };
    const guard = (me: string) => () => lease.holder === me;
    const a = await ensureRoutes(leader(GW_A.eni, { writeGuard: guard('A') }));
    expect(a.ok).toBe(true);
    lease.holder = 'B';
    const [stale, fresh] = [
      await ensureRoutes(leader(GW_A.eni, { writeGuard: guard('A'), strategy: 'write-first' })),
      await ensureRoutes(leader(GW_B.eni, { writeGuard: guard('B') })),
    ];
    expect(stale.counts.fenced).toBe(12);
    expect(fresh.counts.replaced).toBe(12);
    expect(targets(standIn)).toEqual(allPointAt(GW_B.eni));
  });
});

describe('as an XState actor (the runtime invokes ensureRoutes with the actor signal)', () => {
  it('stopping the actor (leaving the leader state) fences its writes', async () => {
    const hold = standIn.faults.hold(['ReplaceRoute', 'CreateRoute']);
    const machine = setup({
      actors: { ensureRoutes: fromPromise<unknown, EnsureRoutesOptions>(({ input, signal }) => ensureRoutes({ ...input, signal })) },
      types: { events: {} as { type: 'LOST' } },
    }).createMachine({
      initial: 'leader',
      states: {
        leader: {
          invoke: { src: 'ensureRoutes', input: leader(GW_B.eni, { maxConcurrentWrites: 2, strategy: 'write-first' }) },
          on: { LOST: 'standby' },
        },
        standby: { type: 'final' },
      },
    });
    const actor = createActor(machine).start();
    await hold.waitForHeld(2);
    actor.send({ type: 'LOST' });
    hold.release();
    await toPromise(actor);
    await new Promise((r) => setTimeout(r, 50)); // let the fenced actor's promise settle
    expect(writeCalls(standIn)).toHaveLength(2);
  });
});
