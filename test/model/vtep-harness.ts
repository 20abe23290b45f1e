// A real vtep actor whose netlink effects are recording doubles: each program
// or remove stays in flight until the test sends its done/error event. The test
// keeps its own account of which specs may be in the kernel, independent of the
// machine, to check that no leftover is ever forgotten.
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { vtepMachine, type ProgramVtepInput, type RemoveVtepInput } from '../../machines/vtep.machine.js';

export const specA: VtepSpec = { name: 'hyb-1', nodeIP: '198.19.0.1', mac: '02:00:c6:13:00:01', podCIDRs: ['198.18.0.0/29'] };
export const specB: VtepSpec = { name: 'hyb-1', nodeIP: '198.19.0.2', mac: '02:00:c6:13:00:02', podCIDRs: ['198.18.0.8/29', '198.18.0.16/29'] };

export type InFlight = { kind: 'program'; input: ProgramVtepInput } | { kind: 'remove'; input: RemoveVtepInput };

export function vtepHarness(opts: { maxAttempts?: number; program?: boolean } = {}) {
  const h = {
    inFlight: undefined as InFlight | undefined,
    programs: 0,
    removes: 0,
    aborted: 0,
    announcements: [] as string[],
  };
  const track = <I>(kind: InFlight['kind']) =>
    fromPromise<void, I>(
      ({ input, signal }) =>
        new Promise<void>((_resolve, reject) => {
          h.inFlight = { kind, input } as InFlight;
          if (kind === 'program') h.programs += 1;
          else h.removes += 1;
          signal.addEventListener(
            'abort',
            () => {
              h.inFlight = undefined;
              h.aborted += 1;
              reject(new Error(`${kind} aborted`));
            },
            { once: true },
          );
        }),
    );
  const announce = (what: string) => () => void h.announcements.push(what);
  const machine = vtepMachine.provide({
    actors: { programVtep: track<ProgramVtepInput>('program'), removeVtep: track<RemoveVtepInput>('remove') },
    actions: {
      announceProgrammed: announce('programmed'),
      announceProgramFailed: announce('programFailed'),
      announceRemoved: announce('removed'),
      announceRemoveFailed: announce('removeFailed'),
      announceStalled: announce('stalled'),
    },
  });
  const clock = new SimulatedClock();
  const actor = createActor(machine, { clock, input: { spec: specA, maxAttempts: opts.maxAttempts ?? 2, program: opts.program ?? false } });
  return Object.assign(h, { actor, clock });
}
