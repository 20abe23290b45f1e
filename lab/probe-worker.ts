// Runs inside a lab namespace (NetnsRun.spawnNode): continuous UDP probes
// (node:dgram) and TCP bulk transfers (node:net), driven over IPC.
//   { id, cmd: 'echo', bind, port }                    UDP echo server
//   { id, cmd: 'flow', flow, to, port, intervalMs, timeoutMs }
//                                                      start a flow: one datagram every intervalMs
//   { id, cmd: 'stopFlow', flow }
//   { id, cmd: 'windows', flow, sinceMs? }             loss windows and counts of a flow
//   { id, cmd: 'once', to, port, timeoutMs }           one datagram, whether its echo came back
//   { id, cmd: 'tcpEcho', bind, port }                 TCP echo server (node:net): every byte goes back
//   { id, cmd: 'tcpBulk', to, port, bytes, timeoutMs } one TCP connection to a tcpEcho: sends `bytes`
//                                                      random bytes, reads them back, compares SHA-256
// Replies { id, ok, value | error }. Times are epoch milliseconds with
// sub-millisecond precision (performance.timeOrigin + performance.now()), the
// clock the OTLP spans use.
//
// A probe is lost when its echo has not come back within timeoutMs. A loss
// window runs from the send time of the first lost probe to the send time of
// the next probe that came back (open, endMs null, while none has).
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

type Msg = { id: number; cmd: string; [k: string]: unknown };

export interface LossWindow {
  readonly startMs: number;
  /** null while the flow is still losing. */
  readonly endMs: number | null;
  readonly lost: number;
}

export interface FlowReport {
  readonly sent: number;
  readonly ok: number;
  readonly lost: number;
  /** Send time of the oldest and the newest probe whose echo came back. */
  readonly firstOkMs: number | null;
  readonly lastOkMs: number | null;
  readonly windows: LossWindow[];
}

const now = (): number => performance.timeOrigin + performance.now();

interface Flow {
  readonly socket: dgram.Socket;
  readonly timer: NodeJS.Timeout;
  readonly timeoutMs: number;
  /** Send times by sequence number (index = seq). */
  readonly sentAt: number[];
  /** Whether each probe's echo came back in time. */
  readonly okAt: Array<boolean>;
}

/** What a tcpBulk reports: the echo came back whole and equal, or why not. */
export interface TcpBulkReport {
  readonly ok: boolean;
  readonly bytes: number;
  /** Bytes echoed back before the end (or the error). */
  readonly received: number;
  /** From connect() to the last echoed byte. */
  readonly ms: number;
  /** SHA-256 of what was sent and of what came back. */
  readonly sentSha256: string;
  readonly receivedSha256: string;
  readonly error?: string;
}

const flows = new Map<string, Flow>();
const closers: Array<() => void> = [];

function reply(id: number, body: Record<string, unknown>): void {
  process.send?.({ id, ...body });
}

function echo(m: Msg): void {
  const s = dgram.createSocket('udp4');
  s.on('message', (buf, rinfo) => s.send(buf, rinfo.port, rinfo.address));
  s.on('error', (e) => reply(m.id, { ok: false, error: e.message }));
  s.bind(Number(m.port), String(m.bind), () => reply(m.id, { ok: true }));
  closers.push(() => s.close());
}

function startFlow(m: Msg): void {
  const name = String(m.flow);
  if (flows.has(name)) return reply(m.id, { ok: false, error: `flow ${name} exists` });
  const to = String(m.to);
  const port = Number(m.port);
  const timeoutMs = Number(m.timeoutMs ?? 500);
  const socket = dgram.createSocket('udp4');
  const sentAt: number[] = [];
  const okAt: boolean[] = [];
  socket.on('message', (buf) => {
    if (buf.length < 8) return;
    const seq = Number(buf.readBigUInt64BE(0));
    const t = sentAt[seq];
    if (t !== undefined && now() - t <= timeoutMs) okAt[seq] = true;
  });
  // Unreachable/refused errors while a path is down are expected: the probe counts them as lost.
  socket.on('error', () => undefined);
  const send = (): void => {
    const seq = sentAt.length;
    const buf = Buffer.alloc(64);
    buf.writeBigUInt64BE(BigInt(seq), 0);
    sentAt.push(now());
    okAt.push(false);
    socket.send(buf, port, to, () => undefined);
  };
  const timer = setInterval(send, Number(m.intervalMs ?? 10));
  flows.set(name, { socket, timer, timeoutMs, sentAt, okAt });
  closers.push(() => {
    clearInterval(timer);
    socket.close();
  });
  reply(m.id, { ok: true });
}

function report(f: Flow, sinceMs: number): FlowReport {
  const settled = now() - f.timeoutMs;
  const windows: LossWindow[] = [];
  let sent = 0;
  let ok = 0;
  let lost = 0;
  let firstOkMs: number | null = null;
  let lastOkMs: number | null = null;
  let open: { startMs: number; lost: number } | undefined;
  for (let i = 0; i < f.sentAt.length; i++) {
    const t = f.sentAt[i]!;
    if (t < sinceMs) continue;
    if (f.okAt[i] === true) {
      sent += 1;
      ok += 1;
      firstOkMs ??= t;
      lastOkMs = t;
      if (open !== undefined) {
        windows.push({ startMs: open.startMs, endMs: t, lost: open.lost });
        open = undefined;
      }
    } else if (t <= settled) {
      sent += 1;
      lost += 1;
      if (open === undefined) open = { startMs: t, lost: 0 };
      open.lost += 1;
    }
  }
  if (open !== undefined) windows.push({ startMs: open.startMs, endMs: null, lost: open.lost });
  return { sent, ok, lost, firstOkMs, lastOkMs, windows };
}

function tcpEcho(m: Msg): void {
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.pipe(sock);
  });
  server.on('error', (e) => reply(m.id, { ok: false, error: e.message }));
  server.listen(Number(m.port), String(m.bind), () => reply(m.id, { ok: true }));
  closers.push(() => server.close());
}

function tcpBulk(m: Msg): void {
  const bytes = Number(m.bytes);
  const payload = randomBytes(bytes);
  const sentSha256 = createHash('sha256').update(payload).digest('hex');
  const got = createHash('sha256');
  let received = 0;
  let done = false;
  const t0 = now();
  const sock = net.connect({ host: String(m.to), port: Number(m.port) });
  const finish = (error?: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    const receivedSha256 = got.digest('hex');
    const ok = error === undefined && received === bytes && receivedSha256 === sentSha256;
    const value: TcpBulkReport = { ok, bytes, received, ms: now() - t0, sentSha256, receivedSha256, ...(error !== undefined ? { error } : {}) };
    reply(m.id, { ok: true, value });
  };
  const timer = setTimeout(() => finish(`timed out after ${Number(m.timeoutMs ?? 30_000)} ms`), Number(m.timeoutMs ?? 30_000));
  sock.on('connect', () => {
    sock.end(payload);
  });
  sock.on('data', (d: Buffer) => {
    received += d.length;
    got.update(d);
    if (received >= bytes) finish(received === bytes ? undefined : `received ${received} bytes, sent ${bytes}`);
  });
  sock.on('end', () => finish(received === bytes ? undefined : `connection ended after ${received} of ${bytes} bytes`));
  sock.on('error', (e) => finish(e.message));
}

function once(m: Msg): void {
  const s = dgram.createSocket('udp4');
  const payload = Buffer.alloc(64);
  payload.writeBigUInt64BE(BigInt(Math.floor(Math.random() * 2 ** 48)), 0);
  let done = false;
  const finish = (body: Record<string, unknown>): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    s.close();
    reply(m.id, body);
  };
  const timer = setTimeout(() => finish({ ok: true, value: false }), Number(m.timeoutMs ?? 500));
  s.on('message', (buf) => {
    if (buf.equals(payload)) finish({ ok: true, value: true });
  });
  s.on('error', () => finish({ ok: true, value: false }));
  s.send(payload, Number(m.port), String(m.to), () => undefined);
}

process.on('message', (raw: unknown) => {
  const m = raw as Msg;
  try {
    if (m.cmd === 'echo') echo(m);
    else if (m.cmd === 'flow') startFlow(m);
    else if (m.cmd === 'once') once(m);
    else if (m.cmd === 'tcpEcho') tcpEcho(m);
    else if (m.cmd === 'tcpBulk') tcpBulk(m);
    else if (m.cmd === 'stopFlow') {
      const f = flows.get(String(m.flow));
      if (f !== undefined) {
        clearInterval(f.timer);
        f.socket.close();
        flows.delete(String(m.flow));
      }
      reply(m.id, { ok: true });
    } else if (m.cmd === 'windows') {
      const f = flows.get(String(m.flow));
      if (f === undefined) reply(m.id, { ok: false, error: `no flow ${String(m.flow)}` });
      else reply(m.id, { ok: true, value: report(f, Number(m.sinceMs ?? 0)) });
    } else reply(m.id, { ok: false, error: `unknown command ${m.cmd}` });
  } catch (err) {
    reply(m.id, { ok: false, error: (err as Error).message });
  }
});

const stop = (): void => {
  for (const c of closers) {
    try {
      c();
    } catch {
      // closed already
    }
  }
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.send?.({ ready: true });
