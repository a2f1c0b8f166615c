import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { requireStackOrSkip } from '../helpers/stack.js';
import {
  fastPoller,
  type LocalTarget,
  parseSamples,
  sampleKey,
  scrape,
  startTarget,
  startTestExporter,
  type TestExporter,
} from '../helpers/support.js';

describe('/metrics', () => {
  let target: LocalTarget;
  let exporter: TestExporter;
  let failing = true;

  before(async () => {
    target = await startTarget((_req, res) => {
      res.writeHead(failing ? 502 : 200).end();
    });
    exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: fastPoller,
        environments: { prod: [{ name: 'api-prod', provider: 'http', url: `${target.url}/health` }] },
      },
    });
  });

  after(async () => {
    await exporter.stop();
    await target.close();
  });

  const labels = { env: 'prod', surface: 'api-prod', provider: 'http' };

  it('publishes every per-surface series with env, surface and provider labels', async () => {
    failing = true;
    await exporter.poller.probeOnce('prod/api-prod');
    await exporter.poller.probeOnce('prod/api-prod');
    const samples = parseSamples((await scrape(exporter)).text);
    assert.equal(samples.get(sampleKey('surface_up', labels)), 0);
    assert.equal(samples.get(sampleKey('surface_status', { ...labels, status: 'up' })), 0);
    assert.equal(samples.get(sampleKey('surface_status', { ...labels, status: 'degraded' })), 1);
    assert.equal(samples.get(sampleKey('surface_status', { ...labels, status: 'down' })), 0);
    assert.equal(
      samples.get(sampleKey('surface_probe_errors_total', { ...labels, code: 'health_http_502' })),
      2,
    );
    assert.equal(samples.get(sampleKey('surface_error_info', { ...labels, code: 'health_http_502' })), 1);
    assert.equal(samples.get(sampleKey('surface_probe_duration_seconds_count', labels)), 2);
    assert.equal(samples.get(sampleKey('surface_probe_duration_seconds_bucket', { ...labels, le: '10' })), 2);
    assert.equal(
      samples.get(sampleKey('surface_probe_duration_seconds_bucket', { ...labels, le: '0.005' })) !==
        undefined,
      true,
    );
    const lastCheck = samples.get(sampleKey('surface_last_check_timestamp_seconds', labels)) ?? 0;
    assert.ok(Math.abs(lastCheck - Date.now() / 1000) < 5, `last check ${lastCheck}`);
    assert.equal(
      samples.get(sampleKey('surface_worker_alive', labels)),
      0,
      'the poller is off: no worker loop runs',
    );
    assert.equal(samples.get('surface_poller_polls_total'), 2);
    assert.ok(Math.abs((samples.get('surface_poller_last_poll_timestamp_seconds') ?? 0) - lastCheck) < 0.01);
    assert.equal(samples.get(sampleKey('surface_poller_surfaces', { env: 'prod' })), 1);
    assert.equal(samples.get(sampleKey('surface_poller_crashes_total', { scope: 'probe' })), 0);
    assert.equal(samples.get(sampleKey('surface_poller_crashes_total', { scope: 'worker' })), 0);
    assert.ok([...samples.keys()].some((key) => /^surface_exporter_build_info\{.*\bversion="/.test(key)));
  });

  it('drops surface_error_info when the surface recovers, keeping the error counter', async () => {
    failing = false;
    await exporter.poller.probeOnce('prod/api-prod');
    const samples = parseSamples((await scrape(exporter)).text);
    assert.equal(samples.get(sampleKey('surface_up', labels)), 1);
    assert.equal(
      samples.get(sampleKey('surface_error_info', { ...labels, code: 'health_http_502' })),
      undefined,
    );
    assert.equal(
      samples.get(sampleKey('surface_probe_errors_total', { ...labels, code: 'health_http_502' })),
      2,
    );
  });

  it('names the missing credential variable while a surface is skipped, and drops it once set', async () => {
    const env: Record<string, string | undefined> = {};
    const skipping = await startTestExporter({
      pollerEnabled: false,
      env,
      registry: {
        poller: fastPoller,
        environments: {
          prod: [
            {
              name: 'console',
              provider: 'http',
              url: `${target.url}/health`,
              access_token_env: 'CF_TOKEN_X',
            },
          ],
        },
      },
    });
    try {
      const key = sampleKey('surface_credential_missing', {
        env: 'prod',
        surface: 'console',
        provider: 'http',
        variable: 'CF_TOKEN_X',
      });
      await skipping.poller.probeOnce('prod/console');
      assert.equal(parseSamples((await scrape(skipping)).text).get(key), 1);
      env.CF_TOKEN_X = 'id:secret';
      await skipping.poller.probeOnce('prod/console');
      assert.equal(parseSamples((await scrape(skipping)).text).get(key), undefined);
    } finally {
      await skipping.stop();
    }
  });

  it('removes every series of a surface that leaves the registry', async () => {
    exporter.poller.applyRegistry({ file: 't', poller: exporter.poller.config, surfaces: [] });
    const { text } = await scrape(exporter);
    assert.doesNotMatch(text, /surface="api-prod"/);
  });

  it('serves OpenMetrics when asked, classic text otherwise', async () => {
    const classic = await scrape(exporter);
    assert.match(classic.contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(classic.text, /^surface_poller_polls_total \d+$/m);
    const open = await scrape(exporter, 'application/openmetrics-text; version=1.0.0');
    assert.match(open.contentType, /^application\/openmetrics-text/);
    assert.match(open.text, /# EOF\n$/);
    assert.match(open.text, /^# TYPE surface_poller_polls counter$/m);
    // The classic format still carries `_total` after an OpenMetrics render renamed the counter family.
    assert.match((await scrape(exporter)).text, /^# TYPE surface_poller_polls_total counter$/m);
  });

  it('passes promtool check metrics, process metrics included', async (t) => {
    if (!requireStackOrSkip(t, 'promtool')) return;
    const full = await startTestExporter({
      pollerEnabled: false,
      defaultMetrics: true,
      registry: {
        poller: fastPoller,
        environments: {
          prod: [
            {
              name: 'api-prod',
              provider: 'http',
              url: `${target.url}/health`,
              labels: { team: 'payments', tier: 'gold' },
            },
          ],
        },
      },
    });
    try {
      failing = true;
      await full.poller.probeOnce('prod/api-prod');
      const { text } = await scrape(full);
      assert.match(text, /process_cpu_seconds_total/);
      assert.match(text, /^surface_info\{.*severity="page",team="payments",tier="gold"\} 1$/m);
      assert.match(text, /^surface_maintenance\{.*\} 0$/m);
      const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.equal((result.stdout + result.stderr).trim(), '', 'promtool reported findings');
    } finally {
      await full.stop();
    }
  });
});
