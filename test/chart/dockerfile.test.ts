// The Dockerfile, checked statically (there is no Docker engine on the test
// machines, so the image is never built here): stages, pinned Node LTS base,
// production dependencies only, non-root user, and that the entry point
// `node dist/runtime/main.js` exists after the build stage's `npm run build`
// and starts with what the image holds (a real tsc emit of the copied sources
// into a temporary folder laid out like /app, then `--help`).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, sep } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { chartDir, repoRoot } from './helm.js';
import { imageEntryPoint } from '../../bench/image.js';
import { copyParts, dockerIgnored, parseDockerfile, type Dockerfile, type Instruction, type Stage } from './dockerfile.js';

const dockerfile: Dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  type?: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no stage named ${name}`);
  return s;
};
const runs = (s: Stage): string[] => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.rest);
const copies = (s: Stage): Instruction[] => s.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
const last = (s: Stage, keyword: string): Instruction | undefined => s.instructions.filter((i) => i.keyword === keyword).pop();

/** Absolute WORKDIR of a stage at its end (relative WORKDIRs resolve against the previous one). */
function workdir(s: Stage): string {
  let wd = '/';
  for (const i of s.instructions) if (i.keyword === 'WORKDIR') wd = posix.resolve(wd, i.rest);
  return wd;
}

/** The sources tsconfig.build.json compiles that the build stage copies. */
function copiedRoots(config: ts.ParsedCommandLine): string[] {
  const copied = buildContextSources();
  return config.fileNames.filter((f) => {
    const rel = relative(repoRoot, f).split(sep).join('/');
    return copied.some((c) => rel.startsWith(`${c}/`));
  });
}

/** Repository paths the build stage copies from the build context. */
function buildContextSources(): string[] {
  return copies(stage('build'))
    .filter((i) => i.flags.from === undefined)
    .flatMap((i) => copyParts(i).sources)
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
}

const buildConfig = (): ts.ParsedCommandLine => {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(repoRoot, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (parsed === undefined) throw new Error('tsconfig.build.json does not parse');
  return parsed;
};

/** Every file the given files import, transitively (themselves included), with the bare package names they need. */
function importClosure(config: ts.ParsedCommandLine, start: readonly string[] = [join(repoRoot, 'runtime', 'main.ts')]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...start];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const imp of info.importedFiles) {
      const spec = imp.fileName;
      if (spec.startsWith('node:')) continue;
      const res = ts.resolveModuleName(spec, file, config.options, ts.sys).resolvedModule;
      if (res === undefined) throw new Error(`${relative(repoRoot, file)}: cannot resolve ${spec}`);
      if (res.isExternalLibraryImport) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
      } else if (!res.resolvedFileName.endsWith('.d.ts')) {
        queue.push(res.resolvedFileName);
      }
    }
  }
  return { files, packages };
}

describe('Dockerfile structure', () => {
  it('BuildKit syntax directive and three named stages: build, deps, runtime (last)', () => {
    expect(dockerfile.directives.syntax).toMatch(/^docker\/dockerfile:1/);
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
  });

  it('every stage is the same Node LTS image, pinned to a full version tag', () => {
    const images = new Set(dockerfile.stages.map((s) => s.image));
    expect(images.size).toBe(1);
    const image = [...images][0] as string;
    const m = /^node:(\d+)\.(\d+)\.(\d+)-(bookworm|trixie)-slim(@sha256:[a-f0-9]{64})?$/.exec(image);
    expect(m, `base image ${image}`).not.toBeNull();
    const major = Number(m?.[1]);
    expect(major % 2).toBe(0); // even majors are the LTS lines
    expect(major).toBeGreaterThanOrEqual(22);
    // The project declares the engines it supports; the image must satisfy them.
    expect(major).toBeGreaterThanOrEqual(Number(/(\d+)/.exec((pkg as { engines?: { node?: string } }).engines?.node ?? '0')?.[1]));
  });

  it('build stage: npm ci, then npm run build (tsc, then the bundle) over the copied sources', () => {
    const b = runs(stage('build'));
    const ci = b.findIndex((r) => /^npm ci\b/.test(r));
    const build = b.findIndex((r) => /^npm run build\b/.test(r));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(build).toBeGreaterThan(ci);
    expect(b[ci]).toContain('--ignore-scripts');
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node scripts/bundle.mjs');
    const sources = buildContextSources();
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.mjs']) expect(sources).toContain(f);
    for (const s of sources) expect(existsSync(join(repoRoot, s)), `COPY source ${s}`).toBe(true);
  });

  it('the copied sources hold every file runtime/main.ts imports; its packages are production dependencies', () => {
    const config = buildConfig();
    const { files, packages } = importClosure(config);
    const copied = buildContextSources();
    // `npm run build` compiles every copied source: none may import outside the copied folders.
    const all = importClosure(config, copiedRoots(config)).files;
    for (const f of [...files, ...all]) {
      const rel = relative(repoRoot, f).split(sep).join('/');
      expect(copied.some((c) => rel === c || rel.startsWith(`${c}/`)), `${rel} is not copied into the build stage`).toBe(true);
    }
    expect(packages.size).toBeGreaterThan(0);
    for (const p of packages) expect(Object.keys(pkg.dependencies), `${p} must be a dependency, not a devDependency`).toContain(p);
  });

  it('deps stage: production dependencies only (npm ci --omit=dev), install scripts off', () => {
    const d = runs(stage('deps'));
    const ci = d.find((r) => /^npm ci\b/.test(r));
    expect(ci).toBeDefined();
    expect(ci).toMatch(/--omit=dev\b/);
    expect(ci).toContain('--ignore-scripts');
  });

  it('runtime stage: installs nothing, takes node_modules from deps and only dist/ from build', () => {
    const r = stage('runtime');
    const commands = runs(r).flatMap((cmd) => cmd.split(/&&|\|\||;/).map((c) => c.trim()));
    for (const c of commands) expect(c).not.toMatch(/^(npm|npx|yarn|pnpm|corepack|apt-get|apt)\b/);
    const fromBuild = copies(r).filter((i) => i.flags.from === 'build');
    expect(fromBuild.length).toBeGreaterThan(0);
    const buildDist = posix.join(workdir(stage('build')), 'dist');
    for (const i of fromBuild) for (const src of copyParts(i).sources) expect(posix.resolve(workdir(stage('build')), src).startsWith(buildDist)).toBe(true);
    const fromDeps = copies(r).filter((i) => i.flags.from === 'deps').flatMap((i) => copyParts(i).sources);
    expect(fromDeps.some((s) => s.endsWith('/node_modules'))).toBe(true);
    // Nothing from the build context itself (no sources, no dev tooling).
    expect(copies(r).filter((i) => i.flags.from === undefined)).toEqual([]);
    // package.json ("type": "module") comes along: dist/**/*.js are ES modules.
    expect(fromDeps.some((s) => s.endsWith('/package.json'))).toBe(true);
    expect(pkg.type).toBe('module');
  });

  it('the benchmarks start what the image runs: bench/image.ts reads the runtime stage\'s ENTRYPOINT and ENV', () => {
    const r = stage('runtime');
    const entry = imageEntryPoint();
    expect(['node', ...entry.nodeArgs, entry.script]).toEqual(last(r, 'ENTRYPOINT')?.json);
    const env = Object.fromEntries(r.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.rest.split('=') as [string, string]));
    expect(entry.env).toEqual(env);
    expect(entry.env.NODE_ENV).toBe('production');
  });

  it('runtime stage: a non-root USER by default', () => {
    const user = last(stage('runtime'), 'USER')?.rest;
    expect(user).toBeDefined();
    const [u] = (user as string).split(':');
    expect(['0', 'root']).not.toContain(u);
    expect(u).toMatch(/^\d+$/); // numeric, so the kubelet can check runAsNonRoot
  });

  it('entry point: exec form `node <V8 flags> dist/image/main.js`, the bundle of what tsc emits for runtime/main.ts', () => {
    const r = stage('runtime');
    const entry = last(r, 'ENTRYPOINT')?.json;
    expect(entry).toEqual(['node', '--max-semi-space-size=1', '--max-old-space-size=512', 'dist/image/main.js']);
    // The bundle step reads tsc's dist/runtime/main.js and writes dist/image/ (scripts/bundle.mjs, run by `npm run build`).
    const bundler = readFileSync(join(repoRoot, 'scripts', 'bundle.mjs'), 'utf8');
    expect(bundler).toContain("entryPoints: ['dist/runtime/main.js']");
    expect(bundler).toContain("outdir: 'dist/image'");
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node scripts/bundle.mjs');
    expect(runs(stage('build')).some((c) => /\bnpm run build\b/.test(c))).toBe(true);
    // No CMD: Kubernetes `args` (the chart's flags) are appended to the entry point.
    expect(last(r, 'CMD')).toBeUndefined();
    const config = buildConfig();
    const [js] = ts.getOutputFileNames(config, join(repoRoot, 'runtime', 'main.ts'), false).filter((f) => f.endsWith('.js'));
    expect(js).toBeDefined();
    // tsc writes <repo>/dist/runtime/main.js; the build stage has the repo at its WORKDIR and the runtime copies …/dist to <WORKDIR>/dist.
    const relJs = relative(repoRoot, js as string).split(sep).join('/');
    expect(relJs).toBe('dist/runtime/main.js');
  });

  it('exposes the chart default ports (health, metrics) and VXLAN', () => {
    const values = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as { ports: { health: number; metrics: number } };
    const exposed = stage('runtime').instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.rest.split(/\s+/));
    expect(exposed).toEqual(expect.arrayContaining([`${values.ports.health}/tcp`, `${values.ports.metrics}/tcp`, '8472/udp']));
  });

  it('.dockerignore keeps node_modules, dist and .git out, and nothing the Dockerfile copies', () => {
    for (const p of ['node_modules', 'effects/node_modules', 'dist', '.git', '.cache', 'test', 'lab']) expect(dockerIgnored(p, dockerignore), p).toBe(true);
    for (const s of buildContextSources()) expect(dockerIgnored(s, dockerignore), `${s} is copied but ignored`).toBe(false);
    for (const s of ['.npmrc', 'runtime/main.ts', 'effects/netlink/rtnl.ts']) expect(dockerIgnored(s, dockerignore)).toBe(false);
  });
});

describe('what npm ci --omit=dev --ignore-scripts leaves out, and why that works', () => {
  it('the build and test tools are devDependencies in the lockfile (omitted from the image)', () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const name of ['typescript', 'vitest', 'eslint', '@aws-cdk/lambda-layer-kubectl-v35', 'kubernetes-models', 'playwright-core']) {
      expect(Object.keys(pkg.devDependencies)).toContain(name);
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBe(true);
    }
  });

  it('netlink loads N-API prebuilt binaries for linux x64 and arm64 (no install script, no compiler)', () => {
    for (const arch of ['linux-x64', 'linux-arm64']) {
      const dir = join(repoRoot, 'node_modules', 'netlink', 'prebuilds', arch);
      expect(existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node')), arch).toBe(true);
    }
    expect(readFileSync(join(repoRoot, 'node_modules', 'netlink', 'dist', 'raw.js'), 'utf8')).toContain("require('node-gyp-build')");
  });
});

describe('the image layout starts', () => {
  let app: string;
  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'chart-test-image-'));
  });
  afterAll(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('the copied sources compile to dist/runtime/main.js, bundle to dist/image/main.js, and the entry point runs `--help` and `cleanup --help` from /app', async () => {
    const config = buildConfig();
    // Only the sources the build stage copies (the Dockerfile leaves lab/ out).
    const roots = copiedRoots(config);
    // tsconfig has isolatedModules and verbatimModuleSyntax: per-file transpilation emits
    // what tsc emits, written where tsc would write it (getOutputFileNames) under /app.
    // NodeNext emits ES modules here (package.json "type": "module"); transpileModule
    // cannot see package.json, so it is told ESNext directly.
    const options = { ...config.options, outDir: join(app, 'dist'), rootDir: repoRoot, sourceMap: false, declaration: false };
    const emitConfig: ts.ParsedCommandLine = { ...config, options };
    const transpileOptions = { ...options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler };
    for (const file of roots) {
      const [outFile] = ts.getOutputFileNames(emitConfig, file, false).filter((f) => f.endsWith('.js'));
      if (outFile === undefined) throw new Error(`no output for ${file}`);
      const out = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: transpileOptions, fileName: file, reportDiagnostics: true });
      expect(out.diagnostics ?? [], file).toEqual([]);
      mkdirSync(dirname(outFile), { recursive: true });
      writeFileSync(outFile, out.outputText);
    }
    const main = join(app, 'dist', 'runtime', 'main.js');
    expect(existsSync(main)).toBe(true);
    // The runtime stage's /app: package.json + node_modules + dist.
    writeFileSync(join(app, 'package.json'), readFileSync(join(repoRoot, 'package.json')));
    symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'), 'dir');
    const node = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, args, { cwd: app, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
    // The build stage's second step, then the runtime stage's entry point with its flags.
    const bundled = await node([join(repoRoot, 'scripts', 'bundle.mjs')]);
    expect(bundled.code, bundled.stderr).toBe(0);
    const entry = last(stage('runtime'), 'ENTRYPOINT')?.json ?? [];
    const out = await node([...entry.slice(1), '--help']);
    expect(out.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('--vxlan-vni');
    // The uninstall hook's command: `cleanup` as the first argument, loaded lazily from its own chunk.
    const cleanup = await node([...entry.slice(1), 'cleanup', '--help']);
    expect(cleanup.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toContain('Usage: eks-hybrid-gateway cleanup [flags]');
  }, 60_000);
});
