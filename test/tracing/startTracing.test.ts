import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { core, type tracing } from '@opentelemetry/sdk-node';
import type { ProbeResult } from '../../src/core/result.js';
import { VERSION } from '../../src/core/version.js';
import { FAILURE_REPORT_INTERVAL_MS, FailureReportingExporter } from '../../src/tracing/exportFailures.js';
import { startTracing } from '../../src/tracing/index.js';
import { PROBE_SPAN } from '../../src/tracing/spans.js';
import type { HttpOutcome } from '../../src/transport/client.js';
import { captureLogs, waitFor } from '../helpers/support.js';

import { startOtlpReceiver } from './otlpReceiver.js';

const UP: ProbeResult = { status: 'up', code: null, detail: 'ok' };
const LABELS = { env: 'test', surface: 'alpha', provider: 'http' };

describe('startTracing', () => {
  it('creates nothing without an endpoint: no trace id, no span, one startup line', async () => {
    const sink = captureLogs();
    const tracing = startTracing({ env: {}, log: sink.log, version: VERSION });
    const traced = await tracing.tracer.traceProbe(LABELS, async () => UP);
    assert.deepEqual(traced, { result: UP });
    const outcome: HttpOutcome = {
      kind: 'failure',
      failure: 'refused',
      message: 'refused',
      durationSeconds: 0,
    };
    assert.equal(
      await tracing.interceptor(
        { method: 'GET', url: 'http://127.0.0.1:1/' },
        async () => outcome,
        undefined,
      ),
      outcome,
    );
    await tracing.shutdown();
    assert.deepEqual(
      sink.capture.lines().map((line) => line.event),
      ['tracing_disabled'],
    );
  });

  it('exports nothing when OTEL_SDK_DISABLED=true, even with an endpoint', async () => {
    const receiver = await startOtlpReceiver('accept');
    try {
      const tracing = startTracing({
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' },
        log: captureLogs().log,
        version: VERSION,
      });
      const traced = await tracing.tracer.traceProbe(LABELS, async () => UP);
      assert.equal(traced.traceId, undefined);
      await tracing.shutdown();
      assert.equal(receiver.exportAttempts, 0);
    } finally {
      await receiver.close();
    }
  });

  it('takes the service name, resource attributes and traces endpoint from OTEL_* variables', async () => {
    const receiver = await startOtlpReceiver('accept');
    try {
      const tracing = startTracing({
        env: {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
          OTEL_SERVICE_NAME: 'probe-fleet',
          OTEL_RESOURCE_ATTRIBUTES:
            'deployment.environment=prod,team=site%20reliability,service.name=ignored',
        },
        log: captureLogs().log,
        version: VERSION,
      });
      const traced = await tracing.tracer.traceProbe(LABELS, async () => UP);
      await tracing.shutdown();
      const [span] = receiver.spans;
      assert.equal(span?.name, PROBE_SPAN);
      assert.equal(span?.traceId, traced.traceId);
      assert.deepEqual(
        {
          name: span?.resource['service.name'],
          version: span?.resource['service.version'],
          instance: span?.resource['service.instance.id'],
          environment: span?.resource['deployment.environment'],
          team: span?.resource.team,
        },
        {
          name: 'probe-fleet',
          version: VERSION,
          instance: hostname(),
          environment: 'prod',
          team: 'site reliability',
        },
      );
      assert.equal(
        Object.keys(span?.resource ?? {}).some((key) => key.startsWith('process.')),
        false,
        'no process attributes: command lines can hold secrets',
      );
    } finally {
      await receiver.close();
    }
  });

  for (const [protocol, expected] of [
    [undefined, 'protobuf'],
    ['http/protobuf', 'protobuf'],
    ['http/json', 'json'],
  ] as const) {
    it(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol ?? '(unset)'}: spans go out as ${expected}, attributes intact`, async () => {
      const receiver = await startOtlpReceiver('accept');
      try {
        const tracing = startTracing({
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol },
          log: captureLogs().log,
          version: VERSION,
        });
        const traced = await tracing.tracer.traceProbe(LABELS, async () => UP);
        await tracing.shutdown();
        assert.deepEqual(receiver.encodings, [expected]);
        const [span] = receiver.spans;
        assert.equal(span?.traceId, traced.traceId);
        assert.equal(span?.name, PROBE_SPAN);
        assert.equal(span?.attributes['surface.name'], 'alpha');
        assert.equal(span?.attributes['surface.status'], 'up');
        assert.equal(span?.resource['service.name'], 'surface-exporter');
      } finally {
        await receiver.close();
      }
    });
  }

  it('gives no exemplar trace id for a trace the sampler dropped', async () => {
    const receiver = await startOtlpReceiver('accept');
    try {
      const tracing = startTracing({
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER: 'always_off' },
        log: captureLogs().log,
        version: VERSION,
      });
      const traced = await tracing.tracer.traceProbe(LABELS, async () => UP);
      assert.equal(traced.traceId, undefined);
      await tracing.shutdown();
      assert.equal(receiver.exportAttempts, 0);
    } finally {
      await receiver.close();
    }
  });

  it('refuses a second start while one runs, and starts again after shutdown', async () => {
    const receiver = await startOtlpReceiver('accept');
    try {
      const options = {
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '20' },
        log: captureLogs().log,
        version: VERSION,
      };
      const first = startTracing(options);
      assert.throws(() => startTracing(options), /already registered/);
      await first.shutdown();
      const second = startTracing(options);
      const traced = await second.tracer.traceProbe(LABELS, async () => UP);
      await waitFor(() => receiver.spans.some((span) => span.traceId === traced.traceId), {
        what: 'the span of the second Tracing',
      });
      await second.shutdown();
    } finally {
      await receiver.close();
    }
  });
});

describe('FailureReportingExporter', () => {
  /** Stands in for the OTLP exporter: answers each export with the next scripted result. */
  function scriptedExporter(results: core.ExportResult[]): tracing.SpanExporter {
    return {
      export: (_spans, done) => done(results.shift() ?? { code: core.ExportResultCode.SUCCESS }),
      shutdown: async () => {},
    };
  }
  const failed = { code: core.ExportResultCode.FAILED, error: new Error('Internal Server Error') };
  const succeeded = { code: core.ExportResultCode.SUCCESS };
  const spans = (count: number) =>
    Array.from({ length: count }, () => ({ name: 'http.request' })) as tracing.ReadableSpan[];

  const probeSpan = (traceId: string, surface: string) =>
    ({
      name: PROBE_SPAN,
      spanContext: () => ({ traceId, spanId: '00f067aa0ba902b7', traceFlags: 1 }),
      attributes: { 'surface.env': 'prod', 'surface.name': surface, 'surface.provider': 'http' },
    }) as unknown as tracing.ReadableSpan;

  it('names each probe span of a batch by its trace and its surface', () => {
    const heard: unknown[] = [];
    const exporter = new FailureReportingExporter(
      scriptedExporter([succeeded]),
      captureLogs().log,
      'http://collector:4318/v1/traces',
      () => 0,
      (probes, exported) => heard.push({ probes, exported }),
    );
    const forcePoll = 'a'.repeat(32);
    exporter.export(
      [probeSpan(forcePoll, 'www'), spans(1)[0] as tracing.ReadableSpan, probeSpan(forcePoll, 'api')],
      () => {},
    );
    assert.deepEqual(heard, [
      {
        probes: [
          { traceId: forcePoll, env: 'prod', surface: 'www', provider: 'http' },
          { traceId: forcePoll, env: 'prod', surface: 'api', provider: 'http' },
        ],
        exported: true,
      },
    ]);
  });

  it('hands the batch back to the SDK even when the settle listener throws, and logs it', () => {
    const sink = captureLogs();
    const exporter = new FailureReportingExporter(
      scriptedExporter([succeeded, failed]),
      sink.log,
      'http://collector:4318/v1/traces',
      () => 0,
      () => {
        throw new Error('listener bug');
      },
    );
    const results: core.ExportResultCode[] = [];
    exporter.export([probeSpan('b'.repeat(32), 'www')], (result) => results.push(result.code));
    exporter.export([probeSpan('c'.repeat(32), 'www')], (result) => results.push(result.code));
    assert.deepEqual(results, [core.ExportResultCode.SUCCESS, core.ExportResultCode.FAILED]);
    const settleFailures = sink.capture.lines().filter((line) => line.event === 'probe_spans_settled_failed');
    assert.equal(settleFailures.length, 2);
  });

  it('logs the first failure at once, then at most one summary a minute, and the recovery once', () => {
    const sink = captureLogs();
    let now = 0;
    const exporter = new FailureReportingExporter(
      scriptedExporter([failed, failed, failed, failed, succeeded, succeeded, failed]),
      sink.log,
      'http://collector:4318/v1/traces',
      () => now,
    );
    const results: core.ExportResultCode[] = [];
    const send = (count: number, at: number) => {
      now = at;
      exporter.export(spans(count), (result) => results.push(result.code));
    };
    send(2, 0);
    send(3, 1000);
    send(4, FAILURE_REPORT_INTERVAL_MS - 1);
    send(5, FAILURE_REPORT_INTERVAL_MS);
    send(1, FAILURE_REPORT_INTERVAL_MS + 1);
    send(1, FAILURE_REPORT_INTERVAL_MS + 2);
    send(6, FAILURE_REPORT_INTERVAL_MS + 3);

    assert.equal(results.length, 7, 'every result reaches the batch processor');
    assert.deepEqual(
      sink.capture
        .lines()
        .map((line) => [
          line.event,
          line.failed_exports ?? line.failed_exports_not_logged,
          line.spans_lost ?? line.spans_lost_not_logged,
        ]),
      [
        ['trace_export_failed', 1, 2],
        ['trace_export_failed', 3, 12],
        ['trace_export_recovered', 0, 0],
      ],
    );
    assert.deepEqual(sink.capture.lines()[0]?.err, {
      type: 'Error',
      name: 'Error',
      message: 'Internal Server Error',
      stack: '',
    });
  });
});
