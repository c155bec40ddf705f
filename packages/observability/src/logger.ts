import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths that may carry secrets; pino replaces their values with `[redacted]`. */
export const REDACT_PATHS = [
  'key',
  'keys',
  'password',
  'secret',
  'token',
  'authorization',
  '*.key',
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
];

/** The one logger factory: JSON lines, secrets redacted, a `service` field on every line. */
export function createLogger(service: string, opts: { level?: LoggerOptions['level']; destination?: pino.DestinationStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
