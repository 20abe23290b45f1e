// A small Dockerfile reader for the static checks in dockerfile.test.ts (there
// is no Docker engine on the test machines, and no maintained Dockerfile parser
// among the installed packages, so this is written here). It follows the
// Dockerfile reference for what the checks need: comment lines, parser
// directives, line continuations (\), JSON (exec) and shell forms, global ARGs
// before the first FROM with ${VAR} / $VAR substitution in FROM, and stages.

export interface Instruction {
  readonly keyword: string;
  /** Raw argument text, continuations joined. */
  readonly args: string;
  /** Options such as --from=build or --platform=…, in order. */
  readonly flags: Readonly<Record<string, string>>;
  /** The arguments without the leading --flags. */
  readonly rest: string;
  /** The exec-form array when the arguments are a JSON array of strings. */
  readonly json: readonly string[] | undefined;
  readonly line: number;
}

export interface Stage {
  readonly index: number;
  readonly name: string | undefined;
  /** Base image after global ARG substitution. */
  readonly image: string;
  readonly from: Instruction;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly directives: Readonly<Record<string, string>>;
  readonly globalArgs: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args.trimStart();
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!m) break;
    flags[m[1] as string] = m[2] ?? '';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

export function substitute(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = a ?? b ?? '';
    return name in vars ? (vars[name] as string) : whole;
  });
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split('\n');
  const directives: Record<string, string> = {};
  const instructions: Instruction[] = [];
  let i = 0;
  // Parser directives: `# key=value` lines at the very top.
  while (i < lines.length) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i] as string);
    if (!m) break;
    directives[(m[1] as string).toLowerCase()] = m[2] as string;
    i += 1;
  }
  while (i < lines.length) {
    const start = i;
    let text = (lines[i] as string).trim();
    i += 1;
    if (text === '' || text.startsWith('#')) continue;
    // Continuations; comment lines inside a continued instruction are dropped.
    while (text.endsWith('\\')) {
      text = text.slice(0, -1);
      while (i < lines.length && (lines[i] as string).trim().startsWith('#')) i += 1;
      if (i >= lines.length) break;
      text += ' ' + (lines[i] as string).trim();
      i += 1;
    }
    const m = /^([A-Za-z]+)\s*(.*)$/.exec(text);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: not an instruction: ${text}`);
    const args = (m[2] as string).trim();
    const { flags, rest } = splitFlags(args);
    instructions.push({ keyword: (m[1] as string).toUpperCase(), args, flags, rest, json: parseJsonArray(rest), line: start + 1 });
  }

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  let current: { from: Instruction; image: string; name: string | undefined; list: Instruction[] } | undefined;
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      if (current) stages.push({ index: stages.length, name: current.name, image: current.image, from: current.from, instructions: current.list });
      const parts = ins.rest.split(/\s+/);
      const image = substitute(parts[0] ?? '', globalArgs);
      const name = parts.length === 3 && (parts[1] as string).toUpperCase() === 'AS' ? (parts[2] as string) : undefined;
      if (parts.length !== 1 && name === undefined) throw new Error(`Dockerfile line ${ins.line}: malformed FROM: ${ins.args}`);
      current = { from: ins, image, name, list: [] };
      continue;
    }
    if (!current) {
      if (ins.keyword !== 'ARG') throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before the first FROM`);
      const [k, v] = ins.rest.split('=', 2);
      globalArgs[(k as string).trim()] = (v ?? '').trim();
      continue;
    }
    current.list.push(ins);
  }
  if (current) stages.push({ index: stages.length, name: current.name, image: current.image, from: current.from, instructions: current.list });
  return { directives, globalArgs, stages };
}

/** Sources and destination of a COPY/ADD (shell or exec form). */
export function copyParts(ins: Instruction): { sources: string[]; dest: string } {
  const parts = ins.json ?? ins.rest.split(/\s+/);
  if (parts.length < 2) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} needs a source and a destination`);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] as string };
}

/** Matches a path against .dockerignore patterns (Go filepath.Match semantics plus ** and ! exceptions; enough for plain names and globs). */
export function dockerIgnored(path: string, patterns: readonly string[]): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pat = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    const re = new RegExp(
      '^' +
        pat
          .split('/')
          .map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
          .join('/')
          .replace(/\(\?:\.\*\)\//g, '(?:.*/)?') +
        '(?:/.*)?$',
    );
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}
