// Test-side ends of the processes that run inside namespaces: the data-plane
// worker (netns-worker.ts) and the traffic probe (netns-probe.ts).
import type { DataPlane } from '../../effects/netlink/index.js';
import { IpcPeer, type Reply } from '../../lab/ipc.js';
import type { NetnsRun } from './netns.js';

/** A NetlinkError as it crossed the process boundary. */
export class RemoteError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly op: string | undefined,
    readonly remoteName: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

export { IpcPeer, type Reply } from '../../lab/ipc.js';

const errText = (e: unknown): string => (typeof e === 'string' ? e : JSON.stringify(e));

type RemoteMethods = {
  [K in keyof DataPlane]: DataPlane[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => Promise<R> : never;
};

/** The data plane running in a namespace; methods mirror DataPlane. */
export interface RemoteDataPlane extends Omit<RemoteMethods, 'close'> {
  /** Any method with raw arguments; an options object { aborted: true } arrives as an aborted signal. */
  callRaw(method: string, args: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startDataPlane(run: NetnsRun, ns: string): Promise<RemoteDataPlane> {
  const peer = new IpcPeer(run.spawnNode(ns, 'test/support/netns-worker.ts'), `data-plane worker in ${ns}`);
  await peer.ready;
  const callRaw = async (method: string, args: unknown[]): Promise<unknown> => {
    const r = await peer.request({ method, args });
    if (r.ok) return r.value;
    const e = (r.error ?? {}) as Record<string, unknown>;
    throw new RemoteError(String(e.code), String(e.message), e.retryable === true, e.op as string | undefined, String(e.name));
  };
  const methods = ['ensureDevice', 'ensureRules', 'ipForwardEnabled', 'programVtep', 'removeVtep', 'reconcile', 'stats'] as const;
  const api: Record<string, unknown> = { callRaw, stop: () => peer.stop() };
  for (const m of methods) api[m] = (...args: unknown[]) => callRaw(m, args);
  return api as unknown as RemoteDataPlane;
}

export interface Probe {
  udpEcho(bind: string, port: number): Promise<void>;
  tcpEcho(bind: string, port: number): Promise<void>;
  /** One datagram of `size` payload bytes; resolves whether its echo came back. */
  udp(to: string, port: number, size: number, timeoutMs?: number): Promise<{ ok: boolean; error?: string }>;
  /** Sends `bytes` over TCP and reads them back. */
  tcp(to: string, port: number, bytes: number, timeoutMs?: number): Promise<{ ok: boolean; bytes?: number; error?: string }>;
  /** Payload sizes the UDP echo server received so far. */
  received(): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startProbe(run: NetnsRun, ns: string): Promise<Probe> {
  const peer = new IpcPeer(run.spawnNode(ns, 'test/support/netns-probe.ts'), `probe in ${ns}`);
  await peer.ready;
  const must = async (body: Record<string, unknown>): Promise<Reply> => {
    const r = await peer.request(body);
    if (!r.ok) throw new Error(`probe ${String(body.cmd)} in ${ns}: ${errText(r.error)}`);
    return r;
  };
  return {
    udpEcho: async (bind, port) => void (await must({ cmd: 'udp-echo', bind, port })),
    tcpEcho: async (bind, port) => void (await must({ cmd: 'tcp-echo', bind, port })),
    udp: async (to, port, size, timeoutMs = 2000) => {
      const r = await peer.request({ cmd: 'udp', to, port, size, timeoutMs });
      return r.ok ? { ok: true } : { ok: false, error: errText(r.error) };
    },
    tcp: async (to, port, bytes, timeoutMs = 8000) => {
      const r = await peer.request({ cmd: 'tcp', to, port, bytes, timeoutMs });
      return r.ok ? { ok: true, bytes: Number(r.bytes) } : { ok: false, error: errText(r.error ?? 'mismatch') };
    },
    received: async () => (await must({ cmd: 'received' })).sizes as number[],
    stop: () => peer.stop(),
  };
}

/** The vtep statechart with the netlink actors, running in a namespace (netns-actors-worker.ts). */
export interface RemoteVtepActors {
  command(cmd: string, body?: Record<string, unknown>): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startVtepActors(run: NetnsRun, ns: string): Promise<RemoteVtepActors> {
  const peer = new IpcPeer(run.spawnNode(ns, 'test/support/netns-actors-worker.ts'), `vtep actors in ${ns}`);
  await peer.ready;
  return {
    command: async (cmd, body = {}) => {
      const r = await peer.request({ cmd, ...body });
      if (r.ok) return r.value;
      const e = (r.error ?? {}) as Record<string, unknown>;
      throw new RemoteError(String(e.code), String(e.message), false, undefined, 'Error');
    },
    stop: () => peer.stop(),
  };
}
