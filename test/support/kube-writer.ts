// A Kubernetes client inside a namespace (started by NetnsRun.spawnNode with
// the kubeconfig path as argv[2]): writes CiliumNodes through the stand-in's
// HTTP API, so every write meets what a real client meets there — decoding,
// pruning, defaulting, CRD validation (422), 409 on a name taken — and the
// test learns the status of each. lab/kube-http.ts, not the gateway's client.
//
// IPC requests {id, op: 'writes', writes: Write[], parallel?} → {id, ok, value: Result[]},
// done one after the other in the given order (parallel: all at once, as many
// clients would; an apply may then meet 409 from a write between its GET and PUT):
//   {verb: 'apply', body}   create, or replace the current object (PUT with its resourceVersion)
//   {verb: 'create', body}  POST only (409 when the name is taken)
//   {verb: 'delete', name}  DELETE (404 when absent)
import { kubeRequest, readKubeconfig } from '../../lab/kube-http.js';

export type Write = { verb: 'apply' | 'create'; body: Record<string, unknown> & { metadata: { name: string; [k: string]: unknown } } } | { verb: 'delete'; name: string };

export interface Result {
  readonly status: number;
  /** The Status reason of a failure (Invalid, AlreadyExists, NotFound, …). */
  readonly reason?: string;
  readonly message?: string;
}

const PATH = '/apis/cilium.io/v2/ciliumnodes';
const target = readKubeconfig(process.argv[2] ?? '');

async function one(w: Write): Promise<Result> {
  const out = (r: { status: number; body: Record<string, unknown> }): Result =>
    r.status >= 200 && r.status < 300
      ? { status: r.status }
      : { status: r.status, reason: typeof r.body.reason === 'string' ? r.body.reason : '', message: typeof r.body.message === 'string' ? r.body.message.slice(0, 300) : '' };
  if (w.verb === 'delete') return out(await kubeRequest(target, 'DELETE', `${PATH}/${w.name}`));
  if (w.verb === 'create') return out(await kubeRequest(target, 'POST', PATH, w.body));
  const name = w.body.metadata.name;
  const cur = await kubeRequest(target, 'GET', `${PATH}/${name}`);
  if (cur.status === 404) return out(await kubeRequest(target, 'POST', PATH, w.body));
  const rv = (cur.body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
  return out(await kubeRequest(target, 'PUT', `${PATH}/${name}`, { ...w.body, metadata: { ...w.body.metadata, resourceVersion: rv } }));
}

process.on('message', (raw: unknown) => {
  const m = raw as { id: number; op: 'writes'; writes: Write[]; parallel?: boolean };
  void (async () => {
    try {
      const results: Result[] = [];
      if (m.parallel === true) results.push(...(await Promise.all(m.writes.map(one))));
      else for (const w of m.writes) results.push(await one(w));
      process.send?.({ id: m.id, ok: true, value: results });
    } catch (err) {
      process.send?.({ id: m.id, ok: false, error: (err as Error).message });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.send?.({ ready: true });
