// The optional live inspector: off by default, and when on, inspection events
// of a real actor reach a WebSocket server (a stand-in for the Stately relay)
// on 127.0.0.1. `ws` is the WebSocket library @statelyai/inspect itself uses.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createActor, fromPromise } from 'xstate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { vtepMachine } from '../../machines/vtep.machine.js';
import { machineDefinitionJson } from '../../visualizations/definition.js';
import { createLiveInspector, InspectorConfigError, inspectorUrl, type LiveInspector } from '../../visualizations/inspector.js';

interface ServerSocket {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: () => void): void;
}
interface Server {
  on(event: 'connection', listener: (socket: ServerSocket) => void): void;
  once(event: 'listening', listener: () => void): void;
  address(): AddressInfo;
  clients: Set<{ terminate(): void }>;
  close(callback: () => void): void;
}
// ws ships no types and the project does not depend on @types/ws: a narrow local view.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
  WebSocketServer: new (options: { host: string; port: number }) => Server;
};

interface Relay {
  readonly port: number;
  readonly messages: Record<string, unknown>[];
  connections: number;
  closed: number;
  waitFor(predicate: (messages: Record<string, unknown>[]) => boolean, what: string): Promise<void>;
  close(): Promise<void>;
}

async function startRelay(): Promise<Relay> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const waiters = new Set<() => void>();
  const relay: Relay = {
    port: server.address().port,
    messages: [],
    connections: 0,
    closed: 0,
    waitFor(predicate, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`relay: no ${what} (got ${relay.messages.length} messages)`));
        }, 5000);
        const check = (): void => {
          if (!predicate(relay.messages)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket) => {
    relay.connections += 1;
    for (const waiter of [...waiters]) waiter();
    socket.on('message', (data) => {
      relay.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
      for (const waiter of [...waiters]) waiter();
    });
    socket.on('close', () => {
      relay.closed += 1;
      for (const waiter of [...waiters]) waiter();
    });
  });
  return relay;
}

const spec = { name: 'hyb-1', nodeIP: '198.19.0.21', mac: '02:00:c6:13:00:15', podCIDRs: ['198.18.0.0/29'] };

describe('live inspector', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('is off by default', () => {
    expect(createLiveInspector()).toBeUndefined();
    expect(createLiveInspector({ port: 9 })).toBeUndefined();
    expect(createLiveInspector({ enabled: false, url: 'ws://127.0.0.1:9' })).toBeUndefined();
  });

  it('builds the relay URL from a port or takes a ws URL, and refuses bad ones', () => {
    expect(inspectorUrl()).toBe('ws://127.0.0.1:8080');
    expect(inspectorUrl({ port: 9123 })).toBe('ws://127.0.0.1:9123');
    expect(inspectorUrl({ host: '::1', port: 9123 })).toBe('ws://[::1]:9123');
    expect(inspectorUrl({ url: 'ws://127.0.0.1:7000/inspect' })).toBe('ws://127.0.0.1:7000/inspect');
    expect(() => inspectorUrl({ port: 0 })).toThrow(InspectorConfigError);
    expect(() => inspectorUrl({ port: 70000 })).toThrow(/not a port number/);
    expect(() => inspectorUrl({ url: 'http://127.0.0.1:8080' })).toThrow(/must use ws: or wss:/);
    expect(() => inspectorUrl({ url: 'not a url' })).toThrow(/is not a URL/);
    expect(() => createLiveInspector({ enabled: true, port: -1 })).toThrow(InspectorConfigError);
  });

  it('when enabled, returns an observer whose events reach the relay: actor definition, events, snapshots', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const live = createLiveInspector({ enabled: true, port: relay.port }) as LiveInspector;
    cleanups.push(() => live.stop());
    expect(live.url).toBe(`ws://127.0.0.1:${relay.port}`);
    expect(typeof live.inspect.next).toBe('function');

    // A root actor here (no fleet): its report to the parent is a no-op.
    const machine = vtepMachine.provide({ actors: { programVtep: fromPromise(() => Promise.resolve()) }, actions: { reportProgrammed: () => {} } });
    const actor = createActor(machine, { input: { spec, task: 'program' }, inspect: live.inspect });
    cleanups.push(() => {
      actor.stop();
    });
    actor.start();

    await relay.waitFor(
      (m) => m.some((e) => e.type === '@xstate.snapshot' && (e.snapshot as { value?: unknown }).value === 'programmed'),
      'snapshot in state programmed',
    );
    const actorEvent = relay.messages.find((e) => e.type === '@xstate.actor' && e.name === 'vtep');
    expect(actorEvent, 'an @xstate.actor event for the vtep machine').toBeDefined();
    const definition = JSON.parse(actorEvent!.definition as string) as { id: string; states: Record<string, unknown> };
    expect(definition.id).toBe('vtep');
    expect(Object.keys(definition.states)).toContain('programming');
    // The checked-in definition JSON is what the inspector sends (key order aside).
    expect(definition).toEqual(JSON.parse(machineDefinitionJson(vtepMachine)));
    // The promise actor's completion reaches the inspector as the machine's event.
    expect(relay.messages.some((e) => e.type === '@xstate.event' && (e.event as { type?: string }).type === 'xstate.done.actor.programVtep')).toBe(true);
  });

  it('stop() closes the connection', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const live = createLiveInspector({ enabled: true, port: relay.port }) as LiveInspector;
    cleanups.push(() => live.stop());
    await relay.waitFor(() => relay.connections === 1, 'connection');
    live.stop();
    await relay.waitFor(() => relay.closed === 1, 'close');
    live.stop();
  });

  it('a stop() while still connecting does not reconnect later (the library retries 5 s after an error)', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => {
      vi.useRealTimers();
    });
    const live = createLiveInspector({ enabled: true, port: relay.port }) as LiveInspector;
    cleanups.push(() => live.stop());
    // Still connecting: closing now is reported by ws as an error.
    live.stop();
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    await settle();
    const before = relay.connections;
    await vi.advanceTimersByTimeAsync(6000);
    vi.useRealTimers();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(relay.connections).toBe(before);
  });
});
