// `npm run visualize` — the visualizations' command line.
//
//   npm run visualize                      regenerate visualizations/generated/ (statecharts)
//   npm run visualize -- check             exit 1 when visualizations/generated/ is stale
//   npm run visualize -- timeline <otlp.json> [--outages outages.json] [--out file.html]
//                        [--title text] [--root gateway.failover] [--trace-id hex]
//
// The timeline input is OTLP/HTTP JSON (an ExportTraceServiceRequest, an array
// of them, or JSON Lines with one per line); protobuf is not read.
import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { GENERATED_DIR, staleStatecharts, writeStatecharts } from './statecharts.js';
import { parseOutages, renderFailoverTimeline } from './timeline.js';

const USAGE = `usage:
  npm run visualize                       regenerate visualizations/generated/
  npm run visualize -- check              fail when visualizations/generated/ is stale
  npm run visualize -- timeline <otlp.json> [--outages outages.json] [--out file.html]
                       [--title text] [--root span-name] [--trace-id hex]`;

class UsageError extends Error {}

async function timeline(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        outages: { type: 'string' },
        out: { type: 'string' },
        title: { type: 'string' },
        root: { type: 'string' },
        'trace-id': { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [input, ...extra] = positionals;
  if (input === undefined || extra.length > 0) throw new UsageError('timeline needs exactly one OTLP JSON file');
  const otlp = await readFile(input);
  const outages = values.outages === undefined ? undefined : parseOutages(await readFile(values.outages, 'utf8'));
  const html = renderFailoverTimeline({
    otlp,
    outages,
    title: values.title,
    rootSpanName: values.root,
    traceId: values['trace-id'],
  });
  if (values.out === undefined) {
    process.stdout.write(html);
  } else {
    await writeFile(values.out, html);
    process.stderr.write(`visualize: wrote ${values.out}\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'statecharts': {
      const written = await writeStatecharts();
      for (const path of written) process.stderr.write(`visualize: wrote ${relative(process.cwd(), path)}\n`);
      return 0;
    }
    case 'check': {
      const stale = await staleStatecharts();
      if (stale.length === 0) return 0;
      process.stderr.write(`visualize: stale in ${relative(process.cwd(), GENERATED_DIR)}: ${stale.join(', ')} (run npm run visualize)\n`);
      return 1;
    }
    case 'timeline':
      await timeline(rest);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`visualize: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
