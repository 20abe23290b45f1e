// The gateway as the image runs it, for the benchmarks: `npm run build` (tsc,
// then the bundle), and the runtime stage's ENV and ENTRYPOINT (exec form)
// read from the Dockerfile, so a benchmark starts exactly what ships.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../lab/netns.js';

export interface EntryPoint {
  readonly nodeArgs: string[];
  readonly script: string;
  /** The runtime stage's ENV (NODE_ENV, MALLOC_ARENA_MAX, …). */
  readonly env: Record<string, string>;
}

export function build(): void {
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
}

/** How the image starts the gateway: the runtime stage's ENV and ENTRYPOINT (exec form) of the Dockerfile. */
export function imageEntryPoint(): EntryPoint {
  const lines = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').split('\n');
  const runtime = lines.slice(lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true));
  const line = runtime.filter((l) => l.startsWith('ENTRYPOINT ')).at(-1);
  const argv = line === undefined ? [] : (JSON.parse(line.slice('ENTRYPOINT '.length)) as string[]);
  if (argv[0] !== 'node' || argv.length < 2) throw new Error(`Dockerfile ENTRYPOINT is not ["node", …, <script>]: ${line}`);
  const env: Record<string, string> = {};
  for (const l of runtime.filter((x) => x.startsWith('ENV '))) {
    const m = /^ENV ([A-Za-z_][A-Za-z0-9_]*)=(\S+)$/.exec(l.trim());
    if (m === null) throw new Error(`Dockerfile: ENV line not KEY=value: ${l}`);
    env[m[1]!] = m[2]!;
  }
  return { nodeArgs: argv.slice(1, -1), script: argv.at(-1)!, env };
}

/** One line saying what is started. */
export function describeEntryPoint(entry: EntryPoint): string {
  return `${Object.entries(entry.env).map(([k, v]) => `${k}=${v} `).join('')}node ${[...entry.nodeArgs, entry.script].join(' ')} (the Dockerfile's ENV and ENTRYPOINT)`;
}
