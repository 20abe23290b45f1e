// A kubelet-like prober inside a gateway's namespace (started by
// NetnsRun.spawnNode with {url, everyMs, timeoutMs} as JSON in argv[2]): GETs
// /healthz every `everyMs` with the chart's probe timeout, and keeps each
// answer's start, duration and status. The benchmark asks it over IPC:
//   report {fromMs, toMs}  longest answer (a timeout counts as the timeout), failures, probes
//   get {url}              one GET (e.g. /metrics), the body
import { httpGet } from '../http-probe.js';

interface Options {
  readonly url: string;
  readonly everyMs: number;
  readonly timeoutMs: number;
}

interface Probe {
  readonly atMs: number;
  readonly ms: number;
  readonly status: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const epoch = (): number => performance.timeOrigin + performance.now();
const probes: Probe[] = [];

async function loop(): Promise<void> {
  for (;;) {
    const atMs = epoch();
    const r = await httpGet(opts.url, opts.timeoutMs);
    const ms = Math.min(epoch() - atMs, opts.timeoutMs);
    probes.push({ atMs, ms, status: r.status });
    await new Promise((res) => setTimeout(res, Math.max(0, opts.everyMs - ms)));
  }
}

process.on('message', (raw: unknown) => {
  const m = raw as { id: number; op: 'report'; fromMs: number; toMs: number } | { id: number; op: 'get'; url: string };
  if (m.op === 'report') {
    // From the first answer on: before it the server is not listening yet (refused), which is start-up, not a failure.
    const first = probes.findIndex((p) => p.status !== 0);
    const seen = first < 0 ? [] : probes.slice(first).filter((p) => p.atMs >= m.fromMs && p.atMs <= m.toMs);
    process.send?.({
      id: m.id,
      ok: true,
      value: { probes: seen.length, failures: seen.filter((p) => p.status !== 200).length, maxMs: Math.max(0, ...seen.map((p) => p.ms)) },
    });
  } else {
    void httpGet(m.url, 10_000).then((r) => process.send?.({ id: m.id, ok: true, value: r }));
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
void loop();
process.send?.({ ready: true });
