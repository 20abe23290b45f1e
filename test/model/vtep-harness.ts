// A real vtep actor whose netlink effects are in-flight doubles: each program
// or remove stays in flight until the test resolves or rejects it (the
// machine then gets the real done/error event), and records when the machine
// aborts it. Delays run on a simulated clock the test advances. The test keeps
// its own account of which specs may be in the kernel, independent of the
// machine, to check that no leftover is ever forgotten.
import { createActor, fromPromise, SimulatedClock, type InspectionEvent } from 'xstate';
import type { VtepSpec } from '../../machines/domain/vtep-spec.js';
import { vtepMachine, type ProgramVtepInput, type RemoveVtepInput } from '../../machines/vtep.machine.js';
import { recordingGuards, type GuardTally } from '../support/model-paths.js';

export const specA: VtepSpec = { name: 'hyb-1', nodeIP: '198.19.0.1', mac: '02:00:c6:13:00:01', podCIDRs: ['198.18.0.0/29'] };
export const specB: VtepSpec = { name: 'hyb-1', nodeIP: '198.19.0.2', mac: '02:00:c6:13:00:02', podCIDRs: ['198.18.0.8/29', '198.18.0.16/29'] };

export type InFlight = ({ kind: 'program'; input: ProgramVtepInput } | { kind: 'remove'; input: RemoveVtepInput }) & {
  resolve(): void;
  reject(err: Error): void;
};

export interface VtepHarnessOptions {
  readonly maxAttempts?: number;
  readonly task?: 'program' | 'remove';
  readonly previous?: readonly VtepSpec[];
  /** Sees the actor's inspection events (e.g. to record the transitions taken). */
  readonly inspect?: (ev: InspectionEvent) => void;
  /** Counts each guard's results (the machine's own guards, wrapped). */
  readonly guards?: GuardTally;
}

export function vtepHarness(opts: VtepHarnessOptions = {}) {
  const h = {
    inFlight: undefined as InFlight | undefined,
    programs: 0,
    removes: 0,
    aborted: 0,
    announcements: [] as string[],
  };
  const track = <I>(kind: 'program' | 'remove') =>
    fromPromise<void, I>(
      ({ input, signal }) =>
        new Promise<void>((resolve, reject) => {
          const flight = {
            kind,
            input,
            resolve: () => {
              h.inFlight = undefined;
              resolve();
            },
            reject: (err: Error) => {
              h.inFlight = undefined;
              reject(err);
            },
          } as unknown as InFlight;
          h.inFlight = flight;
          if (kind === 'program') h.programs += 1;
          else h.removes += 1;
          signal.addEventListener(
            'abort',
            () => {
              if (h.inFlight === flight) h.inFlight = undefined;
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
      // The fleet gets these (fleet.model.test.ts runs real children); here they are recorded.
      reportProgrammed: announce('report:programmed'),
      reportRemoved: announce('report:removed'),
      reportStalled: announce('report:stalled'),
    },
    guards: opts.guards === undefined ? {} : recordingGuards(vtepMachine, opts.guards),
  });
  const clock = new SimulatedClock();
  const actor = createActor(machine, {
    clock,
    inspect: opts.inspect,
    input: { spec: specA, previous: opts.previous ?? [], maxAttempts: opts.maxAttempts ?? 2, task: opts.task ?? 'program' },
  });
  return Object.assign(h, { actor, clock });
}
