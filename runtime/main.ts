// Gateway entry point: configuration first (exit 2 on bad input), then the
// runtime, the health and metrics servers, and the signals. `cleanup` as the
// first argument runs the uninstall subcommand instead (runtime/cleanup/).
//
// SIGTERM/SIGINT: the leader steps down (its writes stop, the lease is
// released so the standby takes over at once), watches stop, and the process
// exits 0 within 5 s. The VXLAN device and its entries are left in place on
// purpose: the reference deletes hybrid_vxlan0 on exit, which drops the data
// plane on every restart; a restarted gateway here adopts the device and
// converges its entries, and traffic keeps flowing meanwhile.
import type { Server } from 'node:http';
import { ConfigError, parseConfig, type GatewayConfig } from './config/parse.js';
import { startGateway } from './gateway.js';
import { EventLoopWatch } from './event-loop.js';
import { startHealthServer, startMetricsServer } from './health.js';
import { createLogger, type Logger } from './logging.js';

const EXIT_DEADLINE_MS = 5000;

function configOrExit(argv: readonly string[], env: NodeJS.ProcessEnv): GatewayConfig | number {
  try {
    const outcome = parseConfig(argv, env);
    if (outcome.kind === 'help') {
      process.stdout.write(outcome.text);
      return 0;
    }
    return outcome.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`config: ${p}\n`);
      process.stderr.write('run with --help for the list of options\n');
      return 2;
    }
    throw err;
  }
}

async function run(config: GatewayConfig, log: Logger): Promise<void> {
  let stop: (reason: string, code: number) => void = () => undefined;
  const runtime = startGateway(config, { env: process.env, logger: log, onFailed: () => stop('start-up failed', 1) });
  const loop: EventLoopWatch = new EventLoopWatch(5000, {
    onSample: (worstMs) => {
      runtime.metrics.eventLoopDelay.observe(worstMs / 1000);
      runtime.metrics.eventLoopDelayMax.set(loop.maxDelayMs() / 1000);
      // Lease renewals wait for the loop: a second of it is worth a warning.
      if (worstMs >= 1000) log.warn({ eventLoopDelayMs: Math.round(worstMs) }, 'the event loop was blocked');
      else if (worstMs >= 100) log.debug({ eventLoopDelayMs: Math.round(worstMs) }, 'the event loop was blocked');
    },
  });
  const servers: Server[] = [];

  let stopping = false;
  stop = (reason: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'stopping: stepping down, data plane left in place');
    const hard = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, EXIT_DEADLINE_MS);
    hard.unref();
    runtime
      .stop()
      .catch((err: unknown) => log.error({ err }, 'shutdown error'))
      .finally(() => {
        for (const s of servers) s.close();
        log.flush();
        process.exitCode = code;
        setImmediate(() => process.exit(code));
      });
  };
  // Installed before anything is awaited, so a SIGTERM during start-up still steps down cleanly.
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));

  try {
    if (config.healthProbeBindAddress) servers.push((await startHealthServer(config.healthProbeBindAddress, runtime, { loop })).server);
    if (config.metricsBindAddress) servers.push(await startMetricsServer(config.metricsBindAddress, runtime.metrics.registry));
  } catch (err) {
    // e.g. the port is taken: without probes the pod would be killed anyway; say why and stop cleanly.
    log.fatal({ err }, 'cannot serve health or metrics');
    stop('start-up failed', 1);
    return;
  }
  log.info({ nodeIP: config.nodeIP, vpcCIDRs: config.vpcCIDRs, podCIDRs: config.podCIDRs, routeTables: config.routeTableIDs }, 'gateway started');
}

const argv = process.argv.slice(2);
if (argv[0] === 'cleanup') {
  // The uninstall subcommand (the chart's pre-delete hook): loaded only when asked for.
  import('./cleanup/command.js')
    .then((m) => m.cleanupCommand(argv.slice(1), process.env))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
} else if (argv[0] === 'doctor') {
  // A read-only subcommand with the gateway's configuration (runtime/doctor/cli.ts).
  const { doctorMain } = await import('./doctor/cli.js');
  process.exitCode = await doctorMain(argv.slice(1), process.env, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
} else {
  const configured = configOrExit(argv, process.env);
  if (typeof configured === 'number') {
    process.exitCode = configured;
  } else {
    const log = createLogger({ debug: configured.debug, base: { pod: configured.podName, node: configured.nodeName } });
    run(configured, log).catch((err: unknown) => {
      log.fatal({ err }, 'gateway failed to start');
      log.flush();
      process.exitCode = 1;
    });
  }
}
