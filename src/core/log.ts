import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Header and key paths that may hold a secret. Probes never log headers, but a redaction list is
 * the backstop if someone adds `headers` to a log call later.
 */
export const REDACTED_PATHS = (() => {
  // pino's paths are case-sensitive and headers are written both ways in this code base.
  const headerNames = [
    'authorization',
    'Authorization',
    'cookie',
    'Cookie',
    '["cf-access-client-secret"]',
    '["CF-Access-Client-Secret"]',
    '["cf-access-token"]',
  ];
  const headerPaths = headerNames.flatMap((name) => {
    const key = name.startsWith('[') ? name : `.${name}`;
    return [`headers${key}`, `*.headers${key}`, `*.*.headers${key}`];
  });
  const keyNames = ['token', 'apiKey', 'api_key', 'clientSecret', 'client_secret', 'password'];
  return [...headerPaths, ...keyNames, ...keyNames.map((name) => `*.${name}`)];
})();

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'surface-exporter' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
