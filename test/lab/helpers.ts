// Shared checks for the lab tests.
import { GATEWAYS } from '../../lab/addresses.js';
import type { Lab } from '../../lab/lab.js';

export interface WriterCheck {
  /** Route writes checked (creates/replaces). */
  readonly writes: number;
  /** Writes by a gateway that did not hold the Lease at that instant, or whose lease had run out. */
  readonly violations: string[];
}

/**
 * Two leaders never write: every route create/replace the EC2 stand-in
 * applied targets the writer's own ENI (and carries its access key), and the
 * Lease named that writer, still within its duration, at that instant.
 */
export async function checkSingleWriter(lab: Lab): Promise<WriterCheck> {
  const log = await lab.routeLog();
  const violations: string[] = [];
  let writes = 0;
  for (const w of log) {
    if (w.eni === null) continue;
    writes += 1;
    const byEni = GATEWAYS.find((g) => g.eni === w.eni);
    const byKey = GATEWAYS.find((g) => g.accessKeyId === w.accessKeyId);
    const at = new Date(w.atMs).toISOString();
    if (byEni === undefined) violations.push(`${at} ${w.routeTableId} ${w.cidr} → unknown target ${w.eni}`);
    else if (byKey !== undefined && byKey.name !== byEni.name) violations.push(`${at} ${byKey.name} pointed ${w.routeTableId} at ${byEni.name}'s ENI`);
    else if (w.holder !== byEni.name) violations.push(`${at} ${byEni.name} wrote ${w.routeTableId} while the Lease named ${w.holder ?? 'nobody'}`);
    else if (!w.leaseValid) violations.push(`${at} ${byEni.name} wrote ${w.routeTableId} after its lease ran out`);
  }
  return { writes, violations };
}

/** hybrid_gateway_leader_is_active of a gateway (undefined when its metrics do not answer). */
export async function leaderActive(lab: Lab, name: 'gw-a' | 'gw-b'): Promise<number | undefined> {
  const r = await lab.gatewayHttp(name, 10080, '/metrics');
  if (r.status !== 200) return undefined;
  const m = /^hybrid_gateway_leader_is_active (\d+)$/m.exec(r.body);
  return m === null ? undefined : Number(m[1]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
