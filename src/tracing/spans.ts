import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { boundedMemo, objectMemo } from '../core/memo.js';
import { PHASES } from '../core/result.js';
import type { SurfaceLabels } from '../core/surface.js';
import type { ProbeTracer, TraceParent } from '../core/trace.js';
import type { HttpOutcome, RequestInterceptor, TransportFailure } from '../transport/client.js';
import { redactUrl } from '../transport/redact.js';

export const PROBE_SPAN = 'surface.probe';
export const FORCE_POLL_SPAN = 'surface.force_poll';

/** Span events for failures that never produced an HTTP response. */
export const TRANSPORT_FAILURE_EVENTS: Record<TransportFailure, string> = {
  timeout: 'timeout',
  refused: 'connection_refused',
  reset: 'connection_reset',
  dns: 'dns_lookup_failed',
  tls: 'tls_handshake_failed',
  other: 'request_failed',
};

/**
 * Probe spans around every probe; a force-poll span whose probes become its children. Parents are
 * passed by hand (TraceParent), never through the active context, so no async context manager runs.
 */
export function createProbeTracer(tracer: Tracer): ProbeTracer {
  return {
    traceProbe: async (labels, run, parent) => {
      const parentContext = contextOf(parent);
      const span = tracer.startSpan(PROBE_SPAN, probeSpanOptions(labels), parentContext);
      try {
        const result = await run(traceParentOf(trace.setSpan(parentContext, span)));
        span.setAttribute('surface.status', result.status);
        if (result.code !== null) span.setAttribute('error.type', result.code);
        if (result.status !== 'up') {
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.code ?? result.status });
        }
        // An unsampled trace is never exported, so its id would be an exemplar pointing nowhere.
        return { result, traceId: isSampled(span) ? span.spanContext().traceId : undefined };
      } catch (err) {
        markThrown(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
    traceForcePoll: async (run) => {
      const span = tracer.startSpan(FORCE_POLL_SPAN, { kind: SpanKind.INTERNAL }, ROOT_CONTEXT);
      try {
        return await run(traceParentOf(trace.setSpan(ROOT_CONTEXT, span)));
      } catch (err) {
        markThrown(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  };
}

/**
 * The probe span's options, made once per surface: the SDK copies the attributes into each span,
 * and the poller hands the same labels object to every probe of a surface.
 */
const probeSpanOptions = objectMemo(
  (labels: SurfaceLabels): SpanOptions => ({
    kind: SpanKind.INTERNAL,
    attributes: {
      'surface.env': labels.env,
      'surface.name': labels.surface,
      'surface.provider': labels.provider,
    },
  }),
);

function contextOf(parent: TraceParent): Context {
  return (parent as Context | undefined) ?? ROOT_CONTEXT;
}

function traceParentOf(context: Context): TraceParent {
  return context as unknown as TraceParent;
}

/**
 * A client span per outgoing request, with the HTTP semantic-convention attributes. Header values
 * are never read: they carry the API keys and Access service tokens.
 */
export function createRequestInterceptor(tracer: Tracer): RequestInterceptor {
  return async (request, run, parent) => {
    const span = tracer.startSpan(request.method, clientSpanOptions(request), contextOf(parent));
    try {
      const outcome = await run();
      recordOutcome(span, outcome);
      return outcome;
    } catch (err) {
      markThrown(span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}

/**
 * A client span's options by method and URL. A surface requests the same URL every probe, and
 * parsing and redacting it took two URL parses per request; the SDK copies the attributes into
 * each span. Keyed by the URL string itself, per method: a surface's URL is one string object
 * whose hash V8 keeps, where a `${method} ${url}` key was a new string to hash on every request.
 * Bounded: URLs that carry a changing part (a page cursor) must not grow it forever.
 */
const clientSpanOptionsByMethod = new Map<string, (url: string) => SpanOptions>();

function clientSpanOptions(request: { method: string; url: string }): SpanOptions {
  let byUrl = clientSpanOptionsByMethod.get(request.method);
  if (!byUrl) {
    const method = request.method;
    byUrl = boundedMemo(
      (url): SpanOptions => ({ kind: SpanKind.CLIENT, attributes: requestAttributes(method, url) }),
      20_000,
    );
    clientSpanOptionsByMethod.set(method, byUrl);
  }
  return byUrl(request.url);
}

function requestAttributes(method: string, rawUrl: string): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'http.request.method': method,
    'url.full': redactUrl(rawUrl),
  };
  try {
    const url = new URL(rawUrl);
    attributes['server.address'] = url.hostname.replace(/^\[(.*)\]$/, '$1');
    attributes['server.port'] = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  } catch {
    // The client reports an unparsable URL as a failed request; the span still records the attempt.
  }
  return attributes;
}

function recordOutcome(span: Span, outcome: HttpOutcome): void {
  if (outcome.kind === 'response') {
    span.setAttribute('http.response.status_code', outcome.status);
    // The same split as surface_probe_phase_seconds; no semantic convention names phases yet.
    const phases = outcome.phases;
    if (phases) {
      for (let index = 0; index < PHASES.length; index++) {
        const phase = PHASES[index] as (typeof PHASES)[number];
        span.setAttribute(PHASE_ATTRIBUTES[index] as string, phases[phase]);
      }
    }
    // Semantic conventions: for a client span every 4xx and 5xx is an error, 3xx is not.
    if (outcome.status >= 400) {
      span.setAttribute('error.type', String(outcome.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return;
  }
  const errorType = outcome.failure === 'other' ? '_OTHER' : outcome.failure;
  span.setAttribute('error.type', errorType);
  span.addEvent(TRANSPORT_FAILURE_EVENTS[outcome.failure], {
    'error.type': errorType,
    'surface.elapsed_ms': Math.round(outcome.durationSeconds * 1000),
  });
  span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.message });
}

/** `surface.phase.resolve_seconds` and so on, built once rather than on every request. */
const PHASE_ATTRIBUTES = PHASES.map((phase) => `surface.phase.${phase}_seconds`);

function markThrown(span: Span, err: unknown): void {
  // The type only: a bug's message may quote anything it had in hand, secrets included.
  span.setAttribute('error.type', err instanceof Error ? err.name : typeof err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'exception' });
}

function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}
