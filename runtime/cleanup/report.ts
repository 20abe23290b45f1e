// What cleanup prints: one line per route, table and object it looked at,
// saying what it did (or, with --dry-run, would do) and, for what it left, why.
import type { RouteDecision, TableUnread, VtepDecision } from '../../machines/domain/cleanup.js';
import type { DeleteResult } from '../../effects/aws/index.js';
import type { LeaseView } from '../../effects/kube/index.js';

export type VtepOutcome = 'deleted' | 'absent' | { readonly error: string } | undefined;

export function leaseLine(key: string, identity: string, holdMs: number, previous: LeaseView | undefined, dryRun: boolean): string {
  const was = previous === undefined ? 'there was none' : previous.record.holderIdentity === '' ? 'it was released' : `it was held by ${previous.record.holderIdentity}`;
  if (dryRun) return `Lease ${key}: read only (dry run; ${was})`;
  if (previous === undefined) return `Lease ${key}: created, held by ${identity} for ${Math.round(holdMs / 1000)}s (${was}): no gateway leads meanwhile`;
  return `Lease ${key}: taken, held by ${identity} for ${Math.round(holdMs / 1000)}s (${was}): the gateways stand by`;
}

export function enisLine(enis: readonly string[]): string {
  return enis.length === 0 ? 'gateway ENIs recorded on the Lease: none' : `gateway ENIs recorded on the Lease: ${enis.join(', ')}`;
}

export function routeLine(d: RouteDecision, result: DeleteResult | undefined, dryRun: boolean): string {
  const where = `route ${d.table} ${d.cidr}`;
  if (d.action === 'absent') return `${where}: absent, nothing to delete`;
  if (d.action === 'keep') return `${where} → ${d.target ?? '?'}: left: ${d.why}`;
  if (dryRun) return `${where} → ${d.target}: would be deleted (it points at this installation's gateway ENI)`;
  if (result === undefined) return `${where} → ${d.target}: not deleted (no result)`;
  if (result.status === 'deleted') return `${where} → ${d.target}: deleted`;
  if (result.status === 'gone') return `${where} → ${d.target}: already gone (InvalidRoute.NotFound)`;
  return `${where} → ${d.target}: FAILED: ${result.error?.message ?? 'unknown error'}`;
}

export function unreadLine(u: { readonly table: string } & TableUnread): string {
  return u.gone ? `route table ${u.table}: does not exist, nothing to delete` : `route table ${u.table}: FAILED to read: ${u.error}`;
}

export function vtepLine(name: string, ownerKey: string, d: VtepDecision, outcome: VtepOutcome, dryRun: boolean): string {
  const what = `CiliumVTEPConfig ${name}`;
  if (d.action === 'absent') return `${what}: absent, nothing to delete`;
  if (d.action === 'keep') return `${what}: left: ${d.why}`;
  if (dryRun) return `${what}: would be deleted (owned by this installation's Lease ${ownerKey})`;
  if (outcome === 'deleted') return `${what}: deleted (owned by this installation's Lease ${ownerKey})`;
  if (outcome === 'absent') return `${what}: already gone`;
  return `${what}: FAILED: ${outcome?.error ?? 'not deleted'}`;
}

export function summaryLine(c: { deleted: number; left: number; failed: number; vtep: string; dryRun: boolean }): string {
  const verb = c.dryRun ? 'would delete' : 'deleted';
  const failed = c.failed > 0 ? `, ${c.failed} FAILED` : '';
  return `${c.dryRun ? 'dry run' : 'done'}: ${verb} ${c.deleted} route${c.deleted === 1 ? '' : 's'}, left ${c.left}${failed}; CiliumVTEPConfig ${c.vtep}`;
}
