// What the data plane must hold, from the caller's VtepSpecs: validated once
// per spec object (specs are readonly values, so a re-apply of the same
// desired set does not validate 20,000 specs again), with the numbers the
// writes need precomputed, and indexed by what the kernel keys entries on.
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { breather } from '../breathe.js';
import { ipv4Value } from '../../machines/domain/ipv4.js';
import { checkCidr, checkIPv4, checkMac, macToBuf } from './codec.js';
import { macNumber, routeKey } from './entries.js';
import { badInput } from './errors.js';

/** A VtepSpec after validation, with the wire forms precomputed. */
export interface CheckedSpec {
  readonly name: string;
  readonly nodeIP: string;
  readonly ip: number;
  /** Its nexthop object's id: the node IP as a number (0.0.0.0 is refused: 0 is no id). */
  readonly nhId: number;
  readonly mac: string;
  readonly macNum: number;
  readonly routes: readonly WantedRoute[];
  /** The podCIDRs array validated (identity), to detect a mutated spec. */
  readonly source: readonly string[];
  readonly sourceLength: number;
}

export interface WantedRoute {
  readonly key: number;
  readonly dst: string;
  readonly base: number;
  readonly prefix: number;
  readonly via: string;
  readonly viaIp: number;
  readonly nhId: number;
}

export interface Wanted {
  readonly nexthops: Map<number, CheckedSpec>; // nexthop id → spec
  readonly routes: Map<number, WantedRoute>; // routeKey → route
  readonly neighbours: Map<number, CheckedSpec>; // node IP → spec
  readonly fdb: Map<number, CheckedSpec>; // MAC → spec
}

const checked = new WeakMap<object, CheckedSpec>();

export function checkSpec(op: string, spec: VtepSpec): CheckedSpec {
  if (typeof spec !== 'object' || spec === null) throw badInput(op, 'VtepSpec expected');
  const hit = checked.get(spec);
  if (
    hit !== undefined &&
    hit.nodeIP === spec.nodeIP &&
    hit.mac === spec.mac &&
    hit.source === spec.podCIDRs &&
    hit.sourceLength === spec.podCIDRs.length &&
    hit.routes.every((r, i) => r.dst === spec.podCIDRs[i])
  ) {
    return hit;
  }
  const nodeIP = checkIPv4(op, `node ${spec.name} nodeIP`, spec.nodeIP);
  const mac = checkMac(op, `node ${spec.name} mac`, spec.mac);
  if (!Array.isArray(spec.podCIDRs)) throw badInput(op, `node ${spec.name}: podCIDRs must be an array`);
  const ip = ipv4Value(nodeIP);
  if (ip === 0) throw badInput(op, `node ${spec.name}: nodeIP 0.0.0.0 is not a tunnel endpoint`);
  const routes = spec.podCIDRs.map((c): WantedRoute => {
    const cidr = checkCidr(op, `node ${spec.name} pod CIDR`, c);
    return { key: routeKey(cidr.base, cidr.prefix), dst: cidr.text, base: cidr.base, prefix: cidr.prefix, via: nodeIP, viaIp: ip, nhId: ip };
  });
  // The MAC is kept as a number (exact in a double); writes encode its bytes when they are made.
  const macNum = macNumber(macToBuf(mac));
  const result: CheckedSpec = {
    name: String(spec.name),
    nodeIP,
    ip,
    nhId: ip,
    mac,
    macNum,
    routes,
    source: spec.podCIDRs,
    sourceLength: spec.podCIDRs.length,
  };
  checked.set(spec, result);
  return result;
}

/** The desired set indexed by kernel key; refuses a set that wants one key two ways. */
export async function wantedOf(op: string, specs: Iterable<VtepSpec>): Promise<Wanted> {
  const b = breather();
  const w: Wanted = { nexthops: new Map(), routes: new Map(), neighbours: new Map(), fdb: new Map() };
  const routeOwner = new Map<number, string>();
  for (const raw of specs) {
    const s = checkSpec(op, raw);
    const prev = w.neighbours.get(s.ip);
    if (prev !== undefined && prev.mac !== s.mac) {
      throw badInput(op, `node IP ${s.nodeIP} wanted with two MACs (${prev.mac}, ${s.mac})`);
    }
    w.neighbours.set(s.ip, s);
    w.nexthops.set(s.nhId, s);
    const prevDst = w.fdb.get(s.macNum);
    if (prevDst !== undefined && prevDst.ip !== s.ip) {
      throw badInput(op, `MAC ${s.mac} wanted toward two node IPs (${prevDst.nodeIP}, ${s.nodeIP})`);
    }
    w.fdb.set(s.macNum, s);
    for (const r of s.routes) {
      const owner = routeOwner.get(r.key);
      if (owner !== undefined && w.routes.get(r.key)?.viaIp !== s.ip) {
        throw badInput(op, `pod CIDR ${r.dst} wanted via two nodes (${owner}, ${s.name})`);
      }
      routeOwner.set(r.key, s.name);
      w.routes.set(r.key, r);
    }
    if (b.due()) await b.pause();
  }
  return w;
}
