// hybrid_vxlan0's lifecycle: create it, adopt a correct one (its entries
// stay), fix MTU/MAC/up-state in place, recreate a wrong one; and the
// ip_forward switch of the network namespace.
import { readFile } from 'node:fs/promises';
import type * as nl from 'netlink';
import { bufToIp, bufToMac, checkIPv4, macToBuf, parseVxlanLinkInfo, vxlanLinkInfo } from './codec.js';
import { deviceMacFor } from './device-mac.js';
import { AF_INET } from './uapi.js';
import { badInput, isNetlinkError, NetlinkError } from './errors.js';
import { NLM_F, type Rtnl } from './rtnl.js';
import type { WriteOptions } from './types.js';

export const DEFAULT_DEVICE_NAME = 'hybrid_vxlan0';
export const DEFAULT_VNI = 2;
export const DEFAULT_VXLAN_PORT = 8472;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;
/** A 1500-byte path to the hybrid nodes (VPN, most Direct Connect links) minus the overhead. */
export const DEFAULT_VXLAN_MTU = 1450;

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

export function linkFlagsUp(data: nl.rt.Link): boolean {
  return data.flags?.up === true;
}

/**
 * Creates or adopts the vxlan device. An existing device with the right VNI,
 * port, local address, underlying link and learning off is adopted (its
 * entries stay); MTU, MAC and up-state are fixed in place; any other
 * difference recreates it (its entries go with it: reconcile afterwards).
 * `entriesGone(ifindex)` is told of every device whose entries went with it
 * (deleted, or new).
 */
export async function ensureDevice(rt: Rtnl, opts: EnsureDeviceOptions, entriesGone: (ifindex: number) => void): Promise<DeviceInfo> {
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

  const underlay = await linkHolding(rt, nodeIP, op);
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

  let existing = await linkByName(rt, name, op);
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
      await rt.call(`${op}: delete wrong device (${changes.join(', ')})`, (o) => rt.sock.delLink({ index }, {}, o), 0, signal);
      entriesGone(index);
      existing = undefined;
    } else action = 'adopted';
  }

  if (existing === undefined) {
    await rt.call(
      `${op}: create vxlan vni ${vni} dstport ${port} local ${nodeIP} dev ${underlay.name}`,
      (o) =>
        rt.sock.newLink(
          {},
          { ifname: name, mtu, address: macToBuf(mac), linkinfo: vxlanLinkInfo({ vni, port, local: nodeIP, link: underlay.ifindex }) },
          o,
        ),
      NLM_F.CREATE | NLM_F.EXCL,
      signal,
    );
    existing = await linkByName(rt, name, op);
    if (existing === undefined) throw new NetlinkError('ENODEV', op, `${name} vanished right after its creation`);
    entriesGone(existing.data.index ?? 0);
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
    await rt.call(`${op}: set mtu/mac/up`, (o) => rt.sock.setLink({ index, flags: { up: true }, change: { up: true } }, fix, o), 0, signal);
    if (action === 'adopted') action = 'fixed';
    existing = await linkByName(rt, name, op);
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

async function linkByName(rt: Rtnl, name: string, op: string): Promise<nl.rt.LinkMessage | undefined> {
  try {
    const [link] = await rt.call(`${op}: look up ${name}`, (o) => rt.sock.getLink({}, { ifname: name }, o));
    return link;
  } catch (err) {
    if (isNetlinkError(err, 'ENODEV', 'ENOENT')) return undefined;
    throw err;
  }
}

async function linkHolding(rt: Rtnl, nodeIP: string, op: string): Promise<LinkRef> {
  const addrs = await rt.call(`${op}: list IPv4 addresses`, (o) => rt.sock.getAddresses({ family: AF_INET }, {}, o));
  const hit = addrs.find((a) => bufToIp(a.attrs.local ?? a.attrs.address) === nodeIP);
  if (hit?.data.index === undefined) {
    throw new NetlinkError('EADDRNOTAVAIL', op, `NODE_IP ${nodeIP} is on no link in this network namespace (set NODE_IP to an address of this node)`);
  }
  const ifindex = hit.data.index;
  const [link] = await rt.call(`${op}: read link ${ifindex}`, (o) => rt.sock.getLink({ index: ifindex }, {}, o));
  if (link === undefined) throw new NetlinkError('ENODEV', op, `link ${ifindex} holding ${nodeIP} vanished`);
  return { ifindex, name: link.attrs.ifname ?? String(ifindex), mtu: link.attrs.mtu ?? 1500 };
}

/** Whether IPv4 forwarding is on in the network namespace whose ip_forward file is `path`. */
export async function ipForwardEnabled(path: string): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).trim() === '1';
  } catch (err) {
    throw new NetlinkError('ENOENT', 'read ip_forward', `cannot read ${path}`, { cause: err });
  }
}
