// The IPv4 policy rules that select the gateway's table: the kernel's rules
// read into rule-plan.ts's terms, and the plan carried out (new rules in
// before stale ones go).
import * as nl from 'netlink';
import { checkCidr } from './codec.js';
import { intToIPv4 } from '../../machines/domain/ipv4.js';
import { RTPROT_HYBRID_GATEWAY } from './entries.js';
import { AF_INET } from './uapi.js';
import { isNetlinkError } from './errors.js';
import { planRules, type ObservedRule, type RulePlan } from './rule-plan.js';
import { NLM_F, type Rtnl } from './rtnl.js';
import type { WriteOptions } from './types.js';

/**
 * Makes the IPv4 policy rules that select `table` exactly one
 * `to <cidr> lookup <table> priority <priority>` per pod CIDR (rule-plan.ts
 * says which rules are ours). Returns the plan that was carried out.
 */
export async function ensureRules(rt: Rtnl, podCidrs: readonly string[], table: number, priority: number, opts: WriteOptions): Promise<RulePlan> {
  const op = 'ensure policy rules';
  const wanted = podCidrs.map((c) => {
    const p = checkCidr(op, 'pod CIDR', c);
    return { dst: p.base, dstLen: p.prefix };
  });
  const msgs = await rt.call(`${op}: dump`, (o) => rt.sock.getRules({ family: AF_INET }, {}, o));
  const observed: ObservedRule[] = [];
  for (const m of msgs) {
    const d = m.data;
    const a = m.attrs;
    if (d.family !== AF_INET) continue;
    const ruleTable = a.table ?? d.table ?? 0;
    const action = typeof d.action === 'string' ? d.action : nl.rt.RuleAction[d.action ?? 0];
    const flags = d.flags ?? {};
    const selectors = [a.src, a.iifname, a.oifname, a.fwmark, a.fwmask, a.uidRange, a.ipProto, a.sportRange, a.dportRange, a.l3Mdev, a.goto, a.tunId];
    const plain = action === 'toTbl' && (d.srcLen ?? 0) === 0 && (d.tos ?? 0) === 0 && flags.invert !== true && selectors.every((x) => x === undefined || x === 0);
    observed.push({ dst: a.dst?.length === 4 ? a.dst.readUInt32BE(0) : 0, dstLen: d.dstLen ?? 0, table: ruleTable, priority: a.priority ?? 0, protocol: a.protocol ?? 0, plain });
  }
  const plan = planRules(observed, wanted, table, priority, RTPROT_HYBRID_GATEWAY);
  const addressBytes = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
  };
  for (const w of plan.add) {
    const dst = addressBytes(w.dst);
    await rt
      .call(
        `${op}: add to ${intToIPv4(w.dst)}/${w.dstLen} lookup ${table} priority ${priority}`,
        (o) =>
          rt.sock.newRule(
            { family: AF_INET, dstLen: w.dstLen, table: table < 256 ? table : 0, action: 'toTbl' },
            { dst, table, priority, protocol: RTPROT_HYBRID_GATEWAY },
            o,
          ),
        NLM_F.CREATE | NLM_F.EXCL,
        opts.signal,
      )
      .catch((err: unknown) => {
        if (!isNetlinkError(err, 'EEXIST')) throw err;
      });
  }
  for (const r of plan.remove) {
    const dst = addressBytes(r.dst);
    await rt
      .call(
        `${op}: delete to ${intToIPv4(r.dst)}/${r.dstLen} lookup ${r.table} priority ${r.priority}`,
        (o) =>
          rt.sock.delRule(
            { family: AF_INET, dstLen: r.dstLen, table: r.table < 256 ? r.table : 0 },
            { ...(r.dstLen > 0 ? { dst } : {}), table: r.table, priority: r.priority },
            o,
          ),
        0,
        opts.signal,
      )
      .catch((err: unknown) => {
        if (!isNetlinkError(err, 'ENOENT', 'ESRCH')) throw err;
      });
  }
  return plan;
}
