// Long synchronous loops (tens of thousands of kernel entries) hand the event
// loop back every `every` items, so lease renewals, watches and probes are
// served while they run:
//
//   const b = breather();
//   for (…) { …; if (b.due()) await b.pause(); }
//
// `due()` is a counter check; only every `every`-th item awaits (a setImmediate
// turn of the loop), so the loop costs no promise per item.
export interface Breather {
  due(): boolean;
  pause(): Promise<void>;
}

export function breather(every = 1000): Breather {
  let n = 0;
  return {
    due: () => ++n % every === 0,
    pause: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}
