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
import { readFile } from 'node:fs/promises';
import * as nl from 'netlink';
import type { NetlinkMessage } from 'netlink';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { bufToIp, bufToMac, checkCidr, checkIPv4, macToBuf, parseVxlanLinkInfo, vxlanLinkInfo } from './codec.js';
import { deviceMacFor } from './device-mac.js';
import {
  AF_BRIDGE,
  AF_INET,
  HYBRID_ROUTE_TABLE,
  HYBRID_RULE_PRIORITY,
  ipText,
  macText,
  ourFdb,
  ourNeighbours,
  ourRoutes,
  neighIfindex,
  ourNexthops,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_HYBRID_GATEWAY,
  type Entry,
  type ObservedFdb,
} from './entries.js';
import { breather } from '../breathe.js';
import { badInput, isNetlinkError, NetlinkError, toNetlinkError } from './errors.js';
import { NLM_F, refuseIfAborted, Rtnl, type RawWrite, type RtnlOptions } from './rtnl.js';
import { planReconcile, type PlannedWrite } from './reconcile-plan.js';
import { planRules, type ObservedRule, type RulePlan } from './rule-plan.js';
import { checkSpec, wantedOf, type CheckedSpec, type WantedRoute } from './wanted.js';
import {
  neighMessage,
  nexthopMessage,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  routeMessage,
  RTM_DELNEIGH,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_GETNEXTHOP,
  RTM_NEWNEIGH,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
} from './wire.js';

export type { Entry } from './entries.js';

export const DEFAULT_DEVICE_NAME = 'hybrid_vxlan0';
export const DEFAULT_VNI = 2;
export const DEFAULT_VXLAN_PORT = 8472;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;
/** A 1500-byte path to the hybrid nodes (VPN, most Direct Connect links) minus the overhead. */
export const DEFAULT_VXLAN_MTU = 1450;

export interface DataPlaneOptions extends RtnlOptions {
  /** Where ip_forward is read (default /proc/sys/net/ipv4/ip_forward, per network namespace). */
  readonly ipForwardPath?: string;
  /** The routing table the node routes go to (default HYBRID_ROUTE_TABLE, 8472). */
  readonly routeTable?: number;
  /** Priority of the policy rules that select it (default HYBRID_RULE_PRIORITY, 1000). */
  readonly rulePriority?: number;
}

export interface WriteOptions {
  /** Once aborted, every further write is refused with NetlinkError ABORTED. */
  readonly signal?: AbortSignal;
}

export interface EnsureDeviceOptions extends WriteOptions {
  readonly name?: string;
  readonly vni?: number;
  readonly port?: number;
  readonly nodeIP: string;
  /** MTU of the device (default 1450); the NIC holding nodeIP must have at least this + 50. */
  readonly mtu?: number;
}

export interface LinkRef {
  readonly ifindex: number;
  readonly name: string;
  readonly mtu: number;
}

export interface DeviceInfo extends LinkRef {
  readonly mac: string;
  readonly vni: number;
  readonly port: number;
  readonly nodeIP: string;
  readonly up: boolean;
  readonly underlay: LinkRef;
  /** What ensureDevice did. */
  readonly action: 'created' | 'adopted' | 'fixed' | 'recreated';
  /** Why it recreated, or what it fixed in place ("mtu 1500→1450", "vni 3≠2"…). */
  readonly changes: readonly string[];
}

/** The device the VTEP operations act on (a DeviceInfo will do). */
export interface DeviceRef {
  readonly ifindex: number;
  readonly name?: string;
}

export interface ProgramResult {
  /** Entries written (replace/append: present as wanted afterwards). */
  readonly applied: readonly Entry[];
  /** Entries of the previous spec(s) removed (those found in the kernel). */
  readonly removed: readonly Entry[];
}

export interface ReconcileResult {
  readonly added: readonly Entry[];
  readonly removed: readonly Entry[];
  readonly fixed: readonly Entry[];
  /** Entries already as wanted (untouched). */
  readonly unchanged: number;
  /** Writes the kernel refused; the rest of the reconcile went on. */
  readonly failed: ReadonlyArray<{ readonly entry: Entry; readonly op: 'add' | 'fix' | 'remove'; readonly error: NetlinkError }>;
}

export interface IfStats {
  readonly ifindex: number;
  readonly name: string;
  readonly up: boolean;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxDropped: number;
  readonly txDropped: number;
  readonly rxErrors: number;
  readonly txErrors: number;
}

export interface DataPlaneStats {
  readonly vxlan: IfStats;
  readonly primary: IfStats;
  /** All FDB entries on the device (as the reference counts them). */
  readonly fdbEntries: number;
  /** IPv4 routes whose output device is the vxlan device. */
  readonly routeCount: number;
  readonly vxlanUp: boolean;
}

type Write = { entry: Entry; op: 'add' | 'fix' | 'remove'; what: string; raw: RawWrite };

const RTM_GETROUTE = nl.rt.MessageType.GETROUTE;
const RTM_GETNEIGH = nl.rt.MessageType.GETNEIGH;
const NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_NOWHERE = 255;

function linkFlagsUp(data: nl.rt.Link): boolean {
  return data.flags?.up === true;
}

type HolderOf = (dev: DeviceRef, id: number, op: string) => Promise<'ours' | 'foreign' | 'absent'>;

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

/** A MAC (as a number) as its six bytes, for a write. */
function macBytes(mac: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUIntBE(mac, 0, 6);
  return b;
}

export class DataPlane {
  readonly #rt: Rtnl;
  readonly #ipForwardPath: string;
  readonly #table: number;
  readonly #rulePriority: number;
  #tail: Promise<unknown> = Promise.resolve();
  /**
   * Per device and node IP, the spec this data plane last wrote that IP's entries for (programVtep,
   * or the last reconcile's desired set). A node IP keys a nexthop, a neighbour and an FDB entry, and
   * an IP can pass from one CiliumNode to another (deleted and re-registered under a new name, or a
   * claim taken back): the fleet may program the new owner before the old node's removal or leftover
   * cleanup runs. Those then take only the old node's own routes and leave the IP's entries.
   */
  readonly #ipOwner = new Map<string, CheckedSpec>();

  constructor(opts: DataPlaneOptions = {}) {
    this.#rt = new Rtnl(opts);
    this.#ipForwardPath = opts.ipForwardPath ?? '/proc/sys/net/ipv4/ip_forward';
    this.#table = opts.routeTable ?? HYBRID_ROUTE_TABLE;
    this.#rulePriority = opts.rulePriority ?? HYBRID_RULE_PRIORITY;
    if (!Number.isInteger(this.#table) || this.#table < 1 || this.#table > 0xffffffff || [253, 254, 255].includes(this.#table)) {
      throw badInput('open data plane', `route table ${this.#table} is not a table of its own (1..2^32-1, not default/main/local)`);
    }
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

  /** The device's entries are gone with it (deleted or new): no IP has an owner there. */
  #forgetOwners(ifindex: number): void {
    for (const key of this.#ipOwner.keys()) if (key.startsWith(`${ifindex}/`)) this.#ipOwner.delete(key);
  }

  /** Another node this data plane wrote `ip`'s entries for since, if any. */
  #otherOwner(dev: DeviceRef, ip: number, name: string): CheckedSpec | undefined {
    const owner = this.#ipOwner.get(`${dev.ifindex}/${ip}`);
    return owner !== undefined && owner.name !== name ? owner : undefined;
  }

  // ---- device ---------------------------------------------------------------

  /**
   * Creates or adopts the vxlan device. An existing device with the right VNI,
   * port, local address, underlying link and learning off is adopted (its
   * entries stay); MTU, MAC and up-state are fixed in place; any other
   * difference recreates it (its entries go with it: reconcile afterwards).
   */
  ensureDevice(opts: EnsureDeviceOptions): Promise<DeviceInfo> {
    return this.#serial(() => this.#ensureDevice(opts));
  }

  async #ensureDevice(opts: EnsureDeviceOptions): Promise<DeviceInfo> {
    const name = opts.name ?? DEFAULT_DEVICE_NAME;
    const vni = opts.vni ?? DEFAULT_VNI;
    const port = opts.port ?? DEFAULT_VXLAN_PORT;
    const op = `ensure device ${name}`;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
      throw badInput(op, `device name ${JSON.stringify(name)} is not a valid interface name (1-15 of [A-Za-z0-9_.-])`);
    }
    if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) throw badInput(op, `VNI ${vni} is out of range 1..16777215`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw badInput(op, `port ${port} is out of range 1..65535`);
    const nodeIP = checkIPv4(op, 'NODE_IP', opts.nodeIP);
    const { signal } = opts;

    const underlay = await this.#linkHolding(nodeIP, op);
    const mac = deviceMacFor(nodeIP);
    const mtu = opts.mtu ?? DEFAULT_VXLAN_MTU;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65_485) throw badInput(op, `VXLAN MTU ${mtu} is out of range 68..65485`);
    // Wrapped packets are mtu + 50 bytes and leave through the NIC: a larger device MTU would be dropped there.
    if (mtu + VXLAN_OVERHEAD > underlay.mtu) {
      throw badInput(
        op,
        `VXLAN MTU ${mtu} needs MTU ${mtu + VXLAN_OVERHEAD} on ${underlay.name}, the link holding NODE_IP, which has ${underlay.mtu}: lower --vxlan-mtu (VXLAN_MTU) to at most ${underlay.mtu - VXLAN_OVERHEAD}`,
      );
    }

    let existing = await this.#linkByName(name, op);
    let action: DeviceInfo['action'] = 'created';
    const changes: string[] = [];
    if (existing !== undefined) {
      if (existing.data.index === underlay.ifindex) {
        throw badInput(op, `NODE_IP ${nodeIP} is on ${name} itself; it must be on the underlying NIC`);
      }
      const v = parseVxlanLinkInfo(existing.attrs.linkinfo);
      if (v.kind !== 'vxlan') changes.push(`kind ${v.kind ?? 'unknown'}≠vxlan`);
      else {
        if (v.vni !== vni) changes.push(`vni ${v.vni}≠${vni}`);
        if ((v.port ?? DEFAULT_VXLAN_PORT) !== port) changes.push(`port ${v.port}≠${port}`);
        if (v.local !== nodeIP) changes.push(`local ${v.local ?? 'none'}≠${nodeIP}`);
        if (v.link !== underlay.ifindex) changes.push(`dev ${v.link ?? 'none'}≠${underlay.ifindex} (${underlay.name})`);
        if (v.learning !== false) changes.push('learning on');
        if (v.group !== undefined) changes.push(`remote/group ${v.group} set`);
        if (v.external === true) changes.push('external (collect_metadata) mode');
      }
      if (changes.length > 0) {
        action = 'recreated';
        const index = existing.data.index ?? 0;
        await this.#rt.call(`${op}: delete wrong device (${changes.join(', ')})`, (o) => this.#rt.sock.delLink({ index }, {}, o), 0, signal);
        this.#forgetOwners(index);
        existing = undefined;
      } else action = 'adopted';
    }

    if (existing === undefined) {
      await this.#rt.call(
        `${op}: create vxlan vni ${vni} dstport ${port} local ${nodeIP} dev ${underlay.name}`,
        (o) =>
          this.#rt.sock.newLink(
            {},
            { ifname: name, mtu, address: macToBuf(mac), linkinfo: vxlanLinkInfo({ vni, port, local: nodeIP, link: underlay.ifindex }) },
            o,
          ),
        NLM_F.CREATE | NLM_F.EXCL,
        signal,
      );
      existing = await this.#linkByName(name, op);
      if (existing === undefined) throw new NetlinkError('ENODEV', op, `${name} vanished right after its creation`);
      this.#forgetOwners(existing.data.index ?? 0);
    }

    const index = existing.data.index ?? 0;
    const curMtu = existing.attrs.mtu ?? 0;
    const curMac = bufToMac(existing.attrs.address);
    const fix: nl.ifla.LinkAttrs = {};
    if (curMtu !== mtu) {
      fix.mtu = mtu;
      if (action === 'adopted') changes.push(`mtu ${curMtu}→${mtu}`);
    }
    if (curMac !== mac) {
      fix.address = macToBuf(mac);
      if (action === 'adopted') changes.push(`mac ${curMac}→${mac}`);
    }
    const up = linkFlagsUp(existing.data);
    if (!up && action === 'adopted') changes.push('down→up');
    if (Object.keys(fix).length > 0 || !up) {
      await this.#rt.call(
        `${op}: set mtu/mac/up`,
        (o) => this.#rt.sock.setLink({ index, flags: { up: true }, change: { up: true } }, fix, o),
        0,
        signal,
      );
      if (action === 'adopted') action = 'fixed';
      existing = await this.#linkByName(name, op);
      if (existing === undefined) throw new NetlinkError('ENODEV', op, `${name} vanished while being set up`);
    }
    return {
      ifindex: existing.data.index ?? index,
      name,
      mtu: existing.attrs.mtu ?? mtu,
      mac: bufToMac(existing.attrs.address) ?? mac,
      vni,
      port,
      nodeIP,
      up: linkFlagsUp(existing.data),
      underlay,
      action,
      changes,
    };
  }

  async #linkByName(name: string, op: string): Promise<nl.rt.LinkMessage | undefined> {
    try {
      const [link] = await this.#rt.call(`${op}: look up ${name}`, (o) => this.#rt.sock.getLink({}, { ifname: name }, o));
      return link;
    } catch (err) {
      if (isNetlinkError(err, 'ENODEV', 'ENOENT')) return undefined;
      throw err;
    }
  }

  async #linkHolding(nodeIP: string, op: string): Promise<LinkRef> {
    const addrs = await this.#rt.call(`${op}: list IPv4 addresses`, (o) => this.#rt.sock.getAddresses({ family: AF_INET }, {}, o));
    const hit = addrs.find((a) => bufToIp(a.attrs.local ?? a.attrs.address) === nodeIP);
    if (hit?.data.index === undefined) {
      throw new NetlinkError('EADDRNOTAVAIL', op, `NODE_IP ${nodeIP} is on no link in this network namespace (set NODE_IP to an address of this node)`);
    }
    const ifindex = hit.data.index;
    const [link] = await this.#rt.call(`${op}: read link ${ifindex}`, (o) => this.#rt.sock.getLink({ index: ifindex }, {}, o));
    if (link === undefined) throw new NetlinkError('ENODEV', op, `link ${ifindex} holding ${nodeIP} vanished`);
    return { ifindex, name: link.attrs.ifname ?? String(ifindex), mtu: link.attrs.mtu ?? 1500 };
  }

  /** Whether IPv4 forwarding is on in this network namespace. */
  async ipForwardEnabled(): Promise<boolean> {
    try {
      return (await readFile(this.#ipForwardPath, 'utf8')).trim() === '1';
    } catch (err) {
      throw new NetlinkError('ENOENT', 'read ip_forward', `cannot read ${this.#ipForwardPath}`, { cause: err });
    }
  }

  // ---- policy rules ----------------------------------------------------------

  /**
   * Makes the IPv4 policy rules that select the gateway's table exactly one
   * `to <cidr> lookup <table> priority <p>` per pod CIDR (rule-plan.ts says
   * which rules are ours). New rules go in before stale ones go. Returns the
   * plan that was carried out.
   */
  ensureRules(podCidrs: readonly string[], opts: WriteOptions = {}): Promise<RulePlan> {
    return this.#serial(() => this.#ensureRules(podCidrs, opts));
  }

  async #ensureRules(podCidrs: readonly string[], opts: WriteOptions): Promise<RulePlan> {
    const op = 'ensure policy rules';
    const wanted = podCidrs.map((c) => {
      const p = checkCidr(op, 'pod CIDR', c);
      return { dst: p.base, dstLen: p.prefix };
    });
    const msgs = await this.#rt.call(`${op}: dump`, (o) => this.#rt.sock.getRules({ family: AF_INET }, {}, o));
    const observed: ObservedRule[] = [];
    for (const m of msgs) {
      const d = m.data;
      const a = m.attrs;
      if (d.family !== AF_INET) continue;
      const table = a.table ?? d.table ?? 0;
      const action = typeof d.action === 'string' ? d.action : nl.rt.RuleAction[d.action ?? 0];
      const flags = d.flags ?? {};
      const selectors = [a.src, a.iifname, a.oifname, a.fwmark, a.fwmask, a.uidRange, a.ipProto, a.sportRange, a.dportRange, a.l3Mdev, a.goto, a.tunId];
      const plain = action === 'toTbl' && (d.srcLen ?? 0) === 0 && (d.tos ?? 0) === 0 && flags.invert !== true && selectors.every((x) => x === undefined || x === 0);
      observed.push({ dst: a.dst?.length === 4 ? a.dst.readUInt32BE(0) : 0, dstLen: d.dstLen ?? 0, table, priority: a.priority ?? 0, protocol: a.protocol ?? 0, plain });
    }
    const plan = planRules(observed, wanted, this.#table, this.#rulePriority, RTPROT_HYBRID_GATEWAY);
    for (const w of plan.add) {
      const dst = Buffer.alloc(4);
      dst.writeUInt32BE(w.dst >>> 0);
      await this.#rt.call(
        `${op}: add to ${ipText(w.dst)}/${w.dstLen} lookup ${this.#table} priority ${this.#rulePriority}`,
        (o) =>
          this.#rt.sock.newRule(
            { family: AF_INET, dstLen: w.dstLen, table: this.#table < 256 ? this.#table : 0, action: 'toTbl' },
            { dst, table: this.#table, priority: this.#rulePriority, protocol: RTPROT_HYBRID_GATEWAY },
            o,
          ),
        NLM_F.CREATE | NLM_F.EXCL,
        opts.signal,
      ).catch((err: unknown) => {
        if (!isNetlinkError(err, 'EEXIST')) throw err;
      });
    }
    for (const r of plan.remove) {
      const dst = Buffer.alloc(4);
      dst.writeUInt32BE(r.dst >>> 0);
      await this.#rt.call(
        `${op}: delete to ${ipText(r.dst)}/${r.dstLen} lookup ${r.table} priority ${r.priority}`,
        (o) =>
          this.#rt.sock.delRule(
            { family: AF_INET, dstLen: r.dstLen, table: r.table < 256 ? r.table : 0 },
            { ...(r.dstLen > 0 ? { dst } : {}), table: r.table, priority: r.priority },
            o,
          ),
        0,
        opts.signal,
      ).catch((err: unknown) => {
        if (!isNetlinkError(err, 'ENOENT', 'ESRCH')) throw err;
      });
    }
    return plan;
  }

  // ---- VTEP entries ---------------------------------------------------------
  // Writes are encoded as raw rtnetlink messages (wire.ts) and sent in
  // batches (Rtnl.batch): many per sendmsg, no per-message ACK, a barrier at
  // the end. The kernel handles them in the order given. A node's routes go
  // through a nexthop object of its own (entries.ts says why).

  #fdbSet(dev: DeviceRef, s: CheckedSpec, op: 'add' | 'fix'): Write {
    return {
      entry: { kind: 'fdb', mac: s.mac, dst: s.nodeIP },
      op,
      what: `replace fdb ${s.mac} dst ${s.nodeIP} self permanent`,
      raw: neighMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, {
        family: AF_BRIDGE,
        ifindex: dev.ifindex,
        state: NUD_PERMANENT,
        flags: NTF_SELF,
        lladdr: macBytes(s.macNum),
        dst: s.ip,
      }),
    };
  }

  #fdbDel(dev: DeviceRef, f: { mac: number; dst: number | undefined; extra?: ObservedFdb['extra'] }): Write {
    const lladdr = macBytes(f.mac);
    const mac = macText(f.mac);
    const dst = f.dst !== undefined ? ipText(f.dst) : '';
    return {
      entry: { kind: 'fdb', mac, dst },
      op: 'remove',
      what: `delete fdb ${mac} dst ${dst || '-'}`,
      raw: neighMessage(RTM_DELNEIGH, 0, {
        family: AF_BRIDGE,
        ifindex: dev.ifindex,
        state: 0,
        flags: NTF_SELF,
        lladdr,
        dst: f.dst,
        port: f.extra?.port,
        vni: f.extra?.vni,
        remoteIfindex: f.extra?.ifindex,
      }),
    };
  }

  #neighSet(dev: DeviceRef, s: CheckedSpec, op: 'add' | 'fix'): Write {
    return {
      entry: { kind: 'neighbour', ip: s.nodeIP, mac: s.mac },
      op,
      what: `replace neighbour ${s.nodeIP} lladdr ${s.mac} permanent`,
      raw: neighMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, {
        family: AF_INET,
        ifindex: dev.ifindex,
        state: NUD_PERMANENT,
        flags: 0,
        dst: s.ip,
        lladdr: macBytes(s.macNum),
      }),
    };
  }

  #neighDel(dev: DeviceRef, ip: number, mac: number | undefined): Write {
    const ipT = ipText(ip);
    return {
      entry: { kind: 'neighbour', ip: ipT, mac: mac !== undefined ? macText(mac) : '' },
      op: 'remove',
      what: `delete neighbour ${ipT}`,
      raw: neighMessage(RTM_DELNEIGH, 0, { family: AF_INET, ifindex: dev.ifindex, state: 0, flags: 0, dst: ip }),
    };
  }

  #nexthopSet(dev: DeviceRef, s: CheckedSpec, op: 'add' | 'fix'): Write {
    return {
      entry: { kind: 'nexthop', id: s.nhId, via: s.nodeIP },
      op,
      what: `replace nexthop id ${s.nhId} via ${s.nodeIP} onlink`,
      raw: nexthopMessage(RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_REPLACE, {
        id: s.nhId,
        oif: dev.ifindex,
        gateway: s.ip,
        protocol: RTPROT_HYBRID_GATEWAY,
        flags: RTNH_F_ONLINK,
      }),
    };
  }

  #nexthopDel(id: number, gateway: number | undefined): Write {
    return {
      entry: { kind: 'nexthop', id, via: gateway !== undefined ? ipText(gateway) : '' },
      op: 'remove',
      what: `delete nexthop id ${id}`,
      raw: nexthopMessage(RTM_DELNEXTHOP, 0, { id, protocol: 0, flags: 0 }),
    };
  }

  #routeSet(r: WantedRoute, op: 'add' | 'fix'): Write {
    return {
      entry: { kind: 'route', dst: r.dst, via: r.via },
      op,
      what: `replace route ${r.dst} nhid ${r.nhId} (via ${r.via})`,
      raw: routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, {
        dst: r.base,
        dstLen: r.prefix,
        nhId: r.nhId,
        table: this.#table,
        protocol: RTPROT_HYBRID_GATEWAY,
        scope: RT_SCOPE_UNIVERSE,
        type: RTN_UNICAST,
        flags: 0,
      }),
    };
  }

  /** Deletes one route: the one through nexthop `nhId`, or (older, gateway-style routes) via `gateway` on the device. */
  #routeDel(
    dev: DeviceRef,
    r: { base: number; dstLen: number; nhId?: number | undefined; gateway?: number | undefined; priority?: number; tos?: number; table?: number },
  ): Write {
    const dst = `${ipText(r.base)}/${r.dstLen}`;
    const via = r.gateway !== undefined ? ipText(r.gateway) : '';
    const byNexthop = r.nhId !== undefined;
    return {
      entry: { kind: 'route', dst, via },
      op: 'remove',
      what: `delete route ${dst}${byNexthop ? ` nhid ${r.nhId}` : via !== '' ? ` via ${via}` : ''}`,
      raw: routeMessage(RTM_DELROUTE, 0, {
        dst: r.base,
        dstLen: r.dstLen,
        nhId: r.nhId,
        gateway: byNexthop ? undefined : r.gateway,
        oif: byNexthop ? undefined : dev.ifindex,
        priority: r.priority !== undefined && r.priority !== 0 ? r.priority : undefined,
        tos: r.tos ?? 0,
        table: r.table ?? this.#table,
        protocol: 0,
        scope: RT_SCOPE_NOWHERE,
        type: 0,
        flags: 0,
      }),
    };
  }

  #encode(dev: DeviceRef, p: PlannedWrite): Write {
    switch (p.kind) {
      case 'fdb-set':
        return this.#fdbSet(dev, p.spec, p.op);
      case 'neigh-set':
        return this.#neighSet(dev, p.spec, p.op);
      case 'nexthop-set':
        return this.#nexthopSet(dev, p.spec, p.op);
      case 'route-set':
        return this.#routeSet(p.route, p.op);
      case 'route-del':
        return this.#routeDel(dev, { ...p.route, nhId: p.route.nhId });
      case 'nexthop-del':
        return this.#nexthopDel(p.id, p.gateway);
      case 'neigh-del':
        return this.#neighDel(dev, p.ip, p.mac);
      case 'fdb-del':
        return this.#fdbDel(dev, p.fdb);
    }
  }

  /**
   * Sends writes as one batch, in order. A removal of an entry that is
   * already gone is not an error. Returns what was done and what failed.
   */
  async #apply(dev: DeviceRef, writes: readonly Write[], op: string, signal: AbortSignal | undefined): Promise<{ done: Write[]; failed: Array<{ w: Write; error: NetlinkError }> }> {
    const results = await this.#rt.batch(
      writes.map((w) => w.raw),
      op,
      signal,
    );
    const done: Write[] = [];
    const failed: Array<{ w: Write; error: NetlinkError }> = [];
    writes.forEach((w, i) => {
      const err = results[i];
      if (err === undefined) done.push(w);
      else if (w.op === 'remove' && isNetlinkError(err, 'ENOENT', 'ESRCH')) return;
      else failed.push({ w, error: new NetlinkError(err.code, `${op}: ${w.what} dev ${dev.name ?? dev.ifindex}`, err.code, { cause: err }) });
    });
    return { done, failed };
  }

  /** Who holds nexthop `id`: one of ours on the device, another (device, group, …), or nobody. */
  async #nexthopHolder(dev: DeviceRef, id: number, op: string): Promise<'ours' | 'foreign' | 'absent'> {
    let msgs: NetlinkMessage[];
    try {
      [msgs] = await this.#rt.sock.socket.request(RTM_GETNEXTHOP, [nexthopMessage(RTM_GETNEXTHOP, 0, { id, protocol: 0, flags: 0 }).subarray(16)], {
        timeout: this.#rt.timeoutMs,
      });
    } catch (err) {
      const e = toNetlinkError(err, `${op}: look up nexthop ${id}`);
      if (e.code === 'ENOENT' || e.code === 'ESRCH') return 'absent';
      throw e;
    }
    const { ours } = ourNexthops(msgs, dev.ifindex);
    return ours.some((n) => n.id === id) ? 'ours' : msgs.length > 0 ? 'foreign' : 'absent';
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
    return this.#nodeOp({ kind: 'program', device, spec, previous, signal: opts.signal, op: `program vtep ${spec?.name}` }) as Promise<ProgramResult>;
  }

  /**
   * Removes one hybrid node's routes (only those still through its nexthop)
   * and its nexthop (when it is ours), its neighbour and its FDB entry (the delete
   * names MAC and dst). Missing entries are fine (idempotent). Returns the
   * entries that were there.
   */
  removeVtep(device: DeviceRef, spec: VtepSpec, opts: WriteOptions = {}): Promise<Entry[]> {
    return this.#nodeOp({ kind: 'remove', device, spec, previous: [], signal: opts.signal, op: `remove vtep ${spec?.name}` }) as Promise<Entry[]>;
  }

  // Per-node operations asked for while others are queued are combined: one
  // look-up of the nexthops, one batch, one barrier for all of them (each
  // caller still gets its own result or error). 200 nodes changing at once
  // then cost a few round trips instead of 200 × three.
  #pendingNodeOps: NodeOp[] = [];

  #nodeOp(o: Omit<NodeOp, 'resolve' | 'reject'>): Promise<ProgramResult | Entry[]> {
    return new Promise((resolve, reject) => {
      this.#pendingNodeOps.push({ ...o, resolve, reject });
      if (this.#pendingNodeOps.length === 1) void this.#serial(() => this.#runNodeOps());
    });
  }

  async #runNodeOps(): Promise<void> {
    const ops = this.#pendingNodeOps;
    this.#pendingNodeOps = [];
    const planned: Array<{ o: NodeOp; writes: Write[] }> = [];
    // Which nexthop ids are ours (or someone else's): one dump for many nodes, a GET for a few.
    let holders: ((id: number) => 'ours' | 'foreign' | 'absent') | undefined;
    try {
      holders = ops.length > 4 ? await this.#nexthopHolders(ops[0]!.device) : undefined;
    } catch (err) {
      for (const o of ops) o.reject(err);
      return;
    }
    // The kernel as the batch's earlier writes leave it: an op planned after another's nexthop write
    // or delete sees that (a route delete naming a nexthop id that is gone is EINVAL, not ESRCH).
    const batch = new Map<string, 'ours' | 'absent'>();
    const holder = (dev: DeviceRef, id: number, op: string): Promise<'ours' | 'foreign' | 'absent'> => {
      const seen = batch.get(`${dev.ifindex}/${id}`);
      if (seen !== undefined) return Promise.resolve(seen);
      return holders !== undefined && dev.ifindex === ops[0]!.device.ifindex ? Promise.resolve(holders(id)) : this.#nexthopHolder(dev, id, op);
    };
    for (const o of ops) {
      try {
        refuseIfAborted(o.signal, o.op);
        const writes = o.kind === 'program' ? await this.#programWrites(o, holder) : await this.#removeWrites(o, holder);
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
    for (const group of byDevice.values()) {
      const writes = group.flatMap((p) => p.writes);
      const signals = group.map((p) => p.o.signal).filter((x): x is AbortSignal => x !== undefined);
      let applied: { done: Write[]; failed: Array<{ w: Write; error: NetlinkError }> };
      try {
        // Fenced as a whole only when every caller was: one caller's abort must not stop the others' writes.
        const signal = signals.length === group.length && signals.length > 0 ? AbortSignal.any(signals) : undefined;
        applied = await this.#apply(group[0]!.o.device, writes, group.length === 1 ? group[0]!.o.op : `program/remove ${group.length} vteps`, signal);
      } catch (err) {
        for (const p of group) p.o.reject(err);
        continue;
      }
      const doneSet = new Set(applied.done);
      const failedBy = new Map(applied.failed.map((f) => [f.w, f.error]));
      // Each result wakes a vtep actor, which reports to the fleet: a few dozen per turn of the loop.
      const b = breather(25);
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

  async #programWrites(o: NodeOp, holder: HolderOf): Promise<Write[]> {
    const { device, op } = o;
    const s = checkSpec(op, o.spec);
    const prev = o.previous.map((p) => checkSpec(op, p));
    if ((await holder(device, s.nhId, op)) === 'foreign') {
      throw new NetlinkError('EEXIST', op, `nexthop id ${s.nhId} (${s.nodeIP}) is held by a nexthop of another device or kind; not taken over`);
    }
    const writes: Write[] = [this.#fdbSet(device, s, 'add'), this.#neighSet(device, s, 'add'), this.#nexthopSet(device, s, 'add')];
    for (const r of s.routes) writes.push(this.#routeSet(r, 'add'));
    const seen = new Set<string>();
    const keep = new Set(s.routes.map((r) => r.key));
    for (const p of prev) {
      const owner = p.ip === s.ip ? undefined : this.#otherOwner(device, p.ip, s.name);
      if (p.ip === s.ip || owner !== undefined) {
        // Same nexthop: only the pod CIDRs it no longer has. An old IP written for another node
        // since: only this node's routes through it (not the other's), its entries stay.
        const theirs = new Set(owner?.routes.map((r) => r.key));
        if (owner !== undefined && (await holder(device, p.nhId, op)) !== 'ours') continue; // gone, with its routes
        for (const r of p.routes) {
          if (keep.has(r.key) || theirs.has(r.key) || seen.has(`r${p.ip}>${r.key}`)) continue;
          seen.add(`r${p.ip}>${r.key}`);
          writes.push(this.#routeDel(device, { base: r.base, dstLen: r.prefix, nhId: p.nhId, gateway: p.ip }));
        }
        continue;
      }
      // Another node IP: its nexthop goes, and with it every route still through it
      // (the kept pod CIDRs were moved to the new nexthop above).
      if (!seen.has(`n${p.ip}`)) {
        seen.add(`n${p.ip}`);
        if ((await holder(device, p.nhId, op)) === 'ours') writes.push(this.#nexthopDel(p.nhId, p.ip));
        writes.push(this.#neighDel(device, p.ip, p.macNum));
      }
    }
    for (const p of prev) {
      if ((p.macNum !== s.macNum || p.ip !== s.ip) && this.#otherOwner(device, p.ip, s.name) === undefined && !seen.has(`f${p.macNum}>${p.ip}`)) {
        seen.add(`f${p.macNum}>${p.ip}`);
        writes.push(this.#fdbDel(device, { mac: p.macNum, dst: p.ip }));
      }
    }
    // Planned in write order: the ops after this one see it as the owner of its IP, and of no old one.
    for (const p of prev) if (p.ip !== s.ip && this.#otherOwner(device, p.ip, s.name) === undefined) this.#ipOwner.delete(`${device.ifindex}/${p.ip}`);
    this.#ipOwner.set(`${device.ifindex}/${s.ip}`, s);
    return writes;
  }

  async #removeWrites(o: NodeOp, holder: HolderOf): Promise<Write[]> {
    const { device, op } = o;
    const s = checkSpec(op, o.spec);
    const writes: Write[] = [];
    const owner = this.#otherOwner(device, s.ip, s.name);
    if (owner !== undefined) {
      // Its IP was written for another node since: only this node's routes through it go (none when the nexthop is gone).
      if ((await holder(device, s.nhId, op)) !== 'ours') return [];
      const theirs = new Set(owner.routes.map((r) => r.key));
      return s.routes.filter((r) => !theirs.has(r.key)).map((r) => this.#routeDel(device, { base: r.base, dstLen: r.prefix, nhId: s.nhId, gateway: s.ip }));
    }
    this.#ipOwner.delete(`${device.ifindex}/${s.ip}`);
    // Deleting its nexthop takes every route still through it (none of another node's).
    if ((await holder(device, s.nhId, op)) === 'ours') {
      writes.push(...s.routes.map((r) => this.#routeDel(device, { base: r.base, dstLen: r.prefix, nhId: s.nhId, gateway: s.ip })));
      writes.push(this.#nexthopDel(s.nhId, s.ip));
    }
    writes.push(this.#neighDel(device, s.ip, s.macNum), this.#fdbDel(device, { mac: s.macNum, dst: s.ip }));
    return writes;
  }

  /** Every nexthop id's holder on `dev`, from one dump. */
  async #nexthopHolders(dev: DeviceRef): Promise<(id: number) => 'ours' | 'foreign' | 'absent'> {
    const { ours, foreign } = ourNexthops(await this.#dumpNexthops(), dev.ifindex);
    const mine = new Set(ours.map((n) => n.id));
    return (id) => (mine.has(id) ? 'ours' : foreign.has(id) ? 'foreign' : 'absent');
  }

  // ---- dumps and reconcile --------------------------------------------------

  #dumpRoutes(): Promise<NetlinkMessage[]> {
    return this.#rt.dump(RTM_GETROUTE, nl.rt.formatRoute({ family: AF_INET }), 'dump IPv4 routes');
  }

  async #dumpNexthops(): Promise<NetlinkMessage[]> {
    try {
      return await this.#rt.dump(RTM_GETNEXTHOP, nexthopMessage(RTM_GETNEXTHOP, 0, { id: 0, protocol: 0, flags: 0 }).subarray(16, 24), 'dump nexthops');
    } catch (err) {
      if (isNetlinkError(err, 'EOPNOTSUPP', 'EINVAL')) {
        throw new NetlinkError('EOPNOTSUPP', 'dump nexthops', 'this kernel has no nexthop objects: the gateway needs Linux 5.3 or later', { cause: err });
      }
      throw err;
    }
  }

  #dumpNeighbours(ifindex: number): Promise<NetlinkMessage[]> {
    const idx = Buffer.alloc(4);
    idx.writeUInt32LE(ifindex);
    const attrs = new nl.AttrStream();
    attrs.emit(nl.rt.formatNeighborAttrs({ ifindex: idx }));
    return this.#rt.dump(RTM_GETNEIGH, nl.rt.formatNeighbor({ family: AF_INET }), 'dump IPv4 neighbours', attrs.bufs);
  }

  #dumpFdb(): Promise<NetlinkMessage[]> {
    return this.#rt.dump(RTM_GETNEIGH, nl.rt.formatNeighbor({ family: AF_BRIDGE }), 'dump FDB');
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
    return this.#serial(() => this.#reconcile(device, desired, opts));
  }

  async #reconcile(dev: DeviceRef, desired: Iterable<VtepSpec>, opts: WriteOptions): Promise<ReconcileResult> {
    const op = `reconcile ${dev.name ?? dev.ifindex}`;
    const want = await wantedOf(op, desired);
    const { signal } = opts;
    refuseIfAborted(signal, op);

    const nexthops = ourNexthops(await this.#dumpNexthops(), dev.ifindex);
    const ourIds = new Set(nexthops.ours.map((n) => n.id));
    const observed = {
      nexthops,
      routes: ourRoutes(await this.#dumpRoutes(), dev.ifindex, ourIds, this.#table),
      neighbours: ourNeighbours(await this.#dumpNeighbours(dev.ifindex), dev.ifindex),
      fdb: ourFdb(await this.#dumpFdb(), dev.ifindex),
    };
    const plan = planReconcile(observed, want);
    const b = breather();
    const writes: Write[] = [];
    for (const p of plan.writes) {
      writes.push(this.#encode(dev, p));
      if (b.due()) await b.pause();
    }
    const { done, failed } = await this.#apply(dev, writes, op, signal);
    // The desired set is what the kernel holds now: each IP's entries are its node's.
    this.#forgetOwners(dev.ifindex);
    for (const spec of want.nexthops.values()) this.#ipOwner.set(`${dev.ifindex}/${spec.ip}`, spec);
    const refused = plan.refused.map((r) => ({
      entry: { kind: 'nexthop', id: r.spec.nhId, via: r.spec.nodeIP } as const,
      op: 'add' as const,
      error: new NetlinkError('EEXIST', op, r.reason),
    }));
    const added: Entry[] = [];
    const removed: Entry[] = [];
    const fixed: Entry[] = [];
    for (const w of done) (w.op === 'add' ? added : w.op === 'remove' ? removed : fixed).push(w.entry);
    return { added, removed, fixed, unchanged: plan.unchanged, failed: [...refused, ...failed.map((f) => ({ entry: f.w.entry, op: f.w.op, error: f.error }))] };
  }

  // ---- statistics -----------------------------------------------------------

  /** Counters of the vxlan device and its underlying NIC, FDB/route counts, link state. */
  stats(device: DeviceRef & { readonly underlay: { readonly ifindex: number } }): Promise<DataPlaneStats> {
    return this.#serial(async () => {
      const vxlan = await this.#ifStats(device.ifindex);
      const primary = await this.#ifStats(device.underlay.ifindex);
      const fdbEntries = (await this.#dumpFdb()).filter((m) => neighIfindex(m) === device.ifindex).length;
      const ourIds = new Set(ourNexthops(await this.#dumpNexthops(), device.ifindex).ours.map((n) => n.id));
      const routeCount = ourRoutes(await this.#dumpRoutes(), device.ifindex, ourIds, this.#table).filter((r) => {
        return !r.legacy && (r.nhId === undefined || ourIds.has(r.nhId));
      }).length;
      return { vxlan, primary, fdbEntries, routeCount, vxlanUp: vxlan.up };
    });
  }

  async #ifStats(ifindex: number): Promise<IfStats> {
    const [link] = await this.#rt.call(`read stats of link ${ifindex}`, (o) => this.#rt.sock.getLink({ index: ifindex }, {}, o));
    if (link === undefined) throw new NetlinkError('ENODEV', `read stats of link ${ifindex}`, 'no such link');
    const s = link.attrs.stats64;
    const n = (v: bigint | undefined): number => Number(v ?? 0n);
    return {
      ifindex,
      name: link.attrs.ifname ?? String(ifindex),
      up: linkFlagsUp(link.data),
      rxBytes: n(s?.rxBytes),
      txBytes: n(s?.txBytes),
      rxPackets: n(s?.rxPackets),
      txPackets: n(s?.txPackets),
      rxDropped: n(s?.rxDropped),
      txDropped: n(s?.txDropped),
      rxErrors: n(s?.rxErrors),
      txErrors: n(s?.txErrors),
    };
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
