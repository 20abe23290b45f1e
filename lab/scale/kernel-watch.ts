// What the kernel of a gateway's namespace holds on hybrid_vxlan0, followed
// live with the real tools (`ip monitor route neigh`, `bridge monitor fdb`),
// not with the gateway's own netlink code: a bug the two share must be able
// to show. The benchmark sets the expected entries and waits until the kernel
// holds exactly them; the time is when the last needed change was seen.
//
// A monitor whose socket overflowed (ENOBUFS under a burst of tens of
// thousands of notifications) misses changes: then the watch falls back to
// waiting for the kernel to go quiet and checking a full dump, and the time
// is that of the last change the monitor saw.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ExpectedEntries {
  /** pod CIDR → node IP (route `<cidr> via <ip> dev hybrid_vxlan0 onlink`) */
  readonly routes: ReadonlyMap<string, string>;
  /** node IP → MAC (permanent neighbour) */
  readonly neighs: ReadonlyMap<string, string>;
  /** MAC → node IP (FDB `dst`) */
  readonly fdb: ReadonlyMap<string, string>;
}

type Kind = keyof ExpectedEntries;

const epoch = (): number => performance.timeOrigin + performance.now();

class Table {
  readonly actual = new Map<string, string>();
  expected: ReadonlyMap<string, string> = new Map();
  wrong = 0;

  set(key: string, value: string | undefined): void {
    const before = this.actual.get(key) !== this.expected.get(key);
    if (value === undefined) this.actual.delete(key);
    else this.actual.set(key, value);
    const after = this.actual.get(key) !== this.expected.get(key);
    this.wrong += Number(after) - Number(before);
  }

  expect(expected: ReadonlyMap<string, string>): void {
    this.expected = expected;
    let wrong = 0;
    for (const [k, v] of expected) if (this.actual.get(k) !== v) wrong++;
    for (const k of this.actual.keys()) if (!expected.has(k)) wrong++;
    this.wrong = wrong;
  }
}

export class KernelWatch {
  private readonly tables: Record<Kind, Table> = { routes: new Table(), neighs: new Table(), fdb: new Table() };
  private readonly procs: ChildProcess[] = [];
  /** Epoch ms of the last change on the device the monitors saw. */
  lastChangeAt = 0;
  /** A monitor reported lost notifications. */
  overflowed = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly ns: string,
    private readonly dev = 'hybrid_vxlan0',
  ) {}

  async start(): Promise<void> {
    // -rcvbuf: the largest buffer the namespace allows (net.core.rmem_max), so bursts overflow later.
    this.follow(spawn('ip', ['-rcvbuf', '4194304', '-n', this.ns, 'monitor', 'route', 'neigh'], { stdio: ['ignore', 'pipe', 'pipe'] }), (l) => this.ipLine(l));
    this.follow(spawn('bridge', ['-n', this.ns, 'monitor', 'fdb'], { stdio: ['ignore', 'pipe', 'pipe'] }), (l) => this.fdbLine(l));
    // The monitors subscribe right after they start; give them a moment before anything changes.
    await new Promise((r) => setTimeout(r, 300));
  }

  private follow(p: ChildProcess, onLine: (line: string) => void): void {
    this.procs.push(p);
    createInterface({ input: p.stdout! }).on('line', (line) => {
      onLine(line);
      if (this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (/No buffer space|ENOBUFS|overrun/i.test(d)) this.overflowed = true;
    });
  }

  private ipLine(raw: string): void {
    const deleted = raw.startsWith('Deleted ');
    const line = deleted ? raw.slice(8) : raw;
    const words = line.trim().split(/\s+/);
    const at = (w: string): string | undefined => {
      const i = words.indexOf(w);
      return i >= 0 ? words[i + 1] : undefined;
    };
    if (at('dev') !== this.dev) return;
    if (words.includes('lladdr') || words.includes('PERMANENT') || words.includes('FAILED') || words.includes('INCOMPLETE')) {
      // neighbour
      const lladdr = at('lladdr');
      if (!words.includes('PERMANENT') && !deleted) return;
      this.change('neighs', words[0]!, deleted ? undefined : lladdr);
      return;
    }
    const via = at('via');
    if (via === undefined && !deleted) return;
    this.change('routes', words[0]!, deleted ? undefined : via);
  }

  private fdbLine(raw: string): void {
    const deleted = raw.startsWith('Deleted ');
    const words = (deleted ? raw.slice(8) : raw).trim().split(/\s+/);
    const i = words.indexOf('dev');
    const d = words.indexOf('dst');
    if (i < 0 || words[i + 1] !== this.dev || d < 0) return;
    this.change('fdb', words[0]!, deleted ? undefined : words[d + 1]);
  }

  private change(kind: Kind, key: string, value: string | undefined): void {
    this.tables[kind].set(key, value);
    this.lastChangeAt = epoch();
  }

  expect(e: ExpectedEntries): void {
    for (const k of Object.keys(this.tables) as Kind[]) this.tables[k].expect(e[k]);
  }

  get mismatches(): number {
    return this.tables.routes.wrong + this.tables.neighs.wrong + this.tables.fdb.wrong;
  }

  /**
   * Resolves with the epoch ms the kernel came to hold exactly the expected
   * entries, through changes made after `since` (the step that causes them).
   */
  async converged(timeoutMs: number, since: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const changed = this.lastChangeAt >= since;
      if (!this.overflowed && changed && this.mismatches === 0) return this.lastChangeAt;
      if (this.overflowed && changed && epoch() - this.lastChangeAt > 500 && this.dumpMatches()) {
        // Quiet for a while and the dump agrees: the monitor's view is exact again.
        this.overflowed = false;
        return this.lastChangeAt;
      }
      if (Date.now() > deadline) throw new Error(`kernel not converged after ${timeoutMs} ms: ${this.mismatches} entries differ (monitor overflowed: ${this.overflowed})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Full dumps with ip/bridge: the kernel equals the expected entries (and the monitor's view is reset to it). */
  dumpMatches(): boolean {
    const json = <T>(cmd: string, args: string[]): T[] => JSON.parse(spawnSync(cmd, ['-j', '-n', this.ns, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout || '[]') as T[];
    const routes = new Map(json<{ dst: string; gateway?: string }>('ip', ['-4', 'route', 'show', 'table', 'all', 'dev', this.dev]).map((r) => [r.dst, r.gateway ?? '']));
    const neighs = new Map(
      json<{ dst: string; lladdr?: string; state?: string[] }>('ip', ['-4', 'neigh', 'show', 'dev', this.dev, 'nud', 'permanent']).map((n) => [n.dst, n.lladdr ?? '']),
    );
    const fdb = new Map(
      json<{ mac: string; dst?: string }>('bridge', ['fdb', 'show', 'dev', this.dev])
        .filter((f) => f.dst !== undefined)
        .map((f) => [f.mac, f.dst!]),
    );
    const actual: Record<Kind, Map<string, string>> = { routes, neighs, fdb };
    let wrong = 0;
    for (const k of Object.keys(this.tables) as Kind[]) {
      const t = this.tables[k];
      t.actual.clear();
      for (const [key, v] of actual[k]) t.actual.set(key, v);
      t.expect(t.expected);
      wrong += t.wrong;
    }
    return wrong === 0;
  }

  stop(): void {
    for (const p of this.procs) p.kill('SIGTERM');
  }
}
