// The three kinds of entries the gateway keeps on hybrid_vxlan0, as the kernel
// shows them and as we want them, and which observed entries count as ours.
//
// Ours (reconcile may remove or rewrite them):
// - routes: IPv4, main table, output device = hybrid_vxlan0, any protocol but
//   "kernel", type unicast. The device is the gateway's own and has no IP
//   address, so every such route was put there by a gateway (or by hand).
// - neighbours: IPv4 on hybrid_vxlan0 in state PERMANENT, except multicast,
//   broadcast, link-local and 0.0.0.0 addresses. Dynamic entries (ARP) are
//   the kernel's and left alone, unless their address is one we want, in
//   which case they are overwritten with our permanent entry.
// - FDB: AF_BRIDGE entries on hybrid_vxlan0 with a unicast, non-zero MAC. The
//   all-zero default/flood entries and multicast MACs are the kernel's.
//   Learning is off on our device, so nothing else adds unicast entries.
import { endianness } from 'node:os';
import type { NetlinkMessage } from 'netlink';
import { bufToIp, bufToMac } from './codec.js';

export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const RT_TABLE_MAIN = 254;
export const RTPROT_KERNEL = 2;
/** Protocol we install routes with ("static", as an administrator would). */
export const RTPROT_STATIC = 4;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 4;

/** An entry on the device, as reported in results. */
export type Entry =
  | { readonly kind: 'route'; readonly dst: string; readonly via: string }
  | { readonly kind: 'neighbour'; readonly ip: string; readonly mac: string }
  | { readonly kind: 'fdb'; readonly mac: string; readonly dst: string };

export interface ObservedRoute {
  readonly dst: string;
  readonly dstBuf: Buffer;
  readonly dstLen: number;
  readonly gateway: string | undefined;
  readonly onlink: boolean;
  readonly priority: number;
  readonly tos: number;
  /** Multipath, encap, a preferred source or non-unicast type: not our shape. */
  readonly odd: boolean;
}

export interface ObservedNeighbour {
  readonly ip: string;
  readonly mac: string | undefined;
  readonly permanent: boolean;
}

export interface ObservedFdb {
  readonly mac: string;
  readonly dst: string | undefined;
  readonly permanent: boolean;
  /** NDA_PORT / NDA_VNI / NDA_IFINDEX differing from the device's own: needed to delete, and a mismatch. */
  readonly extra: { port?: Buffer; vni?: Buffer; ifindex?: Buffer };
}

// Dumps are parsed here, not with the package's generic parsers: for 5,000
// routes those cost 50-100 ms (every attribute decoded into objects), while
// the dump itself takes about 10 ms; reading the few fixed fields and
// attributes we need keeps an idempotent re-apply well under 100 ms.
// Netlink structures are in host byte order.
const LE = endianness() === 'LE';
const u16 = (b: Buffer, o: number): number => (LE ? b.readUInt16LE(o) : b.readUInt16BE(o));
const u32 = (b: Buffer, o: number): number => (LE ? b.readUInt32LE(o) : b.readUInt32BE(o));
const s32 = (b: Buffer, o: number): number => (LE ? b.readInt32LE(o) : b.readInt32BE(o));

/** Calls fn(type, start, length) for each attribute of buf from offset `from`. */
function eachAttr(b: Buffer, from: number, fn: (type: number, start: number, len: number) => void): void {
  let off = from;
  while (off + 4 <= b.length) {
    const len = u16(b, off);
    if (len < 4 || off + len > b.length) break;
    fn(u16(b, off + 2) & 0x3fff, off + 4, len - 4);
    off += (len + 3) & ~3;
  }
}

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTA_VIA = 18;
const RTA_ENCAP = 22;
const RTM_LEN = 12;

const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_PORT = 6;
const NDA_VNI = 7;
const NDA_IFINDEX = 8;
const NDM_LEN = 12;
const NUD_PERMANENT = 0x80;

/** Output device of a route message (cheap, for counting). */
export function routeOif(m: NetlinkMessage): number | undefined {
  let oif: number | undefined;
  if (m.data.length < RTM_LEN) return undefined;
  eachAttr(m.data, RTM_LEN, (t, st) => {
    if (t === RTA_OIF) oif = u32(m.data, st);
  });
  return oif;
}

/** Interface of a neighbour/FDB message (cheap, for counting). */
export function neighIfindex(m: NetlinkMessage): number | undefined {
  return m.data.length >= NDM_LEN ? s32(m.data, 4) : undefined;
}

/** Our routes from a raw IPv4 route dump (see the header for the rule). */
export function ourRoutes(msgs: readonly NetlinkMessage[], ifindex: number): ObservedRoute[] {
  const out: ObservedRoute[] = [];
  for (const m of msgs) {
    const b = m.data;
    if (b.length < RTM_LEN || b[0] !== AF_INET) continue;
    let oif = -1;
    let table = b[4]!;
    let dst: Buffer | undefined;
    let gateway: Buffer | undefined;
    let priority = 0;
    let odd = false;
    eachAttr(b, RTM_LEN, (t, st, len) => {
      if (t === RTA_OIF && len >= 4) oif = u32(b, st);
      else if (t === RTA_TABLE && len >= 4) table = u32(b, st);
      else if (t === RTA_DST) dst = b.subarray(st, st + len);
      else if (t === RTA_GATEWAY) gateway = b.subarray(st, st + len);
      else if (t === RTA_PRIORITY && len >= 4) priority = u32(b, st);
      else if (t === RTA_MULTIPATH || t === RTA_ENCAP || t === RTA_PREFSRC || t === RTA_VIA) odd = true;
    });
    if (oif !== ifindex || table !== RT_TABLE_MAIN || b[5] === RTPROT_KERNEL) continue;
    const dstLen = b[1]!;
    const dstBuf = Buffer.from(dst ?? Buffer.alloc(4));
    const dstIp = bufToIp(dstBuf);
    if (dstIp === undefined) continue;
    out.push({
      dst: `${dstIp}/${dstLen}`,
      dstBuf,
      dstLen,
      gateway: bufToIp(gateway),
      onlink: (u32(b, 8) & RTNH_F_ONLINK) !== 0,
      priority,
      tos: b[3]!,
      odd: odd || b[7] !== RTN_UNICAST,
    });
  }
  return out;
}

function kernelOwnedIPv4(ip: string): boolean {
  const a = Number(ip.split('.')[0]);
  return ip === '0.0.0.0' || ip === '255.255.255.255' || (a >= 224 && a <= 239) || ip.startsWith('169.254.');
}

interface RawNeigh {
  family: number;
  ifindex: number;
  permanent: boolean;
  dst: Buffer | undefined;
  lladdr: Buffer | undefined;
  port: Buffer | undefined;
  vni: Buffer | undefined;
  remoteIfindex: Buffer | undefined;
}

function parseNeigh(m: NetlinkMessage, family: number, ifindex: number): RawNeigh | undefined {
  const b = m.data;
  if (b.length < NDM_LEN || b[0] !== family || s32(b, 4) !== ifindex) return undefined;
  const n: RawNeigh = {
    family,
    ifindex,
    permanent: (u16(b, 8) & NUD_PERMANENT) !== 0,
    dst: undefined,
    lladdr: undefined,
    port: undefined,
    vni: undefined,
    remoteIfindex: undefined,
  };
  eachAttr(b, NDM_LEN, (t, st, len) => {
    const v = Buffer.from(b.subarray(st, st + len));
    if (t === NDA_DST) n.dst = v;
    else if (t === NDA_LLADDR) n.lladdr = v;
    else if (t === NDA_PORT) n.port = v;
    else if (t === NDA_VNI) n.vni = v;
    else if (t === NDA_IFINDEX) n.remoteIfindex = v;
  });
  return n;
}

export function ourNeighbours(msgs: readonly NetlinkMessage[], ifindex: number): {
  ours: ObservedNeighbour[];
  dynamic: Map<string, ObservedNeighbour>;
} {
  const ours: ObservedNeighbour[] = [];
  const dynamic = new Map<string, ObservedNeighbour>();
  for (const m of msgs) {
    const r = parseNeigh(m, AF_INET, ifindex);
    if (r === undefined) continue;
    const ip = bufToIp(r.dst);
    if (ip === undefined || kernelOwnedIPv4(ip)) continue;
    const n = { ip, mac: bufToMac(r.lladdr), permanent: r.permanent };
    if (n.permanent) ours.push(n);
    else dynamic.set(ip, n);
  }
  return { ours, dynamic };
}

export function ourFdb(msgs: readonly NetlinkMessage[], ifindex: number): ObservedFdb[] {
  const out: ObservedFdb[] = [];
  for (const m of msgs) {
    const r = parseNeigh(m, AF_BRIDGE, ifindex);
    if (r === undefined) continue;
    const mac = bufToMac(r.lladdr);
    if (mac === undefined || mac === '00:00:00:00:00:00' || (parseInt(mac.slice(0, 2), 16) & 1) === 1) continue;
    const extra: ObservedFdb['extra'] = {};
    if (r.port !== undefined) extra.port = r.port;
    if (r.vni !== undefined) extra.vni = r.vni;
    if (r.remoteIfindex !== undefined) extra.ifindex = r.remoteIfindex;
    out.push({ mac, dst: bufToIp(r.dst), permanent: r.permanent, extra });
  }
  return out;
}

export function fdbKey(mac: string, dst: string | undefined): string {
  return `${mac}>${dst ?? ''}`;
}
