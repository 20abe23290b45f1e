// `npm run bench`: runs every bench/*.bench.ts (or those whose name contains an
// argument), one after the other. Each prints its figures and its ratios against
// a baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

for (const file of files) {
  process.stdout.write(`\n=== ${file} ===\n`);
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> };
  await mod.default();
}
if (files.length === 0) process.stdout.write('no benchmark matched\n');
