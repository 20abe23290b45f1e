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
import * as nl from 'netlink';
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

function enumValue(table: Record<string, string | number>, v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = table[v];
    return typeof n === 'number' ? n : undefined;
  }
  return undefined;
}

/** Our routes from an IPv4 route dump (see the header for the rule). */
export function ourRoutes(msgs: readonly nl.rt.RouteMessage[], ifindex: number): ObservedRoute[] {
  const out: ObservedRoute[] = [];
  for (const m of msgs) {
    const { data, attrs } = m;
    if (data.family !== AF_INET || attrs.oif !== ifindex) continue;
    if ((attrs.table ?? data.table) !== RT_TABLE_MAIN) continue;
    const proto = enumValue(nl.rt.RouteProtocol, data.protocol) ?? 0;
    if (proto === RTPROT_KERNEL) continue;
    const type = enumValue(nl.rt.RouteType, data.type);
    const dstLen = data.dstLen ?? 0;
    const dstBuf = attrs.dst ?? Buffer.alloc(4);
    const dstIp = bufToIp(dstBuf);
    if (dstIp === undefined) continue;
    const flags = data.flags ? nl.rt.formatRouteFlags(data.flags) : 0;
    out.push({
      dst: `${dstIp}/${dstLen}`,
      dstBuf,
      dstLen,
      gateway: bufToIp(attrs.gateway),
      onlink: (flags & RTNH_F_ONLINK) !== 0,
      priority: attrs.priority ?? 0,
      tos: data.tos ?? 0,
      odd:
        type !== RTN_UNICAST ||
        attrs.multipath !== undefined ||
        attrs.encap !== undefined ||
        attrs.prefsrc !== undefined ||
        attrs.via !== undefined,
    });
  }
  return out;
}

function kernelOwnedIPv4(ip: string): boolean {
  const a = Number(ip.split('.')[0]);
  return ip === '0.0.0.0' || ip === '255.255.255.255' || (a >= 224 && a <= 239) || ip.startsWith('169.254.');
}

export function ourNeighbours(msgs: readonly nl.rt.NeighborMessage[], ifindex: number): {
  ours: ObservedNeighbour[];
  dynamic: Map<string, ObservedNeighbour>;
} {
  const ours: ObservedNeighbour[] = [];
  const dynamic = new Map<string, ObservedNeighbour>();
  for (const m of msgs) {
    if (m.data.family !== AF_INET || m.data.ifindex !== ifindex) continue;
    const ip = bufToIp(m.attrs.dst);
    if (ip === undefined || kernelOwnedIPv4(ip)) continue;
    const n = { ip, mac: bufToMac(m.attrs.lladdr), permanent: m.data.state?.permanent === true };
    if (n.permanent) ours.push(n);
    else dynamic.set(ip, n);
  }
  return { ours, dynamic };
}

export function ourFdb(msgs: readonly nl.rt.NeighborMessage[], ifindex: number): ObservedFdb[] {
  const out: ObservedFdb[] = [];
  for (const m of msgs) {
    if (m.data.family !== AF_BRIDGE || m.data.ifindex !== ifindex) continue;
    const mac = bufToMac(m.attrs.lladdr);
    if (mac === undefined || mac === '00:00:00:00:00:00' || (parseInt(mac.slice(0, 2), 16) & 1) === 1) continue;
    const extra: ObservedFdb['extra'] = {};
    if (m.attrs.port !== undefined) extra.port = m.attrs.port;
    if (m.attrs.vni !== undefined) extra.vni = m.attrs.vni;
    if (m.attrs.ifindex !== undefined) extra.ifindex = m.attrs.ifindex;
    out.push({ mac, dst: bufToIp(m.attrs.dst), permanent: m.data.state?.permanent === true, extra });
  }
  return out;
}

export function fdbKey(mac: string, dst: string | undefined): string {
  return `${mac}>${dst ?? ''}`;
}
