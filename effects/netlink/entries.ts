// The entries the gateway keeps on hybrid_vxlan0, as the kernel shows them
// and as we want them, and which observed entries count as ours.
//
// A hybrid node's pod CIDR routes point at a nexthop object of its own
// (`ip nexthop`, Linux ≥ 5.3) whose id is the node's IPv4 address as a
// number: `<podCIDR> nhid <ip> ` → `nexthop id <ip> via <ip> dev hybrid_vxlan0
// onlink`. Routes that name their gateway themselves all land in one bucket
// of the kernel's fib_info hash (it hashes the device, not the gateway), so
// adding the Nth route costs O(N): 20,000 such routes took 5.3 s, the same
// routes over nexthop objects 0.2 s (measured with ip -batch on this kernel).
//
// Ours (reconcile may remove or rewrite them):
// - nexthops: IPv4, a single gateway on hybrid_vxlan0 (not a group, blackhole
//   or FDB nexthop). A nexthop with a wanted id on another device is not ours:
//   that node is refused rather than the object taken over.
// - routes: every IPv4 route in the gateway's own table (HYBRID_ROUTE_TABLE:
//   the table is reserved for it, so anything else there is swept), and, from
//   earlier versions that wrote to the main table, main-table routes whose
//   output device is hybrid_vxlan0 (or a nexthop of ours), any protocol but
//   "kernel": those are `legacy` and removed. The device is the gateway's own
//   and has no IP address, so every such route was put there by a gateway (or
//   by hand). Routes of the main table on other devices (connected routes
//   above all) are never ours.
// - neighbours: IPv4 on hybrid_vxlan0 in state PERMANENT, except multicast,
//   broadcast, link-local and 0.0.0.0 addresses. Dynamic entries (ARP) are
//   the kernel's and left alone, unless their address is one we want, in
//   which case they are overwritten with our permanent entry.
// - FDB: AF_BRIDGE entries on hybrid_vxlan0 with a unicast, non-zero MAC. The
//   all-zero default/flood entries and multicast MACs are the kernel's.
//   Learning is off on our device, so nothing else adds unicast entries.
import { endianness } from 'node:os';
import type { NetlinkMessage } from 'netlink';
import {
  AF_BRIDGE,
  AF_INET,
  NDA_DST,
  NDA_IFINDEX,
  NDA_LLADDR,
  NDA_PORT,
  NDA_VNI,
  NDMSG_LEN,
  NHA_BLACKHOLE,
  NHA_ENCAP,
  NHA_FDB,
  NHA_GATEWAY,
  NHA_GROUP,
  NHA_ID,
  NHA_OIF,
  NHMSG_LEN,
  NUD_PERMANENT,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_ENCAP,
  RTA_GATEWAY,
  RTA_MULTIPATH,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTA_VIA,
  RTMSG_LEN,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_KERNEL,
} from './uapi.js';

/**
 * The gateway's routing table (VXLAN's port number: far from the small numbers
 * the VPC CNI gives its per-ENI tables). Policy rules `to <POD_CIDR> lookup`
 * it, so only traffic to the hybrid pod network ever sees these routes.
 */
export const HYBRID_ROUTE_TABLE = 8472;
/** Priority of those rules: after the local table (0), before the VPC CNI's 1024/1536 and main (32766). */
export const HYBRID_RULE_PRIORITY = 1000;
/** Protocol of the nexthops and routes we write (unassigned in <linux/rtnetlink.h> and iproute2's rt_protos). */
export const RTPROT_HYBRID_GATEWAY = 110;

/** An entry on the device, as reported in results. */
export type Entry =
  | { readonly kind: 'nexthop'; readonly id: number; readonly via: string }
  | { readonly kind: 'route'; readonly dst: string; readonly via: string }
  | { readonly kind: 'neighbour'; readonly ip: string; readonly mac: string }
  | { readonly kind: 'fdb'; readonly mac: string; readonly dst: string };

/** 48-bit MAC as a number (exact in a double): cheap Map key. */
export function macNumber(b: Buffer, o = 0): number {
  return b[o]! * 0x10000000000 + b[o + 1]! * 0x100000000 + b.readUInt32BE(o + 2);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function macText(n: number): string {
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  return `${HEX[(hi >>> 8) & 255]}:${HEX[hi & 255]}:${HEX[lo >>> 24]}:${HEX[(lo >>> 16) & 255]}:${HEX[(lo >>> 8) & 255]}:${HEX[lo & 255]}`;
}

/** Map key of a route destination: address and prefix length. */
export function routeKey(base: number, len: number): number {
  return base * 64 + len;
}

export interface ObservedRoute {
  readonly key: number;
  readonly base: number;
  readonly dstLen: number;
  readonly gateway: number | undefined;
  /** RTA_NH_ID: the route uses a nexthop object. */
  readonly nhId: number | undefined;
  readonly onlink: boolean;
  readonly priority: number;
  readonly tos: number;
  /** Multipath, encap, a preferred source or non-unicast type: not our shape. */
  readonly odd: boolean;
  readonly table: number;
  /** In the main table (written there by an earlier version): to be removed. */
  readonly legacy: boolean;
}

export interface ObservedNeighbour {
  readonly ip: number;
  readonly mac: number | undefined;
  readonly permanent: boolean;
}

export interface ObservedFdb {
  readonly mac: number;
  readonly dst: number | undefined;
  readonly permanent: boolean;
  /** NDA_PORT / NDA_VNI / NDA_IFINDEX differing from the device's own: needed to delete, and a mismatch. */
  readonly extra: { port?: Buffer; vni?: Buffer; ifindex?: Buffer };
}

// Dumps are parsed here, not with the package's generic parsers: for 5,000
// routes those cost 50-100 ms (every attribute decoded into objects), while
// the dump itself takes about 10 ms. Only the fixed fields and attributes we
// need are read, addresses stay numbers (text only for entries reported).
// Netlink structures are in host byte order, addresses in network order.
const LE = endianness() === 'LE';
const u16 = (b: Buffer, o: number): number => (LE ? b.readUInt16LE(o) : b.readUInt16BE(o));
const u32 = (b: Buffer, o: number): number => (LE ? b.readUInt32LE(o) : b.readUInt32BE(o));
const s32 = (b: Buffer, o: number): number => (LE ? b.readInt32LE(o) : b.readInt32BE(o));

/** Interface of a neighbour/FDB message (cheap, for counting). */
export function neighIfindex(m: NetlinkMessage): number | undefined {
  return m.data.length >= NDMSG_LEN ? s32(m.data, 4) : undefined;
}

export interface ObservedNexthop {
  readonly id: number;
  readonly gateway: number | undefined;
  readonly onlink: boolean;
  readonly protocol: number;
}

/**
 * Nexthops from a raw IPv4 nexthop dump: ours (a single gateway on our
 * device) and the ids every other nexthop holds (never to be written).
 */
export function ourNexthops(msgs: readonly NetlinkMessage[], ifindex: number): { ours: ObservedNexthop[]; foreign: Set<number> } {
  const ours: ObservedNexthop[] = [];
  const foreign = new Set<number>();
  for (const m of msgs) {
    const b = m.data;
    if (b.length < NHMSG_LEN) continue;
    let id: number | undefined;
    let oif = -1;
    let gateway: number | undefined;
    let odd = b[0] !== AF_INET;
    for (let o = NHMSG_LEN; o + 4 <= b.length; ) {
      const len = u16(b, o);
      if (len < 4 || o + len > b.length) break;
      const t = u16(b, o + 2) & 0x3fff;
      if (t === NHA_ID && len >= 8) id = u32(b, o + 4);
      else if (t === NHA_OIF && len >= 8) oif = u32(b, o + 4);
      else if (t === NHA_GATEWAY && len === 8) gateway = b.readUInt32BE(o + 4);
      else if (t === NHA_GROUP || t === NHA_BLACKHOLE || t === NHA_ENCAP || t === NHA_FDB) odd = true;
      o += (len + 3) & ~3;
    }
    if (id === undefined) continue;
    if (odd || oif !== ifindex) foreign.add(id);
    else ours.push({ id, gateway, onlink: (u32(b, 4) & RTNH_F_ONLINK) !== 0, protocol: b[2]! });
  }
  return { ours, foreign };
}

/**
 * Our routes from a raw IPv4 route dump (see the header for the rule): all of
 * `table`, and legacy main-table ones whose output device is ours, or (where
 * the kernel reports only the nexthop id, net.ipv4.nexthop_compat_mode=0)
 * through a nexthop of ours.
 */
export function ourRoutes(
  msgs: readonly NetlinkMessage[],
  ifindex: number,
  ourNexthopIds: ReadonlySet<number> = new Set(),
  table = HYBRID_ROUTE_TABLE,
): ObservedRoute[] {
  const out: ObservedRoute[] = [];
  for (const m of msgs) {
    const b = m.data;
    if (b.length < RTMSG_LEN || b[0] !== AF_INET) continue;
    let oif = -1;
    let rtTable = b[4]!;
    let base = 0;
    let gateway: number | undefined;
    let nhId: number | undefined;
    let priority = 0;
    let odd = b[7] !== RTN_UNICAST;
    for (let o = RTMSG_LEN; o + 4 <= b.length; ) {
      const len = u16(b, o);
      if (len < 4 || o + len > b.length) break;
      const t = u16(b, o + 2) & 0x3fff;
      if (t === RTA_OIF && len >= 8) oif = u32(b, o + 4);
      else if (t === RTA_TABLE && len >= 8) rtTable = u32(b, o + 4);
      else if (t === RTA_DST && len === 8) base = b.readUInt32BE(o + 4);
      else if (t === RTA_GATEWAY && len === 8) gateway = b.readUInt32BE(o + 4);
      else if (t === RTA_PRIORITY && len >= 8) priority = u32(b, o + 4);
      else if (t === RTA_NH_ID && len >= 8) nhId = u32(b, o + 4);
      else if (t === RTA_MULTIPATH || t === RTA_ENCAP || t === RTA_PREFSRC || t === RTA_VIA) odd = true;
      o += (len + 3) & ~3;
    }
    const legacy = rtTable === RT_TABLE_MAIN && rtTable !== table;
    if (rtTable !== table) {
      if (!legacy || b[5] === RTPROT_KERNEL || (oif !== ifindex && (nhId === undefined || !ourNexthopIds.has(nhId)))) continue;
    }
    const dstLen = b[1]!;
    out.push({
      key: routeKey(base, dstLen),
      base,
      dstLen,
      gateway,
      nhId,
      onlink: (u32(b, 8) & RTNH_F_ONLINK) !== 0,
      priority,
      tos: b[3]!,
      odd,
      table: rtTable,
      legacy,
    });
  }
  return out;
}

/** 0.0.0.0, 255.255.255.255, multicast and link-local: never ours. */
function kernelOwnedIPv4(ip: number): boolean {
  const a = ip >>> 24;
  return ip === 0 || ip === 0xffffffff || (a >= 224 && a <= 239) || ip >>> 16 === 0xa9fe;
}

interface RawNeigh {
  permanent: boolean;
  dst: number | undefined;
  mac: number | undefined;
  port: Buffer | undefined;
  vni: Buffer | undefined;
  remoteIfindex: Buffer | undefined;
}

function parseNeigh(m: NetlinkMessage, family: number, ifindex: number): RawNeigh | undefined {
  const b = m.data;
  if (b.length < NDMSG_LEN || b[0] !== family || s32(b, 4) !== ifindex) return undefined;
  const n: RawNeigh = {
    permanent: (u16(b, 8) & NUD_PERMANENT) !== 0,
    dst: undefined,
    mac: undefined,
    port: undefined,
    vni: undefined,
    remoteIfindex: undefined,
  };
  for (let o = NDMSG_LEN; o + 4 <= b.length; ) {
    const len = u16(b, o);
    if (len < 4 || o + len > b.length) break;
    const t = u16(b, o + 2) & 0x3fff;
    if (t === NDA_DST && len === 8) n.dst = b.readUInt32BE(o + 4);
    else if (t === NDA_LLADDR && len === 10) n.mac = macNumber(b, o + 4);
    else if (t === NDA_PORT) n.port = Buffer.from(b.subarray(o + 4, o + len));
    else if (t === NDA_VNI) n.vni = Buffer.from(b.subarray(o + 4, o + len));
    else if (t === NDA_IFINDEX) n.remoteIfindex = Buffer.from(b.subarray(o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return n;
}

export function ourNeighbours(msgs: readonly NetlinkMessage[], ifindex: number): {
  ours: ObservedNeighbour[];
  dynamic: Set<number>;
} {
  const ours: ObservedNeighbour[] = [];
  const dynamic = new Set<number>();
  for (const m of msgs) {
    const r = parseNeigh(m, AF_INET, ifindex);
    if (r?.dst === undefined || kernelOwnedIPv4(r.dst)) continue;
    if (r.permanent) ours.push({ ip: r.dst, mac: r.mac, permanent: true });
    else dynamic.add(r.dst);
  }
  return { ours, dynamic };
}

const MULTICAST_BIT = 0x10000000000; // lowest bit of the first octet

export function ourFdb(msgs: readonly NetlinkMessage[], ifindex: number): ObservedFdb[] {
  const out: ObservedFdb[] = [];
  for (const m of msgs) {
    const r = parseNeigh(m, AF_BRIDGE, ifindex);
    if (r?.mac === undefined || r.mac === 0 || Math.floor(r.mac / MULTICAST_BIT) % 2 === 1) continue;
    const extra: ObservedFdb['extra'] = {};
    if (r.port !== undefined) extra.port = r.port;
    if (r.vni !== undefined) extra.vni = r.vni;
    if (r.remoteIfindex !== undefined) extra.ifindex = r.remoteIfindex;
    out.push({ mac: r.mac, dst: r.dst, permanent: r.permanent, extra });
  }
  return out;
}
