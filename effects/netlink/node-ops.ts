// programVtep / removeVtep: one hybrid node's entries, planned by
// reconcile-plan.ts (planProgramVtep, planRemoveVtep) and written as a batch.
//
// Per-node operations asked for while others are queued are combined: one
// look-up of the nexthops, one batch, one barrier for all of them (each
// caller still gets its own result or error). 200 nodes changing at once
// then cost a few round trips instead of 200 × three.
//
// The IP book (IpOwners): per device and node IP, the spec this data plane
// last wrote that IP's entries for (programVtep, or the last reconcile's
// desired set). A node IP keys a nexthop, a neighbour and an FDB entry, and
// an IP can pass from one CiliumNode to another (deleted and re-registered
// under a new name, or a claim taken back): the fleet may program the new
// owner before the old node's removal or leftover cleanup runs. Those then
// take only the old node's own routes and leave the IP's entries.
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { breather } from '../breathe.js';
import { nexthopHolder, nexthopHolders } from './dumps.js';
import type { Entry } from './entries.js';
import { NetlinkError } from './errors.js';
import { applyWrites, encodeWrite, type Applied, type Write } from './entry-writes.js';
import { planProgramVtep, planRemoveVtep, type NexthopHolder, type NodePlan } from './reconcile-plan.js';
import { refuseIfAborted, type Rtnl } from './rtnl.js';
import type { DeviceRef, ProgramResult } from './types.js';
import { checkSpec, type CheckedSpec } from './wanted.js';

export class IpOwners {
  readonly #byKey = new Map<string, CheckedSpec>();

  get(dev: DeviceRef, ip: number): CheckedSpec | undefined {
    return this.#byKey.get(`${dev.ifindex}/${ip}`);
  }

  claim(dev: DeviceRef, spec: CheckedSpec): void {
    this.#byKey.set(`${dev.ifindex}/${spec.ip}`, spec);
  }

  release(dev: DeviceRef, ip: number): void {
    this.#byKey.delete(`${dev.ifindex}/${ip}`);
  }

  /** The device's entries are gone with it (deleted or new), or about to be known afresh: no IP has an owner there. */
  forgetDevice(ifindex: number): void {
    for (const key of this.#byKey.keys()) if (key.startsWith(`${ifindex}/`)) this.#byKey.delete(key);
  }
}

interface NodeOp {
  readonly kind: 'program' | 'remove';
  readonly device: DeviceRef;
  readonly spec: VtepSpec;
  readonly previous: readonly VtepSpec[];
  readonly signal: AbortSignal | undefined;
  readonly op: string;
  resolve(v: ProgramResult | Entry[]): void;
  reject(err: unknown): void;
}

export class NodeOps {
  #pending: NodeOp[] = [];

  constructor(
    private readonly rt: Rtnl,
    private readonly table: number,
    private readonly owners: IpOwners,
    /** Runs a data-plane operation when the ones before it are done. */
    private readonly serial: (fn: () => Promise<void>) => Promise<void>,
  ) {}

  program(device: DeviceRef, spec: VtepSpec, previous: readonly VtepSpec[], signal: AbortSignal | undefined): Promise<ProgramResult> {
    return this.#enqueue({ kind: 'program', device, spec, previous, signal, op: `program vtep ${spec?.name}` }) as Promise<ProgramResult>;
  }

  remove(device: DeviceRef, spec: VtepSpec, signal: AbortSignal | undefined): Promise<Entry[]> {
    return this.#enqueue({ kind: 'remove', device, spec, previous: [], signal, op: `remove vtep ${spec?.name}` }) as Promise<Entry[]>;
  }

  #enqueue(o: Omit<NodeOp, 'resolve' | 'reject'>): Promise<ProgramResult | Entry[]> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ ...o, resolve, reject });
      if (this.#pending.length === 1) void this.serial(() => this.#run());
    });
  }

  async #run(): Promise<void> {
    const ops = this.#pending;
    this.#pending = [];
    // Which nexthop ids are ours (or someone else's): one dump for many nodes, a GET for a few.
    let dumped: ((id: number) => NexthopHolder) | undefined;
    try {
      dumped = ops.length > 4 ? await nexthopHolders(this.rt, ops[0]!.device) : undefined;
    } catch (err) {
      for (const o of ops) o.reject(err);
      return;
    }
    // The kernel as the batch's earlier writes leave it: an op planned after another's nexthop write
    // or delete sees that (a route delete naming a nexthop id that is gone is EINVAL, not ESRCH).
    const batch = new Map<string, 'ours' | 'absent'>();
    const lookUp = (dev: DeviceRef, id: number, op: string): Promise<NexthopHolder> => {
      const seen = batch.get(`${dev.ifindex}/${id}`);
      if (seen !== undefined) return Promise.resolve(seen);
      return dumped !== undefined && dev.ifindex === ops[0]!.device.ifindex ? Promise.resolve(dumped(id)) : nexthopHolder(this.rt, dev, id, op);
    };
    const planned: Array<{ o: NodeOp; writes: Write[] }> = [];
    for (const o of ops) {
      try {
        refuseIfAborted(o.signal, o.op);
        const writes = await this.#plan(o, lookUp);
        for (const w of writes) if (w.entry.kind === 'nexthop') batch.set(`${o.device.ifindex}/${w.entry.id}`, w.op === 'remove' ? 'absent' : 'ours');
        planned.push({ o, writes });
      } catch (err) {
        o.reject(err);
      }
    }
    // One batch per device (the fleet has one); ops whose signal fired meanwhile are left out.
    const live = planned.filter((p) => {
      if (p.o.signal?.aborted !== true) return true;
      p.o.reject(new NetlinkError('ABORTED', p.o.op, 'aborted before writing (fenced)'));
      return false;
    });
    const byDevice = new Map<number, typeof live>();
    for (const p of live) byDevice.set(p.o.device.ifindex, [...(byDevice.get(p.o.device.ifindex) ?? []), p]);
    for (const group of byDevice.values()) await this.#write(group);
  }

  /** Looks up the holders the node's plan needs, plans it, and books its IPs (in write order: the ops after it see that). */
  async #plan(o: NodeOp, lookUp: (dev: DeviceRef, id: number, op: string) => Promise<NexthopHolder>): Promise<Write[]> {
    const { device, op } = o;
    const s = checkSpec(op, o.spec);
    const prev = o.previous.map((p) => checkSpec(op, p));
    const holders = new Map<number, NexthopHolder>();
    for (const id of new Set([s.nhId, ...prev.map((p) => p.nhId)])) {
      const h = await lookUp(device, id, op);
      holders.set(id, h);
      if (id === s.nhId && h === 'foreign' && o.kind === 'program') break; // refused: nothing else to know
    }
    const ctx = { holder: (id: number) => holders.get(id) ?? 'absent', ownerOf: (ip: number) => this.owners.get(device, ip) };
    const plan: NodePlan = o.kind === 'program' ? planProgramVtep(s, prev, ctx) : planRemoveVtep(s, ctx);
    if (!plan.ok) throw new NetlinkError('EEXIST', op, plan.reason);
    for (const ip of plan.release) this.owners.release(device, ip);
    if (plan.claim !== undefined) this.owners.claim(device, s);
    return plan.writes.map((p) => encodeWrite(device, p, this.table));
  }

  async #write(group: ReadonlyArray<{ o: NodeOp; writes: Write[] }>): Promise<void> {
    const writes = group.flatMap((p) => p.writes);
    const signals = group.map((p) => p.o.signal).filter((x): x is AbortSignal => x !== undefined);
    let applied: Applied;
    try {
      // Fenced as a whole only when every caller was: one caller's abort must not stop the others' writes.
      const signal = signals.length === group.length && signals.length > 0 ? AbortSignal.any(signals) : undefined;
      applied = await applyWrites(this.rt, group[0]!.o.device, writes, group.length === 1 ? group[0]!.o.op : `program/remove ${group.length} vteps`, signal);
    } catch (err) {
      for (const p of group) p.o.reject(err);
      return;
    }
    const doneSet = new Set(applied.done);
    const failedBy = new Map(applied.failed.map((f) => [f.w, f.error]));
    // Each result wakes a vtep actor, which reports to the fleet: a few dozen per turn of the loop.
    const b = breather({ every: 25 });
    for (const p of group) {
      if (b.due()) await b.pause();
      const first = p.writes.find((w) => failedBy.has(w));
      if (first !== undefined) {
        const err = failedBy.get(first)!;
        const dev = p.o.device.name ?? p.o.device.ifindex;
        p.o.reject(new NetlinkError(err.code, p.o.op, `${first.what} dev ${dev}: ${err.code}`, { cause: err }));
        continue;
      }
      const done = p.writes.filter((w) => doneSet.has(w));
      if (p.o.kind === 'program') {
        p.o.resolve({ applied: done.filter((w) => w.op !== 'remove').map((w) => w.entry), removed: done.filter((w) => w.op === 'remove').map((w) => w.entry) });
      } else {
        p.o.resolve(done.map((w) => w.entry));
      }
    }
  }
}
