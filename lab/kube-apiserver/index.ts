// startKubeApiServer(): the lab's kube-apiserver stand-in on 127.0.0.1 (port 0
// → a free port), with a kubeconfig file for kubectl and client-node.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Faults } from './faults.js';
import { KubeApiHttpServer, type RequestRecord, type ServerOptions } from './server.js';
import { Store, type StoreOptions } from './store.js';

export { ApiError } from './errors.js';
export { LOADED_API_SERVER_LATENCY, type DelayRecord, type FaultConfig, type LatencyMix, type LatencySpec, type OutageMode, type RequestInfo } from './faults.js';
export { RESOURCES, resourceByPlural, type KObj, type ResourceDef } from './resources.js';
export { requestOrigin, type RequestRecord, type ServerOptions } from './server.js';
export { Store, type StoreEvent, type StoreOptions } from './store.js';
export { crdObject } from './structural.js';

export interface KubeApiServerOptions extends ServerOptions, StoreOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: the kernel picks a free port. */
  port?: number;
  /** Default namespace written into the kubeconfig's context (default "default"). */
  namespace?: string;
}

export interface KubeApiServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** A kubeconfig (cluster `lab`, context `lab`) written to a temp dir that close() removes. */
  readonly kubeconfigPath: string;
  /** The same kubeconfig as YAML text. */
  readonly kubeconfigYaml: string;
  /** Direct access to the objects, their history and change events. */
  readonly store: Store;
  readonly faults: Faults;
  /** Every handled request (bounded), newest last. */
  readonly requests: readonly RequestRecord[];
  readonly openWatches: number;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** Writes another copy of the kubeconfig (e.g. for a process in a netns) and returns its path. */
  writeKubeconfig(path: string): string;
  close(): Promise<void>;
}

function kubeconfig(url: string, namespace: string, token: string | undefined): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: lab',
    '  cluster:',
    `    server: ${url}`,
    // client-node refuses plain http unless skipTLSVerify is set; kubectl accepts it too.
    '    insecure-skip-tls-verify: true',
    'contexts:',
    '- name: lab',
    '  context:',
    '    cluster: lab',
    '    user: lab',
    `    namespace: ${namespace}`,
    'current-context: lab',
    'preferences: {}',
    'users:',
    '- name: lab',
    token === undefined ? '  user: {}' : `  user:\n    token: ${token}`,
    '',
  ].join('\n');
}

export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const store = new Store(opts);
  const http = new KubeApiHttpServer(store, opts);
  const host = opts.host ?? '127.0.0.1';
  const addr = await http.listen(host, opts.port ?? 0);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  const yaml = kubeconfig(url, opts.namespace ?? 'default', opts.token);
  const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-lab-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, yaml, { mode: 0o600 });
  let closed = false;
  return {
    url,
    port: addr.port,
    kubeconfigPath,
    kubeconfigYaml: yaml,
    store,
    faults: http.faults,
    get requests() {
      return http.requests;
    },
    get openWatches() {
      return http.openWatches;
    },
    get inFlight() {
      return http.inFlight;
    },
    writeKubeconfig(path: string): string {
      writeFileSync(path, yaml, { mode: 0o600 });
      return path;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await http.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
