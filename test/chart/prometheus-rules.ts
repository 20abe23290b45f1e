// The chart's alert rules as Prometheus reads them: the PrometheusRule that
// `helm template` renders (templates/prometheusrule.yaml, the one source of
// truth), its spec.groups written out as a plain rules file. Shared by
// test/chart/alerts.test.ts (promtool) and test/lab/prometheus.test.ts (a real
// Prometheus server in the lab).
import { existsSync, writeFileSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import { findDoc, type Helm, type KubeDoc } from './helm.js';

/** Debian's prometheus package (scripts/setup.sh installs it). */
export const PROMTOOL = '/usr/bin/promtool';
export const PROMETHEUS = '/usr/bin/prometheus';
export const havePromtool = (): boolean => existsSync(PROMTOOL);
export const havePrometheus = (): boolean => existsSync(PROMETHEUS);

/** The alerts, in the template's order. */
export const ALERTS = [
  'HybridGatewayNoLeader',
  'HybridGatewayMultipleLeaders',
  'HybridGatewayVtepProgrammingErrors',
  'HybridGatewayRouteTableUpdateErrors',
  'HybridGatewayVxlanInterfaceDown',
  'HybridGatewayNotReady',
  'HybridGatewayFailoverSlow',
  'HybridGatewayCiliumNodesSkipped',
] as const;

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}
export type PrometheusRuleDoc = KubeDoc & { spec: { groups: RuleGroup[] } };

export function rulesOf(docs: readonly KubeDoc[]): RuleGroup[] {
  return (findDoc(docs, 'PrometheusRule') as PrometheusRuleDoc).spec.groups;
}

export function alertsOf(groups: readonly RuleGroup[]): Map<string, Rule> {
  return new Map(groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined).map((r) => [r.alert!, r]));
}

/** Renders the chart with these --set values (and extra helm args, e.g. -f values.yaml) and writes the PrometheusRule's groups to path. */
export async function renderRulesFile(helm: Helm, sets: readonly string[], path: string, extra: readonly string[] = []): Promise<RuleGroup[]> {
  const groups = rulesOf(await helm.template(sets, extra));
  writeFileSync(path, stringifyYaml({ groups }, { lineWidth: 0 }));
  return groups;
}
