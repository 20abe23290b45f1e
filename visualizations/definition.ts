// The machine definition the Stately visualizer and inspector read: the
// machine's `.config` (the object given to `createMachine`), made
// serialisable the way @statelyai/inspect does it (a function becomes
// `{ type: <function name> }`). Key order is the source order, so the output
// is deterministic for a given machine file and reads like it.
import type { AnyStateMachine } from 'xstate';

/** Replaces what JSON cannot carry; mirrors @statelyai/inspect's replacer. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'function') {
    const named = value as { name?: unknown; type?: unknown };
    // xstate's built-in action creators (raise, cancel, assign…) carry a `type`.
    if (typeof named.type === 'string') return { type: named.type };
    return { type: typeof named.name === 'string' && named.name !== '' ? named.name : 'inline' };
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map || value instanceof Set) return [...value];
  return value;
}

/** The machine's config as pretty-printed JSON (trailing newline), as the Stately tools read it. */
export function machineDefinitionJson(machine: AnyStateMachine): string {
  const config: unknown = machine.config;
  if (config === null || typeof config !== 'object') {
    throw new TypeError('machineDefinitionJson: the machine has no config object');
  }
  return `${JSON.stringify(config, replacer, 2)}\n`;
}
