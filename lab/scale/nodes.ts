// The scale benchmark's and the intake test's hybrid nodes (198.18.0.0/15 only):
// node i has the i-th /30 of 198.18.0.0/16 + 198.19.0.0/17 (POD_CIDRS: 24,576
// /30s) and the (i+1)-th address of 198.19.128.0/17; the VPC is 203.0.113.0/24.
import { nodeMacFor } from '../addresses.js';
import type { ScaleNode } from './control-worker.js';
import type { ExpectedEntries } from './kernel-watch.js';

export const VPC_CIDR = '203.0.113.0/24';
export const POD_CIDRS = '198.18.0.0/16,198.19.0.0/17';
const POD_BASE = 0xc6120000; // 198.18.0.0
const NODE_BASE = 0xc6138000; // 198.19.128.0

export const ipv4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
/** 02:00:a:b:c:d: the MAC a hybrid node's Cilium device has (lab/addresses.ts). */
export const macOf = nodeMacFor;

/** Node i: the i-th /30 of the pod range (podIdx), the (ipIdx+1)-th address of 198.19.128.0/17. */
export function scaleNode(i: number, podIdx = i, ipIdx = i): ScaleNode {
  return { name: `hyb-${String(i).padStart(5, '0')}`, ip: ipv4(NODE_BASE + 1 + ipIdx), podCidrs: [`${ipv4(POD_BASE + podIdx * 4)}/30`] };
}

export function expected(nodes: readonly ScaleNode[]): ExpectedEntries {
  const routes = new Map<string, string>();
  const neighs = new Map<string, string>();
  const fdb = new Map<string, string>();
  for (const n of nodes) {
    for (const c of n.podCidrs) routes.set(c, n.ip);
    neighs.set(n.ip, macOf(n.ip));
    fdb.set(macOf(n.ip), n.ip);
  }
  return { routes, neighs, fdb };
}

