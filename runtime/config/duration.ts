// Go-style durations ("3s", "500ms", "1m30s"), as the reference's flags take them.
// Written here because the npm parsers accept loose English ("3 seconds") or
// return NaN instead of refusing; we want the exact Go grammar and a refusal.

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const TERM = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;

/** Milliseconds, or undefined when the text is not a Go duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  if (t === '') return undefined;
  TERM.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = TERM.exec(t)) !== null) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    consumed = TERM.lastIndex;
  }
  return consumed === t.length ? total : undefined;
}

export function formatDuration(ms: number): string {
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
