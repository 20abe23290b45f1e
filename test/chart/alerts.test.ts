// The chart's alerts (templates/prometheusrule.yaml) and Grafana dashboard
// (dashboards/gateway.json, templates/dashboard-configmap.yaml), checked with
// the real tools: `helm template` renders them, the PrometheusRule's
// spec.groups become a plain rules file, and Debian's promtool (installed by
// scripts/setup.sh) runs `check rules` on it and `test rules` with
// test/chart/fixtures/alerts.test.yaml, whose series make each alert fire and
// not fire. Every dashboard expression is parsed by promtool as well (one
// recording rule each, the Grafana variables replaced by values), and every
// metric the alerts, the fixture and the dashboard name is one the gateway
// exports (runtime/metrics.ts), with labels it exports. Without promtool the
// promtool tests are skipped with the reason logged.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createMetrics, GATEWAY_STATES, type ScrapeStats } from '../../runtime/metrics.js';
import { AUTO_SETS, chartDir, findDoc, Helm, NAMESPACE, RELEASE, repoRoot, type KubeDoc } from './helm.js';
import { ALERTS, alertsOf, havePromtool, PROMTOOL, renderRulesFile, rulesOf, type PrometheusRuleDoc, type RuleGroup } from './prometheus-rules.js';
import { validateBuiltIn, validateCustomResourceParts } from './validate.js';

const promtool = havePromtool() ? PROMTOOL : undefined;
if (promtool === undefined) process.stderr.write("test/chart/alerts: skipping the promtool tests: /usr/bin/promtool is not installed (scripts/setup.sh installs Debian's prometheus)\n");

const FIXTURE = join(repoRoot, 'test', 'chart', 'fixtures', 'alerts.test.yaml');
/** The rules file the fixture names in rule_files. */
const RULES_FILE = 'gateway-rules.yaml';
const ENABLED = [...AUTO_SETS, 'prometheusRule.enabled=true'];
/** The job the chart's PodMonitor gives the gateways (<namespace>/<name>): the default selector. */
const JOB = `${NAMESPACE}/${RELEASE}`;

interface DashboardTarget {
  expr?: string;
  refId?: string;
}
interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

let helm: Helm;
let dir: string;

beforeAll(() => {
  helm = new Helm();
  dir = mkdtempSync(join(tmpdir(), 'chart-alerts-'));
});

afterAll(() => {
  helm?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runPromtool(args: readonly string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile(PROMTOOL, [...args], { cwd, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') reject(new Error(`promtool did not run: ${err.message}`, { cause: err }));
      else resolve({ code: err ? Number((err as { code: number }).code) : 0, out: stdout + stderr });
    });
  });
}

function dashboardFile(): string {
  return readFileSync(join(chartDir, 'dashboards', 'gateway.json'), 'utf8');
}
function allPanels(panels: readonly DashboardPanel[]): DashboardPanel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** The dashboard's PromQL with Grafana's variables replaced by values of their kind (what Grafana sends). */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '2m',
  __interval: '1m',
  __range: '6h',
  namespace: NAMESPACE,
  job: JOB,
};
function substituteVariables(expr: string): string {
  const out = expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => GRAFANA_VARIABLES[name] ?? whole);
  if (out.includes('$')) throw new Error(`an unknown Grafana variable in ${expr}`);
  return out;
}

/** Every PromQL expression of the dashboard: panel targets, and the selectors inside the variables' label_values(). */
function dashboardExpressions(d: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const p of allPanels(d.panels)) for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: `panel ${p.id} "${p.title}" ${t.refId ?? ''}`, expr: t.expr });
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
    if (m === null) throw new Error(`variable ${v.name}: not label_values(selector, label): ${q}`);
    out.push({ where: `variable ${v.name}`, expr: m[1]! });
  }
  return out;
}

/** Metric names and label names the gateway exports, read from a real registry (runtime/metrics.ts). */
async function exportedMetrics(): Promise<Map<string, Set<string>>> {
  const counters = { rxBytes: 1, txBytes: 1, rxPackets: 1, txPackets: 1, rxDropped: 0, txDropped: 0, rxErrors: 0, txErrors: 0 };
  const m = createMetrics({ nodeIP: '198.18.0.10', nodeName: 'node-a', vxlanInterface: 'hybrid_vxlan0', vpcCIDRs: ['198.18.0.0/16'], podCIDRs: ['198.19.0.0/16'] }, () =>
    Promise.resolve<ScrapeStats>({ vxlan: { ...counters, up: true, fdbEntries: 1, routeCount: 1 }, primary: { ...counters, name: 'eth0' } }),
  );
  m.nodesSkipped.set({ reason: 'invalid-internal-ip' }, 1);
  m.nodesSkippedTotal.inc({ reason: 'invalid-internal-ip' });
  const out = new Map<string, Set<string>>();
  for (const line of (await m.registry.metrics()).split('\n')) {
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? /.exec(line);
    if (s === null) continue;
    const labels = out.get(s[1]!) ?? new Set<string>();
    for (const l of (s[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]!);
    out.set(s[1]!, labels);
  }
  return out;
}
/** Labels Prometheus adds to every target's series (PodMonitor: namespace, pod, container, endpoint). */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'endpoint']);
const metricNamesIn = (expr: string): string[] => [...new Set([...expr.matchAll(/\bhybrid_gateway_[a-z0-9_]+\b/g)].map((x) => x[0]))];

describe('the chart renders them only when asked', () => {
  it('by default: no PrometheusRule, no dashboard ConfigMap', async () => {
    const docs = await helm.template(AUTO_SETS);
    expect(docs.some((d) => d.kind === 'PrometheusRule')).toBe(false);
    expect(docs.some((d) => d.kind === 'ConfigMap')).toBe(false);
  });

  it('prometheusRule.enabled: one PrometheusRule with the eight CamelCase alerts, each with a severity, summary, description and runbook', async () => {
    const docs = await helm.template([...ENABLED, 'prometheusRule.additionalLabels.release=kube-prometheus-stack']);
    const pr = findDoc(docs, 'PrometheusRule') as PrometheusRuleDoc;
    validateCustomResourceParts(pr);
    expect(pr.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(pr.metadata.namespace).toBe(NAMESPACE);
    expect(pr.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/name': 'eks-hybrid-nodes-gateway' });
    const alerts = alertsOf(pr.spec.groups);
    expect([...alerts.keys()]).toEqual([...ALERTS]);
    for (const [name, r] of alerts) {
      expect(name).toMatch(/^HybridGateway([A-Z][a-z]+)+$/);
      expect(['critical', 'warning']).toContain(r.labels?.severity);
      expect(Object.keys(r.annotations ?? {}).sort(), name).toEqual(['description', 'runbook', 'summary']);
      for (const text of Object.values(r.annotations ?? {})) expect(text.length, name).toBeGreaterThan(20);
      // Every expression selects the gateways by the PodMonitor's job.
      for (const sel of r.expr.match(/\b[a-z_]+\{[^}]*\}/g) ?? []) expect(sel, `${name}: ${r.expr}`).toContain(`job="${JOB}"`);
    }
    expect(docs.some((d) => d.kind === 'ConfigMap')).toBe(false);
  });

  it('the lease alerts wait two lease durations (no leader) or one (two leaders), plus the scrape interval once or twice', async () => {
    const cases: Array<[string[], string, string]> = [
      [[], '36s', '63s'], // 3s lease, 30s default scrape interval
      [['podMonitor.interval=15s'], '21s', '33s'], // the PodMonitor's interval when none is given
      [['leaderElection.leaseDuration=15s', 'leaderElection.renewDeadline=10s', 'prometheusRule.scrapeInterval=1m'], '90s', '135s'],
      [['leaderElection.leaseDuration=1.5s', 'prometheusRule.scrapeInterval=1s'], '4s', '3500ms'],
      [['leaderElection.leaseDuration=1m30s', 'prometheusRule.scrapeInterval=500ms'], '180500ms', '91s'],
    ];
    for (const [sets, noLeader, multiple] of cases) {
      const alerts = alertsOf(rulesOf(await helm.template([...ENABLED, ...sets])));
      expect(alerts.get('HybridGatewayNoLeader')?.for, sets.join(' ')).toBe(noLeader);
      expect(alerts.get('HybridGatewayMultipleLeaders')?.for, sets.join(' ')).toBe(multiple);
    }
  });

  it('thresholds, windows, the selector, alert labels and the runbook URL come from the values', async () => {
    const alerts = alertsOf(
      rulesOf(
        await helm.template([
          ...ENABLED,
          'prometheusRule.failoverThresholdSeconds=0.5',
          'prometheusRule.failoverWindow=1h',
          'prometheusRule.errorsWindow=2m',
          'prometheusRule.errorsFor=4m',
          'prometheusRule.notReadyFor=7m',
          'prometheusRule.vxlanDownFor=3m',
          'prometheusRule.nodesSkippedFor=20m',
          'prometheusRule.alertLabels.team=network',
          'prometheusRule.alertLabels.severity=page',
          'prometheusRule.runbookUrl=https://runbooks.example.com/hybrid-gateway',
          'prometheusRule.selector=cluster="prod"\\,job="monitoring/gw"',
        ]),
      ),
    );
    const failover = alerts.get('HybridGatewayFailoverSlow')!;
    expect(failover.expr).toContain('hybrid_gateway_failover_duration_seconds_bucket{cluster="prod",job="monitoring/gw",le="0.5"}[1h]');
    expect(failover.annotations?.summary).toContain('longer than 0.5 s');
    expect(alerts.get('HybridGatewayVtepProgrammingErrors')).toMatchObject({ for: '4m', expr: expect.stringContaining('[2m]') });
    expect(alerts.get('HybridGatewayRouteTableUpdateErrors')).toMatchObject({ for: '4m', expr: expect.stringContaining('[2m]') });
    expect(alerts.get('HybridGatewayNotReady')?.for).toBe('7m');
    expect(alerts.get('HybridGatewayVxlanInterfaceDown')?.for).toBe('3m');
    expect(alerts.get('HybridGatewayCiliumNodesSkipped')?.for).toBe('20m');
    for (const [name, r] of alerts) {
      expect(r.labels, name).toEqual({ severity: 'page', team: 'network' });
      expect(r.annotations?.runbook_url, name).toBe(`https://runbooks.example.com/hybrid-gateway#${name.toLowerCase()}`);
      expect(r.expr, name).not.toContain(`job="${JOB}"`);
    }
    // An integer threshold also matches the le Prometheus 3 writes ("5.0").
    expect(alertsOf(rulesOf(await helm.template(ENABLED))).get('HybridGatewayFailoverSlow')?.expr).toContain('le=~"5|5.0"');
  });

  it('dashboards.enabled: a ConfigMap with the sidecar label and the dashboard JSON from the chart; labels, annotations and namespace configurable', async () => {
    const docs = await helm.template([...AUTO_SETS, 'dashboards.enabled=true']);
    const cm = findDoc(docs, 'ConfigMap') as KubeDoc & { data: Record<string, string> };
    validateBuiltIn(cm);
    expect(cm.metadata.namespace).toBe(NAMESPACE);
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(Object.keys(cm.data)).toEqual(['eks-hybrid-nodes-gateway.json']);
    expect(cm.data['eks-hybrid-nodes-gateway.json']).toBe(dashboardFile().trim());
    expect(docs.some((d) => d.kind === 'PrometheusRule')).toBe(false);

    const custom = findDoc(
      await helm.template([...AUTO_SETS, 'dashboards.enabled=true', 'dashboards.labels.grafana_dashboard=null', 'dashboards.labels.dashboards=gateway', 'dashboards.annotations.grafana_folder=Networking', 'dashboards.namespace=monitoring']),
      'ConfigMap',
    );
    expect(custom.metadata.namespace).toBe('monitoring');
    expect(custom.metadata.labels?.dashboards).toBe('gateway');
    expect(custom.metadata.labels?.grafana_dashboard).toBeUndefined();
    expect(custom.metadata.annotations).toEqual({ grafana_folder: 'Networking' });
  });

  it('the dashboard: a Grafana dashboard with a uid, a Prometheus data source variable on every panel, unique panel ids on a 24-column grid', () => {
    const d = JSON.parse(dashboardFile()) as Dashboard;
    expect(d.uid).toBe('eks-hybrid-nodes-gateway');
    expect(d.title).toBeTruthy();
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace', 'job']);
    const panels = allPanels(d.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    // What the issue asks the dashboard to show.
    const all = dashboardExpressions(d).map((e) => e.expr).join('\n');
    for (const m of ['hybrid_gateway_leader_is_active', 'hybrid_gateway_failover_duration_seconds_count', 'hybrid_gateway_failover_duration_seconds_bucket', 'hybrid_gateway_hybrid_nodes_configured', 'hybrid_gateway_vxlan_rx_bytes_total', 'hybrid_gateway_vxlan_tx_bytes_total']) {
      expect(all).toContain(m);
    }
  });
});

describe('names: every metric the alerts, the fixture and the dashboard use is one the gateway exports', () => {
  it('alerts and dashboard', async () => {
    const exported = await exportedMetrics();
    const groups = rulesOf(await helm.template(ENABLED));
    const exprs = [...groups.flatMap((g) => g.rules.map((r) => ({ where: r.alert!, expr: r.expr }))), ...dashboardExpressions(JSON.parse(dashboardFile()) as Dashboard)];
    const unknown = exprs.flatMap((e) => metricNamesIn(e.expr).filter((n) => !exported.has(n)).map((n) => `${e.where}: ${n}`));
    expect(unknown).toEqual([]);
    // The state values the not-ready alert names are states the gauge has.
    const states = /state=~"([^"]+)"/.exec(alertsOf(groups).get('HybridGatewayNotReady')!.expr)![1]!.split('|');
    for (const s of states) expect(GATEWAY_STATES).toContain(s);
  });

  it('the fixture series: exported names, with their own labels or target labels only', async () => {
    const exported = await exportedMetrics();
    const fixture = parseYaml(readFileSync(FIXTURE, 'utf8')) as { tests: Array<{ input_series: Array<{ series: string }> }> };
    const bad: string[] = [];
    for (const t of fixture.tests) {
      for (const { series } of t.input_series) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$/.exec(series);
        if (m === null) {
          bad.push(`unparsed: ${series}`);
          continue;
        }
        const [, name, body] = m as unknown as [string, string, string];
        if (name === 'up') continue;
        const own = exported.get(name);
        if (own === undefined) {
          bad.push(`not exported: ${name}`);
          continue;
        }
        for (const l of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (!own.has(l[1]!) && !TARGET_LABELS.has(l[1]!)) bad.push(`${name}: label ${l[1]!}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe.skipIf(promtool === undefined)('promtool (Debian prometheus)', () => {
  let rulesPath = '';
  let groups: RuleGroup[] = [];

  beforeAll(async () => {
    rulesPath = join(dir, RULES_FILE);
    groups = await renderRulesFile(helm, ENABLED, rulesPath);
  });

  it('`promtool check rules`: the rendered groups are valid rules', async () => {
    const r = await runPromtool(['check', 'rules', rulesPath], dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it('`promtool test rules` (fixtures/alerts.test.yaml): each alert fires on its series and stays quiet on the near misses', async () => {
    copyFileSync(FIXTURE, join(dir, 'alerts.test.yaml'));
    const r = await runPromtool(['test', 'rules', 'alerts.test.yaml'], dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it('with shards=2 (fixtures/alerts-sharded.test.yaml): a gateway leading each shard is no alarm; two on one shard, or a shard without one, is', async () => {
    const sharded = mkdtempSync(join(tmpdir(), 'alerts-sharded-'));
    try {
      await renderRulesFile(helm, [...ENABLED, 'shards=2'], join(sharded, RULES_FILE));
      copyFileSync(join(repoRoot, 'test', 'chart', 'fixtures', 'alerts-sharded.test.yaml'), join(sharded, 'alerts.test.yaml'));
      const check = await runPromtool(['check', 'rules', RULES_FILE], sharded);
      expect(check.code, check.out).toBe(0);
      const r = await runPromtool(['test', 'rules', 'alerts.test.yaml'], sharded);
      expect(r.code, r.out).toBe(0);
      // (Under the unsharded rules two gateways leading, one shard each, would be HybridGatewayMultipleLeaders.)
      expect(readFileSync(join(sharded, RULES_FILE), 'utf8')).toContain('hybrid_gateway_shard_leader');
    } finally {
      rmSync(sharded, { recursive: true, force: true });
    }
  });

  it('the fixture makes every alert fire in one test and checks it silent in another', () => {
    const fixture = parseYaml(readFileSync(FIXTURE, 'utf8')) as {
      rule_files: string[];
      tests: Array<{ name?: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    expect(fixture.rule_files).toEqual([RULES_FILE]);
    for (const name of alertsOf(groups).keys()) {
      const cases = fixture.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.alertname === name));
      expect(cases.some((c) => (c.exp_alerts ?? []).length > 0), `${name} fires somewhere`).toBe(true);
      expect(cases.some((c) => (c.exp_alerts ?? []).length === 0), `${name} is checked silent somewhere`).toBe(true);
    }
  });

  it('every dashboard expression parses (one recording rule each, `promtool check rules`)', async () => {
    const exprs = dashboardExpressions(JSON.parse(dashboardFile()) as Dashboard);
    expect(exprs.length).toBeGreaterThan(30);
    const rules = exprs.map((e, i) => ({ record: `dashboard:expr_${i}:check`, expr: substituteVariables(e.expr) }));
    const path = join(dir, 'dashboard-rules.yaml');
    writeFileSync(path, stringifyYaml({ groups: [{ name: 'dashboard', rules }] }, { lineWidth: 0 }));
    const r = await runPromtool(['check', 'rules', path], dir);
    expect(r.code, `${r.out}\n${exprs.map((e, i) => `${i}: ${e.where}`).join('\n')}`).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${exprs.length} rules found`);
  });

  it('the checks can fail: promtool rejects a broken expression and a test whose alert does not fire', async () => {
    const broken = join(dir, 'broken-rules.yaml');
    writeFileSync(broken, stringifyYaml({ groups: [{ name: 'broken', rules: [{ record: 'x:y:z', expr: 'sum by (job) (rate(hybrid_gateway_vtep_add_total[5m])' }] }] }));
    const r = await runPromtool(['check', 'rules', broken], dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/parse error|unclosed left parenthesis/);

    const wrong = join(dir, 'wrong.test.yaml');
    writeFileSync(
      wrong,
      stringifyYaml({
        rule_files: [RULES_FILE],
        evaluation_interval: '10s',
        tests: [
          {
            interval: '10s',
            input_series: [{ series: `hybrid_gateway_leader_is_active{job="${JOB}",instance="198.18.0.11:10080"}`, values: '1x20' }],
            alert_rule_test: [{ eval_time: '3m', alertname: 'HybridGatewayNoLeader', exp_alerts: [{ exp_labels: { severity: 'critical', job: JOB } }] }],
          },
        ],
      }),
    );
    const t = await runPromtool(['test', 'rules', 'wrong.test.yaml'], dir);
    expect(t.code).not.toBe(0);
    expect(t.out).toContain('HybridGatewayNoLeader');
  });
});
