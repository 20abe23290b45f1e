// What the data plane reads from the kernel: raw dumps of IPv4 routes,
// nexthops, IPv4 neighbours and the FDB (parsed by entries.ts, which keeps
// only what it needs), and who holds a nexthop id.
import * as nl from 'netlink';
import type { NetlinkMessage } from 'netlink';
import { ourNexthops } from './entries.js';
import { AF_BRIDGE, AF_INET } from './uapi.js';
import { isNetlinkError, NetlinkError, toNetlinkError } from './errors.js';
import type { NexthopHolder } from './reconcile-plan.js';
import type { Rtnl } from './rtnl.js';
import type { DeviceRef } from './types.js';
import { nexthopMessage, RTM_GETNEXTHOP } from './wire.js';

const RTM_GETROUTE = nl.rt.MessageType.GETROUTE;
const RTM_GETNEIGH = nl.rt.MessageType.GETNEIGH;

export function dumpRoutes(rt: Rtnl): Promise<NetlinkMessage[]> {
  return rt.dump(RTM_GETROUTE, nl.rt.formatRoute({ family: AF_INET }), 'dump IPv4 routes');
}

export async function dumpNexthops(rt: Rtnl): Promise<NetlinkMessage[]> {
  try {
    return await rt.dump(RTM_GETNEXTHOP, nexthopMessage(RTM_GETNEXTHOP, 0, { id: 0, protocol: 0, flags: 0 }).subarray(16, 24), 'dump nexthops');
  } catch (err) {
    if (isNetlinkError(err, 'EOPNOTSUPP', 'EINVAL')) {
      throw new NetlinkError('EOPNOTSUPP', 'dump nexthops', 'this kernel has no nexthop objects: the gateway needs Linux 5.3 or later', { cause: err });
    }
    throw err;
  }
}

export function dumpNeighbours(rt: Rtnl, ifindex: number): Promise<NetlinkMessage[]> {
  const idx = Buffer.alloc(4);
  idx.writeUInt32LE(ifindex);
  const attrs = new nl.AttrStream();
  attrs.emit(nl.rt.formatNeighborAttrs({ ifindex: idx }));
  return rt.dump(RTM_GETNEIGH, nl.rt.formatNeighbor({ family: AF_INET }), 'dump IPv4 neighbours', attrs.bufs);
}

export function dumpFdb(rt: Rtnl): Promise<NetlinkMessage[]> {
  return rt.dump(RTM_GETNEIGH, nl.rt.formatNeighbor({ family: AF_BRIDGE }), 'dump FDB');
}

/** Every nexthop id's holder on `dev`, from one dump. */
export async function nexthopHolders(rt: Rtnl, dev: DeviceRef): Promise<(id: number) => NexthopHolder> {
  const { ours, foreign } = ourNexthops(await dumpNexthops(rt), dev.ifindex);
  const mine = new Set(ours.map((n) => n.id));
  return (id) => (mine.has(id) ? 'ours' : foreign.has(id) ? 'foreign' : 'absent');
}

/** Who holds nexthop `id`: one of ours on the device, another (device, group, …), or nobody. */
export async function nexthopHolder(rt: Rtnl, dev: DeviceRef, id: number, op: string): Promise<NexthopHolder> {
  let msgs: NetlinkMessage[];
  try {
    [msgs] = await rt.sock.socket.request(RTM_GETNEXTHOP, [nexthopMessage(RTM_GETNEXTHOP, 0, { id, protocol: 0, flags: 0 }).subarray(16)], {
      timeout: rt.timeoutMs,
    });
  } catch (err) {
    const e = toNetlinkError(err, `${op}: look up nexthop ${id}`);
    if (e.code === 'ENOENT' || e.code === 'ESRCH') return 'absent';
    throw e;
  }
  const { ours } = ourNexthops(msgs, dev.ifindex);
  return ours.some((n) => n.id === id) ? 'ours' : msgs.length > 0 ? 'foreign' : 'absent';
}
