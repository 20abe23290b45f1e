// Optional live inspection of running statecharts in the Stately inspector,
// through @statelyai/inspect's WebSocket inspector. Off by default: the
// runtime turns it on from a flag and passes `inspect` to createActor:
//
//   const live = createLiveInspector({ enabled: config.inspect, url: config.inspectUrl });
//   const actor = createActor(gatewayMachine.provide(impl), { inspect: live?.inspect });
//   …
//   live?.stop();
//
// The receiving end is a relay such as @statelyai/inspect/server's
// createInspectorServer (it opens the Stately inspector in a browser and
// forwards what arrives on its WebSocket).
//
// Inspection events carry machine definitions, snapshots (context) and
// events: only point it at a relay you run yourself (loopback by default).
import { createWebSocketInspector } from '@statelyai/inspect';
import type { InspectionEvent, Observer } from 'xstate';

export interface LiveInspectorOptions {
  /** Nothing is inspected unless this is true. */
  readonly enabled?: boolean | undefined;
  /** WebSocket URL of the relay (ws: or wss:). Takes precedence over host/port. */
  readonly url?: string | undefined;
  /** Relay port on `host` (default 8080, the relay's default). */
  readonly port?: number | undefined;
  /** Relay host (default 127.0.0.1). */
  readonly host?: string | undefined;
}

export interface LiveInspector {
  /** Where inspection events go. */
  readonly url: string;
  /** Pass as `createActor(machine, { inspect })`. */
  readonly inspect: Observer<InspectionEvent>;
  /** Closes the connection; no reconnect happens after it. Idempotent. */
  stop(): void;
}

export class InspectorConfigError extends Error {
  override readonly name = 'InspectorConfigError';
}

export const DEFAULT_INSPECTOR_PORT = 8080;

/** The relay URL the options name; throws InspectorConfigError on a bad URL or port. */
export function inspectorUrl(options: LiveInspectorOptions = {}): string {
  if (options.url !== undefined) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new InspectorConfigError(`inspector URL "${options.url}" is not a URL (expected ws://host:port)`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new InspectorConfigError(`inspector URL "${options.url}" must use ws: or wss:`);
    }
    return options.url;
  }
  const port = options.port ?? DEFAULT_INSPECTOR_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InspectorConfigError(`inspector port ${String(port)} is not a port number (1-65535)`);
  }
  const host = options.host ?? '127.0.0.1';
  if (host === '' || /[\s/@]/.test(host)) throw new InspectorConfigError(`inspector host "${host}" is not a host name`);
  return `ws://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

interface SocketLike {
  onopen: unknown;
  onclose: unknown;
  onerror: unknown;
  onmessage: unknown;
  send(data: string): void;
  close(): void;
  terminate?: () => void;
  on?: (event: string, listener: () => void) => void;
}

const noop = (): void => {};

/** Receives the library's handlers and sends once stopped: nothing is connected. */
function sinkSocket(): SocketLike {
  return { onopen: null, onclose: null, onerror: null, onmessage: null, send: noop, close: noop };
}

/**
 * The library's WebSocket adapter reconnects 5 s after any socket error, also
 * after stop() (closing a socket that is still connecting counts as an error).
 * This fence keeps a stopped inspector stopped: the current socket's error
 * handler is neutralised before it is closed, and a socket a pending
 * reconnect creates later is closed at once and swapped for a sink.
 */
function fenceReconnects(adapter: object): () => void {
  const holder = adapter as { ws?: SocketLike };
  let current = holder.ws;
  let stopped = false;
  Object.defineProperty(adapter, 'ws', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (socket: SocketLike) => {
      if (!stopped) {
        current = socket;
        return;
      }
      socket.on?.('error', noop);
      if (socket.terminate) socket.terminate();
      else socket.close();
      current = sinkSocket();
    },
  });
  return () => {
    stopped = true;
    if (current !== undefined) current.onerror = noop;
  };
}

/**
 * A live inspector sending to the Stately WebSocket relay, or undefined when
 * not enabled (the default). Connects at once; events before the connection
 * opens are buffered by the library (the last 200).
 */
export function createLiveInspector(options: LiveInspectorOptions = {}): LiveInspector | undefined {
  if (options.enabled !== true) return undefined;
  const url = inspectorUrl(options);
  const inspector = createWebSocketInspector({ url, autoStart: false });
  const fence = fenceReconnects(inspector.adapter);
  inspector.start();
  let stopped = false;
  return {
    url,
    inspect: inspector.inspect,
    stop() {
      if (stopped) return;
      stopped = true;
      fence();
      inspector.stop();
    },
  };
}
