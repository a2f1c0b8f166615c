import { parseTrustProxy } from '../api/auth.js';
import type { Env } from '../core/env.js';
import { parseStatusPageMode, type StatusPageMode } from '../statuspage/mode.js';
import { readTracingConfig, type TracingConfig } from '../tracing/config.js';
import { SHARD_VARIABLES } from './sharding.js';

const SHARD_MEANING = Object.fromEntries(
  SHARD_VARIABLES.map(({ name, meaning }) => [name, meaning.charAt(0).toUpperCase() + meaning.slice(1)]),
) as Record<(typeof SHARD_VARIABLES)[number]['name'], string>;

export const DEFAULT_PORT = 9742;
export const DEFAULT_CONFIG_FILE = 'surfaces.yaml';

/** A process variable with a value the exporter cannot use; the message names it and its value. */
export class SettingsError extends Error {}

/** One process variable as the README's table shows it. */
export interface VariableDoc {
  name: string;
  meaning: string;
  /** What applies when it is unset, as an operator reads it. */
  default: string;
}

interface Variable<T> extends VariableDoc {
  /** Receives the trimmed value, undefined when unset or blank. */
  parse(value: string | undefined): T;
}

export interface ListenAddress {
  host: string;
  port: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const asIs = (value: string | undefined) => value;

function flag(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). */
export function parseListenAddress(raw: string, source = '--listen-address'): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(raw);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new SettingsError(
      `${source}: expected HOST:PORT (e.g. 127.0.0.1:${DEFAULT_PORT}), got ${JSON.stringify(raw)}`,
    );
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

function port(name: string) {
  return (value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!/^\d{1,5}$/.test(value) || parsed > 65535) {
      throw new SettingsError(`${name}: expected a port number (0-65535), got ${JSON.stringify(value)}`);
    }
    return parsed;
  };
}

function httpUrl(name: string) {
  return (value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      // A base URL is shown so the operator sees the typo; credentials in it are not.
      throw new SettingsError(
        `${name}: expected an http(s) URL, got ${JSON.stringify(redactUrlText(value))}`,
      );
    }
    return value.replace(/\/+$/, '');
  };
}

/** A proxy URL may carry credentials in its userinfo or its query. */
function redactUrlText(value: string): string {
  return value
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@')
    .replace(/([?&][^=&\s]+=)[^&#\s]*/g, '$1***');
}

function logLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  const level = value.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new SettingsError(
      `LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return level as LogLevel;
}

const variable = <T>(declared: Variable<T>): Variable<T> => declared;

/**
 * Every process variable the exporter reads, with its meaning and its parser. Nothing else in src/
 * reads a variable by a fixed name: each command reads this list once, into one Settings object.
 * Credential variables are the exception: the registry names them per surface, so providers look
 * them up by name at each probe (core/env.ts).
 */
const VARIABLES = {
  configFile: variable({
    name: 'SURFACE_EXPORTER_CONFIG',
    meaning: 'Registry file, as `--config` (which wins).',
    default: '`./surfaces.yaml` when it exists; otherwise the demo runs',
    parse: asIs,
  }),
  listenAddress: variable({
    name: 'LISTEN_ADDRESS',
    meaning: 'Where to listen, `HOST:PORT`, as `--listen-address` (which wins).',
    default: `\`0.0.0.0:$PORT\` when PORT is set, else \`0.0.0.0:${DEFAULT_PORT}\` (the demo: \`127.0.0.1:${DEFAULT_PORT}\`)`,
    parse: (value: string | undefined) =>
      value === undefined ? undefined : parseListenAddress(value, 'LISTEN_ADDRESS'),
  }),
  platformPort: variable({
    name: 'PORT',
    meaning:
      'The port a platform such as Heroku assigns; the exporter then listens on all interfaces. With PORT set and no registry, the exporter refuses to start the demo unless `--demo` is given (its fake prod surfaces could page).',
    default: 'unset',
    parse: port('PORT'),
  }),
  onlyEnv: variable({
    name: 'SURFACE_ENV',
    meaning: 'Probe (and check, list) only this environment of the registry; an unknown name is an error.',
    default: 'every environment',
    parse: asIs,
  }),
  operatorToken: variable({
    name: 'FORCE_POLL_TOKEN',
    meaning: 'Bearer token of force-poll, `/-/reload` and poller-status; compared in constant time.',
    default: 'unset: those endpoints answer 403 (the demo makes one up)',
    parse: asIs,
  }),
  metricsToken: variable({
    name: 'METRICS_TOKEN',
    meaning: 'Bearer token that `/metrics` then requires.',
    default: 'unset: `/metrics` is open unless METRICS_BASIC_AUTH is set',
    parse: asIs,
  }),
  metricsBasicAuth: variable({
    name: 'METRICS_BASIC_AUTH',
    meaning:
      '`user:password` that `/metrics` then accepts as HTTP basic auth (either this or METRICS_TOKEN passes).',
    default: 'unset',
    parse: asIs,
  }),
  trustProxy: variable({
    name: 'TRUST_PROXY',
    meaning:
      'How many proxies in front of the exporter append to `X-Forwarded-For`, 0 to 5 (1 behind the Heroku router or one Kubernetes ingress), so that the failed-authentication limit also counts the forwarded client; see Security.',
    default: '`0`: only the socket address counts',
    parse: (value: string | undefined) => {
      try {
        parseTrustProxy(value);
      } catch (err) {
        throw new SettingsError((err as Error).message);
      }
      return value;
    },
  }),
  statusPage: variable({
    name: 'STATUS_PAGE',
    meaning:
      'Who sees the [status page](#status-page) (`/status`, `/`), `/api/status` and the badges: `public`, `token` (the `/metrics` credentials, METRICS_TOKEN or METRICS_BASIC_AUTH, which must then be set) or `off`.',
    default: '`public`',
    parse: (value: string | undefined): StatusPageMode => {
      const mode = parseStatusPageMode(value);
      if (typeof mode === 'object') throw new SettingsError(mode.error);
      return mode;
    },
  }),
  logLevel: variable({
    name: 'LOG_LEVEL',
    meaning: `pino level: ${LOG_LEVELS.join(', ')}.`,
    default: '`info`; `warn` for the demo, `error` for `probe`',
    parse: logLevel,
  }),
  testing: variable({
    name: 'TESTING',
    meaning:
      "`true` (or 1, yes, on) serves the API without the background poller, as `--no-poller` (the seed runbook's switch).",
    default: 'false',
    parse: flag,
  }),
  herokuApiUrl: variable({
    name: 'HEROKU_API_URL',
    meaning: 'Base URL of the Heroku Platform API (a proxy; tests and the demo point it at a fake).',
    default: '`https://api.heroku.com`',
    parse: httpUrl('HEROKU_API_URL'),
  }),
  cloudflareApiUrl: variable({
    name: 'CLOUDFLARE_API_URL',
    meaning: 'Base URL of the Cloudflare v4 API (a proxy; tests and the demo point it at a fake).',
    default: '`https://api.cloudflare.com/client/v4`',
    parse: httpUrl('CLOUDFLARE_API_URL'),
  }),
  shardOrdinal: variable({
    name: 'SURFACE_SHARD',
    meaning: `${SHARD_MEANING.SURFACE_SHARD}; parsed with the sharding flags, which win (see [Scaling out](#scaling-out)).`,
    default: 'one shard owns every surface',
    parse: asIs,
  }),
  totalShards: variable({
    name: 'SURFACE_TOTAL_SHARDS',
    meaning: `${SHARD_MEANING.SURFACE_TOTAL_SHARDS}; parsed with the sharding flags, which win.`,
    default: '1',
    parse: asIs,
  }),
  path: variable({
    name: 'PATH',
    meaning:
      '`npm run stack` looks for `prometheus` and `prometheus-alertmanager` (or `alertmanager`) on it.',
    default: 'the shell’s',
    parse: (value: string | undefined) => value ?? '',
  }),
} as const;

/**
 * The standard OpenTelemetry variables the tracing layer reads (tracing/config.ts parses them as a
 * group, since several fall back on each other). Tracing is on only when an endpoint is set.
 */
const TRACING_VARIABLES: readonly VariableDoc[] = [
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    meaning: 'OTLP/HTTP base URL (`/v1/traces` is appended); turns tracing on.',
    default: 'unset: nothing is traced',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    meaning: 'Full traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT.',
    default: 'unset',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    meaning: '`http/protobuf` or `http/json` (gRPC is not spoken).',
    default: '`http/protobuf`',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    meaning: 'As OTEL_EXPORTER_OTLP_PROTOCOL, for traces; wins over it.',
    default: 'unset',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    meaning: '`key=value,...` sent with every export (e.g. `authorization=Basic%20...`); never logged.',
    default: 'none',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    meaning: 'As OTEL_EXPORTER_OTLP_HEADERS, for traces; merged over it.',
    default: 'none',
  },
  { name: 'OTEL_EXPORTER_OTLP_COMPRESSION', meaning: '`gzip` or `none`.', default: '`none`' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
    meaning: 'As OTEL_EXPORTER_OTLP_COMPRESSION, for traces; wins over it.',
    default: 'unset',
  },
  { name: 'OTEL_EXPORTER_OTLP_TIMEOUT', meaning: 'Milliseconds one export may take.', default: '`10000`' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
    meaning: 'As OTEL_EXPORTER_OTLP_TIMEOUT, for traces; wins over it.',
    default: 'unset',
  },
  { name: 'OTEL_SERVICE_NAME', meaning: '`service.name` of the spans.', default: '`surface-exporter`' },
  {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    meaning: '`key=value,...` resource attributes, percent-encoded values.',
    default: 'none',
  },
  {
    name: 'OTEL_TRACES_SAMPLER',
    meaning: '`always_on`, `always_off`, `traceidratio` or their `parentbased_` forms.',
    default: '`parentbased_always_on`',
  },
  { name: 'OTEL_TRACES_SAMPLER_ARG', meaning: 'Ratio in [0, 1] of the ratio samplers.', default: '`1`' },
  { name: 'OTEL_TRACES_EXPORTER', meaning: '`otlp`, or `none` to turn tracing off.', default: '`otlp`' },
  { name: 'OTEL_SDK_DISABLED', meaning: '`true` turns tracing off.', default: '`false`' },
  {
    name: 'OTEL_BSP_MAX_QUEUE_SIZE',
    meaning: 'Spans queued while the collector is slow or down (capped at 65536).',
    default: '`2048`',
  },
  { name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', meaning: 'Spans per export.', default: '`512`' },
  { name: 'OTEL_BSP_SCHEDULE_DELAY', meaning: 'Milliseconds between two exports.', default: '`5000`' },
  {
    name: 'OTEL_BSP_EXPORT_TIMEOUT',
    meaning: 'Milliseconds before an export is abandoned.',
    default: '`30000`',
  },
];

type Parsed = { readonly [K in keyof typeof VARIABLES]: ReturnType<(typeof VARIABLES)[K]['parse']> };

/** Every process variable, read once. */
export interface Settings extends Parsed {
  tracing: TracingConfig;
}

/** The README's variable table, in this order. */
export const VARIABLE_DOCS: readonly VariableDoc[] = [
  ...Object.values(VARIABLES).map(({ name, meaning, default: fallback }) => ({
    name,
    meaning,
    default: fallback,
  })),
  ...TRACING_VARIABLES,
];

/**
 * Reads every declared variable from env. Throws SettingsError on the first value it cannot use, so
 * a bad LISTEN_ADDRESS stops the start with its name rather than a stack trace later.
 */
export function readSettings(env: Env): Settings {
  const parsed: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(VARIABLES)) {
    const value = env[variable.name]?.trim();
    parsed[key] = (variable.parse as (value: string | undefined) => unknown)(value || undefined);
  }
  const tracingEnv: Record<string, string | undefined> = {};
  for (const { name } of TRACING_VARIABLES) tracingEnv[name] = env[name];
  return { ...(parsed as unknown as Parsed), tracing: readTracingConfig(tracingEnv) };
}

/** Where the exporter listens: the flag, then LISTEN_ADDRESS, then the platform's PORT, then the default. */
export function listenAddressOf(
  settings: Pick<Settings, 'listenAddress' | 'platformPort'>,
  flagValue: string | undefined,
  fallbackHost = '0.0.0.0',
): ListenAddress {
  if (flagValue !== undefined) return parseListenAddress(flagValue);
  if (settings.listenAddress) return settings.listenAddress;
  if (settings.platformPort !== undefined) return { host: '0.0.0.0', port: settings.platformPort };
  return { host: fallbackHost, port: DEFAULT_PORT };
}
