import { hostname } from 'node:os';
import { type ContextManager, context, ProxyTracer, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK, resources, tracing } from '@opentelemetry/sdk-node';
import type { Logger } from 'pino';
import { noopTracer, type ProbeSpansSettled, type ProbeTracer } from '../core/trace.js';
import type { RequestInterceptor } from '../transport/client.js';
import { redactUrl } from '../transport/redact.js';
import {
  type OtlpTracingConfig,
  readTracingConfig,
  type SamplerConfig,
  type TracingConfig,
} from './config.js';
import { FailureReportingExporter } from './exportFailures.js';
import { createProbeTracer, createRequestInterceptor } from './spans.js';

export interface Tracing {
  tracer: ProbeTracer;
  interceptor: RequestInterceptor;
  /** Flushes what is queued (bounded by a deadline) and releases the OpenTelemetry globals. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** The OTEL_* variables as read once at start (app/settings.ts); env is read when it is absent. */
  config?: TracingConfig;
  env?: NodeJS.ProcessEnv;
  log: Logger;
  version: string;
}

const TRACER_NAME = 'surface-exporter';

type OtlpExporterOptions = NonNullable<ConstructorParameters<typeof OTLPProtobufTraceExporter>[0]>;

/** A collector that never answers must not hold the process at exit longer than this. */
export const SHUTDOWN_DEADLINE_MS = 5000;

const passThrough: RequestInterceptor = (_request, run) => run();

/** A context manager that keeps no active context: nothing here reads one (see spans.ts). */
const noActiveContext: ContextManager = {
  active: () => ROOT_CONTEXT,
  with: (_context, fn, thisArg, ...args) => fn.call(thisArg, ...args),
  bind: (_context, target) => target,
  enable() {
    return this;
  },
  disable() {
    return this;
  },
};

/**
 * Starts OTLP trace export as the standard OTEL_* variables say. With no endpoint (or
 * OTEL_SDK_DISABLED=true) nothing is created at all: no spans, no exemplars, no per-span cost.
 *
 * OpenTelemetry's tracer provider is a process global, so one Tracing runs per process at a time;
 * shutdown() releases it for the next.
 */
export function startTracing(options: TracingOptions): Tracing {
  const { log } = options;
  const config = options.config ?? readTracingConfig(options.env ?? {});
  for (const warning of config.warnings) log.warn({ event: 'tracing_config' }, warning);
  if (!config.enabled) {
    log.info({ event: 'tracing_disabled', reason: config.reason }, `tracing off: ${config.reason}`);
    return { tracer: noopTracer, interceptor: passThrough, shutdown: async () => {} };
  }
  // NodeSDK would fail to register over another provider and our spans would silently go to that one.
  if (!(trace.getTracer(TRACER_NAME) instanceof ProxyTracer)) {
    throw new Error('an OpenTelemetry tracer provider is already registered in this process');
  }

  const shownEndpoint = redactUrl(config.endpoint);
  const settledListeners = new Set<ProbeSpansSettled>();
  const exporterOptions: OtlpExporterOptions = {
    url: config.endpoint,
    headers: config.headers,
    timeoutMillis: config.timeoutMillis,
    compression: config.compression as OtlpExporterOptions['compression'],
  };
  const exporter = new FailureReportingExporter(
    config.protocol === 'http/json'
      ? new OTLPJsonTraceExporter(exporterOptions)
      : new OTLPProtobufTraceExporter(exporterOptions),
    log,
    shownEndpoint,
    Date.now,
    (probes, exported) => {
      for (const listener of settledListeners) listener(probes, exported);
    },
  );
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    resource: buildResource(config, options.version),
    // Detectors read process.env directly, and the process detector would record command-line arguments.
    autoDetectResources: false,
    sampler: buildSampler(config.sampler),
    spanProcessors: [new tracing.BatchSpanProcessor(exporter, config.batch)],
    // No auto-instrumentation: the exporter must not trace its own /metrics, /health or OTLP traffic.
    instrumentations: [],
    // Traces only; otherwise the SDK would start OTLP metric and log exporters of its own.
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: null,
    // Spans get their parent by hand (spans.ts). The default AsyncLocalStorage context manager would
    // put an async hook on every promise in the process for nothing.
    contextManager: noActiveContext,
  });
  sdk.start();
  log.info(
    {
      event: 'tracing_started',
      endpoint: shownEndpoint,
      protocol: config.protocol,
      service_name: config.serviceName,
      sampler: config.sampler.name,
      max_queue_size: config.batch.maxQueueSize,
    },
    `exporting traces over OTLP/HTTP (${config.protocol})`,
  );

  const tracer = trace.getTracer(TRACER_NAME, options.version);
  let stopping: Promise<void> | undefined;
  return {
    tracer: {
      ...createProbeTracer(tracer),
      onProbeSpansSettled: (listener) => {
        settledListeners.add(listener);
        return () => settledListeners.delete(listener);
      },
    },
    interceptor: createRequestInterceptor(tracer),
    shutdown: () => {
      stopping ??= (async () => {
        let deadline: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timed out'>((resolve) => {
          deadline = setTimeout(() => resolve('timed out'), SHUTDOWN_DEADLINE_MS);
        });
        const flushed = sdk.shutdown().then(
          () => 'flushed' as const,
          (err: unknown) => {
            log.warn({ event: 'trace_export_failed', err }, 'last spans could not be exported at shutdown');
            return 'flushed' as const;
          },
        );
        if ((await Promise.race([flushed, timedOut])) === 'timed out') {
          log.warn(
            { event: 'trace_export_failed', endpoint: shownEndpoint },
            `queued spans dropped: the collector did not take them within ${SHUTDOWN_DEADLINE_MS} ms`,
          );
        }
        clearTimeout(deadline);
        trace.disable();
        context.disable();
      })();
      return stopping;
    },
  };
}

function buildResource(config: OtlpTracingConfig, version: string): resources.Resource {
  const host = hostname();
  return resources
    .defaultResource()
    .merge(
      resources.resourceFromAttributes({
        'service.version': version,
        'service.instance.id': host,
        'host.name': host,
      }),
    )
    .merge(resources.resourceFromAttributes(config.resourceAttributes))
    .merge(resources.resourceFromAttributes({ 'service.name': config.serviceName }));
}

function buildSampler(sampler: SamplerConfig): tracing.Sampler {
  switch (sampler.name) {
    case 'always_on':
      return new tracing.AlwaysOnSampler();
    case 'always_off':
      return new tracing.AlwaysOffSampler();
    case 'traceidratio':
      return new tracing.TraceIdRatioBasedSampler(sampler.ratio);
    case 'parentbased_always_on':
      return new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new tracing.ParentBasedSampler({ root: new tracing.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new tracing.ParentBasedSampler({ root: new tracing.TraceIdRatioBasedSampler(sampler.ratio) });
  }
}
