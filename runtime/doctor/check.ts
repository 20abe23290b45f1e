// What one doctor check is: a name, what it reads, a thin gather step (the only
// I/O) and a pure judge of what was gathered. The judge is what the tests pin
// down without a cluster; gather is tested against the lab's stand-ins.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { KubeClients } from '../../effects/kube/index.js';
import type { GatewayConfig } from '../config/parse.js';

export type Status = 'pass' | 'warn' | 'fail';

export interface Verdict {
  readonly status: Status;
  /** What the check saw, in one or a few lines. */
  readonly saw: string;
  /** What to do about it; '' when there is nothing to do. */
  readonly fix: string;
}

export interface DoctorContext {
  readonly config: GatewayConfig;
  readonly clients: KubeClients;
  /** The Lease's namespace (the gateway's own rule: flag/env, service account, "default"). */
  readonly namespace: string;
  readonly nowMs: () => number;
  /** The EC2 client, made on first use (region: --aws-region / AWS_REGION, else IMDS); rejects when it cannot be. */
  ec2(): Promise<EC2Client>;
  /** The EKS client, made on first use, in the same region as ec2(). */
  eks(): Promise<EKSClient>;
  /** Reads shared by several checks are made once per run. */
  memo<T>(key: string, read: () => Promise<T>): Promise<T>;
}

export interface Check<F> {
  /** Stable, dotted: the README's troubleshooting section is keyed by it. */
  readonly name: string;
  /** One line: what passing means. */
  readonly title: string;
  /** The objects or API calls the check reads. */
  readonly reads: string;
  gather(ctx: DoctorContext): Promise<F>;
  judge(facts: F): Verdict;
  /** The fix when gather itself failed (default: the Kubernetes access advice). */
  readonly readFix?: string;
}

/** A check as the registry holds it: its facts' type erased behind run(). */
export interface RegisteredCheck {
  readonly name: string;
  readonly title: string;
  readonly reads: string;
  readonly readFix: string | undefined;
  run(ctx: DoctorContext): Promise<Verdict>;
}

export function register<F>(c: Check<F>): RegisteredCheck {
  return { name: c.name, title: c.title, reads: c.reads, readFix: c.readFix, run: async (ctx) => c.judge(await c.gather(ctx)) };
}

export const pass = (saw: string): Verdict => ({ status: 'pass', saw, fix: '' });
export const warn = (saw: string, fix: string): Verdict => ({ status: 'warn', saw, fix });
export const fail = (saw: string, fix: string): Verdict => ({ status: 'fail', saw, fix });
