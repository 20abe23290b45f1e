// The VTEP entry writes: a planned write (reconcile-plan.ts) encoded as a raw
// rtnetlink message (wire.ts), with the entry it concerns and a line saying
// what it does, and a batch of them sent at once (Rtnl.batch): many per
// sendmsg, no per-message ACK, a barrier at the end. The kernel handles them
// in the order given. A node's routes go through a nexthop object of its own
// (entries.ts says why).
import type { DeviceRef } from './types.js';
import { intToIPv4 } from '../../machines/domain/ipv4.js';
import { macText, RTPROT_HYBRID_GATEWAY, type Entry } from './entries.js';
import { AF_BRIDGE, AF_INET, NTF_SELF, NUD_PERMANENT, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RTN_UNICAST, RTNH_F_ONLINK } from './uapi.js';
import { isNetlinkError, NetlinkError } from './errors.js';
import type { FdbToDelete, PlannedWrite, RouteToDelete } from './reconcile-plan.js';
import type { RawWrite, Rtnl } from './rtnl.js';
import type { CheckedSpec, WantedRoute } from './wanted.js';
import {
  neighMessage,
  nexthopMessage,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  routeMessage,
  RTM_DELNEIGH,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_NEWNEIGH,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
} from './wire.js';

export type WriteOp = 'add' | 'fix' | 'remove';

/** One encoded write. */
export interface Write {
  readonly entry: Entry;
  readonly op: WriteOp;
  readonly what: string;
  readonly raw: RawWrite;
}

export interface Applied {
  readonly done: Write[];
  readonly failed: Array<{ readonly w: Write; readonly error: NetlinkError }>;
}

/** A MAC (as a number) as its six bytes, for a write. */
function macBytes(mac: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUIntBE(mac, 0, 6);
  return b;
}

function fdbSet(dev: DeviceRef, s: CheckedSpec, op: 'add' | 'fix'): Write {
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

function fdbDel(dev: DeviceRef, f: FdbToDelete): Write {
  const mac = macText(f.mac);
  const dst = f.dst !== undefined ? intToIPv4(f.dst) : '';
  return {
    entry: { kind: 'fdb', mac, dst },
    op: 'remove',
    what: `delete fdb ${mac} dst ${dst || '-'}`,
    raw: neighMessage(RTM_DELNEIGH, 0, {
      family: AF_BRIDGE,
      ifindex: dev.ifindex,
      state: 0,
      flags: NTF_SELF,
      lladdr: macBytes(f.mac),
      dst: f.dst,
      port: f.extra?.port,
      vni: f.extra?.vni,
      remoteIfindex: f.extra?.ifindex,
    }),
  };
}

function neighSet(dev: DeviceRef, s: CheckedSpec, op: 'add' | 'fix'): Write {
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

function neighDel(dev: DeviceRef, ip: number, mac: number | undefined): Write {
  const ipT = intToIPv4(ip);
  return {
    entry: { kind: 'neighbour', ip: ipT, mac: mac !== undefined ? macText(mac) : '' },
    op: 'remove',
    what: `delete neighbour ${ipT}`,
    raw: neighMessage(RTM_DELNEIGH, 0, { family: AF_INET, ifindex: dev.ifindex, state: 0, flags: 0, dst: ip }),
  };
}

function nexthopSet(dev: DeviceRef, s: CheckedSpec, op: 'add' | 'fix'): Write {
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

function nexthopDel(id: number, gateway: number | undefined): Write {
  return {
    entry: { kind: 'nexthop', id, via: gateway !== undefined ? intToIPv4(gateway) : '' },
    op: 'remove',
    what: `delete nexthop id ${id}`,
    raw: nexthopMessage(RTM_DELNEXTHOP, 0, { id, protocol: 0, flags: 0 }),
  };
}

function routeSet(r: WantedRoute, op: 'add' | 'fix', table: number): Write {
  return {
    entry: { kind: 'route', dst: r.dst, via: r.via },
    op,
    what: `replace route ${r.dst} nhid ${r.nhId} (via ${r.via})`,
    raw: routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, {
      dst: r.base,
      dstLen: r.prefix,
      nhId: r.nhId,
      table,
      protocol: RTPROT_HYBRID_GATEWAY,
      scope: RT_SCOPE_UNIVERSE,
      type: RTN_UNICAST,
      flags: 0,
    }),
  };
}

/** Deletes one route: the one through nexthop `nhId`, or (older, gateway-style routes) via `gateway` on the device. */
function routeDel(dev: DeviceRef, r: RouteToDelete, table: number): Write {
  const dst = `${intToIPv4(r.base)}/${r.dstLen}`;
  const via = r.gateway !== undefined ? intToIPv4(r.gateway) : '';
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
      table: r.table ?? table,
      protocol: 0,
      scope: RT_SCOPE_NOWHERE,
      type: 0,
      flags: 0,
    }),
  };
}

/** A planned write as the message that carries it out on `dev`; routes go to `table` unless they name their own. */
export function encodeWrite(dev: DeviceRef, p: PlannedWrite, table: number): Write {
  switch (p.kind) {
    case 'fdb-set':
      return fdbSet(dev, p.spec, p.op);
    case 'neigh-set':
      return neighSet(dev, p.spec, p.op);
    case 'nexthop-set':
      return nexthopSet(dev, p.spec, p.op);
    case 'route-set':
      return routeSet(p.route, p.op, table);
    case 'route-del':
      return routeDel(dev, p.route, table);
    case 'nexthop-del':
      return nexthopDel(p.id, p.gateway);
    case 'neigh-del':
      return neighDel(dev, p.ip, p.mac);
    case 'fdb-del':
      return fdbDel(dev, p.fdb);
  }
}

/**
 * Sends writes as one batch, in order. A removal of an entry that is
 * already gone is not an error. Returns what was done and what failed.
 */
export async function applyWrites(rt: Rtnl, dev: DeviceRef, writes: readonly Write[], op: string, signal: AbortSignal | undefined): Promise<Applied> {
  const results = await rt.batch(
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
