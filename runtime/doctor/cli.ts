// `doctor`: a read-only look at everything the gateway depends on, with the
// gateway's own configuration (flags and env, --kubeconfig). It needs what the
// checks compare against (VPC_CIDR, POD_CIDRS, ROUTE_TABLE_IDS, VXLAN_VNI, the
// Lease's name and namespace) but not NODE_IP, which only the data plane needs:
// the leader's address is read from the cluster (its pod's host IP). Nothing is
// written. Exit 0 when every check passed or warned, 1 when one failed, 2 on
// bad usage (one line per problem, naming the value).
import { hostname } from 'node:os';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
import { createEc2Client, ImdsClient } from '../../effects/aws/index.js';
import { createEksClient } from '../../effects/aws/eks-client.js';
import { kubeClients, loadKubeConfig, type KubeClients } from '../../effects/kube/index.js';
import { ConfigError, parseConfig, type GatewayConfig } from '../config/parse.js';
import { helpText } from '../config/options.js';
import { leaseNamespace } from '../wiring/host.js';
import type { DoctorContext } from './check.js';
import { CHECKS } from './registry.js';
import { exitCode, renderJson, renderText, runChecks } from './report.js';

export type OutputFormat = 'text' | 'json';

export interface DoctorIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Options of doctor itself, taken out before the gateway's parser sees the rest. */
export function splitDoctorArgs(argv: readonly string[]): { output: OutputFormat; rest: string[] } | { error: string } {
  let output: OutputFormat = 'text';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] as string;
    const m = /^--?output(?:=(.*))?$/.exec(a) ?? /^-o(?:=(.*))?$/.exec(a);
    if (m === null) {
      rest.push(a);
      continue;
    }
    let v = m[1];
    if (v === undefined) {
      v = argv[i + 1];
      i += 1;
    }
    if (v !== 'text' && v !== 'json') return { error: `invalid --output "${v ?? ''}": want text or json` };
    output = v;
  }
  return { output, rest };
}

export function doctorHelp(): string {
  return [
    'Usage: eks-hybrid-gateway doctor [--output text|json] [gateway flags]',
    '',
    "Read-only checks of what the gateway depends on, with the gateway's own flags and environment",
    '(--node-ip / NODE_IP is not needed). Exit 0: all passed or warned; 1: a check failed; 2: bad usage.',
    '',
    'Checks:',
    ...CHECKS.map((c) => `  ${c.name.padEnd(26)} ${c.title}`),
    '',
    helpText('eks-hybrid-gateway doctor').split('\n').slice(4).join('\n'),
  ].join('\n');
}

/**
 * The gateway's AWS region: --aws-region / AWS_REGION, else IMDS (placement/region, as the
 * gateway finds it). The clients take endpoint and credentials from the SDK's chain
 * (AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_EKS, env, IRSA, Pod Identity, IMDS), SDK retries off.
 */
async function doctorRegion(config: GatewayConfig): Promise<string> {
  if (config.awsRegion !== undefined) return config.awsRegion;
  try {
    return (await new ImdsClient({ timeoutMs: 1000 }).get('placement/region', AbortSignal.timeout(3000))).trim();
  } catch (err) {
    throw new Error(`no AWS region: --aws-region / AWS_REGION is not set and IMDS did not answer (${(err as Error).message})`, { cause: err });
  }
}

export interface DoctorDeps {
  readonly nowMs?: () => number;
  readonly ec2?: () => Promise<EC2Client>;
  readonly eks?: () => Promise<EKSClient>;
}

/** What the checks read through: the configuration, the clients, and one read per key per run. */
export function doctorContext(config: GatewayConfig, clients: KubeClients, deps: DoctorDeps = {}): DoctorContext {
  const memo = new Map<string, Promise<unknown>>();
  let region: Promise<string> | undefined;
  const regionOnce = (): Promise<string> => (region ??= doctorRegion(config));
  let ec2: Promise<EC2Client> | undefined;
  let eks: Promise<EKSClient> | undefined;
  return {
    ec2: () => (ec2 ??= deps.ec2 !== undefined ? deps.ec2() : regionOnce().then((r) => createEc2Client({ region: r }))),
    eks: () => (eks ??= deps.eks !== undefined ? deps.eks() : regionOnce().then((r) => createEksClient({ region: r }))),
    config: { ...config, podName: config.podName ?? hostname() },
    clients,
    namespace: leaseNamespace(config),
    nowMs: deps.nowMs ?? Date.now,
    memo: <T>(key: string, read: () => Promise<T>): Promise<T> => {
      let p = memo.get(key) as Promise<T> | undefined;
      if (p === undefined) {
        p = read();
        memo.set(key, p);
      }
      return p;
    },
  };
}

export async function doctorMain(argv: readonly string[], env: NodeJS.ProcessEnv, io: DoctorIO): Promise<number> {
  const split = splitDoctorArgs(argv);
  if ('error' in split) {
    io.stderr(`doctor: ${split.error}\n`);
    return 2;
  }
  let config: GatewayConfig;
  try {
    const outcome = parseConfig(split.rest, env, { optional: ['node-ip'] });
    if (outcome.kind === 'help') {
      io.stdout(doctorHelp());
      return 0;
    }
    config = outcome.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.stderr(`doctor: config: ${p}\n`);
      io.stderr('run doctor --help for the list of options\n');
      return 2;
    }
    throw err;
  }
  let clients: KubeClients;
  try {
    clients = kubeClients(loadKubeConfig(config.kubeconfig));
  } catch (err) {
    io.stderr(`doctor: cannot load the kubeconfig${config.kubeconfig ? ` "${config.kubeconfig}"` : ''}: ${(err as Error).message}\n`);
    return 2;
  }
  const report = await runChecks(CHECKS, doctorContext(config, clients));
  io.stdout(split.output === 'json' ? renderJson(report) : renderText(report));
  return exitCode(report);
}
