import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startExporter } from '../../src/app/exporter.js';
import { SettingsError } from '../../src/app/settings.js';
import { parseRegistry } from '../../src/config/load.js';
import { noopTracer, type ProbeTracer } from '../../src/core/trace.js';
import { tempDir } from '../cli/support.js';
import { captureLogs, startFileExporter } from '../helpers/support.js';

const POLLER = 'poller: { interval_seconds: 30, timeout_seconds: 2 }\nenvironments:\n  prod:\n';
const registryOf = (names: string[]) =>
  POLLER +
  names.map((name) => `    - { name: ${name}, provider: http, url: "http://127.0.0.1:1/" }\n`).join('');

describe('exporter start and stop', () => {
  it('a start refused for its settings leaves no listener on the tracer', async () => {
    let subscribed = 0;
    const tracer: ProbeTracer = {
      ...noopTracer,
      onProbeSpansSettled: () => {
        subscribed++;
        return () => {
          subscribed--;
        };
      },
    };
    await assert.rejects(
      startExporter({
        registry: parseRegistry(registryOf(['a']), 'surfaces.yaml'),
        host: '127.0.0.1',
        port: 0,
        pollerEnabled: false,
        // STATUS_PAGE=token without any /metrics credential is refused.
        env: { STATUS_PAGE: 'token' },
        log: captureLogs('info').log,
        tracer,
        defaultMetrics: false,
      }),
      SettingsError,
    );
    assert.equal(subscribed, 0);
  });

  it('stop() during a reload waiting for the file to settle: the reload applies nothing and logs no config_reloaded', async () => {
    const dir = await tempDir();
    const file = join(dir.path, 'surfaces.yaml');
    writeFileSync(file, registryOf(['a', 'b']));
    const { log, capture } = captureLogs('info');
    let firstRead!: () => void;
    const read = new Promise<void>((resolve) => {
      firstRead = resolve;
    });
    const exporter = await startFileExporter(file, {
      log,
      // Far longer than the test: without an abort, the reload would apply once stop() returned.
      reloadSettle: { delayMs: 20_000, maxReads: 2, onRead: () => firstRead() },
    });
    try {
      writeFileSync(file, registryOf(['a', 'b', 'c']));
      const reloading = exporter.reload();
      await read;
      await exporter.stop();
      const stoppedAt = capture.lines().length;
      const outcome = await reloading;
      assert.equal(outcome.ok, false);
      assert.match(outcome.errors.join(' '), /stopped before the reload was applied/);
      assert.equal(exporter.poller.surfaces().length, 2, 'the new registry was not applied');
      const afterStop = capture.lines().slice(stoppedAt);
      assert.deepEqual(
        afterStop.filter((line) => String(line.event).startsWith('config_reload')),
        [],
      );
      assert.ok(!capture.lines().some((line) => line.event === 'config_reloaded'));
    } finally {
      await exporter.stop();
      await dir.remove();
    }
  });
});
