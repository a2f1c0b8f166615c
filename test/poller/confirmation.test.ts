import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseRegistry } from '../../src/config/load.js';
import { startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import {
  parseSamples,
  sampleKey,
  scrape,
  startTarget,
  startTestExporter,
  waitFor,
} from '../helpers/support.js';

const WWW = { env: 'prod', surface: 'www', provider: 'http' };

/** A target answering 200, or 502 to the next `failNext` requests; counts what it answered. */
async function switchableTarget() {
  const answered: number[] = [];
  const state = { failNext: 0, failAlways: false };
  const target = await startTarget((_req, res) => {
    const status = state.failAlways || state.failNext > 0 ? 502 : 200;
    if (state.failNext > 0) state.failNext--;
    answered.push(status);
    res.writeHead(status).end();
  });
  return { target, state, answered };
}

type WwwExporter = Awaited<ReturnType<typeof startTestExporter>>;

/**
 * Runs `body` against an exporter probing one http surface, prod/www, on a switchable target, once
 * its first scheduled probe is UP; `before` is how many answers the target had given by then.
 */
async function withUpSurface(
  poller: { interval_seconds: number; timeout_seconds: number; confirm_after_seconds: number },
  body: (run: {
    exporter: WwwExporter;
    state: { failNext: number; failAlways: boolean };
    answered: number[];
    before: number;
  }) => Promise<void>,
  exporterOptions: { logLevel?: 'debug' } = {},
): Promise<void> {
  const { target, state, answered } = await switchableTarget();
  const exporter = await startTestExporter({
    ...exporterOptions,
    registry: {
      poller,
      environments: { prod: [{ name: 'www', provider: 'http', url: `${target.url}/health` }] },
    },
  });
  try {
    await waitFor(() => exporter.poller.status().surfaces[0]?.status === 'up', {
      timeoutMs: 8000,
      what: 'the first scheduled probe UP',
    });
    await body({ exporter, state, answered, before: answered.length });
  } finally {
    await exporter.stop();
    await target.close();
  }
}

/** Scrapes until `stop` resolves, keeping every value surface_status{status="degraded"} had. */
function watchDegraded(exporter: { url: string }, stop: Promise<unknown>) {
  const seen: Array<number | undefined> = [];
  let done = false;
  void stop.finally(() => {
    done = true;
  });
  const watching = (async () => {
    while (!done) {
      const samples = parseSamples((await scrape(exporter)).text);
      seen.push(samples.get(sampleKey('surface_status', { ...WWW, status: 'degraded' })));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return { seen, watching };
}

describe('confirmation before a state change', () => {
  it('a single failed probe of an UP surface is counted but never published', async () => {
    // The confirming probe (0.3 s) lands long before the next scheduled one (5 s).
    await withUpSurface(
      { interval_seconds: 5, timeout_seconds: 1, confirm_after_seconds: 0.3 },
      async ({ exporter, state, answered, before }) => {
        state.failNext = 1;
        const confirmed = waitFor(() => answered.length >= before + 2, {
          timeoutMs: 9000,
          intervalMs: 10,
          what: 'the failed probe and its confirmation',
        });
        const { seen, watching } = watchDegraded(exporter, confirmed);
        await confirmed;
        await watching;
        assert.deepEqual(answered.slice(before, before + 2), [502, 200]);
        assert.ok(seen.length > 0);
        assert.deepEqual(
          seen.filter((value) => value !== 0),
          [],
          'surface_status showed the unconfirmed failure',
        );
        const samples = parseSamples((await scrape(exporter)).text);
        assert.equal(
          samples.get(sampleKey('surface_probe_errors_total', { ...WWW, code: 'health_http_502' })),
          1,
        );
        assert.equal(
          samples.get(sampleKey('surface_error_info', { ...WWW, code: 'health_http_502' })),
          undefined,
        );
        // The unconfirmed probe's latency counts too.
        await waitFor(
          async () =>
            parseSamples((await scrape(exporter)).text).get(
              sampleKey('surface_probe_duration_seconds_count', WWW),
            ) === answered.length,
          { what: 'every probe, the unconfirmed one included, in the latency histogram' },
        );
        const changes = exporter.logs
          .lines()
          .filter((line) => line.msg === 'poll_once: surface changed state');
        assert.deepEqual(
          changes.map((line) => line.status),
          ['up'],
        );
        assert.ok(
          exporter.logs.lines().some((line) => line.msg === 'poll_once: failure, probing again to confirm'),
        );
      },
      { logLevel: 'debug' },
    );
  });

  it('publishes a failure once the confirming probe fails too; both attempts count', async () => {
    await withUpSurface(
      { interval_seconds: 5, timeout_seconds: 1, confirm_after_seconds: 0.3 },
      async ({ exporter, state, answered, before }) => {
        state.failAlways = true;
        const published = await waitFor(
          async () => {
            const samples = parseSamples((await scrape(exporter)).text);
            return samples.get(sampleKey('surface_status', { ...WWW, status: 'degraded' })) === 1 && samples;
          },
          { timeoutMs: 9000, intervalMs: 10, what: 'the confirmed failure in /metrics' },
        );
        // Published by the second failing probe, the confirmation, not by a third scheduled one.
        assert.deepEqual(answered.slice(before), [502, 502]);
        assert.equal(
          published.get(sampleKey('surface_probe_errors_total', { ...WWW, code: 'health_http_502' })),
          2,
        );
        assert.equal(published.get(sampleKey('surface_error_info', { ...WWW, code: 'health_http_502' })), 1);
        assert.equal(exporter.poller.status().surfaces[0]?.error, 'health_http_502');
      },
    );
  });

  it('with confirm_after_seconds 0 a single failure is published at once', async () => {
    await withUpSurface(
      { interval_seconds: 5, timeout_seconds: 1, confirm_after_seconds: 0 },
      async ({ exporter, state, answered, before }) => {
        state.failNext = 1;
        // The failure is the next scheduled probe (5 s), and the one after it is 5 s later still.
        await waitFor(() => exporter.poller.status().surfaces[0]?.status === 'degraded', {
          timeoutMs: 9000,
          intervalMs: 5,
          what: 'the single failure published',
        });
        assert.deepEqual(answered.slice(before), [502]);
      },
    );
  });
});

describe('maintenance', () => {
  it('a surface in a window is probed and exported as usual, with surface_maintenance 1 and "maintenance" in poller-status', async () => {
    const target = await startTarget((_req, res) => res.writeHead(503).end());
    const now = Date.now();
    const open = { from: new Date(now - 60_000).toISOString(), to: new Date(now + 3_600_000).toISOString() };
    const later = {
      from: new Date(now + 3_600_000).toISOString(),
      to: new Date(now + 7_200_000).toISOString(),
    };
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 1, timeout_seconds: 0.5, confirm_after_seconds: 0 },
        environment_defaults: { staging: { maintenance: [open] } },
        environments: {
          prod: [
            { name: 'www', provider: 'http', url: `${target.url}/a`, maintenance: [open] },
            { name: 'api', provider: 'http', url: `${target.url}/b`, maintenance: [later] },
          ],
          staging: [{ name: 'www', provider: 'http', url: `${target.url}/c` }],
        },
      },
    });
    try {
      const samples = await waitFor(
        async () => {
          const scraped = parseSamples((await scrape(exporter)).text);
          const degraded = ['prod/www', 'prod/api', 'staging/www'].every((key) => {
            const [env = '', surface = ''] = key.split('/');
            return (
              scraped.get(
                sampleKey('surface_status', { env, surface, provider: 'http', status: 'degraded' }),
              ) === 1
            );
          });
          return degraded && scraped;
        },
        { timeoutMs: 5000, what: 'every surface probed DEGRADED' },
      );
      const maintenance = (env: string, surface: string) =>
        samples.get(sampleKey('surface_maintenance', { env, surface, provider: 'http' }));
      assert.equal(maintenance('prod', 'www'), 1);
      assert.equal(maintenance('prod', 'api'), 0);
      assert.equal(maintenance('staging', 'www'), 1);
      const flags = Object.fromEntries(
        exporter.poller
          .status()
          .surfaces.map((surface) => [`${surface.env}/${surface.surface}`, surface.maintenance]),
      );
      assert.deepEqual(flags, { 'prod/www': true, 'prod/api': false, 'staging/www': true });
    } finally {
      await exporter.stop();
      await target.close();
    }
  });

  it('a provider reporting maintenance_mode puts the surface in maintenance', async () => {
    const heroku = await startHerokuApi({ apiKeys: ['maintenance-key'] });
    heroku.addApp({ name: 'in-maintenance', maintenance: true });
    heroku.addApp({ name: 'serving' });
    const exporter = await startTestExporter({
      env: { HEROKU_API_KEY: 'maintenance-key', HEROKU_API_URL: heroku.url },
      registry: {
        poller: {
          interval_seconds: 1,
          timeout_seconds: 0.5,
          confirm_after_seconds: 0,
          metadata_ttl_seconds: 0,
        },
        environments: {
          prod: [
            { name: 'a', provider: 'heroku_app', app: 'in-maintenance' },
            { name: 'b', provider: 'heroku_app', app: 'serving' },
          ],
        },
      },
    });
    try {
      const samples = await waitFor(
        async () => {
          const scraped = parseSamples((await scrape(exporter)).text);
          const coded =
            scraped.get(
              sampleKey('surface_error_info', {
                env: 'prod',
                surface: 'a',
                provider: 'heroku_app',
                code: 'maintenance_mode',
              }),
            ) === 1 &&
            scraped.get(sampleKey('surface_up', { env: 'prod', surface: 'b', provider: 'heroku_app' })) === 1;
          return coded && scraped;
        },
        { timeoutMs: 5000, what: 'maintenance_mode and UP in /metrics' },
      );
      assert.equal(
        samples.get(sampleKey('surface_maintenance', { env: 'prod', surface: 'a', provider: 'heroku_app' })),
        1,
      );
      assert.equal(
        samples.get(sampleKey('surface_maintenance', { env: 'prod', surface: 'b', provider: 'heroku_app' })),
        0,
      );
      heroku.setMaintenance('in-maintenance', false);
      await waitFor(
        async () =>
          parseSamples((await scrape(exporter)).text).get(
            sampleKey('surface_maintenance', { env: 'prod', surface: 'a', provider: 'heroku_app' }),
          ) === 0,
        { timeoutMs: 5000, what: 'maintenance over once the flag is off' },
      );
    } finally {
      await exporter.stop();
      await heroku.close();
    }
  });
});

describe('surface_info', () => {
  it('carries severity and labels, one series per surface, escaped, and goes with the surface', async () => {
    const target = await startTarget((_req, res) => res.end('ok'));
    const registry = (surfaces: unknown[]) => ({
      poller: { interval_seconds: 1, timeout_seconds: 0.5 },
      environment_defaults: { staging: { severity: 'ticket', labels: { team: 'platform' } } },
      environments: { prod: surfaces, staging: [{ name: 'www', provider: 'http', url: `${target.url}/s` }] },
    });
    const exporter = await startTestExporter({
      pollerEnabled: false,
      registry: registry([
        {
          name: 'www',
          provider: 'http',
          url: `${target.url}/p`,
          labels: { team: 'web "blue"', tier: 'gold' },
        },
      ]),
    });
    try {
      const text = (await scrape(exporter)).text;
      const lines = text.split('\n').filter((line) => line.startsWith('surface_info{'));
      assert.deepEqual(lines.sort(), [
        'surface_info{env="prod",surface="www",provider="http",severity="page",team="web \\"blue\\"",tier="gold"} 1',
        'surface_info{env="staging",surface="www",provider="http",severity="ticket",team="platform"} 1',
      ]);
      exporter.poller.applyRegistry(parseRegistry(stringify(registry([])), 'reloaded.yaml'));
      const after = (await scrape(exporter)).text
        .split('\n')
        .filter((line) => line.startsWith('surface_info{'));
      assert.deepEqual(after, [
        'surface_info{env="staging",surface="www",provider="http",severity="ticket",team="platform"} 1',
      ]);
    } finally {
      await exporter.stop();
      await target.close();
    }
  });
});
