// Runs the kube-apiserver stand-in on its own (for the lab and for poking at it
// with kubectl):
//   npx tsx lab/kube-apiserver/main.ts [--host 127.0.0.1] [--port 0] [--kubeconfig PATH] [--token T]
// Prints one JSON line {"url", "kubeconfig"} on stdout once listening; stops on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startKubeApiServer } from './index.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    kubeconfig: { type: 'string' },
    token: { type: 'string' },
    'bookmark-interval-ms': { type: 'string', default: '1000' },
    'history-limit': { type: 'string', default: '1000' },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`kube-apiserver: --port must be 0..65535 (got ${values.port})\n`);
  process.exit(2);
}
const server = await startKubeApiServer({
  host: values.host,
  port,
  token: values.token,
  bookmarkIntervalMs: Number(values['bookmark-interval-ms']),
  historyLimit: Number(values['history-limit']),
});
const kubeconfig = values.kubeconfig !== undefined ? server.writeKubeconfig(values.kubeconfig) : server.kubeconfigPath;
process.stdout.write(`${JSON.stringify({ url: server.url, kubeconfig })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
