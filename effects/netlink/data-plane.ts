// The data plane adapter: hybrid_vxlan0 and the per-hybrid-node VTEP entries
// (route, permanent neighbour, FDB) over one long-lived rtnetlink socket.
// It acts in the network namespace of the process that opened it.
//
// One job: make the kernel match what the caller asks, and report. It makes
// no business decisions (which nodes are wanted is the caller's), chooses no
// retry policy (see retry.ts), and refuses every write once the caller's
// AbortSignal fired (this is how a leader that lost its lease is fenced).
//
// Public operations run one at a time (a queue), so a dump never interleaves
// with writes on the socket; inside one operation, writes go out as batches.
// This class is the front: each operation is a module of its own —
// device.ts (the device, ip_forward), rules.ts (policy rules), reconcile.ts
// (the bulk converge), node-ops.ts (programVtep/removeVtep), stats.ts — over
// reconcile-plan.ts / rule-plan.ts (the pure plans), entry-writes.ts (their
// encoding and sending) and dumps.ts (what is read back).
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { ensureDevice, ipForwardEnabled, type DeviceInfo, type EnsureDeviceOptions } from './device.js';
import type { Entry } from './entries.js';
import { HYBRID_ROUTE_TABLE, HYBRID_RULE_PRIORITY } from './entries.js';
import { badInput } from './errors.js';
import { IpOwners, NodeOps } from './node-ops.js';
import { reconcileDevice } from './reconcile.js';
import type { RulePlan } from './rule-plan.js';
import { ensureRules } from './rules.js';
import { Rtnl, type RtnlOptions } from './rtnl.js';
import { readStats, type DataPlaneStats } from './stats.js';
import type { DeviceRef, ProgramResult, ReconcileResult, WriteOptions } from './types.js';

export interface DataPlaneOptions extends RtnlOptions {
  /** Where ip_forward is read (default /proc/sys/net/ipv4/ip_forward, per network namespace). */
  readonly ipForwardPath?: string;
  /** The routing table the node routes go to (default HYBRID_ROUTE_TABLE, 8472). */
  readonly routeTable?: number;
  /** Priority of the policy rules that select it (default HYBRID_RULE_PRIORITY, 1000). */
  readonly rulePriority?: number;
}

export class DataPlane {
  readonly #rt: Rtnl;
  readonly #ipForwardPath: string;
  readonly #table: number;
  readonly #rulePriority: number;
  #tail: Promise<unknown> = Promise.resolve();
  /** Which node each IP's entries were last written for (see node-ops.ts). */
  readonly #owners = new IpOwners();
  readonly #nodeOps: NodeOps;

  constructor(opts: DataPlaneOptions = {}) {
    this.#rt = new Rtnl(opts);
    this.#ipForwardPath = opts.ipForwardPath ?? '/proc/sys/net/ipv4/ip_forward';
    this.#table = opts.routeTable ?? HYBRID_ROUTE_TABLE;
    this.#rulePriority = opts.rulePriority ?? HYBRID_RULE_PRIORITY;
    if (!Number.isInteger(this.#table) || this.#table < 1 || this.#table > 0xffffffff || [253, 254, 255].includes(this.#table)) {
      throw badInput('open data plane', `route table ${this.#table} is not a table of its own (1..2^32-1, not default/main/local)`);
    }
    this.#nodeOps = new NodeOps(this.#rt, this.#table, this.#owners, (fn) => this.#serial(fn));
  }

  /** The routing table the node routes are in. */
  get routeTable(): number {
    return this.#table;
  }

  /** Runs public operations one at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Creates or adopts the vxlan device. An existing device with the right VNI,
   * port, local address, underlying link and learning off is adopted (its
   * entries stay); MTU, MAC and up-state are fixed in place; any other
   * difference recreates it (its entries go with it: reconcile afterwards).
   */
  ensureDevice(opts: EnsureDeviceOptions): Promise<DeviceInfo> {
    return this.#serial(() => ensureDevice(this.#rt, opts, (ifindex) => this.#owners.forgetDevice(ifindex)));
  }

  /** Whether IPv4 forwarding is on in this network namespace. */
  ipForwardEnabled(): Promise<boolean> {
    return ipForwardEnabled(this.#ipForwardPath);
  }

  /**
   * Makes the IPv4 policy rules that select the gateway's table exactly one
   * `to <cidr> lookup <table> priority <p>` per pod CIDR (rule-plan.ts says
   * which rules are ours). New rules go in before stale ones go. Returns the
   * plan that was carried out.
   */
  ensureRules(podCidrs: readonly string[], opts: WriteOptions = {}): Promise<RulePlan> {
    return this.#serial(() => ensureRules(this.#rt, podCidrs, this.#table, this.#rulePriority, opts));
  }

  /**
   * Programs one hybrid node: FDB entry, permanent neighbour, its nexthop, a
   * route per pod CIDR through it (replace), in that order, so the route
   * appears last. Then removes what `previous` specs of the same node left
   * that the new spec no longer covers (old node IP's nexthop, neighbour and
   * FDB entry, dropped pod CIDRs' routes, only when they still use the old
   * node's nexthop). Idempotent. Throws the first refused write (the others
   * were still attempted); a nexthop id held by an object not ours refuses
   * the node before anything is written.
   *
   * The FDB entry is written with NLM_F_CREATE|NLM_F_REPLACE: for a unicast
   * MAC the kernel keeps a single remote and treats APPEND on an existing MAC
   * as a no-op (vxlan_fdb_update_existing), so APPEND would leave a wrong dst
   * in place; REPLACE creates the entry or corrects it.
   */
  programVtep(device: DeviceRef, spec: VtepSpec, previous: readonly VtepSpec[] = [], opts: WriteOptions = {}): Promise<ProgramResult> {
    return this.#nodeOps.program(device, spec, previous, opts.signal);
  }

  /**
   * Removes one hybrid node's routes (only those still through its nexthop)
   * and its nexthop (when it is ours), its neighbour and its FDB entry (the delete
   * names MAC and dst). Missing entries are fine (idempotent). Returns the
   * entries that were there.
   */
  removeVtep(device: DeviceRef, spec: VtepSpec, opts: WriteOptions = {}): Promise<Entry[]> {
    return this.#nodeOps.remove(device, spec, opts.signal);
  }

  /**
   * Converges the entries on the device to exactly `desired`: dumps
   * nexthops, routes, neighbours and FDB once, plans the differences
   * (reconcile-plan.ts), then writes only those in one batch: additions and
   * fixes first (make before break), removals of stale entries last. Entries
   * the kernel owns are never touched (see entries.ts). Refused writes are
   * reported in `failed`, the rest goes on.
   */
  reconcile(device: DeviceRef, desired: Iterable<VtepSpec>, opts: WriteOptions = {}): Promise<ReconcileResult> {
    return this.#serial(() => reconcileDevice(this.#rt, this.#table, this.#owners, device, desired, opts));
  }

  /** Counters of the vxlan device and its underlying NIC, FDB/route counts, link state. */
  stats(device: DeviceRef & { readonly underlay: { readonly ifindex: number } }): Promise<DataPlaneStats> {
    return this.#serial(() => readStats(this.#rt, device, this.#table));
  }

  /** Closes the socket; later calls fail with CLOSED. */
  close(): Promise<void> {
    return this.#serial(() => {
      this.#rt.close();
      return Promise.resolve();
    });
  }
}

/** Opens the data plane in the calling process's network namespace. */
export function openDataPlane(opts: DataPlaneOptions = {}): DataPlane {
  return new DataPlane(opts);
}
