// Wire forms of the values the data plane handles: IPv4 addresses (4 bytes),
// MACs (6 bytes), ports (big-endian u16), and the IFLA_LINKINFO nest of a
// vxlan device, which the `netlink` package leaves as raw bytes.
import * as nl from 'netlink';
import ipaddr from 'ipaddr.js';
import { ipv4Value, parseCidr } from '../../machines/domain/ipv4.js';
import { badInput } from './errors.js';

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

// Addresses as numbers: machines/domain/ipv4.ts (ipv4Value, intToIPv4), a
// hand-written parser rather than ipaddr.js on this path: it validates 5,000
// nodes' addresses per reconcile, and ipaddr.js's general parser took ~60 ms
// of that.

export function ipToBuf(ip: string): Buffer {
  return Buffer.from(ipaddr.IPv4.parse(ip).octets);
}

export function bufToIp(buf: Buffer | undefined): string | undefined {
  if (buf?.length !== 4) return undefined;
  return `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`;
}

export function macToBuf(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function bufToMac(buf: Buffer | undefined): string | undefined {
  if (buf?.length !== 6) return undefined;
  return [...buf].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function checkIPv4(op: string, what: string, ip: unknown): string {
  if (typeof ip !== 'string' || ipv4Value(ip) < 0) {
    throw badInput(op, `${what} ${JSON.stringify(ip)} is not an IPv4 address`);
  }
  return ip;
}

export function checkMac(op: string, what: string, mac: unknown): string {
  if (typeof mac !== 'string' || !MAC_RE.test(mac)) throw badInput(op, `${what} ${JSON.stringify(mac)} is not a MAC address`);
  const m = mac.toLowerCase();
  if ((parseInt(m.slice(0, 2), 16) & 1) === 1) throw badInput(op, `${what} ${m} is a multicast MAC`);
  if (m === '00:00:00:00:00:00') throw badInput(op, `${what} is the all-zero MAC`);
  return m;
}

export interface CheckedCidr {
  readonly text: string;
  readonly base: number;
  readonly prefix: number;
}

/** A canonical IPv4 CIDR, or BAD_INPUT (with the message of machines/domain's parser). */
export function checkCidr(op: string, what: string, cidr: unknown): CheckedCidr {
  if (typeof cidr === 'string') {
    const slash = cidr.indexOf('/');
    const base = slash > 0 ? ipv4Value(cidr.slice(0, slash)) : -1;
    const p = cidr.slice(slash + 1);
    const prefix = slash > 0 && /^(3[0-2]|[12]?\d)$/.test(p) ? Number(p) : -1;
    if (base >= 0 && prefix >= 0) {
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      if ((base & mask) >>> 0 === base) return { text: cidr, base, prefix };
    }
  }
  const parsed = typeof cidr === 'string' ? parseCidr(cidr) : undefined;
  if (parsed === undefined || !parsed.ok) {
    throw badInput(op, `${what} ${JSON.stringify(cidr)}: ${parsed && !parsed.ok ? parsed.error : 'not a string'}`);
  }
  throw badInput(op, `${what} "${String(cidr)}" is not canonical (want ${parsed.value.text})`);
}

function streamToBuf(data: nl.StreamData): Buffer {
  const out = new nl.AttrStream();
  out.emit(data);
  return Buffer.concat(out.bufs);
}

export interface VxlanParams {
  readonly vni: number;
  readonly port: number;
  readonly local: string;
  readonly link: number;
}

/** IFLA_LINKINFO for a vxlan device: our parameters, learning off. */
export function vxlanLinkInfo(p: VxlanParams): Buffer {
  const data = streamToBuf(
    nl.ifla.formatVxlan({
      id: p.vni,
      port: nl.putU16be(p.port),
      local: ipToBuf(p.local),
      link: p.link,
      learning: 0,
    }),
  );
  return streamToBuf(nl.ifla.formatInfo({ kind: 'vxlan', data }));
}

export interface ObservedVxlan {
  readonly kind: string | undefined;
  readonly vni?: number;
  readonly port?: number;
  readonly local?: string;
  readonly link?: number;
  readonly learning?: boolean;
  /** A default remote/group (would add an all-zero FDB entry). */
  readonly group?: string;
  /** collect_metadata ("external") mode. */
  readonly external?: boolean;
}

export function parseVxlanLinkInfo(linkinfo: Buffer | undefined): ObservedVxlan {
  if (linkinfo === undefined) return { kind: undefined };
  const info = nl.ifla.parseInfo(linkinfo);
  if (info.kind !== 'vxlan' || info.data === undefined) return { kind: info.kind };
  const v = nl.ifla.parseVxlan(info.data);
  const group = bufToIp(v.group);
  return {
    kind: 'vxlan',
    ...(v.id !== undefined ? { vni: v.id } : {}),
    ...(v.port?.length === 2 ? { port: v.port.readUInt16BE(0) } : {}),
    ...(bufToIp(v.local) !== undefined ? { local: bufToIp(v.local) } : {}),
    ...(v.link !== undefined ? { link: v.link } : {}),
    ...(v.learning !== undefined ? { learning: v.learning !== 0 } : {}),
    ...(group !== undefined && group !== '0.0.0.0' ? { group } : {}),
    ...(v.collectMetadata !== undefined ? { external: v.collectMetadata !== 0 } : {}),
  };
}
