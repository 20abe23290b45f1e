// /healthz and /readyz on :8088, and /metrics on :10080.
//
// /healthz (liveness): the process answers and its event loop is not stuck:
//   500 when the event loop's worst delay over the last window exceeds the
//   limit (a wedged loop cannot answer at all, so the probe's timeout covers
//   the fully stuck case).
// /readyz (readiness): 200 only when every readiness check passes: the VXLAN
//   device is up, the CiliumNode informer has synced, and the data plane has
//   converged at least once. Otherwise 503 with the failing checks. Nodes whose
//   entries the kernel refused do not make the pod unready (the others are
//   forwarded): they are listed in the body (`refusedNodes`, at most 50, and
//   `refusedCount`), and retried on every sweep.
// Both answer JSON with each check's state; `?verbose` is accepted for
// kubectl-style callers and changes nothing.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { BindAddress } from './config/parse.js';
import { EventLoopWatch } from './event-loop.js';

export { EventLoopWatch } from './event-loop.js';

export interface ReadinessChecks {
  vxlanUp: boolean;
  informerSynced: boolean;
  dataPlaneConverged: boolean;
}

export interface RefusedNode {
  readonly node: string;
  readonly reason: string;
}

export interface HealthState {
  readiness(): ReadinessChecks;
  /** Nodes the kernel refused, not programmed since. */
  refusedNodes?(): readonly RefusedNode[];
}

/** The readiness checks that do not pass, by name: /readyz is 200 only when there are none. */
export function failingChecks(checks: ReadinessChecks): string[] {
  return Object.entries(checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
}

/** The refused nodes shown in a /readyz body. */
const REFUSED_SHOWN = 50;

function listen(server: Server, bind: BindAddress): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function startHealthServer(bind: BindAddress, state: HealthState, opts: { maxEventLoopDelayMs?: number; loop?: EventLoopWatch } = {}) {
  const loop = opts.loop ?? new EventLoopWatch();
  const maxDelay = opts.maxEventLoopDelayMs ?? 5000;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (path === '/healthz' || path === '/livez') {
      const delay = Math.round(loop.worstDelayMs());
      const ok = delay <= maxDelay;
      reply(ok ? 200 : 500, { status: ok ? 'ok' : 'event loop stalled', eventLoopDelayMs: delay, limitMs: maxDelay });
    } else if (path === '/readyz') {
      const checks = state.readiness();
      const failing = failingChecks(checks);
      const refused = state.refusedNodes?.() ?? [];
      reply(failing.length === 0 ? 200 : 503, {
        status: failing.length === 0 ? 'ok' : 'not ready',
        checks,
        failing,
        refusedCount: refused.length,
        refusedNodes: refused.slice(0, REFUSED_SHOWN),
      });
    } else {
      reply(404, { status: 'not found' });
    }
  });
  return listen(server, bind).then((s) => ({ server: s, loop }));
}

export function startMetricsServer(bind: BindAddress, registry: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry
      .metrics()
      .then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics collection failed: ${String(err)}\n`);
      });
  });
  return listen(server, bind);
}
