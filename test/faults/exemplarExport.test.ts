import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startExporter } from '../../src/app/exporter.js';
import { parseRegistry } from '../../src/config/load.js';
import { VERSION } from '../../src/core/version.js';
import { startTracing } from '../../src/tracing/index.js';
import { captureLogs, startTarget, waitFor } from '../helpers/support.js';
import { startOtlpReceiver } from '../tracing/otlpReceiver.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

/** Every trace id an OpenMetrics scrape names in an exemplar. */
async function exemplarTraceIds(url: string): Promise<Set<string>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { accept: OPENMETRICS } })).text();
  return new Set([...text.matchAll(/ # \{trace_id="([0-9a-f]{32})"\}/g)].map((match) => match[1] as string));
}

describe('fault matrix: a collector that drops spans', () => {
  it('a refused batch (503) leaves each bucket its previous, exported exemplar, never a dropped trace', async () => {
    const receiver = await startOtlpReceiver('accept');
    const target = await startTarget((_req, res) => res.end('ok'));
    const { log } = captureLogs('info');
    const tracing = startTracing({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '20',
        // A 503 is retried until this timeout, then the batch is dropped.
        OTEL_EXPORTER_OTLP_TIMEOUT: '300',
      },
      log,
      version: VERSION,
    });
    // Registered after the exporter's own listener, so metrics have settled when this one hears.
    const settled = new Map<string, boolean>();
    const exporter = await startExporter({
      registry: parseRegistry(
        `poller: { interval_seconds: 30, timeout_seconds: 2 }\nenvironments:\n  prod:\n    - { name: a, provider: http, url: "${target.url}/" }\n    - { name: b, provider: http, url: "${target.url}/" }\n`,
        'exemplars.yaml',
      ),
      host: '127.0.0.1',
      port: 0,
      pollerEnabled: false,
      env: {},
      log,
      tracer: tracing.tracer,
      defaultMetrics: false,
    });
    const unsubscribe = tracing.tracer.onProbeSpansSettled?.((probes, exported) => {
      for (const probe of probes) settled.set(probe.traceId, exported);
    });
    const probeAll = async () => {
      const ids: string[] = [];
      for (const key of ['prod/a', 'prod/b', 'prod/a', 'prod/b']) {
        const outcome = await exporter.poller.probeOnce(key);
        assert.ok(outcome.traceId, 'a sampled probe has a trace id');
        ids.push(outcome.traceId);
      }
      return ids;
    };
    try {
      const exported = await probeAll();
      await waitFor(() => exported.every((traceId) => settled.get(traceId) === true), {
        timeoutMs: 10_000,
        what: 'the collector to take every batch',
      });
      // The last probe of each surface is the newest exemplar of its latency bucket.
      const newestExported = exported.slice(-2);
      const beforeDrop = await exemplarTraceIds(exporter.url);
      for (const traceId of newestExported) assert.ok(beforeDrop.has(traceId), `no exemplar of ${traceId}`);

      receiver.setMode('fail_503');
      const dropped = await probeAll();
      await waitFor(() => dropped.every((traceId) => settled.get(traceId) === false), {
        timeoutMs: 10_000,
        what: 'the collector to refuse every batch',
      });
      const received = new Set(receiver.spans.map((span) => span.traceId));
      const afterDrop = await exemplarTraceIds(exporter.url);
      for (const traceId of dropped)
        assert.ok(!afterDrop.has(traceId), `exemplar of dropped trace ${traceId}`);
      for (const traceId of newestExported)
        assert.ok(afterDrop.has(traceId), `the exported exemplar ${traceId} was not kept`);
      for (const traceId of afterDrop)
        assert.ok(received.has(traceId), `exemplar ${traceId} never reached it`);
    } finally {
      unsubscribe?.();
      await exporter.stop();
      await tracing.shutdown();
      await target.close();
      await receiver.close();
    }
  });
});
