// One long-lived rtnetlink socket (the `netlink` package) with what the data
// plane needs on top: a timeout on every request, errors mapped to
// NetlinkError, writes refused once the caller's AbortSignal fired, and a
// pipelined bulk mode (many requests in flight, answered in order by the
// kernel) so thousands of entries cost one round trip's worth of latency each
// only in aggregate. Dumps and writes are never mixed on the wire: the data
// plane runs one operation at a time (see DataPlane), and within an operation
// a dump always completes before the writes start.
import * as nl from 'netlink';
import type { RtNetlinkSocket, RequestOptions } from 'netlink';
import { NetlinkError, toNetlinkError } from './errors.js';

export interface RtnlOptions {
  /** Per-request timeout, ms (default 5000). */
  readonly requestTimeoutMs?: number;
  /** Requests in flight at once in bulk mode (default 256). */
  readonly window?: number;
  /** SO_RCVBUF, bytes (default 4 MiB; the kernel clamps it to net.core.rmem_max). */
  readonly recvBufferSize?: number;
}

/** Options of one request as the `netlink` package takes them. */
export type ReqOpts = RequestOptions & { flags?: number };

export const NLM_F = {
  REPLACE: nl.FlagsNew.REPLACE,
  EXCL: nl.FlagsNew.EXCL,
  CREATE: nl.FlagsNew.CREATE,
  APPEND: nl.FlagsNew.APPEND,
} as const;

export function refuseIfAborted(signal: AbortSignal | undefined, op: string): void {
  if (signal?.aborted === true) {
    throw new NetlinkError('ABORTED', op, 'refused: the caller aborted (fenced) before this write', {
      cause: signal.reason,
    });
  }
}

export class Rtnl {
  readonly sock: RtNetlinkSocket;
  readonly timeoutMs: number;
  readonly window: number;
  #closed = false;
  /** Last asynchronous socket error (e.g. ENOBUFS), kept for diagnostics. */
  lastSocketError: Error | undefined;

  constructor(opts: RtnlOptions = {}) {
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
    this.window = Math.max(1, opts.window ?? 256);
    const size = opts.recvBufferSize ?? 4 * 1024 * 1024;
    try {
      this.sock = nl.createRtNetlink({ recvBufferSize: size, sendBufferSize: size });
    } catch (err) {
      throw toNetlinkError(err, 'open rtnetlink socket');
    }
    // Without a listener an asynchronous socket error would crash the process;
    // the affected requests fail by their own timeout instead.
    this.sock.socket.on('error', (err: Error) => {
      this.lastSocketError = err;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** One request; `fn` gets the options to pass to the package's method. */
  async call<T>(op: string, fn: (o: ReqOpts) => Promise<T>, flags = 0, signal?: AbortSignal): Promise<T> {
    if (this.#closed) throw new NetlinkError('CLOSED', op, 'the data plane is closed');
    refuseIfAborted(signal, op);
    try {
      return await fn({ timeout: this.timeoutMs, ...(flags !== 0 ? { flags } : {}) });
    } catch (err) {
      throw toNetlinkError(err, op);
    }
  }

  /**
   * Runs `task` for every item with up to `window` requests in flight. Items
   * are started in order, so the kernel handles them in order. Failures are
   * collected per item (the others go on), except ABORTED and CLOSED, which
   * stop starting new ones and are rethrown after the in-flight ones settle.
   */
  async bulk<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<Array<{ item: T; error: NetlinkError }>> {
    const failed: Array<{ item: T; error: NetlinkError }> = [];
    let next = 0;
    let fatal: NetlinkError | undefined;
    const worker = async (): Promise<void> => {
      while (fatal === undefined && next < items.length) {
        const item = items[next++] as T;
        try {
          await task(item);
        } catch (err) {
          const error = toNetlinkError(err, 'bulk write');
          if (error.code === 'ABORTED' || error.code === 'CLOSED') fatal ??= error;
          else failed.push({ item, error });
        }
      }
    };
    const workers: Array<Promise<void>> = [];
    for (let i = 0; i < Math.min(this.window, items.length); i++) workers.push(worker());
    await Promise.all(workers);
    if (fatal !== undefined) throw fatal;
    return failed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.sock.socket.close();
    } catch {
      // already closed
    }
  }
}
