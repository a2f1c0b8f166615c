import { core } from '@opentelemetry/sdk-node';

export const DEFAULT_SERVICE_NAME = 'surface-exporter';

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

const SAMPLER_NAMES: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

export interface SamplerConfig {
  name: SamplerName;
  /** Only read by the ratio samplers. */
  ratio: number;
}

export interface BatchConfig {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

/** OTLP/HTTP encodings. http/protobuf is the OTLP default, and cheaper to build (bench/RESULTS.md). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface OtlpTracingConfig {
  enabled: true;
  /** Full URL of the OTLP/HTTP traces endpoint, `/v1/traces` included. */
  endpoint: string;
  protocol: OtlpProtocol;
  /** May hold credentials (e.g. a Grafana Cloud token): never log it. */
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: 'gzip' | 'none';
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: SamplerConfig;
  batch: BatchConfig;
  /** Problems with the variables, logged once at startup. */
  warnings: string[];
}

export interface DisabledTracingConfig {
  enabled: false;
  reason: string;
  warnings: string[];
}

export type TracingConfig = OtlpTracingConfig | DisabledTracingConfig;

/**
 * The queue is what a dead collector can fill: whatever the variable says, it stays bounded so a
 * long outage costs a fixed amount of memory (about 1 KiB a span).
 */
export const MAX_QUEUE_SIZE = 65_536;

const BATCH_DEFAULTS: BatchConfig = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 30_000,
};

const DEFAULT_EXPORT_TIMEOUT_MILLIS = 10_000;

/**
 * Reads the standard OTEL_* variables (and only those) from `env`. Tracing is on only when an
 * OTLP endpoint is set: trace ids of spans nobody receives would make exemplars dead links.
 */
export function readTracingConfig(env: NodeJS.ProcessEnv): TracingConfig {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const warnings: string[] = [];

  if (read('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') {
    return { enabled: false, reason: 'OTEL_SDK_DISABLED is true', warnings };
  }
  const exporters = (read('OTEL_TRACES_EXPORTER') ?? 'otlp').split(',').map((name) => name.trim());
  if (exporters.includes('none')) {
    return { enabled: false, reason: 'OTEL_TRACES_EXPORTER is none', warnings };
  }
  const unsupported = exporters.filter((name) => name !== 'otlp');
  if (unsupported.length > 0) {
    warnings.push(`OTEL_TRACES_EXPORTER: only otlp is supported, ignoring ${unsupported.join(', ')}`);
  }

  const endpoint = tracesEndpoint(
    read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'),
    read('OTEL_EXPORTER_OTLP_ENDPOINT'),
  );
  if (endpoint === undefined) {
    return { enabled: false, reason: 'no OTEL_EXPORTER_OTLP_ENDPOINT is set', warnings };
  }
  if (!endpoint.ok) return { enabled: false, reason: endpoint.problem, warnings };

  const protocolVariable = read('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = readProtocol(protocolVariable, read(protocolVariable), warnings);

  const resourceAttributes = parseResourceAttributes(read('OTEL_RESOURCE_ATTRIBUTES'), warnings);
  const compression =
    (read('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') ?? read('OTEL_EXPORTER_OTLP_COMPRESSION')) === 'gzip'
      ? 'gzip'
      : 'none';
  const timeoutVariable = read('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT')
    ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
    : 'OTEL_EXPORTER_OTLP_TIMEOUT';

  return {
    enabled: true,
    endpoint: endpoint.url,
    protocol,
    headers: {
      ...core.parseKeyPairsIntoRecord(read('OTEL_EXPORTER_OTLP_HEADERS')),
      ...core.parseKeyPairsIntoRecord(read('OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
    },
    timeoutMillis: positiveInteger(read, timeoutVariable, DEFAULT_EXPORT_TIMEOUT_MILLIS, warnings),
    compression,
    serviceName: read('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME,
    resourceAttributes,
    sampler: readSampler(read('OTEL_TRACES_SAMPLER'), read('OTEL_TRACES_SAMPLER_ARG'), warnings),
    batch: readBatch(read, warnings),
    warnings,
  };
}

function readProtocol(variable: string, raw: string | undefined, warnings: string[]): OtlpProtocol {
  if (raw === undefined || raw === 'http/protobuf' || raw === 'http/json') return raw ?? 'http/protobuf';
  warnings.push(
    raw === 'grpc'
      ? `${variable}=grpc is not supported: spans are sent as OTLP/HTTP (http/protobuf), usually on port 4318`
      : `${variable}=${raw} is not an OTLP protocol (http/protobuf, http/json): using http/protobuf`,
  );
  return 'http/protobuf';
}

type EndpointLookup = { ok: true; url: string } | { ok: false; problem: string };

function tracesEndpoint(
  signalSpecific: string | undefined,
  base: string | undefined,
): EndpointLookup | undefined {
  // The signal-specific variable is the whole URL; the base one gets the signal path appended (OTLP spec).
  if (signalSpecific !== undefined) return httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', signalSpecific);
  if (base === undefined) return undefined;
  return httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', `${base.endsWith('/') ? base : `${base}/`}v1/traces`);
}

function httpUrl(variable: string, raw: string): EndpointLookup {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: `${variable} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, problem: `${variable} must be an http(s) URL` };
  }
  return { ok: true, url: url.toString() };
}

/** `key1=value1,key2=value2`, values percent-encoded, as the OTel spec defines it. */
export function parseResourceAttributes(raw: string | undefined, warnings: string[]): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (raw === undefined) return attributes;
  for (const pair of raw.split(',')) {
    if (!pair.trim()) continue;
    const separator = pair.indexOf('=');
    const key = pair.slice(0, separator).trim();
    if (separator < 0 || !key) {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: ignoring "${pair.trim()}" (expected key=value)`);
      continue;
    }
    try {
      attributes[key] = decodeURIComponent(pair.slice(separator + 1).trim());
    } catch {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: ignoring ${key} (invalid percent-encoding)`);
    }
  }
  return attributes;
}

function readSampler(
  name: string | undefined,
  argument: string | undefined,
  warnings: string[],
): SamplerConfig {
  let sampler: SamplerName = 'parentbased_always_on';
  if (name !== undefined) {
    if ((SAMPLER_NAMES as readonly string[]).includes(name)) sampler = name as SamplerName;
    else warnings.push(`OTEL_TRACES_SAMPLER: unsupported sampler ${name}, using parentbased_always_on`);
  }
  let ratio = 1;
  if (sampler.endsWith('traceidratio') && argument !== undefined) {
    const parsed = Number(argument);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) ratio = parsed;
    else warnings.push(`OTEL_TRACES_SAMPLER_ARG: ${argument} is not a ratio in [0, 1], using 1`);
  }
  return { name: sampler, ratio };
}

function readBatch(read: (name: string) => string | undefined, warnings: string[]): BatchConfig {
  const maxQueueSize = Math.min(
    MAX_QUEUE_SIZE,
    positiveInteger(read, 'OTEL_BSP_MAX_QUEUE_SIZE', BATCH_DEFAULTS.maxQueueSize, warnings),
  );
  return {
    maxQueueSize,
    maxExportBatchSize: Math.min(
      maxQueueSize,
      positiveInteger(read, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', BATCH_DEFAULTS.maxExportBatchSize, warnings),
    ),
    scheduledDelayMillis: positiveInteger(
      read,
      'OTEL_BSP_SCHEDULE_DELAY',
      BATCH_DEFAULTS.scheduledDelayMillis,
      warnings,
    ),
    exportTimeoutMillis: positiveInteger(
      read,
      'OTEL_BSP_EXPORT_TIMEOUT',
      BATCH_DEFAULTS.exportTimeoutMillis,
      warnings,
    ),
  };
}

function positiveInteger(
  read: (name: string) => string | undefined,
  variable: string,
  fallback: number,
  warnings: string[],
): number {
  const raw = read(variable);
  if (raw === undefined) return fallback;
  const parsed = Number(raw);
  if (Number.isInteger(parsed) && parsed > 0) return parsed;
  warnings.push(`${variable}: ${raw} is not a positive integer, using ${fallback}`);
  return fallback;
}
