// Long synchronous loops (tens of thousands of kernel entries or nodes) hand
// the event loop back, so lease renewals, watches and probes are served while
// they run:
//
//   const b = breather();             // or breather({ every: 25 })
//   for (…) { …; if (b.due()) await b.pause(); }
//
// By default a loop yields once it has run for `budgetMs` since its last
// turn (the clock is read every 32 items, so an item costs no clock read):
// a slice then costs the same on a fast and a slow machine, and two loops
// that slice at once do not add up to a long stall. `every` yields after a
// fixed count instead (where each item's real cost comes later, in the
// promise continuations it wakes). A pause is one setImmediate turn.
export interface Breather {
  due(): boolean;
  pause(): Promise<void>;
}

export interface BreatherOptions {
  /** Run at most this long between turns of the loop (default 8 ms). */
  readonly budgetMs?: number;
  /** Yield after this many items regardless of time (instead of the budget). */
  readonly every?: number;
}

/** The budget long loops run for between turns of the event loop: well under the 100 ms a stall may cost. */
export const SLICE_BUDGET_MS = 8;

export function breather(opts: BreatherOptions = {}): Breather {
  let n = 0;
  let since = performance.now();
  const { every } = opts;
  const budgetMs = opts.budgetMs ?? SLICE_BUDGET_MS;
  return {
    due: () => {
      n += 1;
      if (every !== undefined) return n % every === 0;
      return n % 32 === 0 && performance.now() - since >= budgetMs;
    },
    pause: () =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          since = performance.now();
          resolve();
        }),
      ),
  };
}
