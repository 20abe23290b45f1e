// Encoders for the handful of rtnetlink messages the data plane writes in
// bulk (nexthop, route and neighbour/FDB add/delete), each into one Buffer.
//
// Written by hand on purpose: the package's formatters (AttrStream, one small
// Buffer per field) made building 15,000 messages cost ~125 ms plus as much
// again in garbage collection, more than the kernel needs to apply them. The
// output is byte-for-byte what the package's formatters produce (checked in
// test/netns/wire.test.ts; the package has no nexthop formatter, so nexthop
// messages are checked against what the kernel accepts and dumps back).
// Layouts: <linux/netlink.h> nlmsghdr, <linux/rtnetlink.h> rtmsg/rtattr,
// <linux/neighbour.h> ndmsg/nda, <linux/nexthop.h> nhmsg/nha.
import { endianness } from 'node:os';
import {
  NDA_DST,
  NDA_IFINDEX,
  NDA_LLADDR,
  NDA_PORT,
  NDA_VNI,
  NDMSG_LEN,
  NHA_GATEWAY,
  NHA_ID,
  NHA_OIF,
  NHMSG_LEN,
  NLMSG_HDRLEN,
  RT_TABLE_COMPAT,
  RTA_DST,
  RTA_GATEWAY,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PRIORITY,
  RTA_TABLE,
  RTMSG_LEN,
} from './uapi.js';

const LE = endianness() === 'LE';

export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_NEWNEXTHOP = 104;
export const RTM_DELNEXTHOP = 105;
export const RTM_GETNEXTHOP = 106;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;

function w16(b: Buffer, v: number, o: number): void {
  if (LE) b.writeUInt16LE(v, o);
  else b.writeUInt16BE(v, o);
}
function w32(b: Buffer, v: number, o: number): void {
  if (LE) b.writeUInt32LE(v >>> 0, o);
  else b.writeUInt32BE(v >>> 0, o);
}

function header(b: Buffer, type: number, flags: number): void {
  w32(b, b.length, 0);
  w16(b, type, 4);
  w16(b, flags, 6);
  w32(b, 0, 8); // seq: set when sent
  w32(b, 0, 12); // port: set when sent
}

/** Writes an attribute at `o`; returns the next aligned offset. */
function attr(b: Buffer, o: number, type: number, write: (at: number) => number): number {
  const len = 4 + write(o + 4);
  w16(b, len, o);
  w16(b, type, o + 2);
  return o + ((len + 3) & ~3);
}

export interface RouteFields {
  readonly dst: number;
  readonly dstLen: number;
  /** Output device, or a nexthop object (`nhId`) instead of device and gateway. */
  readonly oif?: number | undefined;
  readonly nhId?: number | undefined;
  readonly gateway?: number | undefined;
  readonly priority?: number | undefined;
  readonly tos?: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
}

/** RTM_NEWROUTE / RTM_DELROUTE for an IPv4 route: rtmsg + RTA_DST, RTA_GATEWAY?, RTA_OIF?, RTA_PRIORITY?, RTA_NH_ID?, RTA_TABLE (tables above 255). */
export function routeMessage(msgType: number, nlFlags: number, r: RouteFields): Buffer {
  const wideTable = r.table > 255;
  const size =
    NLMSG_HDRLEN +
    RTMSG_LEN +
    8 +
    (r.gateway !== undefined ? 8 : 0) +
    (r.oif !== undefined ? 8 : 0) +
    (r.priority !== undefined ? 8 : 0) +
    (r.nhId !== undefined ? 8 : 0) +
    (wideTable ? 8 : 0);
  const b = Buffer.allocUnsafe(size).fill(0); // pooled: far cheaper than alloc for small buffers
  header(b, msgType, nlFlags);
  let o = NLMSG_HDRLEN;
  b[o] = 2; // AF_INET
  b[o + 1] = r.dstLen;
  b[o + 3] = r.tos ?? 0;
  b[o + 4] = wideTable ? RT_TABLE_COMPAT : r.table;
  b[o + 5] = r.protocol;
  b[o + 6] = r.scope;
  b[o + 7] = r.type;
  w32(b, r.flags, o + 8);
  o += RTMSG_LEN;
  o = attr(b, o, RTA_DST, (at) => b.writeUInt32BE(r.dst >>> 0, at) - at);
  if (r.gateway !== undefined) {
    const gw = r.gateway;
    o = attr(b, o, RTA_GATEWAY, (at) => b.writeUInt32BE(gw >>> 0, at) - at);
  }
  if (r.oif !== undefined) {
    const oif = r.oif;
    o = attr(b, o, RTA_OIF, (at) => {
      w32(b, oif, at);
      return 4;
    });
  }
  if (r.priority !== undefined) {
    const pr = r.priority;
    o = attr(b, o, RTA_PRIORITY, (at) => {
      w32(b, pr, at);
      return 4;
    });
  }
  if (r.nhId !== undefined) {
    const id = r.nhId;
    o = attr(b, o, RTA_NH_ID, (at) => {
      w32(b, id, at);
      return 4;
    });
  }
  if (wideTable) {
    attr(b, o, RTA_TABLE, (at) => {
      w32(b, r.table, at);
      return 4;
    });
  }
  return b;
}

export interface NexthopFields {
  readonly id: number;
  /** For a new nexthop: the device and the gateway on it. */
  readonly oif?: number | undefined;
  readonly gateway?: number | undefined;
  readonly protocol: number;
  /** nh_flags, e.g. RTNH_F_ONLINK. */
  readonly flags: number;
}

/** RTM_NEWNEXTHOP / RTM_DELNEXTHOP / RTM_GETNEXTHOP for an IPv4 nexthop: nhmsg + NHA_ID, NHA_OIF?, NHA_GATEWAY?. */
export function nexthopMessage(msgType: number, nlFlags: number, n: NexthopFields): Buffer {
  const size = NLMSG_HDRLEN + NHMSG_LEN + 8 + (n.oif !== undefined ? 8 : 0) + (n.gateway !== undefined ? 8 : 0);
  const b = Buffer.allocUnsafe(size).fill(0);
  header(b, msgType, nlFlags);
  let o = NLMSG_HDRLEN;
  b[o] = 2; // AF_INET
  b[o + 2] = n.protocol;
  w32(b, n.flags, o + 4);
  o += NHMSG_LEN;
  o = attr(b, o, NHA_ID, (at) => {
    w32(b, n.id, at);
    return 4;
  });
  if (n.oif !== undefined) {
    const oif = n.oif;
    o = attr(b, o, NHA_OIF, (at) => {
      w32(b, oif, at);
      return 4;
    });
  }
  if (n.gateway !== undefined) {
    const gw = n.gateway;
    attr(b, o, NHA_GATEWAY, (at) => b.writeUInt32BE(gw >>> 0, at) - at);
  }
  return b;
}

export interface NeighFields {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly flags: number;
  readonly dst?: number | undefined;
  readonly lladdr?: Buffer | undefined;
  /** Raw NDA_PORT / NDA_VNI / NDA_IFINDEX payloads, as dumped (FDB deletes). */
  readonly port?: Buffer | undefined;
  readonly vni?: Buffer | undefined;
  readonly remoteIfindex?: Buffer | undefined;
}

const aligned = (n: number): number => (4 + n + 3) & ~3;

/** RTM_NEWNEIGH / RTM_DELNEIGH: ndmsg + NDA_DST?, NDA_LLADDR?, NDA_PORT?, NDA_VNI?, NDA_IFINDEX?. */
export function neighMessage(msgType: number, nlFlags: number, n: NeighFields): Buffer {
  const extras: Array<[number, Buffer]> = [];
  if (n.port !== undefined) extras.push([NDA_PORT, n.port]);
  if (n.vni !== undefined) extras.push([NDA_VNI, n.vni]);
  if (n.remoteIfindex !== undefined) extras.push([NDA_IFINDEX, n.remoteIfindex]);
  let size = NLMSG_HDRLEN + NDMSG_LEN + (n.dst !== undefined ? 8 : 0) + (n.lladdr !== undefined ? aligned(n.lladdr.length) : 0);
  for (const [, v] of extras) size += aligned(v.length);
  const b = Buffer.allocUnsafe(size).fill(0); // pooled: far cheaper than alloc for small buffers
  header(b, msgType, nlFlags);
  let o = NLMSG_HDRLEN;
  b[o] = n.family;
  w32(b, n.ifindex, o + 4);
  w16(b, n.state, o + 8);
  b[o + 10] = n.flags;
  o += NDMSG_LEN;
  if (n.dst !== undefined) {
    const dst = n.dst;
    o = attr(b, o, NDA_DST, (at) => b.writeUInt32BE(dst >>> 0, at) - at);
  }
  if (n.lladdr !== undefined) {
    const ll = n.lladdr;
    o = attr(b, o, NDA_LLADDR, (at) => ll.copy(b, at));
  }
  for (const [type, v] of extras) o = attr(b, o, type, (at) => v.copy(b, at));
  return b;
}
