// Runs inside a network namespace (started by NetnsRun.spawnNode): a traffic
// probe made of node:dgram and node:net only, driven over IPC.
//   { id, cmd: 'udp-echo', bind, port }        UDP echo server (records sizes)
//   { id, cmd: 'tcp-echo', bind, port }        TCP echo server
//   { id, cmd: 'udp', to, port, size, timeoutMs }   one datagram, waits for its echo
//   { id, cmd: 'tcp', to, port, bytes, timeoutMs }  sends bytes, reads them back, compares
//   { id, cmd: 'received' }                    sizes the UDP echo server got
// Replies { id, ok, ... }. UDP sockets keep Linux's default path-MTU mode
// (IP_PMTUDISC_WANT): datagrams leave with DF set while they fit the route's
// MTU, so an oversize one draws ICMP frag-needed from a router.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

type Msg = { id: number; cmd: string; [k: string]: unknown };
const received: number[] = [];
const servers: Array<{ close: () => void }> = [];

function reply(id: number, body: Record<string, unknown>): void {
  process.send?.({ id, ...body });
}

function udpEcho(m: Msg): void {
  const s = dgram.createSocket('udp4');
  s.on('message', (buf, rinfo) => {
    received.push(buf.length);
    s.send(buf, rinfo.port, rinfo.address);
  });
  s.on('error', (e) => reply(m.id, { ok: false, error: e.message }));
  s.bind(Number(m.port), String(m.bind), () => reply(m.id, { ok: true }));
  servers.push(s);
}

function tcpEcho(m: Msg): void {
  const srv = net.createServer((c) => c.pipe(c));
  srv.on('error', (e) => reply(m.id, { ok: false, error: e.message }));
  srv.listen(Number(m.port), String(m.bind), () => reply(m.id, { ok: true }));
  servers.push(srv);
}

function udpOnce(m: Msg): void {
  const s = dgram.createSocket('udp4');
  const payload = randomBytes(Number(m.size));
  const timer = setTimeout(() => {
    s.close();
    reply(m.id, { ok: false, error: 'timeout' });
  }, Number(m.timeoutMs ?? 2000));
  s.on('message', (buf) => {
    if (!buf.equals(payload)) return;
    clearTimeout(timer);
    s.close();
    reply(m.id, { ok: true, size: buf.length });
  });
  s.on('error', (e) => {
    clearTimeout(timer);
    s.close();
    reply(m.id, { ok: false, error: e.message });
  });
  s.send(payload, Number(m.port), String(m.to), (err) => {
    if (err) {
      clearTimeout(timer);
      s.close();
      reply(m.id, { ok: false, error: err.message });
    }
  });
}

function tcpOnce(m: Msg): void {
  const payload = randomBytes(Number(m.bytes));
  const chunks: Buffer[] = [];
  let got = 0;
  const c = net.connect(Number(m.port), String(m.to));
  const timer = setTimeout(() => {
    c.destroy();
    reply(m.id, { ok: false, error: `timeout after ${got} bytes` });
  }, Number(m.timeoutMs ?? 5000));
  c.on('connect', () => c.write(payload));
  c.on('data', (d: Buffer) => {
    chunks.push(d);
    got += d.length;
    if (got >= payload.length) {
      clearTimeout(timer);
      c.end();
      reply(m.id, { ok: Buffer.concat(chunks).equals(payload), bytes: got });
    }
  });
  c.on('error', (e) => {
    clearTimeout(timer);
    reply(m.id, { ok: false, error: e.message });
  });
}

process.on('message', (raw: unknown) => {
  const m = raw as Msg;
  if (m.cmd === 'udp-echo') udpEcho(m);
  else if (m.cmd === 'tcp-echo') tcpEcho(m);
  else if (m.cmd === 'udp') udpOnce(m);
  else if (m.cmd === 'tcp') tcpOnce(m);
  else if (m.cmd === 'received') reply(m.id, { ok: true, sizes: [...received] });
  else reply(m.id, { ok: false, error: `unknown command ${m.cmd}` });
});
const stop = (): void => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.send?.({ ready: true });
