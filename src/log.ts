import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Header and key paths that may hold a secret. Probes never log headers, but a redaction list is
 * the backstop if someone adds `headers` to a log call later.
 */
export const REDACTED_PATHS = [
  'headers.authorization',
  'headers["cf-access-client-secret"]',
  'headers["CF-Access-Client-Secret"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["cf-access-client-secret"]',
  '*.headers.authorization',
  '*.headers["cf-access-client-secret"]',
  '*.headers["CF-Access-Client-Secret"]',
  'token',
  'apiKey',
  'api_key',
  'clientSecret',
  '*.token',
  '*.apiKey',
  '*.clientSecret',
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'surface-exporter' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
