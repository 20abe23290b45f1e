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
// with writes on the socket; inside one operation, writes are pipelined.
import { readFile } from 'node:fs/promises';
import type * as nl from 'netlink';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { bufToIp, bufToMac, checkCidr, checkIPv4, checkMac, ipToBuf, macToBuf, parseVxlanLinkInfo, vxlanLinkInfo } from './codec.js';
import { deviceMacFor } from './device-mac.js';
import {
  AF_BRIDGE,
  AF_INET,
  fdbKey,
  ourFdb,
  ourNeighbours,
  ourRoutes,
  RT_TABLE_MAIN,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_STATIC,
  type Entry,
  type ObservedFdb,
} from './entries.js';
import { badInput, isNetlinkError, NetlinkError } from './errors.js';
import { NLM_F, refuseIfAborted, Rtnl, type RtnlOptions } from './rtnl.js';

export type { Entry } from './entries.js';

export const DEFAULT_DEVICE_NAME = 'hybrid_vxlan0';
export const DEFAULT_VNI = 2;
export const DEFAULT_VXLAN_PORT = 8472;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;

export interface DataPlaneOptions extends RtnlOptions {
  /** Where ip_forward is read (default /proc/sys/net/ipv4/ip_forward, per network namespace). */
  readonly ipForwardPath?: string;
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

interface Wanted {
  readonly routes: Map<string, { dst: string; base: string; prefix: number; via: string }>;
  readonly neighbours: Map<string, string>; // ip → mac
  readonly fdb: Map<string, { mac: string; dst: string }>; // mac → entry
}

type Write = { entry: Entry; op: 'add' | 'fix' | 'remove'; send: () => Promise<unknown> };

function checkSpec(op: string, spec: VtepSpec): VtepSpec {
  if (typeof spec !== 'object' || spec === null) throw badInput(op, 'VtepSpec expected');
  const nodeIP = checkIPv4(op, `node ${spec.name} nodeIP`, spec.nodeIP);
  const mac = checkMac(op, `node ${spec.name} mac`, spec.mac);
  if (!Array.isArray(spec.podCIDRs)) throw badInput(op, `node ${spec.name}: podCIDRs must be an array`);
  const podCIDRs = spec.podCIDRs.map((c) => checkCidr(op, `node ${spec.name} pod CIDR`, c).text);
  return { name: spec.name, nodeIP, mac, podCIDRs };
}

function wantedOf(op: string, specs: Iterable<VtepSpec>): Wanted {
  const w: Wanted = { routes: new Map(), neighbours: new Map(), fdb: new Map() };
  const routeOwner = new Map<string, string>();
  for (const raw of specs) {
    const s = checkSpec(op, raw);
    const prevMac = w.neighbours.get(s.nodeIP);
    if (prevMac !== undefined && prevMac !== s.mac) {
      throw badInput(op, `node IP ${s.nodeIP} wanted with two MACs (${prevMac}, ${s.mac})`);
    }
    w.neighbours.set(s.nodeIP, s.mac);
    const prevDst = w.fdb.get(s.mac)?.dst;
    if (prevDst !== undefined && prevDst !== s.nodeIP) {
      throw badInput(op, `MAC ${s.mac} wanted toward two node IPs (${prevDst}, ${s.nodeIP})`);
    }
    w.fdb.set(s.mac, { mac: s.mac, dst: s.nodeIP });
    for (const c of s.podCIDRs) {
      const cidr = checkCidr(op, 'pod CIDR', c);
      const owner = routeOwner.get(cidr.text);
      if (owner !== undefined && w.routes.get(cidr.text)?.via !== s.nodeIP) {
        throw badInput(op, `pod CIDR ${cidr.text} wanted via two nodes (${owner}, ${s.name})`);
      }
      routeOwner.set(cidr.text, s.name);
      w.routes.set(cidr.text, { dst: cidr.text, base: cidr.base, prefix: cidr.prefix, via: s.nodeIP });
    }
  }
  return w;
}

function linkFlagsUp(data: nl.rt.Link): boolean {
  return data.flags?.up === true;
}

export class DataPlane {
  readonly #rt: Rtnl;
  readonly #ipForwardPath: string;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(opts: DataPlaneOptions = {}) {
    this.#rt = new Rtnl(opts);
    this.#ipForwardPath = opts.ipForwardPath ?? '/proc/sys/net/ipv4/ip_forward';
  }

  /** Runs public operations one at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
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
    const mtu = underlay.mtu - VXLAN_OVERHEAD;
    if (mtu < 68) throw badInput(op, `the link ${underlay.name} holding NODE_IP has MTU ${underlay.mtu}: too small for VXLAN`);

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

  // ---- VTEP entries ---------------------------------------------------------

  #fdbAdd(dev: DeviceRef, mac: string, dst: string, signal: AbortSignal | undefined): Write {
    return {
      entry: { kind: 'fdb', mac, dst },
      op: 'add',
      send: () =>
        this.#rt.call(
          `replace fdb ${mac} dst ${dst} dev ${dev.name ?? dev.ifindex}`,
          (o) =>
            this.#rt.sock.newNeighbor(
              { family: AF_BRIDGE, ifindex: dev.ifindex, state: { permanent: true }, flags: { self: true } },
              { lladdr: macToBuf(mac), dst: ipToBuf(dst) },
              o,
            ),
          NLM_F.CREATE | NLM_F.REPLACE,
          signal,
        ),
    };
  }

  #fdbDel(dev: DeviceRef, f: Pick<ObservedFdb, 'mac' | 'dst'> & { extra?: ObservedFdb['extra'] }, signal: AbortSignal | undefined): Write {
    const attrs: nl.rt.NeighborAttrs = { lladdr: macToBuf(f.mac) };
    if (f.dst !== undefined) attrs.dst = ipToBuf(f.dst);
    if (f.extra?.port !== undefined) attrs.port = f.extra.port;
    if (f.extra?.vni !== undefined) attrs.vni = f.extra.vni;
    if (f.extra?.ifindex !== undefined) attrs.ifindex = f.extra.ifindex;
    return {
      entry: { kind: 'fdb', mac: f.mac, dst: f.dst ?? '' },
      op: 'remove',
      send: () =>
        this.#rt.call(
          `delete fdb ${f.mac} dst ${f.dst ?? '-'} dev ${dev.name ?? dev.ifindex}`,
          (o) => this.#rt.sock.delNeighbor({ family: AF_BRIDGE, ifindex: dev.ifindex, flags: { self: true } }, attrs, o),
          0,
          signal,
        ),
    };
  }

  #neighSet(dev: DeviceRef, ip: string, mac: string, op: 'add' | 'fix', signal: AbortSignal | undefined): Write {
    return {
      entry: { kind: 'neighbour', ip, mac },
      op,
      send: () =>
        this.#rt.call(
          `replace neighbour ${ip} lladdr ${mac} dev ${dev.name ?? dev.ifindex}`,
          (o) =>
            this.#rt.sock.newNeighbor(
              { family: AF_INET, ifindex: dev.ifindex, state: { permanent: true } },
              { dst: ipToBuf(ip), lladdr: macToBuf(mac) },
              o,
            ),
          NLM_F.CREATE | NLM_F.REPLACE,
          signal,
        ),
    };
  }

  #neighDel(dev: DeviceRef, ip: string, mac: string, signal: AbortSignal | undefined): Write {
    return {
      entry: { kind: 'neighbour', ip, mac },
      op: 'remove',
      send: () =>
        this.#rt.call(
          `delete neighbour ${ip} dev ${dev.name ?? dev.ifindex}`,
          (o) => this.#rt.sock.delNeighbor({ family: AF_INET, ifindex: dev.ifindex }, { dst: ipToBuf(ip) }, o),
          0,
          signal,
        ),
    };
  }

  #routeSet(dev: DeviceRef, r: { dst: string; base: string; prefix: number; via: string }, op: 'add' | 'fix', signal: AbortSignal | undefined): Write {
    return {
      entry: { kind: 'route', dst: r.dst, via: r.via },
      op,
      send: () =>
        this.#rt.call(
          `replace route ${r.dst} via ${r.via} dev ${dev.name ?? dev.ifindex} onlink`,
          (o) =>
            this.#rt.sock.newRoute(
              {
                family: AF_INET,
                dstLen: r.prefix,
                table: RT_TABLE_MAIN,
                protocol: RTPROT_STATIC,
                scope: 'UNIVERSE',
                type: RTN_UNICAST,
                flags: { __unknown: RTNH_F_ONLINK },
              },
              { dst: ipToBuf(r.base), gateway: ipToBuf(r.via), oif: dev.ifindex },
              o,
            ),
          NLM_F.CREATE | NLM_F.REPLACE,
          signal,
        ),
    };
  }

  #routeDel(
    dev: DeviceRef,
    r: { dst: string; dstLen: number; dstBuf: Buffer; gateway?: string | undefined; priority?: number; tos?: number },
    signal: AbortSignal | undefined,
  ): Write {
    const attrs: nl.rt.RouteAttrs = { dst: r.dstBuf, oif: dev.ifindex };
    if (r.gateway !== undefined) attrs.gateway = ipToBuf(r.gateway);
    if (r.priority !== undefined && r.priority !== 0) attrs.priority = r.priority;
    return {
      entry: { kind: 'route', dst: r.dst, via: r.gateway ?? '' },
      op: 'remove',
      send: () =>
        this.#rt.call(
          `delete route ${r.dst}${r.gateway !== undefined ? ` via ${r.gateway}` : ''} dev ${dev.name ?? dev.ifindex}`,
          (o) =>
            this.#rt.sock.delRoute(
              { family: AF_INET, dstLen: r.dstLen, tos: r.tos ?? 0, table: RT_TABLE_MAIN, scope: 'NOWHERE' },
              attrs,
              o,
            ),
          0,
          signal,
        ),
    };
  }

  /** Runs writes strictly one after another; a missing entry on removal is not an error. */
  async #runInOrder(writes: readonly Write[]): Promise<Entry[]> {
    const done: Entry[] = [];
    for (const w of writes) {
      try {
        await w.send();
        done.push(w.entry);
      } catch (err) {
        if (w.op === 'remove' && isNetlinkError(err, 'ENOENT', 'ESRCH')) continue;
        throw err;
      }
    }
    return done;
  }

  /**
   * Programs one hybrid node: FDB entry, permanent neighbour, a route per
   * pod CIDR (replace, onlink), in that order, so the route appears last.
   * Then removes what `previous` specs of the same node left that the new
   * spec no longer covers (old node IP's neighbour and FDB entry, dropped pod
   * CIDRs' routes, only when they still point at the old node). Idempotent.
   *
   * The FDB entry is written with NLM_F_CREATE|NLM_F_REPLACE: for a unicast
   * MAC the kernel keeps a single remote and treats APPEND on an existing MAC
   * as a no-op (vxlan_fdb_update_existing), so APPEND would leave a wrong dst
   * in place; REPLACE creates the entry or corrects it.
   */
  programVtep(device: DeviceRef, spec: VtepSpec, previous: readonly VtepSpec[] = [], opts: WriteOptions = {}): Promise<ProgramResult> {
    return this.#serial(async () => {
      const op = `program vtep ${spec?.name}`;
      const s = checkSpec(op, spec);
      const prev = previous.map((p) => checkSpec(op, p));
      const { signal } = opts;
      refuseIfAborted(signal, op);
      const writes: Write[] = [this.#fdbAdd(device, s.mac, s.nodeIP, signal), this.#neighSet(device, s.nodeIP, s.mac, 'add', signal)];
      for (const c of s.podCIDRs) {
        const cidr = checkCidr(op, 'pod CIDR', c);
        writes.push(this.#routeSet(device, { dst: cidr.text, base: cidr.base, prefix: cidr.prefix, via: s.nodeIP }, 'add', signal));
      }
      const applied = await this.#runInOrder(writes);
      const removals: Write[] = [];
      const seen = new Set<string>();
      for (const p of prev) {
        for (const c of p.podCIDRs) {
          if (s.podCIDRs.includes(c) || seen.has(`r${c}>${p.nodeIP}`)) continue;
          seen.add(`r${c}>${p.nodeIP}`);
          const cidr = checkCidr(op, 'pod CIDR', c);
          removals.push(this.#routeDel(device, { dst: cidr.text, dstLen: cidr.prefix, dstBuf: ipToBuf(cidr.base), gateway: p.nodeIP }, signal));
        }
      }
      for (const p of prev) {
        if (p.nodeIP !== s.nodeIP && !seen.has(`n${p.nodeIP}`)) {
          seen.add(`n${p.nodeIP}`);
          removals.push(this.#neighDel(device, p.nodeIP, p.mac, signal));
        }
        if (fdbKey(p.mac, p.nodeIP) !== fdbKey(s.mac, s.nodeIP) && !seen.has(`f${fdbKey(p.mac, p.nodeIP)}`)) {
          seen.add(`f${fdbKey(p.mac, p.nodeIP)}`);
          removals.push(this.#fdbDel(device, { mac: p.mac, dst: p.nodeIP }, signal));
        }
      }
      const removed = await this.#runInOrder(removals);
      return { applied, removed };
    });
  }

  /**
   * Removes one hybrid node's routes (only those still via its IP), its
   * neighbour and its FDB entry. Missing entries are fine (idempotent).
   */
  removeVtep(device: DeviceRef, spec: VtepSpec, opts: WriteOptions = {}): Promise<Entry[]> {
    return this.#serial(async () => {
      const op = `remove vtep ${spec?.name}`;
      const s = checkSpec(op, spec);
      const { signal } = opts;
      refuseIfAborted(signal, op);
      const writes: Write[] = s.podCIDRs.map((c) => {
        const cidr = checkCidr(op, 'pod CIDR', c);
        return this.#routeDel(device, { dst: cidr.text, dstLen: cidr.prefix, dstBuf: ipToBuf(cidr.base), gateway: s.nodeIP }, signal);
      });
      writes.push(this.#neighDel(device, s.nodeIP, s.mac, signal), this.#fdbDel(device, { mac: s.mac, dst: s.nodeIP }, signal));
      return this.#runInOrder(writes);
    });
  }

  // ---- dumps and reconcile --------------------------------------------------

  async #dumpRoutes(): Promise<nl.rt.RouteMessage[]> {
    return this.#rt.call('dump IPv4 routes', (o) => this.#rt.sock.getRoutes({ family: AF_INET }, {}, o));
  }

  async #dumpNeighbours(ifindex: number): Promise<nl.rt.NeighborMessage[]> {
    const idx = Buffer.alloc(4);
    idx.writeUInt32LE(ifindex);
    return this.#rt.call('dump IPv4 neighbours', (o) => this.#rt.sock.getNeighbors({ family: AF_INET }, { ifindex: idx }, o));
  }

  async #dumpFdb(): Promise<nl.rt.NeighborMessage[]> {
    return this.#rt.call('dump FDB', (o) => this.#rt.sock.getNeighbors({ family: AF_BRIDGE }, {}, o));
  }

  /**
   * Converges the entries on the device to exactly `desired`: dumps routes,
   * neighbours and FDB once, diffs in memory, then writes only the
   * differences (pipelined): additions and fixes first (make before break),
   * removals of stale entries last. Entries the kernel owns are never touched
   * (see entries.ts). Refused writes are reported in `failed`, the rest goes on.
   */
  reconcile(device: DeviceRef, desired: Iterable<VtepSpec>, opts: WriteOptions = {}): Promise<ReconcileResult> {
    return this.#serial(() => this.#reconcile(device, desired, opts));
  }

  async #reconcile(dev: DeviceRef, desired: Iterable<VtepSpec>, opts: WriteOptions): Promise<ReconcileResult> {
    const op = `reconcile ${dev.name ?? dev.ifindex}`;
    const want = wantedOf(op, desired);
    const { signal } = opts;
    refuseIfAborted(signal, op);

    const routes = ourRoutes(await this.#dumpRoutes(), dev.ifindex);
    const neigh = ourNeighbours(await this.#dumpNeighbours(dev.ifindex), dev.ifindex);
    const fdb = ourFdb(await this.#dumpFdb(), dev.ifindex);

    const upserts: Write[] = [];
    const removals: Write[] = [];
    let unchanged = 0;

    // FDB: the kernel keeps one remote per unicast MAC (append to an existing
    // unicast MAC is a no-op), so entries are keyed by MAC: a wanted MAC with
    // another dst, a port/VNI/ifindex of its own or a non-permanent state is
    // fixed with REPLACE; a MAC nobody wants is removed.
    const wantFdbByMac = want.fdb;
    const fdbHandled = new Set<string>();
    for (const f of fdb) {
      const w = wantFdbByMac.get(f.mac);
      if (w === undefined || fdbHandled.has(f.mac)) {
        removals.push(this.#fdbDel(dev, f, signal));
        continue;
      }
      fdbHandled.add(f.mac);
      const clean = f.extra.port === undefined && f.extra.vni === undefined && f.extra.ifindex === undefined;
      if (clean && f.permanent && f.dst === w.dst) unchanged++;
      else upserts.push({ ...this.#fdbAdd(dev, w.mac, w.dst, signal), op: 'fix' });
    }
    for (const [mac, w] of wantFdbByMac) {
      if (!fdbHandled.has(mac)) upserts.push(this.#fdbAdd(dev, w.mac, w.dst, signal));
    }

    // Neighbours: ours are the permanent ones; a wanted IP held by a dynamic entry is fixed.
    const neighSeen = new Set<string>();
    for (const n of neigh.ours) {
      const mac = want.neighbours.get(n.ip);
      if (mac === undefined) removals.push(this.#neighDel(dev, n.ip, n.mac ?? '', signal));
      else if (mac === n.mac) {
        neighSeen.add(n.ip);
        unchanged++;
      } else {
        neighSeen.add(n.ip);
        upserts.push(this.#neighSet(dev, n.ip, mac, 'fix', signal));
      }
    }
    for (const [ip, mac] of want.neighbours) {
      if (neighSeen.has(ip)) continue;
      upserts.push(this.#neighSet(dev, ip, mac, neigh.dynamic.has(ip) ? 'fix' : 'add', signal));
    }

    // Routes: key dst. The slot REPLACE acts on is (dst, tos 0, metric 0);
    // entries of the same dst with another tos/metric are removed.
    const routeSeen = new Set<string>();
    const slotTaken = new Set<string>();
    for (const r of routes) {
      const w = want.routes.get(r.dst);
      const inSlot = r.priority === 0 && r.tos === 0;
      if (w === undefined || !inSlot || slotTaken.has(r.dst)) {
        removals.push(this.#routeDel(dev, r, signal));
        continue;
      }
      slotTaken.add(r.dst);
      if (r.gateway === w.via && r.onlink && !r.odd) {
        routeSeen.add(r.dst);
        unchanged++;
      } else {
        routeSeen.add(r.dst);
        upserts.push(this.#routeSet(dev, w, 'fix', signal));
      }
    }
    for (const [dst, w] of want.routes) {
      if (!routeSeen.has(dst)) upserts.push(this.#routeSet(dev, w, 'add', signal));
    }

    // Order: FDB/neighbour/route upserts (a
    // node's route after its forwarding entries), then removals (routes
    // first, so nothing routes into a removed neighbour).
    upserts.sort((a, b) => rank(a.entry) - rank(b.entry));
    removals.sort((a, b) => rank(b.entry) - rank(a.entry));

    const added: Entry[] = [];
    const removed: Entry[] = [];
    const fixed: Entry[] = [];
    const failed: Array<{ entry: Entry; op: 'add' | 'fix' | 'remove'; error: NetlinkError }> = [];
    const record = (w: Write): void => {
      if (w.op === 'add') added.push(w.entry);
      else if (w.op === 'fix') fixed.push(w.entry);
      else removed.push(w.entry);
    };
    for (const batch of [upserts, removals]) {
      const fails = await this.#rt.bulk(batch, async (w) => {
        try {
          await w.send();
        } catch (err) {
          if (w.op === 'remove' && isNetlinkError(err, 'ENOENT', 'ESRCH')) return; // gone meanwhile
          throw err;
        }
        record(w);
      });
      for (const f of fails) failed.push({ entry: f.item.entry, op: f.item.op, error: f.error });
    }
    return { added, removed, fixed, unchanged, failed };
  }

  // ---- statistics -----------------------------------------------------------

  /** Counters of the vxlan device and its underlying NIC, FDB/route counts, link state. */
  stats(device: DeviceRef & { readonly underlay: { readonly ifindex: number } }): Promise<DataPlaneStats> {
    return this.#serial(async () => {
      const vxlan = await this.#ifStats(device.ifindex);
      const primary = await this.#ifStats(device.underlay.ifindex);
      const fdbEntries = (await this.#dumpFdb()).filter((m) => m.data.ifindex === device.ifindex).length;
      const routeCount = (await this.#dumpRoutes()).filter((m) => m.attrs.oif === device.ifindex).length;
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

function rank(e: Entry): number {
  return e.kind === 'fdb' ? 0 : e.kind === 'neighbour' ? 1 : 2;
}

/** Opens the data plane in the calling process's network namespace. */
export function openDataPlane(opts: DataPlaneOptions = {}): DataPlane {
  return new DataPlane(opts);
}
