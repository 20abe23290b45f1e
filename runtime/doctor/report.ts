// Running the checks and printing what they found: text for people, JSON for tools.
import { toKubeError } from '../../effects/kube/index.js';
import { fail, type DoctorContext, type RegisteredCheck, type Status, type Verdict } from './check.js';

export interface CheckResult extends Verdict {
  readonly name: string;
  readonly title: string;
}

export interface DoctorReport {
  readonly checks: readonly CheckResult[];
  readonly summary: Readonly<Record<Status, number>>;
}

export const KUBE_READ_FIX =
  "Check that the kubeconfig (--kubeconfig / KUBECONFIG, or the pod's service account) reaches the API server and may get and list what this check reads (in the gateway's pod: install the chart with --set doctor.rbac=true)";

/** A check whose reads failed fails itself, saying what could not be read; the others still run. */
export async function runChecks(checks: readonly RegisteredCheck[], ctx: DoctorContext): Promise<DoctorReport> {
  const results = await Promise.all(
    checks.map(async (c): Promise<CheckResult> => {
      let v: Verdict;
      try {
        v = await c.run(ctx);
      } catch (err) {
        const msg = err instanceof Error ? err.message : toKubeError(err, 'read').message;
        v = fail(`could not read ${c.reads}: ${msg}`, c.readFix ?? KUBE_READ_FIX);
      }
      return { name: c.name, title: c.title, ...v };
    }),
  );
  const summary: Record<Status, number> = { pass: 0, warn: 0, fail: 0 };
  for (const r of results) summary[r.status] += 1;
  return { checks: results, summary };
}

export function exitCode(report: DoctorReport): number {
  return report.summary.fail > 0 ? 1 : 0;
}

export function renderText(report: DoctorReport): string {
  const lines: string[] = [];
  for (const r of report.checks) {
    lines.push(`${r.status.toUpperCase().padEnd(4)}  ${r.name}  ${r.title}`);
    lines.push(`      saw: ${r.saw}`);
    if (r.fix !== '') lines.push(`      fix: ${r.fix}`);
  }
  const s = report.summary;
  lines.push('', `${s.pass} passed, ${s.warn} warned, ${s.fail} failed`, '');
  return lines.join('\n');
}

export function renderJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
