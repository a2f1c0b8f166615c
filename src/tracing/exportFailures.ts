import { core, type tracing } from '@opentelemetry/sdk-node';
import type { Logger } from 'pino';
import type { ProbeSpansSettled, SettledProbeSpan } from '../core/trace.js';
import { PROBE_SPAN } from './spans.js';

export const FAILURE_REPORT_INTERVAL_MS = 60_000;

const MAX_LOGGED_MESSAGE_LENGTH = 200;

/**
 * Wraps the OTLP exporter so a collector that is down or failing costs one log line a minute,
 * not one per batch: the first failure is logged at once, later ones are counted into the next
 * line, and a recovery is logged once.
 */
export class FailureReportingExporter implements tracing.SpanExporter {
  private lastReportAt: number | undefined;
  private failuresSinceReport = 0;
  private spansLostSinceReport = 0;
  private failing = false;

  constructor(
    private readonly inner: tracing.SpanExporter,
    private readonly log: Logger,
    private readonly endpoint: string,
    private readonly now: () => number = Date.now,
    /** Told which probe traces each batch carried and whether the collector took them (exemplars). */
    private readonly onProbeSpansSettled: ProbeSpansSettled = () => {},
  ) {}

  export(spans: tracing.ReadableSpan[], resultCallback: (result: core.ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      const exported = result.code === core.ExportResultCode.SUCCESS;
      if (exported) this.noteSuccess();
      else this.noteFailure(spans.length, result.error);
      try {
        const probes = settledProbesOf(spans);
        if (probes.length > 0) this.onProbeSpansSettled(probes, exported);
      } catch (err) {
        // The SDK waits on resultCallback for this batch: a throwing listener must not hang its queue.
        this.log.error({ event: 'probe_spans_settled_failed', err }, 'settling exemplars failed');
      } finally {
        resultCallback(result);
      }
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  private noteSuccess(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info(
      {
        event: 'trace_export_recovered',
        endpoint: this.endpoint,
        failed_exports_not_logged: this.failuresSinceReport,
        spans_lost_not_logged: this.spansLostSinceReport,
      },
      'trace export works again',
    );
    this.failuresSinceReport = 0;
    this.spansLostSinceReport = 0;
  }

  private noteFailure(spanCount: number, error: Error | undefined): void {
    this.failing = true;
    this.failuresSinceReport++;
    this.spansLostSinceReport += spanCount;
    const now = this.now();
    if (this.lastReportAt !== undefined && now - this.lastReportAt < FAILURE_REPORT_INTERVAL_MS) return;
    this.lastReportAt = now;
    this.log.warn(
      {
        event: 'trace_export_failed',
        endpoint: this.endpoint,
        err: describeExportError(error),
        failed_exports: this.failuresSinceReport,
        spans_lost: this.spansLostSinceReport,
      },
      'trace export failed; probing is unaffected, and further failures are summarised once a minute',
    );
    this.failuresSinceReport = 0;
    this.spansLostSinceReport = 0;
  }
}

/**
 * A copy holding only the error's name, message and HTTP status: the OTLP error's `data` is the
 * collector's response body, unbounded and not ours to copy into logs.
 */
function describeExportError(error: Error | undefined): Error {
  const described = new Error(error?.message.slice(0, MAX_LOGGED_MESSAGE_LENGTH) ?? 'export failed');
  described.name = error?.name ?? 'Error';
  // The stack would be this wrapper's, which says nothing about the collector.
  described.stack = undefined;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') Object.assign(described, { code });
  return described;
}

/** The probe spans of a batch, each named by its trace and its surface (a force-poll's probes share one trace). */
function settledProbesOf(spans: readonly tracing.ReadableSpan[]): SettledProbeSpan[] {
  const probes: SettledProbeSpan[] = [];
  for (const span of spans) {
    if (span.name !== PROBE_SPAN) continue;
    probes.push({
      traceId: span.spanContext().traceId,
      env: String(span.attributes['surface.env']),
      surface: String(span.attributes['surface.name']),
      provider: String(span.attributes['surface.provider']),
    });
  }
  return probes;
}
