// One long-lived rtnetlink socket (the `netlink` package) with what the data
// plane needs on top: a timeout on every request, errors mapped to
// NetlinkError, writes refused once the caller's AbortSignal fired, raw dumps
// (the caller parses only what it needs), and batched writes: many messages
// per sendmsg without per-message ACKs, closed by a barrier, which is how
// thousands of entries reach the kernel at about the cost of `ip -batch`.
// Dumps and writes are never mixed on the wire: the data plane runs one
// operation at a time (see DataPlane), and within an operation a dump always
// completes before the writes start.
import { endianness } from 'node:os';
import { getSystemErrorName } from 'node:util';
import * as nl from 'netlink';
import type { NetlinkMessage, RtNetlinkSocket, RequestOptions } from 'netlink';
import { NetlinkError, toNetlinkError } from './errors.js';

export interface RtnlOptions {
  /** Per-request timeout, ms (default 5000). */
  readonly requestTimeoutMs?: number;
  /** SO_RCVBUF, bytes (default 4 MiB; the kernel clamps it to net.core.rmem_max). */
  readonly recvBufferSize?: number;
  /**
   * How bulk writes go out: 'batch' (default; many per sendmsg, errors-only
   * replies, one barrier) or 'ack-each' (one acknowledged request at a time,
   * as `ip -batch` does; kept for comparison in the benchmark).
   */
  readonly writeMode?: 'batch' | 'ack-each';
}

/** Options of one request as the `netlink` package takes them. */
export type ReqOpts = RequestOptions & { flags?: number };

export const NLM_F = {
  REPLACE: nl.FlagsNew.REPLACE,
  EXCL: nl.FlagsNew.EXCL,
  CREATE: nl.FlagsNew.CREATE,
  APPEND: nl.FlagsNew.APPEND,
} as const;

/**
 * One write as a complete rtnetlink message (nlmsghdr included, length
 * 4-byte aligned, seq/port left 0: set when sent). See wire.ts.
 */
export type RawWrite = Buffer;

const LE = endianness() === 'LE';
const NLMSG_ERROR = 2;
const NLMSG_NOOP = 1;
/** Bytes of messages per sendmsg (well under the socket's send buffer). */
const CHUNK_BYTES = 32 * 1024;

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
  readonly writeMode: 'batch' | 'ack-each';
  #closed = false;
  /** Last asynchronous socket error (e.g. ENOBUFS), kept for diagnostics. */
  lastSocketError: Error | undefined;
  /** Batch messages awaiting a possible error reply: seq → record of their fate. */
  readonly #batchSeqs = new Map<number, (errno: number) => void>();
  #socketErrors = 0;

  constructor(opts: RtnlOptions = {}) {
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
    this.writeMode = opts.writeMode ?? 'batch';
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
      this.#socketErrors++;
    });
    // Replies nobody awaits with a callback: the error replies of batch writes.
    this.sock.socket.on('message', (msgs: NetlinkMessage[]) => {
      for (const m of msgs) {
        if (m.type !== NLMSG_ERROR) continue;
        const settle = this.#batchSeqs.get(m.seq);
        if (settle === undefined) continue;
        this.#batchSeqs.delete(m.seq);
        settle(nl.parseError(m.data, m.flags).errno);
      }
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

  /** A dump request; returns the raw messages (parse only what you need). */
  async dump(type: number, header: Uint8Array, op: string, attrs: readonly Uint8Array[] = []): Promise<NetlinkMessage[]> {
    if (this.#closed) throw new NetlinkError('CLOSED', op, 'the data plane is closed');
    try {
      const [msgs] = await this.sock.socket.request(type, [header, ...attrs], { flags: nl.FlagsGet.DUMP, timeout: this.timeoutMs });
      return msgs;
    } catch (err) {
      throw toNetlinkError(err, op);
    }
  }

  /**
   * Sends writes as a batch: many messages per sendmsg, in order, without
   * asking for an ACK per message (the kernel replies only to failures),
   * then one NOOP with ACK as a barrier. When the barrier's ACK arrives the
   * kernel has handled every message before it, and their error replies
   * (if any) have been received. Returns per item undefined (done) or its
   * NetlinkError. The signal is checked before every sendmsg.
   */
  async batch(items: readonly RawWrite[], op: string, signal?: AbortSignal): Promise<Array<NetlinkError | undefined>> {
    const results: Array<NetlinkError | undefined> = new Array<NetlinkError | undefined>(items.length).fill(undefined);
    if (items.length === 0) return results;
    if (this.#closed) throw new NetlinkError('CLOSED', op, 'the data plane is closed');
    if (this.writeMode === 'ack-each') {
      for (let i = 0; i < items.length; i++) {
        refuseIfAborted(signal, op);
        const m = items[i]!;
        const flags = LE ? m.readUInt16LE(6) : m.readUInt16BE(6);
        const type = LE ? m.readUInt16LE(4) : m.readUInt16BE(4);
        try {
          await this.sock.socket.request(type, [m.subarray(16)], { flags, timeout: this.timeoutMs });
        } catch (err) {
          results[i] = toNetlinkError(err, op);
        }
      }
      return results;
    }
    const port = this.sock.socket.address().port;
    const seqs: number[] = [];
    const errorsBefore = this.#socketErrors;
    // One datagram per chunk, and the event loop's turn between chunks: the
    // kernel applies a datagram's messages inside sendmsg (and the send's
    // callback comes on the next tick, not the next loop turn), so sending all
    // chunks in one go kept the loop for as long as the kernel worked (240 ms
    // for 20,000 nodes); between chunks, timers and I/O are served.
    const send = (from: number, to: number, bytes: number): Promise<void> => {
      refuseIfAborted(signal, op);
      const buf = Buffer.allocUnsafe(bytes);
      let o = 0;
      for (let i = from; i < to; i++) {
        const m = items[i]!;
        // A message whose nlmsg_len is not its (aligned) size would make the
        // kernel drop the rest of the datagram silently: refuse it here.
        if (m.length % 4 !== 0 || m.length < 16 || (LE ? m.readUInt32LE(0) : m.readUInt32BE(0)) !== m.length) {
          throw new NetlinkError('BAD_INPUT', op, `malformed message #${i} (${m.length} bytes)`);
        }
        m.copy(buf, o);
        const seq = this.sock.socket.generateSeq();
        seqs[i] = seq;
        this.#batchSeqs.set(seq, (errno) => {
          let code = String(errno);
          try {
            code = getSystemErrorName(errno);
          } catch {
            // unknown errno: keep the number
          }
          results[i] = toNetlinkError(new Error(`Request rejected: ${code}`), op);
        });
        if (LE) {
          buf.writeUInt16LE(buf.readUInt16LE(o + 6) | nl.Flags.REQUEST, o + 6);
          buf.writeUInt32LE(seq, o + 8);
          buf.writeUInt32LE(port, o + 12);
        } else {
          buf.writeUInt16BE(buf.readUInt16BE(o + 6) | nl.Flags.REQUEST, o + 6);
          buf.writeUInt32BE(seq, o + 8);
          buf.writeUInt32BE(port, o + 12);
        }
        o += m.length;
      }
      return new Promise<void>((resolve) => {
        this.sock.socket.socket.send(buf, { port: 0 }, (error) => {
          if (error !== undefined) {
            const e = toNetlinkError(error, op);
            for (let i = from; i < to; i++) {
              results[i] = e;
              this.#batchSeqs.delete(seqs[i]!);
            }
          }
          resolve();
        });
      });
    };
    try {
      let from = 0;
      let bytes = 0;
      for (let i = 0; i < items.length; i++) {
        bytes += items[i]!.length;
        if (bytes >= CHUNK_BYTES) {
          await send(from, i + 1, bytes);
          await new Promise<void>((resolve) => setImmediate(resolve));
          from = i + 1;
          bytes = 0;
        }
      }
      if (from < items.length) await send(from, items.length, bytes);
      // Barrier: answered after everything sent before it.
      await this.sock.socket.request(NLMSG_NOOP, [], { timeout: this.timeoutMs });
    } catch (err) {
      throw toNetlinkError(err, `${op} (batch of ${items.length})`);
    } finally {
      for (const seq of seqs) if (seq !== undefined) this.#batchSeqs.delete(seq);
    }
    if (this.#socketErrors !== errorsBefore) {
      // The receive queue overflowed: some error replies may be lost.
      throw new NetlinkError('ENOBUFS', op, 'socket receive buffer overflowed during a batch; results unknown, retry', {
        cause: this.lastSocketError,
      });
    }
    return results;
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
