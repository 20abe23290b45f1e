// `npm run visualize` as a user runs it: the real entry point in a child
// process (tsx), its files and its exit codes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

function visualize(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(TSX, ['visualizations/generate.ts', ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

describe('npm run visualize', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'viz-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('timeline writes the page for the example trace and outages', async () => {
    const out = join(dir, 'failover.html');
    const r = await visualize([
      'timeline',
      'visualizations/examples/failover-otlp.json',
      '--outages',
      'visualizations/examples/failover-outages.json',
      '--title',
      'Lab run 7',
      '--out',
      out,
    ]);
    expect(r.stderr).toContain(`wrote ${out}`);
    expect(r.code).toBe(0);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('<h1>Lab run 7</h1>');
    expect(html).toContain('data-span-name="routeTable rtb-0a1b2c3d4e5f60002"');
    expect(html).toContain('class="outage-band"');
  });

  it('refuses protobuf, bad usage and unknown commands with a message and a non-zero code', async () => {
    const protobuf = join(dir, 'trace.pb');
    await writeFile(protobuf, Uint8Array.from([0x0a, 0x8c, 0x01, 0x0a, 0x22]));
    const pb = await visualize(['timeline', protobuf]);
    expect(pb.code).toBe(1);
    expect(pb.stderr).toMatch(/protobuf\? only OTLP JSON is read/);
    const usage = await visualize(['timeline', '--nope']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/Unknown option '--nope'[\s\S]*usage:/);
    const unknown = await visualize(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it('check passes on the checked-in files', async () => {
    const r = await visualize(['check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
