// Gateway entry point: configuration first (exit 2 on bad input), then the
// runtime. The runtime wiring lands with the runtime issue; until then the
// process validates its configuration and reports that it cannot run yet.
import { ConfigError, parseConfig } from './config/parse.js';

function main(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  try {
    const outcome = parseConfig(argv, env);
    if (outcome.kind === 'help') {
      process.stdout.write(outcome.text);
      return 0;
    }
    process.stderr.write(`configuration valid: ${JSON.stringify(outcome.config)}\n`);
    process.stderr.write('the gateway runtime is not wired yet (see the runtime issue)\n');
    return 1;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`config: ${p}\n`);
      process.stderr.write('run with --help for the list of options\n');
      return 2;
    }
    throw err;
  }
}

process.exitCode = main(process.argv.slice(2), process.env);
