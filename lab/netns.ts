// Network-namespace helpers for the lab and for tests that need the real
// kernel (test/support/netns.ts re-exports this file).
//
// Every run gets a unique prefix (ehgt-<pid>-<random>-) unless it asks for a
// fixed one (the lab command uses "ehlab-"); every namespace it
// creates is named with it, so teardown can sweep all of them by prefix even
// when a test died half-way. Nothing is ever created in the root namespace:
// links are made with `ip -n <ns>` straight inside their namespaces (veth
// peers too), and processes run under `ip netns exec`. Addresses come from
// 198.18.0.0/15 and the TEST-NETs only (see ARCHITECTURE.md, traffic rule).
//
// Usage:
//   const run = createNetnsRun();            // in beforeAll
//   const gw = await run.ns('gw');
//   await run.veth({ ns: gw, ifname: 'u0', addr: '198.18.2.1/24' }, { ns: hyb, ifname: 'u0', addr: '198.18.2.2/24' });
//   const out = await run.ipJson(gw, ['route', 'show']);
//   const child = run.spawnNode(gw, 'test/support/netns-worker.ts');
//   await run.teardown();                    // in afterAll (also on failure)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Common start of every namespace these helpers create. */
export const NETNS_BASE = 'ehgt-';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface VethEnd {
  readonly ns: string;
  readonly ifname: string;
  /** "a.b.c.d/len", from 198.18.0.0/15 or a TEST-NET. */
  readonly addr?: string;
  readonly mtu?: number;
}

const ALLOWED = [
  [0xc6120000, 15], // 198.18.0.0/15
  [0xc0000200, 24], // 192.0.2.0/24
  [0xc6336400, 24], // 198.51.100.0/24
  [0xcb007100, 24], // 203.0.113.0/24
  [0x7f000000, 8], // 127.0.0.0/8
] as const;

/** Whether an IPv4 address is one tests may use (traffic rule). */
export function isTestAddress(ip: string): boolean {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return false;
  const n = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
  return ALLOWED.some(([base, len]) => (n & ((0xffffffff << (32 - len)) >>> 0)) >>> 0 === base);
}

function assertTestAddress(cidrOrIp: string): void {
  const ip = cidrOrIp.split('/')[0] ?? '';
  if (!isTestAddress(ip)) throw new Error(`${cidrOrIp}: tests may only use 198.18.0.0/15, TEST-NETs or 127/8`);
}

/** Runs a command (no shell); resolves with its output, rejects on a non-zero exit unless allowFail. */
export function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean; input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const result = { code: code ?? (sig !== null ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && opts.allowFail !== true) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${result.code}${sig !== null ? ` (${sig})` : ''}: ${stderr.trim() || stdout.trim()}`));
      } else resolvePromise(result);
    });
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input);
    }
  });
}

/** Every network namespace name (`ip netns list`). */
export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.length > 0);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killNamespaceProcessesSync(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

/** Kills every process in the namespace (SIGKILL) and deletes it. */
export function deleteNamespaceSync(ns: string): void {
  killNamespaceProcessesSync(ns);
  spawnSync('ip', ['netns', 'delete', ns], { encoding: 'utf8' });
}

/**
 * Deletes namespaces these helpers made in earlier runs whose owning process
 * (the pid in the name) is gone: leftovers of a crashed or killed run. Live
 * runs (other test files, other engineers) are never touched.
 */
export function sweepOrphanNamespaces(): string[] {
  const swept: string[] = [];
  for (const ns of listNamespaces()) {
    if (!ns.startsWith(NETNS_BASE)) continue;
    const pid = Number(ns.slice(NETNS_BASE.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) {
      deleteNamespaceSync(ns);
      swept.push(ns);
    }
  }
  return swept;
}

export interface NetnsRun {
  /** Unique prefix of this run's namespaces, e.g. "ehgt-4242-a1b2c3-". */
  readonly prefix: string;
  /** Creates namespace `<prefix><name>` (lo up) and returns its full name. */
  ns(name: string): Promise<string>;
  /** A veth pair straight between two of this run's namespaces, both ends up. */
  veth(a: VethEnd, b: VethEnd): Promise<void>;
  /** `ip -n <ns> <args>`; rejects on failure. */
  ip(ns: string, args: readonly string[]): Promise<string>;
  /** `ip -j -n <ns> <args>` parsed. */
  ipJson<T = unknown>(ns: string, args: readonly string[]): Promise<T>;
  /** `bridge -j -n <ns> <args>` parsed. */
  bridgeJson<T = unknown>(ns: string, args: readonly string[]): Promise<T>;
  /** `ip netns exec <ns> <cmd...>`. */
  exec(ns: string, cmd: readonly string[], opts?: { allowFail?: boolean; input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Writes /proc/sys/<key with / for .> inside the namespace. */
  sysctl(ns: string, key: string, value: string): Promise<void>;
  /**
   * Starts `node --import tsx <script> ...args` inside the namespace with an
   * IPC channel (advanced serialization). Tracked: teardown kills it.
   * `compiled: true` runs plain `node <script>` (a built .js file, as the image
   * does), with `nodeArgs` (e.g. --cpu-prof) before the script.
   */
  spawnNode(ns: string, script: string, args?: readonly string[], env?: Record<string, string>, opts?: SpawnNodeOptions): ChildProcess;
  /** Kills this run's processes and deletes every namespace with its prefix. Idempotent. */
  teardown(): Promise<void>;
}

export interface SpawnNodeOptions {
  readonly compiled?: boolean;
  readonly nodeArgs?: readonly string[];
}

export interface NetnsRunOptions {
  /**
   * A fixed prefix instead of the unique ehgt-<pid>-<random>- one (the lab
   * command's "ehlab-", so `lab down` finds its namespaces). [a-z0-9-], ending in "-".
   */
  readonly prefix?: string;
}

export function createNetnsRun(options: NetnsRunOptions = {}): NetnsRun {
  sweepOrphanNamespaces();
  if (options.prefix !== undefined && !/^[a-z][a-z0-9-]{0,14}-$/.test(options.prefix)) {
    throw new Error(`namespace prefix ${options.prefix}: use [a-z][a-z0-9-]{0,14} ending in "-"`);
  }
  const prefix = options.prefix ?? `${NETNS_BASE}${process.pid}-${randomBytes(3).toString('hex')}-`;
  const children = new Set<ChildProcess>();
  const mine = new Set<string>();
  let tornDown = false;

  const own = (ns: string): string => {
    if (!ns.startsWith(prefix)) throw new Error(`namespace ${ns} is not one of this run's (${prefix}*)`);
    return ns;
  };

  // Last resort if teardown never runs (the process is exiting anyway).
  const onExit = (): void => {
    if (tornDown) return;
    for (const c of children) c.kill('SIGKILL');
    for (const ns of listNamespaces()) if (ns.startsWith(prefix)) deleteNamespaceSync(ns);
  };
  process.on('exit', onExit);

  const api: NetnsRun = {
    prefix,
    async ns(name) {
      if (!/^[a-z0-9-]{1,20}$/.test(name)) throw new Error(`namespace name ${name}: use [a-z0-9-]{1,20}`);
      const full = prefix + name;
      mine.add(full);
      await run('ip', ['netns', 'add', full]);
      await run('ip', ['-n', full, 'link', 'set', 'lo', 'up']);
      return full;
    },
    async veth(a, b) {
      own(a.ns);
      own(b.ns);
      if (a.addr !== undefined) assertTestAddress(a.addr);
      if (b.addr !== undefined) assertTestAddress(b.addr);
      await run('ip', ['-n', a.ns, 'link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns]);
      for (const end of [a, b]) {
        if (end.mtu !== undefined) await run('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'mtu', String(end.mtu)]);
        if (end.addr !== undefined) await run('ip', ['-n', end.ns, 'addr', 'add', end.addr, 'dev', end.ifname]);
        await run('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'up']);
      }
    },
    async ip(ns, args) {
      return (await run('ip', ['-n', own(ns), ...args])).stdout;
    },
    async ipJson<T>(ns: string, args: readonly string[]) {
      const out = (await run('ip', ['-j', '-n', own(ns), ...args])).stdout.trim();
      return JSON.parse(out === '' ? '[]' : out) as T;
    },
    async bridgeJson<T>(ns: string, args: readonly string[]) {
      const out = (await run('bridge', ['-j', '-n', own(ns), ...args])).stdout.trim();
      return JSON.parse(out === '' ? '[]' : out) as T;
    },
    exec(ns, cmd, opts) {
      return run('ip', ['netns', 'exec', own(ns), ...cmd], opts);
    },
    async sysctl(ns, key, value) {
      await run('ip', ['netns', 'exec', own(ns), 'sh', '-c', 'echo "$1" > "/proc/sys/$2"', 'sh', value, key.replaceAll('.', '/')]);
    },
    spawnNode(ns, script, args = [], env = {}, opts = {}) {
      const loader = opts.compiled === true ? [] : ['--import', 'tsx'];
      const argv = ['netns', 'exec', own(ns), process.execPath, ...loader, ...(opts.nodeArgs ?? []), resolve(REPO_ROOT, script), ...args];
      const child = spawn('ip', argv, {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'advanced',
        env: { ...process.env, ...env },
      });
      children.add(child);
      child.on('exit', () => children.delete(child));
      child.stdout?.resume();
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-4000);
      });
      Object.defineProperty(child, 'stderrTail', { get: () => stderr });
      return child;
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      process.off('exit', onExit);
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((done) => {
              if (c.exitCode !== null || c.signalCode !== null) return done();
              const t = setTimeout(() => c.kill('SIGKILL'), 2000);
              c.once('exit', () => {
                clearTimeout(t);
                done();
              });
              c.kill('SIGTERM');
            }),
        ),
      );
      // Global sweep of the prefix: also catches namespaces whose creation
      // half-failed, and processes started in them by other means.
      const all = new Set([...mine, ...listNamespaces().filter((n) => n.startsWith(prefix))]);
      for (const ns of all) {
        if (!listNamespaces().includes(ns)) continue;
        killNamespaceProcessesSync(ns);
        await run('ip', ['netns', 'delete', ns], { allowFail: true });
      }
    },
  };
  return api;
}

/** The stderr tail of a child started by spawnNode (for failure messages). */
export function stderrTail(child: ChildProcess): string {
  return (child as ChildProcess & { stderrTail?: string }).stderrTail ?? '';
}
