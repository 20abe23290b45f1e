// `cleanup`'s options: the gateway's names and environment variables for what
// it shares (the chart's hook passes the gateway's environment), its own few,
// every problem on its own line naming the option and the value.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/parse.js';
import { cleanupHelpText, parseCleanupConfig, type CleanupConfig } from '../../runtime/config/cleanup.js';

const ENV = { POD_CIDRS: '198.19.0.0/17, 198.19.128.0/17', ROUTE_TABLE_IDS: 'rtb-0000000a,rtb-0123456789abcdef0,rtb-0000000a' };

function parse(argv: string[], env: Record<string, string> = ENV): CleanupConfig {
  const o = parseCleanupConfig(argv, env);
  if (o.kind !== 'config') throw new Error('help');
  return o.config;
}

function problems(argv: string[], env: Record<string, string> = ENV): readonly string[] {
  try {
    parseCleanupConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('no problem found');
}

describe('cleanup configuration', () => {
  it('defaults, and the gateway’s environment variables', () => {
    expect(parse([], { ...ENV, POD_NAMESPACE: 'gateway', AWS_REGION: 'us-west-2', POD_NAME: 'gw-cleanup-x', LEADER_ELECTION_ID: 'my-lease', VPC_CIDR: 'ignored', NODE_IP: 'ignored' })).toEqual({
      podCIDRs: ['198.19.0.0/17', '198.19.128.0/17'],
      routeTableIDs: ['rtb-0000000a', 'rtb-0123456789abcdef0'],
      leaderElectionID: 'my-lease',
      shards: 1,
      leaderElectionNamespace: 'gateway',
      awsRegion: 'us-west-2',
      podName: 'gw-cleanup-x',
      kubeconfig: undefined,
      dryRun: false,
      holdLeaseMs: 600_000,
      lateWriteWindowMs: 10_000,
    });
  });

  it('SHARDS: the gateway’s shard count, 1 to 8; anything else stops it naming the value', () => {
    expect(parse([], { ...ENV, SHARDS: '4' }).shards).toBe(4);
    expect(parse(['--shards', '2'], { ...ENV, SHARDS: '4' }).shards).toBe(2);
    for (const v of ['0', '9', 'two', '1.5']) expect(problems([], { ...ENV, SHARDS: v }).join('\n')).toMatch(new RegExp(`SHARDS "${v.replace('.', '\\.')}": not a whole number from 1 to 8`));
  });

  it('flags win over the environment; Go-style -flag and a bare boolean work', () => {
    const c = parse(['-dry-run', '--route-table-ids=rtb-0000000b', '--hold-lease', '1m30s', '--late-write-window=0'], ENV);
    expect(c).toMatchObject({ dryRun: true, routeTableIDs: ['rtb-0000000b'], holdLeaseMs: 90_000, lateWriteWindowMs: 0 });
    expect(parse(['--dry-run', 'false']).dryRun).toBe(false);
  });

  it('every problem at once, each naming the option and the value', () => {
    expect(problems(['--aws-region=us-west-2a', '--hold-lease=10', '--leader-election-namespace=Kube_System'], { POD_CIDRS: '198.19.0.1/16', ROUTE_TABLE_IDS: '' })).toEqual([
      'missing --route-table-ids / ROUTE_TABLE_IDS: it is required',
      'invalid POD_CIDRS "198.19.0.1/16": "198.19.0.1/16" has host bits set (did you mean 198.19.0.0/16?)',
      'invalid --leader-election-namespace "Kube_System": not a valid namespace name',
      'invalid --aws-region "us-west-2a": not an AWS region name (e.g. us-west-2)',
      'invalid --hold-lease "10": not a duration (e.g. "10s", "10m")',
    ]);
    expect(problems(['--take-ownership'])).toEqual([expect.stringContaining("cleanup: Unknown option '--take-ownership'")]);
    expect(problems(['extra'])).toEqual([expect.stringContaining('cleanup: Unexpected argument')]);
  });

  it('--help lists every option with its variable and default', () => {
    expect(parseCleanupConfig(['--help'], {})).toEqual({ kind: 'help', text: cleanupHelpText() });
    const text = cleanupHelpText();
    for (const s of ['--pod-cidrs <cidrs>', 'env POD_CIDRS, required', '--dry-run[=bool]', 'default 10m', 'default 10s', 'env LEADER_ELECTION_ID, default hybrid-gateway-leader']) expect(text).toContain(s);
  });
});
