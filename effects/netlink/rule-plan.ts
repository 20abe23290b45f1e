// The policy rules that send traffic for the hybrid pod network to the
// gateway's own routing table, as a pure diff (no I/O; tested in
// test/unit/rule-plan.test.ts): one rule `to <POD_CIDR> lookup <table>
// priority <p>` per POD_CIDR, IPv4 only. The gateway's routes live in that
// table alone, so no route a CiliumNode asks for can be consulted for traffic
// to anything outside POD_CIDRS: not the gateway's own API, EC2 and IMDS
// traffic, not its connected subnets, not the hybrid underlay.
//
// Ours: every IPv4 rule that names our table, and every rule with our
// protocol. A rule of ours that is not exactly a wanted one (other selectors,
// another priority, a CIDR no longer in POD_CIDRS, a duplicate) is removed.

export interface ObservedRule {
  /** Destination selector as an unsigned integer and its length (0/0 when absent). */
  readonly dst: number;
  readonly dstLen: number;
  readonly table: number;
  readonly priority: number;
  readonly protocol: number;
  /** toTbl, with no selector but `to` (no from, iif, oif, fwmark, tos, invert, ports…). */
  readonly plain: boolean;
}

export interface WantedRule {
  readonly dst: number;
  readonly dstLen: number;
}

export interface RulePlan {
  readonly add: readonly WantedRule[];
  readonly remove: readonly ObservedRule[];
  readonly unchanged: number;
}

export function planRules(observed: readonly ObservedRule[], wanted: readonly WantedRule[], table: number, priority: number, protocol: number): RulePlan {
  const want = new Map(wanted.map((w) => [`${w.dst}/${w.dstLen}`, w]));
  const seen = new Set<string>();
  const remove: ObservedRule[] = [];
  let unchanged = 0;
  for (const r of observed) {
    if (r.table !== table && r.protocol !== protocol) continue; // not ours
    const key = `${r.dst}/${r.dstLen}`;
    if (r.plain && r.table === table && r.priority === priority && want.has(key) && !seen.has(key)) {
      seen.add(key);
      unchanged++;
    } else remove.push(r);
  }
  const add = [...want].filter(([k]) => !seen.has(k)).map(([, w]) => w);
  return { add, remove, unchanged };
}
