import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type GatewayConfig } from '../../runtime/config/parse.js';
import { parseDuration } from '../../runtime/config/duration.js';
import { OPTIONS } from '../../runtime/config/options.js';

const base = {
  NODE_IP: '198.18.0.10',
  VPC_CIDR: '198.18.0.0/16',
  POD_CIDRS: '198.19.0.0/16',
  ROUTE_TABLE_IDS: 'rtb-0123456789abcdef0',
};

function config(argv: string[] = [], env: Record<string, string | undefined> = base): GatewayConfig {
  const out = parseConfig(argv, env);
  if (out.kind !== 'config') throw new Error('expected a config');
  return out.config;
}

function problems(argv: string[], env: Record<string, string | undefined> = base): string[] {
  try {
    parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('reads the reference env vars, with the reference defaults', () => {
    const c = config();
    expect(c).toMatchObject({
      nodeIP: '198.18.0.10',
      vpcCIDRs: ['198.18.0.0/16'],
      podCIDRs: ['198.19.0.0/16'],
      routeTableIDs: ['rtb-0123456789abcdef0'],
      leaderElectionID: 'hybrid-gateway-leader',
      debug: false,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 1000,
      vxlanVNI: 2,
      vxlanMTU: 1450,
      metricsBindAddress: { host: '0.0.0.0', port: 10080 },
      healthProbeBindAddress: { host: '0.0.0.0', port: 8088 },
      awsRegion: undefined,
      awsInstanceID: undefined,
      statechartInspector: undefined,
      shards: 1,
      nodePodCidrMaskSize: 24,
    });
    expect(config(['--statechart-inspector', 'ws://127.0.0.1:8080']).statechartInspector).toBe('ws://127.0.0.1:8080');
  });

  it('POD_UID (downward API metadata.uid) names the pod in its Events; absent or blank: none', () => {
    expect(config([], { ...base, POD_UID: ' 5f0c3a9e-6f1b-4c1e-9a77-0d2d3c4b5a69 ' }).podUid).toBe('5f0c3a9e-6f1b-4c1e-9a77-0d2d3c4b5a69');
    expect(config(['--pod-uid=u-1'], { ...base, POD_UID: 'u-2' }).podUid).toBe('u-1');
    expect(config().podUid).toBeUndefined();
    expect(config([], { ...base, POD_UID: '  ' }).podUid).toBeUndefined();
  });

  it('flags win over env, and Go-style single-dash flags are accepted', () => {
    const c = config(['--node-ip', '203.0.113.7', '-leader-election-id=gw', '--aws-region=us-west-2', '--pod-cidrs', '192.0.2.0/25,192.0.2.128/25'], {
      ...base,
      LEADER_ELECTION_ID: 'from-env',
    });
    expect(c.nodeIP).toBe('203.0.113.7');
    expect(c.leaderElectionID).toBe('gw');
    expect(c.awsRegion).toBe('us-west-2');
    expect(c.podCIDRs).toEqual(['192.0.2.0/25', '192.0.2.128/25']);
  });

  it('takes the VXLAN MTU from VXLAN_MTU or --vxlan-mtu (a jumbo-frame Direct Connect path)', () => {
    expect(config([], { ...base, VXLAN_MTU: '8951' }).vxlanMTU).toBe(8951);
    expect(config(['--vxlan-mtu', '1400'], { ...base, VXLAN_MTU: '8951' }).vxlanMTU).toBe(1400);
  });

  it.each([
    [['--debug'], true],
    [['--debug=false'], false],
    [['--debug', 'true'], true],
    [[], false],
  ])('debug %j → %s', (argv, expected) => {
    expect(config(argv).debug).toBe(expected);
  });

  it('DEBUG env takes Go booleans', () => {
    expect(config([], { ...base, DEBUG: '1' }).debug).toBe(true);
    expect(problems([], { ...base, DEBUG: 'yes' })).toEqual(['invalid DEBUG "yes": not a boolean (true/false/1/0)']);
  });

  it('--take-ownership / TAKE_OWNERSHIP: off by default, Go booleans, a bad value named', () => {
    expect(config().takeOwnership).toBe(false);
    expect(config(['--take-ownership']).takeOwnership).toBe(true);
    expect(config([], { ...base, TAKE_OWNERSHIP: 'true' }).takeOwnership).toBe(true);
    expect(problems([], { ...base, TAKE_OWNERSHIP: 'always' })).toEqual(['invalid TAKE_OWNERSHIP "always": not a boolean (true/false/1/0)']);
  });

  it('--cluster-name / CLUSTER_NAME (read by doctor only): empty by default, flags win, up to 100 characters', () => {
    expect(config().clusterName).toBe('');
    expect(config([], { ...base, CLUSTER_NAME: ' my-cluster_01 ' }).clusterName).toBe('my-cluster_01');
    expect(config(['--cluster-name', 'Prod'], { ...base, CLUSTER_NAME: 'dev' }).clusterName).toBe('Prod');
    expect(config(['-cluster-name=0hybrid'], base).clusterName).toBe('0hybrid');
    expect(config([], { ...base, CLUSTER_NAME: 'a'.repeat(100) }).clusterName).toHaveLength(100);
    expect(config([], { ...base, CLUSTER_NAME: '' }).clusterName).toBe('');
  });

  it('--shards / SHARDS and --node-pod-cidr-mask-size / NODE_POD_CIDR_MASK_SIZE: integers, flags win', () => {
    expect(config([], { ...base, SHARDS: '2' }).shards).toBe(2);
    expect(config(['--shards', '4'], { ...base, SHARDS: '2' }).shards).toBe(4);
    expect(config(['-shards=8', '--node-pod-cidr-mask-size', '25'], { ...base, POD_CIDRS: '198.19.0.0/16' })).toMatchObject({ shards: 8, nodePodCidrMaskSize: 25 });
    expect(config([], { ...base, NODE_POD_CIDR_MASK_SIZE: ' 26 ' }).nodePodCidrMaskSize).toBe(26);
    // The POD_CIDRS stay as given: the split is the leader's business (machines/domain/shards.ts).
    expect(config([], { ...base, SHARDS: '2' }).podCIDRs).toEqual(['198.19.0.0/16']);
  });

  it('with shards > 1 the split is checked at start, naming the shard count and the offending CIDR', () => {
    expect(problems([], { ...base, SHARDS: '4', POD_CIDRS: '198.19.0.0/16,203.0.113.0/24' })).toEqual([
      `invalid SHARDS "4": pod CIDR 203.0.113.0/24 split into 4 parts gives /26 prefixes, longer than the hybrid nodes' pod CIDR size /24 (NODE_POD_CIDR_MASK_SIZE): the split must stay at or above each hybrid node's pod CIDR size`,
    ]);
    expect(problems(['--shards=2'], { ...base, NODE_POD_CIDR_MASK_SIZE: '16' })[0]).toMatch(/^invalid --shards "2": pod CIDR 198\.19\.0\.0\/16 split into 2 parts gives \/17 prefixes, longer than .* \/16/);
    const vpcs = '198.18.0.0/24,198.18.1.0/24,198.18.2.0/24';
    expect(problems([], { ...base, VPC_CIDR: vpcs, SHARDS: '3' })).toEqual([
      'invalid SHARDS "3": 3 VPC CIDRs × 4 parts (3 shards round up to a power of two) = 12 CiliumVTEPConfig endpoints; Cilium takes at most 8',
    ]);
    expect(config([], { ...base, VPC_CIDR: vpcs, SHARDS: '2' }).shards).toBe(2);
    // One shard: nothing is split, the mask is not consulted.
    expect(config([], { ...base, POD_CIDRS: '203.0.113.0/28', NODE_POD_CIDR_MASK_SIZE: '24' }).shards).toBe(1);
    expect(config([], { ...base, VPC_CIDR: Array.from({ length: 8 }, (_, i) => `198.18.${i}.0/24`).join(','), SHARDS: '1' }).vpcCIDRs).toHaveLength(8);
  });

  it('several VPC CIDRs are kept in order; more than 8 are refused', () => {
    expect(config([], { ...base, VPC_CIDR: '198.18.0.0/24, 198.18.1.0/24' }).vpcCIDRs).toEqual(['198.18.0.0/24', '198.18.1.0/24']);
    const nine = Array.from({ length: 9 }, (_, i) => `198.18.${i}.0/24`).join(',');
    expect(problems([], { ...base, VPC_CIDR: nine })[0]).toMatch(/9 VPC CIDRs given; Cilium's VTEP map takes at most 8/);
  });

  it('lease timings parse Go durations and must be ordered', () => {
    const c = config(['--leader-election-lease-duration=1500ms', '--leader-election-renew-deadline=1s', '--leader-election-retry-period=250ms']);
    expect([c.leaseDurationMs, c.renewDeadlineMs, c.retryPeriodMs]).toEqual([1500, 1000, 250]);
    expect(problems(['--leader-election-renew-deadline=3s'])).toEqual([
      'invalid --leader-election-renew-deadline "3s": must be below the lease duration (3s)',
    ]);
    expect(problems(['--leader-election-retry-period=1900ms'])).toEqual([
      'invalid --leader-election-retry-period "1900ms": must stay below the renew deadline (2s) with 1.2× jitter',
    ]);
    expect(problems(['--leader-election-lease-duration=3 seconds'])[0]).toBe(
      'invalid --leader-election-lease-duration "3 seconds": not a duration (e.g. "3s", "500ms", "1m30s")',
    );
  });

  it.each<[Record<string, string>, string[], string]>([
    [{ NODE_IP: '10.0.0.300' }, [], 'invalid NODE_IP "10.0.0.300": not an IPv4 address'],
    [{ NODE_IP: '2001:db8::1' }, [], 'invalid NODE_IP "2001:db8::1": not an IPv4 address'],
    [{ VPC_CIDR: '198.18.0.0' }, [], 'invalid VPC_CIDR "198.18.0.0": "198.18.0.0" is not an IPv4 CIDR (want a.b.c.d/n)'],
    [{ VPC_CIDR: '198.18.0.1/16' }, [], 'invalid VPC_CIDR "198.18.0.1/16": "198.18.0.1/16" has host bits set (did you mean 198.18.0.0/16?)'],
    [{ POD_CIDRS: '198.18.4.0/24' }, [], 'invalid POD_CIDRS "198.18.4.0/24": pod CIDR 198.18.4.0/24 overlaps the VPC CIDR 198.18.0.0/16'],
    [{ POD_CIDRS: '198.19.0.0/16,198.19.8.0/24' }, [], 'invalid POD_CIDRS "198.19.0.0/16,198.19.8.0/24": pod CIDRs 198.19.0.0/16 and 198.19.8.0/24 overlap'],
    [{ POD_CIDRS: '169.254.0.0/16' }, [], 'invalid POD_CIDRS "169.254.0.0/16": pod CIDR 169.254.0.0/16 overlaps link-local (169.254.0.0/16, IMDS included): no hybrid pod may have such an address'],
    [{ POD_CIDRS: '0.0.0.0/1' }, [], 'invalid POD_CIDRS "0.0.0.0/1": pod CIDR 0.0.0.0/1 overlaps "this network" (0.0.0.0/8): no hybrid pod may have such an address'],
    [{ ROUTE_TABLE_IDS: ' , ' }, [], 'invalid ROUTE_TABLE_IDS " , ": the route table list is empty'],
    [{ ROUTE_TABLE_IDS: 'rtb-12345' }, [], 'invalid ROUTE_TABLE_IDS "rtb-12345": "rtb-12345" is not a route table ID (want rtb- and 8 or 17 hex digits)'],
    [{}, ['--vxlan-vni', '0'], 'invalid --vxlan-vni "0": not a VNI (an integer from 1 to 16777215)'],
    [{ VXLAN_MTU: '9001.5' }, [], 'invalid VXLAN_MTU "9001.5": not an MTU (an integer from 68 to 65485)'],
    [{}, ['--vxlan-mtu', '67'], 'invalid --vxlan-mtu "67": not an MTU (an integer from 68 to 65485)'],
    [{ VXLAN_MTU: 'jumbo' }, [], 'invalid VXLAN_MTU "jumbo": not an MTU (an integer from 68 to 65485)'],
    [{}, ['--metrics-bind-address', 'localhost'], 'invalid --metrics-bind-address "localhost": want host:port or :port, or "0" to disable'],
    [{ AWS_REGION: 'us-west' }, [], 'invalid AWS_REGION "us-west": not an AWS region name (e.g. us-west-2)'],
    [{ AWS_INSTANCE_ID: 'i-xyz' }, [], 'invalid AWS_INSTANCE_ID "i-xyz": not an EC2 instance ID (want i- and 8 or 17 hex digits)'],
    [{ STATECHART_INSPECTOR: 'http://127.0.0.1:8080' }, [], 'invalid STATECHART_INSPECTOR "http://127.0.0.1:8080": not a ws:// or wss:// URL'],
    [{ LEADER_ELECTION_ID: 'Bad_Name' }, [], 'invalid LEADER_ELECTION_ID "Bad_Name": not a valid Kubernetes object name (lowercase DNS subdomain)'],
    [{ CLUSTER_NAME: 'my cluster' }, [], 'invalid CLUSTER_NAME "my cluster": not an EKS cluster name (1–100 letters, digits, "-" and "_", starting with a letter or digit)'],
    [{ CLUSTER_NAME: '-prod' }, [], 'invalid CLUSTER_NAME "-prod": not an EKS cluster name (1–100 letters, digits, "-" and "_", starting with a letter or digit)'],
    [{ CLUSTER_NAME: 'prod.eu-west-1' }, [], 'invalid CLUSTER_NAME "prod.eu-west-1": not an EKS cluster name (1–100 letters, digits, "-" and "_", starting with a letter or digit)'],
    [{ SHARDS: '0' }, [], 'invalid SHARDS "0": not a shard count (an integer from 1 to 8)'],
    [{ SHARDS: '9' }, [], 'invalid SHARDS "9": not a shard count (an integer from 1 to 8)'],
    [{ SHARDS: 'two' }, [], 'invalid SHARDS "two": not a shard count (an integer from 1 to 8)'],
    [{}, ['--shards', '1.5'], 'invalid --shards "1.5": not a shard count (an integer from 1 to 8)'],
    [{ NODE_POD_CIDR_MASK_SIZE: '0' }, [], 'invalid NODE_POD_CIDR_MASK_SIZE "0": not a prefix length (an integer from 1 to 32)'],
    [{ NODE_POD_CIDR_MASK_SIZE: '/24' }, [], 'invalid NODE_POD_CIDR_MASK_SIZE "/24": not a prefix length (an integer from 1 to 32)'],
    [{}, ['--node-pod-cidr-mask-size', '33'], 'invalid --node-pod-cidr-mask-size "33": not a prefix length (an integer from 1 to 32)'],
    [{}, ['--cluster-name', 'c'.repeat(101)], `invalid --cluster-name "${'c'.repeat(101)}": not an EKS cluster name (1–100 letters, digits, "-" and "_", starting with a letter or digit)`],
  ])('refuses %j %j with one clear line', (env, argv, message) => {
    expect(problems(argv, { ...base, ...env })).toEqual([message]);
  });

  it('names every missing required option at once', () => {
    expect(problems([], {})).toEqual([
      'missing --node-ip / NODE_IP: it is required',
      'missing --vpc-cidr / VPC_CIDR: it is required',
      'missing --pod-cidrs / POD_CIDRS: it is required',
      'missing --route-table-ids / ROUTE_TABLE_IDS: it is required',
    ]);
  });

  it('unknown flags are refused', () => {
    expect(problems(['--nodeip', '1.2.3.4'])[0]).toMatch(/Unknown option '--nodeip'/);
  });

  it('--help lists every option with its env var and default', () => {
    const out = parseConfig(['--help'], {});
    expect(out.kind).toBe('help');
    const text = out.kind === 'help' ? out.text : '';
    for (const o of OPTIONS) {
      expect(text).toContain(`--${o.flag}`);
      if (o.env) expect(text).toContain(`env ${o.env}`);
      if (o.defaultValue) expect(text).toContain(`default ${o.defaultValue}`);
    }
  });
});

describe("README's configuration table", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration\n') + 1));
  const rows = [...section.matchAll(/^\| (.+?) \| `--([a-z-]+)` \| (.+?) \| .+ \|$/gm)].map((m) => ({ variable: m[1], flag: m[2], defaultText: m[3] }));

  it('has one row per option, with its environment variable and default', () => {
    expect(rows.map((r) => r.flag).sort()).toEqual(OPTIONS.map((o) => o.flag).sort());
    for (const o of OPTIONS) {
      const row = rows.find((r) => r.flag === o.flag)!;
      expect(row.variable, o.flag).toBe(o.env ? `\`${o.env}\`` : '—');
      if (o.required) expect(row.defaultText, o.flag).toBe('**required**');
      else if (o.defaultValue !== undefined) expect(row.defaultText, o.flag).toBe(`\`${o.defaultValue}\``);
    }
  });
});

describe('Go durations', () => {
  it.each([
    ['3s', 3000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['2h', 7_200_000],
    ['0', 0],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '3', 's', '3 s', '3sec', '-1s', '1s2'])('%j is refused', (text) => expect(parseDuration(text)).toBeUndefined());
});
