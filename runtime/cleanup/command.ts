// `eks-hybrid-gateway cleanup [flags]`: configuration (exit 2 on bad input,
// --help exits 0), the clients, then runCleanup (run.ts). Exit 0 when done,
// nothing to do included; 1 when something could not be read or deleted, with
// a line naming the cause.
import { hostname } from 'node:os';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { CLEANUP_HOLDER_PREFIX } from '../../machines/domain/cleanup.js';
import { createEc2Client, discoverRegion } from '../../effects/aws/index.js';
import { kubeClients, loadKubeConfig, type KubeClients } from '../../effects/kube/index.js';
import { parseCleanupConfig, type CleanupConfig } from '../config/cleanup.js';
import type { Env } from '../config/common.js';
import { ConfigError } from '../config/parse.js';
import { leaseNamespace } from '../wiring/host.js';
import { runCleanup } from './run.js';

export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Test seams: the clients, instead of the kubeconfig and the SDK's defaults. */
  readonly clients?: (config: CleanupConfig) => KubeClients;
  readonly ec2?: (region: string) => EC2Client;
}

const PROCESS_IO: CommandIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function cleanupCommand(argv: readonly string[], env: Env, io: CommandIo = PROCESS_IO): Promise<number> {
  let config: CleanupConfig;
  try {
    const outcome = parseCleanupConfig(argv, env);
    if (outcome.kind === 'help') {
      io.stdout(outcome.text);
      return 0;
    }
    config = outcome.config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.stderr(`config: ${p}\n`);
    io.stderr('run with cleanup --help for the list of options\n');
    return 2;
  }
  const out = (line: string): void => io.stdout(`${line}\n`);
  try {
    let region = config.awsRegion;
    if (region === undefined) {
      try {
        region = await discoverRegion({ env });
      } catch (err) {
        throw new Error(`the AWS region is not set and IMDS did not give it (${message(err)}): set --aws-region / AWS_REGION (chart value awsRegion)`, { cause: err });
      }
    }
    const clients = io.clients?.(config) ?? kubeClients(loadKubeConfig(config.kubeconfig));
    const ec2 = io.ec2?.(region) ?? createEc2Client({ region });
    const identity = `${CLEANUP_HOLDER_PREFIX}${config.podName ?? hostname()}`;
    const result = await runCleanup(config, { clients, ec2, namespace: leaseNamespace(config), identity, out });
    return result.ok ? 0 : 1;
  } catch (err) {
    io.stderr(`cleanup failed: ${message(err)}\n`);
    return 1;
  }
}
