// Runs inside a network namespace: the real vtep statechart
// (machines/vtep.machine.ts) with the netlink actors (effects/netlink/actors.ts)
// on a real data plane, driven over IPC:
//   { id, cmd: 'device', nodeIP }            ensureDevice
//   { id, cmd: 'start', spec }               start a vtep actor (program: true)
//   { id, cmd: 'send', event }               send it an event
//   { id, cmd: 'wait', state, timeoutMs }    until it is in `state` (or done)
//   { id, cmd: 'reconcile', vteps }          run reconcileKernelActor once
// Replies { id, ok, value | error }.
import { createActor, toPromise, type AnyActorRef } from 'xstate';
import { openDataPlane, programVtepActor, reconcileKernelActor, removeVtepActor, type DeviceInfo } from '../../effects/netlink/index.js';
import { vtepMachine } from '../../machines/vtep.machine.js';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';

type Msg = { id: number; cmd: string; [k: string]: unknown };
const dp = openDataPlane();
let device: DeviceInfo | undefined;
let vtep: AnyActorRef | undefined;
const machine = vtepMachine.provide({
  actors: { programVtep: programVtepActor(dp, () => device), removeVtep: removeVtepActor(dp, () => device) },
  // A root actor here (no fleet to report to).
  actions: { reportProgrammed: () => {}, reportRemoved: () => {}, reportStalled: () => {} },
  delays: { vtepRetryDelay: 50 },
});

function stateOf(a: AnyActorRef): string {
  return String((a.getSnapshot() as { value: unknown }).value);
}

async function handle(m: Msg): Promise<unknown> {
  switch (m.cmd) {
    case 'device':
      device = await dp.ensureDevice({ nodeIP: String(m.nodeIP) });
      return device;
    case 'start':
      vtep = createActor(machine, {
        input: { spec: m.spec as VtepSpec, previous: (m.previous as VtepSpec[] | undefined) ?? [], task: m.task === 'remove' ? 'remove' : 'program', maxAttempts: 2 },
      });
      vtep.start();
      return stateOf(vtep);
    case 'send':
      vtep?.send(m.event);
      return vtep !== undefined ? stateOf(vtep) : 'none';
    case 'wait': {
      const a = vtep;
      if (a === undefined) throw new Error('no actor');
      const want = String(m.state);
      const deadline = Date.now() + Number(m.timeoutMs ?? 5000);
      while (stateOf(a) !== want) {
        if (Date.now() > deadline) throw new Error(`still ${stateOf(a)} after waiting for ${want}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const snap = a.getSnapshot() as { context: { lastError?: string; attempts: number } };
      return { state: want, lastError: snap.context.lastError, attempts: snap.context.attempts };
    }
    case 'reconcile': {
      const a = createActor(reconcileKernelActor(dp, () => device), { input: { vteps: m.vteps as VtepSpec[] } });
      a.start();
      return toPromise(a);
    }
    default:
      throw new Error(`unknown command ${m.cmd}`);
  }
}

process.on('message', (raw: unknown) => {
  const m = raw as Msg;
  handle(m).then(
    (value) => process.send?.({ id: m.id, ok: true, value }),
    (err: unknown) =>
      process.send?.({
        id: m.id,
        ok: false,
        error: { code: (err as { code?: string }).code ?? 'UNKNOWN', message: err instanceof Error ? err.message : String(err) },
      }),
  );
});
const stop = (): void => {
  vtep?.stop();
  void dp.close().finally(() => process.exit(0));
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.send?.({ ready: true });
