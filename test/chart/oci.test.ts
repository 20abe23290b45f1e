// The chart as users get the reference's: packaged with `helm package`,
// pushed to an OCI registry with `helm push`, and installed from there. The
// registry is a real one (CNCF Distribution, Debian's docker-registry,
// installed by scripts/setup.sh) on 127.0.0.1, with its storage in a
// temporary folder; helm talks to it over plain HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_SETS, chartDir, findDoc, Helm, IMAGE_REPOSITORY, parseManifests, RELEASE } from './helm.js';

const REGISTRY_BIN = '/usr/bin/docker-registry';
const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };

let helm: Helm;
let dir: string;
let registry: ChildProcess | undefined;
let host = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function httpGet(path: string, accept?: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    get(`http://${host}${path}`, { headers: accept ? { accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: run \`npm run setup\` (scripts/setup.sh installs Debian's docker-registry)`);
  helm = new Helm();
  dir = mkdtempSync(join(tmpdir(), 'chart-oci-'));
  host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, ['version: 0.1', 'log: {level: warn}', `storage: {filesystem: {rootdirectory: ${join(dir, 'storage')}}}`, `http: {addr: "${host}"}`, ''].join('\n'));
  registry = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  registry.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await httpGet('/v2/').then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || registry.exitCode !== null) throw new Error(`the registry did not start: ${stderr.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 30_000);

afterAll(async () => {
  if (registry && registry.exitCode === null) {
    const exited = new Promise((r) => registry!.once('exit', r));
    registry.kill('SIGTERM');
    await exited;
  }
  helm?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the chart through an OCI registry', () => {
  let tgz = '';

  it('`helm package` makes <name>-<version>.tgz', async () => {
    const r = await helm.run(['package', chartDir, '--destination', dir]);
    expect(r.code, r.stderr).toBe(0);
    tgz = join(dir, `${chart.name}-${chart.version}.tgz`);
    expect(r.stdout).toContain(`Successfully packaged chart and saved it to: ${tgz}`);
    expect(existsSync(tgz)).toBe(true);
  });

  it('`helm push` stores it as an OCI artifact with the Helm media types', async () => {
    const r = await helm.run(['push', tgz, `oci://${host}/charts`, '--plain-http']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`Pushed: ${host}/charts/${chart.name}:${chart.version}`);
    // What the registry holds, read back from the registry itself.
    const m = await httpGet(`/v2/charts/${chart.name}/manifests/${chart.version}`, 'application/vnd.oci.image.manifest.v1+json');
    expect(m.status).toBe(200);
    const manifest = JSON.parse(m.body) as { config: { mediaType: string }; layers: Array<{ mediaType: string; size: number }> };
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.cncf.helm.chart.content.v1.tar+gzip']);
    expect((await httpGet(`/v2/charts/${chart.name}/tags/list`)).body).toContain(`"${chart.version}"`);
  });

  it('installs from oci:// as README says: `helm show chart` and `helm template` read it from the registry', async () => {
    const ref = `oci://${host}/charts/${chart.name}`;
    const shown = await helm.run(['show', 'chart', ref, '--version', chart.version, '--plain-http']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(parseYaml(shown.stdout)).toMatchObject({ name: chart.name, version: chart.version, appVersion: chart.appVersion });
    const r = await helm.run(['template', RELEASE, ref, '--version', chart.version, '--plain-http', ...AUTO_SETS.flatMap((s) => ['--set', s])]);
    expect(r.code, r.stderr).toBe(0);
    const deployment = findDoc(parseManifests(r.stdout), 'Deployment') as unknown as { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
    expect(deployment.spec.template.spec.containers[0]!.image).toBe(`${IMAGE_REPOSITORY}:${chart.appVersion}`);
  });
});
