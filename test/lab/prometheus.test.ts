// A real Prometheus (Debian's, installed by scripts/setup.sh) scrapes both lab
// gateways every second through a node-loss failover, with the chart's alert
// rules loaded: the rules `helm template` renders from
// templates/prometheusrule.yaml (the same ones test/chart/alerts.test.ts checks
// with promtool), for the lab's lease (3 s) and scrape interval (1 s).
// Prometheus runs inside the lab's control namespace, listening on its
// 127.0.0.1, and reaches the gateways' metrics addresses (198.18.0.11/12:10080)
// through the lab router; its HTTP API is asked from inside that namespace
// too (lab.run.exec), so nothing listens or sends outside the lab. Asserted,
// from Prometheus' own API: both targets up with no scrape error (the
// exposition parses), the survivor never failed a scrape, the rules evaluate
// without error; the takeover is seen; "more than one leader" is never true,
// pending or firing over the whole run; "no leader" is true for less than its
// `for` during the failover and never fires; no alert fires at the end.
// Addresses: lab/addresses.ts (198.18.0.0/15 and TEST-NETs only). Needs root.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { gateway, GATEWAYS, type GatewayName } from '../../lab/addresses.js';
import { Lab, until } from '../../lab/lab.js';
import { createNetnsRun, type NetnsRun } from '../../lab/netns.js';
import { measureFailover, type FailoverResult } from '../../lab/scenarios.js';
import { AUTO_SETS, Helm } from '../chart/helm.js';
import { ALERTS, alertsOf, havePrometheus, PROMETHEUS, renderRulesFile, type Rule } from '../chart/prometheus-rules.js';
import { sleep } from './helpers.js';

const root = process.getuid?.() === 0;
const skipped = !root ? 'it needs root (network namespaces)' : !havePrometheus() ? `${PROMETHEUS} is not installed (scripts/setup.sh installs Debian's prometheus)` : undefined;
if (skipped !== undefined) process.stderr.write(`test/lab/prometheus: skipped: ${skipped}\n`);

/** Inside the lab's control namespace. */
const PROMETHEUS_ADDRESS = '127.0.0.1:9090';
const JOB = 'hybrid-gateway';
const SCRAPE_INTERVAL = '1s';
const target = (name: GatewayName): string => `${gateway(name).ip}:10080`;

interface ApiReply<T> {
  status: string;
  data: T;
  error?: string;
}
interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}
interface ActiveTarget {
  labels: Record<string, string>;
  health: string;
  lastError: string;
  lastScrape: string;
}
interface RuleState {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
  state?: string;
}

let run: NetnsRun;
let lab: Lab;
let helm: Helm;
let dir: string;
let prometheus: ChildProcess | undefined;
let prometheusStderr = '';
let alerts: Map<string, Rule>;
/** Unix seconds when Prometheus had scraped both gateways. */
let startedAt = 0;
let failover: FailoverResult;

/** GET on Prometheus' HTTP API, from inside the control namespace (node:http; the answer as JSON). */
async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const url = `http://${PROMETHEUS_ADDRESS}${path}${Object.keys(params).length > 0 ? `?${new URLSearchParams(params).toString()}` : ''}`;
  const script = `require('http').get(process.argv[1],{timeout:5000},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(JSON.stringify({status:r.statusCode,body:b})))}).on('error',e=>process.stdout.write(JSON.stringify({status:0,body:String(e)})))`;
  const out = await run.exec(lab.ns.ctl, [process.execPath, '-e', script, url], { timeoutMs: 15_000 });
  const r = JSON.parse(out.stdout) as { status: number; body: string };
  if (r.status !== 200) throw new Error(`Prometheus ${path}: ${r.status} ${r.body.slice(0, 300)}`);
  if (path.startsWith('/-/')) return r.body as T;
  const reply = JSON.parse(r.body) as ApiReply<T>;
  if (reply.status !== 'success') throw new Error(`Prometheus ${path}: ${reply.error ?? r.body.slice(0, 300)}`);
  return reply.data;
}

const query = async (expr: string): Promise<Sample[]> => (await api<{ result: Sample[] }>('/api/v1/query', { query: expr })).result;
/** The expression at every second from Prometheus' start until now. */
const overRun = async (expr: string): Promise<Sample[]> =>
  (await api<{ result: Sample[] }>('/api/v1/query_range', { query: expr, start: String(startedAt), end: String(Date.now() / 1000), step: '1' })).result;
const targets = async (): Promise<ActiveTarget[]> => (await api<{ activeTargets: ActiveTarget[] }>('/api/v1/targets', { state: 'active' })).activeTargets;

/** The longest run of consecutive 1 s steps at which a range result has a value (a series present = the expression true). */
function longestTrueSeconds(series: readonly Sample[]): number {
  const times = [...new Set(series.flatMap((s) => (s.values ?? []).map(([t]) => Math.round(t))))].sort((a, b) => a - b);
  let best = 0;
  let current = 0;
  for (let i = 0; i < times.length; i++) {
    current = i > 0 && times[i]! - times[i - 1]! === 1 ? current + 1 : 1;
    best = Math.max(best, current);
  }
  return best;
}

const seconds = (promDuration: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(promDuration);
  if (m === null) throw new Error(`unexpected duration ${promDuration}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

describe.skipIf(skipped !== undefined)('a real Prometheus scraping both lab gateways through a node-loss failover, with the chart’s alerts', () => {
  beforeAll(async () => {
    helm = new Helm();
    dir = mkdtempSync(join(tmpdir(), 'lab-prometheus-'));
    // The chart's rules for this lab: its job, its scrape interval, the lease default (3 s, as the lab's gateways run).
    const values = join(dir, 'values.yaml');
    writeFileSync(values, stringifyYaml({ prometheusRule: { enabled: true, selector: `job="${JOB}"`, scrapeInterval: SCRAPE_INTERVAL } }));
    alerts = alertsOf(await renderRulesFile(helm, AUTO_SETS, join(dir, 'rules.yaml'), ['-f', values]));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringifyYaml({
        global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules.yaml')],
        scrape_configs: [{ job_name: JOB, static_configs: [{ targets: GATEWAYS.map((g) => target(g.name)) }] }],
      }),
    );

    run = createNetnsRun();
    lab = await Lab.create({ run, hybridNodes: 1 });
    for (const g of GATEWAYS) lab.startGateway(g.name);
    await lab.waitConverged(60_000);
    for (const n of lab.hybrid.values()) await lab.startTraffic(n);

    prometheus = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.ns.ctl,
        PROMETHEUS,
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=${PROMETHEUS_ADDRESS}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.setEncoding('utf8').on('data', (d: string) => (prometheusStderr = (prometheusStderr + d).slice(-4000)));
    await until(
      'Prometheus to be ready',
      async () => {
        if (prometheus!.exitCode !== null) throw new Error(`Prometheus exited ${prometheus!.exitCode}: ${prometheusStderr}`);
        return (await api<string>('/-/ready').catch(() => undefined)) !== undefined ? true : undefined;
      },
      30_000,
      250,
    );
    await until('both gateways scraped', async () => ((await targets()).filter((t) => t.health === 'up').length === 2 ? true : undefined), 20_000, 250);
    // The run the range queries look at starts here: before the first scrape, absent() says "no leader".
    startedAt = Math.ceil(Date.now() / 1000);
    await sleep(3000); // a few scrapes and rule evaluations before the failover
  }, 150_000);

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => prometheus!.kill('SIGKILL'))]);
    }
    await lab?.teardown();
    helm?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('loads the chart’s eight alerts and evaluates each without error', async () => {
    await until(
      'every rule evaluated',
      async () => {
        const rules = (await api<{ groups: Array<{ rules: RuleState[] }> }>('/api/v1/rules')).groups.flatMap((g) => g.rules);
        return rules.length === ALERTS.length && rules.every((r) => r.lastEvaluation !== '0001-01-01T00:00:00Z') ? rules : undefined;
      },
      10_000,
      250,
    ).then((rules) => {
      expect(rules.map((r) => r.name)).toEqual([...ALERTS]);
      for (const r of rules) {
        expect(r.type, r.name).toBe('alerting');
        expect(r.health, `${r.name}: ${r.lastError ?? ''}`).toBe('ok');
      }
    });
  });

  it('scrapes both gateways: up, no scrape error, the whole exposition ingested, one leader', async () => {
    const ts = await targets();
    expect(ts.map((t) => t.labels.instance).sort()).toEqual(GATEWAYS.map((g) => target(g.name)).sort());
    for (const t of ts) {
      expect(t.health, `${t.labels.instance}: ${t.lastError}`).toBe('up');
      expect(t.lastError).toBe('');
    }
    const series = await query(`count by (instance) ({job="${JOB}", __name__=~"hybrid_gateway_.+"})`);
    expect(series).toHaveLength(2);
    for (const s of series) expect(Number(s.value![1]), s.metric.instance).toBeGreaterThan(50);
    const samples = await query(`scrape_samples_scraped{job="${JOB}"}`);
    for (const s of samples) expect(Number(s.value![1]), s.metric.instance).toBeGreaterThan(100);
    expect((await query(`sum(hybrid_gateway_leader_is_active{job="${JOB}"})`))[0]?.value?.[1]).toBe('1');
    expect((await query(`max(hybrid_gateway_hybrid_nodes_configured{job="${JOB}"})`))[0]?.value?.[1]).toBe(String(lab.hybrid.size));
  });

  it('through a node-loss failover: the takeover is seen, the survivor never misses a scrape, the lost gateway only while it is gone', async () => {
    failover = await measureFailover(lab, 'node-loss', (l) => console.info(l));
    console.info(`failover ${failover.from} → ${failover.to}: outage ${failover.outageMs.toFixed(0)} ms, trace ${failover.traceMs?.toFixed(0) ?? '?'} ms`);
    await sleep(3000); // the restored gateway scraped again, the rules evaluated past the hand-over
    const t0 = failover.t0 / 1000;

    const taken = await overRun(`hybrid_gateway_leader_is_active{job="${JOB}",instance="${target(failover.to)}"}`);
    const values = taken[0]?.values ?? [];
    expect(values.some(([t, v]) => t < t0 && v === '0'), 'the standby reported 0 before').toBe(true);
    expect(values.some(([t, v]) => t > t0 && v === '1'), 'and 1 after taking over').toBe(true);
    expect((await overRun(`increase(hybrid_gateway_failover_duration_seconds_count{job="${JOB}",instance="${target(failover.to)}"}[1m]) > 0`)).length).toBe(1);

    const survivorUp = (await overRun(`up{job="${JOB}",instance="${target(failover.to)}"}`))[0]?.values ?? [];
    expect(survivorUp.length).toBeGreaterThan(10);
    expect(survivorUp.filter(([, v]) => v !== '1')).toEqual([]);
    const lostDown = ((await overRun(`up{job="${JOB}",instance="${target(failover.from)}"}`))[0]?.values ?? []).filter(([, v]) => v === '0');
    console.info(`${failover.from} unscraped for ${lostDown.length} s`);
    expect(lostDown.length).toBeGreaterThan(0);
    for (const [t] of lostDown) expect(t, 'a failed scrape of the lost gateway only after it was lost').toBeGreaterThanOrEqual(t0 - 1);

    for (const t of await targets()) {
      expect(t.health, `${t.labels.instance}: ${t.lastError}`).toBe('up');
      expect(t.lastError).toBe('');
    }
  }, 120_000);

  it('"more than one leader" is never true, pending or firing; "no leader" is true for less than its `for` and never fires; nothing fires', async () => {
    const multiple = alerts.get('HybridGatewayMultipleLeaders')!;
    const noLeader = alerts.get('HybridGatewayNoLeader')!;
    expect(await overRun(multiple.expr), multiple.expr).toEqual([]);
    expect(await overRun('ALERTS{alertname="HybridGatewayMultipleLeaders"}')).toEqual([]);

    const gap = longestTrueSeconds(await overRun(noLeader.expr));
    const pending = longestTrueSeconds(await overRun('ALERTS{alertname="HybridGatewayNoLeader",alertstate="pending"}'));
    console.info(`no leader seen by Prometheus for ${gap} s (pending ${pending} s); the alert waits ${noLeader.for}`);
    expect(gap).toBeLessThan(seconds(noLeader.for!));
    expect(await overRun('ALERTS{alertname="HybridGatewayNoLeader",alertstate="firing"}')).toEqual([]);

    const firing = (await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('/api/v1/alerts')).alerts.filter((a) => a.state === 'firing');
    expect(firing.map((a) => a.labels.alertname)).toEqual([]);
    expect(await overRun('ALERTS{alertstate="firing"}')).toEqual([]);
  });
});
