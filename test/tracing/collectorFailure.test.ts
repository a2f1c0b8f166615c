import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startExporter } from '../../src/app/exporter.js';
import { parseRegistry } from '../../src/config/load.js';
import { VERSION } from '../../src/core/version.js';
import { SHUTDOWN_DEADLINE_MS, startTracing } from '../../src/tracing/index.js';
import { HttpClient } from '../../src/transport/client.js';
import { captureLogs, waitFor } from '../helpers/support.js';
import { sampleValue, startTargets } from './helpers.js';
import { type ReceiverMode, startOtlpReceiver } from './otlpReceiver.js';

const SURFACES = ['alpha', 'beta', 'gamma'];
const INTERVAL_SECONDS = 1;

function registryText(targets: string): string {
  const surfaces = SURFACES.map(
    (name) => `    - name: ${name}\n      provider: http\n      url: ${targets}/ok\n`,
  ).join('');
  return `poller:\n  interval_seconds: ${INTERVAL_SECONDS}\n  timeout_seconds: 0.5\nenvironments:\n  test:\n${surfaces}`;
}

const failures: { mode: ReceiverMode; collector: string }[] = [
  { mode: 'fail_500', collector: 'answers 500' },
  { mode: 'never_answer', collector: 'never answers' },
];

describe('a collector that fails', () => {
  for (const { mode, collector } of failures) {
    it(`leaves probes on their interval when it ${collector}, and is logged once`, async () => {
      const receiver = await startOtlpReceiver(mode);
      const targets = await startTargets();
      const sink = captureLogs();
      const tracing = startTracing({
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_BSP_SCHEDULE_DELAY: '50',
          OTEL_EXPORTER_OTLP_TIMEOUT: '300',
          OTEL_BSP_MAX_QUEUE_SIZE: '64',
        },
        log: sink.log,
        version: VERSION,
      });
      const http = new HttpClient({ interceptor: tracing.interceptor });
      const exporter = await startExporter({
        registry: parseRegistry(registryText(targets.url), 'surfaces.yaml'),
        host: '127.0.0.1',
        port: 0,
        pollerEnabled: true,
        env: {},
        log: sink.log,
        tracer: tracing.tracer,
        http,
        defaultMetrics: false,
      });
      let tracingStopped = false;
      try {
        const scrape = async () => (await fetch(`${exporter.url}/metrics`)).text();
        const polls = async () => sampleValue(await scrape(), 'surface_poller_polls_total') ?? 0;
        await waitFor(async () => (await polls()) >= SURFACES.length, {
          what: 'a first probe of every surface',
        });
        await waitFor(() => receiver.exportAttempts > 0, { what: 'the collector to have failed an export' });

        // Three more intervals must bring three more probes of each surface, as without tracing.
        const windowStart = performance.now();
        const first = await polls();
        await waitFor(async () => (await polls()) >= first + 3 * SURFACES.length, {
          timeoutMs: (3 * INTERVAL_SECONDS + 1.5) * 1000,
          what: 'three intervals of probes',
        });
        const elapsedSeconds = (performance.now() - windowStart) / 1000;
        assert.ok(
          elapsedSeconds >= 2 * INTERVAL_SECONDS,
          `probes came faster than the interval: ${elapsedSeconds} s`,
        );

        const metrics = await scrape();
        for (const surface of SURFACES) {
          const labels = `{env="test",surface="${surface}",provider="http"}`;
          const sum = sampleValue(metrics, `surface_probe_duration_seconds_sum${labels}`) ?? Number.NaN;
          const count = sampleValue(metrics, `surface_probe_duration_seconds_count${labels}`) ?? Number.NaN;
          assert.ok(sum / count < 0.1, `${surface}: probes slowed to ${sum / count} s on average`);
        }

        assert.ok(receiver.exportAttempts >= 2, `only ${receiver.exportAttempts} export attempts`);
        const failureLogs = sink.capture.lines().filter((line) => line.event === 'trace_export_failed');
        assert.equal(failureLogs.length, 1, 'export failures are logged at most once a minute');
        assert.equal(failureLogs[0]?.level, 'warn');
        assert.equal(failureLogs[0]?.endpoint, `${receiver.url}/v1/traces`);

        await exporter.stop();
        const shutdownStart = performance.now();
        await tracing.shutdown();
        tracingStopped = true;
        assert.ok(performance.now() - shutdownStart < SHUTDOWN_DEADLINE_MS + 1000, 'shutdown is bounded');
      } finally {
        await exporter.stop();
        if (!tracingStopped) await tracing.shutdown();
        await http.close();
        await receiver.close();
        await targets.close();
      }
    });
  }
});
