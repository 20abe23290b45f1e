// Structured JSON logs (pino). DEBUG turns on the debug level. Anything that
// could carry a credential is redacted at the logger, not at each call site.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'credentials',
  '*.credentials',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
];

export function createLogger(opts: { debug: boolean; destination?: pino.DestinationStream; base?: Record<string, unknown> }): Logger {
  return pino(
    {
      level: opts.debug ? 'debug' : 'info',
      base: { component: 'eks-hybrid-gateway', ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}
