// Runs inside a network namespace (started by NetnsRun.spawnNode): opens the
// data plane there and serves its methods over the IPC channel, one JSON-ish
// (advanced serialization) message per call:
//   → { id, method, args }     ← { id, ok: true, value } | { id, ok: false, error }
// An options argument { aborted: true } becomes { signal: <aborted signal> },
// so tests can check write fencing across the process boundary.
import { openDataPlane, NetlinkError } from '../../effects/netlink/index.js';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

const dp = openDataPlane();

function revive(arg: unknown): unknown {
  if (typeof arg === 'object' && arg !== null && (arg as { aborted?: unknown }).aborted === true) {
    const { aborted: _aborted, ...rest } = arg as Record<string, unknown>;
    return { ...rest, signal: AbortSignal.abort(new Error('fenced by test')) };
  }
  return arg;
}

function errorOf(err: unknown): Record<string, unknown> {
  if (err instanceof NetlinkError) {
    return { name: err.name, code: err.code, message: err.message, retryable: err.retryable, op: err.op };
  }
  return { name: err instanceof Error ? err.name : 'Error', code: 'UNKNOWN', message: err instanceof Error ? err.message : String(err) };
}

/** Errors inside results (e.g. ReconcileResult.failed) as plain objects: IPC drops their own fields. */
function plain(value: unknown): unknown {
  if (value instanceof Error) return errorOf(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

process.on('message', (raw: unknown) => {
  const call = raw as Call;
  void (async () => {
    try {
      const fn = (dp as unknown as Record<string, unknown>)[call.method];
      if (typeof fn !== 'function') throw new Error(`no such method ${call.method}`);
      const value: unknown = await (fn as (...a: unknown[]) => Promise<unknown>).apply(dp, call.args.map(revive));
      process.send?.({ id: call.id, ok: true, value: plain(value) });
    } catch (err) {
      process.send?.({ id: call.id, ok: false, error: errorOf(err) });
    }
  })();
});

process.on('disconnect', () => {
  void dp.close().finally(() => process.exit(0));
});
process.on('SIGTERM', () => {
  void dp.close().finally(() => process.exit(0));
});
process.send?.({ ready: true });
