// What the gateway's and cleanup's option parsers share: Go-style flags (the
// reference's), the list and boolean grammars, the name and id formats, and
// the --help rows, each driven by an option table (options.ts, cleanup.ts).
import type { OptionSpec } from './options.js';

export const ROUTE_TABLE_ID = /^rtb-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
export const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
export const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
export const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** EKS's ClusterName: 1–100 characters, as CreateCluster takes it. */
export const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
export const GO_BOOL: Readonly<Record<string, boolean>> = { '1': true, t: true, T: true, true: true, TRUE: true, True: true, '0': false, f: false, F: false, false: false, FALSE: false, False: false };

export function label(o: OptionSpec): string {
  return o.env ? `--${o.flag} / ${o.env}` : `--${o.flag}`;
}

/** Go's flag package takes -flag as well as --flag, and a bare boolean flag. */
export function normaliseArgv(argv: readonly string[], options: readonly OptionSpec[]): string[] {
  const known = new Set(options.map((o) => o.flag));
  const booleans = new Set(options.filter((o) => o.boolean).map((o) => o.flag));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i] as string;
    const single = /^-([a-z][-a-z0-9]+)(=.*)?$/.exec(arg);
    if (single && known.has(single[1] as string)) arg = `-${arg}`;
    const name = /^--([a-z][-a-z0-9]+)$/.exec(arg)?.[1];
    if (name !== undefined && booleans.has(name)) {
      const next = argv[i + 1];
      if (next !== undefined && next in GO_BOOL) {
        out.push(`${arg}=${next}`);
        i += 1;
      } else out.push(`${arg}=true`);
      continue;
    }
    out.push(arg);
  }
  return out;
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** One --help line per option: flag, help, where it comes from and its default. */
export function optionRows(options: readonly OptionSpec[]): string[] {
  return options.map((o) => {
    const left = `  --${o.flag}${o.boolean ? `[=${o.valueName}]` : ` <${o.valueName}>`}`;
    const tags = [o.env ? `env ${o.env}` : 'flag only', o.required ? 'required' : o.defaultValue !== undefined ? `default ${o.defaultValue}` : undefined]
      .filter(Boolean)
      .join(', ');
    return `${left.padEnd(48)} ${o.help} (${tags})`;
  });
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Each option's raw text and where it came from (flag, env, default); a problem for each missing required one. */
export function rawValues(
  options: readonly OptionSpec[],
  values: Readonly<Record<string, string | boolean | undefined>>,
  env: Env,
  problems: string[],
  /** Required options a caller does without (doctor needs no NODE_IP). */
  optional: readonly string[] = [],
): Map<string, { value: string; from: string }> {
  const raw = new Map<string, { value: string; from: string }>();
  for (const o of options) {
    const fromFlag = values[o.flag];
    const fromEnv = o.env !== undefined ? env[o.env] : undefined;
    if (typeof fromFlag === 'string') raw.set(o.flag, { value: fromFlag, from: `--${o.flag}` });
    else if (fromEnv !== undefined && fromEnv !== '') raw.set(o.flag, { value: fromEnv, from: o.env as string });
    else if (o.defaultValue !== undefined) raw.set(o.flag, { value: o.defaultValue, from: `--${o.flag} default` });
    else if (o.required && !optional.includes(o.flag)) problems.push(`missing ${label(o)}: it is required`);
  }
  return raw;
}
