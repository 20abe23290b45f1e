// Counters for the metrics: the vxlan device's and its NIC's link statistics,
// the FDB entries on the device and the routes through it.
import { linkFlagsUp } from './device.js';
import { dumpFdb, dumpNexthops, dumpRoutes } from './dumps.js';
import { neighIfindex, ourNexthops, ourRoutes } from './entries.js';
import { NetlinkError } from './errors.js';
import type { Rtnl } from './rtnl.js';
import type { DeviceRef } from './types.js';

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

/** Counters of the vxlan device and its underlying NIC, FDB/route counts (routes of `table`), link state. */
export async function readStats(rt: Rtnl, device: DeviceRef & { readonly underlay: { readonly ifindex: number } }, table: number): Promise<DataPlaneStats> {
  const vxlan = await ifStats(rt, device.ifindex);
  const primary = await ifStats(rt, device.underlay.ifindex);
  const fdbEntries = (await dumpFdb(rt)).filter((m) => neighIfindex(m) === device.ifindex).length;
  const ourIds = new Set(ourNexthops(await dumpNexthops(rt), device.ifindex).ours.map((n) => n.id));
  const routeCount = ourRoutes(await dumpRoutes(rt), device.ifindex, ourIds, table).filter((r) => {
    return !r.legacy && (r.nhId === undefined || ourIds.has(r.nhId));
  }).length;
  return { vxlan, primary, fdbEntries, routeCount, vxlanUp: vxlan.up };
}

async function ifStats(rt: Rtnl, ifindex: number): Promise<IfStats> {
  const [link] = await rt.call(`read stats of link ${ifindex}`, (o) => rt.sock.getLink({ index: ifindex }, {}, o));
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
