// The checked-in statechart artefacts under visualizations/generated/, built
// in memory so `npm run visualize` writes them and a test compares them:
//   <id>.machine.json  the machine config the Stately visualizer/inspector reads
//   <id>.dot           Graphviz source (diff-friendly for review)
//   <id>.svg           the rendered statechart
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { fleetMachine } from '../machines/fleet.machine.js';
import { gatewayMachine, shardMachine } from '../machines/gateway.machine.js';
import { vtepMachine } from '../machines/vtep.machine.js';
import { machineDefinitionJson } from './definition.js';
import { dotToSvg } from './graphviz.js';
import { machineToDot } from './statechart-dot.js';

export interface ChartedMachine {
  readonly machine: AnyStateMachine;
  /** Source file, relative to the repository root. */
  readonly source: string;
  /** Layout direction that reads best for this chart. */
  readonly rankdir: 'TB' | 'LR';
}

export const MACHINES: readonly ChartedMachine[] = [
  { machine: gatewayMachine, source: 'machines/gateway.machine.ts', rankdir: 'LR' },
  { machine: shardMachine, source: 'machines/shard.machine.ts', rankdir: 'LR' },
  { machine: vtepMachine, source: 'machines/vtep.machine.ts', rankdir: 'TB' },
  { machine: fleetMachine, source: 'machines/fleet.machine.ts', rankdir: 'TB' },
];

export interface GeneratedFile {
  /** Path relative to the output directory. */
  readonly name: string;
  readonly content: string;
}

export const GENERATED_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'generated');

/** Every artefact for the given machines, in a fixed order. */
export async function buildStatecharts(machines: readonly ChartedMachine[] = MACHINES): Promise<GeneratedFile[]> {
  const files: GeneratedFile[] = [];
  for (const { machine, source, rankdir } of machines) {
    const dot = machineToDot(machine, { source, rankdir });
    files.push({ name: `${machine.id}.machine.json`, content: machineDefinitionJson(machine) });
    files.push({ name: `${machine.id}.dot`, content: dot });
    files.push({ name: `${machine.id}.svg`, content: await dotToSvg(dot) });
  }
  return files;
}

export async function writeStatecharts(dir: string = GENERATED_DIR): Promise<string[]> {
  const files = await buildStatecharts();
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const file of files) {
    const path = join(dir, file.name);
    await writeFile(path, file.content);
    written.push(path);
  }
  return written;
}

/** Names of checked-in files that differ from a fresh build (missing files count as stale). */
export async function staleStatecharts(dir: string = GENERATED_DIR): Promise<string[]> {
  const stale: string[] = [];
  for (const file of await buildStatecharts()) {
    const current = await readFile(join(dir, file.name), 'utf8').catch(() => undefined);
    if (current !== file.content) stale.push(file.name);
  }
  return stale;
}
