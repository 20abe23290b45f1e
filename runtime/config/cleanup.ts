// `cleanup`'s options: the gateway's names and environment variables for what
// it shares with the gateway (the chart's hook gives it the gateway's
// configuration), and its own few. Pure, as parse.ts: every problem found,
// one line each naming the option and the value (ConfigError, exit 2).
import { parseArgs } from 'node:util';
import { parseCidr } from '../../machines/domain/ipv4.js';
import { DNS_LABEL, DNS_SUBDOMAIN, GO_BOOL, normaliseArgv, optionRows, rawValues, REGION, ROUTE_TABLE_ID, splitList, type Env } from './common.js';
import { parseDuration } from './duration.js';
import type { OptionSpec } from './options.js';
import { ConfigError } from './parse.js';

export const CLEANUP_OPTIONS: readonly OptionSpec[] = [
  { flag: 'pod-cidrs', env: 'POD_CIDRS', valueName: 'cidrs', required: true, help: 'The hybrid pod CIDRs the gateway routes: only routes for these are looked at' },
  { flag: 'route-table-ids', env: 'ROUTE_TABLE_IDS', valueName: 'ids', required: true, help: 'The VPC route tables the gateway programs (rtb-…)' },
  { flag: 'leader-election-id', env: 'LEADER_ELECTION_ID', valueName: 'name', defaultValue: 'hybrid-gateway-leader', help: "The installation's Lease: its gateway ENIs are recorded there, and it names the CiliumVTEPConfig's owner" },
  {
    flag: 'shards',
    env: 'SHARDS',
    valueName: 'n',
    defaultValue: '1',
    help: "The gateway's --shards: with more than one, its shard Leases <id>-0 … <id>-N-1 are taken too, their ENIs read, and each shard's part of the pod CIDRs looked at",
  },
  { flag: 'leader-election-namespace', env: 'POD_NAMESPACE', valueName: 'namespace', help: "Namespace of the Lease (default: the pod's own namespace, else \"default\")" },
  { flag: 'aws-region', env: 'AWS_REGION', valueName: 'region', help: 'AWS region (from IMDS placement/region if not set)' },
  { flag: 'pod-name', env: 'POD_NAME', valueName: 'name', help: 'This pod’s name: cleanup holds the Lease as cleanup/<name> (default: hostname)' },
  { flag: 'kubeconfig', env: 'KUBECONFIG', valueName: 'path', help: 'kubeconfig file (default: in-cluster service account)' },
  { flag: 'dry-run', valueName: 'bool', defaultValue: 'false', boolean: true, help: 'Print what would be deleted and why, and change nothing (the Lease is not taken)' },
  {
    flag: 'hold-lease',
    valueName: 'duration',
    defaultValue: '10m',
    help: 'How long cleanup holds the Lease: the gateways stand by meanwhile, so none re-creates what it deleted (Helm deletes them right after the hook)',
  },
  {
    flag: 'late-write-window',
    valueName: 'duration',
    defaultValue: '10s',
    help: 'After taking the Lease, wait the last leader’s lease duration plus this before reading the route tables: a write it sent before stepping down may land this late (the EC2 request timeout)',
  },
];

export interface CleanupConfig {
  readonly podCIDRs: readonly string[];
  readonly routeTableIDs: readonly string[];
  readonly leaderElectionID: string;
  /** The gateway's --shards (1: the Lease alone and POD_CIDRS as given). */
  readonly shards: number;
  readonly leaderElectionNamespace: string | undefined;
  readonly awsRegion: string | undefined;
  readonly podName: string | undefined;
  readonly kubeconfig: string | undefined;
  readonly dryRun: boolean;
  readonly holdLeaseMs: number;
  readonly lateWriteWindowMs: number;
}

export type CleanupParseOutcome = { kind: 'help'; text: string } | { kind: 'config'; config: CleanupConfig };

export function cleanupHelpText(program = 'eks-hybrid-gateway'): string {
  return [
    `Usage: ${program} cleanup [flags]`,
    '',
    "Uninstall: deletes the VPC routes for the pod CIDRs that point at one of this installation's gateway ENIs",
    "(as its leaders recorded them on its Lease) and the CiliumVTEPConfig this installation owns; everything",
    'else is left, and said why. It holds the Lease first, so no gateway re-creates what it deletes.',
    'Exit 0 when done (also when there was nothing to do), 1 when something could not be read or deleted, 2 on bad flags.',
    '',
    ...optionRows(CLEANUP_OPTIONS),
    `  ${'--help'.padEnd(46)} Show this help`,
    '',
  ].join('\n');
}

export function parseCleanupConfig(argv: readonly string[], env: Env): CleanupParseOutcome {
  const problems: string[] = [];
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: normaliseArgv(argv, CLEANUP_OPTIONS),
      options: { ...Object.fromEntries(CLEANUP_OPTIONS.map((o) => [o.flag, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError([`cleanup: ${(err as Error).message.split('\n')[0] ?? String(err)}`]);
  }
  if (values.help === true) return { kind: 'help', text: cleanupHelpText() };

  const raw = rawValues(CLEANUP_OPTIONS, values, env, problems);
  const get = (flag: string): string | undefined => raw.get(flag)?.value.trim();
  const bad = (flag: string, reason: string): void => {
    const r = raw.get(flag);
    problems.push(`invalid ${r?.from ?? `--${flag}`} "${r?.value ?? ''}": ${reason}`);
  };

  const podCIDRs: string[] = [];
  const pods = get('pod-cidrs');
  if (pods !== undefined) {
    const items = splitList(pods);
    if (items.length === 0) bad('pod-cidrs', 'no pod CIDR given');
    for (const item of items) {
      const p = parseCidr(item);
      if (!p.ok) bad('pod-cidrs', p.error);
      else if (!podCIDRs.includes(p.value.text)) podCIDRs.push(p.value.text);
    }
  }
  const routeTableIDs: string[] = [];
  const tables = get('route-table-ids');
  if (tables !== undefined) {
    const ids = splitList(tables);
    if (ids.length === 0) bad('route-table-ids', 'the route table list is empty');
    for (const id of ids) {
      if (!ROUTE_TABLE_ID.test(id)) bad('route-table-ids', `"${id}" is not a route table ID (want rtb- and 8 or 17 hex digits)`);
      else if (!routeTableIDs.includes(id)) routeTableIDs.push(id);
    }
  }
  const leaderElectionID = get('leader-election-id') ?? '';
  if (!DNS_SUBDOMAIN.test(leaderElectionID)) bad('leader-election-id', 'not a valid Kubernetes object name (lowercase DNS subdomain)');
  const shardsText = get('shards') ?? '1';
  const shards = /^[1-8]$/.test(shardsText.trim()) ? Number(shardsText.trim()) : NaN;
  if (Number.isNaN(shards)) bad('shards', 'not a whole number from 1 to 8');
  const ns = get('leader-election-namespace');
  if (ns !== undefined && !DNS_LABEL.test(ns)) bad('leader-election-namespace', 'not a valid namespace name');
  const region = get('aws-region');
  if (region !== undefined && !REGION.test(region)) bad('aws-region', 'not an AWS region name (e.g. us-west-2)');
  const dryRun = GO_BOOL[get('dry-run') ?? 'false'];
  if (dryRun === undefined) bad('dry-run', 'not a boolean (true/false/1/0)');
  const duration = (flag: string, min: number): number => {
    const ms = parseDuration(get(flag) ?? '');
    if (ms === undefined) bad(flag, 'not a duration (e.g. "10s", "10m")');
    else if (ms < min) bad(flag, `must be at least ${min / 1000}s`);
    return ms ?? NaN;
  };
  const holdLeaseMs = duration('hold-lease', 60_000);
  const lateWriteWindowMs = duration('late-write-window', 0);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kind: 'config',
    config: {
      podCIDRs,
      routeTableIDs,
      leaderElectionID,
      shards: Number.isNaN(shards) ? 1 : shards,
      leaderElectionNamespace: ns,
      awsRegion: region,
      podName: get('pod-name') || undefined,
      kubeconfig: raw.get('kubeconfig')?.value,
      dryRun: dryRun === true,
      holdLeaseMs,
      lateWriteWindowMs,
    },
  };
}
