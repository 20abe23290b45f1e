// Long synchronous loops (tens of thousands of kernel entries) hand the event
// loop back every `every` items, so lease renewals, watches and probes are
// served while they run: `const pause = breather(); for (…) { …; await pause(); }`.
// Between pauses `await` meets undefined: one microtask turn, no timer.
export function breather(every = 2000): () => Promise<void> | undefined {
  let n = 0;
  return () => (++n % every === 0 ? new Promise<void>((resolve) => setImmediate(resolve)) : undefined);
}
